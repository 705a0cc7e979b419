"""A Redis domain as the reversibility export reads it (``stores.export``): beside its leader.

The ends are read at once, in one transaction (``MULTI``): where the journal ends (the meta's
``last_seq`` and ``last_hash``), the seals still in their stream, and where the access log
starts and ends; the records and entries are then read up to those ends, so what the leader
appends meanwhile is left out. The records trimmed from the stream are read from the archive
files (``[daemon] archive_dir``), from the first: an archive that does not hold them all is
refused, naming what is missing. A trim by the leader in the middle of the export (after a
snapshot, or the access log's retention) takes records out from under it: the export says so,
and is run again, into a new, empty directory (the one it began to write is not). Personal data
is read as it is when its turn comes, an interaction at a time, not as of the ends: an erasure,
a purge or a piece stored meanwhile is exported or not, depending on when. While the domain
holds records in the layout of an earlier version (``redis.personal``), which this export does
not read, it refuses to run: the leader is of an earlier version.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import msgspec

from aiguillage.adapters.stores.export import SEAL, Chained, ExportSource
from aiguillage.adapters.stores.journal import (
    GENESIS,
    ChainBreak,
    JournalError,
    JournalUnavailable,
)
from aiguillage.adapters.stores.personal import Sealed
from aiguillage.adapters.stores.redis import archive as redis_archive
from aiguillage.adapters.stores.redis.journal import READ_CHUNK, RedisJournal
from aiguillage.adapters.stores.redis.scripts import text

__all__ = ["redis_source"]

_INTERACTIONS = 100
"""Interactions whose pieces are read at a time: attachments make pieces large."""

_PIECE = msgspec.msgpack.Decoder(tuple[bytes, bytes, int])

_AFRESH = " into a new, empty directory (this one holds what was written before the error)"


@contextlib.asynccontextmanager
async def redis_source(journal: RedisJournal) -> AsyncIterator[ExportSource]:
    """Read a domain for an export through a journal opened beside its leader (``attach``)."""
    client = journal.connection()
    keys = journal.keys
    with journal.unavailable("reading where the journal ends"):
        async with client.pipeline(transaction=True) as reads:
            reads.hgetall(keys.meta)
            reads.xrange(keys.seals)
            reads.hgetall(keys.access_meta)
            reads.hlen(keys.personal)
            found: list[Any] = await reads.execute()
    if found[3]:
        raise JournalError(
            f"{journal.description}: personal data of an earlier version is held in its layout "
            f"(interactions: {found[3]}), which a leader of this version moves when it starts, "
            "and the export does not read; the leader is of an earlier version: run the export "
            "after the upgrade"
        )
    meta = {text(k): text(v) for k, v in found[0].items()}
    access = {text(k): text(v) for k, v in found[2].items()}
    seals = [
        Chained(int(text(entry_id).partition("-")[0]), SEAL, bytes(f[b"body"]), text(f[b"hash"]))
        for entry_id, f in found[1]
    ]
    yield _RedisSource(journal, meta, seals, access)


class _RedisSource:
    def __init__(
        self,
        journal: RedisJournal,
        meta: dict[str, str],
        seals: list[Chained],
        access: dict[str, str],
    ) -> None:
        self.description = journal.description
        self._journal = journal
        self._last_seq, self._last_hash = int(meta["last_seq"]), meta["last_hash"]
        self._trimmed_seq = int(meta.get("trimmed_seq", "0"))
        self._seals = seals
        self._access_start = (
            int(access.get("trimmed_seq", "0")),
            access.get("trimmed_hash", GENESIS),
        )
        self._access_last = int(access.get("last_seq", "0"))

    async def chain(self) -> AsyncIterator[Sequence[Chained]]:
        journal, seq = self._journal, 0
        if self._trimmed_seq:
            page: list[Chained] = []
            for line in self._archived():
                if line.format != SEAL:
                    if line.seq != seq + 1:
                        break
                    seq = line.seq
                page.append(line)
                if len(page) == READ_CHUNK:
                    yield page
                    page = []
            yield page
            if seq != self._trimmed_seq:
                raise JournalUnavailable(
                    f"{self.description}: events 1 to {self._trimmed_seq} are archived, but "
                    f"{journal.archive_dir} does not hold them all (event {seq + 1} is missing); "
                    "copy there the archive files of every daemon that trimmed the stream, then "
                    f"run the export again{_AFRESH}"
                )
        client, keys = journal.connection(), journal.keys
        while seq < self._last_seq:
            with journal.unavailable("exporting events"):
                raw: Any = await client.xrange(
                    keys.events, f"{seq + 1}", str(self._last_seq), count=READ_CHUNK
                )
            records = [
                Chained(
                    int(text(entry_id).partition("-")[0]),
                    int(fields[b"format"]),
                    bytes(fields[b"body"]),
                    text(fields[b"hash"]),
                )
                for entry_id, fields in raw
            ]
            if not records or records[0].seq != seq + 1:
                raise self._moved(f"events from {seq + 1}")
            yield records
            seq = records[-1].seq
        yield [seal for seal in self._seals if seal.seq <= self._last_seq]

    async def access_entries(self) -> AsyncIterator[Sequence[Chained]]:
        journal = self._journal
        client, keys = journal.connection(), journal.keys
        seq = self._access_start[0]
        while seq < self._access_last:
            with journal.unavailable("exporting the access log"):
                raw: Any = await client.xrange(
                    keys.access, f"{seq + 1}-0", f"{self._access_last}-0", count=READ_CHUNK
                )
            page = [
                Chained(
                    int(text(entry_id).partition("-")[0]),
                    1,
                    bytes(fields[b"body"]),
                    text(fields[b"hash"]),
                )
                for entry_id, fields in raw
            ]
            if not page or page[0].seq != seq + 1:
                raise self._moved(f"access-log entries from {seq + 1}")
            yield page
            seq = page[-1].seq

    async def pieces(self) -> AsyncIterator[Sequence[Sealed]]:
        journal = self._journal
        client, keys = journal.connection(), journal.keys
        ids: set[int] = set()
        with journal.unavailable("exporting personal data"):
            async for member, _ in client.zscan_iter(keys.personal_stored, count=1000):
                ids.add(int(text(member).partition(":")[0]))
        ordered = sorted(ids)
        for start in range(0, len(ordered), _INTERACTIONS):
            chunk = ordered[start : start + _INTERACTIONS]
            with journal.unavailable("exporting personal data"):
                async with client.pipeline(transaction=False) as reads:
                    for interaction_id in chunk:
                        reads.hgetall(keys.personal_of(interaction_id))
                    held: list[Any] = await reads.execute()
            page = []
            for interaction_id, fields in zip(chunk, held, strict=True):
                pieces = []
                for field, value in fields.items():
                    salt, data, stored_at = _PIECE.decode(value)
                    pieces.append(Sealed(interaction_id, text(field), salt, data, stored_at))
                page += sorted(pieces, key=lambda p: (p.stored_at, p.digest))
            yield page

    async def ends(self) -> tuple[str, tuple[int, str]]:
        return self._last_hash, self._access_start

    def _archived(self) -> Iterator[Chained]:
        """The archived records and seals, in chain order, read as they are needed."""
        directory = self._journal.archive_dir
        if directory is None:
            raise JournalUnavailable(
                f"{self.description}: events 1 to {self._trimmed_seq} are archived, and no "
                "archive_dir was given to read them; set [daemon] archive_dir to the directory "
                f"that holds them, then run the export again{_AFRESH}"
            )
        lines = redis_archive.archived_lines(directory, self._journal.domain, self._trimmed_seq)
        with self._journal.unavailable(f"reading the archive in {directory}"):
            try:
                for line in lines:
                    body_format = SEAL if line.seal else line.format
                    yield Chained(line.seq, body_format, line.body.encode(), line.hash)
            except ChainBreak as broken:
                raise broken.error(f"{self.description}, archive {directory}") from None

    def _moved(self, what: str) -> JournalUnavailable:
        return JournalUnavailable(
            f"{self.description}: {what} were trimmed by the leader while the export read them "
            f"(a snapshot or a retention pass meanwhile); run the export again{_AFRESH}"
        )
