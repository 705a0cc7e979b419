"""``[daemon] session_idle_s`` and ``[oidc]``: a bad value names the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiguillage.adapters.config.settings import Problem, load_config, validate_config
from tests.adapters.config.test_config import MINIMAL

OIDC = """
[oidc]
issuer = "https://login.example.fr/realms/desk"
client_id = "aiguillage"
redirect_url = "https://desk.example.fr/app/oidc/callback"
"""


def only_problem(tmp_path: Path, text: str) -> Problem:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    problems = validate_config(path)
    assert len(problems) == 1, problems
    assert problems[0].file == str(path)
    return problems[0]


def test_the_idle_time_out_of_sessions_defaults_to_half_an_hour(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL)
    assert load_config(path).settings.daemon.session_idle_s == 1800
    path.write_text(MINIMAL + "\n[daemon]\nsession_idle_s = 600\n")
    assert load_config(path).settings.daemon.session_idle_s == 600


@pytest.mark.parametrize("value", ["0", "-5", '"half an hour"'])
def test_an_idle_time_out_that_is_not_a_positive_number_is_refused(
    tmp_path: Path, value: str
) -> None:
    problem = only_problem(tmp_path, MINIMAL + f"\n[daemon]\nsession_idle_s = {value}\n")
    assert problem.key == "daemon.session_idle_s"
    assert problem.line == MINIMAL.count("\n") + 3
    assert "number" in problem.fix


def test_oidc_with_groups_mapped_to_roles_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL + OIDC + '\n[oidc.group_roles]\nleads = "supervisor"\n')
    oidc = load_config(path).settings.oidc
    assert oidc is not None
    assert dict(oidc.group_roles) == {"leads": "supervisor"}
    assert oidc.client_secret_env == "AIGUILLAGE_OIDC_CLIENT_SECRET"
    assert oidc.scopes[0] == "openid"


def test_oidc_without_a_way_to_give_roles_says_how(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, MINIMAL + OIDC)
    assert problem.key == "oidc"
    assert "role_claim" in problem.message
    assert "group_roles" in problem.message


def test_oidc_refuses_an_unknown_role_and_lists_the_roles(tmp_path: Path) -> None:
    text = MINIMAL + OIDC + '\n[oidc.group_roles]\nleads = "boss"\n'
    problem = only_problem(tmp_path, text)
    assert problem.key == "oidc.group_roles.leads"
    assert '"supervisor"' in problem.fix


def test_oidc_refuses_a_plain_http_issuer_off_loopback(tmp_path: Path) -> None:
    text = MINIMAL + OIDC.replace("https://login", "http://login") + 'role_claim = "role"\n'
    problem = only_problem(tmp_path, text)
    assert "https://" in problem.message
    local = text.replace("http://login.example.fr", "http://127.0.0.1:8000")
    path = tmp_path / "local.toml"
    path.write_text(local)
    assert load_config(path).settings.oidc is not None


def test_oidc_after_sign_in_must_be_a_path_of_this_daemon(tmp_path: Path) -> None:
    text = MINIMAL + OIDC + 'role_claim = "role"\nafter_sign_in = "//evil.example/"\n'
    assert only_problem(tmp_path, text).key == "oidc.after_sign_in"
