"""``aiguillage token new``: a token shown once, and the config lines that let it in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiguillage.adapters.auth import Tokens
from aiguillage.adapters.cli import app
from aiguillage.adapters.config import ConfigError, load_config

from .daemon import write_config

runner = CliRunner()


def _mint(*args: str) -> tuple[str, str]:
    result = runner.invoke(app, ["token", "new", *args])
    assert result.exit_code == 0, result.output
    token = result.stdout.split("holder): ")[1].split()[0]
    lines = result.stdout.split("add to config.toml:")[1].strip()
    return token, lines


def test_a_minted_advisor_token_authenticates_as_that_advisor(tmp_path: Path) -> None:
    token, lines = _mint("--role", "advisor", "--advisor", "claire.martin", "--label", 'poste "12"')
    assert token not in lines
    config = write_config(tmp_path, "\n" + lines + "\n")
    loaded = load_config(config)
    principal = Tokens.from_settings(loaded.settings, {}).authenticate(token)
    assert principal is not None
    assert principal.role == "advisor"
    assert principal.advisor_id == "claire.martin"
    assert principal.label == 'poste "12"'
    assert Tokens.from_settings(loaded.settings, {}).authenticate(token + "x") is None


def test_two_mints_differ() -> None:
    assert _mint("--role", "supervisor")[0] != _mint("--role", "supervisor")[0]


def test_an_advisor_token_needs_its_advisor_and_roles_are_checked() -> None:
    assert runner.invoke(app, ["token", "new", "--role", "advisor"]).exit_code == 2
    assert runner.invoke(app, ["token", "new", "--role", "boss"]).exit_code == 2
    supervisor_bound = ["token", "new", "--role", "supervisor", "--advisor", "claire.martin"]
    assert runner.invoke(app, supervisor_bound).exit_code == 2


def test_the_environment_admin_token_is_an_admin() -> None:
    loaded = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    tokens = Tokens.from_settings(loaded.settings, {"AIGUILLAGE_ADMIN_TOKEN": "s3cret"})
    principal = tokens.authenticate("s3cret")
    assert principal is not None
    assert principal.role == "admin"
    assert (
        Tokens.from_settings(
            loaded.settings, dict(os.environ, AIGUILLAGE_ADMIN_TOKEN="")
        ).authenticate("")
        is None
    )


def test_an_advisor_token_without_its_advisor_is_a_config_problem(tmp_path: Path) -> None:
    entry = '\n[[tokens]]\nsha256 = "' + "a" * 64 + '"\nrole = "advisor"\n'
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, entry))
    problem = next(p for p in caught.value.problems if p.key.endswith("advisor"))
    assert problem.key.startswith("tokens[")
    assert "must name the advisor" in problem.message
    assert problem.line is not None
