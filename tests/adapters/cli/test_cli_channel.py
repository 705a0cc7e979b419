"""``aiguillage channel authorize|new-key``, run in their own process as an operator runs them,
the consent given at a fake OAuth 2.0 server on loopback (contract tests of RFC 6749 and
RFC 7636: the fake checks the PKCE verifier, the state, the redirect and the client)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiguillage.adapters.channels.social.token_store import TokenStore, new_key
from tests.adapters.channels.social.authorize import (
    KEY_ENV,
    authorize,
    oauth_table,
    secrets_env,
)
from tests.adapters.channels.social.fake_oauth import FakeOAuth
from tests.adapters.daemons import free_port, write_config

CHANNEL_ID = "UCx2Tw0a1b2c3d4e5f6g7h8i"


@pytest.fixture
def fake_oauth() -> Iterator[FakeOAuth]:
    fake = FakeOAuth(redirect_uri=f"http://127.0.0.1:{free_port()}/callback").start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)


class Setup:
    def __init__(self, directory: Path, fake: FakeOAuth) -> None:
        self.store_path = directory / "grants" / "youtube.grant"
        extra = f'\n[adapters.youtube]\nchannel_id = "{CHANNEL_ID}"\n' + oauth_table(
            "youtube", fake, self.store_path
        )
        self.config = write_config(directory, extra)
        self.env = secrets_env(new_key())

    def store(self) -> TokenStore:
        os.environ[KEY_ENV] = self.env[KEY_ENV]
        return TokenStore(self.store_path, key_env=KEY_ENV, channel="youtube")


@pytest.fixture
def setup(tmp_path: Path, fake_oauth: FakeOAuth) -> Iterator[Setup]:
    yield Setup(tmp_path, fake_oauth)
    os.environ.pop(KEY_ENV, None)


def test_the_consent_caught_on_loopback_is_exchanged_and_kept_in_the_store(
    setup: Setup, fake_oauth: FakeOAuth
) -> None:
    done = authorize("youtube", setup.config, fake_oauth, setup.env)
    assert done.returncode == 0, done.stderr
    assert "Authorised youtube" in done.stdout
    assert "with a refresh token" in done.stdout
    grant = setup.store().load()
    assert grant is not None
    assert grant.access_token in fake_oauth.live
    assert grant.refresh_token in fake_oauth.refresh
    assert fake_oauth.grants == ["authorization_code"]


def test_the_address_google_is_asked_for_carries_offline_access_and_the_youtube_scope(
    setup: Setup, fake_oauth: FakeOAuth
) -> None:
    done = authorize("youtube", setup.config, fake_oauth, setup.env)
    url = next(line for line in done.stdout.splitlines() if "/authorize?" in line)
    assert "access_type=offline" in url
    assert "prompt=consent" in url
    assert "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fyoutube.force-ssl" in url
    assert "code_challenge_method=S256" in url


def test_a_pasted_redirect_address_completes_the_consent_on_a_server_without_browser(
    setup: Setup, fake_oauth: FakeOAuth
) -> None:
    done = authorize("youtube", setup.config, fake_oauth, setup.env, paste=True)
    assert done.returncode == 0, done.stderr
    grant = setup.store().load()
    assert grant is not None
    assert grant.access_token in fake_oauth.live


def test_a_redirect_with_another_state_is_refused_and_nothing_is_exchanged(
    setup: Setup, fake_oauth: FakeOAuth
) -> None:
    done = authorize("youtube", setup.config, fake_oauth, setup.env, tamper_state=True)
    assert done.returncode == 1
    assert "state is not the one sent" in done.stderr
    assert fake_oauth.token_requests == 0
    assert not setup.store_path.exists()


def test_a_consent_refused_by_the_person_says_so(setup: Setup, fake_oauth: FakeOAuth) -> None:
    fake_oauth.deny = True
    done = authorize("youtube", setup.config, fake_oauth, setup.env, paste=True)
    assert done.returncode == 1
    assert "did not grant access: access_denied" in done.stderr
    assert not setup.store_path.exists()


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
        timeout=60,
    )


def test_a_channel_without_an_oauth_table_is_told_what_to_add(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t\n")
    extra = f'\n[adapters.youtube]\nchannel_id = "{CHANNEL_ID}"\ntoken_file = "{token}"\n'
    config = write_config(tmp_path, extra)
    done = _cli("channel", "authorize", "youtube", "--config", str(config), cwd=tmp_path, env={})
    assert done.returncode == 1
    assert "has no [adapters.youtube.oauth] table" in done.stderr
    absent = _cli("channel", "authorize", "nope", "--config", str(config), cwd=tmp_path, env={})
    assert absent.returncode == 1
    assert "no enabled adapter [adapters.nope]" in absent.stderr


def test_a_missing_store_key_is_named_before_the_consent_is_asked(
    setup: Setup, fake_oauth: FakeOAuth
) -> None:
    env = {**setup.env, KEY_ENV: ""}
    done = _cli(
        "channel",
        "authorize",
        "youtube",
        "--config",
        str(setup.config),
        cwd=setup.config.parent,
        env=env,
    )
    assert done.returncode == 1
    assert f"set the environment variable {KEY_ENV}" in done.stderr
    assert "/authorize?" not in done.stdout


def test_new_key_prints_a_random_256_bit_key(tmp_path: Path) -> None:
    first = _cli("channel", "new-key", cwd=tmp_path, env={})
    second = _cli("channel", "new-key", cwd=tmp_path, env={})
    assert first.returncode == 0
    key = first.stdout.strip()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != second.stdout.strip()
