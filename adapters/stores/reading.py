"""Reading a whole journal, in order, without being its writer: for reports.

``read_pages(store, take)`` hands each page of records, in journal order, to ``take``: from
a SQLite file read-only (beside a running daemon), or from a Redis domain without its lease,
the records trimmed from the stream read from the archive files first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import islice

import anyio

from aiguillage.adapters.stores.journal import Record
from aiguillage.adapters.stores.urls import RedisStore, SQLiteStore

__all__ = ["PAGE", "read_pages"]

PAGE = 10_000
"""Records per page."""


def read_pages(
    store: SQLiteStore | RedisStore, take: Callable[[Sequence[Record]], None], page: int = PAGE
) -> None:
    """Hand every record of the store's journal to ``take``, a page at a time, in order.

    ``JournalError`` (with what to do) when the journal cannot be read: no file there, no
    journal in that Redis domain, archived records missing.
    """
    if isinstance(store, SQLiteStore):
        from aiguillage.adapters.stores.sqlite.journal import read_file

        records = read_file(store.path, page=page)
        while chunk := list(islice(records, page)):
            take(chunk)
        return

    from aiguillage.adapters.stores.redis.journal import read_url

    async def read() -> None:
        async for chunk in read_url(store.url, store.domain, store.archive_dir, page=page):
            take(chunk)

    anyio.run(read)
