"""Personal data through the runtime: served only under the digest the journal holds for it.

The runtime runs in process on a real store (a SQLite file, or a redis-server of the test's
own), driven by a virtual clock. The one fault injected is a journal append that fails after the
personal data of its batch was committed, as a full disk or a lost lock makes it fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.journal import Journal, JournalUnavailable
from aiguillage.adapters.stores.personal import PersonalStore
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore
from aiguillage.adapters.stores.urls import personal_path_of
from aiguillage.engine.commands import Close, Submit
from aiguillage.engine.instants import SECOND
from tests.adapters.daemon.test_runtime import VirtualClock
from tests.adapters.daemons import ROOT
from tests.adapters.redis_server import RedisServer

pytestmark = pytest.mark.anyio

DAY = 86_400 * SECOND
SECRET = "Zéphyrine Quincampoix-Ardouin"
FIRST_CUSTOMER = {"customer": {"name": SECRET, "phone": "+33 6 11 22 33 44"}, "text": "Bus 42"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Faults:
    """The appends to fail next: each raises as a full disk would, before writing anything."""

    def __init__(self) -> None:
        self.failing_appends = 0

    def check(self) -> None:
        if self.failing_appends:
            self.failing_appends -= 1
            raise JournalUnavailable("injected: the disk is full")


class Harness:
    def __init__(self, runtime: Runtime, clock: VirtualClock, faults: Faults, kind: str) -> None:
        self.runtime = runtime
        self.clock = clock
        self.faults = faults
        self.kind = kind
        self.dump: Any = None
        """Every byte the store holds (a callable), to look for what must be gone."""

    async def until_ready(self) -> None:
        with anyio.fail_after(30):
            while not self.runtime.ready:
                await anyio.sleep(0.01)


def _sqlite(directory: Path, faults: Faults) -> tuple[Any, Any, Any]:
    path = directory / "journal.sqlite"

    class FailingJournal(SQLiteJournal):
        async def append(self, events: Any, views: Any, by: Any = ()) -> int:
            faults.check()
            return await super().append(events, views, by)

    def dump() -> bytes:
        return b"".join(f.read_bytes() for f in sorted(directory.rglob("*")) if f.is_file())

    return (
        lambda: FailingJournal(path),
        lambda journal: SQLitePersonalStore(personal_path_of(path)),
        dump,
    )


def _redis(server: RedisServer, directory: Path, faults: Faults) -> tuple[Any, Any, Any]:
    from aiguillage.adapters.stores.redis.journal import RedisJournal
    from aiguillage.adapters.stores.redis.personal import RedisPersonalStore

    class FailingJournal(RedisJournal):
        async def append(self, events: Any, views: Any, by: Any = ()) -> int:
            faults.check()
            return await super().append(events, views, by)

    def journal() -> Journal:
        return FailingJournal(server.url, lease_s=5.0, archive_dir=directory / "archive")

    def personal(journal: Journal) -> PersonalStore:
        assert isinstance(journal, RedisJournal)
        return RedisPersonalStore(journal)

    def dump() -> bytes:
        return b"".join(_redis_values(redis.Redis.from_url(server.url)))

    return journal, personal, dump


def _redis_values(client: redis.Redis) -> Iterator[bytes]:
    """Every key and value the server holds."""
    for key in client.scan_iter():
        yield key
        kind = client.type(key)
        if kind == b"string":
            yield client.get(key) or b""
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                yield field + value
        elif kind == b"zset":
            yield from client.zrange(key, 0, -1)
        elif kind == b"stream":
            for _, fields in client.xrange(key):
                yield b"".join(k + v for k, v in fields.items())


@pytest.fixture(params=["sqlite", "redis"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    faults = Faults()
    if request.param == "sqlite":
        journal, personal, dump = _sqlite(tmp_path / "data", faults)
    else:
        server = request.getfixturevalue("redis_server")
        journal, personal, dump = _redis(server, tmp_path, faults)
    clock = VirtualClock()
    runtime = Runtime(load_config(ROOT / "config.toml"), journal, personal, clock=clock)
    harness = Harness(runtime, clock, faults, request.param)
    harness.dump = dump
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        await harness.until_ready()
        yield harness
        await runtime.stop()
        group.cancel_scope.cancel()


def social(external_id: str) -> Submit:
    return Submit(channel="social", source="x", external_id=external_id)


async def test_data_left_by_a_failed_append_is_not_served_on_the_next_interaction(
    harness: Harness,
) -> None:
    runtime = harness.runtime
    before = await runtime.submit(social("before"), None)
    harness.faults.failing_appends = 1
    with pytest.raises(Unavailable):
        await runtime.submit(social("first"), FIRST_CUSTOMER)
    await harness.until_ready()
    # The failed submission was never acknowledged: the next one takes its id.
    second = await runtime.submit(social("second"), None)
    assert second.interaction.id == before.interaction.id + 1
    data = await runtime.personal_data(second.interaction.id)
    assert data == {"external_id": "second", "notes": [], "parties": [], "messages": []}


async def test_data_left_by_a_failed_append_is_removed_at_recovery(harness: Harness) -> None:
    runtime = harness.runtime
    await runtime.submit(social("before"), {"text": "a neighbour"})
    harness.faults.failing_appends = 1
    with pytest.raises(Unavailable):
        await runtime.submit(social("first"), FIRST_CUSTOMER)
    await harness.until_ready()
    assert SECRET.encode() not in harness.dump()
    assert b"a neighbour" in harness.dump()


async def test_erasure_removes_whatever_is_held_at_the_id(harness: Harness) -> None:
    runtime = harness.runtime
    created = await runtime.submit(social("once"), FIRST_CUSTOMER)
    assert await runtime.erase(created.interaction.id) is True
    assert await runtime.personal_data(created.interaction.id) is None
    assert SECRET.encode() not in harness.dump()


async def test_data_whose_digest_the_journal_does_not_hold_is_not_served_after_the_work_left(
    harness: Harness,
) -> None:
    runtime = harness.runtime
    created = await runtime.submit(social("kept"), {"text": "le vrai message"})
    interaction_id = created.interaction.id
    await runtime.execute(Close(interaction_id=interaction_id))
    harness.clock.now += 3 * DAY
    await runtime.submit(social("later"), None)  # a batch: the closed work leaves the live state
    assert runtime.engine is not None
    assert interaction_id not in runtime.engine.state.interactions
    assert await runtime.personal_data(interaction_id) == {
        "external_id": "kept",
        "text": "le vrai message",
        "notes": [],
        "parties": [],
        "messages": [],
    }
    # Something else written at that id, under a digest the journal never held, is not served.
    assert runtime.personal is not None
    await runtime.personal.put_many([_sealed(interaction_id, {"text": SECRET})])
    assert await runtime.personal_data(interaction_id) == {
        "external_id": "kept",
        "text": "le vrai message",
        "notes": [],
        "parties": [],
        "messages": [],
    }


def _sealed(interaction_id: int, data: dict[str, Any]) -> Any:
    from aiguillage.adapters.stores.personal import Sealed, seal

    digest, salt, canonical = seal(data)
    return Sealed(interaction_id, digest, salt, canonical, 0)
