"""The embedded journal: one SQLite file, one writer, durable at each commit.

Standard-library ``sqlite3`` in WAL mode with ``synchronous=FULL``: a batch of events is one
``BEGIN IMMEDIATE`` … ``COMMIT``, which SQLite makes durable with one fsync of the WAL (the
group commit), while readers (a verification, a backup) go on reading beside the writer. One
daemon writes a journal: an exclusive ``flock`` on ``<file>.lock`` (holding the writer's PID)
refuses a second one. The connection serves one worker thread at a time (an anyio
``CapacityLimiter(1)``), so the event loop never waits on the disk.

Tables::

    meta          key → value; ``journal_format`` is the layout of this file (2; a file of
                  format 1, which has no seals yet, is upgraded when a writer opens it)
    events        one row per record: seq (1, 2, 3… gapless), at, type (the event's tag),
                  interaction_id (indexed, to read an interaction's history), format (of the
                  body: 2, the envelope of the event and its actor; 1 in records written before
                  actors were kept, the bare event), body (msgspec JSON), hash (chained:
                  ``chain_hash``)
    snapshots     the last two engine images: seq (the record they follow), format (of the
                  row: 1), image (the engine's bytes, opaque here), hash (of record seq, so a
                  snapshot that no longer matches its journal is passed over), taken_at
    snapshot_seals  one row per snapshot ever kept, in chain order (id): after_seq (the last
                  record when it was kept), body (``SnapshotSeal``: its seq, the hash of that
                  record, the image's SHA-256) and hash (chained, ``seal_hash``): the link of
                  the chain that vouches for the image (``snapshot_seals``)
    interactions  the API's view of each interaction (body, opaque) with its source,
                  external_id and, in column ``received_at``, when the daemon accepted it
                  (the idempotency window counts from there), kept after it leaves the
                  engine's live state
    cursors       name → seq: how far each consumer (an adapter) has dealt with the events
    channel_states  name → state: a channel's own durable position (an IMAP UID with its
                  UIDVALIDITY, a page token), opaque bytes of at most 64 KiB

Tables added since format 2 (``channel_states``) are created when a writer opens a file that
lacks them: a version that does not know them leaves them alone, so they change no format.

Back up with SQLite's online backup, safe while the daemon runs thanks to WAL::

    sqlite3 journal.sqlite ".backup backup.sqlite"      # or backup() below

Restore: stop the daemon, copy the backup over the journal file, remove ``journal.sqlite-wal``
and ``journal.sqlite-shm`` if present, start the daemon. ``verify_file`` checks a journal or a
backup without the writer's lock, so ``aiguillage replay --verify`` runs beside the daemon; it
checks the chain (records and seals) and each snapshot stored against its seal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread

from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.journal import (
    GENESIS,
    RECORD_FORMAT,
    ChainBreak,
    ChainWalker,
    InteractionView,
    Journal,
    JournalError,
    JournalFormatError,
    JournalLocked,
    JournalUnavailable,
    Record,
    Recovery,
    Verification,
    actors_of,
    chain_hash,
    check_channel_state,
    columns,
    encode_record,
    read_record,
)
from aiguillage.adapters.stores.snapshot_seals import (
    UNREADABLE_IMAGE,
    SealLink,
    SnapshotSeal,
    encode_seal,
    pass_over,
    seal_hash,
    seals_by_snapshot,
    sha256,
    snapshot_fault,
)
from aiguillage.engine.events import Event
from aiguillage.engine.instants import Instant

__all__ = [
    "JOURNAL_FORMAT",
    "VERIFY_CHUNK",
    "OneThread",
    "SQLiteJournal",
    "backup",
    "read_file",
    "transaction",
    "unavailable",
    "verify_file",
]

JOURNAL_FORMAT = 2
"""The layout of the file: the tables above."""

_READS = ("1", str(JOURNAL_FORMAT))
"""The layouts this version reads: 1 is 2 without seals (its snapshots are passed over)."""

SNAPSHOT_FORMAT = 1
"""The layout of a snapshot row; the image inside has the engine's own format."""

VERIFY_CHUNK = 10_000
"""Records read at a time by a verification: its memory does not grow with the journal."""

_T = TypeVar("_T")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,
    type TEXT NOT NULL, interaction_id INTEGER, format INTEGER NOT NULL, body BLOB NOT NULL,
    hash TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_by_interaction ON events (interaction_id)",
    """CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, format INTEGER NOT NULL,
    image BLOB NOT NULL, hash TEXT NOT NULL, taken_at INTEGER)""",
    """CREATE TABLE IF NOT EXISTS interactions (id INTEGER PRIMARY KEY, source TEXT,
    external_id TEXT, received_at INTEGER, body BLOB)""",
    """CREATE INDEX IF NOT EXISTS interactions_by_key
    ON interactions (source, external_id, received_at)""",
    "CREATE INDEX IF NOT EXISTS interactions_by_arrival ON interactions (received_at)",
    "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS channel_states (name TEXT PRIMARY KEY, state BLOB NOT NULL)",
    """CREATE TABLE IF NOT EXISTS snapshot_seals (id INTEGER PRIMARY KEY,
    after_seq INTEGER NOT NULL, body BLOB NOT NULL, hash TEXT NOT NULL)""",
)
_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
_UPSERT_VIEW = """INSERT INTO interactions VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE
    SET source = excluded.source, external_id = excluded.external_id,
    received_at = excluded.received_at, body = excluded.body"""
# CAST: a body rewritten in SQL (replace() returns TEXT) still reads as bytes, and fails its hash.
_RECORDS = "SELECT seq, format, CAST(body AS BLOB), hash FROM events"
_CHUNK = """SELECT seq, at, type, interaction_id, format, CAST(body AS BLOB), hash FROM events
    WHERE seq > ? ORDER BY seq LIMIT ?"""
_SEALS = "SELECT id, after_seq, CAST(body AS BLOB), hash FROM snapshot_seals"
_SNAPSHOTS = "SELECT seq, hash, CAST(image AS BLOB) FROM snapshots ORDER BY seq"


class OneThread:
    """Run blocking calls on one connection, one at a time, off the event loop.

    The limiter is made on first use, inside the running event loop.
    """

    def __init__(self) -> None:
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, call: Callable[[], _T]) -> _T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)


@contextlib.contextmanager
def unavailable(where: str, doing: str) -> Iterator[None]:
    """Translate a store's failure (SQLite, file system) into ``JournalUnavailable``."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise JournalUnavailable(f"{where}: {doing} failed: {exc}") from exc


class SQLiteJournal:
    """The ``Journal`` in one SQLite file; see the module docstring for its tables.

    No epochs and no lease: the ``flock`` is held as long as the process lives, and the kernel
    releases it when the process dies, so a second writer is impossible on one machine.
    """

    epoch = 0
    lease_s: float | None = None

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path).absolute()
        self.description = f"sqlite:///{self.path}"
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._busy_timeout_s = busy_timeout_s
        self._thread = OneThread()
        self._connection: sqlite3.Connection | None = None
        self._lock: int | None = None
        self._last_seq = 0
        self._last_hash = GENESIS
        self._failure: str | None = None

    async def open(
        self,
        *,
        resume_after: int = 0,
        resume_hash: str | None = None,
        unreadable: frozenset[int] = frozenset(),
    ) -> Recovery:
        return await self._thread.run(partial(self._open, unreadable))

    async def follow(
        self, after: int, after_hash: str, unreadable: frozenset[int] = frozenset()
    ) -> Recovery:
        raise JournalError(
            f"{self.description}: a SQLite journal has one daemon and no standby; follow a "
            "Redis journal (docs/redis.md)"
        )

    async def renew(self) -> None:
        return None

    async def leader(self) -> str | None:
        return None

    async def append(
        self,
        events: Sequence[Event],
        views: Sequence[InteractionView],
        by: Sequence[Actor | None] = (),
    ) -> int:
        actors = actors_of(events, by)
        bodies = [
            (event, encode_record(event, actor))
            for event, actor in zip(events, actors, strict=True)
        ]
        return await self._thread.run(partial(self._append, bodies, list(views)))

    async def save_snapshot(self, seq: int, image: bytes) -> None:
        await self._thread.run(partial(self._save_snapshot, seq, image))

    async def records_after(self, seq: int, limit: int) -> list[Record]:
        query = f"{_RECORDS} WHERE seq > ? ORDER BY seq LIMIT ?"
        return await self._thread.run(partial(self._records, query, (seq, limit)))

    async def history(self, interaction_id: int) -> list[Record]:
        """Return every record about one interaction, in order."""
        query = f"{_RECORDS} WHERE interaction_id = ? ORDER BY seq"
        return await self._thread.run(partial(self._records, query, (interaction_id,)))

    async def view(self, interaction_id: int) -> bytes | None:
        query = "SELECT body FROM interactions WHERE id = ?"
        row = await self._thread.run(partial(self._one, query, (interaction_id,)))
        return None if row is None else bytes(row[0])

    async def find_external(self, source: str, external_id: str, since: Instant) -> int | None:
        query = """SELECT id FROM interactions WHERE source = ? AND external_id = ?
            AND received_at >= ? ORDER BY received_at DESC, id DESC LIMIT 1"""
        row = await self._thread.run(partial(self._one, query, (source, external_id, since)))
        return None if row is None else int(row[0])

    async def recent_keys(self, since: Instant) -> list[tuple[str, str, int, Instant]]:
        query = """SELECT source, external_id, id, received_at FROM interactions
            WHERE received_at >= ? ORDER BY received_at, id"""
        rows = await self._thread.run(partial(self._all, query, (since,)))
        return [
            (str(source), str(external_id), int(id_), int(received))
            for source, external_id, id_, received in rows
        ]

    async def verify(self) -> Verification:
        # One read per call: appends interleave with a long verification instead of waiting.
        return await _drive(_verifying(VERIFY_CHUNK), self._read_later)

    async def _read_later(self, query: str, parameters: tuple[Any, ...]) -> list[Any]:
        return await self._thread.run(partial(self._all, query, parameters))

    async def cursor(self, name: str) -> int:
        row = await self._thread.run(
            partial(self._one, "SELECT seq FROM cursors WHERE name = ?", (name,))
        )
        return 0 if row is None else int(row[0])

    async def save_cursor(self, name: str, seq: int) -> None:
        await self._thread.run(partial(self._save_cursor, name, seq))

    async def channel_state(self, name: str) -> bytes | None:
        query = "SELECT CAST(state AS BLOB) FROM channel_states WHERE name = ?"
        row = await self._thread.run(partial(self._one, query, (name,)))
        return None if row is None else bytes(row[0])

    async def save_channel_state(self, name: str, state: bytes) -> None:
        check_channel_state(self.description, name, state)
        await self._thread.run(partial(self._save_channel_state, name, bytes(state)))

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._thread.run(self._close)

    # What runs on the worker thread.

    def _open(self, unreadable: frozenset[int]) -> Recovery:
        if self._connection is not None:
            raise JournalError(f"{self.description} is already open")
        with unavailable(self.description, "creating its directory"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _take_lock(self.lock_path)
        try:
            with unavailable(self.description, "opening"):
                self._connection = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout_s,
                    isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE
                    check_same_thread=False,  # one worker thread at a time, not always the same
                )
                self._configure(self._connection)
                _check_format(self._connection, self.description, create=True)
                with transaction(self._connection):
                    for statement in _SCHEMA:
                        self._connection.execute(statement)
                return self._recover(self._connection, unreadable)
        except BaseException:
            self._close()
            raise

    def _configure(self, connection: sqlite3.Connection) -> None:
        (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise JournalUnavailable(
                f"{self.description}: SQLite cannot use WAL here (journal mode {mode}); "
                "put the journal on a local file system"
            )
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute(f"PRAGMA busy_timeout = {round(self._busy_timeout_s * 1000)}")
        connection.execute("PRAGMA foreign_keys = ON")

    def _recover(self, connection: sqlite3.Connection, unreadable: frozenset[int]) -> Recovery:
        image: bytes | None = None
        image_seq, previous = 0, GENESIS
        notes: list[str] = []
        links = _links(connection.execute(f"{_SEALS} ORDER BY id").fetchall())
        snapshots = connection.execute("SELECT seq, format, hash FROM snapshots ORDER BY seq DESC")
        for seq, row_format, snapshot_hash in snapshots.fetchall():
            if seq in unreadable:
                pass_over(self.description, seq, UNREADABLE_IMAGE, notes, changed=False)
                continue
            if row_format != SNAPSHOT_FORMAT:
                raise JournalFormatError(
                    f"{self.description}: snapshot {seq} has format {row_format}, unknown to "
                    f"this version (reads {SNAPSHOT_FORMAT}); run the version that wrote it"
                )
            event = connection.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
            if event is None or event[0] != snapshot_hash:
                pass_over(
                    self.description, seq, f"it does not match event {seq}", notes, changed=False
                )
                continue
            (stored_image,) = connection.execute(
                "SELECT image FROM snapshots WHERE seq = ?", (seq,)
            ).fetchone()
            # Only seals the walk from this snapshot passes may vouch for it.
            seals = seals_by_snapshot(link for link in links if link.after >= seq)
            fault = snapshot_fault(seq, snapshot_hash, sha256(stored_image), seals)
            if fault is not None:
                pass_over(self.description, seq, fault, notes, changed=seq in seals)
                continue
            image, image_seq, previous = bytes(stored_image), seq, snapshot_hash
            break
        walker = ChainWalker(image_seq, previous)
        walker.feed(link for link in links if link.after >= image_seq)
        records = []
        try:
            rows = connection.execute(f"{_RECORDS} WHERE seq > ? ORDER BY seq", (image_seq,))
            for seq, body_format, body, stored_hash in rows:
                records.append(walker.check(seq, body_format, body, stored_hash))
                walker.accept(seq, stored_hash)
            walker.finish()
        except ChainBreak as broken:
            raise broken.error(self.description) from None
        self._last_seq, self._last_hash = walker.seq, walker.previous
        return Recovery(image, image_seq, records, walker.seq, walker.record_hash, notes)

    def _append(self, bodies: list[tuple[Event, bytes]], views: list[InteractionView]) -> int:
        connection = self._writer()
        seq, previous = self._last_seq, self._last_hash
        rows = []
        for event, body in bodies:
            seq += 1
            previous = chain_hash(previous, seq, body)
            rows.append((seq, *columns(event), RECORD_FORMAT, body, previous))
        if not rows and not views:
            return seq
        try:
            with transaction(connection):
                connection.executemany(_INSERT_EVENT, rows)
                connection.executemany(
                    _UPSERT_VIEW,
                    [(v.id, v.source, v.external_id, v.accepted_at, v.body) for v in views],
                )
        except sqlite3.Error as exc:
            # A failed COMMIT may or may not have reached the disk: only a reopen knows.
            self._failure = f"appending events {self._last_seq + 1} to {seq} failed: {exc}"
            raise JournalUnavailable(
                f"{self.description}: {self._failure}; the batch is not acknowledged: close "
                "the journal and open it again once the cause is gone"
            ) from exc
        self._last_seq, self._last_hash = seq, previous
        return seq

    def _save_snapshot(self, seq: int, image: bytes) -> None:
        connection = self._writer()
        if not 1 <= seq <= self._last_seq:
            raise ValueError(
                f"no record {seq} to snapshot after: the journal holds 1 to {self._last_seq}"
            )
        doing = f"saving the snapshot after event {seq}"
        with unavailable(self.description, doing):
            (event_hash,) = connection.execute(
                "SELECT hash FROM events WHERE seq = ?", (seq,)
            ).fetchone()
        body = encode_seal(SnapshotSeal(seq, event_hash, sha256(image)))
        link_hash = seal_hash(self._last_hash, body)
        with unavailable(self.description, doing):
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute(
                    "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?)",
                    (seq, SNAPSHOT_FORMAT, image, event_hash, time.time_ns() // 1000),
                )
                connection.execute(
                    "INSERT INTO snapshot_seals (after_seq, body, hash) VALUES (?, ?, ?)",
                    (self._last_seq, body, link_hash),
                )
                connection.execute(
                    """DELETE FROM snapshots WHERE seq NOT IN
                        (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2)"""
                )
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                raise
        try:
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            # The seal moves the chain's end, and a failed COMMIT may or may not have reached
            # the disk: as after a failed append, only a reopen knows where the chain ends.
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            self._failure = f"{doing} failed: {exc}"
            raise JournalUnavailable(
                f"{self.description}: {self._failure}; close the journal and open it again"
            ) from exc
        self._last_hash = link_hash

    def _save_cursor(self, name: str, seq: int) -> None:
        connection = self._writer()
        with unavailable(self.description, f"saving the cursor {name!r}"), transaction(connection):
            connection.execute(
                "INSERT INTO cursors VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = ?",
                (name, seq, seq),
            )

    def _save_channel_state(self, name: str, state: bytes) -> None:
        connection = self._writer()
        doing = f"saving the state of channel {name!r}"
        with unavailable(self.description, doing), transaction(connection):
            connection.execute(
                """INSERT INTO channel_states VALUES (?, ?)
                ON CONFLICT (name) DO UPDATE SET state = excluded.state""",
                (name, state),
            )

    def _records(self, query: str, parameters: tuple[int, ...]) -> list[Record]:
        try:
            return [read_record(*row) for row in self._all(query, parameters)]
        except ChainBreak as broken:
            raise broken.error(self.description) from None

    def _one(self, query: str, parameters: tuple[Any, ...]) -> Any:
        rows = self._all(query, parameters)
        return rows[0] if rows else None

    def _all(self, query: str, parameters: tuple[Any, ...]) -> list[Any]:
        with unavailable(self.description, "reading"):
            return self._reader().execute(query, parameters).fetchall()

    def _reader(self) -> sqlite3.Connection:
        if self._connection is None:
            raise JournalUnavailable(f"{self.description} is not open")
        return self._connection

    def _writer(self) -> sqlite3.Connection:
        if self._failure is not None:
            raise JournalUnavailable(
                f"{self.description}: {self._failure}; close the journal and open it again"
            )
        return self._reader()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(lock, 0)
            os.close(lock)


def verify_file(path: Path, *, chunk_size: int = VERIFY_CHUNK) -> Verification:
    """Walk the chain of a journal file read-only, without the writer's lock.

    It runs beside the daemon (WAL lets a reader in while the writer commits) and on backups.
    """
    where = f"sqlite://{Path(path).absolute()}"
    connection = _read_only(path)
    try:
        with unavailable(where, "verifying"):
            sealed = _check_format(connection, where, create=False) != "1"
            steps = _verifying(chunk_size, sealed=sealed)
            query = next(steps)
            try:
                while True:
                    query = steps.send(connection.execute(*query).fetchall())
            except StopIteration as done:
                result: Verification = done.value
                return result
    finally:
        connection.close()


def read_file(path: Path, *, page: int = VERIFY_CHUNK) -> Iterator[Record]:
    """Yield every record of a journal file in order, read-only, without the writer's lock.

    Like ``verify_file`` it runs beside the daemon; it reads the records as stored, without
    walking the chain (``replay --verify`` does). ``JournalCorrupt`` for a record it cannot read.
    """
    where = f"sqlite://{Path(path).absolute()}"
    connection = _read_only(path)
    try:
        with unavailable(where, "reading"):
            _check_format(connection, where, create=False)
        after = 0
        while True:
            with unavailable(where, "reading"):
                rows = connection.execute(
                    "SELECT seq, format, CAST(body AS BLOB), hash FROM events WHERE seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (after, page),
                ).fetchall()
            try:
                yield from (read_record(*row) for row in rows)
            except ChainBreak as broken:
                raise broken.error(where) from None
            if len(rows) < page:
                return
            after = rows[-1][0]
    finally:
        connection.close()


def backup(path: Path, target: Path) -> None:
    """Copy a journal to ``target`` with SQLite's online backup, reading the source only."""
    source = _read_only(path)
    try:
        with unavailable(f"sqlite://{Path(target).absolute()}", "backing up"):
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
    finally:
        source.close()


_Reads = Generator[tuple[str, tuple[Any, ...]], list[Any], Verification]
"""A verification's steps: each yields a query and its parameters, and is sent their rows."""


def _verifying(chunk_size: int, *, sealed: bool = True) -> _Reads:
    """Walk the chain a chunk of records at a time, then check each snapshot against its seal.

    The snapshots are read first: the seal of each was written with it, so the walk, which
    reads on to the journal's end, passes it even while the daemon appends meanwhile. Each
    chunk's seals are read after its records, which were written after those seals.
    """
    stored = yield (_SNAPSHOTS, ())
    digests = [(seq, stored_hash, sha256(image)) for seq, stored_hash, image in stored]
    walker = ChainWalker()
    walker.watch(seq for seq, _, _ in digests)
    last_link = 0
    while True:
        rows = yield (_CHUNK, (walker.seq, chunk_size))
        if sealed:
            up_to = rows[-1][0] if rows else walker.seq
            found = yield (
                f"{_SEALS} WHERE id > ? AND after_seq <= ? ORDER BY id",
                (last_link, up_to),
            )
            last_link = found[-1][0] if found else last_link
            walker.feed(_links(found))
        try:
            _walk(walker, rows)
            if len(rows) < chunk_size:
                walker.finish()
                break
        except ChainBreak as broken:
            return walker.verification(broken)
    findings = [walker.snapshot_finding(*digest) for digest in digests]
    return walker.verification().with_snapshots(findings)


async def _drive(
    steps: _Reads, read: Callable[[str, tuple[Any, ...]], Awaitable[list[Any]]]
) -> Verification:
    """Run a verification's steps, each read awaited (off the event loop)."""
    query = next(steps)
    try:
        while True:
            query = steps.send(await read(*query))
    except StopIteration as done:
        result: Verification = done.value
        return result


def _links(rows: list[Any]) -> list[SealLink]:
    """Return the seals of rows ``(id, after_seq, body, hash)``."""
    return [SealLink(after, bytes(body), stored_hash) for _, after, body, stored_hash in rows]


def _walk(walker: ChainWalker, rows: list[Any]) -> None:
    """Check a chunk of records and the seals among them; ``ChainBreak`` at the first fault."""
    for seq, at, type_, interaction_id, body_format, body, stored_hash in rows:
        event = walker.check(seq, body_format, body, stored_hash).event
        if (at, type_, interaction_id) != columns(event):
            raise ChainBreak(
                seq,
                f"event {seq}: its columns (at, type, interaction_id) do not match its body "
                "(changed after it was written)",
            )
        walker.accept(seq, stored_hash)


def _check_format(connection: sqlite3.Connection, where: str, *, create: bool) -> str:
    """Refuse a file whose layout this version cannot read; give a new file the current one.

    A writer (``create``) upgrades a file of format 1 to the current one, whose seals a version
    reading format 1 only would take for a broken chain. Returns the format of the file.
    """
    if create:
        with transaction(connection):
            connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            connection.execute(
                "INSERT OR IGNORE INTO meta VALUES ('journal_format', ?)", (str(JOURNAL_FORMAT),)
            )
    tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    if ("meta",) not in tables or (("events",) not in tables and not create):
        raise JournalError(f"{where} is not an Aiguillage journal (it has no meta or events table)")
    row = connection.execute("SELECT value FROM meta WHERE key = 'journal_format'").fetchone()
    found = None if row is None else row[0]
    if found not in _READS:
        raise JournalFormatError(
            f"{where}: journal format {found} is unknown to this version (reads up to "
            f"{JOURNAL_FORMAT}); run the version of Aiguillage that wrote it (or a newer one)"
        )
    if create and found != str(JOURNAL_FORMAT):
        with transaction(connection):
            connection.execute(
                "UPDATE meta SET value = ? WHERE key = 'journal_format'", (str(JOURNAL_FORMAT),)
            )
        found = str(JOURNAL_FORMAT)
    return str(found)


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any failure inside."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        raise


def _take_lock(lock_path: Path) -> int:
    """Hold the writer's lock on ``lock_path`` and write our PID in it; refuse if taken."""
    with unavailable(f"{lock_path}", "opening the lock file"):
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(lock, 0)
        os.write(lock, f"{os.getpid()}\n".encode("ascii"))
    except BlockingIOError:
        holder = os.read(lock, 64).decode("ascii", "replace").strip() or "unknown"
        os.close(lock)
        raise JournalLocked(
            f"{lock_path} is held by another Aiguillage daemon (PID {holder}); one journal has "
            "one writer: stop that daemon, or give this one another journal"
        ) from None
    except OSError as exc:
        os.close(lock)
        raise JournalUnavailable(f"{lock_path}: taking the writer's lock failed: {exc}") from exc
    return lock


def _read_only(path: Path) -> sqlite3.Connection:
    path = Path(path).absolute()
    if not path.is_file():
        raise JournalError(f"{path} does not exist or is not a file")
    with unavailable(f"sqlite://{path}", "opening read-only"):
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)


if TYPE_CHECKING:

    def _is_a_journal(journal: SQLiteJournal) -> Journal:
        return journal
