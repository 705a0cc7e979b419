"""Adapter plugins: found through entry points, configured in config.toml, supervised.

Third-party adapters are installed the way pip would leave them: a module and a ``*.dist-info``
directory with its ``entry_points.txt``, on ``sys.path``. Adapters run in a real runtime, in
process, on a real SQLite journal and on a real Redis one.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from aiguillage.adapters.channels.protocol import AdapterContext
from aiguillage.adapters.channels.webhook import WebhookAdapter
from aiguillage.adapters.cli.main import app
from aiguillage.adapters.config.plugins import (
    EnabledAdapter,
    configured_adapters,
    installed_adapters,
)
from aiguillage.adapters.config.settings import ConfigError, load_config
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.serve import build_runtime
from aiguillage.adapters.daemon.supervisor import Supervisor
from aiguillage.adapters.stores.journal import Record, event_type, interaction_of
from aiguillage.adapters.stores.urls import RedisStore
from aiguillage.engine.commands import Close, Submit
from tests.adapters.daemons import ROOT, write_config
from tests.adapters.redis_server import RedisServer

EXAMPLE = ROOT / "docs" / "examples" / "aiguillage-jsonl"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def install(directory: Path, distribution: str, module: str, source: str, entry: str) -> None:
    """Leave a module and its distribution's metadata as ``pip install`` would."""
    (directory / f"{module}.py").write_text(textwrap.dedent(source))
    info = directory / f"{distribution.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[aiguillage.adapters]\n{entry}\n")


def problems_of(directory: Path, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(directory, extra))
    return [str(problem) for problem in caught.value.problems]


# --- discovery and configuration ---------------------------------------------------------------


def test_the_builtin_webhook_registers_through_the_entry_point_group() -> None:
    (entry,) = installed_adapters()["webhook"]
    assert entry.value == "aiguillage.adapters.channels.webhook:WebhookAdapter"
    assert entry.load() is WebhookAdapter


def test_a_third_party_adapter_is_found_and_configured_like_the_builtins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(
        tmp_path,
        "aiguillage-greeter",
        "greeter_adapter",
        """
        import msgspec

        class Greeter:
            class Settings(msgspec.Struct, forbid_unknown_fields=True):
                greeting: str

            subscribes = frozenset({"interaction.arrived"})

            def __init__(self, context):
                self.context = context

            async def run(self):
                pass
        """,
        "greeter = greeter_adapter:Greeter",
    )
    monkeypatch.syspath_prepend(tmp_path)
    tables = {"front-desk": {"plugin": "greeter", "greeting": "hi"}}
    (adapter,), problems = configured_adapters(tables)
    assert problems == []
    assert (adapter.name, adapter.plugin) == ("front-desk", "greeter")
    assert adapter.factory.__module__ == "greeter_adapter"
    assert msgspec.structs.asdict(adapter.settings) == {"greeting": "hi"}
    assert type(adapter.settings) is adapter.factory.Settings


def test_an_adapter_that_cannot_be_imported_is_a_problem_naming_its_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(
        tmp_path,
        "aiguillage-pager",
        "pager_adapter",
        "import a_module_nobody_installed\n",
        "pager = pager_adapter:Pager",
    )
    monkeypatch.syspath_prepend(tmp_path)
    (problem,) = problems_of(tmp_path, "\n[adapters.pager]\nnumber = 1\n")
    assert "adapters.pager: adapter `pager` (pager_adapter:Pager) cannot be loaded: " in problem
    assert "No module named 'a_module_nobody_installed'" in problem
    assert problem.endswith("fix: reinstall aiguillage-pager 1.0, or set enabled = false")


def test_a_settings_problem_names_the_file_line_key_and_fix(tmp_path: Path) -> None:
    extra = '\n[adapters.webhook]\nurl = "ftp://crm.example"\nsecret_env = "CRM_SECRET"\n'
    (problem,) = problems_of(tmp_path, extra)
    text = (tmp_path / "config.toml").read_text()
    line = text.splitlines().index('url = "ftp://crm.example"') + 1
    assert problem.startswith(f"{tmp_path / 'config.toml'}:{line}: adapters.webhook.url: ")
    assert problem.endswith('fix: write a string such as "https://crm.example/aiguillage"')


def test_an_unknown_key_lists_the_accepted_ones(tmp_path: Path) -> None:
    extra = '\n[adapters.webhook]\nurl = "https://x"\nsecret_env = "S"\nretries = 3\n'
    (problem,) = problems_of(tmp_path, extra)
    assert "adapters.webhook.retries: unknown key `retries`" in problem
    assert "accepted keys here: url, secret_env, events, " in problem


def test_an_unknown_adapter_lists_the_installed_ones(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, '\n[adapters.webhok]\nurl = "https://x"\n')
    assert (
        "adapters.webhok: no adapter `webhok` is installed "
        "(installed: asterisk, linkedin, mail, meta, webform, webhook, x, youtube)" in problem
    )
    assert "(did you mean `webhook`?)" in problem


def test_a_disabled_adapter_need_not_be_installed(tmp_path: Path) -> None:
    loaded = load_config(write_config(tmp_path, "\n[adapters.telephony]\nenabled = false\n"))
    assert configured_adapters(loaded.settings.adapters) == ([], [])


def test_check_config_names_each_adapter_and_whether_it_is_enabled(tmp_path: Path) -> None:
    extra = """
[adapters.crm]
plugin = "webhook"
url = "https://crm.example/aiguillage"
secret_env = "CRM_SECRET"

[adapters.warehouse]
plugin = "webhook"
enabled = false
url = "https://dwh.example/ingest"
secret_env = "DWH_SECRET"
"""
    result = CliRunner().invoke(app, ["check-config", str(write_config(tmp_path, extra))])
    assert result.exit_code == 0, result.stderr
    assert "adapters: crm, warehouse (disabled)" in result.stdout


# --- supervision --------------------------------------------------------------------------------


class NoSettings(msgspec.Struct):
    pass


def adapter_class(
    run: Callable[[AdapterContext[Any]], Any], subscribes: frozenset[str] = frozenset()
) -> type[Any]:
    """An adapter class whose ``run`` is the given coroutine function of its context."""

    class TestAdapter:
        Settings = NoSettings

        def __init__(self, context: AdapterContext[Any]) -> None:
            self.context = context
            self.subscribes = subscribes

        async def run(self) -> None:
            await run(self.context)

    return TestAdapter


def enabled(name: str, factory: type[Any]) -> EnabledAdapter:
    return EnabledAdapter(name, name, factory, NoSettings())


def recorder(into: list[Record], subscribes: frozenset[str] = frozenset()) -> type[Any]:
    async def run(context: AdapterContext[Any]) -> None:
        async for record in context.events():
            into.append(record)
            await context.done(record.seq)

    return adapter_class(run, subscribes)


@pytest.fixture(params=["sqlite", "redis"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime on each journal: adapters read events and keep their cursor in either."""
    store: Path | RedisStore = tmp_path / "journal.sqlite"
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        store = RedisStore(server.url, "main", tmp_path / "archive")
    runtime = build_runtime(load_config(ROOT / "config.toml"), store)
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        with anyio.fail_after(10):
            while not runtime.ready:
                await anyio.sleep(0.01)
        yield runtime
        await runtime.stop()
        group.cancel_scope.cancel()


@asynccontextmanager
async def supervising(supervisor: Supervisor) -> AsyncIterator[Supervisor]:
    async with anyio.create_task_group() as group:
        await group.start(supervisor.run)
        yield supervisor
        await supervisor.stop()


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


async def arrive_and_close(runtime: Runtime, external_id: str) -> int:
    command = Submit(channel="social", source="x", external_id=external_id)
    receipt = await runtime.submit(command, None)
    await runtime.execute(Close(interaction_id=receipt.interaction.id))
    return receipt.interaction.id


@pytest.mark.anyio
async def test_a_failing_adapter_is_restarted_with_growing_backoff_and_reported(
    runtime: Runtime,
) -> None:
    starts: list[float] = []

    async def run(context: AdapterContext[Any]) -> None:
        starts.append(time.monotonic())
        if len(starts) <= 3:
            raise RuntimeError("the receiver is down")
        await anyio.sleep_forever()

    flaky = enabled("flaky", adapter_class(run))
    supervisor = Supervisor(runtime, [flaky], backoff_s=0.05, max_backoff_s=0.15)
    async with supervising(supervisor):
        await until(lambda: len(starts) == 4)
        status = supervisor.status()["flaky"]
        metrics = runtime.metrics.render(None, 0, ready=True, journal_ok=True).decode()
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps[0] >= 0.05
    assert gaps[1] >= 0.1
    assert gaps[2] >= 0.15  # doubled, up to the maximum
    assert (status.state, status.restarts) == ("running", 3)
    assert status.last_error == "RuntimeError: the receiver is down"
    assert 'aiguillage_adapter_restarts_total{adapter="flaky"} 3.0' in metrics
    assert 'aiguillage_adapter_up{adapter="flaky"} 1.0' in metrics


@pytest.mark.anyio
async def test_the_backoff_starts_over_once_an_adapter_has_run_steadily(runtime: Runtime) -> None:
    starts: list[float] = []

    async def run(context: AdapterContext[Any]) -> None:
        starts.append(time.monotonic())
        await anyio.sleep(0.15)
        raise RuntimeError("tired")

    tired = enabled("tired", adapter_class(run))
    supervisor = Supervisor(runtime, [tired], backoff_s=0.1, max_backoff_s=5, steady_s=0.1)
    with capture_logs() as logs:
        async with supervising(supervisor):
            await until(lambda: len(starts) == 4)
    # The back-offs it chose, not the gaps measured: a loaded machine only lengthens those.
    backoffs = [
        entry["restart_in_s"]
        for entry in logs
        if entry["event"] == "adapter failed; it restarts later"
    ]
    assert backoffs[:3] == [0.1, 0.1, 0.1]  # without the reset: 0.1, 0.2 then 0.4


@pytest.mark.anyio
async def test_an_adapter_raising_never_stops_the_runtime_nor_the_other_adapters(
    runtime: Runtime,
) -> None:
    async def run(context: AdapterContext[Any]) -> None:
        async with anyio.create_task_group() as group:  # an exception group, even
            group.start_soon(anyio.sleep, 1)
            raise ValueError("a bug in the adapter")

    received: list[Record] = []
    broken = enabled("broken", adapter_class(run))
    healthy = enabled("healthy", recorder(received, frozenset({"interaction.closed"})))
    supervisor = Supervisor(runtime, [broken, healthy], backoff_s=0.01, max_backoff_s=0.02)
    async with supervising(supervisor):
        await until(lambda: supervisor.status()["broken"].restarts >= 3)
        interaction = await arrive_and_close(runtime, "during-the-failures")
        await until(lambda: len(received) == 1)
        assert runtime.ready
        status = supervisor.status()
    assert interaction_of(received[0].event) == interaction
    assert status["broken"].last_error == "ValueError: a bug in the adapter"
    assert status["healthy"].restarts == 0


@pytest.mark.anyio
async def test_subscribing_to_an_unknown_event_type_is_a_failure_that_names_it(
    runtime: Runtime,
) -> None:
    misspelt = enabled("misspelt", recorder([], frozenset({"offer.mad", "offer.made"})))
    supervisor = Supervisor(runtime, [misspelt], backoff_s=0.01)
    async with supervising(supervisor):
        await until(lambda: supervisor.status()["misspelt"].restarts >= 1)
    assert supervisor.status()["misspelt"].last_error.startswith(
        "ValueError: `subscribes` names unknown event types: offer.mad;"
    )


@pytest.mark.anyio
async def test_events_come_in_order_filtered_and_resume_after_the_saved_cursor(
    runtime: Runtime,
) -> None:
    closed: list[Record] = []
    closures = enabled("closures", recorder(closed, frozenset({"interaction.closed"})))
    supervisor = Supervisor(runtime, [closures])
    async with supervising(supervisor):
        ids = [await arrive_and_close(runtime, f"first-{number}") for number in range(3)]
        await runtime.submit(Submit(channel="social", source="x", external_id="open"), None)
        last = (await runtime.records_after(0, 10_000))[-1].seq
        await until(lambda: supervisor.status()["closures"].position == last)
    assert [interaction_of(record.event) for record in closed] == ids
    assert {event_type(record.event) for record in closed} == {"interaction.closed"}
    journal = runtime.journal
    assert journal is not None
    assert await journal.cursor("adapters.closures") == last  # past what it does not want

    everything: list[Record] = []
    newcomer: list[Record] = []
    again = enabled("closures", recorder(everything))
    fresh = enabled("newcomer", recorder(newcomer))
    async with supervising(Supervisor(runtime, [again, fresh])):
        later = await arrive_and_close(runtime, "second")
        end = (await runtime.records_after(last, 10_000))[-1].seq
        await until(lambda: bool(everything and newcomer) and everything[-1].seq == end)
        await until(lambda: newcomer[-1].seq == end)
    assert {interaction_of(record.event) for record in everything} == {later}
    assert everything[0].seq == last + 1
    assert [record.seq for record in newcomer] == list(range(1, end + 1))


def test_the_guides_example_adapter_passes_its_own_test(tmp_path: Path) -> None:
    """The example of docs/adapters.md, installed as pip would, run by its own test."""
    info = tmp_path / "aiguillage_jsonl-0.1.0.dist-info"
    info.mkdir()
    metadata = "Metadata-Version: 2.1\nName: aiguillage-jsonl\nVersion: 0.1.0\n"
    (info / "METADATA").write_text(metadata)
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    entries = project["entry-points"]["aiguillage.adapters"].items()
    lines = [f"{name} = {value}" for name, value in entries]
    (info / "entry_points.txt").write_text("\n".join(["[aiguillage.adapters]", *lines]) + "\n")
    path = os.pathsep.join([str(tmp_path), str(EXAMPLE), *sys.path])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
        env=dict(os.environ, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
