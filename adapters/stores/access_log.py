"""The access log: who read whose personal data, and who erased it and why, in a hash chain.

Beside the journal, never inside it: the journal says what happened to the work, the access log
who looked at a customer's data (issue "who did it"). An entry names the reader (an
``actors.Actor``), when, which interaction, through which route (``GET /v1/…``; the screens
call the API, so their route says it) and in which session (a browser session's id, or for a
bearer token the day in the deployment's time zone); never the data read. An erasure is an
entry too (``kind`` ``erasure``, with the reason code given). So is an extract of interactions
(``kind`` ``extract``: its ``filter``, how many ``rows``, whether ``personal`` data was in it) and
a data subject's request by e-mail or phone (``subject_access``, ``subject_erasure``: the
keyed digest of the address in ``subject``, never the address, and how many interactions);
these name no interaction (``interaction_id`` 0). Entries are chained as the
journal's records are (``journal.chain_hash``), with their own seq, so removing, changing or
reordering one breaks the chain where ``verify`` says.

A retention trim removes entries from the start only, and keeps the seq and hash of the last
one removed (the boundary): the walk starts there, so a trimmed log stays verifiable.

Stores: ``sqlite.access_log`` (a table in the journal's file) and ``redis.access_log`` (a
stream beside the domain's journal, written under the leader's epoch). Their failures are the
journal's exceptions (``JournalUnavailable``, ``JournalFenced``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import Literal, Protocol

import msgspec

from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.journal import GENESIS, Verification, chain_hash
from aiguillage.engine.instants import Instant

__all__ = [
    "ENTRY_FORMAT",
    "PEOPLE",
    "AccessEntry",
    "AccessLog",
    "AccessRecord",
    "AccessWalker",
    "Kind",
    "Via",
    "chained",
    "decode_entry",
    "encode_entry",
    "verify_rows",
    "via",
]

ENTRY_FORMAT = 1
"""The layout of an entry's body: msgspec JSON of ``AccessEntry``."""

PEOPLE = frozenset({"token", "admin", "session", "command"})
"""The actors whose reads are logged: people, through a token, a session or a command. What
channels and the daemon read to do their work (a mail to send, a recording to fetch) is not."""

Kind = Literal["read", "erasure", "extract", "subject_access", "subject_erasure"]


class AccessEntry(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """One read of an interaction's personal data, or its erasure (``reason``: a code of
    ``[reasons] erase``), or an extract, or a data subject's request."""

    at: Instant
    by: Actor
    interaction_id: int
    route: str = ""
    session: str = ""
    kind: Kind = "read"
    reason: str = ""
    filter: str = ""
    """An extract's filter, as canonical JSON of its query parameters."""
    rows: int = 0
    """How many rows an extract held, or interactions a subject's request found."""
    personal: bool = False
    """Whether an extract held personal data."""
    subject: str = ""
    """A subject's request: the keyed digest of the address (``stores.subjects``)."""


class AccessRecord(msgspec.Struct, frozen=True):
    """An entry as the log holds it: ``seq`` counts 1, 2, 3… without gaps; ``hash`` chained."""

    seq: int
    entry: AccessEntry
    hash: str


class Via(msgspec.Struct, frozen=True):
    """How a request reached personal data: its route, and the session it belongs to (a
    browser session's id; empty for a bearer token: the day is taken instead)."""

    route: str
    session: str = ""


via: ContextVar[Via | None] = ContextVar("aiguillage_via", default=None)
"""The route and session of the request in progress (set by the API beside ``acting``)."""

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(AccessEntry)


def encode_entry(entry: AccessEntry) -> bytes:
    """Return the body of an entry (``ENTRY_FORMAT``)."""
    return _ENCODER.encode(entry)


def decode_entry(body: bytes) -> AccessEntry:
    """Return the entry of a body; ``msgspec.DecodeError`` if it is not one."""
    return _DECODER.decode(body)


def chained(
    entries: Sequence[AccessEntry], last_seq: int, last_hash: str
) -> list[tuple[int, AccessEntry, bytes, str]]:
    """Return ``(seq, entry, body, hash)`` for entries appended after ``(last_seq,
    last_hash)``."""
    rows = []
    seq, previous = last_seq, last_hash
    for entry in entries:
        seq += 1
        body = encode_entry(entry)
        previous = chain_hash(previous, seq, body)
        rows.append((seq, entry, body, previous))
    return rows


def verify_rows(
    rows: Iterable[tuple[int, Instant, int, bytes, str]],
    *,
    start: tuple[int, str] = (0, GENESIS),
    end: tuple[int, str] | None = None,
) -> Verification:
    """Walk entries ``(seq, at, interaction_id, body, hash)`` from ``start`` (the trimmed
    boundary, or the genesis), naming the first that does not follow; ``end``, when the store
    keeps where its chain ends, must be where the walk ends."""
    walker = AccessWalker(start)
    walker.walk(rows)
    return walker.verification(end)


class AccessWalker:
    """Follow the access log's chain a chunk at a time, holding one hash, not the entries."""

    def __init__(self, start: tuple[int, str] = (0, GENESIS)) -> None:
        self.seq, self.previous = start
        self.checked = 0
        self.fault: str | None = None

    def walk(self, rows: Iterable[tuple[int, Instant, int, bytes, str]]) -> bool:
        """Check rows that follow what was walked; ``False`` (and ``fault``) at a break."""
        if self.fault is not None:
            return False
        for found, at, interaction_id, body, stored_hash in rows:
            self.fault = _fault(
                self.seq, self.previous, found, at, interaction_id, bytes(body), stored_hash
            )
            if self.fault is not None:
                return False
            self.seq, self.previous = found, stored_hash
            self.checked += 1
        return True

    def verification(self, end: tuple[int, str] | None = None) -> Verification:
        """Return the result: broken at the fault found, or where the store says it ends."""
        seq, previous, checked = self.seq, self.previous, self.checked
        if self.fault is not None:
            return Verification(False, checked, seq + 1, self.fault, previous)
        if end is not None and end != (seq, previous):
            reason = (
                f"access entries {seq + 1} to {end[0]} missing: the log says it ends at entry "
                f"{end[0]}, the chain at entry {seq}"
                if end[0] > seq
                else f"the log says it ends at entry {end[0]}, the chain at entry {seq} with "
                "another hash (entries were added or changed)"
            )
            return Verification(False, checked, seq + 1, reason, previous)
        return Verification(
            True, checked, None, f"{checked} access entries checked: the chain is intact", previous
        )


def _fault(
    seq: int,
    previous: str,
    found: int,
    at: Instant,
    interaction_id: int,
    body: bytes,
    stored_hash: str,
) -> str | None:
    expected = seq + 1
    if found != expected:
        return f"access entry {expected} missing: the sequence jumps from {seq} to {found}"
    if chain_hash(previous, found, body) != stored_hash:
        culprit = "" if found == 1 else f" or entry {seq}"
        return (
            f"access entry {found}: its hash does not match its content (it{culprit} changed "
            "after it was written)"
        )
    try:
        entry = decode_entry(body)
    except msgspec.DecodeError as exc:
        return f"access entry {found}: its body is not an entry ({exc})"
    if (entry.at, entry.interaction_id) != (at, interaction_id):
        return (
            f"access entry {found}: its columns (at, interaction_id) do not match its body "
            "(changed after it was written)"
        )
    return None


class AccessLog(Protocol):
    """Where the daemon writes who read or erased personal data, durable before it answers."""

    description: str

    async def open(self) -> None:
        """Create what is missing (beside an open journal); ``JournalUnavailable``."""
        ...

    async def append(self, entries: Sequence[AccessEntry]) -> int:
        """Write entries in one transaction, durable on return; the last seq."""
        ...

    async def records_after(
        self, seq: int, limit: int, interaction_id: int | None = None
    ) -> list[AccessRecord]:
        """Return up to ``limit`` entries after ``seq`` in order (only those about
        ``interaction_id`` when given)."""
        ...

    async def trim(self, before: Instant) -> int:
        """Remove the entries from the start written before ``before``, keeping the boundary
        so the rest still verifies; return how many were removed."""
        ...

    async def verify(self) -> Verification:
        """Walk the chain from the trimmed boundary (or the genesis) to the end."""
        ...

    async def close(self) -> None:
        """Release the store; safe after any failure, and twice."""
        ...
