"""The Redis journal on a real ``redis-server``: durable batches, recovery, fencing, archive.

Each test starts its own server (``appendonly yes``, ``appendfsync always``) on a free port;
faults are real (SIGKILL of the server, a lease left to lapse, a stream entry deleted), except
the one time-out, which is injected after the script has run on the server, since a real
network cannot be made to drop exactly one reply.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
import redis
import redis.exceptions
from structlog.testing import capture_logs

from aiguillage.adapters.stores.journal import (
    CHANNEL_STATE_LIMIT,
    GENESIS,
    JournalError,
    JournalFenced,
    JournalFormatError,
    JournalLocked,
    JournalUnavailable,
    Recovery,
)
from aiguillage.adapters.stores.personal import digest, sealed
from aiguillage.adapters.stores.redis.journal import SNAPSHOT_CHUNK, RedisJournal, verify_url
from aiguillage.adapters.stores.redis.keys import keys_of
from aiguillage.adapters.stores.redis.personal import RedisPersonalStore
from aiguillage.adapters.stores.snapshot_seals import sha256
from aiguillage.adapters.stores.subjects import subject_key
from tests.adapters.redis_server import RedisServer
from tests.adapters.stores.test_sqlite_journal import T0, arrived, batch, closed, view

pytestmark = pytest.mark.anyio
KEYS = keys_of("main")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def journal_on(server: RedisServer, archive: Path | None = None, **options: Any) -> RedisJournal:
    options.setdefault("lease_s", 5.0)
    options.setdefault("timeout_s", 1.0)
    return RedisJournal(server.url, address="http://leader:8080", archive_dir=archive, **options)


@pytest.fixture
async def journal(redis_server: RedisServer, archive: Path) -> AsyncIterator[RedisJournal]:
    journal = journal_on(redis_server, archive)
    await journal.open()
    yield journal
    await journal.close()


async def recovered(server: RedisServer, archive: Path, **options: Any) -> Recovery:
    """Open the journal as a new writer, keep what it recovers, close it (releasing the lease)."""
    journal = journal_on(server, archive)
    try:
        return await journal.open(**options)
    finally:
        await journal.close()


def raw(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url)


async def test_a_batch_reads_back_with_epoch_seq_ids_and_recovers(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    assert journal.epoch == 1
    assert journal.settings_report == []
    assert await journal.append(batch(1, 3), [view(1, "x", "post-1", T0)]) == 3
    assert await journal.append([closed(1)], []) == 4
    records = await journal.records_after(0, 100)
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert [r.id for r in records] == ["1:1", "1:2", "1:3", "1:4"]
    assert [r.seq for r in await journal.records_after(2, 1)] == [3]
    assert await journal.view(1) == b'{"id": 1}'
    assert await journal.view(2) is None
    await journal.close()

    reopened = journal_on(redis_server)
    recovery = await reopened.open()
    try:
        assert reopened.epoch == 2  # the lease was released: taken at once, one epoch up
        assert recovery.image is None
        assert [r.event for r in recovery.records] == [*batch(1, 3), closed(1)]
        assert [r.epoch for r in recovery.records] == [1, 1, 1, 1]
        assert recovery.last_seq == 4
        assert await reopened.append([closed(2)], []) == 5
        assert (await reopened.records_after(4, 1))[0].id == "2:5"
    finally:
        await reopened.close()


async def test_external_keys_find_the_latest_interaction_received_since(
    journal: RedisJournal,
) -> None:
    await journal.append(
        [arrived(1, "mail-1"), arrived(2, "mail-1", at=T0 + 10)],
        [view(1, "email", "mail-1", T0), view(2, "email", "mail-1", T0 + 10)],
    )
    assert await journal.find_external("email", "mail-1", T0) == 2
    assert await journal.find_external("email", "mail-1", T0 + 11) is None
    assert await journal.find_external("x", "mail-1", 0) is None
    # An older interaction's view written again later does not take the key back.
    await journal.append([closed(1, at=T0 + 20)], [view(1, "email", "mail-1", T0)])
    assert await journal.find_external("email", "mail-1", 0) == 2
    assert await journal.recent_keys(T0 + 5) == [("email", "mail-1", 2, T0 + 10)]
    assert [key[2] for key in await journal.recent_keys(0)] == [1, 2]


async def test_a_second_writer_is_refused_while_the_lease_holds(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    second = journal_on(redis_server)
    with pytest.raises(JournalLocked, match=r"http://leader:8080, epoch 1.*--standby"):
        await second.open()
    assert await second.leader() == "http://leader:8080"
    await journal.renew()
    assert await journal.leader() == "http://leader:8080"


async def test_a_paused_writer_is_fenced_once_another_took_over(
    redis_server: RedisServer, archive: Path
) -> None:
    old = journal_on(redis_server, archive, lease_s=0.3)
    await old.open()
    old_personal = RedisPersonalStore(old)
    await old_personal.open()
    await old.append(batch(1, 2), [])
    await anyio.sleep(0.5)  # "paused" past its lease, without renewing it

    new = journal_on(redis_server, archive)
    recovery = await new.open()
    assert (old.epoch, new.epoch) == (1, 2)
    assert recovery.last_seq == 2
    piece = sealed(3, {"text": "from the old leader"}, T0)
    with pytest.raises(JournalFenced):
        await old.save_snapshot(2, b"stale image")
    with pytest.raises(JournalFenced):
        await old.save_cursor("adapters.crm", 2)
    with pytest.raises(JournalFenced):
        await old_personal.put_many([piece])
    with pytest.raises(JournalFenced):
        await old.renew()
    with pytest.raises(JournalFenced, match="epoch 2 took over from this writer's epoch 1"):
        await old.append(batch(3, 1), [view(3, "x", "post-3", T0)])
    with pytest.raises(JournalUnavailable, match="another writer took over"):
        await old.append(batch(3, 1), [])  # and it stays refused until reopened
    # Nothing of it was written.
    assert [r.seq for r in await new.records_after(0, 10)] == [1, 2]
    assert await new.view(3) is None
    assert await new.cursor("adapters.crm") == 0
    new_personal = RedisPersonalStore(new)
    await new_personal.open()
    assert await new_personal.get(3) == []
    with raw(redis_server) as client:
        assert client.hlen(KEYS.snapshots) == 0
    # The old writer's close does not release the new writer's lease.
    await old.close()
    assert await new.leader() == "http://leader:8080"
    with raw(redis_server) as client:
        assert client.get(KEYS.lease) == b"2 http://leader:8080"
    await new.close()


async def test_a_lapsed_lease_is_taken_again_if_nobody_took_over(
    redis_server: RedisServer, archive: Path
) -> None:
    journal = journal_on(redis_server, archive, lease_s=0.2)
    await journal.open()
    await anyio.sleep(0.4)
    assert await journal.leader() is None
    await journal.renew()
    assert await journal.leader() == "http://leader:8080"
    assert await journal.append(batch(1, 1), []) == 1
    await journal.close()


async def test_an_append_whose_reply_is_lost_is_read_back_not_written_twice(
    redis_server: RedisServer, journal: RedisJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    await journal.append(batch(1, 2), [])
    scripts = journal._writer_scripts()
    real_append = scripts.append
    calls = 0

    async def reply_lost(epoch: int, batch: Any) -> Any:
        nonlocal calls
        calls += 1
        await real_append(epoch, batch)  # the server runs it...
        raise redis.exceptions.TimeoutError("Timeout reading from socket")  # ...the reply is lost

    monkeypatch.setattr(scripts, "append", reply_lost)
    assert await journal.append(batch(3, 2), []) == 4
    assert calls == 1
    assert [r.seq for r in await journal.records_after(0, 10)] == [1, 2, 3, 4]
    assert (await journal.verify()).ok


async def test_an_append_that_did_not_reach_the_server_is_sent_once_more(
    redis_server: RedisServer, journal: RedisJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = journal._writer_scripts()
    real_append = scripts.append
    calls = 0

    async def lost_on_the_way(epoch: int, batch: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise redis.exceptions.ConnectionError("Connection reset by peer")
        return await real_append(epoch, batch)

    monkeypatch.setattr(scripts, "append", lost_on_the_way)
    assert await journal.append(batch(1, 2), []) == 2
    assert calls == 2
    assert [r.seq for r in await journal.records_after(0, 10)] == [1, 2]


async def test_a_journal_that_does_not_end_where_the_writer_left_it_is_a_conflict(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    await journal.append(batch(1, 2), [])
    with raw(redis_server) as client:  # as after a failover that lost the last write
        client.hset(KEYS.meta, "last_seq", "1")
    with pytest.raises(JournalUnavailable, match="ends at event 1, not at event 2"):
        await journal.append(batch(3, 1), [])
    with pytest.raises(JournalUnavailable, match="close the journal and open it again"):
        await journal.append(batch(3, 1), [])


async def test_snapshots_archive_and_trim_then_recovery_and_verify_span_both(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    await journal.append(batch(1, 5), [])
    await journal.save_snapshot(5, b"image after 5")
    await journal.append(batch(6, 5), [])
    await journal.save_snapshot(10, b"image after 10")  # older kept: 5; 1 to 5 archived
    await journal.append(batch(11, 5), [])
    await journal.save_snapshot(15, b"image after 15")  # older kept: 10; 6 to 10 archived
    with raw(redis_server) as client:
        assert client.xlen(KEYS.events) == 5
        assert sorted(int(seq) for seq in client.hkeys(KEYS.snapshots)) == [10, 15]
    assert sorted(p.name for p in archive.iterdir()) == [
        "main.000000000001-000000000005.jsonl",
        "main.000000000006-000000000010.jsonl",
    ]
    # Reading through the archive, as an adapter catching up from its cursor does.
    assert [r.seq for r in await journal.records_after(3, 4)] == [4, 5, 6, 7]
    assert [r.seq for r in await journal.records_after(8, 100)] == list(range(9, 16))
    verified = await journal.verify()
    assert verified.ok, verified.reason
    assert verified.checked == 15
    beside = await verify_url(redis_server.url, "main", archive)
    assert (beside.ok, beside.checked, beside.last_hash) == (True, 15, verified.last_hash)
    stream_only = await verify_url(redis_server.url, "main", None)
    assert (stream_only.ok, stream_only.checked) == (True, 5)
    await journal.close()

    reopened = journal_on(redis_server, archive)
    recovery = await reopened.open()
    try:
        assert (recovery.image, recovery.image_seq) == (b"image after 15", 15)
        assert recovery.records == []
    finally:
        await reopened.close()


async def test_resume_after_returns_only_the_tail_when_the_stream_has_it(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    await journal.append(batch(1, 6), [])
    await journal.save_snapshot(3, b"image after 3")
    await journal.close()
    recovery = await recovered(redis_server, archive, resume_after=4)
    assert (recovery.image, recovery.image_seq) == (None, 4)
    assert [r.seq for r in recovery.records] == [5, 6]
    recovery = await recovered(redis_server, archive, resume_after=9)  # beyond the end: full
    assert (recovery.image, recovery.image_seq) == (b"image after 3", 3)
    assert [r.seq for r in recovery.records] == [4, 5, 6]


async def test_a_standby_follows_without_the_lease_and_resumes_where_it_read(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    await journal.append(batch(1, 6), [])
    await journal.save_snapshot(3, b"image after 3")
    follower = journal_on(redis_server, archive)
    try:
        first = await follower.follow(0, GENESIS)  # nothing yet: the snapshot and the tail
        assert (first.image, first.image_seq, first.last_seq) == (b"image after 3", 3, 6)
        assert [r.seq for r in first.records] == [4, 5, 6]
        await journal.append(batch(7, 3), [])
        then = await follower.follow(6, first.last_hash)  # only what is new
        assert (then.image, then.image_seq, then.last_seq) == (None, 6, 9)
        assert [r.seq for r in then.records] == [7, 8, 9]
        assert (await follower.follow(9, then.last_hash)).records == []
        # A state built from another event 9 (a Redis failover lost it): start again.
        other = await follower.follow(9, "f" * 64)
        assert (other.image, other.image_seq) == (b"image after 3", 3)
        assert [r.seq for r in other.records] == [4, 5, 6, 7, 8, 9]
        assert "not the one the state was built from" in other.notes[0]
        # Following took no lease and fenced nothing: the writer goes on.
        assert await journal.append(batch(10, 1), []) == 10
        await journal.renew()
    finally:
        await follower.close()
    await journal.close()

    resumed = await recovered(redis_server, archive, resume_after=9, resume_hash=then.last_hash)
    assert (resumed.image, resumed.image_seq) == (None, 9)
    assert [r.seq for r in resumed.records] == [10]
    full = await recovered(redis_server, archive, resume_after=9, resume_hash="f" * 64)
    assert (full.image, full.image_seq) == (b"image after 3", 3)
    assert [r.seq for r in full.records] == [4, 5, 6, 7, 8, 9, 10]


async def test_a_standby_that_fell_behind_the_trim_starts_again_from_the_snapshot(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    await journal.append(batch(1, 4), [])
    follower = journal_on(redis_server, archive)
    try:
        behind = await follower.follow(0, GENESIS)
        assert (behind.image, behind.last_seq) == (None, 4)
        await journal.append(batch(5, 1), [])
        await journal.save_snapshot(5, b"image after 5")
        await journal.append(batch(6, 5), [])
        await journal.save_snapshot(10, b"image after 10")  # 1 to 5 archived and trimmed
        again = await follower.follow(4, behind.last_hash)
        assert (again.image, again.image_seq) == (b"image after 10", 10)
        assert again.records == []
        assert "cannot resume after event 4" in again.notes[0]
    finally:
        await follower.close()


async def test_following_an_empty_domain_or_as_the_writer_is_an_error(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    with pytest.raises(JournalError, match="open as its writer"):
        await journal.follow(0, GENESIS)
    elsewhere = RedisJournal(redis_server.url, domain="nowhere", address="http://b:8080")
    try:
        with pytest.raises(JournalError, match="no journal here"):
            await elsewhere.follow(0, GENESIS)
    finally:
        await elsewhere.close()


async def test_a_deleted_or_rewritten_entry_is_named_by_verify(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    await journal.append(batch(1, 4), [])
    with raw(redis_server) as client:
        client.xdel(KEYS.events, "3-1")
    broken = await journal.verify()
    assert (broken.ok, broken.checked, broken.first_break) == (False, 2, 3)
    assert "event 3 missing" in broken.reason
    await journal.close()
    with pytest.raises(JournalError, match="event 3"):
        await journal_on(redis_server).open()


async def test_a_rewritten_entry_is_named_by_verify(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    await journal.append(batch(1, 4), [])
    with raw(redis_server) as client:  # entries cannot change in place: delete, add it again
        ((_, fields),) = client.xrange(KEYS.events, "4", "4")
        client.xdel(KEYS.events, "4-1")
        fields[b"body"] = fields[b"body"].replace(b"post-4", b"post-X")
        client.xadd(KEYS.events, fields, id="4-2")
    rewritten = await journal.verify()
    assert (rewritten.ok, rewritten.checked, rewritten.first_break) == (False, 3, 4)
    assert "does not match its content" in rewritten.reason


async def test_cursors_survive_a_reopen(redis_server: RedisServer, journal: RedisJournal) -> None:
    assert await journal.cursor("adapters.crm") == 0
    await journal.save_cursor("adapters.crm", 42)
    await journal.close()
    reopened = journal_on(redis_server)
    await reopened.open()
    try:
        assert await reopened.cursor("adapters.crm") == 42
    finally:
        await reopened.close()


async def test_personal_data_is_stored_erased_and_purged(journal: RedisJournal) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    pieces = [sealed(n, {"text": f"message {n}"}, T0 + n) for n in (1, 2, 3)]
    note = sealed(2, {"note": "rappeler"}, T0 + 5)
    await personal.put_many([*pieces, note])
    assert sorted(await personal.get(2)) == sorted([pieces[1], note])
    assert sorted(await personal.stored_since(T0 + 3)) == [(2, note.digest), (3, pieces[2].digest)]
    assert await personal.erase(2) is True
    assert await personal.erase(2) is False
    assert await personal.get(2) == []
    assert await personal.purge(T0 + 2) == 1  # 1 only: stored before T0 + 2
    assert await personal.get(1) == []
    assert await personal.get(3) == [pieces[2]]
    assert await personal.stored_since(0) == [(3, pieces[2].digest)]


async def test_personal_data_named_by_id_and_digest_is_discarded_alone(
    journal: RedisJournal,
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    kept, orphan = sealed(4, {"text": "kept"}, T0), sealed(4, {"text": "orphan"}, T0)
    await personal.put_many([kept, orphan])
    assert await personal.discard([(4, orphan.digest)]) == 1
    assert await personal.get(4) == [kept]
    assert await personal.stored_since(0) == [(4, kept.digest)]


async def test_the_external_id_key_is_made_once_and_kept_through_erasures(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    key = await personal.external_id_key()
    assert len(key) == 32
    await personal.put_many([sealed(1, {"text": "x"}, T0)])
    await personal.erase(1)
    await personal.purge(T0 + 1)
    other = RedisPersonalStore(journal)
    await other.open()
    assert await other.external_id_key() == key


async def test_personal_data_of_the_earlier_layout_is_moved_to_pieces_at_open(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    old = sealed(7, {"text": "written by an earlier version"}, T0 + 7)
    with raw(redis_server) as client:
        client.hset(KEYS.personal, "7", msgspec.msgpack.encode((old.salt, old.data)))
        client.zadd(KEYS.personal_stored, {"7": T0 + 7})
    personal = RedisPersonalStore(journal)
    await personal.open()
    assert await personal.get(7) == [old]
    assert digest(old.salt, old.data) == old.digest
    assert await personal.stored_since(0) == [(7, old.digest)]
    with raw(redis_server) as client:
        assert not client.exists(KEYS.personal)
    assert await personal.erase(7) is True
    assert await personal.stored_since(0) == []


async def test_beside_a_leader_of_an_earlier_version_its_records_stay_where_it_reads_them(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    old = sealed(7, {"text": "written by an earlier version"}, T0 + 7)
    with raw(redis_server) as client:  # the leader of the earlier version stores a record
        client.hset(KEYS.personal, "7", msgspec.msgpack.encode((old.salt, old.data)))
        client.zadd(KEYS.personal_stored, {"7": T0 + 7})
    guest = journal_on(redis_server, archive)
    await guest.attach()
    try:
        with pytest.raises(JournalError) as refused:
            await RedisPersonalStore(guest).open()
    finally:
        await guest.close()
    assert str(refused.value) == (
        f"{journal.description}, personal data: records of an earlier version are held in its "
        "layout (interactions: 1), which a leader of this version moves when it starts; the "
        "leader is of an earlier version: run this after the upgrade"
    )
    with raw(redis_server) as client:  # its own erasure (HDEL personal 7) still finds it
        assert client.hkeys(KEYS.personal) == [b"7"]
        assert client.zrange(KEYS.personal_stored, 0, -1) == [b"7"]
        assert not client.exists(KEYS.personal_of(7))
    personal = RedisPersonalStore(journal)  # the upgraded leader moves it
    await personal.open()
    assert await personal.get(7) == [old]
    beside = journal_on(redis_server, archive)
    await beside.attach()
    try:
        after = RedisPersonalStore(beside)
        await after.open()
        assert await after.get(7) == [old]
    finally:
        await beside.close()


async def test_what_was_acknowledged_survives_sigkill_of_redis(
    redis_server: RedisServer, archive: Path
) -> None:
    journal = journal_on(redis_server, archive, lease_s=1.0)
    await journal.open()
    written = []
    for first in range(1, 101, 10):
        written += batch(first, 10)
        await journal.append(batch(first, 10), [view(first, "x", f"post-{first}", T0)])
    redis_server.kill()
    with pytest.raises(JournalUnavailable, match="appending events 101 to 101 failed"):
        await journal.append(batch(101, 1), [])
    await journal.close()  # the lease cannot be released: Redis is gone
    redis_server.start()

    after = journal_on(redis_server, archive, lease_s=1.0)
    # The killed writer's lease is in the AOF too: refused, where waiting it out would open.
    with pytest.raises(JournalLocked):
        await after.open()
    await anyio.sleep(1.1)  # the lease lapses
    recovery = await after.open()
    try:
        assert recovery.last_seq == 100
        assert [r.event for r in recovery.records] == written
        assert await after.view(91) == b'{"id": 91}'
    finally:
        await after.close()


async def test_a_server_that_is_down_is_unavailable_not_a_hang(
    redis_server: RedisServer,
) -> None:
    redis_server.kill()
    journal = journal_on(redis_server)
    # A hang would never end: a minute is far beyond a refused connection, however loaded.
    with anyio.fail_after(60), pytest.raises(JournalUnavailable, match="opening failed"):
        await journal.open()


async def test_risky_server_settings_are_reported(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    server = RedisServer(tmp_path / "risky", "--appendfsync", "everysec").start()
    try:
        journal = journal_on(server)
        await journal.open()
        try:
            assert len(journal.settings_report) == 1
            assert journal.settings_report[0].startswith("appendfsync is everysec, not always")
        finally:
            await journal.close()
    finally:
        server.kill()


async def test_a_large_image_is_uploaded_in_chunks_and_one_not_whole_is_passed_over(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    await journal.append(batch(1, 6), [])
    image = os.urandom(SNAPSHOT_CHUNK * 2 + 123)
    await journal.save_snapshot(2, b"small image")
    await journal.save_snapshot(4, image)
    with raw(redis_server) as client:
        assert client.strlen(KEYS.snapshot(4)) == len(image)
        assert client.ttl(KEYS.snapshot(4)) == -1  # the staging key's expiry does not follow
        assert client.exists(KEYS.snapshot_staging(journal.epoch)) == 0
    await journal.close()

    reopened = journal_on(redis_server)
    recovery = await reopened.open()
    await reopened.close()
    assert (recovery.image, recovery.image_seq) == (image, 4)

    with raw(redis_server) as client:
        client.setrange(KEYS.snapshot(4), 1000, b"not what was written")
    damaged = journal_on(redis_server)
    recovery = await damaged.open()
    try:
        assert (recovery.image, recovery.image_seq) == (b"small image", 2)
        assert recovery.notes == ["snapshot 4 passed over: its image is missing or not whole"]
        await damaged.save_snapshot(6, b"image after 6")  # two kept: the oldest image goes
    finally:
        await damaged.close()
    with raw(redis_server) as client:
        assert sorted(int(seq) for seq in client.hkeys(KEYS.snapshots)) == [4, 6]
        assert client.exists(KEYS.snapshot(2)) == 0


async def test_an_image_changed_after_its_seal_is_refused_even_with_its_description(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    await journal.append(batch(1, 6), [])
    await journal.save_snapshot(3, b"image after 3")
    await journal.save_snapshot(6, b"image after 6")
    await journal.close()
    with raw(redis_server) as client:
        # What an intruder with the server does: rewrite the image, and its description's digest.
        altered = b"image after 6, a deadline moved"
        description = msgspec.msgpack.decode(client.hget(KEYS.snapshots, "6"))
        description["image_sha256"] = sha256(altered)
        client.hset(KEYS.snapshots, "6", msgspec.msgpack.encode(description))
        client.set(KEYS.snapshot(6), altered)

    with capture_logs() as logs:
        recovery = await recovered(redis_server, archive)
    assert (recovery.image, recovery.image_seq) == (b"image after 3", 3)
    assert [r.seq for r in recovery.records] == [4, 5, 6]
    assert "snapshot 6 passed over: its image" in recovery.notes[0]
    refused = [line for line in logs if line["event"].startswith("snapshot refused")]
    assert [(line["log_level"], line["seq"]) for line in refused] == [("error", 6)]

    result = await verify_url(redis_server.url, "main", archive)
    assert (result.ok, result.checked, result.first_break) == (False, 6, None)
    assert result.snapshots[0] == "snapshot 3: sealed in the chain, its image matches"
    assert "snapshot 6: its image" in result.snapshots[1]
    assert "but snapshot 6" in result.reason


async def test_seals_are_archived_and_trimmed_with_their_records_and_still_verify(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    for first in (1, 6, 11):
        await journal.append(batch(first, 5), [])
        await journal.save_snapshot(first + 4, f"image after {first + 4}".encode())
    await journal.append(batch(16, 1), [])  # chained to the seal of snapshot 15
    with raw(redis_server) as client:
        # Trimmed to the older snapshot kept (10): its seal, after record 10, stays.
        assert [entry_id for entry_id, _ in client.xrange(KEYS.seals)] == [b"10-0", b"15-0"]
    lines = [
        msgspec.json.decode(line)
        for path in sorted(archive.iterdir())
        for line in path.read_bytes().splitlines()
    ]
    assert [(line["seq"], line.get("seal", False)) for line in lines] == [
        *((seq, False) for seq in range(1, 6)),
        (5, True),
        *((seq, False) for seq in range(6, 11)),
    ]
    for archive_dir, checked in ((archive, 16), (None, 6)):
        result = await verify_url(redis_server.url, "main", archive_dir)
        assert (result.ok, result.checked) == (True, checked), result.reason
        assert result.snapshots == [
            "snapshot 10: sealed in the chain, its image matches",
            "snapshot 15: sealed in the chain, its image matches",
        ]
    assert [r.seq for r in await journal.records_after(3, 4)] == [4, 5, 6, 7]
    await journal.close()
    recovery = await recovered(redis_server, archive)
    assert (recovery.image, [r.seq for r in recovery.records]) == (b"image after 15", [16])


async def test_a_snapshot_whose_reply_is_lost_is_read_back_from_the_chains_end(
    redis_server: RedisServer, journal: RedisJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    await journal.append(batch(1, 2), [])
    scripts = journal._writer_scripts()
    real_snapshot = scripts.snapshot

    async def reply_lost(*arguments: Any) -> Any:
        await real_snapshot(*arguments)  # the server keeps and seals it...
        raise redis.exceptions.TimeoutError("Timeout reading from socket")  # ...the reply is lost

    monkeypatch.setattr(scripts, "snapshot", reply_lost)
    await journal.save_snapshot(2, b"image after 2")
    monkeypatch.undo()
    assert await journal.append(batch(3, 1), []) == 3  # chained to the seal it read back
    assert (await journal.verify()).ok


async def test_a_reader_beside_the_leader_reads_on_through_the_archive_after_a_trim(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    await journal.append(batch(1, 5), [])
    await journal.save_snapshot(5, b"image after 5")
    await journal.append(batch(6, 5), [])
    beside = journal_on(redis_server, archive)
    await beside.attach()
    try:
        assert [r.seq for r in await beside.records_after(0, 3)] == [1, 2, 3]
        await journal.save_snapshot(10, b"image after 10")  # 1 to 5 archived and trimmed
        await journal.append(batch(11, 2), [])
        assert [r.seq for r in await beside.records_after(3, 100)] == list(range(4, 13))
        await journal.save_snapshot(12, b"image after 12")  # 6 to 10 archived and trimmed
        assert [r.seq for r in await beside.records_after(3, 100)] == list(range(4, 13))
    finally:
        await beside.close()


async def test_a_record_of_a_format_unknown_here_is_refused_on_open_and_named_by_verify(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    # Each entry carries its record's format: a version that reads 1 and 2 meets a record of
    # a later one (as the version before actors met records of format 2) and refuses it.
    await journal.append(batch(1, 4), [])
    await journal.close()
    with raw(redis_server) as client:
        entries = client.xrange(KEYS.events)
        client.delete(KEYS.events)
        for entry_id, fields in entries:
            if entry_id.startswith(b"3-"):
                fields[b"format"] = b"3"
            client.xadd(KEYS.events, fields, id=entry_id)
    result = await verify_url(redis_server.url, "main", archive)
    assert result.first_break == 3
    assert result.reason == "event 3: format 3 is unknown to this version (reads 1 and 2)"
    with pytest.raises(
        JournalFormatError, match=r"event 3: format 3 is unknown.*\(reads 1 and 2\); run the"
    ):
        await recovered(redis_server, archive)


async def test_a_domain_of_a_journal_format_unknown_here_is_refused_by_writer_and_readers(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    await journal.append(batch(1, 2), [])
    await journal.close()
    with raw(redis_server) as client:
        client.hset(KEYS.meta, "journal_format", "3")
    refusal = r"journal format 3 is unknown to this version \(reads up to 2\); run the version"
    with pytest.raises(JournalFormatError, match=refusal):
        await recovered(redis_server, archive)
    with pytest.raises(JournalFormatError, match=refusal):
        await verify_url(redis_server.url, "main", archive)
    beside = journal_on(redis_server, archive)
    with pytest.raises(JournalFormatError, match=refusal):  # a command, beside the leader
        await beside.attach()
    with raw(redis_server) as client:  # and nothing was changed
        assert client.hget(KEYS.meta, "journal_format") == b"3"
        assert client.get(KEYS.epoch) == b"1"


def _as_format_1(server: RedisServer) -> None:
    """Leave the journal as the version before seals did: no seals, format 1."""
    with raw(server) as client:
        client.delete(KEYS.seals)
        last = int(client.hget(KEYS.meta, "last_seq"))
        ((_, fields),) = client.xrange(KEYS.events, str(last), str(last))
        client.hset(KEYS.meta, mapping={"journal_format": "1", "last_hash": fields[b"hash"]})


async def test_a_journal_of_format_1_is_upgraded_and_its_snapshot_sealed_as_it_stands(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    await journal.append(batch(1, 4), [])
    await journal.save_snapshot(4, b"image after 4")
    await journal.close()
    _as_format_1(redis_server)
    result = await verify_url(redis_server.url, "main", archive)
    assert (result.ok, result.checked) == (True, 4), result.reason
    assert result.snapshots[0].startswith("snapshot 4: no seal in the chain vouches for it")
    recovery = await recovered(redis_server, archive)
    assert (recovery.image, recovery.image_seq, recovery.records) == (b"image after 4", 4, [])
    with raw(redis_server) as client:
        assert client.hget(KEYS.meta, "journal_format") == b"2"
    after = await verify_url(redis_server.url, "main", archive)
    assert after.ok, after.reason
    assert not [line for line in after.snapshots if "no seal" in line]


async def test_a_trimmed_journal_of_format_1_opens_from_its_snapshot_after_the_upgrade(
    redis_server: RedisServer, journal: RedisJournal, archive: Path
) -> None:
    # Seals only after the last event: without them, the chain is the one format 1 wrote.
    await journal.append(batch(1, 10), [])
    await journal.save_snapshot(5, b"image after 5")
    await journal.save_snapshot(10, b"image after 10")  # archives and trims 1 to 5
    await journal.close()
    _as_format_1(redis_server)
    # The events before the snapshots are archived: without them, only a snapshot can start it.
    recovery = await recovered(redis_server, archive)
    assert (recovery.image, recovery.image_seq, recovery.last_seq) == (b"image after 10", 10, 10)
    # A snapshot changed after the upgrade is still refused: the upgrade sealed it as it stood.
    with raw(redis_server) as client:
        client.set(KEYS.snapshot(10), b"image after 10, changed")
    again = await recovered(redis_server, archive)
    assert (again.image, again.image_seq) == (b"image after 5", 5)
    assert [record.seq for record in again.records] == [6, 7, 8, 9, 10]


async def test_a_channel_state_round_trips_and_survives_a_reopen(
    redis_server: RedisServer, journal: RedisJournal
) -> None:
    assert await journal.channel_state("mail") is None
    await journal.save_channel_state("mail", b'{"uidvalidity": 7, "uid": 41}')
    await journal.save_channel_state("mail", b'{"uidvalidity": 7, "uid": 42}')
    await journal.save_channel_state("x", b"\x00\xff not text")
    with raw(redis_server) as client:
        assert client.hget(KEYS.channel_states, "mail") == b'{"uidvalidity": 7, "uid": 42}'
    await journal.close()
    reopened = journal_on(redis_server)
    await reopened.open()
    try:
        assert await reopened.channel_state("mail") == b'{"uidvalidity": 7, "uid": 42}'
        assert await reopened.channel_state("x") == b"\x00\xff not text"
        assert await reopened.channel_state("facebook") is None
    finally:
        await reopened.close()


async def test_a_deposed_writer_or_a_standby_saves_no_channel_state(
    redis_server: RedisServer, archive: Path
) -> None:
    old = journal_on(redis_server, archive, lease_s=0.3)
    await old.open()
    await old.save_channel_state("mail", b"uid 41")
    await anyio.sleep(0.5)  # "paused" past its lease, without renewing it
    new = journal_on(redis_server, archive)
    await new.open()
    standby = journal_on(redis_server, archive)
    await standby.follow(0, GENESIS)
    try:
        with pytest.raises(JournalFenced, match="saving the state of channel 'mail' refused"):
            await old.save_channel_state("mail", b"uid 99 from the old leader")
        with pytest.raises(JournalUnavailable, match="is not open"):
            await standby.save_channel_state("mail", b"uid 99 from the standby")
        assert await new.channel_state("mail") == b"uid 41"
        await new.save_channel_state("mail", b"uid 42")
        assert await new.channel_state("mail") == b"uid 42"
    finally:
        await standby.close()
        await old.close()
        await new.close()


async def test_a_channel_state_over_64_kib_is_refused_and_nothing_is_kept(
    journal: RedisJournal,
) -> None:
    await journal.save_channel_state("mail", b"x" * CHANNEL_STATE_LIMIT)
    with pytest.raises(JournalError, match=r"channel 'mail' is 65537 bytes, over the limit"):
        await journal.save_channel_state("mail", b"y" * (CHANNEL_STATE_LIMIT + 1))
    assert await journal.channel_state("mail") == b"x" * 65536


async def test_personal_data_is_found_by_an_address_s_keyed_digest(journal: RedisJournal) -> None:
    personal = RedisPersonalStore(journal)
    await personal.open()
    key = await personal.external_id_key()
    caller = {"customer": {"name": "Gaspard", "phone": "+33 6 98 76 54 32"}}
    await personal.put_many(
        [sealed(1, caller, T0), sealed(2, {"text": "x"}, T0), sealed(3, caller, T0)]
    )
    subject = subject_key(key, "phone", "06 98 76 54 32")
    assert await personal.find_subject(subject) == [1, 3]
    assert await personal.erase(1)
    assert await personal.find_subject(subject) == [3]
