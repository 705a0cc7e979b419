"""The personal-data store: what the GDPR lets a customer have erased, kept out of the journal.

A customer's identity (the ``customer`` object), a message's ``subject`` and ``text``, the
external id it came with (an e-mail's Message-ID names an address), and the free text advisors
add later (a transfer note, the party work is handed to) are personal data, and the hash-chained
journal can erase nothing without breaking its chain. So they live here, in a separate SQLite
file (the runtime puts it beside the journal as ``<journal stem>.personal.sqlite``), one sealed
piece per submission, note or party, keyed by interaction id and digest; the journal carries
only the digest: HMAC-SHA256 keyed by a random salt that is stored with the piece and erased
with it. While the piece lives, the digest proves it is the one the journal saw; once it is
erased, the digest cannot confirm a guess (no salt to try it with), and the chain and the
statistics stay whole.

What is served is checked against the journal (``opened``): a piece whose digest the journal
does not hold for that interaction is never shown, whatever id it is stored under. Such a piece
is left behind when the journal's append fails after the store's commit (a full disk, a lost
lock, a kill between the two); the runtime removes it at its next recovery (``stored_since``,
``discard``), and erasing an interaction removes every piece stored under its id.

External ids are journaled as a keyed digest (``keyed_id``), so that the journal can still
recognise a resubmission without holding the id. The key is the deployment's, made at the first
start and kept here with the personal data, never erased with it: back this store up with the
journal. A store that lost its key makes a new one, and the ids keyed before are no longer
recognised: a resubmission of an interaction received before then creates a new one (the
runtime says so, loudly, at its start).

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
from typing import Any, NamedTuple, Protocol

import anyio
import msgspec

from aiguillage.engine.instants import Instant

from .journal import JournalError, JournalUnavailable
from .sqlite_journal import OneThread, transaction, unavailable

__all__ = [
    "KEYED",
    "SALT_BYTES",
    "PersonalStore",
    "SQLitePersonalStore",
    "Sealed",
    "digest",
    "key_id",
    "keyed_id",
    "opened",
    "seal",
    "sealed",
]

SALT_BYTES = 16
KEY_BYTES = 32
KEYED = "keyed:"
"""How a keyed external id starts: ``keyed:<key id>:<HMAC>``."""

_CANONICAL = msgspec.json.Encoder(order="sorted")
_DATA: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])


class Sealed(NamedTuple):
    """One piece of personal data as a store keeps it."""

    interaction_id: int
    digest: str
    """The digest the journal holds of it: ``digest(salt, data)``."""
    salt: bytes
    data: bytes
    """The canonical JSON of the piece."""
    stored_at: Instant


def seal(data: dict[str, Any]) -> tuple[str, bytes, bytes]:
    """Return (digest, salt, canonical JSON) of personal data, with a fresh random salt.

    The journal keeps the digest; the store keeps the salt and the canonical JSON together,
    so sealing the same data twice gives two unrelated digests.
    """
    salt = secrets.token_bytes(SALT_BYTES)
    canonical = _CANONICAL.encode(data)
    return digest(salt, canonical), salt, canonical


def sealed(interaction_id: int, data: dict[str, Any], stored_at: Instant) -> Sealed:
    """Return a piece of personal data sealed for an interaction (its digest is ``.digest``)."""
    piece_digest, salt, canonical = seal(data)
    return Sealed(interaction_id, piece_digest, salt, canonical, stored_at)


def digest(salt: bytes, canonical: bytes) -> str:
    """Return the hex HMAC-SHA256 of canonical personal data, keyed by its salt."""
    return hmac.new(salt, canonical, hashlib.sha256).hexdigest()


def opened(pieces: Sequence[Sealed], journaled: Sequence[str]) -> list[dict[str, Any]]:
    """Return the data of the pieces the journal holds, in the order of ``journaled``.

    A piece is shown only when its digest is one the journal holds for the interaction and
    its salt and data give that digest again; anything else at that id is left unread.
    """
    by_digest = {piece.digest: piece for piece in pieces}
    shown = []
    for wanted in journaled:
        piece = by_digest.get(wanted)
        if piece is not None and hmac.compare_digest(digest(piece.salt, piece.data), wanted):
            shown.append(_DATA.decode(piece.data))
    return shown


def key_id(key: bytes) -> str:
    """Return the short public name of an external-id key (8 hex digits)."""
    return hmac.new(key, b"aiguillage external-id key", hashlib.sha256).hexdigest()[:8]


def keyed_id(key: bytes, external_id: str) -> str:
    """Return how the journal holds an external id: ``keyed:<key id>:<HMAC-SHA256, 128 bits>``.

    The same id under the same key always gives the same value, so resubmissions are still
    recognised; without the key, the value confirms no guess.
    """
    mac = hmac.new(key, external_id.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{KEYED}{key_id(key)}:{mac}"


class PersonalStore(Protocol):
    """Sealed personal data by interaction id, erasable; every method may raise
    ``JournalUnavailable``."""

    description: str

    async def open(self) -> None: ...

    async def external_id_key(self) -> bytes:
        """Return the deployment's key for external ids, made (and kept) at the first call."""
        ...

    async def put_many(self, rows: Sequence[Sealed]) -> None:
        """Store pieces, durable on return."""
        ...

    async def get(self, interaction_id: int) -> list[Sealed]:
        """Return every piece stored under an interaction's id, unchecked (see ``opened``)."""
        ...

    async def erase(self, interaction_id: int) -> bool:
        """Erase every piece stored under an interaction's id, for good; False if none."""
        ...

    async def purge(self, before: Instant) -> int:
        """Erase every piece stored before ``before`` (the retention period); how many."""
        ...

    async def stored_since(self, since: Instant) -> list[tuple[int, str]]:
        """Return (interaction id, digest) of the pieces stored at or after ``since``."""
        ...

    async def discard(self, pieces: Sequence[tuple[int, str]]) -> int:
        """Erase these pieces (interaction id, digest) for good; how many there were."""
        ...

    async def close(self) -> None: ...


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

    async def discard(self, pieces: Sequence[tuple[int, str]]) -> int:
        if not pieces:
            return 0
        query = "DELETE FROM sealed WHERE interaction_id = ? AND digest = ?"
        return await self._thread.run(partial(self._delete, query, list(pieces)))

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

    def _key(self) -> bytes:
        with unavailable(self.description, "reading the external-id key"):
            connection = self._open_connection()
            with transaction(connection):
                connection.execute(
                    "INSERT OR IGNORE INTO secrets VALUES ('external_id_key', ?)",
                    (secrets.token_bytes(KEY_BYTES),),
                )
                (key,) = connection.execute(
                    "SELECT value FROM secrets WHERE name = 'external_id_key'"
                ).fetchone()
            return bytes(key)

    def _put_many(self, rows: list[Sealed]) -> None:
        with unavailable(self.description, "storing personal data"):
            connection = self._open_connection()
            with transaction(connection):
                connection.executemany("INSERT OR REPLACE INTO sealed VALUES (?, ?, ?, ?, ?)", rows)

    def _all(self, query: str, parameters: tuple[Any, ...]) -> list[Any]:
        with unavailable(self.description, "reading personal data"):
            return self._open_connection().execute(query, parameters).fetchall()

    def _delete(self, query: str, parameters: list[tuple[Any, ...]]) -> int:
        with unavailable(self.description, "erasing personal data"):
            connection = self._open_connection()
            with transaction(connection):
                erased: int = connection.executemany(query, parameters).rowcount
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
