"""Terminal tables keep their header words whole at the usual terminal widths."""

from __future__ import annotations

from rich.console import Console
from typer.testing import CliRunner

from aiguillage.adapters.cli.main import app
from aiguillage.adapters.cli.tables import HeadedTable
from aiguillage.adapters.config.settings import default_config_path

runner = CliRunner()
CONFIG = ["--config", str(default_config_path())]
SIMULATE_HEADERS = (
    "channel", "offered", "answered", "abandoned", "within SLA", "target",
    "mean wait", "p90 wait", "breaches", "penalties", "occupancy",
)  # fmt: skip


def _header_words(headers: tuple[str, ...]) -> set[str]:
    return {word for header in headers for word in header.split()}


def test_a_table_of_wide_cells_keeps_every_header_word_at_120_columns() -> None:
    table = HeadedTable(*SIMULATE_HEADERS)
    for channel in ("voice", "written", "social"):
        table.add_row(channel, *["213.5 [3.9 - 423.1]"] * 10)
    console = Console(width=120, record=True)
    console.print(table)
    shown = console.export_text()
    assert max(len(line) for line in shown.splitlines()) <= 120
    assert "…" not in shown
    assert _header_words(SIMULATE_HEADERS) <= set(shown.replace("┃", " ").split())


def test_simulate_with_replications_shows_whole_headers_at_120_columns() -> None:
    result = runner.invoke(
        app,
        ["simulate", *CONFIG, "--days", "1", "--replications", "2"],
        env={"COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    header_lines = result.stdout.split("┡")[0]
    assert "…" not in header_lines
    assert _header_words(SIMULATE_HEADERS) <= set(header_lines.replace("┃", " ").split())


def test_staff_plan_shows_whole_headers_at_70_columns() -> None:
    result = runner.invoke(app, ["staff", "plan", *CONFIG, "--no-check"], env={"COLUMNS": "70"})
    assert result.exit_code == 0, result.output
    header_lines = result.stdout.split("┡")[0]
    assert "…" not in header_lines
    assert {"day", "peak", "written", "social", "schedule"} <= set(
        header_lines.replace("┃", " ").split()
    )
