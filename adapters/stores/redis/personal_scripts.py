"""The server-side scripts of the Redis personal-data store (``redis.personal``), each with its
KEYS/ARGV/returns header, and ``register`` to load them on a connection.

Each first checks the writer's epoch (``KEYS[1]``, ``ARGV[1]``) and writes nothing when another
writer took over; ``RedisJournal.write_fenced`` adds those two and raises ``JournalFenced``.
"""

from __future__ import annotations

from typing import NamedTuple

import redis.asyncio
from redis.commands.core import AsyncScript

__all__ = ["PersonalScripts", "register"]

_PUT = """#!lua
-- Store pieces of personal data and index the addresses they name, fenced by the epoch.
-- KEYS: epoch, personal:stored, then per piece: personal:<id>, personal:<id>:subjects and
--       subjects:<digest> of each address it names
-- ARGV: epoch, then per piece: digest, sealed piece, stored_at, "<id>:<digest>", id, how
--       many addresses (n), then the n addresses' keyed digests
-- returns: {"ok"} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local k, a = 3, 2
while k <= #KEYS do
  local n = tonumber(ARGV[a + 5])
  redis.call("HSET", KEYS[k], ARGV[a], ARGV[a + 1])
  redis.call("ZADD", KEYS[2], ARGV[a + 2], ARGV[a + 3])
  for j = 1, n do
    redis.call("SADD", KEYS[k + 1 + j], ARGV[a + 4])
    redis.call("SADD", KEYS[k + 1], ARGV[a + 5 + j])
  end
  k, a = k + 2 + n, a + 6 + n
end
return {"ok"}
"""

_DISCARD = """#!lua
-- Erase pieces of personal data (all of an interaction's, or those named), fenced by the
-- epoch; an interaction left without pieces leaves the address index too.
-- KEYS: epoch, personal:stored, then per interaction: personal:<id>, personal:<id>:subjects
--       and subjects:<digest> of each address it names, as read before the call
-- ARGV: epoch, then per interaction: id, how many pieces (p, or "all"), how many addresses
--       (n), then the p pieces' digests and the n addresses' keyed digests
-- returns: {"ok", "erased", pieces erased} | {"ok", "moved"} (an interaction names addresses
--          not given: nothing was erased, read them again) | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local function size(a)
  return ARGV[a + 1] == "all" and 0 or tonumber(ARGV[a + 1])
end
local k, a = 3, 2
while k <= #KEYS do
  local p, n = size(a), tonumber(ARGV[a + 2])
  local given = {}
  for j = 1, n do
    given[ARGV[a + 2 + p + j]] = true
  end
  for _, named in ipairs(redis.call("SMEMBERS", KEYS[k + 1])) do
    if not given[named] then
      return {"ok", "moved"}
    end
  end
  k, a = k + 2 + n, a + 3 + p + n
end
local erased = 0
k, a = 3, 2
while k <= #KEYS do
  local id, p, n = ARGV[a], size(a), tonumber(ARGV[a + 2])
  local digests = {}
  if ARGV[a + 1] == "all" then
    digests = redis.call("HKEYS", KEYS[k])
  else
    for j = 1, p do
      digests[j] = ARGV[a + 2 + j]
    end
  end
  for _, digest in ipairs(digests) do
    erased = erased + redis.call("HDEL", KEYS[k], digest)
    redis.call("ZREM", KEYS[2], id .. ":" .. digest)
  end
  if redis.call("EXISTS", KEYS[k]) == 0 then
    for j = 1, n do
      redis.call("SREM", KEYS[k + 1 + j], id)
    end
    redis.call("DEL", KEYS[k + 1])
  end
  k, a = k + 2 + n, a + 3 + p + n
end
return {"ok", "erased", tostring(erased)}
"""

_INDEX = """#!lua
-- Index the addresses named by pieces a writer without the index stored, fenced by the epoch;
-- an interaction erased since it was read is left out. Last, mark the index as kept up to
-- this writer's epoch.
-- KEYS: epoch, personal:indexed, then per interaction: personal:<id>, personal:<id>:subjects
--       and subjects:<digest> of each address its pieces name
-- ARGV: epoch, the epoch to mark on the last call (else ""), then per interaction: id, how
--       many addresses (n), then the n addresses' keyed digests
-- returns: {"ok"} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local k, a = 3, 3
while k <= #KEYS do
  local n = tonumber(ARGV[a + 1])
  if redis.call("EXISTS", KEYS[k]) == 1 then
    for j = 1, n do
      redis.call("SADD", KEYS[k + 1 + j], ARGV[a])
      redis.call("SADD", KEYS[k + 1], ARGV[a + 1 + j])
    end
  end
  k, a = k + 2 + n, a + 2 + n
end
if ARGV[2] ~= "" then
  redis.call("SET", KEYS[2], ARGV[2])
end
return {"ok"}
"""

_MOVE = """#!lua
-- Move records of an earlier version (one per interaction) to the layout of pieces, fenced.
-- KEYS: epoch, personal:stored, personal, then the hash personal:<id> of each record
-- ARGV: epoch, then 4 per record (interaction id, digest, sealed piece, stored_at)
-- returns: {"ok"} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
for i = 4, #KEYS do
  local a = 2 + (i - 4) * 4
  redis.call("HSET", KEYS[i], ARGV[a + 1], ARGV[a + 2])
  redis.call("ZADD", KEYS[2], ARGV[a + 3], ARGV[a] .. ":" .. ARGV[a + 1])
  redis.call("ZREM", KEYS[2], ARGV[a])
  redis.call("HDEL", KEYS[3], ARGV[a])
end
return {"ok"}
"""

_FORGET = """#!lua
-- Remove members of personal:stored whose piece is gone (orphans), fenced by the epoch.
-- KEYS: epoch, personal:stored, then the hash each member names
-- ARGV: epoch, then 2 per member (its field in that hash, the member)
-- returns: {"ok", members removed} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local removed = 0
for i = 3, #KEYS do
  local a = 2 + (i - 3) * 2
  if redis.call("HEXISTS", KEYS[i], ARGV[a]) == 0 then
    removed = removed + redis.call("ZREM", KEYS[2], ARGV[a + 1])
  end
end
return {"ok", removed}
"""


class PersonalScripts(NamedTuple):
    put: AsyncScript
    discard: AsyncScript
    move: AsyncScript
    forget: AsyncScript
    index_earlier: AsyncScript


def register(connection: redis.asyncio.Redis) -> PersonalScripts:
    """Return the store's scripts, loaded on ``connection`` at their first call."""
    return PersonalScripts(
        connection.register_script(_PUT),
        connection.register_script(_DISCARD),
        connection.register_script(_MOVE),
        connection.register_script(_FORGET),
        connection.register_script(_INDEX),
    )
