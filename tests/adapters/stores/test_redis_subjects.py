"""Addresses as the Redis personal-data store indexes them, on a real server: a search reads
that address's set and no other customer's pieces, the index leaves Redis with the last piece
of an interaction, and the pieces stored before the index are indexed a page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from aiguillage.adapters.stores.journal import JournalFenced
from aiguillage.adapters.stores.personal import sealed
from aiguillage.adapters.stores.redis.journal import RedisJournal
from aiguillage.adapters.stores.redis.personal import RedisPersonalStore
from aiguillage.adapters.stores.subjects import subject_key
from tests.adapters.redis_server import RedisServer
from tests.adapters.stores.test_redis_journal import journal_on

pytestmark = pytest.mark.anyio

JEANNE = {"customer": {"name": "Jeanne", "email": "jeanne@example.org", "phone": "0612345678"}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def journal(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[RedisJournal]:
    journal = journal_on(redis_server, tmp_path / "archive")
    await journal.open()
    yield journal
    await journal.close()


async def index_keys(journal: RedisJournal) -> list[str]:
    """The keys of the address index left in Redis (sets of interactions or of addresses)."""
    found: Any = [k.decode() async for k in journal.connection().scan_iter(count=1000)]
    return sorted(k for k in found if ":subjects" in k)


async def forget_the_index(journal: RedisJournal) -> None:
    """Leave Redis as a version without the index did: no index keys, no mark."""
    keys = await index_keys(journal)
    await journal.connection().delete(journal.keys.personal_indexed, *keys)


async def test_a_search_reads_only_that_address_s_interactions(journal: RedisJournal) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    key = await personal.external_id_key()
    await personal.put_many(
        [sealed(1, JEANNE, 10), sealed(3, {"callback_number": "06 12 34 56 78"}, 11)]
    )
    # Another customer's piece that cannot be read: a search that opened it would fail.
    await journal.connection().hset(journal.keys.personal_of(2), "0" * 64, b"\xc1 not a piece")
    await journal.connection().zadd(journal.keys.personal_stored, {f"2:{'0' * 64}": 12})
    assert await personal.find_subject(subject_key(key, "phone", "+33 6 12 34 56 78")) == [1, 3]
    assert await personal.find_subject(subject_key(key, "email", "JEANNE@example.org")) == [1]
    assert await personal.find_subject(subject_key(key, "email", "paul@example.org")) == []


async def test_the_index_leaves_redis_with_the_last_piece_and_is_built_for_older_pieces(
    journal: RedisJournal,
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    key = await personal.external_id_key()
    email = subject_key(key, "email", "jeanne@example.org")
    other = sealed(2, {"text": "sans adresse"}, 12)
    await personal.put_many([sealed(1, JEANNE, 10), sealed(2, JEANNE, 11), other])
    assert await personal.find_subject(email) == [1, 2]
    assert await personal.erase(1)
    assert await personal.find_subject(email) == [2]
    assert await personal.discard([(2, other.digest)]) == 1
    assert await personal.find_subject(email) == [2]  # a piece naming her is left
    await personal.close()
    await forget_the_index(journal)
    personal = RedisPersonalStore(journal)
    await personal.open()
    assert await personal.find_subject(email) == [2]
    assert await personal.purge(100) == 1
    assert await personal.find_subject(email) == []
    assert await index_keys(journal) == []


async def test_pieces_stored_before_the_index_are_indexed_a_page_at_a_time(
    journal: RedisJournal,
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    key = await personal.external_id_key()
    customers = [{"customer": {"email": f"client{n}@example.org"}} for n in range(2501)]
    await personal.put_many([sealed(n + 1, data, n) for n, data in enumerate(customers)])
    await personal.close()
    await forget_the_index(journal)
    assert await index_keys(journal) == []
    personal = RedisPersonalStore(journal)
    await personal.open()
    assert await journal.connection().get(journal.keys.personal_indexed) == b"1"
    for n in (0, 999, 1000, 2000, 2500):  # across the pages
        subject = subject_key(key, "email", f"client{n}@example.org")
        assert await personal.find_subject(subject) == [n + 1]


async def test_a_command_beside_the_leader_writes_under_its_epoch_until_a_takeover(
    redis_server: RedisServer, journal: RedisJournal, tmp_path: Path
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    await personal.put_many([sealed(1, JEANNE, 10), sealed(2, JEANNE, 11)])
    guest = journal_on(redis_server, tmp_path / "archive")
    await guest.attach()  # no lease taken: the leader leads on
    try:
        beside = RedisPersonalStore(guest)
        await beside.open()
        assert await beside.erase(1)
        assert await personal.get(1) == []
        await journal.close()
        taker = journal_on(redis_server, tmp_path / "archive")
        await taker.open()  # a takeover: the epoch the command found is no longer the leader's
        with pytest.raises(JournalFenced, match="nothing was written: run the command again"):
            await beside.erase(2)
        kept = RedisPersonalStore(taker)
        await kept.open()
        assert len(await kept.get(2)) == 1
        await taker.close()
    finally:
        await guest.close()


async def test_what_a_leader_without_the_index_stored_and_erased_is_indexed_by_the_next(
    redis_server: RedisServer, journal: RedisJournal, tmp_path: Path
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    key = await personal.external_id_key()
    email = subject_key(key, "email", "jeanne@example.org")
    first = sealed(1, JEANNE, 10)
    await personal.put_many([first, sealed(2, JEANNE, 11)])
    await journal.close()
    # A standby of a version before the index takes over: it stores and erases pieces as that
    # version did, without touching the index.
    older = journal_on(redis_server, tmp_path / "archive")
    await older.open()
    client, keys = older.connection(), older.keys
    third = sealed(3, JEANNE, 12)
    await client.hset(keys.personal_of(3), third.digest, msgspec.msgpack.encode(third[2:]))
    await client.zadd(keys.personal_stored, {f"3:{third.digest}": 12})
    await client.delete(keys.personal_of(1))
    await client.zrem(keys.personal_stored, f"1:{first.digest}")
    await older.close()
    upgraded = journal_on(redis_server, tmp_path / "archive")
    await upgraded.open()
    try:
        with capture_logs() as logs:
            await RedisPersonalStore(upgraded).open()
        assert [e["interactions"] for e in logs if "indexed" in e["event"]] == [2]
        after = RedisPersonalStore(upgraded)
        await after.open()
        assert await after.find_subject(email) == [2, 3]
        assert keys.personal_subjects_of(1) not in await index_keys(upgraded)
        assert await upgraded.connection().get(keys.personal_indexed) == b"3"
    finally:
        await upgraded.close()
    follower = journal_on(redis_server, tmp_path / "archive")
    await follower.open()  # after a leader that kept the index: nothing to read again
    try:
        with capture_logs() as logs:
            await RedisPersonalStore(follower).open()
        assert [e for e in logs if "indexed" in e["event"]] == []
        assert await follower.connection().get(keys.personal_indexed) == b"4"
    finally:
        await follower.close()


async def test_a_piece_an_earlier_leader_stores_while_a_command_drops_the_index_entries_stays(
    redis_server: RedisServer,
    journal: RedisJournal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    key = await personal.external_id_key()
    first = sealed(1, JEANNE, 10)
    await personal.put_many([first])
    await journal.close()
    # A leader of a version before the index erases interaction 1 without touching its index
    # entries, and leads on while a command runs beside it.
    older = journal_on(redis_server, tmp_path / "archive")
    await older.open()
    client, keys = older.connection(), older.keys
    await client.delete(keys.personal_of(1))
    await client.zrem(keys.personal_stored, f"1:{first.digest}")
    guest = journal_on(redis_server, tmp_path / "archive")
    await guest.attach()
    beside = RedisPersonalStore(guest)
    again = sealed(1, {**JEANNE, "text": "Je vous écris de nouveau."}, 20)
    discard = beside._discard

    async def a_piece_stored_meanwhile(pieces: dict[int, list[str] | None], doing: str) -> int:
        # The command read that interaction 1 has no pieces; the leader stores one before the
        # command's script runs.
        await client.hset(keys.personal_of(1), again.digest, msgspec.msgpack.encode(again[2:]))
        await client.zadd(keys.personal_stored, {f"1:{again.digest}": 20})
        return await discard(pieces, doing)

    monkeypatch.setattr(beside, "_discard", a_piece_stored_meanwhile)
    try:
        await beside.open()
        assert await beside.get(1) == [again]
        assert await beside.stored_since(0) == [(1, again.digest)]
        # The piece names her too: her entries stay with it.
        assert await beside.find_subject(subject_key(key, "email", "jeanne@example.org")) == [1]
    finally:
        await guest.close()
        await older.close()
