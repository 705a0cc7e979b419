"""``aiguillage simulate`` on the reference configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiguillage.adapters.cli.main import app
from aiguillage.adapters.config.settings import default_config_path

runner = CliRunner()
CONFIG = ["--config", str(default_config_path())]


def run(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["simulate", *CONFIG, "--json", *args])
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def test_json_is_one_object_with_each_channel() -> None:
    answer = run("--days", "1", "--seed", "2")
    channels = answer["channels"]
    assert isinstance(channels, list)
    assert [c["channel"] for c in channels] == ["voice", "written", "social"]
    assert {"service_level", "penalties_eur", "p90_wait_s", "occupancy"} <= set(channels[0])


def test_the_same_seed_prints_the_same_json() -> None:
    assert run("--days", "1", "--seed", "2") == run("--days", "1", "--seed", "2")


def test_from_and_to_choose_the_days() -> None:
    answer = run("--from", "2027-02-01", "--to", "2027-02-02")
    assert answer["start"] == "2027-02-01T00:00:00+01:00"
    assert answer["end"] == "2027-02-03T00:00:00+01:00"


def test_replications_give_estimates_with_intervals() -> None:
    answer = run("--days", "1", "--replications", "3")
    runs = answer["runs"]
    assert isinstance(runs, list)
    assert [r["seed"] for r in runs] == [1, 2, 3]
    estimate = answer["estimates"]["social"]["service_level"]  # type: ignore[index]
    assert estimate["low"] <= estimate["mean"] <= estimate["high"]


def test_an_unknown_strategy_is_a_usage_error() -> None:
    result = runner.invoke(app, ["simulate", *CONFIG, "--strategy", "coin-toss"])
    assert result.exit_code == 2
    assert "unknown strategy 'coin-toss'" in result.output


def test_days_and_from_to_together_are_refused() -> None:
    result = runner.invoke(
        app, ["simulate", *CONFIG, "--days", "2", "--from", "2027-01-04", "--to", "2027-01-05"]
    )
    assert result.exit_code == 2
    assert "not both" in result.output


def test_the_plain_output_is_a_table_per_channel() -> None:
    result = runner.invoke(app, ["simulate", *CONFIG, "--days", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for word in ("voice", "written", "social", "within SLA", "penalties", "occupancy"):
        assert word in result.stdout


def test_the_report_is_written_where_asked(tmp_path: Path) -> None:
    report = tmp_path / "week.html"
    result = runner.invoke(app, ["simulate", *CONFIG, "--days", "1", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert str(report) in result.stdout.replace("\n", "")


def test_a_report_that_cannot_be_written_is_an_error_without_traceback(tmp_path: Path) -> None:
    report = tmp_path / "missing" / "week.html"
    result = runner.invoke(app, ["simulate", *CONFIG, "--days", "1", "--report", str(report)])
    assert result.exit_code == 1
    assert "cannot write the report" in result.output
    assert "Traceback" not in result.output


def test_callbacks_taken_are_printed_apart(tmp_path: Path) -> None:
    # Three times the reference calls, half the callers offered a callback taking it.
    text = default_config_path().read_text(encoding="utf-8")
    assert "\naccept = 0.0 " in text
    assert "\nphone = 40000\n" in text
    config = tmp_path / "config.toml"
    config.write_text(
        text.replace("\naccept = 0.0 ", "\naccept = 0.5 ").replace(
            "\nphone = 40000\n", "\nphone = 120000\n"
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["simulate", "--config", str(config), "--days", "2"])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if "callbacks:" in line]
    assert line.startswith("voice callbacks: ")
    answer = json.loads(
        runner.invoke(app, ["simulate", "--config", str(config), "--days", "2", "--json"]).stdout
    )
    voice = answer["channels"][0]
    assert voice["callbacks_requested"] > 0
    assert f"{voice['callbacks_requested']:,} asked for" in line
    assert voice["callbacks_requested"] == (
        voice["callbacks_reached"] + voice["callbacks_unreached"] + voice["callbacks_open"]
    )


def test_a_run_written_into_a_journal_is_read_by_the_report(tmp_path: Path) -> None:
    """Three simulated days of March into a journal: every interaction the simulator counts is
    in the month's report, counted or pending at its end (each due within the month), with the
    same answers, abandons and waits; the calls, all settled, have the simulator's breaches and
    service level. Social messages late and unanswered when the run stops are pending in the
    report (counted when settled) where the simulator counts them missed already."""
    journal = tmp_path / "simulated.sqlite"
    simulated = run("--from", "2027-03-01", "--to", "2027-03-03", "--journal", str(journal))
    store = ["--store", f"sqlite:///{journal}"]
    verified = runner.invoke(app, ["replay", *CONFIG, *store, "--verify"])
    assert verified.exit_code == 0, verified.output
    shown = runner.invoke(
        app, ["report", "month", *CONFIG, *store, "--month", "2027-03", "--format", "json"]
    )
    assert shown.exit_code == 0, shown.output
    month = json.loads(shown.stdout)["month"]
    reported = {row["channel"]: row for row in month["channels"]}
    channels = simulated["channels"]
    assert isinstance(channels, list)
    for ran in channels:
        row = reported[ran["channel"]]
        pending = sum(1 for p in month["pending"] if p["channel"] == ran["channel"])
        assert row["received"] + pending == ran["offered"] > 0, ran["channel"]
        assert (row["answered"], row["abandoned"]) == (ran["answered"], ran["abandoned"])
        assert row["short_abandons"] == ran["short_abandons"]
        assert row["asa_s"] == pytest.approx(ran["mean_wait_s"]) or row["answered"] == 0
    voice = next(ran for ran in channels if ran["channel"] == "voice")
    assert reported["voice"]["breaches"] == voice["breaches"]
    assert reported["voice"]["service_level"] == voice["service_level"]
    assert not any(p["channel"] == "voice" for p in month["pending"])


def test_a_journal_is_new_and_holds_one_run(tmp_path: Path) -> None:
    existing = tmp_path / "journal.sqlite"
    existing.write_bytes(b"")
    kept = runner.invoke(app, ["simulate", *CONFIG, "--days", "1", "--journal", str(existing)])
    assert kept.exit_code == 1
    assert "exists" in kept.output
    several = runner.invoke(
        app,
        ["simulate", *CONFIG, "--days", "1", "--replications", "2", "--journal",
         str(tmp_path / "new.sqlite")],
    )  # fmt: skip
    assert several.exit_code == 2
    assert "--journal" in several.output
    assert not (tmp_path / "new.sqlite").exists()


def test_a_run_with_callbacks_written_into_a_journal_has_the_simulators_callbacks(
    tmp_path: Path,
) -> None:
    """Six times the reference calls, half the callers told a long wait taking the callback
    offered, three in ten of the calls made to them answered: the month's report of the run's
    journal counts the callbacks the simulator counted, with its service levels."""
    text = default_config_path().read_text(encoding="utf-8")
    changes = {
        "\naccept = 0.0 ": "\naccept = 0.5 ",
        "\nreach = 0.8 ": "\nreach = 0.3 ",
        "\nphone = 40000\n": "\nphone = 240000\n",
    }
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    journal = tmp_path / "simulated.sqlite"
    given = ["--config", str(config)]
    result = runner.invoke(
        app,
        ["simulate", *given, "--json", "--from", "2027-03-01", "--to", "2027-03-03",
         "--journal", str(journal)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ran = next(c for c in json.loads(result.stdout)["channels"] if c["channel"] == "voice")
    shown = runner.invoke(
        app,
        ["report", "month", *given, "--store", f"sqlite:///{journal}", "--month", "2027-03",
         "--format", "json"],
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    month = json.loads(shown.stdout)["month"]
    voice = next(row for row in month["channels"] if row["channel"] == "voice")
    assert ran["callbacks_requested"] > 0
    assert ran["callbacks_unreached"] > 0
    counts = ("requested", "reached", "unreached", "open")
    assert {name: voice[f"callbacks_{name}"] for name in counts} == {
        name: ran[f"callbacks_{name}"] for name in counts
    }
    assert voice["callbacks_within"] == ran["callbacks_requested_within_sla"]
    assert voice["callbacks_made_within"] == ran["callbacks_made_within_target"]
    assert voice["service_level"] == pytest.approx(ran["service_level"])
    assert voice["callback_service_level"] == pytest.approx(ran["callback_service_level"])
