"""``aiguillage sla deadline``: the contract's arithmetic from the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aiguillage.adapters.cli.main import app
from aiguillage.adapters.config.settings import default_config_path

runner = CliRunner()


def deadline(*args: str) -> dict[str, object]:
    result = runner.invoke(
        app, ["sla", "deadline", "--config", str(default_config_path()), "--json", *args]
    )
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def test_the_written_example_of_the_contract() -> None:
    answer = deadline("--channel", "written", "--at", "2026-12-24T19:00:00+01:00")
    assert answer["deadline"] == "2026-12-30T20:00:00+01:00"
    assert answer["received_at"] == "2026-12-24T19:00:00+01:00"
    assert answer["channel"] == "written"


def test_any_offset_is_accepted_and_the_answer_is_in_paris_time() -> None:
    answer = deadline("--channel", "voice", "--at", "2026-07-01T08:00:00Z")
    assert answer["received_at"] == "2026-07-01T10:00:00+02:00"
    assert answer["deadline"] == "2026-07-01T10:03:00+02:00"


def test_a_social_message_across_the_spring_change_gets_four_elapsed_hours() -> None:
    answer = deadline("--channel", "social", "--at", "2026-03-28T23:30:00+01:00")
    assert answer["deadline"] == "2026-03-29T04:30:00+02:00"
    assert answer["within_business_hours"] is False


def test_a_social_message_in_business_hours_gets_two_hours() -> None:
    answer = deadline("--channel", "social", "--at", "2026-12-01T10:00:00+01:00")
    assert answer["deadline"] == "2026-12-01T12:00:00+01:00"


@pytest.mark.parametrize("value", ["2026-12-24T19:00:00", "2026-12-24"])
def test_a_time_without_offset_is_refused_with_a_clear_message(value: str) -> None:
    result = runner.invoke(app, ["sla", "deadline", "--channel", "voice", "--at", value])
    assert result.exit_code == 2
    assert "no UTC offset" in result.output
    assert "Traceback" not in result.output


def test_a_garbled_time_is_refused_with_an_example() -> None:
    result = runner.invoke(app, ["sla", "deadline", "--channel", "voice", "--at", "yesterday"])
    assert result.exit_code == 2
    assert "not an ISO-8601 datetime" in result.output


def test_the_plain_output_names_each_field() -> None:
    result = runner.invoke(
        app, ["sla", "deadline", "--channel", "written", "--at", "2026-12-24T19:00:00+01:00"]
    )
    assert result.exit_code == 0
    assert "deadline               2026-12-30T20:00:00+01:00" in result.stdout


def test_the_social_reading_is_the_configured_one_unless_another_is_asked_for() -> None:
    literal = deadline("--channel", "social", "--at", "2026-06-16T06:59:00+02:00")
    assert literal["deadline"] == "2026-06-16T10:59:00+02:00"
    monotonic = deadline(
        "--channel", "social", "--at", "2026-06-16T06:59:00+02:00", "--reading", "monotonic"
    )
    assert monotonic["deadline"] == "2026-06-16T09:00:00+02:00"
    assert "never due after a message received later" in str(monotonic["rule"])


def test_a_reading_for_an_sla_without_business_hours_is_refused() -> None:
    arguments = ["--channel", "voice", "--at", "2026-06-16T06:59:00+02:00"]
    result = runner.invoke(app, ["sla", "deadline", *arguments, "--reading", "monotonic"])
    assert result.exit_code == 2
    assert "not a business-hours one" in result.output
