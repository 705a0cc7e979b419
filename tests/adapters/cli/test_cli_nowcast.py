"""``aiguillage nowcast`` from a real SQLite journal, and ``aiguillage nowcast calibrate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiguillage.adapters.cli.main import app
from aiguillage.adapters.config.settings import default_config_path

runner = CliRunner()
CONFIG = ["--config", str(default_config_path())]
TEN = "2027-01-04T10:00:00+01:00"


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulated Monday written into a journal, as the daemon writes its own."""
    path = tmp_path_factory.mktemp("nowcast") / "day.sqlite"
    written = runner.invoke(app, ["simulate", *CONFIG, "--days", "1", "--journal", str(path)])
    assert written.exit_code == 0, written.output
    return path


def nowcast_json(journal: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(
        app,
        ["nowcast", *CONFIG, "--store", f"sqlite:///{journal}", "--json", *args],
    )
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


@pytest.fixture(scope="module")
def at_ten(journal: Path) -> dict[str, Any]:
    return nowcast_json(journal, "--at", TEN, "--replications", "4")


def test_the_nowcast_starts_from_the_journal_at_the_instant_given(at_ten: dict[str, Any]) -> None:
    assert at_ten["at"] == TEN
    assert at_ten["closing"] == "2027-01-05T00:00:00+01:00"
    assert at_ten["replications"] == 4
    # The morning's traffic read from the journal is what the level is judged on.
    assert at_ten["arrived"]["voice"] > 0
    assert at_ten["arrived"]["voice"] == pytest.approx(at_ten["expected_by_now"]["voice"], rel=0.5)


def test_the_same_journal_and_instant_give_the_same_nowcast(
    journal: Path, at_ten: dict[str, Any]
) -> None:
    assert nowcast_json(journal, "--at", TEN, "--replications", "4") == at_ten


def test_each_configured_what_if_is_shown_beside_the_day_as_is(at_ten: dict[str, Any]) -> None:
    assert [v["what_if"] for v in at_ten["variants"]] == [
        "as is",
        "move 2 from written to social",
        "one more on social from 14:00",
    ]


def test_a_later_instant_has_more_of_the_day_behind_it(
    journal: Path, at_ten: dict[str, Any]
) -> None:
    later = nowcast_json(journal, "--at", "2027-01-04T16:00:00+01:00", "--replications", "2")
    assert later["arrived"]["voice"] > at_ten["arrived"]["voice"]


def test_the_plain_output_is_a_table_per_variant(journal: Path) -> None:
    result = runner.invoke(
        app,
        ["nowcast", *CONFIG, "--store", f"sqlite:///{journal}", "--at", TEN, "--replications", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "as is:" in result.stdout
    assert "move 2 from written to social:" in result.stdout


def test_an_instant_without_offset_is_a_usage_error_naming_the_option(journal: Path) -> None:
    result = runner.invoke(
        app, ["nowcast", *CONFIG, "--store", f"sqlite:///{journal}", "--at", "2027-01-04T10:00"]
    )
    assert result.exit_code == 2
    assert "--at" in result.output


def test_a_store_without_journal_is_an_error_saying_so(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["nowcast", *CONFIG, "--store", f"sqlite:///{tmp_path / 'none.sqlite'}"]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_the_calibration_prints_a_line_per_day_and_its_shares() -> None:
    result = runner.invoke(
        app, ["nowcast", "calibrate", *CONFIG, "--days", "2", "--replications", "3", "--seed", "4"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line[:10] for line in lines[1:3]] == ["2027-01-04", "2027-01-05"]
    assert "realised breaches within the 90 % interval:" in result.stdout
