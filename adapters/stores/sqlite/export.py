"""An embedded journal as the reversibility export reads it (``stores.export``): read-only.

The journal file is read in one read transaction: what a running daemon appends meanwhile is not
exported, and the records, seals and access log are of one instant. The personal-data store
beside it is read after (none: no pieces).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from aiguillage.adapters.stores.export import SEAL, Chained, ExportSource
from aiguillage.adapters.stores.journal import GENESIS, JournalError
from aiguillage.adapters.stores.personal import Sealed
from aiguillage.adapters.stores.sqlite.journal import unavailable

__all__ = ["sqlite_source"]

_PAGE = 5_000
_PIECES_PAGE = 500
"""Pieces read at a time: attachments make pieces large."""


@contextlib.asynccontextmanager
async def sqlite_source(journal_path: Path, personal_path: Path) -> AsyncIterator[ExportSource]:
    """Open a journal file (and its personal-data store, if there is one) for an export."""
    journal = _read_only(journal_path)
    try:
        with unavailable(f"sqlite://{journal_path}", "exporting"):
            journal.execute("BEGIN")
        yield _SQLiteSource(journal, journal_path, personal_path)
    finally:
        journal.close()


class _SQLiteSource:
    def __init__(self, journal: sqlite3.Connection, path: Path, personal_path: Path) -> None:
        self.description = f"sqlite://{Path(path).absolute()}"
        self._journal = journal
        self._personal_path = personal_path
        self._last = 0
        """The last record exported."""

    async def chain(self) -> AsyncIterator[Sequence[Chained]]:
        while True:
            rows = self._all(
                self._journal,
                "SELECT seq, format, CAST(body AS BLOB), hash FROM events WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (self._last, _PAGE),
            )
            yield [Chained(int(s), int(f), bytes(b), str(h)) for s, f, b, h in rows]
            if len(rows) < _PAGE:
                break
            self._last = int(rows[-1][0])
        seals = self._all(
            self._journal,
            "SELECT after_seq, CAST(body AS BLOB), hash FROM snapshot_seals ORDER BY id",
            (),
        )
        yield [Chained(int(after), SEAL, bytes(body), str(h)) for after, body, h in seals]

    async def access_entries(self) -> AsyncIterator[Sequence[Chained]]:
        if "access_log" not in self._tables():
            return
        after = -1
        while True:
            rows = self._all(
                self._journal,
                "SELECT seq, CAST(body AS BLOB), hash FROM access_log WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after, _PAGE),
            )
            yield [Chained(int(seq), 1, bytes(body), str(h)) for seq, body, h in rows]
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])

    async def pieces(self) -> AsyncIterator[Sequence[Sealed]]:
        if not self._personal_path.exists():
            return
        personal = _read_only(self._personal_path)
        try:
            after: tuple[int, int, int] = (-(2**62), -(2**62), -1)
            while True:  # a page at a time: a year of attachments does not fit in memory
                rows = self._all(
                    personal,
                    "SELECT interaction_id, digest, salt, data, stored_at, rowid FROM sealed "
                    "WHERE (interaction_id, stored_at, rowid) > (?, ?, ?) "
                    "ORDER BY interaction_id, stored_at, rowid LIMIT ?",
                    (*after, _PIECES_PAGE),
                )
                yield [
                    Sealed(int(i), str(d), bytes(s), bytes(data), int(at))
                    for i, d, s, data, at, _ in rows
                ]
                if len(rows) < _PIECES_PAGE:
                    return
                last = rows[-1]
                after = (int(last[0]), int(last[4]), int(last[5]))
        finally:
            personal.close()

    async def ends(self) -> tuple[str, tuple[int, str]]:
        seal = self._all(
            self._journal,
            "SELECT hash FROM snapshot_seals WHERE after_seq = ? ORDER BY id DESC LIMIT 1",
            (self._last_seq(),),
        )
        if seal:
            last_hash = str(seal[0][0])
        else:
            last = self._all(self._journal, "SELECT hash FROM events ORDER BY seq DESC LIMIT 1", ())
            last_hash = GENESIS if not last else str(last[0][0])
        boundary: dict[str, str] = {}
        if "meta" in self._tables():
            boundary = dict(
                self._all(
                    self._journal,
                    "SELECT key, value FROM meta WHERE key IN "
                    "('access_trimmed_seq', 'access_trimmed_hash')",
                    (),
                )
            )
        trimmed = (
            int(boundary.get("access_trimmed_seq", 0)),
            str(boundary.get("access_trimmed_hash", GENESIS)),
        )
        return last_hash, trimmed

    def _last_seq(self) -> int:
        (last,) = self._all(self._journal, "SELECT coalesce(max(seq), 0) FROM events", ())[0]
        return int(last)

    def _tables(self) -> set[str]:
        return {
            str(row[0]) for row in self._all(self._journal, "SELECT name FROM sqlite_master", ())
        }

    def _all(
        self, connection: sqlite3.Connection, query: str, parameters: tuple[object, ...]
    ) -> list[Any]:
        with unavailable(self.description, "exporting"):
            return connection.execute(query, parameters).fetchall()


def _read_only(path: Path) -> sqlite3.Connection:
    path = Path(path).absolute()
    if not path.is_file():
        raise JournalError(f"{path} does not exist or is not a file")
    with unavailable(f"sqlite://{path}", "opening read-only"):
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)
