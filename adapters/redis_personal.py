"""Personal data in Redis: beside a domain's journal, written only by the journal's writer.

The same interface and meaning as ``personal.SQLitePersonalStore`` (see ``personal`` for the
seal: the journal keeps a salted digest, this store the salt and the data, and erasing them
leaves the chain whole). A record is a field of the hash ``aiguillage:{domain}:personal``
(interaction id → msgpack of salt and canonical JSON), and its age a member of the sorted set
``aiguillage:{domain}:personal:stored``, for the retention purge (``redis_keys``).

The store shares the journal's connection and its epoch: every write (put, erase, purge) runs
in a script that first checks the epoch, like an append. After a failover that lost recent
writes, the new leader reuses interaction ids; a paused former leader must not overwrite or
erase, under such an id, another customer's data.

What erasure means in Redis: the record leaves the server's memory at once, and nothing reads
it again. The append-only file still holds the commands that wrote it until Redis rewrites that
file from its memory, so after an erasure the store asks for ``BGREWRITEAOF``, at most once an
hour (a rewrite forks the server and writes the whole dataset): at once for the first erasure,
otherwise at the next erasure or retention purge (the daemon purges hourly) an hour after the
previous request. A refused request (a rewrite already running, the command renamed) is logged
and asked again an hour later. Until the rewrite, the data remains in the AOF files; it also
remains in RDB files if ``save`` is configured, in replicas until they rewrite their own, and
in backups: rotate those, and encrypt the volume for what the file system keeps of freed blocks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec
import redis.exceptions
import structlog

from aiguillage.engine.instants import Instant

from .journal import JournalUnavailable

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from .redis_journal import RedisJournal

__all__ = ["REWRITE_SPACING_S", "RedisPersonalStore"]

REWRITE_SPACING_S = 3600.0
"""The least time between two requests to rewrite the AOF after erasures."""

log = structlog.get_logger("aiguillage.redis_personal")

_PUT = """#!lua
-- Store personal data by interaction id, fenced by the writer's epoch.
-- KEYS: epoch, personal, personal:stored
-- ARGV: epoch, then 3 per record (interaction id, sealed data, stored_at)
-- returns: {"ok"} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
for i = 2, #ARGV, 3 do
  redis.call("HSET", KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call("ZADD", KEYS[3], ARGV[i + 2], ARGV[i])
end
return {"ok"}
"""

_ERASE = """#!lua
-- Erase the personal data of one interaction, fenced by the writer's epoch.
-- KEYS: epoch, personal, personal:stored
-- ARGV: epoch, interaction id
-- returns: {"ok", 1 if there was data, else 0} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
redis.call("ZREM", KEYS[3], ARGV[2])
return {"ok", redis.call("HDEL", KEYS[2], ARGV[2])}
"""

_PURGE = """#!lua
-- Erase the personal data stored before an instant, fenced by the writer's epoch.
-- KEYS: epoch, personal, personal:stored
-- ARGV: epoch, the instant (excluded)
-- returns: {"ok", records erased} | {"fenced", the epoch now}
local epoch = redis.call("GET", KEYS[1])
if epoch ~= ARGV[1] then
  return {"fenced", epoch or "0"}
end
local erased = 0
for _, id in ipairs(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", "(" .. ARGV[2])) do
  erased = erased + redis.call("HDEL", KEYS[2], id)
end
redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", "(" .. ARGV[2])
return {"ok", erased}
"""

_SEALED = msgspec.msgpack.Encoder()
_UNSEALED = msgspec.msgpack.Decoder(tuple[bytes, bytes])
_DATA: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])


class _Scripts(NamedTuple):
    put: AsyncScript
    erase: AsyncScript
    purge: AsyncScript


class RedisPersonalStore:
    """Personal data by interaction id in the journal's Redis, written under its epoch."""

    def __init__(self, journal: RedisJournal) -> None:
        self.description = f"{journal.description}, personal data"
        self._journal = journal
        self._scripts: _Scripts | None = None
        self._rewrite_pending = False
        self._rewrite_asked: float | None = None

    async def open(self) -> None:
        """Get ready on the journal's connection; ``JournalUnavailable`` if it is not open."""
        connection = self._journal.connection()
        self._scripts = _Scripts(
            connection.register_script(_PUT),
            connection.register_script(_ERASE),
            connection.register_script(_PURGE),
        )

    async def put_many(self, rows: Sequence[tuple[int, bytes, bytes, Instant]]) -> None:
        """Store (interaction_id, salt, canonical data, stored_at) rows, durable on return."""
        arguments: list[Any] = []
        for interaction_id, salt, canonical, stored_at in rows:
            arguments += [interaction_id, _SEALED.encode((salt, canonical)), stored_at]
        if arguments:
            await self._write(self._open().put, arguments, "storing personal data")

    async def get(self, interaction_id: int) -> dict[str, Any] | None:
        """Return the personal data of an interaction, or None (never stored, or erased)."""
        sealed = await self._read(interaction_id)
        return None if sealed is None else _DATA.decode(sealed[1])

    async def salt(self, interaction_id: int) -> bytes | None:
        """Return the salt of an interaction's data, to check it against the journal's digest."""
        sealed = await self._read(interaction_id)
        return None if sealed is None else sealed[0]

    async def erase(self, interaction_id: int) -> bool:
        """Erase an interaction's personal data (see the module docstring); False if none."""
        erased = await self._write(self._open().erase, [interaction_id], "erasing personal data")
        await self._rewrite(erased)
        return erased > 0

    async def purge(self, before: Instant) -> int:
        """Erase every record stored before ``before`` (the retention period); how many."""
        erased = await self._write(self._open().purge, [before], "purging personal data")
        await self._rewrite(erased)
        return erased

    async def close(self) -> None:
        """Forget the scripts; the connection is the journal's, and the journal closes it."""
        self._scripts = None

    async def _read(self, interaction_id: int) -> tuple[bytes, bytes] | None:
        self._open()
        journal = self._journal
        with journal.unavailable("reading personal data"):
            sealed: Any = await journal.connection().hget(
                journal.keys.personal, str(interaction_id)
            )
        return None if sealed is None else _UNSEALED.decode(sealed)

    async def _write(self, script: AsyncScript, arguments: list[Any], doing: str) -> int:
        keys = self._journal.keys
        found = await self._journal.write_fenced(
            script, (keys.personal, keys.personal_stored), arguments, doing
        )
        return int(found[0]) if found else 0

    async def _rewrite(self, erased: int) -> None:
        """Ask Redis to rewrite its AOF without the erased data, at most once an hour."""
        self._rewrite_pending = self._rewrite_pending or erased > 0
        now = time.monotonic()
        if not self._rewrite_pending or (
            self._rewrite_asked is not None and now - self._rewrite_asked < REWRITE_SPACING_S
        ):
            return
        self._rewrite_asked = now
        try:
            await self._journal.connection().bgrewriteaof()
        except redis.exceptions.RedisError as exc:
            log.warning(
                "erased personal data stays in Redis's AOF files until a rewrite: the request "
                "was refused, and is made again in an hour",
                store=self.description,
                error=str(exc),
            )
            return
        self._rewrite_pending = False

    def _open(self) -> _Scripts:
        if self._scripts is None:
            raise JournalUnavailable(f"{self.description} is not open")
        return self._scripts
