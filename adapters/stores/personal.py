"""The personal-data store: what the GDPR lets a customer have erased, kept out of the journal.

A customer's identity (the ``customer`` object), a message's ``subject`` and ``text``, the
external id it came with (an e-mail's Message-ID names an address), and the free text advisors
add later (a transfer note, the party work is handed to) are personal data, and the hash-chained
journal can erase nothing without breaking its chain. So they live in a store of their own
(``sqlite.personal`` beside the embedded journal, ``redis.personal`` beside the shared one), one
sealed piece per submission, note or party, keyed by interaction id and digest; the journal carries
only the digest: HMAC-SHA256 keyed by a random salt that is stored with the piece and erased
with it. While the piece lives, the digest proves it is the one the journal saw; once it is
erased, the digest cannot confirm a guess (no salt to try it with), and the chain and the
statistics stay whole.

What is served is checked against the journal (``opened``): a piece whose digest the journal
does not hold for that interaction is never shown, whatever id it is stored under. Such a piece
is left behind when the journal's append fails after the store's commit (a full disk, a lost
lock, a kill between the two); the runtime removes it at its next recovery (``stored_since``,
``discard``), and erasing an interaction removes every piece stored under its id.

External ids are journaled as a keyed digest (``keyed_id``), so that the journal can still
recognise a resubmission without holding the id. The key is the deployment's, made at the first
start and kept here with the personal data, never erased with it: back this store up with the
journal. A store that lost its key makes a new one, and the ids keyed before are no longer
recognised: a resubmission of an interaction received before then creates a new one (the
runtime says so, loudly, at its start).

The same key digests the addresses each piece names, kept beside it as an index, so that a data
subject's interactions are found by e-mail or phone without the address (``stores.subjects``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import msgspec

from aiguillage.engine.instants import Instant

__all__ = [
    "KEYED",
    "SALT_BYTES",
    "PersonalStore",
    "Sealed",
    "digest",
    "key_id",
    "keyed_id",
    "opened",
    "opened_by_digest",
    "seal",
    "sealed",
]

SALT_BYTES = 16
KEY_BYTES = 32
KEYED = "keyed:"
"""How a keyed external id starts: ``keyed:<key id>:<HMAC>``."""

_CANONICAL = msgspec.json.Encoder(order="sorted")
_DATA: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])


class Sealed(NamedTuple):
    """One piece of personal data as a store keeps it."""

    interaction_id: int
    digest: str
    """The digest the journal holds of it: ``digest(salt, data)``."""
    salt: bytes
    data: bytes
    """The canonical JSON of the piece."""
    stored_at: Instant


def seal(data: dict[str, Any]) -> tuple[str, bytes, bytes]:
    """Return (digest, salt, canonical JSON) of personal data, with a fresh random salt.

    The journal keeps the digest; the store keeps the salt and the canonical JSON together,
    so sealing the same data twice gives two unrelated digests.
    """
    salt = secrets.token_bytes(SALT_BYTES)
    canonical = _CANONICAL.encode(data)
    return digest(salt, canonical), salt, canonical


def sealed(interaction_id: int, data: dict[str, Any], stored_at: Instant) -> Sealed:
    """Return a piece of personal data sealed for an interaction (its digest is ``.digest``)."""
    piece_digest, salt, canonical = seal(data)
    return Sealed(interaction_id, piece_digest, salt, canonical, stored_at)


def digest(salt: bytes, canonical: bytes) -> str:
    """Return the hex HMAC-SHA256 of canonical personal data, keyed by its salt."""
    return hmac.new(salt, canonical, hashlib.sha256).hexdigest()


def opened(pieces: Sequence[Sealed], journaled: Sequence[str]) -> list[dict[str, Any]]:
    """Return the data of the pieces the journal holds, in the order of ``journaled``."""
    return list(opened_by_digest(pieces, journaled).values())


def opened_by_digest(
    pieces: Sequence[Sealed], journaled: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Return the data of the pieces the journal holds, by digest, in the order of ``journaled``.

    A piece is shown only when its digest is one the journal holds for the interaction and
    its salt and data give that digest again; anything else at that id is left unread.
    """
    by_digest = {piece.digest: piece for piece in pieces}
    shown: dict[str, dict[str, Any]] = {}
    for wanted in journaled:
        piece = by_digest.get(wanted)
        if piece is not None and hmac.compare_digest(digest(piece.salt, piece.data), wanted):
            shown[wanted] = _DATA.decode(piece.data)
    return shown


def key_id(key: bytes) -> str:
    """Return the short public name of an external-id key (8 hex digits)."""
    return hmac.new(key, b"aiguillage external-id key", hashlib.sha256).hexdigest()[:8]


def keyed_id(key: bytes, external_id: str) -> str:
    """Return how the journal holds an external id: ``keyed:<key id>:<HMAC-SHA256, 128 bits>``.

    The same id under the same key always gives the same value, so resubmissions are still
    recognised; without the key, the value confirms no guess.
    """
    mac = hmac.new(key, external_id.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{KEYED}{key_id(key)}:{mac}"


class PersonalStore(Protocol):
    """Sealed personal data by interaction id, erasable; every method may raise
    ``JournalUnavailable``."""

    description: str

    async def open(self) -> None: ...

    async def external_id_key(self) -> bytes:
        """Return the deployment's key for external ids, made (and kept) at the first call."""
        ...

    async def put_many(self, rows: Sequence[Sealed]) -> None:
        """Store pieces, durable on return."""
        ...

    async def get(self, interaction_id: int) -> list[Sealed]:
        """Return every piece stored under an interaction's id, unchecked (see ``opened``)."""
        ...

    async def erase(self, interaction_id: int) -> bool:
        """Erase every piece stored under an interaction's id, for good; False if none."""
        ...

    async def purge(self, before: Instant) -> int:
        """Erase every piece stored before ``before`` (the retention period); how many."""
        ...

    async def stored_since(self, since: Instant) -> list[tuple[int, str]]:
        """Return (interaction id, digest) of the pieces stored at or after ``since``."""
        ...

    async def stored_between(
        self, since: Instant, before: Instant, limit: int, *, tidy: bool = True
    ) -> list[Sealed]:
        """Return up to ``limit`` pieces stored at or after ``since`` and before ``before``,
        the oldest first (the retention per category reads what they are). A store whose
        index can name a piece that is gone removes those entries as it passes them, unless
        ``tidy`` is false (a dry run, which writes nothing)."""
        ...

    async def discard(self, pieces: Sequence[tuple[int, str]]) -> int:
        """Erase these pieces (interaction id, digest) for good; how many there were."""
        ...

    async def find_subject(self, subject: str) -> list[int]:
        """Return the ids of the interactions with a piece naming the address whose keyed
        digest is ``subject`` (``stores.subjects``), in order."""
        ...

    async def close(self) -> None: ...
