"""The retention pass on real SQLite stores: each category's pieces past its period removed and
counted, the others kept, a dry run counting the same without removing, the access log trimmed
from its start and still verifying."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiguillage.adapters.config.retention import RetentionDays
from aiguillage.adapters.stores.access_log import AccessEntry
from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.personal import Sealed, sealed
from aiguillage.adapters.stores.retention import DAY, category_of, retention_pass
from aiguillage.adapters.stores.sqlite.access_log import SQLiteAccessLog
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore

pytestmark = pytest.mark.anyio

NOW = 1_796_112_000_000_000
DAYS = RetentionDays(messages=30, attachments=7, recordings=None, access_log=10)
ATTACHED = {"text": "ci-joint", "attachments": [{"name": "a.pdf", "size": 3, "data": "YWJj"}]}
READER = Actor("token", "12", "supervisor")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SQLitePersonalStore, SQLiteAccessLog]]:
    journal = SQLiteJournal(tmp_path / "journal.sqlite")
    await journal.open()
    personal = SQLitePersonalStore(tmp_path / "journal.personal.sqlite")
    await personal.open()
    access = SQLiteAccessLog(tmp_path / "journal.sqlite")
    await access.open()
    yield personal, access
    await access.close()
    await personal.close()
    await journal.close()


def aged(interaction_id: int, data: dict[str, object], days: float) -> Sealed:
    return sealed(interaction_id, data, NOW - int(days * DAY))


async def test_a_piece_with_attachment_bytes_is_an_attachment_and_one_without_a_message() -> None:
    assert category_of(aged(1, ATTACHED, 0)) == "attachments"
    listed_only = {"text": "x", "attachments": [{"name": "a.pdf", "size": 3}]}
    assert category_of(aged(1, listed_only, 0)) == "messages"
    assert category_of(aged(1, {"note": "rappeler"}, 0)) == "messages"


async def test_each_category_loses_what_is_past_its_period_and_keeps_the_rest(
    stores: tuple[SQLitePersonalStore, SQLiteAccessLog],
) -> None:
    personal, access = stores
    old_text = aged(1, {"text": "vieux"}, 31)
    old_file = aged(2, ATTACHED, 8)
    recent_text = aged(3, {"text": "récent"}, 8)
    recent_file = aged(4, ATTACHED, 6)
    await personal.put_many([old_text, old_file, recent_text, recent_file])
    await access.append([AccessEntry(NOW - 11 * DAY, READER, 1), AccessEntry(NOW - DAY, READER, 3)])

    would = await retention_pass(DAYS, NOW, personal, access, apply=False)
    assert [(r.category, r.removed) for r in would] == [
        ("messages", 1),
        ("attachments", 1),
        ("access_log", 1),
    ]
    assert [len(await personal.get(n)) for n in (1, 2, 3, 4)] == [1, 1, 1, 1]

    went = await retention_pass(DAYS, NOW, personal, access)
    assert went == would
    assert [r.before for r in went] == [NOW - 30 * DAY, NOW - 7 * DAY, NOW - 10 * DAY]
    assert [await personal.get(n) for n in (1, 2, 3, 4)] == [[], [], [recent_text], [recent_file]]
    recorded = [
        (r.entry.interaction_id, r.entry.kind, r.entry.route, r.entry.reason, r.entry.by.kind)
        for r in await access.records_after(0, 10)
    ]
    assert recorded == [
        (3, "read", "", "", "token"),
        (1, "erasure", "retention messages", "retention", "daemon"),
        (2, "erasure", "retention attachments", "retention", "daemon"),
    ]
    assert [r.interactions for r in went] == [(1,), (2,), ()]
    verification = await access.verify()
    assert verification.ok, verification.reason
    again = await retention_pass(DAYS, NOW, personal, access)
    assert [r.removed for r in again] == [0, 0, 0]
    assert len(await access.records_after(0, 10)) == 3  # nothing removed, nothing recorded


async def test_pieces_kept_at_one_instant_beyond_a_page_do_not_stop_the_pass(
    stores: tuple[SQLitePersonalStore, SQLiteAccessLog],
) -> None:
    personal, _ = stores
    kept = [aged(n, {"text": f"t{n}"}, 10) for n in range(450)]  # one batch's instant
    later_file = aged(1000, ATTACHED, 9)
    await personal.put_many([*kept, later_file])
    went = await retention_pass(DAYS, NOW, personal, None)
    assert [(r.category, r.removed) for r in went[:2]] == [("messages", 0), ("attachments", 1)]
    assert await personal.get(1000) == []
    assert len(await personal.stored_between(0, NOW, 1000)) == 450


async def test_a_piece_with_attachments_goes_at_the_earlier_of_the_two_periods(
    stores: tuple[SQLitePersonalStore, SQLiteAccessLog],
) -> None:
    personal, _ = stores
    longer = RetentionDays(messages=7, attachments=30, recordings=None, access_log=10)
    old_file, old_text = aged(1, ATTACHED, 8), aged(2, {"text": "vieux"}, 8)
    recent_file = aged(3, ATTACHED, 6)
    await personal.put_many([old_file, old_text, recent_file])
    went = await retention_pass(longer, NOW, personal, None)
    assert [(r.category, r.removed) for r in went[:2]] == [("messages", 1), ("attachments", 1)]
    assert [await personal.get(n) for n in (1, 2, 3)] == [[], [], [recent_file]]


async def test_the_pieces_of_work_not_closed_yet_are_kept_whatever_their_age(
    stores: tuple[SQLitePersonalStore, SQLiteAccessLog],
) -> None:
    personal, access = stores
    waiting = aged(1, ATTACHED, 40)  # a complaint with its file, waiting on the principal
    closed = aged(2, {"text": "vieux"}, 40)
    await personal.put_many([waiting, closed])
    went = await retention_pass(DAYS, NOW, personal, access, open_work=frozenset({1}))
    assert [(r.category, r.removed) for r in went[:2]] == [("messages", 1), ("attachments", 0)]
    assert [await personal.get(n) for n in (1, 2)] == [[waiting], []]
    assert [r.entry.interaction_id for r in await access.records_after(0, 10)] == [2]
