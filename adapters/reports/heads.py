"""The journal's head, written down for the authority, and checked against the journal later.

A hash chain shows any record altered in place, but not a journal whose latest records were cut
off, nor one rewritten from some event on with a fresh chain: only a hash kept elsewhere does.
So the head (the position of the latest record, ``seq``, and its hash) is exported every day
(``daemon.head_export``, and on demand ``aiguillage report head``), as one JSON line::

    {"at":"2027-01-05T00:05:00+01:00","hash":"<64 hex>","position":1042}

signed as the reports are (``reports.signing``: a ``signature`` member) when ``[reports]
signing_key`` names a key. ``HeadCheck``, fed the journal's records in order, says whether the
journal still holds every exported head, the same hash at the same position, and names the
first that it does not: past the journal's end (cut short), or another hash (rewritten).

Exceptions::

    HeadFileError   a file of heads that cannot be read; the message names the line
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aiguillage.adapters.reports.signing import sign, signature_problem
from aiguillage.adapters.stores.journal import GENESIS, Record, Verification

__all__ = [
    "ExportedHead",
    "HeadCheck",
    "HeadFileError",
    "append_line",
    "head_line",
    "last_due",
    "next_export",
    "read_heads",
]

_HASH = re.compile(r"^[0-9a-f]{64}$")


class HeadFileError(ValueError):
    """A file of exported heads with a line that is not one."""


class ExportedHead(msgspec.Struct, frozen=True, kw_only=True):
    """One head as exported: the journal held ``position`` records, the last one's hash
    ``hash``, at the instant ``at`` (ISO 8601, with its offset)."""

    position: int
    hash: str
    at: str
    line: int = 0
    """Its line in the file it was read from (1 for the first), for messages."""
    signature_problem: str | None = None
    """Why its signature does not vouch for it (``None``: sound, or checked by nobody)."""

    def named(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}the head exported at {self.at} (event {self.position}, hash {self.hash})"


def head_line(position: int, hash: str, at: datetime, key: Ed25519PrivateKey | None) -> bytes:
    """Return the line that exports a head (without its newline), signed when ``key`` is given."""
    if at.tzinfo is None:
        raise ValueError("a head's instant carries its offset")
    body = msgspec.json.encode(
        {"at": at.isoformat(timespec="seconds"), "hash": hash, "position": position},
        order="sorted",
    )
    return body if key is None else sign(body, key)


def append_line(path: Path, line: bytes) -> None:
    """Append one line to the file and wait until it is on disk (blocking: run it on a thread)."""
    with path.open("ab") as file:
        file.write(line + b"\n")
        file.flush()
        os.fsync(file.fileno())


def read_heads(path: Path, holder: Ed25519PublicKey | None = None) -> list[ExportedHead]:
    """Read a file of exported heads, one per line (blank lines passed over).

    Each signed line's signature is checked (with ``holder``, the operator's public key, it
    must be signed with it; an unsigned line is then a problem too); what is wrong is kept in
    ``signature_problem``. ``HeadFileError`` names a line that is not a head; ``OSError`` when
    the file cannot be read."""
    heads = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            document = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise HeadFileError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise HeadFileError(f"{path}:{number}: not an exported head (a JSON object)")
        position, hash, at = document.get("position"), document.get("hash"), document.get("at")
        if type(position) is not int or position < 0:
            raise HeadFileError(f"{path}:{number}: position: not a whole number of events")
        if not isinstance(hash, str) or not _HASH.match(hash):
            raise HeadFileError(f"{path}:{number}: hash: not 64 hexadecimal digits")
        if not isinstance(at, str):
            raise HeadFileError(f"{path}:{number}: at: not an instant")
        problem = None
        if holder is not None or "signature" in document:
            problem = signature_problem(document, holder)
        heads.append(
            ExportedHead(
                position=position, hash=hash, at=at, line=number, signature_problem=problem
            )
        )
    return heads


def next_export(now: datetime, at: str, zone: tzinfo) -> datetime:
    """Return the first instant after ``now`` whose local time (in ``zone``) is ``at``
    (``HH:MM``): today's when it is still to come, else tomorrow's."""
    hour, minute = (int(part) for part in at.split(":"))
    local = now.astimezone(zone)
    day = local.date()
    while True:
        candidate = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if candidate > now:
            return candidate
        day += timedelta(days=1)


def last_due(now: datetime, at: str, zone: tzinfo) -> datetime:
    """Return the latest instant at or before ``now`` whose local time is ``at``: the export
    that should have been made last."""
    return next_export(now, at, zone) - timedelta(days=1)


class HeadCheck:
    """Check exported heads against a journal, fed its records in order, a page at a time."""

    def __init__(self, heads: Sequence[ExportedHead]) -> None:
        self.heads = list(heads)
        self._wanted = {head.position for head in heads}
        self._found: dict[int, str] = {0: GENESIS}
        self.end = 0
        """The journal's last position read."""

    def feed(self, records: Iterable[Record]) -> None:
        for record in records:
            self.end = record.seq
            if record.seq in self._wanted:
                self._found[record.seq] = record.hash

    def problems(self, chain: Verification | None = None) -> list[str]:
        """What is wrong, head by head in the file's order: a head past the journal's end, or
        with another hash there, or behind a break of the chain (``chain``, the walk of it),
        or whose signature does not vouch for it. Empty: the journal holds every head."""
        found = []
        for head in self.heads:
            if head.signature_problem is not None:
                found.append(f"{head.named()}: signature: {head.signature_problem}")
            if head.position > self.end:
                found.append(
                    f"{head.named()}: the journal ends at event {self.end}: it was cut short "
                    "since this head was exported"
                )
            elif self._found.get(head.position) != head.hash:
                found.append(
                    f"{head.named()}: the journal's event {head.position} has hash "
                    f"{self._found.get(head.position)}: the journal up to it was rewritten"
                )
            elif (
                chain is not None
                and chain.first_break is not None
                and chain.first_break <= head.position
            ):
                found.append(
                    f"{head.named()}: the hash chain breaks at event {chain.first_break}, "
                    f"before this head ({chain.reason})"
                )
        return found
