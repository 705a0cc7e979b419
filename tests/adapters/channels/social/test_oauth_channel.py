"""Contract tests of a channel whose token comes from OAuth (RFC 6749, RFC 7636), in a real
daemon: the YouTube channel against the fake YouTube Data API, its tokens granted by a fake
authorization server on loopback (``fake_oauth``), the consent given through ``aiguillage
channel authorize`` run in its own process. YouTube accepts exactly the access tokens the
fake server issued and that have not expired.

Flows: the access token refreshed before it expires while the daemon works, and answers
pending while it expired with the token endpoint down, sent once each when it is back; a
refresh refused (the person withdrew the app's access): the channel needs re-authorisation,
answers wait, and go once ``channel authorize`` ran again, without a restart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aiguillage.adapters.channels.social.token_store import TokenStore, new_key
from tests.adapters.channels.social.authorize import (
    KEY_ENV,
    authorize,
    secrets_env,
    switch_to_oauth,
)
from tests.adapters.channels.social.fake_oauth import FakeOAuth
from tests.adapters.channels.youtube.fake_youtube import FakeYoutube
from tests.adapters.channels.youtube.test_youtube_flow import Youtube, _until


class OAuthYoutube(Youtube):
    """The YouTube channel with ``[adapters.youtube.oauth]`` in place of a token file."""

    def __init__(self, directory: Path, fake: FakeYoutube, oauth: FakeOAuth) -> None:
        super().__init__(directory, fake)
        self.oauth = oauth
        self.store_path = directory / "grants" / "youtube.grant"
        line = f'token_file = "{self.token_file}"\n'
        switch_to_oauth(
            self.daemon.config, "youtube", line, oauth, self.store_path, refresh_before_s=2
        )
        self.env = secrets_env(new_key())
        self.daemon.env.update(self.env)
        fake.tokens = oauth.live  # type: ignore[assignment]

    def authorize(self) -> None:
        done = authorize("youtube", self.daemon.config, self.oauth, self.env)
        assert done.returncode == 0, done.stderr

    def grant_expires_at(self) -> float:
        os.environ[KEY_ENV] = self.env[KEY_ENV]
        try:
            grant = TokenStore(self.store_path, key_env=KEY_ENV, channel="youtube").load()
        finally:
            del os.environ[KEY_ENV]
        assert grant is not None
        assert grant.expires_at is not None
        return grant.expires_at

    def health(self) -> tuple[str, str]:
        found = self.daemon.readyz().json()["adapters"]["youtube"]
        return found["health"], found.get("health_detail", "")


@pytest.fixture
def fake_youtube() -> Iterator[FakeYoutube]:
    """The fake YouTube Data API; the test fails if a request broke its contract."""
    fake = FakeYoutube().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)


@pytest.fixture
def youtube(
    tmp_path: Path, fake_youtube: FakeYoutube, fake_oauth: FakeOAuth
) -> Iterator[OAuthYoutube]:
    running = OAuthYoutube(tmp_path, fake_youtube, fake_oauth)
    try:
        yield running
    finally:
        running.daemon.kill()


def _inserted(fake: FakeYoutube) -> list[str]:
    with fake._lock:
        return [str(i["snippet"]["textOriginal"]) for i in fake.inserted]


def test_the_token_is_refreshed_before_it_expires_and_answers_pending_meanwhile_go_once(
    youtube: OAuthYoutube, fake_youtube: FakeYoutube, fake_oauth: FakeOAuth
) -> None:
    fake_oauth.lifetime_s = 5  # refreshed 2 s before: about every 3 s
    youtube.authorize()
    youtube.daemon.start()
    for n in range(3):
        fake_youtube.comment(f"Question {n} : le tram T2 circule-t-il ?")
    _until(lambda: len(youtube.interactions()) == 3, "three comments taken")
    _until(lambda: fake_oauth.count("refresh_token") >= 2, "refreshed while working")
    assert youtube.health()[0] == "ok"
    # The token endpoint goes down, and the access token in place expires meanwhile.
    fake_oauth.down = True
    expires_at = youtube.grant_expires_at()
    time.sleep(max(0.0, expires_at - time.time()) + 0.5)
    answered = youtube.answer(3, lambda i: f"Réponse à l'interaction {i}")
    time.sleep(2.0)  # several attempts of the outbox, none can go
    assert _inserted(fake_youtube) == []
    fake_oauth.down = False
    _until(lambda: len(_inserted(fake_youtube)) == 3, "the answers sent once refreshed")
    time.sleep(1.5)  # and no second copy of any
    assert sorted(_inserted(fake_youtube)) == sorted(
        f"Réponse à l'interaction {i}" for i in answered
    )
    _until(lambda: youtube.health()[0] == "ok", "ok")


def test_a_refused_refresh_needs_re_authorisation_until_channel_authorize_runs_again(
    youtube: OAuthYoutube, fake_youtube: FakeYoutube, fake_oauth: FakeOAuth
) -> None:
    youtube.authorize()
    youtube.daemon.start()
    fake_youtube.comment("Le bus 40 est en retard.")
    fake_youtube.comment("Et le 41 aussi.", author="UCcustomer000000000000bb")
    _until(lambda: len(youtube.interactions()) == 2, "two comments taken")
    fake_oauth.revoke_all()  # the person withdrew the app's access at Google
    _until(lambda: youtube.health()[0] == "needs_reauthorisation", "needs re-authorisation")
    _until(lambda: "invalid_grant" in youtube.health()[1], "the refused refresh said")
    assert "aiguillage channel authorize youtube" in youtube.health()[1]
    metrics = httpx.get(youtube.daemon.url + "/metrics", timeout=5).text
    assert 'aiguillage_channel_health{adapter="youtube",health="needs_reauthorisation"} 1.0' in (
        metrics
    )
    answered = youtube.answer(2, lambda i: f"Nous regardons, interaction {i}.")
    time.sleep(1.5)
    assert _inserted(fake_youtube) == []  # they wait in the outbox
    refreshes = fake_oauth.token_requests
    time.sleep(1.0)
    assert fake_oauth.token_requests == refreshes  # the refused grant is not asked again
    youtube.authorize()  # an operator runs the consent again; the daemon keeps running
    _until(lambda: len(_inserted(fake_youtube)) == 2, "the answers sent with the new grant")
    _until(lambda: youtube.health()[0] == "ok", "ok again")
    assert sorted(_inserted(fake_youtube)) == sorted(
        f"Nous regardons, interaction {i}." for i in answered
    )
    fake_youtube.comment("Merci !", author="UCcustomer000000000000cc")
    _until(lambda: len(youtube.interactions()) == 3, "comments taken again")
