"""The access log of a SQLite journal: a table in the journal's file, chained on its own.

Tables (created when the log is first opened; a version that does not know them leaves them
alone, so the journal's format does not change)::

    access_log    one row per entry: seq (1, 2, 3… gapless after the trimmed boundary), at,
                  interaction_id (indexed), format (of the body: 1), body (msgspec JSON of the
                  ``AccessEntry``), hash (chained: ``journal.chain_hash``)
    meta          (the journal's) ``access_trimmed_seq`` and ``access_trimmed_hash``: the last
                  entry a retention trim removed, where a verification starts

Each append reads where the chain ends inside its own ``BEGIN IMMEDIATE`` transaction, so the
daemon and ``aiguillage erase`` (another process, on the same file) both append to one chain.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from aiguillage.adapters.stores.access_log import (
    ENTRY_FORMAT,
    AccessEntry,
    AccessLog,
    AccessRecord,
    chained,
    decode_entry,
    verify_rows,
)
from aiguillage.adapters.stores.journal import (
    GENESIS,
    JournalError,
    JournalUnavailable,
    Verification,
)
from aiguillage.adapters.stores.sqlite.journal import OneThread, transaction, unavailable
from aiguillage.engine.instants import Instant

__all__ = ["SQLiteAccessLog", "verify_access_file"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS access_log (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,
    interaction_id INTEGER NOT NULL, format INTEGER NOT NULL, body BLOB NOT NULL,
    hash TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS access_log_by_interaction ON access_log (interaction_id, seq)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
)
_ROWS = "SELECT seq, at, interaction_id, CAST(body AS BLOB), hash FROM access_log"


class SQLiteAccessLog:
    """The ``AccessLog`` in the journal's SQLite file, on a connection of its own."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path).absolute()
        self.description = f"sqlite:///{self.path}, access log"
        self._busy_timeout_s = busy_timeout_s
        self._thread = OneThread()
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._thread.run(self._open)

    async def append(self, entries: Sequence[AccessEntry]) -> int:
        return await self._thread.run(partial(self._append, list(entries)))

    async def records_after(
        self, seq: int, limit: int, interaction_id: int | None = None
    ) -> list[AccessRecord]:
        parameters: tuple[int, ...]
        if interaction_id is None:
            query, parameters = f"{_ROWS} WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        else:
            query = f"{_ROWS} WHERE interaction_id = ? AND seq > ? ORDER BY seq LIMIT ?"
            parameters = (interaction_id, seq, limit)
        rows = await self._thread.run(partial(self._all, query, parameters))
        return [AccessRecord(s, decode_entry(bytes(body)), h) for s, _, _, body, h in rows]

    async def trim(self, before: Instant) -> int:
        return await self._thread.run(partial(self._trim, before))

    async def verify(self) -> Verification:
        return await self._thread.run(partial(_verify, self._reader(), self.description))

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._thread.run(self._close)

    # What runs on the worker thread.

    def _open(self) -> None:
        if self._connection is not None:
            raise JournalError(f"{self.description} is already open")
        try:
            with unavailable(self.description, "opening"):
                self._connection = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout_s,
                    isolation_level=None,
                    check_same_thread=False,
                )
                self._connection.execute("PRAGMA journal_mode = WAL")
                self._connection.execute("PRAGMA synchronous = FULL")
                with transaction(self._connection):
                    for statement in _SCHEMA:
                        self._connection.execute(statement)
        except BaseException:
            self._close()
            raise

    def _append(self, entries: list[AccessEntry]) -> int:
        connection = self._reader()
        with unavailable(self.description, "appending"), transaction(connection):
            last_seq, last_hash = _end(connection)
            rows = chained(entries, last_seq, last_hash)
            connection.executemany(
                "INSERT INTO access_log VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (seq, entry.at, entry.interaction_id, ENTRY_FORMAT, body, chain)
                    for seq, entry, body, chain in rows
                ],
            )
        return rows[-1][0] if rows else last_seq

    def _trim(self, before: Instant) -> int:
        connection = self._reader()
        with unavailable(self.description, "trimming"), transaction(connection):
            kept = connection.execute(
                "SELECT MIN(seq) FROM access_log WHERE at >= ?", (before,)
            ).fetchone()[0]
            if kept is None:
                kept = _end(connection)[0] + 1
            boundary = connection.execute(
                "SELECT seq, hash FROM access_log WHERE seq < ? ORDER BY seq DESC LIMIT 1",
                (kept,),
            ).fetchone()
            if boundary is None:
                return 0
            removed: int = connection.execute(
                "DELETE FROM access_log WHERE seq <= ?", (boundary[0],)
            ).rowcount
            connection.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("access_trimmed_seq", str(boundary[0])), ("access_trimmed_hash", boundary[1])],
            )
        return removed

    def _all(self, query: str, parameters: tuple[Any, ...]) -> list[Any]:
        with unavailable(self.description, "reading"):
            return self._reader().execute(query, parameters).fetchall()

    def _reader(self) -> sqlite3.Connection:
        if self._connection is None:
            raise JournalUnavailable(f"{self.description} is not open")
        return self._connection

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()


def verify_access_file(path: Path) -> Verification | None:
    """Walk the access log of a journal file read-only (beside the daemon, or on a backup);
    ``None`` when the file has no access log yet."""
    path = Path(path).absolute()
    where = f"sqlite:///{path}, access log"
    with unavailable(where, "opening read-only"):
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        with unavailable(where, "verifying"):
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'access_log'"
            ).fetchone()
            return None if found is None else _verify(connection, where)
    finally:
        connection.close()


def _verify(connection: sqlite3.Connection, where: str) -> Verification:
    with unavailable(where, "verifying"):
        start = _boundary(connection)
        # A cursor, not fetchall: a year of entries is walked in constant memory.
        rows = connection.execute(f"{_ROWS} WHERE seq > ? ORDER BY seq", (start[0],))
        result = verify_rows(rows, start=start)
        below = connection.execute(
            "SELECT COUNT(*) FROM access_log WHERE seq <= ?", (start[0],)
        ).fetchone()[0]
    if result.ok and below:
        return Verification(
            False,
            result.checked,
            start[0],
            f"{below} access entries at or before the trimmed boundary {start[0]} (added after "
            "the trim)",
            result.last_hash,
        )
    return result


def _boundary(connection: sqlite3.Connection) -> tuple[int, str]:
    """Where the walk starts: the last entry trimmed, or the genesis."""
    meta = dict(
        connection.execute(
            "SELECT key, value FROM meta WHERE key IN ('access_trimmed_seq', 'access_trimmed_hash')"
        ).fetchall()
    )
    if "access_trimmed_seq" not in meta:
        return 0, GENESIS
    return int(meta["access_trimmed_seq"]), str(meta["access_trimmed_hash"])


def _end(connection: sqlite3.Connection) -> tuple[int, str]:
    """Where the chain ends now: the last entry, or the trimmed boundary, or the genesis."""
    last = "SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1"
    row = connection.execute(last).fetchone()
    return (int(row[0]), str(row[1])) if row is not None else _boundary(connection)


if TYPE_CHECKING:

    def _is_an_access_log(log: SQLiteAccessLog) -> AccessLog:
        return log
