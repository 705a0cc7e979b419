"""Contract tests of the X (OAuth 2.0 user context) and LinkedIn channels with their token from
OAuth (RFC 6749, RFC 7636), in a real daemon: the grant obtained through ``aiguillage channel
authorize`` run in its own process at a fake authorization server on loopback, the access
token short-lived and refreshed (rotating refresh tokens) while messages come in and answers
go out; each platform's fake accepts only the access tokens issued and not expired."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiguillage.adapters.channels.social.token_store import new_key
from tests.adapters.channels.linkedin.fake_linkedin import FakeLinkedin
from tests.adapters.channels.linkedin.test_linkedin_flow import Linkedin
from tests.adapters.channels.social.authorize import authorize, secrets_env, switch_to_oauth
from tests.adapters.channels.social.fake_oauth import FakeOAuth
from tests.adapters.channels.x.fake_x import FakeX
from tests.adapters.channels.x.test_x_flow import CUSTOMER, X, _until


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    fake = FakeX().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)


@pytest.fixture
def fake_linkedin() -> Iterator[FakeLinkedin]:
    fake = FakeLinkedin().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)


def test_x_polling_on_an_oauth_2_user_token_refreshed_as_it_expires(
    tmp_path: Path, fake_x: FakeX, fake_oauth: FakeOAuth
) -> None:
    polling = X(tmp_path, fake_x, mode="polling")
    line = f'user_token_file = "{polling.token_file}"\n'
    switch_to_oauth(
        polling.daemon.config, "x", line, fake_oauth, tmp_path / "x.grant", refresh_before_s=1
    )
    env = secrets_env(new_key())
    polling.daemon.env.update(env)
    fake_x.tokens = fake_oauth.live  # type: ignore[assignment]
    fake_oauth.lifetime_s = 3  # X's last two hours; here a refresh every two seconds
    done = authorize("x", polling.daemon.config, fake_oauth, env)
    assert done.returncode == 0, done.stderr
    assert "offline.access" in done.stdout
    polling.daemon.start()
    try:
        post_id = fake_x.mention(CUSTOMER, "@acme le métro est-il à l'heure ?")
        _until(lambda: len(polling.interactions()) == 1, "the mention polled")
        _until(lambda: fake_oauth.count("refresh_token") >= 2, "refreshed, rotating")
        polling.answer(1, lambda i: "Oui, ce matin.")
        _until(lambda: len(fake_x.sent) == 1, "answered")
        assert fake_x.sent[0]["reply_to"] == post_id
        assert len(fake_oauth.retired) >= 2  # each refresh token spent once, then retired
    finally:
        polling.daemon.stop()


def test_linkedin_on_an_oauth_grant_refreshed_as_it_expires(
    tmp_path: Path, fake_linkedin: FakeLinkedin, fake_oauth: FakeOAuth
) -> None:
    linkedin = Linkedin(tmp_path, fake_linkedin)
    line = f'token_file = "{linkedin.token_file}"\n'
    store = tmp_path / "linkedin.grant"
    switch_to_oauth(linkedin.daemon.config, "linkedin", line, fake_oauth, store, refresh_before_s=1)
    env = secrets_env(new_key())
    linkedin.daemon.env.update(env)
    fake_linkedin.tokens = fake_oauth.live  # type: ignore[assignment]
    fake_oauth.lifetime_s = 3
    done = authorize("linkedin", linkedin.daemon.config, fake_oauth, env, paste=True)
    assert done.returncode == 0, done.stderr
    post = fake_linkedin.post()
    top = fake_linkedin.comment(post, "Le tram T3 circule-t-il demain ?")
    linkedin.daemon.start()
    try:
        _until(linkedin.interactions, "the comment taken")
        _until(lambda: fake_oauth.count("refresh_token") >= 2, "refreshed")
        linkedin.answer("Oui, un tram sur deux.")
        _until(lambda: len(fake_linkedin.replies) == 1, "the reply sent")
        assert fake_linkedin.replies[0]["parentComment"] == top
        assert linkedin.adapter()["health"] == "ok"
    finally:
        linkedin.daemon.kill()
