"""Every Redis key of a routing domain, built here and nowhere else.

Each key carries the domain as its hash tag (``aiguillage:{main}:events``), so all the keys of
one domain live on one Redis Cluster shard and a script can touch them together; many domains
spread over the shards. Scripts receive every key they touch in ``KEYS``.

==========================  ==========  ==========================================================
key (``aiguillage:{d}:…``)   type        holds
==========================  ==========  ==========================================================
``epoch``                   string      the latest writer's epoch (its fencing token); each writer
                                        that takes the lease increments it
``lease``                   string      ``"<epoch> <address>"`` of the writer that leads, set to
                                        expire after its lease (``PX``)
``meta``                    hash        ``journal_format``, ``last_seq`` and ``last_hash`` (the end
                                        of the chain: the last record's hash, or the hash of a
                                        seal after it), ``trimmed_seq`` and ``trimmed_hash`` (the
                                        last record moved to the archive)
``events``                  stream      one entry per record, id ``<seq>-<epoch>``: ``format``,
                                        ``body``, ``hash``, ``at``, ``type``, ``interaction_id``
                                        (empty when none)
``snapshots``               hash        seq → the last two snapshots' descriptions (msgpack:
                                        format, hash of record seq, taken_at, the image's SHA-256)
``snapshot:<seq>``          string      the engine's image after record seq (the last two)
``snapshot:staging:<e>``    string      an image being uploaded by the writer of epoch e, in
                                        chunks; renamed to ``snapshot:<seq>`` once whole (it
                                        expires after an hour if its writer dies meanwhile)
``seals``                   stream      one entry per snapshot kept, id ``<after>-<n>`` (after
                                        record ``after``, in chain order): ``body`` (JSON: the
                                        snapshot's seq, the hash of that record, the image's
                                        SHA-256), ``hash`` (chained) and the writer's ``epoch``:
                                        the chain's links that
                                        vouch for the images; trimmed and archived with the
                                        events (see ``snapshot_seals``)
``views``                   hash        interaction id → the API's view of it (body, opaque)
``origins``                 hash        interaction id → JSON ``[source, external_id,
                                        accepted_at]`` (when the daemon accepted the key)
``external``                hash        JSON ``[source, external_id]`` → ``"<accepted_at> <id>"``
                                        of the latest interaction with that key
``arrivals``                sorted set  interaction ids scored by ``accepted_at``
``cursors``                 hash        consumer name → the seq it has dealt with up to
``channel_states``          hash        channel name → its durable state (opaque bytes, at most
                                        64 KiB: an IMAP UID with its UIDVALIDITY, a page token)
``personal:<id>``           hash        an interaction's pieces of personal data: digest →
                                        msgpack of salt, canonical JSON, stored_at
``personal:stored``         sorted set  ``<id>:<digest>`` of each piece, scored by its
                                        ``stored_at``: the retention purge, and what a recovery
                                        checks against the journal
``personal:key``            string      the domain's key for external ids (never erased)
``personal:<id>:subjects``  set         the keyed digests of the addresses an interaction's
                                        pieces name (``stores.subjects``), erased with its last
                                        piece
``subjects:<digest>``       set         the ids of the interactions whose pieces name the
                                        address of that keyed digest (without ``subject:``)
``personal:indexed``        string      the epoch of the latest leader that kept the address
                                        index: after a leader that kept none, the next indexes
                                        what it stored
``access``                  stream      the access log (``stores.access_log``): one entry per read
                                        or erasure of personal data, id ``<seq>-0``: ``body``,
                                        ``hash`` (chained), ``at``, ``interaction_id``
``access:meta``             hash        ``last_seq`` and ``last_hash`` (where the access log ends),
                                        ``trimmed_seq`` and ``trimmed_hash`` (the last entry a
                                        retention trim removed)
``personal``                hash        records of an earlier version (interaction id → msgpack:
                                        salt, canonical JSON), moved to pieces at the next start
==========================  ==========  ==========================================================
"""

from __future__ import annotations

import re

import msgspec

__all__ = ["DomainKeys", "keys_of"]

_DOMAIN = re.compile(r"[a-z0-9][a-z0-9_-]*")


class DomainKeys(msgspec.Struct, frozen=True):
    """The keys of one routing domain (see the table above)."""

    epoch: str
    lease: str
    meta: str
    events: str
    snapshots: str
    seals: str
    views: str
    origins: str
    external: str
    arrivals: str
    cursors: str
    channel_states: str
    personal: str
    personal_stored: str
    personal_key: str
    personal_indexed: str
    subjects: str
    access: str
    access_meta: str

    def personal_of(self, interaction_id: int) -> str:
        """The key of the hash that holds an interaction's pieces of personal data."""
        return f"{self.personal}:{interaction_id}"

    def personal_subjects_of(self, interaction_id: int) -> str:
        """The key of the set of the addresses (keyed digests) an interaction's pieces name."""
        return f"{self.personal}:{interaction_id}:subjects"

    def subject(self, subject: str) -> str:
        """The key of the set of the interactions naming an address (``subject:<digest>``)."""
        return f"{self.subjects}:{subject.removeprefix('subject:')}"

    def snapshot(self, seq: int) -> str:
        """The key of the image after record ``seq``."""
        return f"{self.snapshots.removesuffix('snapshots')}snapshot:{seq}"

    def snapshot_staging(self, epoch: int) -> str:
        """The key an image is uploaded to by the writer of ``epoch``, before it is kept."""
        return f"{self.snapshots.removesuffix('snapshots')}snapshot:staging:{epoch}"


def keys_of(domain: str) -> DomainKeys:
    """Return the keys of a routing domain; ``ValueError`` for a domain that is not an id."""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(
            f"routing domain {domain!r} is not an id: use lower-case letters, digits, '_' "
            "and '-', starting with a letter or a digit"
        )
    prefix = f"aiguillage:{{{domain}}}:"
    return DomainKeys(
        epoch=prefix + "epoch",
        lease=prefix + "lease",
        meta=prefix + "meta",
        events=prefix + "events",
        snapshots=prefix + "snapshots",
        seals=prefix + "seals",
        views=prefix + "views",
        origins=prefix + "origins",
        external=prefix + "external",
        arrivals=prefix + "arrivals",
        cursors=prefix + "cursors",
        channel_states=prefix + "channel_states",
        personal=prefix + "personal",
        personal_stored=prefix + "personal:stored",
        personal_key=prefix + "personal:key",
        personal_indexed=prefix + "personal:indexed",
        subjects=prefix + "subjects",
        access=prefix + "access",
        access_meta=prefix + "access:meta",
    )
