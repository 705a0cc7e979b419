"""The adapter in a real runtime, in process, on a real SQLite journal: no mocks."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import anyio
import pytest

from aiguillage.adapters.config.settings import load_config_bytes
from aiguillage.adapters.daemon.serve import build_runtime
from aiguillage.adapters.daemon.supervisor import Supervisor
from aiguillage.engine.commands import Close, Submit

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_arrivals_and_closures_are_appended_in_order(tmp_path: Path) -> None:
    out = tmp_path / "interactions.jsonl"
    reference = resources.files("aiguillage.adapters.config") / "reference.toml"
    config = reference.read_bytes() + f"\n[adapters.jsonl]\npath = '{out}'\n".encode()
    runtime = build_runtime(load_config_bytes(config, "test"), tmp_path / "journal.sqlite")
    adapters = Supervisor(runtime)  # found through the entry point, as `serve` finds it
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        await group.start(adapters.run)
        while not runtime.ready:
            await anyio.sleep(0.01)
        receipt = await runtime.submit(Submit(channel="social", source="x", external_id="1"), None)
        await runtime.execute(Close(interaction_id=receipt.interaction.id))
        with anyio.fail_after(10):
            while len(lines(out)) < 2:
                await anyio.sleep(0.05)
        await adapters.stop()
        await runtime.stop()
        group.cancel_scope.cancel()
    assert adapters.status()["jsonl"].restarts == 0
    written = [line["event"] for line in lines(out)]
    assert [event["type"] for event in written] == ["interaction.arrived", "interaction.closed"]
    assert {event["interaction_id"] for event in written} == {receipt.interaction.id}
