"""The access log through the runtime: whose reads are recorded, per day for a bearer token, and
trimmed by the daily housekeeping while the rest still verifies.

The runtime runs in process on a real SQLite journal, driven by a virtual clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.access_log import Via, via
from aiguillage.adapters.stores.actors import Actor, acting_as
from aiguillage.adapters.stores.sqlite.access_log import SQLiteAccessLog
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore
from aiguillage.adapters.stores.urls import personal_path_of
from aiguillage.engine.commands import Close, Submit
from aiguillage.engine.instants import SECOND
from tests.adapters.daemon.test_runtime import VirtualClock
from tests.adapters.daemons import ROOT

pytestmark = pytest.mark.anyio

DAY = 86_400 * SECOND
READER = Actor("token", "12", "supervisor")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[Runtime, VirtualClock]]:
    path = tmp_path / "journal.sqlite"
    clock = VirtualClock()
    runtime = Runtime(
        load_config(ROOT / "config.toml"),
        lambda: SQLiteJournal(path),
        lambda journal: SQLitePersonalStore(personal_path_of(path)),
        clock=clock,
        access_factory=lambda journal: SQLiteAccessLog(path),
    )
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        with anyio.fail_after(30):
            while not runtime.ready:
                await anyio.sleep(0.01)
        yield runtime, clock
        await runtime.stop()
        group.cancel_scope.cancel()


async def submitted(runtime: Runtime, external_id: str) -> int:
    submit = Submit(channel="social", source="x", external_id=external_id)
    receipt = await runtime.submit(submit, {"text": "Bus 42 en retard"})
    return receipt.interaction.id


async def entries(runtime: Runtime) -> list[tuple[int, str, str]]:
    assert runtime.access.log is not None
    records = await runtime.access.log.records_after(0, 100)
    return [(r.entry.interaction_id, r.entry.by.kind, r.entry.session) for r in records]


async def test_only_people_s_reads_are_recorded_and_a_token_s_once_a_day(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    service, clock = runtime
    interaction_id = await submitted(service, "a")
    await service.personal_data(interaction_id)  # no actor: the daemon's own read
    with acting_as(Actor("channel", "x")):
        await service.pieces(interaction_id)  # a channel sending the answer
    assert await entries(service) == []
    with acting_as(READER):
        via.set(Via(f"GET /v1/interactions/{interaction_id}/personal-data"))
        await service.personal_data(interaction_id)
        await service.pieces(interaction_id)
        assert not await service.erased(interaction_id)  # a check, not a read
        clock.now += DAY
        await service.personal_data(interaction_id)
    (first_day, _, first), (_, _, second) = await entries(service)
    assert first_day == interaction_id
    assert (first, second) == ("2027-01-04", "2027-01-05")


async def test_the_housekeeping_trims_old_entries_and_the_rest_still_verifies(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    service, clock = runtime
    old = await submitted(service, "old")
    with acting_as(READER):
        await service.personal_data(old)
    await service.execute(Close(interaction_id=old))  # closed: retention applies to its data
    days = service.settings.retention_days().access_log
    clock.now += (days - 1) * DAY
    recent = await submitted(service, "recent")
    with acting_as(READER):
        await service.personal_data(recent)
    clock.now += 2 * DAY
    await submitted(service, "a batch")  # the housekeeping runs with the first batch of the hour
    log = service.access.log
    assert log is not None
    # What is left: the recent read, and the retention's erasure of the old one's data (past
    # its 365 days too), recorded by the same daily pass.
    left = [(recent, "read"), (old, "erasure")]
    with anyio.fail_after(10):
        while [(r.entry.interaction_id, r.entry.kind) for r in await log.records_after(0, 10)] != (
            left
        ):
            await anyio.sleep(0.01)
    verification = await log.verify()
    assert verification.ok, verification.reason
    assert verification.checked == 2
