"""A command imports what it runs: ``--help`` and short commands start without the heavy rooms.

Each command runs in a fresh interpreter, which then lists the modules it imported: no timing,
so the check holds on a loaded machine. The daemon's web stack, the channels, the stores and
the reports are imported only by the commands that use them; numpy only by the simulators.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = """
import json, sys
from aiguillage.adapters.cli.main import main
report, sys.argv = sys.argv[1], ["aiguillage", *sys.argv[2:]]
try:
    main()
except SystemExit as exit:
    status = exit.code or 0
else:
    status = 0
with open(report, "w") as out:
    json.dump({"status": status, "modules": sorted(sys.modules)}, out)
"""
"""Run the command line as the console script does, then write the modules it imported."""

HEAVY = (
    "litestar",
    "uvicorn",
    "httpx",
    "cryptography",
    "joserfc",
    "prometheus_client",
    "structlog",
    "redis",
    "anyio",
    "aiguillage.adapters.daemon",
    "aiguillage.adapters.channels",
    "aiguillage.adapters.stores",
    "aiguillage.adapters.reports",
    "aiguillage.adapters.config.settings",
)
"""What a command's start must not import: the daemon's stack, the rooms that touch the world."""

QUEUE = ["--rate-per-hour", "120", "--aht", "240", "--agents", "10", "--target", "180"]


def _imported(tmp_path: Path, *args: str) -> tuple[set[str], str]:
    report = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(report), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probed = json.loads(report.read_text(encoding="utf-8"))
    assert probed["status"] == 0, result.stderr
    return set(probed["modules"]), result.stdout


def _among(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in modules
        if any(name == package or name.startswith(f"{package}.") for package in packages)
    )


def test_the_root_help_imports_no_subcommand(tmp_path: Path) -> None:
    modules, shown = _imported(tmp_path, "--help")
    assert "simulate" in shown
    assert "nowcast" in shown
    ours = {name for name in modules if name.startswith("aiguillage")}
    assert ours <= {
        "aiguillage",
        "aiguillage.adapters",
        "aiguillage.adapters.cli",
        "aiguillage.adapters.cli.lazy",
        "aiguillage.adapters.cli.main",
    }
    assert _among(modules, (*HEAVY, "numpy", "pydantic", "rich", "msgspec")) == []


@pytest.mark.parametrize("command", ["simulate", "staff", "serve"])
def test_a_subcommand_help_imports_neither_the_daemon_nor_numpy_nor_pydantic(
    tmp_path: Path, command: str
) -> None:
    modules, shown = _imported(tmp_path, command, "--help")
    assert f"aiguillage {command}" in shown
    assert _among(modules, (*HEAVY, "numpy", "pydantic")) == []


def test_simulate_queue_imports_the_engine_and_numpy_only(tmp_path: Path) -> None:
    # numpy stays: the queue's arrivals and handling times are drawn with its generators; and
    # pydantic, through which Typer coerces the options' values. Rich prints tables, not JSON.
    modules, shown = _imported(tmp_path, "simulate", "queue", *QUEUE, "--arrivals", "100", "--json")
    assert json.loads(shown)["offered"] == 100
    assert "aiguillage.engine.engine" in modules
    assert _among(modules, (*HEAVY, "rich")) == []


def test_check_config_reads_the_configuration_without_numpy(tmp_path: Path) -> None:
    modules, shown = _imported(tmp_path, "check-config")
    assert shown.rstrip().endswith("OK")
    assert "aiguillage.adapters.config.settings" in modules
    reading = tuple(room for room in HEAVY if room != "aiguillage.adapters.config.settings")
    assert _among(modules, (*reading, "numpy")) == []
