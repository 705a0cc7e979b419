"""The retention pass on a real Redis server: the same categories, counts and pages as on
SQLite (``test_retention``), through the leader's fenced personal-data store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiguillage.adapters.stores.redis.journal import RedisJournal
from aiguillage.adapters.stores.redis.personal import RedisPersonalStore
from aiguillage.adapters.stores.retention import retention_pass
from tests.adapters.redis_server import RedisServer
from tests.adapters.stores.test_redis_journal import journal_on
from tests.adapters.stores.test_retention import ATTACHED, DAYS, NOW, aged

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def journal(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[RedisJournal]:
    journal = journal_on(redis_server, tmp_path / "archive")
    await journal.open()
    yield journal
    await journal.close()


async def test_each_category_loses_what_is_past_its_period_on_redis(
    journal: RedisJournal,
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    old_text = aged(1, {"text": "vieux"}, 31)
    old_file = aged(2, ATTACHED, 8)
    kept = [aged(n, {"text": f"t{n}"}, 10) for n in range(10, 460)]  # one instant, many pages
    recent_file = aged(4, ATTACHED, 6)
    await personal.put_many([old_text, old_file, *kept, recent_file])
    would = await retention_pass(DAYS, NOW, personal, None, apply=False)
    assert [(r.category, r.removed) for r in would[:2]] == [("messages", 1), ("attachments", 1)]
    assert await personal.get(1) == [old_text]
    went = await retention_pass(DAYS, NOW, personal, None)
    assert went == would
    assert [await personal.get(n) for n in (1, 2, 4)] == [[], [], [recent_file]]
    assert len(await personal.stored_since(0)) == 451


async def test_an_orphan_index_entry_neither_ends_the_pass_nor_outlives_one_that_applies(
    journal: RedisJournal,
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    old = [aged(n, {"text": f"t{n}"}, 40 - n / 1000) for n in range(1, 301)]  # two pages
    await personal.put_many(old)
    # An index entry whose piece is gone: the hash erased alone, as an earlier version could.
    await journal.connection().delete(journal.keys.personal_of(5))
    would = await retention_pass(DAYS, NOW, personal, None, apply=False)
    assert would[0].removed == 299
    orphan = f"5:{old[4].digest}"  # a dry run writes nothing: the entry is still there
    assert await journal.connection().zscore(journal.keys.personal_stored, orphan) is not None
    went = await retention_pass(DAYS, NOW, personal, None)
    assert went[0].removed == 299
    assert await personal.stored_since(0) == []
    assert [await personal.get(n) for n in (6, 250, 300)] == [[], [], []]
