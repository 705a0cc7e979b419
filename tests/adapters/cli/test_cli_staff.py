"""``aiguillage staff erlang``: the Erlang figures from the command line, as text or JSON."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from aiguillage.adapters.cli.staff import staff_app
from aiguillage.simulations.erlang import smallest_agents, staffing

runner = CliRunner()
app = typer.Typer()
app.add_typer(staff_app, name="staff")

# The callcentrehelper.com worked example: 100 calls per half hour, AHT 180 s, 20 s target.
DEMAND = ["--rate-per-hour", "200", "--aht", "180", "--target", "20"]
KEYS = {
    "model",
    "rate_per_hour",
    "aht_s",
    "target_s",
    "patience_s",
    "agents",
    "wait_probability",
    "service_level",
    "asa_s",
    "occupancy",
    "abandon_rate",
}


def erlang(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["staff", "erlang", *DEMAND, "--json", *args])
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def test_json_with_agents_gives_the_erlang_c_figures() -> None:
    answer = erlang("--agents", "14")
    figures = staffing(rate_per_s=200 / 3600, aht_s=180, agents=14, target_s=20)
    assert set(answer) == KEYS
    assert answer["model"] == "erlang_c"
    assert (answer["rate_per_hour"], answer["aht_s"], answer["target_s"]) == (200, 180, 20)
    assert answer["patience_s"] is None
    assert answer["abandon_rate"] is None
    assert answer["agents"] == 14
    assert answer["wait_probability"] == figures.wait_probability
    assert answer["service_level"] == figures.service_level
    assert answer["asa_s"] == figures.asa_s
    assert answer["occupancy"] == figures.occupancy
    assert answer["service_level"] == pytest.approx(0.8883500191794669)


def test_json_with_a_service_level_gives_the_fewest_agents() -> None:
    answer = erlang("--service-level", "0.8")
    assert answer["agents"] == 14
    assert (
        answer["service_level"]
        == staffing(rate_per_s=200 / 3600, aht_s=180, agents=14, target_s=20).service_level
    )


def test_json_with_patience_gives_the_erlang_a_figures() -> None:
    answer = erlang("--service-level", "0.8", "--patience", "300")
    figures = smallest_agents(0.8, rate_per_s=200 / 3600, aht_s=180, target_s=20, patience_s=300)
    assert set(answer) == KEYS
    assert answer["model"] == "erlang_a"
    assert answer["patience_s"] == 300
    assert answer["agents"] == figures.agents
    assert answer["abandon_rate"] == figures.abandon_rate
    assert answer["service_level"] == figures.service_level
    assert answer["asa_s"] == figures.asa_s


def test_json_prints_one_object_and_nothing_else() -> None:
    result = runner.invoke(app, ["staff", "erlang", *DEMAND, "--agents", "14", "--json"])
    assert result.stdout.count("\n") == 1
    assert isinstance(json.loads(result.stdout), dict)


def test_the_plain_output_is_an_aligned_table() -> None:
    result = runner.invoke(app, ["staff", "erlang", *DEMAND, "--agents", "14"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "wait probability         17.41%" in lines
    assert "service level            88.84% within 20 s" in lines
    assert "average speed of answer  7.8 s" in lines
    assert "occupancy                71.43%" in lines
    assert not any(line.startswith("abandon rate") for line in lines)


def test_the_plain_output_shows_abandonment_with_patience() -> None:
    result = runner.invoke(
        app, ["staff", "erlang", *DEMAND, "--service-level", "0.8", "--patience", "300"]
    )
    assert result.exit_code == 0, result.output
    assert "agents                   13 (the fewest answering 80.00% within 20 s)" in result.stdout
    assert "abandon rate             2.50%" in result.stdout


@pytest.mark.parametrize(
    "choice", [[], ["--agents", "14", "--service-level", "0.8"]], ids=["neither", "both"]
)
def test_exactly_one_of_agents_and_service_level_is_required(choice: list[str]) -> None:
    result = runner.invoke(app, ["staff", "erlang", *DEMAND, *choice])
    assert result.exit_code == 2
    assert "give exactly one" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--service-level", "80"], "--service-level"),
        (["--agents", "0"], "--agents"),
        (["--agents", "14", "--patience", "-5"], "--patience"),
    ],
)
def test_a_value_out_of_range_is_a_usage_error(args: list[str], option: str) -> None:
    result = runner.invoke(app, ["staff", "erlang", *DEMAND, *args])
    assert result.exit_code == 2
    assert option in result.output


def test_a_negative_rate_is_a_usage_error() -> None:
    result = runner.invoke(
        app, ["staff", "erlang", "--rate-per-hour", "-2", "--aht", "180", "--target", "20"]
    )
    assert result.exit_code == 2
    assert "--rate-per-hour" in result.output


def test_an_unstable_queue_exits_1_with_a_message_and_no_traceback() -> None:
    result = runner.invoke(app, ["staff", "erlang", *DEMAND, "--agents", "10"])
    assert result.exit_code == 1
    assert "the load of 10 erlangs needs more than 10 agents" in result.stderr
    assert "--patience" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_the_same_agents_with_patience_are_stable() -> None:
    answer = erlang("--agents", "10", "--patience", "300")
    assert answer["model"] == "erlang_a"
    assert 0 < answer["abandon_rate"] < 1  # type: ignore[operator]


def test_an_unreachable_target_exits_1_with_a_message() -> None:
    too_many_calls = ["--rate-per-hour", "1e9", "--aht", "180", "--target", "20"]
    result = runner.invoke(app, ["staff", "erlang", *too_many_calls, "--service-level", "0.8"])
    assert result.exit_code == 1
    assert "no staffing up to 100,000 agents" in result.stderr
    assert "Traceback" not in result.output
