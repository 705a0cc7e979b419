"""The embedded personal-data store: sealed pieces in a SQLite file beside the journal.

The runtime puts it beside the journal as ``<journal stem>.personal.sqlite``; what a piece is,
and what is served, is said in ``stores.personal``.

Erasure leaves no copy in the file: ``secure_delete`` zeroes the space a deleted record freed,
and each erasure ends with a ``TRUNCATE`` checkpoint, which writes the zeroed pages into the file
and empties the ``-wal`` file that still held the record's earlier pages; an erasure whose
checkpoint cannot complete (a reader in the way) is reported as failed, to be retried. WAL
rather than a rollback journal because every batch the daemon writes pays one fsync instead of
several, and erasures are rare. The tests read every byte of the directory after an
erasure. What the file system or the disk does with freed blocks is below SQLite: encrypt the
volume for that.

The ``subjects`` table indexes the pieces by the keyed digests of the addresses they name
(``stores.subjects``), written in the piece's transaction and erased with it (any digest whose
interaction has no piece left goes at each erasure, purge or discard). Pieces stored before the
index are indexed once when the store is first opened by a version that keeps it: that opens
every piece (one JSON decode and up to three HMACs each: 15,000 to 70,000 pieces a second on
a small shared server, ``benchmarks/subjects.py``).
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import msgspec

from aiguillage.adapters.stores.journal import JournalError, JournalUnavailable
from aiguillage.adapters.stores.personal import (
    KEY_BYTES,
    Sealed,
    digest,
)
from aiguillage.adapters.stores.sqlite.journal import OneThread, transaction, unavailable
from aiguillage.adapters.stores.subjects import subject_keys
from aiguillage.engine.instants import Instant

__all__ = ["SQLitePersonalStore"]

_DATA: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])
_PIECES = "SELECT interaction_id, digest, salt, data, stored_at FROM sealed"


class SQLitePersonalStore:
    """Sealed personal data in a SQLite file where an erasure leaves nothing."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).absolute()
        self.description = f"sqlite://{self.path}"
        self._thread = OneThread()
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._thread.run(self._open)

    async def external_id_key(self) -> bytes:
        return await self._thread.run(self._key)

    async def put_many(self, rows: Sequence[Sealed]) -> None:
        """Store pieces in one durable commit."""
        await self._thread.run(partial(self._put_many, list(rows)))

    async def get(self, interaction_id: int) -> list[Sealed]:
        rows = await self._thread.run(
            partial(
                self._all, f"{_PIECES} WHERE interaction_id = ? ORDER BY rowid", (interaction_id,)
            )
        )
        return [
            Sealed(int(i), str(d), bytes(s), bytes(data), int(at)) for i, d, s, data, at in rows
        ]

    async def erase(self, interaction_id: int) -> bool:
        query = "DELETE FROM sealed WHERE interaction_id = ?"
        return await self._thread.run(partial(self._delete, query, [(interaction_id,)])) > 0

    async def purge(self, before: Instant) -> int:
        query = "DELETE FROM sealed WHERE stored_at < ?"
        return await self._thread.run(partial(self._delete, query, [(before,)]))

    async def stored_since(self, since: Instant) -> list[tuple[int, str]]:
        query = "SELECT interaction_id, digest FROM sealed WHERE stored_at >= ?"
        rows = await self._thread.run(partial(self._all, query, (since,)))
        return [(int(interaction_id), str(piece)) for interaction_id, piece in rows]

    async def stored_between(
        self, since: Instant, before: Instant, limit: int, *, tidy: bool = True
    ) -> list[Sealed]:
        query = f"{_PIECES} WHERE stored_at >= ? AND stored_at < ? ORDER BY stored_at LIMIT ?"
        rows = await self._thread.run(partial(self._all, query, (since, before, limit)))
        return [
            Sealed(int(i), str(d), bytes(s), bytes(data), int(at)) for i, d, s, data, at in rows
        ]

    async def discard(self, pieces: Sequence[tuple[int, str]]) -> int:
        if not pieces:
            return 0
        query = "DELETE FROM sealed WHERE interaction_id = ? AND digest = ?"
        return await self._thread.run(partial(self._delete, query, list(pieces)))

    async def find_subject(self, subject: str) -> list[int]:
        query = "SELECT DISTINCT interaction_id FROM subjects WHERE subject = ? ORDER BY 1"
        rows = await self._thread.run(partial(self._all, query, (subject,)))
        return [int(interaction_id) for (interaction_id,) in rows]

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._thread.run(self._close)

    # What runs on the worker thread.

    def _open(self) -> None:
        if self._connection is not None:
            raise JournalError(f"{self.description} is already open")
        try:
            with unavailable(self.description, "opening"):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._connection = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )
                (mode,) = self._connection.execute("PRAGMA journal_mode = WAL").fetchone()
                (zeroes,) = self._connection.execute("PRAGMA secure_delete = ON").fetchone()
                if (mode, zeroes) != ("wal", 1):
                    raise JournalError(
                        f"{self.description}: this SQLite cannot erase for good (journal mode "
                        f"{mode}, secure_delete {zeroes}); personal data cannot be stored here"
                    )
                self._connection.execute("PRAGMA synchronous = FULL")
                with transaction(self._connection):
                    self._create(self._connection)
        except BaseException:
            self._close()
            raise

    def _create(self, connection: sqlite3.Connection) -> None:
        connection.execute(
            """CREATE TABLE IF NOT EXISTS sealed (interaction_id INTEGER NOT NULL,
            digest TEXT NOT NULL, salt BLOB NOT NULL, data BLOB NOT NULL,
            stored_at INTEGER NOT NULL, PRIMARY KEY (interaction_id, digest))"""
        )
        connection.execute("CREATE INDEX IF NOT EXISTS sealed_by_age ON sealed (stored_at)")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)"
        )
        connection.execute(
            """CREATE TABLE IF NOT EXISTS subjects (subject TEXT NOT NULL,
            interaction_id INTEGER NOT NULL, PRIMARY KEY (subject, interaction_id))"""
        )
        connection.execute(
            "CREATE INDEX IF NOT EXISTS subjects_by_interaction ON subjects (interaction_id)"
        )
        # Earlier versions kept one record per interaction, without its digest: each becomes
        # the piece it is, its digest computed again from its salt and data.
        earlier = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'personal'"
        ).fetchone()
        if earlier is not None:
            rows = connection.execute("SELECT interaction_id, salt, data, stored_at FROM personal")
            connection.executemany(
                "INSERT OR IGNORE INTO sealed VALUES (?, ?, ?, ?, ?)",
                [
                    (i, digest(bytes(salt), bytes(data)), salt, data, at)
                    for i, salt, data, at in rows.fetchall()
                ],
            )
            connection.execute("DROP TABLE personal")
        indexed = connection.execute(
            "SELECT 1 FROM secrets WHERE name = 'subjects_indexed'"
        ).fetchone()
        if indexed is None:  # pieces stored before the index: open each, once
            key = self._key_in(connection)
            last = 0
            while True:  # a page at a time: a year of attachments does not fit in memory
                page = connection.execute(
                    "SELECT rowid, interaction_id, data FROM sealed WHERE rowid > ? "
                    "ORDER BY rowid LIMIT 500",
                    (last,),
                ).fetchall()
                for _, interaction_id, data in page:
                    self._index(connection, key, int(interaction_id), bytes(data))
                if len(page) < 500:
                    break
                last = page[-1][0]
            connection.execute("INSERT INTO secrets VALUES ('subjects_indexed', x'01')")

    def _key(self) -> bytes:
        with unavailable(self.description, "reading the external-id key"):
            connection = self._open_connection()
            with transaction(connection):
                return self._key_in(connection)

    @staticmethod
    def _key_in(connection: sqlite3.Connection) -> bytes:
        connection.execute(
            "INSERT OR IGNORE INTO secrets VALUES ('external_id_key', ?)",
            (secrets.token_bytes(KEY_BYTES),),
        )
        (key,) = connection.execute(
            "SELECT value FROM secrets WHERE name = 'external_id_key'"
        ).fetchone()
        return bytes(key)

    @staticmethod
    def _index(
        connection: sqlite3.Connection, key: bytes, interaction_id: int, data: bytes
    ) -> None:
        keys = subject_keys(key, _DATA.decode(data))
        connection.executemany(
            "INSERT OR IGNORE INTO subjects VALUES (?, ?)", [(k, interaction_id) for k in keys]
        )

    def _put_many(self, rows: list[Sealed]) -> None:
        with unavailable(self.description, "storing personal data"):
            connection = self._open_connection()
            with transaction(connection):
                connection.executemany("INSERT OR REPLACE INTO sealed VALUES (?, ?, ?, ?, ?)", rows)
                key = self._key_in(connection)
                for piece in rows:
                    self._index(connection, key, piece.interaction_id, piece.data)

    def _all(self, query: str, parameters: tuple[Any, ...]) -> list[Any]:
        with unavailable(self.description, "reading personal data"):
            return self._open_connection().execute(query, parameters).fetchall()

    def _delete(self, query: str, parameters: list[tuple[Any, ...]]) -> int:
        with unavailable(self.description, "erasing personal data"):
            connection = self._open_connection()
            with transaction(connection):
                erased: int = connection.executemany(query, parameters).rowcount
                connection.execute(  # an address's digest goes with its interaction's last piece
                    "DELETE FROM subjects WHERE interaction_id NOT IN "
                    "(SELECT interaction_id FROM sealed)"
                )
            # The -wal file still holds the pages as they were before: write the zeroed ones
            # into the database and empty it, or the erasure is not done.
            for _ in range(50):
                (busy, _, _) = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return erased
                time.sleep(0.02)
            raise JournalUnavailable(
                f"{self.description}: the erasure is written but a reader keeps its old pages in "
                "the -wal file; retry the erasure"
            )

    def _open_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise JournalUnavailable(f"{self.description} is not open")
        return self._connection

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
