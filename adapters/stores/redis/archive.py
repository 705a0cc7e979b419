"""The archive of a Redis journal: the records trimmed from its stream, in JSON-lines files.

Redis holds a stream in memory, so after a snapshot the records up to the older of the two
snapshots kept, which no recovery needs any more, are appended to a file of the archive
directory and then trimmed from the stream. One file per trim, named by the domain and the seq
range it holds (``main.000000000001-000000004096.jsonl``); one line per record: seq, epoch,
format, body (the record's JSON, as a string: the event and who caused it) and hash, so ``jq``
reads it and ``verify`` walks the chain through it. The snapshots' seals among those records
(``snapshot_seals``) are lines too, in their place in the chain, marked ``"seal": true``, with
the seq of the record they follow and the seal's JSON as body; they vouch for images long gone,
but the chain goes through them. A file is written under a ``.partial`` name, fsynced, renamed
and its directory fsynced before the stream is trimmed: a crash leaves no file or a whole one,
never a trimmed stream without its file.

A file that starts after the journal's trimmed boundary is the leftover of a trim that did not
complete (its records are still in the stream): the next trim replaces it, and verification
passes it over. Keep one archive directory for every daemon of a domain (a standby that takes
over trims into its own ``archive_dir``), and back it up with the Redis data.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import msgspec

from aiguillage.adapters.stores.journal import (
    ChainBreak,
    ChainWalker,
    Record,
    Verification,
    read_record,
)
from aiguillage.adapters.stores.snapshot_seals import SealLink

__all__ = [
    "ArchiveFile",
    "ArchiveWriter",
    "Archived",
    "archive_files",
    "archived_after",
    "archived_lines",
    "sealed",
    "walk",
]


class Archived(msgspec.Struct, frozen=True, omit_defaults=True):
    """One record as a line of an archive file, or a seal (``seal``: after record ``seq``)."""

    seq: int
    epoch: int
    format: int
    body: str
    hash: str
    seal: bool = False


def sealed(link: SealLink, epoch: int) -> Archived:
    """Return the archive line of a seal written by the writer of ``epoch``."""
    return Archived(link.after, epoch, 0, link.body.decode(), link.hash, seal=True)


class ArchiveFile(msgspec.Struct, frozen=True):
    """An archive file and the seq range its name says it holds."""

    first: int
    last: int
    path: Path


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Archived)


def _name(domain: str, first: int, last: int) -> str:
    return f"{domain}.{first:012d}-{last:012d}.jsonl"


def archive_files(directory: Path, domain: str) -> list[ArchiveFile]:
    """Return the archive files of a domain in a directory, in seq order (none if no directory)."""
    pattern = re.compile(re.escape(domain) + r"\.(\d+)-(\d+)\.jsonl")
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = pattern.fullmatch(path.name)
        if match:
            found.append(ArchiveFile(int(match[1]), int(match[2]), path))
    return sorted(found, key=lambda file: (file.first, file.last))


class ArchiveWriter:
    """The archive file of one trim (records ``after`` + 1 to ``last``): all of it, or none.

    Opening it removes the leftovers of trims that did not complete (files starting after
    ``after``, the journal's trimmed boundary, and ``.partial`` files).
    """

    def __init__(self, directory: Path, domain: str, after: int, last: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in archive_files(directory, domain):
            if leftover.first > after:
                leftover.path.unlink()
        for partial in directory.glob(f"{domain}.*.jsonl.partial"):
            partial.unlink()
        self.directory = directory
        self.path = directory / _name(domain, after + 1, last)
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._file: BinaryIO | None = self._partial.open("wb")

    def write(self, records: Sequence[Archived]) -> None:
        assert self._file is not None
        self._file.write(b"".join(_ENCODER.encode(record) + b"\n" for record in records))

    def commit(self) -> Path:
        """Make the file durable under its final name (and its directory entry with it)."""
        assert self._file is not None
        file, self._file = self._file, None
        with file:
            file.flush()
            os.fsync(file.fileno())
        os.replace(self._partial, self.path)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return self.path

    def discard(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()
            with contextlib.suppress(OSError):
                self._partial.unlink()


def _lines(file: ArchiveFile, next_seq: int) -> Iterator[Archived]:
    """Read an archive file; ``ChainBreak`` at ``next_seq`` onward for a line that is no record."""
    with file.path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                record = _DECODER.decode(line)
            except msgspec.DecodeError as exc:
                raise ChainBreak(
                    next_seq,
                    f"archive {file.path.name}, line {number}: not an archived record ({exc})",
                ) from None
            next_seq = record.seq + 1
            yield record


def walk(walker: ChainWalker, directory: Path, domain: str, up_to: int) -> Verification | None:
    """Check the archived records up to seq ``up_to``; the verification at a break, else None.

    Files starting after ``up_to`` (the trimmed boundary) are leftovers and passed over.
    """
    try:
        for file in archive_files(directory, domain):
            if file.first > up_to:
                break
            for record in _lines(file, walker.seq + 1):
                if record.seal:
                    walker.seal(SealLink(record.seq, record.body.encode(), record.hash))
                    continue
                walker.check(record.seq, record.format, record.body.encode(), record.hash)
                walker.accept(record.seq, record.hash)
    except ChainBreak as broken:
        return walker.verification(broken)
    return None


def archived_after(directory: Path, domain: str, seq: int, up_to: int, limit: int) -> list[Record]:
    """Return up to ``limit`` archived records after ``seq`` and up to ``up_to``, in order.

    ``ChainBreak`` for a record that cannot be read; fewer records than asked when the
    directory does not hold them all (the caller says which are missing).
    """
    records: list[Record] = []
    for file in archive_files(directory, domain):
        if file.last <= seq or file.first > up_to:
            continue
        for line in _lines(file, file.first):
            if line.seal or line.seq <= seq or line.seq > up_to:
                continue
            if records and line.seq != records[-1].seq + 1:
                return records
            stored = read_record(line.seq, line.format, line.body.encode(), line.hash)
            records.append(msgspec.structs.replace(stored, epoch=line.epoch))
            if len(records) == limit:
                return records
    return records


def archived_lines(directory: Path, domain: str, up_to: int) -> Iterator[Archived]:
    """Yield the lines (records and seals) of the archive files up to the trimmed boundary
    ``up_to``, in chain order; files starting after it are leftovers and passed over.
    ``ChainBreak`` for a line that is no record."""
    for file in archive_files(directory, domain):
        if file.first > up_to:
            return
        yield from _lines(file, file.first)
