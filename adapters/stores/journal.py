"""The journal: every event, durable before anything leaves the daemon, in a hash chain.

The runtime appends each batch of events and waits until the batch is durable before it answers
anyone (write-ahead, fail-stop); recovery is the latest snapshot image and the records after it.
Each record's hash covers the previous record's hash, its sequence number and its body, so
changing, removing or reordering a past event breaks the chain at that point, and ``verify``
names where. Each snapshot kept is sealed into the chain too (``snapshot_seals``): recovery
loads only an image that a seal in the chain vouches for, and ``verify`` checks every snapshot
still stored. Personal data never enters the journal (see ``personal``): an event carries only a
salted digest of it, so erasing a customer's data leaves the chain verifiable.

One protocol, ``Journal``, and what every store shares: the event codec, the chain hash, the
record types, the chain walk and the exception tree. The stores are ``sqlite_journal`` (one
file, embedded) and ``redis_journal`` (a Redis Stream per routing domain, with a fenced writer)::

    JournalError                the journal cannot do what was asked
    ├── JournalUnavailable      the store cannot be read or written now (I/O error, disk full,
    │                           busy past the busy timeout): answer 503, reopen, rebuild
    ├── JournalLocked           another daemon holds this journal; the message names it
    ├── JournalFenced           another writer took over (a higher epoch): this one steps down
    ├── JournalFormatError      an event, snapshot or journal format this version cannot read
    └── JournalCorrupt          the chain is broken where recovery has to read it
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.snapshot_seals import (
    SealLink,
    SnapshotSeal,
    decode_seal,
    seal_hash,
    snapshot_fault,
)
from aiguillage.engine.events import Event
from aiguillage.engine.instants import Instant

__all__ = [
    "CHANNEL_STATE_LIMIT",
    "EVENT_FORMAT",
    "GENESIS",
    "RECORD_FORMAT",
    "ChainBreak",
    "ChainWalker",
    "InteractionView",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalFenced",
    "JournalFormatError",
    "JournalLocked",
    "JournalUnavailable",
    "Record",
    "Recovery",
    "Verification",
    "actors_of",
    "chain_hash",
    "check_channel_state",
    "columns",
    "decode_event",
    "encode_event",
    "encode_record",
    "event_type",
    "interaction_of",
    "read_record",
]

EVENT_FORMAT = 1
"""The layout of an event body: msgspec JSON of the ``Event`` union, tagged by ``type``."""

RECORD_FORMAT = 2
"""The layout of a record's body written now: msgspec JSON of the envelope ``{"event": …,
"by": …}``, the event (as in ``EVENT_FORMAT``) beside the actor that caused it
(``actors.Actor``). Records of format 1 (the bare event, before actors were kept) stay readable,
with no actor."""

GENESIS = "0" * 64
"""The hash before the first record: the chain of an empty journal ends here."""

CHANNEL_STATE_LIMIT = 64 * 1024
"""The largest channel state a journal keeps, in bytes: a cursor, not a mailbox."""


class _Envelope(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A record's body (``RECORD_FORMAT``): the event, and who caused it."""

    event: Event
    by: Actor | None = None


_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)
_ENVELOPES: msgspec.json.Decoder[_Envelope] = msgspec.json.Decoder(_Envelope)


class JournalError(Exception):
    """The journal cannot do what was asked."""


class JournalUnavailable(JournalError):
    """The store cannot be read or written now; the runtime answers 503 and reopens later."""


class JournalLocked(JournalError):
    """Another daemon holds this journal, and one journal has one writer."""


class JournalFenced(JournalError):
    """Another writer took this journal over (its epoch is higher): this one must step down.

    Raised by an append, a snapshot or a lease renewal of a writer whose epoch is no longer the
    journal's; nothing of the refused call was written.
    """


class JournalFormatError(JournalError):
    """A format (event, snapshot or journal) that this version of Aiguillage cannot read."""


class JournalCorrupt(JournalError):
    """The chain is broken in the part recovery reads: replaying it would rebuild a lie."""


def encode_event(event: Event) -> bytes:
    """Return the journal body of an event (format ``EVENT_FORMAT``)."""
    return _ENCODER.encode(event)


def decode_event(body: bytes) -> Event:
    """Return the event of a journal body; raise ``msgspec.DecodeError`` if it is not one."""
    return _DECODER.decode(body)


def encode_record(event: Event, by: Actor | None) -> bytes:
    """Return the body of a record (format ``RECORD_FORMAT``): the event and its actor."""
    return _ENCODER.encode(_Envelope(event, by))


def event_type(event: Event) -> str:
    """Return the wire tag of an event (``interaction.arrived``…), not its class name."""
    return str(event.__struct_config__.tag)


def interaction_of(event: Event) -> int | None:
    """Return the id of the interaction an event is about, or None (advisor, policy events)."""
    interaction_id: int | None = getattr(event, "interaction_id", None)
    return interaction_id


def actors_of(events: Sequence[Event], by: Sequence[Actor | None]) -> list[Actor | None]:
    """Return one actor per event: ``by``'s, then ``None`` for those it does not reach."""
    return [*by[: len(events)], *([None] * (len(events) - len(by)))]


def columns(event: Event) -> tuple[Instant, str, int | None]:
    """Return what a store keeps beside the body to query by: at, type, interaction id."""
    return event.at, event_type(event), interaction_of(event)


def read_record(seq: int, format: int, body: bytes, stored_hash: str) -> Record:
    """Return a stored record without walking the chain; ``ChainBreak`` if unreadable."""
    try:
        if format == RECORD_FORMAT:
            envelope = _ENVELOPES.decode(body)
            return Record(seq, envelope.event, stored_hash, by=envelope.by)
        if format == EVENT_FORMAT:
            return Record(seq, decode_event(body), stored_hash)
    except msgspec.DecodeError as exc:
        raise ChainBreak(seq, f"event {seq}: its body is not an event ({exc})") from None
    raise ChainBreak(
        seq,
        f"event {seq}: format {format} is unknown to this version (reads {EVENT_FORMAT} and "
        f"{RECORD_FORMAT})",
        unknown_format=True,
    )


def check_channel_state(where: str, name: str, state: bytes) -> None:
    """Refuse a channel state over ``CHANNEL_STATE_LIMIT`` with ``JournalError``, saying why."""
    if len(state) > CHANNEL_STATE_LIMIT:
        raise JournalError(
            f"{where}: the state of channel {name!r} is {len(state)} bytes, over the limit of "
            f"{CHANNEL_STATE_LIMIT} (64 KiB): keep a position there (a UID, a page token), "
            "not the messages themselves"
        )


def chain_hash(previous: str, seq: int, body: bytes) -> str:
    """Return the hex SHA-256 of a record, chained to the hash of the record before it.

    The previous hash (64 hex digits) and the decimal seq each end with a newline before the
    body, so no two different (previous, seq, body) triples frame to the same bytes.
    """
    digest = hashlib.sha256(f"{previous}\n{seq}\n".encode("ascii"))
    digest.update(body)
    return digest.hexdigest()


class Record(msgspec.Struct, frozen=True):
    """One journaled event: ``seq`` counts 1, 2, 3… without gaps in its journal.

    ``epoch`` is the writer's epoch (its fencing token) when the store has one (Redis), else 0.
    ``id`` (``epoch:seq``) is what receivers deduplicate on: after a store failover that lost
    recent writes, the new writer reuses their seqs under a higher epoch, never their ids.
    ``by`` is who caused it (``actors``), ``None`` in a record written before actors were kept.
    """

    seq: int
    event: Event
    hash: str
    epoch: int = 0
    by: Actor | None = None

    @property
    def id(self) -> str:
        return f"{self.epoch}:{self.seq}"


class Recovery(msgspec.Struct):
    """What a daemon rebuilds from: the latest sound snapshot, then every record after it.

    ``image`` is the engine's own snapshot bytes (opaque here), taken after record
    ``image_seq`` (0 and None when there is none), and vouched for by a seal in the chain.
    ``last_hash`` is the hash of record ``last_seq``, what a standby resumes from (the chain
    itself may end with a seal after it). ``notes`` says why a snapshot was passed over.
    """

    image: bytes | None
    image_seq: int
    records: list[Record]
    last_seq: int
    last_hash: str
    notes: list[str] = []


class InteractionView(msgspec.Struct, frozen=True):
    """How the API shows an interaction, kept after it leaves the engine's live state.

    The runtime upserts one for each interaction a batch touched, in the batch's transaction,
    so an old interaction can still be read and its (source, external_id) still recognised
    when a client retries, for the idempotency window counted from ``accepted_at``, when the
    daemon accepted the key (stores keep it under the name ``received_at``, which it held
    before). ``body`` is the API's JSON, opaque to the journal.
    """

    id: int
    source: str
    external_id: str
    accepted_at: Instant
    body: bytes


class Verification(msgspec.Struct):
    """The result of walking the whole chain.

    ``checked`` counts the records found sound before the first break (all of them when
    ``ok``); ``reason`` says what is wrong at ``first_break``. ``last_hash`` is where the sound
    chain ends: compared with a hash written down elsewhere, it also reveals a journal whose
    latest records were cut off, which no walk of the file alone can see.
    """

    ok: bool
    checked: int
    first_break: int | None
    reason: str
    last_hash: str = GENESIS
    snapshots: list[str] = []
    """One line per snapshot still stored: vouched for by its seal, or why the daemon would
    not load it. A snapshot whose image differs from its seal makes the verification fail."""

    def with_snapshots(self, findings: Sequence[tuple[str, bool]]) -> Verification:
        """Return this verification with the snapshots' ``(line, changed)`` findings added."""
        changed = [line for line, bad in findings if bad]
        if not self.ok or not changed:
            return msgspec.structs.replace(self, snapshots=[line for line, _ in findings])
        return msgspec.structs.replace(
            self,
            ok=False,
            reason=f"{self.reason}, but {changed[0]}",
            snapshots=[line for line, _ in findings],
        )


class ChainBreak(Exception):
    """A record that does not follow from the one before it (internal to the chain walk)."""

    def __init__(self, seq: int, reason: str, *, unknown_format: bool = False) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason
        self.unknown_format = unknown_format

    def error(self, where: str) -> JournalError:
        """Return the error a recovery raises for this break, saying what to do."""
        if self.unknown_format:
            return JournalFormatError(
                f"{where}: {self.reason}; run the version of Aiguillage that wrote this journal "
                "(or a newer one), or restore a backup written by this version"
            )
        return JournalCorrupt(
            f"{where}: {self.reason}; it cannot be replayed as it is: restore the latest "
            "backup, and run `aiguillage replay --verify` on this file to see what changed"
        )


class ChainWalker:
    """Follow a chain link by link, from the genesis or from a known record (seq, hash).

    ``check`` reads a stored record and raises ``ChainBreak`` if it does not follow;
    ``accept`` moves on past it. Seals (``snapshot_seals``) sit between records: ``feed`` queues
    those of the part to walk, in chain order, and ``check`` passes those before each record;
    ``finish`` those after the last one. The walk holds one hash and the seals, not the records,
    so a year of events is checked in constant memory, whichever store reads them.
    """

    def __init__(self, seq: int = 0, previous: str = GENESIS) -> None:
        self.seq = seq
        self.previous = previous
        """Where the chain walked ends: the hash of record ``seq`` or of a seal after it."""
        self.record_hash = previous
        """The hash of record ``seq``."""
        self.checked = 0
        self.seals: dict[int, list[SnapshotSeal]] = {}
        """The seals walked past, by the snapshot they name."""
        self.watched: dict[int, str] = {seq: previous}
        """The hashes of the records named in ``watch`` (and of the first), once walked."""
        self._watch: frozenset[int] = frozenset()
        self._pending: deque[SealLink] = deque()
        self._after_seal = False

    def feed(self, links: Iterable[SealLink]) -> None:
        """Queue seals to walk past, in chain order (each after the record it names)."""
        self._pending.extend(links)

    def watch(self, seqs: Iterable[int]) -> None:
        """Keep the hashes of these records when the walk passes them (in ``watched``)."""
        self._watch = frozenset(seqs)

    def check(self, seq: int, format: int, body: bytes, stored_hash: str) -> Record:
        """Return the next record (epoch 0), or raise ``ChainBreak`` naming its fault."""
        expected = self.seq + 1
        if seq != expected:
            missing = (
                f"event {expected}" if seq == expected + 1 else f"events {expected} to {seq - 1}"
            )
            raise ChainBreak(
                expected, f"{missing} missing: the sequence jumps from {self.seq} to {seq}"
            )
        self._pass_seals(before=seq)
        if chain_hash(self.previous, seq, body) != stored_hash:
            if self._after_seal:
                culprit = " or the snapshot seal before it"
            else:
                culprit = "" if seq == 1 else f" or event {seq - 1}"
            raise ChainBreak(
                seq,
                f"event {seq}: its hash does not match its content "
                f"(it{culprit} changed after it was written)",
            )
        return read_record(seq, format, body, stored_hash)

    def accept(self, seq: int, stored_hash: str) -> None:
        """Move past a record that ``check`` found sound."""
        self.seq = seq
        self.previous = self.record_hash = stored_hash
        self.checked += 1
        self._after_seal = False
        if seq in self._watch:
            self.watched[seq] = stored_hash

    def seal(self, link: SealLink) -> None:
        """Check a seal that follows the link walked last, and move past it."""
        if link.after != self.seq:
            raise ChainBreak(
                min(link.after, self.seq) + 1,
                f"a snapshot seal is stored after event {link.after}, where the chain is at "
                f"event {self.seq} (it was added or moved after it was written)",
            )
        where = f"the snapshot seal after event {link.after}"
        if seal_hash(self.previous, link.body) != link.hash:
            raise ChainBreak(
                link.after + 1,
                f"{where}: its hash does not match its content (it changed after it was written)",
            )
        try:
            sealed = decode_seal(link.body)
        except msgspec.DecodeError as exc:
            raise ChainBreak(link.after + 1, f"{where} is not a seal ({exc})") from None
        if sealed.snapshot > link.after:
            raise ChainBreak(
                link.after + 1, f"{where} names snapshot {sealed.snapshot}, a later event"
            )
        self.previous = link.hash
        self.seals.setdefault(sealed.snapshot, []).append(sealed)
        self._after_seal = True

    def finish(self) -> None:
        """Pass the seals after the last record; ``ChainBreak`` for one past the chain's end."""
        self._pass_seals(before=self.seq + 1)
        if self._pending:
            after = self._pending[0].after
            raise ChainBreak(
                self.seq + 1,
                f"a snapshot seal is stored after event {after}, past the last event "
                f"{self.seq} (it was added after it was written, or events were cut off)",
            )

    def _pass_seals(self, *, before: int) -> None:
        while self._pending and self._pending[0].after < before:
            self.seal(self._pending.popleft())

    def snapshot_finding(self, seq: int, stored_hash: str, image_sha256: str) -> tuple[str, bool]:
        """Return what a verification says of a stored snapshot, and if it changed since sealed.

        ``stored_hash`` is the hash of record ``seq`` kept beside the snapshot.
        """
        record_hash = self.watched.get(seq)
        if record_hash is None:
            return f"snapshot {seq}: event {seq} is not in the chain checked", True
        if stored_hash != record_hash:
            return f"snapshot {seq}: it does not match event {seq}", True
        fault = snapshot_fault(seq, record_hash, image_sha256, self.seals)
        if fault is None:
            return f"snapshot {seq}: sealed in the chain, its image matches", False
        return f"snapshot {seq}: {fault}; the daemon does not load it", seq in self.seals

    def verification(self, broken: ChainBreak | None = None) -> Verification:
        """Return the result of the walk so far: intact, or broken where ``broken`` says."""
        if broken is not None:
            return Verification(False, self.checked, broken.seq, broken.reason, self.previous)
        return Verification(
            True,
            self.checked,
            None,
            f"{self.checked} events checked: the chain is intact",
            self.previous,
        )


class Journal(Protocol):
    """Where the runtime writes events before it lets anything out, and rebuilds from.

    Every method may raise ``JournalUnavailable``; the runtime then stops acknowledging,
    closes the journal, and opens a new one when the store is back.
    """

    description: str
    """Where the journal lives, for logs and errors (``sqlite:///var/lib/…/journal.sqlite``)."""

    epoch: int
    """The writer's epoch once open (0 for a store without fencing); ``Record.epoch``."""

    lease_s: float | None
    """How long the writer's lease lasts (Redis), or None when the lock is held for good
    (SQLite's ``flock``). With a lease, the runtime calls ``renew`` well within it."""

    async def open(
        self,
        *,
        resume_after: int = 0,
        resume_hash: str | None = None,
        unreadable: frozenset[int] = frozenset(),
    ) -> Recovery:
        """Take the writer's lock (or lease), create what is missing, return what to rebuild from.

        ``unreadable``: snapshots (by seq) the caller's engine cannot read (a format it does
        not know); they are passed over, for an older one or the start of the journal.

        ``resume_after``: the caller already holds a state built from records 1 to that seq,
        the last of which has hash ``resume_hash`` (a standby that followed the journal). A
        store that still holds that very record may return only the records after it (``image``
        None, ``image_seq == resume_after``); otherwise it returns a full recovery, and the
        caller rebuilds from it. ``JournalLocked`` when another writer holds the journal.
        """
        ...

    async def follow(
        self, after: int, after_hash: str, unreadable: frozenset[int] = frozenset()
    ) -> Recovery:
        """Read what a standby needs to keep up with the writer, without taking its lease.

        Like ``open(resume_after=after, resume_hash=after_hash)``, reading only: the records
        after ``after`` up to the journal's end when the store still holds record ``after``
        with that hash, else the latest snapshot and the records after it. A chain break may be
        a race with the writer trimming what was read; the caller starts again rather than
        take it for damage (``open`` finds real damage). ``JournalError`` on a store that has
        no standby (SQLite: one daemon holds the file).
        """
        ...

    async def renew(self) -> None:
        """Extend the writer's lease; ``JournalFenced`` if another writer took over."""
        ...

    async def leader(self) -> str | None:
        """Return who holds the writer's lock or lease now (an address), or None if nobody."""
        ...

    async def append(
        self,
        events: Sequence[Event],
        views: Sequence[InteractionView],
        by: Sequence[Actor | None] = (),
    ) -> int:
        """Write a batch in one transaction, durable on return (group commit); the last seq.

        ``by`` names who caused each event, in order (shorter: the rest have no actor)."""
        ...

    async def save_snapshot(self, seq: int, image: bytes) -> None:
        """Keep the engine's image after record ``seq``, sealed into the chain (a seal after the
        last record, which moves the chain's end); only the last two images are kept."""
        ...

    async def records_after(self, seq: int, limit: int) -> list[Record]:
        """Return up to ``limit`` records after ``seq``, in order."""
        ...

    async def view(self, interaction_id: int) -> bytes | None:
        """Return the latest view body of an interaction, or None if none was written."""
        ...

    async def find_external(self, source: str, external_id: str, since: Instant) -> int | None:
        """Return the id of the interaction with that key received at or after ``since``."""
        ...

    async def recent_keys(self, since: Instant) -> list[tuple[str, str, int, Instant]]:
        """Return (source, external_id, id, accepted_at) of the interactions accepted since."""
        ...

    async def verify(self) -> Verification:
        """Walk the whole chain and report the first break; check each snapshot against its
        seal."""
        ...

    async def cursor(self, name: str) -> int:
        """Return the seq a consumer (an adapter) has dealt with up to; 0 if it never saved one."""
        ...

    async def save_cursor(self, name: str, seq: int) -> None:
        """Keep a consumer's position durably, so that after a restart it resumes there."""
        ...

    async def channel_state(self, name: str) -> bytes | None:
        """Return the state a channel saved (opaque bytes), or None if it never saved one."""
        ...

    async def save_channel_state(self, name: str, state: bytes) -> None:
        """Keep a channel's state durably (at most ``CHANNEL_STATE_LIMIT`` bytes, else
        ``JournalError``); only the writer may, like ``save_cursor``."""
        ...

    async def close(self) -> None:
        """Release the store and the writer's lock; safe after any failure, and twice."""
        ...
