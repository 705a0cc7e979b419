"""The daily retention pass through the runtime: each category's pieces past its period go and
are counted in the metrics, the others stay readable, and the journal still verifies.

The runtime runs in process on a real SQLite journal, driven by a virtual clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import msgspec
import pytest

from aiguillage.adapters.channels.asterisk.settings import AsteriskSettings
from aiguillage.adapters.config.settings import load_config_bytes
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.supervisor import Supervisor
from aiguillage.adapters.stores.actors import Actor, acting_as
from aiguillage.adapters.stores.sqlite.access_log import SQLiteAccessLog
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal, verify_file
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore
from aiguillage.adapters.stores.urls import personal_path_of
from aiguillage.engine.commands import Close, Submit
from aiguillage.engine.instants import SECOND
from tests.adapters.daemon.test_runtime import VirtualClock
from tests.adapters.daemons import ROOT

pytestmark = pytest.mark.anyio

DAY = 86_400 * SECOND
READER = Actor("token", "12", "supervisor")
REFERENCE = (ROOT / "config.toml").read_text()
RETENTION = """[retention]
messages_days = 30
attachments_days = 7
recordings_days = 20
access_log_days = 10

"""
ATTACHED = {"text": "ci-joint", "attachments": [{"name": "a.pdf", "size": 3, "data": "YWJj"}]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[Runtime, VirtualClock, Path]]:
    block = REFERENCE[REFERENCE.index("[retention]") : REFERENCE.index("[outbox]")]
    text = REFERENCE.replace(block, RETENTION)
    loaded = load_config_bytes(text.encode(), str(ROOT / "config.toml"))
    path = tmp_path / "journal.sqlite"
    clock = VirtualClock()
    runtime = Runtime(
        loaded,
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
        yield runtime, clock, path
        await runtime.stop()
        group.cancel_scope.cancel()


async def submitted(runtime: Runtime, external_id: str, personal: dict[str, object]) -> int:
    """Submit work and close it: retention applies to the pieces of closed work only."""
    submit = Submit(channel="social", source="x", external_id=external_id)
    receipt = await runtime.submit(submit, personal)
    await runtime.execute(Close(interaction_id=receipt.interaction.id))
    return receipt.interaction.id


def removed(runtime: Runtime, category: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "aiguillage_retention_removed_total", {"category": category}
    )
    return value or 0.0


async def settled(runtime: Runtime, expected: dict[str, float]) -> None:
    with anyio.fail_after(10):
        while {c: removed(runtime, c) for c in expected} != expected:
            await anyio.sleep(0.01)


async def test_the_daily_pass_removes_each_category_past_its_period_and_counts_it(
    runtime: tuple[Runtime, VirtualClock, Path],
) -> None:
    service, clock, path = runtime
    text = await submitted(service, "a", {"text": "Bus 42 en retard"})
    first_file = await submitted(service, "b", ATTACHED)
    with acting_as(READER):
        await service.personal_data(text)
    clock.now += 8 * DAY
    second_file = await submitted(service, "c", ATTACHED)  # a day later: the pass runs
    await settled(service, {"messages": 0, "attachments": 1, "access_log": 0})
    kept_text = await submitted(service, "d", {"text": "Ligne 7 bondée"})
    clock.now += 23 * DAY
    kept_file = await submitted(service, "e", ATTACHED)
    # The read of the first day and the erasure recorded by the first pass are past 10 days.
    await settled(service, {"messages": 1, "attachments": 2, "access_log": 2})

    assert await service.personal_data(text) is None
    assert await service.personal_data(first_file) is None
    assert await service.personal_data(second_file) is None
    assert (await service.personal_data(kept_text) or {})["text"] == "Ligne 7 bondée"
    assert (await service.personal_data(kept_file) or {})["attachments"]
    verification = verify_file(path)
    assert verification.ok, verification.reason
    assert service.access.log is not None
    assert (await service.access.log.verify()).ok
    recorded = [
        (r.entry.interaction_id, r.entry.kind, r.entry.route, r.entry.reason)
        for r in await service.access.log.records_after(0, 10)
    ]
    assert recorded == [
        (text, "erasure", "retention messages", "retention"),
        (second_file, "erasure", "retention attachments", "retention"),
    ]


async def test_recordings_days_replace_each_call_channel_s_own(
    runtime: tuple[Runtime, VirtualClock, Path],
) -> None:
    service, _, _ = runtime
    supervisor = Supervisor(service, adapters=[])
    channel = msgspec.convert({"username": "u", "password_env": "ARI_PASSWORD"}, AsteriskSettings)
    assert channel.recording_retention_days == 183
    retained = supervisor._retained(channel)
    assert isinstance(retained, AsteriskSettings)
    assert retained.recording_retention_days == 20
