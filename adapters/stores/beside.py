"""The stores of a deployment as a command opens them, beside a running daemon or without one.

``beside(store)`` gives ``aiguillage retention``, ``subject`` and ``export-all`` what they work
on, whatever the store: its personal-data store and access log (the ``PersonalStore`` and
``AccessLog`` protocols, opened when first asked for), its journal's records a page at a time,
the interactions not closed yet, and what the reversibility export reads. So each command is one
code path for both stores:

- an embedded journal (``sqlite://``): the journal file read-only; the personal-data store and
  the access log written as the daemon writes them, SQLite's locks between the two;
- a Redis domain (``redis://``): the journal opened beside its leader, without the lease
  (``RedisJournal.attach``); the personal data and the access log written under the epoch found
  at the start, so a takeover meanwhile refuses them (``JournalFenced``: run it again); the
  personal-data store refuses to open (``JournalError``) while it holds records in the layout
  of an earlier version, whose leader reads them there.

``JournalError`` (with what to do) when there is no journal there.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from aiguillage.adapters.stores.access_log import AccessLog
from aiguillage.adapters.stores.export import ExportSource
from aiguillage.adapters.stores.journal import JournalError, Record
from aiguillage.adapters.stores.personal import PersonalStore
from aiguillage.adapters.stores.urls import RedisStore, SQLiteStore

if TYPE_CHECKING:
    from aiguillage.adapters.stores.redis.journal import RedisJournal

__all__ = ["Beside", "beside"]

PAGE = 5_000
"""Records read at a time."""


class _Status(msgspec.Struct):
    status: str


_STATUS = msgspec.json.Decoder(_Status)


class Beside:
    """A deployment's stores as a command sees them (see the module docstring)."""

    def __init__(self, store: SQLiteStore | RedisStore, journal: RedisJournal | None) -> None:
        self.store = store
        self.description = (
            journal.description if journal is not None else f"sqlite://{_path(store)}"
        )
        self._journal = journal
        self._personal: PersonalStore | None = None
        self._access: AccessLog | None = None

    async def personal(self) -> PersonalStore | None:
        """The personal-data store, open; ``None`` for a journal file with none beside it."""
        if self._personal is None:
            if self._journal is not None:
                from aiguillage.adapters.stores.redis.personal import RedisPersonalStore

                personal: PersonalStore = RedisPersonalStore(self._journal)
            else:
                from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore

                assert isinstance(self.store, SQLiteStore)
                if not self.store.personal_path.exists():
                    return None
                personal = SQLitePersonalStore(self.store.personal_path)
            await personal.open()
            self._personal = personal
        return self._personal

    async def access(self) -> AccessLog:
        """The access log, open."""
        if self._access is None:
            if self._journal is not None:
                from aiguillage.adapters.stores.redis.access_log import RedisAccessLog

                access: AccessLog = RedisAccessLog(self._journal)
            else:
                from aiguillage.adapters.stores.sqlite.access_log import SQLiteAccessLog

                access = SQLiteAccessLog(_path(self.store))
            await access.open()
            self._access = access
        return self._access

    async def records(self) -> AsyncIterator[Sequence[Record]]:
        """Every record of the journal, in order, a page at a time."""
        if self._journal is None:
            from aiguillage.adapters.stores.sqlite.journal import read_file

            found = read_file(_path(self.store), page=PAGE)
            while page := list(islice(found, PAGE)):
                yield page
            return
        after = 0
        while True:
            page = await self._journal.records_after(after, PAGE)
            if page:
                yield page
                after = page[-1].seq
            if len(page) < PAGE:
                return

    async def open_work(self) -> frozenset[int]:
        """The interactions not closed yet, by the view the journal keeps of each (its latest
        status): the retention keeps their pieces."""
        return frozenset(
            interaction_id
            for interaction_id, body in await self._views()
            if _STATUS.decode(body).status != "closed"
        )

    def export_source(self) -> AbstractAsyncContextManager[ExportSource]:
        """What the reversibility export reads: the journal and the access log as of one
        instant, the personal data as it is when read (``stores.export``)."""
        if self._journal is not None:
            from aiguillage.adapters.stores.redis.export import redis_source

            return redis_source(self._journal)
        from aiguillage.adapters.stores.sqlite.export import sqlite_source

        assert isinstance(self.store, SQLiteStore)
        return sqlite_source(self.store.path, self.store.personal_path)

    async def close(self) -> None:
        personal, self._personal = self._personal, None
        access, self._access = self._access, None
        try:
            if personal is not None:
                await personal.close()
        finally:
            if access is not None:
                await access.close()

    async def _views(self) -> list[tuple[int, bytes]]:
        if self._journal is None:
            path = _path(self.store)
            with contextlib.closing(
                sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
            ) as connection:
                rows = connection.execute("SELECT id, body FROM interactions").fetchall()
            return [(int(i), bytes(body)) for i, body in rows if body is not None]
        journal = self._journal
        views: list[tuple[int, bytes]] = []
        with journal.unavailable("reading the views"):
            found: Any
            async for field, found in journal.connection().hscan_iter(journal.keys.views):
                views.append((int(field), bytes(found)))
        return views


def _path(store: SQLiteStore | RedisStore) -> Path:
    """The journal file of an embedded store."""
    assert isinstance(store, SQLiteStore)
    return store.path


@contextlib.asynccontextmanager
async def beside(store: SQLiteStore | RedisStore) -> AsyncIterator[Beside]:
    """Open a deployment's stores for a command; closed (the lease never taken) on exit."""
    journal: RedisJournal | None = None
    if isinstance(store, RedisStore):
        from aiguillage.adapters.stores.redis.journal import RedisJournal

        journal = RedisJournal(store.url, domain=store.domain, archive_dir=store.archive_dir)
        await journal.attach()
    elif not store.path.exists():
        raise JournalError(f"{store.path}: no journal here; give --store")
    opened = Beside(store, journal)
    try:
        yield opened
    finally:
        try:
            await opened.close()
        finally:
            if journal is not None:
                await journal.close()
