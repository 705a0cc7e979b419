"""Contract tests of RFC 6749 and RFC 7636: the consent's code exchanged with PKCE, and the
access token refreshed from the encrypted store, against a fake authorization server on
loopback (``fake_oauth``) that checks what the RFCs require of a client."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import anyio
import httpx
import pytest

from aiguillage.adapters.channels.outgoing import NeedsReauthorisation, SendFailed
from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.channels.social import oauth
from aiguillage.adapters.channels.social.refreshing import OAuthToken, TokenUnavailable
from aiguillage.adapters.channels.social.token_store import Grant, TokenStore, new_key
from tests.adapters.channels.social.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuth


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OAUTH_KEY", new_key())
    monkeypatch.setenv("TEST_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("TEST_CLIENT_SECRET", CLIENT_SECRET)


def _settings(fake: FakeOAuth, tmp_path: Path, **more: object) -> oauth.OAuthSettings:
    return oauth.OAuthSettings(
        store=str(tmp_path / "youtube.grant"),
        key_env="TEST_OAUTH_KEY",
        client_id_env="TEST_CLIENT_ID",
        client_secret_env="TEST_CLIENT_SECRET",
        redirect_uri=fake.redirect_uri,
        authorize_url=fake.url + "/authorize",
        token_url=fake.url + "/token",
        **more,  # type: ignore[arg-type]
    )


def _consent(fake: FakeOAuth, endpoints: oauth.Endpoints, challenge: str) -> tuple[str, str]:
    """The person consents; return the code and state the redirect brings back."""
    state = secrets.token_urlsafe(16)
    url = oauth.authorization_url(endpoints, CLIENT_ID, fake.redirect_uri, state, challenge)
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(fake.redirect_uri + "?")
    query = dict(parse_qsl(urlsplit(location).query))
    assert query["state"] == state
    return query["code"], state


def _authorise(fake: FakeOAuth, settings: oauth.OAuthSettings, vendor: str = "google") -> Grant:
    endpoints = settings.endpoints(vendor)
    verifier, challenge = oauth.pkce_pair()
    code, _ = _consent(fake, endpoints, challenge)
    client = oauth.Client(CLIENT_ID, CLIENT_SECRET)
    request = oauth.code_request(endpoints, client, code, settings.redirect_uri, verifier)
    with httpx.Client() as http:
        grant = oauth.granted(request.send(http))
    TokenStore(settings.store, key_env=settings.key_env, channel="youtube").save(grant)
    return grant


def _source(
    settings: oauth.OAuthSettings, refused: list[str], vendor: str = "google"
) -> OAuthToken:
    source = OAuthToken(
        settings, vendor=vendor, channel="youtube", what="the token", on_refused=refused.append
    )
    source.check()
    return source


@pytest.mark.parametrize("vendor", ["google", "x"])
def test_the_code_is_exchanged_with_the_pkce_verifier_and_the_client_authenticated(
    fake_oauth: FakeOAuth, tmp_path: Path, vendor: str
) -> None:
    """Google and LinkedIn authenticate the client in the body, X with HTTP Basic."""
    grant = _authorise(fake_oauth, _settings(fake_oauth, tmp_path), vendor)
    assert grant.access_token in fake_oauth.live
    assert grant.refresh_token in fake_oauth.refresh
    assert grant.expires_at is not None
    assert fake_oauth.grants == ["authorization_code"]


def test_a_verifier_that_does_not_match_the_challenge_is_refused(
    fake_oauth: FakeOAuth, tmp_path: Path
) -> None:
    endpoints = _settings(fake_oauth, tmp_path).endpoints("google")
    _, challenge = oauth.pkce_pair()
    code, _ = _consent(fake_oauth, endpoints, challenge)
    other, _ = oauth.pkce_pair()
    client = oauth.Client(CLIENT_ID, CLIENT_SECRET)
    request = oauth.code_request(endpoints, client, code, fake_oauth.redirect_uri, other)
    with httpx.Client() as http, pytest.raises(oauth.GrantRefused, match="invalid_grant"):
        oauth.granted(request.send(http))
    assert fake_oauth.violations == [
        "token: code_verifier does not match the challenge (RFC 7636, 4.6)"
    ]
    fake_oauth.violations.clear()  # the violation was this test's own doing


def test_a_code_is_exchanged_once(fake_oauth: FakeOAuth, tmp_path: Path) -> None:
    endpoints = _settings(fake_oauth, tmp_path).endpoints("google")
    verifier, challenge = oauth.pkce_pair()
    code, _ = _consent(fake_oauth, endpoints, challenge)
    client = oauth.Client(CLIENT_ID, CLIENT_SECRET)
    request = oauth.code_request(endpoints, client, code, fake_oauth.redirect_uri, verifier)
    with httpx.Client() as http:
        oauth.granted(request.send(http))
        with pytest.raises(oauth.GrantRefused, match="invalid_grant"):
            oauth.granted(request.send(http))


def test_a_valid_token_is_used_as_it_is(fake_oauth: FakeOAuth, tmp_path: Path) -> None:
    settings = _settings(fake_oauth, tmp_path)
    grant = _authorise(fake_oauth, settings)
    source = _source(settings, [])
    assert anyio.run(source.fresh) == grant.access_token
    assert fake_oauth.count("refresh_token") == 0


def test_a_token_about_to_expire_is_refreshed_and_the_rotated_refresh_token_kept(
    fake_oauth: FakeOAuth, tmp_path: Path
) -> None:
    fake_oauth.lifetime_s = 60
    settings = _settings(fake_oauth, tmp_path, refresh_before_s=120)  # always "about to"
    first = _authorise(fake_oauth, settings)
    source = _source(settings, [])
    second = anyio.run(source.fresh)
    assert second != first.access_token
    assert second in fake_oauth.live
    kept = source.store.load()
    assert kept is not None
    assert kept.access_token == second
    assert kept.refresh_token != first.refresh_token  # rotated, and on disk
    assert first.refresh_token in fake_oauth.retired
    # The next refresh is made with the rotated token: the chain holds.
    third = anyio.run(source.fresh)
    assert third not in {first.access_token, second}
    assert fake_oauth.count("refresh_token") == 2


def test_a_refused_refresh_needs_re_authorisation_until_a_new_grant_is_stored(
    fake_oauth: FakeOAuth, tmp_path: Path
) -> None:
    fake_oauth.lifetime_s = 60
    settings = _settings(fake_oauth, tmp_path, refresh_before_s=120)
    _authorise(fake_oauth, settings)
    refused: list[str] = []
    source = _source(settings, refused)
    fake_oauth.revoke_all()
    with pytest.raises(NeedsReauthorisation, match="invalid_grant"):
        anyio.run(source.fresh)
    assert len(refused) == 1
    assert "aiguillage channel authorize youtube" in refused[0]
    calls = fake_oauth.token_requests
    with pytest.raises(NeedsReauthorisation):
        anyio.run(source.fresh)
    assert fake_oauth.token_requests == calls  # nothing more asked of the platform
    fake_oauth.lifetime_s = 3600
    renewed = _authorise(fake_oauth, settings)  # `channel authorize` writes the store again
    assert anyio.run(source.fresh) == renewed.access_token


def test_a_token_refused_by_the_platform_is_refreshed_once(
    fake_oauth: FakeOAuth, tmp_path: Path
) -> None:
    settings = _settings(fake_oauth, tmp_path)
    first = _authorise(fake_oauth, settings)
    refused: list[str] = []
    source = _source(settings, refused)
    assert isinstance(source.refuse(first.access_token, "401"), NeedsReauthorisation)
    second = anyio.run(source.fresh)
    assert second != first.access_token
    assert fake_oauth.count("refresh_token") == 1
    assert refused == []
    # Refused again right after the refresh: an operator must look, no refresh loop.
    source.refuse(second, "401 again")
    assert len(refused) == 1
    calls = fake_oauth.token_requests
    with pytest.raises(NeedsReauthorisation):
        anyio.run(source.fresh)
    assert fake_oauth.token_requests == calls


def test_a_token_endpoint_down_keeps_a_valid_token_and_holds_an_expired_one(
    fake_oauth: FakeOAuth, tmp_path: Path
) -> None:
    fake_oauth.lifetime_s = 60
    settings = _settings(fake_oauth, tmp_path, refresh_before_s=120)
    first = _authorise(fake_oauth, settings)
    fake_oauth.down = True
    refused: list[str] = []
    source = _source(settings, refused)
    assert anyio.run(source.fresh) == first.access_token  # about to expire, still valid
    kept = source.store.load()
    assert kept is not None
    kept.expires_at = 0.0
    source.store.save(kept)  # now expired
    with pytest.raises(TokenUnavailable) as caught:
        anyio.run(source.fresh)
    assert isinstance(caught.value, Unavailable)
    assert isinstance(caught.value, SendFailed)
    assert not isinstance(caught.value, NeedsReauthorisation)
    assert not caught.value.permanent
    assert refused == []
    fake_oauth.down = False
    assert anyio.run(source.fresh) in fake_oauth.live


def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(
    fake_oauth: FakeOAuth, tmp_path: Path
) -> None:
    """With rotation, a refresh token spent twice is refused: the second waits for the store's
    lock and takes the grant the first wrote."""
    settings = _settings(fake_oauth, tmp_path, refresh_before_s=30)
    fake_oauth.lifetime_s = 1  # the first grant is about to expire, the next ones are not
    _authorise(fake_oauth, settings)
    fake_oauth.lifetime_s = 3600
    fake_oauth.delay_s = 0.5  # the two refreshes overlap
    refused: list[str] = []
    sources = [_source(settings, refused), _source(settings, refused)]
    tokens: list[str] = []
    errors: list[BaseException] = []

    def refresh(source: OAuthToken) -> None:
        try:
            tokens.append(anyio.run(source.fresh))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=refresh, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert refused == []
    assert len(tokens) == 2
    assert tokens[0] == tokens[1]
    assert tokens[0] in fake_oauth.live
    assert fake_oauth.count("refresh_token") == 1


def test_a_channel_started_before_any_consent_waits_for_one(
    fake_oauth: FakeOAuth, tmp_path: Path
) -> None:
    settings = _settings(fake_oauth, tmp_path)
    refused: list[str] = []
    source = _source(settings, refused)  # no store yet: not an error at start
    with pytest.raises(NeedsReauthorisation, match="no grant in"):
        anyio.run(source.fresh)
    assert "aiguillage channel authorize youtube" in refused[0]
    grant = _authorise(fake_oauth, settings)
    assert anyio.run(source.fresh) == grant.access_token
