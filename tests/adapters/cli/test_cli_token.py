"""``aiguillage token new|list|revoke``: through a running daemon, or on its store when none runs.

The commands run as an operator runs them, in their own process, beside a real daemon.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aiguillage.adapters.config.settings import ConfigError, load_config
from tests.adapters.daemons import ADMIN, ADVISOR_ID, ROOT, Daemon, running, write_config


def cli(*args: str, cwd: Path, admin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AIGUILLAGE_ADMIN_TOKEN"}
    if admin is not None:
        env["AIGUILLAGE_ADMIN_TOKEN"] = admin
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


def secret_of(minted: subprocess.CompletedProcess[str]) -> str:
    assert minted.returncode == 0, minted.stderr
    return minted.stdout.split("hand it to its holder): ")[1].split()[0]


def token_id_of(minted: subprocess.CompletedProcess[str]) -> str:
    return minted.stdout.split()[1]


def works(daemon: Daemon, secret: str, path: str = "/v1/queues") -> int:
    with daemon.client(secret) as client:
        return client.get(path).status_code


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("cli-token"))


# -- through the daemon -------------------------------------------------------------------------


def test_a_token_minted_through_the_daemon_lets_its_holder_in(
    daemon: Daemon, tmp_path: Path
) -> None:
    minted = cli(
        "token", "new", "--role", "advisor", "--advisor", ADVISOR_ID, "--label", 'poste "12"',
        "--expires-in", "30", "--url", daemon.url, cwd=tmp_path, admin=ADMIN,
    )  # fmt: skip
    secret = secret_of(minted)
    assert f"(advisor {ADVISOR_ID}, until 20" in minted.stdout
    assert works(daemon, secret, f"/v1/advisors/{ADVISOR_ID}") == 200
    listed = cli("token", "list", "--url", daemon.url, cwd=tmp_path, admin=ADMIN)
    assert listed.returncode == 0, listed.stderr
    assert 'poste "12"' in listed.stdout
    assert secret not in listed.stdout
    revoked = cli("token", "revoke", token_id_of(minted), "--url", daemon.url, cwd=tmp_path,
                  admin=ADMIN)  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    assert works(daemon, secret, f"/v1/advisors/{ADVISOR_ID}") == 401


def test_the_daemons_refusal_is_said_with_its_field(daemon: Daemon, tmp_path: Path) -> None:
    refused = cli("token", "new", "--role", "advisor", "--advisor", "nobody.here",
                  "--url", daemon.url, cwd=tmp_path, admin=ADMIN)  # fmt: skip
    assert refused.returncode == 1
    assert "422" in refused.stderr
    assert "nobody.here" in refused.stderr
    assert "(field advisor)" in refused.stderr


def test_through_the_daemon_the_admin_token_is_needed(daemon: Daemon, tmp_path: Path) -> None:
    without = cli("token", "list", "--url", daemon.url, cwd=tmp_path)
    assert without.returncode == 1
    assert "AIGUILLAGE_ADMIN_TOKEN" in without.stderr
    wrong = cli("token", "list", "--url", daemon.url, cwd=tmp_path, admin="not-the-admin")
    assert wrong.returncode == 1
    assert "401" in wrong.stderr


# -- on the store -------------------------------------------------------------------------------


def test_tokens_minted_and_revoked_on_the_store_hold_when_the_daemon_starts(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    store = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    on_store = ("--config", str(config), "--store", store)
    first = cli("token", "new", "--role", "supervisor", *on_store, cwd=tmp_path)
    second = cli("token", "new", "--role", "integrator", "--label", "crm", *on_store, cwd=tmp_path)
    kept, dropped = secret_of(first), secret_of(second)
    assert first.stdout.count(kept) == 1
    assert cli("token", "revoke", token_id_of(second), *on_store, cwd=tmp_path).returncode == 0
    listed = cli("token", "list", *on_store, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "supervisor" in listed.stdout
    assert "crm" not in listed.stdout
    assert kept not in listed.stdout
    daemon = Daemon(tmp_path, config).start()
    try:
        assert works(daemon, kept) == 200
        assert works(daemon, dropped, "/v1/interactions/1") == 401
    finally:
        daemon.kill()


def test_on_the_store_of_a_running_daemon_the_command_says_to_go_through_it(
    daemon: Daemon, tmp_path: Path
) -> None:
    refused = cli("token", "new", "--role", "supervisor", "--config", str(daemon.config),
                  "--store", daemon.store, cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 1
    assert "held by another Aiguillage daemon" in refused.stderr
    assert "--url" in refused.stderr
    listing = cli("token", "list", "--config", str(daemon.config), "--store", daemon.store,
                  cwd=tmp_path)  # fmt: skip
    assert listing.returncode == 1
    assert "--url" in listing.stderr


def test_a_redis_store_is_written_through_its_leader(tmp_path: Path) -> None:
    refused = cli("token", "list", "--store", "redis://127.0.0.1:1/0", cwd=tmp_path)
    assert refused.returncode == 2
    assert "--url" in refused.stderr


def test_an_expiry_in_the_past_is_refused_on_the_store(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    refused = cli("token", "new", "--role", "admin", "--expires-at", "2020-01-01T00:00:00Z",
                  "--config", str(config), "--store", f"sqlite:///{tmp_path / 'j.sqlite'}",
                  cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 1
    assert "expire before it is minted" in refused.stderr


# -- arguments and the configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--role", "advisor"],
        ["--role", "boss"],
        ["--role", "supervisor", "--advisor", "claire.martin"],
        ["--role", "admin", "--expires-in", "1", "--expires-at", "2099-01-01T00:00:00Z"],
        ["--role", "admin", "--expires-at", "2099-01-01T00:00:00"],
        ["--role", "admin", "--expires-in", "0"],
    ],
)
def test_arguments_that_cannot_make_a_token_are_refused(args: list[str], tmp_path: Path) -> None:
    refused = cli("token", "new", *args, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip()
    assert not (tmp_path / "var").exists()


def test_check_config_says_the_tokens_table_is_deprecated(tmp_path: Path) -> None:
    checked = cli("check-config", str(write_config(tmp_path)), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "[[tokens]]: 3 (deprecated" in checked.stdout
    assert "aiguillage token revoke" in checked.stdout
    reference = cli("check-config", str(ROOT / "config.toml"), cwd=tmp_path)
    assert "[[tokens]]" not in reference.stdout


def test_an_advisor_token_without_its_advisor_is_a_config_problem(tmp_path: Path) -> None:
    entry = '\n[[tokens]]\nsha256 = "' + "a" * 64 + '"\nrole = "advisor"\n'
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, entry))
    problem = next(p for p in caught.value.problems if p.key.endswith("advisor"))
    assert problem.key.startswith("tokens[")
    assert "must name the advisor" in problem.message
    assert problem.line is not None


def test_the_environment_admin_token_mints_the_first_tokens(daemon: Daemon) -> None:
    with httpx.Client(base_url=daemon.url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
        minted = admin.post("/v1/tokens", json={"role": "admin", "label": "second admin"})
    assert minted.status_code == 201, minted.text
    assert works(daemon, minted.json()["token"], "/v1/tokens") == 200
