"""The Redis journal's server-side scripts: each write of a domain is one of these, atomic.

Every fenced script first compares the domain's epoch with the writer's (``KEYS[1]``,
``ARGV[1]``) and refuses with ``{"fenced", the epoch now}``, writing nothing: that check, on
the server and in the same atomic step as the write, is what makes a second writer impossible
whatever the clocks say. Every reply is ``{status, found...}`` (``Reply``). Scripts get every
key they touch in ``KEYS`` (all under one domain's hash tag), as Redis Cluster requires.
redis-py loads a script again when the server answers ``NOSCRIPT`` (after a restart).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import redis.asyncio
from redis.commands.core import AsyncScript

from aiguillage.adapters.stores.journal import GENESIS
from aiguillage.adapters.stores.redis.keys import DomainKeys

__all__ = ["JOURNAL_FORMAT", "UNSEALED_FORMAT", "Batch", "Reply", "Scripts", "call", "text"]

JOURNAL_FORMAT = 2
"""The layout of a domain's keys: the table in ``redis_keys``."""

UNSEALED_FORMAT = 1
"""The layout before snapshots were sealed (no ``seals``): read, and upgraded by a writer."""

_ACQUIRE = """#!lua
-- Take the writer's lease, creating the journal's meta if the domain has none, or upgrading
-- it from the format before seals (whose readers would take a seal for a broken chain).
-- KEYS: epoch, lease, meta
-- ARGV: address, lease in ms, journal format, the genesis hash, the format it upgrades
-- returns: {"ok", the new epoch} | {"held", "<epoch> <address>"} | {"format", the one found}
local format = redis.call("HGET", KEYS[3], "journal_format")
if format and format ~= ARGV[3] and format ~= ARGV[5] then
  return {"format", format}
end
local held = redis.call("GET", KEYS[2])
if held then
  return {"held", held}
end
if not format then
  redis.call("HSET", KEYS[3], "journal_format", ARGV[3], "last_seq", "0", "last_hash", ARGV[4],
    "trimmed_seq", "0", "trimmed_hash", ARGV[4])
elseif format ~= ARGV[3] then
  redis.call("HSET", KEYS[3], "journal_format", ARGV[3])
end
local epoch = redis.call("INCR", KEYS[1])
redis.call("SET", KEYS[2], epoch .. " " .. ARGV[1], "PX", ARGV[2])
return {"ok", tostring(epoch)}
"""

_RENEW = """#!lua
-- Extend the lease (or take it again, if it lapsed and nobody took over), fenced.
-- KEYS: epoch, lease
-- ARGV: epoch, address, lease in ms
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
redis.call("SET", KEYS[2], ARGV[1] .. " " .. ARGV[2], "PX", ARGV[3])
return {"ok"}
"""

_RELEASE = """#!lua
-- Give the lease up if this writer still holds it (a clean shutdown).
-- KEYS: lease
-- ARGV: epoch
local held = redis.call("GET", KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. " " then
  redis.call("DEL", KEYS[1])
end
return {"ok"}
"""

_APPEND = """#!lua
-- Append a batch of records and upsert the views, fenced, if the journal ends as expected.
-- KEYS: epoch, meta, events, views, origins, external, arrivals
-- ARGV: epoch, expected last seq and hash, new last seq and hash, records, views, then
--       7 per record (stream id, format, body, hash, at, type, interaction id or "")
--       and 5 per view (id, body, origin JSON, external key JSON, accepted_at)
-- returns: {"ok"} | {"fenced", the epoch now} | {"conflict", last seq, last hash}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local last = redis.call("HMGET", KEYS[2], "last_seq", "last_hash")
if last[1] ~= ARGV[2] or last[2] ~= ARGV[3] then
  return {"conflict", last[1] or "0", last[2] or ""}
end
local i = 8
for _ = 1, tonumber(ARGV[6]) do
  redis.call("XADD", KEYS[3], ARGV[i], "format", ARGV[i + 1], "body", ARGV[i + 2],
    "hash", ARGV[i + 3], "at", ARGV[i + 4], "type", ARGV[i + 5], "interaction_id", ARGV[i + 6])
  i = i + 7
end
for _ = 1, tonumber(ARGV[7]) do
  local id, received = ARGV[i], ARGV[i + 4]
  redis.call("HSET", KEYS[4], id, ARGV[i + 1])
  redis.call("HSET", KEYS[5], id, ARGV[i + 2])
  local latest = redis.call("HGET", KEYS[6], ARGV[i + 3])
  local keep = not latest
  if latest then
    local at, known = string.match(latest, "^(%d+) (%d+)$")
    keep = tonumber(received) > tonumber(at)
      or (tonumber(received) == tonumber(at) and tonumber(id) >= tonumber(known))
  end
  if keep then
    redis.call("HSET", KEYS[6], ARGV[i + 3], received .. " " .. id)
  end
  redis.call("ZADD", KEYS[7], received, id)
  i = i + 5
end
if tonumber(ARGV[6]) > 0 then
  redis.call("HSET", KEYS[2], "last_seq", ARGV[4], "last_hash", ARGV[5])
end
return {"ok"}
"""

_SNAPSHOT = """#!lua
-- Keep an uploaded image as the snapshot after a record and append its seal to the chain,
-- fenced, if the journal ends as expected; drop all but the last two images.
-- KEYS: epoch, meta, seals, snapshots, the staging key, the image's key, then images to drop
-- ARGV: epoch, expected last seq and hash, seq, the description (msgpack), the seal's body
--       and hash, then the seqs of the images to drop
-- returns: {"ok", the seq of the older snapshot kept, or 0} | {"fenced", the epoch now}
--          | {"conflict", last seq, last hash}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local last = redis.call("HMGET", KEYS[2], "last_seq", "last_hash")
if last[1] ~= ARGV[2] or last[2] ~= ARGV[3] then
  return {"conflict", last[1] or "0", last[2] or ""}
end
redis.call("RENAME", KEYS[5], KEYS[6])
redis.call("PERSIST", KEYS[6])
redis.call("HSET", KEYS[4], ARGV[4], ARGV[5])
redis.call("XADD", KEYS[3], ARGV[2] .. "-*", "body", ARGV[6], "hash", ARGV[7], "epoch", ARGV[1])
redis.call("HSET", KEYS[2], "last_hash", ARGV[7])
for n = 7, #KEYS do
  redis.call("UNLINK", KEYS[n])
  redis.call("HDEL", KEYS[4], ARGV[n + 1])
end
local seqs = {}
for _, seq in ipairs(redis.call("HKEYS", KEYS[4])) do
  table.insert(seqs, tonumber(seq))
end
table.sort(seqs, function(a, b) return a > b end)
return {"ok", tostring(seqs[2] or 0)}
"""

_TRIM = """#!lua
-- Trim the records up to a boundary, and the seals before it, from Redis (once archived),
-- fenced.
-- KEYS: epoch, meta, events, seals
-- ARGV: epoch, the trimmed seq expected, the new boundary, the hash of its record
-- returns: {"ok"} | {"fenced", the epoch now} | {"moved", the trimmed seq found}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local trimmed = redis.call("HGET", KEYS[2], "trimmed_seq")
if trimmed ~= ARGV[2] then
  return {"moved", trimmed or "0"}
end
redis.call("XTRIM", KEYS[3], "MINID", tostring(tonumber(ARGV[3]) + 1) .. "-0")
redis.call("XTRIM", KEYS[4], "MINID", ARGV[3] .. "-0")
redis.call("HSET", KEYS[2], "trimmed_seq", ARGV[3], "trimmed_hash", ARGV[4])
return {"ok"}
"""

_SAVE_FENCED = """#!lua
-- Keep a value in a hash, fenced: a consumer's position (cursors), a channel's state
-- (channel_states, opaque bytes).
-- KEYS: epoch, the hash
-- ARGV: epoch, name, value
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
redis.call("HSET", KEYS[2], ARGV[2], ARGV[3])
return {"ok"}
"""


def text(value: Any) -> str:
    """Return a reply's value as text (redis-py gives bytes, or int for Lua numbers)."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


class Reply(NamedTuple):
    status: str
    found: tuple[str, ...]


async def call(script: AsyncScript, keys: Sequence[str], arguments: Sequence[Any]) -> Reply:
    """Run a script (redis-py loads it again after a ``NOSCRIPT``); return its reply."""
    reply = await script(keys=list(keys), args=list(arguments))
    return Reply(text(reply[0]), tuple(text(value) for value in reply[1:]))


class Batch(NamedTuple):
    """One append: where the journal must end before and will end after, and its arguments."""

    expected: tuple[int, str]
    written: tuple[int, str]
    records: int
    views: int
    arguments: list[Any]


class Scripts:
    """The journal's scripts, registered on its connection, with the keys each one takes."""

    def __init__(self, client: redis.asyncio.Redis, keys: DomainKeys) -> None:
        self._keys = keys
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._append = client.register_script(_APPEND)
        self._snapshot = client.register_script(_SNAPSHOT)
        self._trim = client.register_script(_TRIM)
        self._save_fenced = client.register_script(_SAVE_FENCED)

    async def acquire(self, address: str, lease_ms: int) -> Reply:
        keys = self._keys
        arguments = (address, lease_ms, JOURNAL_FORMAT, GENESIS, UNSEALED_FORMAT)
        return await call(self._acquire, (keys.epoch, keys.lease, keys.meta), arguments)

    async def renew(self, epoch: int, address: str, lease_ms: int) -> Reply:
        keys = self._keys
        return await call(self._renew, (keys.epoch, keys.lease), (epoch, address, lease_ms))

    async def release(self, epoch: int) -> Reply:
        return await call(self._release, (self._keys.lease,), (epoch,))

    async def append(self, epoch: int, batch: Batch) -> Reply:
        k = self._keys
        keys = (k.epoch, k.meta, k.events, k.views, k.origins, k.external, k.arrivals)
        (expected_seq, expected_hash), (seq, last_hash) = batch.expected, batch.written
        head = (epoch, expected_seq, expected_hash, seq, last_hash, batch.records, batch.views)
        return await call(self._append, keys, (*head, *batch.arguments))

    async def snapshot(
        self,
        epoch: int,
        expected: tuple[int, str],
        seq: int,
        description: bytes,
        seal: tuple[bytes, str],
        dropped: Sequence[int],
    ) -> Reply:
        k = self._keys
        keys = [k.epoch, k.meta, k.seals, k.snapshots, k.snapshot_staging(epoch), k.snapshot(seq)]
        keys += [k.snapshot(old) for old in dropped]
        arguments = (epoch, *expected, seq, description, *seal, *dropped)
        return await call(self._snapshot, keys, arguments)

    async def trim(self, epoch: int, after: int, boundary: int, boundary_hash: str) -> Reply:
        k = self._keys
        arguments = (epoch, after, boundary, boundary_hash)
        return await call(self._trim, (k.epoch, k.meta, k.events, k.seals), arguments)

    async def save_cursor(self, epoch: int, name: str, seq: int) -> Reply:
        keys = self._keys
        return await call(self._save_fenced, (keys.epoch, keys.cursors), (epoch, name, seq))

    async def save_channel_state(self, epoch: int, name: str, state: bytes) -> Reply:
        keys = (self._keys.epoch, self._keys.channel_states)
        return await call(self._save_fenced, keys, (epoch, name, state))
