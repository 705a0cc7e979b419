"""The access log of a Redis journal: a stream beside the domain's journal, under its epoch.

The same meaning as ``sqlite.access_log`` (see ``stores.access_log``). Entries are the stream
``aiguillage:{domain}:access`` (id ``<seq>-0``); ``aiguillage:{domain}:access:meta`` keeps where
the chain ends (``last_seq``, ``last_hash``) and the last entry a retention trim removed
(``trimmed_seq``, ``trimmed_hash``): a verification walks from there and must end where the
meta says, so entries cut off the end are found too. Every write runs in a script that first
checks the journal's epoch, like an append: only the leader writes, and a paused former leader
cannot add to the chain after a standby took over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from aiguillage.adapters.stores.access_log import (
    AccessEntry,
    AccessLog,
    AccessRecord,
    AccessWalker,
    chained,
    decode_entry,
)
from aiguillage.adapters.stores.journal import (
    GENESIS,
    JournalUnavailable,
    Verification,
)
from aiguillage.adapters.stores.redis.keys import DomainKeys, keys_of
from aiguillage.adapters.stores.redis.scripts import text
from aiguillage.engine.instants import Instant

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from aiguillage.adapters.stores.redis.journal import RedisJournal

__all__ = ["RedisAccessLog", "verify_access_url"]

_CHUNK = 1000
"""Entries read at a time (a verification, a trim, a filtered page)."""

_APPEND = """#!lua
-- Append entries to the access log where it ends, fenced by the writer's epoch.
-- KEYS: epoch, access:meta, access
-- ARGV: epoch, the last seq expected, the new last seq, its hash,
--       then 5 per entry (seq, body, hash, at, interaction_id)
-- returns: {"ok", "appended"} | {"ok", "moved", last seq, last hash} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local last = redis.call("HGET", KEYS[2], "last_seq") or "0"
if last ~= ARGV[2] then
  return {"ok", "moved", last, redis.call("HGET", KEYS[2], "last_hash") or ""}
end
for i = 5, #ARGV, 5 do
  redis.call("XADD", KEYS[3], ARGV[i] .. "-0", "body", ARGV[i + 1], "hash", ARGV[i + 2],
    "at", ARGV[i + 3], "interaction_id", ARGV[i + 4])
end
redis.call("HSET", KEYS[2], "last_seq", ARGV[3], "last_hash", ARGV[4])
return {"ok", "appended"}
"""

_TRIM = """#!lua
-- Remove the entries up to a boundary and keep its seq and hash, fenced by the epoch.
-- KEYS: epoch, access:meta, access
-- ARGV: epoch, the boundary's seq, its hash
-- returns: {"ok", entries removed} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local removed = redis.call("XTRIM", KEYS[3], "MINID", tostring(tonumber(ARGV[2]) + 1) .. "-0")
redis.call("HSET", KEYS[2], "trimmed_seq", ARGV[2], "trimmed_hash", ARGV[3])
return {"ok", removed}
"""

_Row = tuple[int, Instant, int, bytes, str]


class RedisAccessLog:
    """The ``AccessLog`` in the journal's Redis, written under its epoch."""

    def __init__(self, journal: RedisJournal) -> None:
        self.description = f"{journal.description}, access log"
        self._journal = journal
        self._scripts: tuple[AsyncScript, AsyncScript] | None = None
        self._end = (0, GENESIS)

    async def open(self) -> None:
        connection = self._journal.connection()
        self._scripts = (connection.register_script(_APPEND), connection.register_script(_TRIM))
        self._end = await self._stored_end()

    async def append(self, entries: Sequence[AccessEntry]) -> int:
        append, _ = self._open()
        keys = self._journal.keys
        for _ in range(3):  # another leader appended meanwhile (a failover and back): rechain
            rows = chained(entries, *self._end)
            if not rows:
                return self._end[0]
            arguments: list[Any] = [self._end[0], rows[-1][0], rows[-1][3]]
            for seq, entry, body, chain in rows:
                arguments += [seq, body, chain, entry.at, entry.interaction_id]
            found = await self._journal.write_fenced(
                append, (keys.access_meta, keys.access), arguments, "appending to the access log"
            )
            if found[0] == "appended":
                self._end = (rows[-1][0], rows[-1][3])
                return self._end[0]
            self._end = (int(found[1]), found[2] or GENESIS)
        raise JournalUnavailable(f"{self.description}: its end kept moving; try again")

    async def records_after(
        self, seq: int, limit: int, interaction_id: int | None = None
    ) -> list[AccessRecord]:
        found: list[AccessRecord] = []
        async for chunk in _chunks(self._client(), self._journal.keys, seq, self.description):
            for row_seq, _, row_interaction, body, chain in chunk:
                if interaction_id is None or row_interaction == interaction_id:
                    found.append(AccessRecord(row_seq, decode_entry(body), chain))
                    if len(found) == limit:
                        return found
        return found

    async def trim(self, before: Instant) -> int:
        _, trim = self._open()
        keys = self._journal.keys
        boundary: tuple[int, str] | None = None
        start = (await _meta(self._client(), keys, self.description))[0]
        async for chunk in _chunks(self._client(), keys, start[0], self.description):
            for seq, at, _, _, chain in chunk:
                if at >= before:  # from the start only: the rest stays, whatever its age
                    break
                boundary = (seq, chain)
            else:
                continue
            break
        if boundary is None:
            return 0
        found = await self._journal.write_fenced(
            trim, (keys.access_meta, keys.access), boundary, "trimming the access log"
        )
        return int(found[0])

    async def verify(self) -> Verification:
        return await _verify(self._client(), self._journal.keys, self.description)

    async def close(self) -> None:
        self._scripts = None

    def _client(self) -> redis.asyncio.Redis:
        return self._journal.connection()

    def _open(self) -> tuple[AsyncScript, AsyncScript]:
        if self._scripts is None:
            raise JournalUnavailable(f"{self.description} is not open")
        return self._scripts

    async def _stored_end(self) -> tuple[int, str]:
        _, end = await _meta(self._client(), self._journal.keys, self.description)
        return end or (0, GENESIS)


async def verify_access_url(url: str, domain: str) -> Verification:
    """Walk a domain's access log without taking the journal's lease (beside the leader)."""
    keys = keys_of(domain)
    where = f"{url} (domain {domain}), access log"
    client = redis.asyncio.Redis.from_url(url, retry=Retry(NoBackoff(), 0))
    async with client:
        return await _verify(client, keys, where)


async def _verify(client: redis.asyncio.Redis, keys: DomainKeys, where: str) -> Verification:
    start, end = await _meta(client, keys, where)
    walker = AccessWalker(start)
    async for chunk in _chunks(client, keys, start[0], where):
        if not walker.walk(chunk):
            break
    return walker.verification(end or (0, GENESIS))


async def _meta(
    client: redis.asyncio.Redis, keys: DomainKeys, where: str
) -> tuple[tuple[int, str], tuple[int, str] | None]:
    """Return where the log starts (the trimmed boundary) and ends (``None``: never written)."""
    try:
        raw: Any = await client.hgetall(keys.access_meta)
    except (redis.exceptions.RedisError, OSError) as exc:
        raise JournalUnavailable(f"{where}: reading failed: {exc}") from exc
    meta = {text(field): text(value) for field, value in raw.items()}
    start = (int(meta.get("trimmed_seq", "0")), meta.get("trimmed_hash", GENESIS))
    end = (int(meta["last_seq"]), meta["last_hash"]) if "last_seq" in meta else None
    return start, end


async def _chunks(client: redis.asyncio.Redis, keys: DomainKeys, after: int, where: str) -> Any:
    """Yield the entries after seq ``after`` as rows, a chunk at a time."""
    while True:
        try:
            raw: Any = await client.xrange(keys.access, f"{after + 1}-0", "+", count=_CHUNK)
        except (redis.exceptions.RedisError, OSError) as exc:
            raise JournalUnavailable(f"{where}: reading failed: {exc}") from exc
        rows = [_row(entry_id, fields) for entry_id, fields in raw]
        if rows:
            yield rows
        if len(rows) < _CHUNK:
            return
        after = rows[-1][0]


def _row(entry_id: bytes, fields: dict[bytes, bytes]) -> _Row:
    seq = int(text(entry_id).partition("-")[0])
    return (
        seq,
        int(fields.get(b"at", b"0")),
        int(fields.get(b"interaction_id", b"0")),
        fields.get(b"body", b""),
        text(fields.get(b"hash", b"")),
    )


if TYPE_CHECKING:

    def _is_an_access_log(log: RedisAccessLog) -> AccessLog:
        return log
