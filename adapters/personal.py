"""The personal-data store: what the GDPR lets a customer have erased, kept out of the journal.

A customer's identity (the ``customer`` object), a message's ``subject`` and ``text`` are
personal data, and the hash-chained journal can erase nothing without breaking its chain. So
they live here, in a separate SQLite file keyed by interaction id (the runtime puts it beside
the journal as ``<journal stem>.personal.sqlite``), and the journal carries only a digest of
them: HMAC-SHA256 keyed by a random salt that is stored with the data and erased with it. While
the record lives, the digest proves the data is the one the journal saw; once it is erased, the
digest cannot confirm a guess (no salt to try it with), and the chain and the statistics stay
whole.

Erasure leaves no copy in the file: ``secure_delete`` zeroes the space a deleted record freed,
and each erasure ends with a ``TRUNCATE`` checkpoint, which writes the zeroed pages into the file
and empties the ``-wal`` file that still held the record's earlier pages; an erasure whose
checkpoint cannot complete (a reader in the way) is reported as failed, to be retried. WAL
rather than a rollback journal because every batch the daemon writes pays one fsync instead of
several, and erasures are rare. The tests read every byte of the directory after an
erasure. What the file system or the disk does with freed blocks is below SQLite: encrypt the
volume for that.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import anyio
import msgspec

from aiguillage.engine.instants import Instant

from .journal import JournalError, JournalUnavailable
from .sqlite_journal import OneThread, transaction, unavailable

__all__ = ["SALT_BYTES", "PersonalStore", "SQLitePersonalStore", "digest", "seal"]

SALT_BYTES = 16

_CANONICAL = msgspec.json.Encoder(order="sorted")
_DATA: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])


def seal(data: dict[str, Any]) -> tuple[str, bytes, bytes]:
    """Return (digest, salt, canonical JSON) of personal data, with a fresh random salt.

    The journal keeps the digest; the store keeps the salt and the canonical JSON together,
    so sealing the same data twice gives two unrelated digests.
    """
    salt = secrets.token_bytes(SALT_BYTES)
    canonical = _CANONICAL.encode(data)
    return digest(salt, canonical), salt, canonical


def digest(salt: bytes, canonical: bytes) -> str:
    """Return the hex HMAC-SHA256 of canonical personal data, keyed by its salt."""
    return hmac.new(salt, canonical, hashlib.sha256).hexdigest()


class PersonalStore(Protocol):
    """Personal data by interaction id, erasable; every method may raise ``JournalUnavailable``."""

    description: str

    async def open(self) -> None: ...

    async def put_many(self, rows: Sequence[tuple[int, bytes, bytes, Instant]]) -> None:
        """Store (interaction_id, salt, canonical data, stored_at) rows, durable on return."""
        ...

    async def get(self, interaction_id: int) -> dict[str, Any] | None:
        """Return the personal data of an interaction, or None (never stored, or erased)."""
        ...

    async def salt(self, interaction_id: int) -> bytes | None:
        """Return the salt of an interaction's data, to check it against the journal's digest."""
        ...

    async def erase(self, interaction_id: int) -> bool:
        """Erase an interaction's personal data for good; False if there was none."""
        ...

    async def purge(self, before: Instant) -> int:
        """Erase every record stored before ``before`` (the retention period); how many."""
        ...

    async def close(self) -> None: ...


class SQLitePersonalStore:
    """Personal data by interaction id, in a SQLite file where an erasure leaves nothing."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).absolute()
        self.description = f"sqlite://{self.path}"
        self._thread = OneThread()
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._thread.run(self._open)

    async def put_many(self, rows: Sequence[tuple[int, bytes, bytes, Instant]]) -> None:
        """Store (interaction_id, salt, canonical data, stored_at) rows in one durable commit."""
        await self._thread.run(partial(self._put_many, list(rows)))

    async def get(self, interaction_id: int) -> dict[str, Any] | None:
        """Return the personal data of an interaction, or None (never stored, or erased)."""
        row = await self._thread.run(
            partial(
                self._execute,
                "SELECT data FROM personal WHERE interaction_id = ?",
                (interaction_id,),
            )
        )
        return None if row is None else _DATA.decode(row[0])

    async def salt(self, interaction_id: int) -> bytes | None:
        """Return the salt of an interaction's data, to check it against the journal's digest."""
        row = await self._thread.run(
            partial(
                self._execute,
                "SELECT salt FROM personal WHERE interaction_id = ?",
                (interaction_id,),
            )
        )
        return None if row is None else bytes(row[0])

    async def erase(self, interaction_id: int) -> bool:
        """Erase an interaction's personal data for good; False if there was none."""
        query = "DELETE FROM personal WHERE interaction_id = ?"
        return await self._thread.run(partial(self._delete, query, interaction_id)) > 0

    async def purge(self, before: Instant) -> int:
        """Erase every record stored before ``before`` (the retention period); how many."""
        query = "DELETE FROM personal WHERE stored_at < ?"
        return await self._thread.run(partial(self._delete, query, before))

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
                self._connection.execute(
                    """CREATE TABLE IF NOT EXISTS personal (interaction_id INTEGER PRIMARY KEY,
                    salt BLOB, data BLOB, stored_at INTEGER)"""
                )
                self._connection.execute(
                    "CREATE INDEX IF NOT EXISTS personal_by_age ON personal (stored_at)"
                )
        except BaseException:
            self._close()
            raise

    def _put_many(self, rows: list[tuple[int, bytes, bytes, Instant]]) -> None:
        with unavailable(self.description, "storing personal data"):
            connection = self._open_connection()
            with transaction(connection):
                connection.executemany(
                    """INSERT INTO personal VALUES (?, ?, ?, ?) ON CONFLICT (interaction_id)
                    DO UPDATE SET salt = excluded.salt, data = excluded.data,
                    stored_at = excluded.stored_at""",
                    rows,
                )

    def _execute(self, query: str, parameters: tuple[Any, ...]) -> Any:
        with unavailable(self.description, "reading personal data"):
            return self._open_connection().execute(query, parameters).fetchone()

    def _delete(self, query: str, parameter: int) -> int:
        with unavailable(self.description, "erasing personal data"):
            connection = self._open_connection()
            with transaction(connection):
                erased: int = connection.execute(query, (parameter,)).rowcount
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
