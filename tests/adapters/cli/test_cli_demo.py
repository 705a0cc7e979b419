"""``aiguillage demo`` shows the engine at work on the reference configuration."""

from __future__ import annotations

from typer.testing import CliRunner

from aiguillage.adapters.cli.main import app
from aiguillage.adapters.config.settings import default_config_path

runner = CliRunner()


def demo(*args: str) -> str:
    wide = {"COLUMNS": "200"}  # one table row per line, as on a wide terminal
    result = runner.invoke(app, ["demo", "--config", str(default_config_path()), *args], env=wide)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_demo_shows_decisions_with_their_reasons_and_each_channel() -> None:
    output = demo("--hours", "2", "--decisions", "3")
    assert "First routing decisions" in output
    assert "idle advisor: best of" in output
    for channel in ("voice", "written", "social"):
        assert channel in output


def test_the_demo_is_the_same_for_the_same_seed() -> None:
    assert demo("--hours", "1", "--seed", "4") == demo("--hours", "1", "--seed", "4")


def test_a_broken_configuration_is_reported_without_a_traceback() -> None:
    result = runner.invoke(app, ["demo", "--config", "/nonexistent/config.toml"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
