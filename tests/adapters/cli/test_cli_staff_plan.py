"""``aiguillage staff plan`` writes a plan that ``simulate --plan`` runs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aiguillage.adapters.cli.main import app
from aiguillage.adapters.config.settings import default_config_path

runner = CliRunner()
CONFIG = ["--config", str(default_config_path())]


def test_the_plan_is_written_and_checked_by_simulation(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    result = runner.invoke(
        app, ["staff", "plan", *CONFIG, "--csv", str(plan)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    lines = plan.read_text().splitlines()
    assert lines[0] == "start,voice,written,social"
    assert len(lines) == 1 + 7 * 48
    assert "simulated with the plan: voice service level" in result.stdout


def test_simulate_runs_a_plan_instead_of_the_roster(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    made = runner.invoke(app, ["staff", "plan", *CONFIG, "--csv", str(plan), "--no-check"])
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["simulate", *CONFIG, "--days", "1", "--plan", str(plan), "--json"])
    assert result.exit_code == 0, result.output
    channels = json.loads(result.stdout)["channels"]
    assert all(c["offered"] > 0 for c in channels)


def test_a_broken_plan_is_reported_without_a_traceback(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text("start,voice\n2027-01-04T07:00:00,2\n")
    result = runner.invoke(app, ["simulate", *CONFIG, "--plan", str(plan)])
    assert result.exit_code == 1
    assert "has no UTC offset" in result.output
    assert "Traceback" not in result.output


def test_a_malformed_week_is_a_usage_error() -> None:
    result = runner.invoke(app, ["staff", "plan", *CONFIG, "--week", "next monday"])
    assert result.exit_code == 2


def test_a_plan_missing_a_busy_channel_is_refused(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    runner.invoke(app, ["staff", "plan", *CONFIG, "--csv", str(plan), "--no-check"])
    lines = plan.read_text().splitlines()
    plan.write_text("\n".join(",".join(line.split(",")[:2]) for line in lines) + "\n")
    result = runner.invoke(app, ["simulate", *CONFIG, "--plan", str(plan)])
    assert result.exit_code == 1
    assert "no `written` column" in result.output


def test_a_plan_that_does_not_cover_the_run_is_refused(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    runner.invoke(app, ["staff", "plan", *CONFIG, "--csv", str(plan), "--no-check"])
    result = runner.invoke(
        app,
        ["simulate", *CONFIG, "--plan", str(plan), "--from", "2027-01-11", "--to", "2027-01-11"],
    )
    assert result.exit_code == 1
    assert "the plan covers 2027-01-04T00:00:00+01:00 to 2027-01-11T00:00:00+01:00" in result.output


def test_hours_to_schedule_are_the_floor_hours_over_one_minus_the_shrinkage(
    tmp_path: Path,
) -> None:
    plan = tmp_path / "plan.csv"
    result = runner.invoke(
        app,
        ["staff", "plan", *CONFIG, "--csv", str(plan), "--no-check", "--shrinkage", "0.3"],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in plan.read_text().splitlines()[1:]]
    monday = [row for row in rows if row[0].startswith("2027-01-04")]
    floor_hours = sum(int(row[2]) for row in monday) / 2  # written, half-hours
    monday_line = next(line for line in result.stdout.splitlines() if "Mon 04" in line)
    cells = [cell.strip() for cell in monday_line.split("│") if cell.strip()]
    assert cells[-2] == f"{floor_hours / 0.7:.1f}"  # written hours to schedule


def test_the_plan_keeps_the_occupancy_it_claims_when_simulated(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    made = runner.invoke(
        app,
        ["staff", "plan", *CONFIG, "--csv", str(plan), "--no-check", "--max-occupancy", "0.85"],
        env={"COLUMNS": "300"},
    )
    assert made.exit_code == 0, made.output
    assert "each channel's occupancy at most 85%" in made.stdout
    result = runner.invoke(app, ["simulate", *CONFIG, "--plan", str(plan), "--json"])
    assert result.exit_code == 0, result.output
    occupancy = {c["channel"]: c["occupancy"] for c in json.loads(result.stdout)["channels"]}
    assert set(occupancy) == {"voice", "written", "social"}
    assert all(0 < share <= 0.85 for share in occupancy.values()), occupancy
