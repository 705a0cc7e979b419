"""The runtime in process, on a real SQLite journal, driven by a virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from aiguillage.adapters.config import load_config
from aiguillage.adapters.runtime import Runtime
from aiguillage.adapters.serve import build_runtime
from aiguillage.engine.commands import Close, Submit
from aiguillage.engine.instants import SECOND, from_datetime

from .daemon import ROOT

pytestmark = pytest.mark.anyio

HOUR = 3600 * SECOND
DAY = 24 * HOUR


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class VirtualClock:
    """A wall clock the test moves by hand; it never goes back."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = from_datetime(datetime(2027, 1, 4, 8, 0, tzinfo=UTC))

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[Runtime, VirtualClock]]:
    loaded = load_config(ROOT / "config.toml")
    clock = VirtualClock()
    runtime = build_runtime(loaded, tmp_path / "journal.sqlite")
    runtime.clock = clock
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        while not runtime.ready:
            await anyio.sleep(0.01)
        yield runtime, clock
        await runtime.stop()
        group.cancel_scope.cancel()


async def test_memory_stays_flat_over_a_year_of_traffic(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    window = daemon.daemon.idempotency_days * DAY
    live_after = daemon.daemon.live_after_close_s * SECOND
    peak_live = peak_keys = 0

    async def lifecycle(external_id: str) -> None:
        receipt = await daemon.submit(
            Submit(channel="social", source="x", external_id=external_id), None
        )
        await daemon.execute(Close(interaction_id=receipt.interaction.id))

    for _day in range(365):
        # Submitted together, so they share batches (and fsyncs), as concurrent requests do.
        async with anyio.create_task_group() as group:
            for number in range(40):
                group.start_soon(lifecycle, f"post-{_day}-{number}")
        clock.now += DAY
        await lifecycle(f"tick-{_day}")  # a batch at the new day: the timers due fire
        engine = daemon.engine
        assert engine is not None
        peak_live = max(peak_live, len(engine.state.interactions))
        peak_keys = max(peak_keys, len(daemon._keys))
    per_day = 41
    assert peak_live <= per_day * (2 + live_after // DAY)
    assert peak_keys <= per_day * (2 + window // DAY)
    # What left the live state is still read from the journal.
    first = await daemon.stored_view(1)
    assert first is not None
    assert first.status == "closed"


async def test_a_resubmission_after_the_work_left_the_live_state_creates_nothing(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    command = Submit(channel="social", source="x", external_id="once")
    first = await daemon.submit(command, {"text": "bonjour"})
    await daemon.execute(Close(interaction_id=first.interaction.id))
    clock.now += 3 * DAY
    await daemon.execute(Submit(channel="social", source="x", external_id="later"))
    assert daemon.engine is not None
    assert first.interaction.id not in daemon.engine.state.interactions
    again = await daemon.submit(command, {"text": "bonjour encore"})
    assert not again.created
    assert again.interaction.id == first.interaction.id
    assert again.interaction.status == "closed"
