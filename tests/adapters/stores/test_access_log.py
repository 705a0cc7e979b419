"""The access log's chain in both stores: appends, a retention trim that keeps it verifiable,
tampering found, and on Redis the leader's fence.

SQLite on real files beside a real journal; Redis on a real ``redis-server`` of the test's own.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import redis

from aiguillage.adapters.stores.access_log import AccessEntry
from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.journal import GENESIS, JournalFenced
from aiguillage.adapters.stores.redis.access_log import RedisAccessLog, verify_access_url
from aiguillage.adapters.stores.redis.keys import keys_of
from aiguillage.adapters.stores.sqlite.access_log import SQLiteAccessLog, verify_access_file
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal, verify_file
from aiguillage.engine.instants import SECOND
from tests.adapters.redis_server import RedisServer
from tests.adapters.stores.test_redis_journal import journal_on
from tests.adapters.stores.test_sqlite_journal import T0

pytestmark = pytest.mark.anyio

READER = Actor("token", "7", "supervisor")
DAY = 86_400 * SECOND


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def entries(first: int, count: int, *, day: int = 0) -> list[AccessEntry]:
    """Reads of interactions ``first``… on day ``day`` after T0."""
    return [
        AccessEntry(T0 + day * DAY + i, READER, first + i, "GET /v1/interactions/1/personal-data")
        for i in range(count)
    ]


async def sqlite_log(path: Path) -> SQLiteAccessLog:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.close()
    log = SQLiteAccessLog(path)
    await log.open()
    return log


async def test_entries_are_chained_and_read_back_in_order_and_by_interaction(
    tmp_path: Path,
) -> None:
    log = await sqlite_log(tmp_path / "journal.sqlite")
    try:
        assert await log.append(entries(1, 3)) == 3
        assert await log.append(entries(2, 2)) == 5
        records = await log.records_after(0, 10)
        assert [r.seq for r in records] == [1, 2, 3, 4, 5]
        assert [r.seq for r in await log.records_after(3, 10)] == [4, 5]
        about_2 = await log.records_after(0, 10, interaction_id=2)
        assert [(r.seq, r.entry.interaction_id) for r in about_2] == [(2, 2), (4, 2)]
        verification = await log.verify()
        assert verification.ok
        assert verification.checked == 5
        assert verification.last_hash == records[-1].hash
    finally:
        await log.close()
    assert verify_file(tmp_path / "journal.sqlite").ok  # the journal's own chain is untouched


async def test_a_changed_entry_in_the_file_is_found_by_the_verification(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    log = await sqlite_log(path)
    await log.append(entries(1, 4))
    await log.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE access_log SET body = replace(body, '\"7\"', '\"8\"') WHERE seq = 3")
    found = verify_access_file(path)
    assert found is not None
    assert not found.ok
    assert found.first_break == 3
    assert "access entry 3" in found.reason
    assert "hash does not match" in found.reason


async def test_a_removed_entry_is_found(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    log = await sqlite_log(path)
    await log.append(entries(1, 4))
    await log.close()
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM access_log WHERE seq = 2")
    found = verify_access_file(path)
    assert found is not None
    assert not found.ok
    assert "access entry 2 missing" in found.reason


async def test_a_trim_removes_the_old_entries_from_the_start_and_the_rest_still_verifies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    log = await sqlite_log(path)
    try:
        await log.append(entries(1, 3, day=0))
        await log.append(entries(10, 2, day=5))
        assert await log.trim(T0 + 3 * DAY) == 3
        assert await log.trim(T0 + 3 * DAY) == 0  # nothing older is left
        assert [r.seq for r in await log.records_after(0, 10)] == [4, 5]
        assert await log.append(entries(20, 1, day=6)) == 6  # the chain goes on after the trim
        verification = await log.verify()
        assert verification.ok, verification.reason
        assert verification.checked == 3
    finally:
        await log.close()
    found = verify_access_file(path)
    assert found is not None
    assert found.ok
    with sqlite3.connect(path) as raw:  # the boundary kept must be the one trimmed
        raw.execute("UPDATE meta SET value = ? WHERE key = 'access_trimmed_hash'", (GENESIS,))
    broken = verify_access_file(path)
    assert broken is not None
    assert not broken.ok
    assert broken.first_break == 4


async def test_another_process_appending_to_the_same_file_continues_the_one_chain(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    daemon_side = await sqlite_log(path)
    command_side = SQLiteAccessLog(path)
    await command_side.open()
    try:
        await daemon_side.append(entries(1, 2))
        assert await command_side.append(entries(3, 1)) == 3
        assert await daemon_side.append(entries(4, 1)) == 4
        assert (await daemon_side.verify()).ok
    finally:
        await command_side.close()
        await daemon_side.close()


def test_a_journal_without_an_access_log_says_so(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    assert verify_access_file(path) is None


async def test_on_redis_the_log_is_chained_trimmed_and_verified_beside_the_leader(
    redis_server: RedisServer,
) -> None:
    journal = journal_on(redis_server)
    await journal.open()
    log = RedisAccessLog(journal)
    await log.open()
    try:
        await log.append(entries(1, 3, day=0))
        assert await log.append(entries(10, 2, day=5)) == 5
        about_10 = await log.records_after(0, 10, interaction_id=10)
        assert [r.seq for r in about_10] == [4]
        assert (await verify_access_url(redis_server.url, "main")).checked == 5
        assert await log.trim(T0 + 3 * DAY) == 3
        assert await log.append(entries(20, 1, day=6)) == 6
        verification = await verify_access_url(redis_server.url, "main")
        assert verification.ok, verification.reason
        assert verification.checked == 3
    finally:
        await log.close()
        await journal.close()


async def test_on_redis_a_removed_or_cut_off_entry_is_found(redis_server: RedisServer) -> None:
    journal = journal_on(redis_server)
    await journal.open()
    log = RedisAccessLog(journal)
    await log.open()
    await log.append(entries(1, 4))
    await log.close()
    await journal.close()
    keys = keys_of("main")
    with redis.Redis.from_url(redis_server.url) as raw:
        raw.xdel(keys.access, "4-0")  # the last: only the meta's end can tell
        cut = await verify_access_url(redis_server.url, "main")
        assert not cut.ok
        assert "missing" in cut.reason
        raw.xdel(keys.access, "2-0")
        gap = await verify_access_url(redis_server.url, "main")
        assert not gap.ok
        assert gap.first_break == 2


async def test_on_redis_a_former_leader_cannot_append_after_another_took_over(
    redis_server: RedisServer,
) -> None:
    former = journal_on(redis_server, lease_s=1.0)
    await former.open()
    log = RedisAccessLog(former)
    await log.open()
    await log.append(entries(1, 1))
    with redis.Redis.from_url(redis_server.url) as raw:
        raw.delete(keys_of("main").lease)  # its lease lapsed while it stood still
    leader = journal_on(redis_server)
    await leader.open()
    try:
        with pytest.raises(JournalFenced):
            await log.append(entries(2, 1))
        taken_over = RedisAccessLog(leader)
        await taken_over.open()
        assert await taken_over.append(entries(3, 1)) == 2
        assert (await verify_access_url(redis_server.url, "main")).ok
    finally:
        await leader.close()
        await former.close()
