"""Signing in through OpenID Connect, against a real provider on loopback (``oidc_provider``).

The daemon's API is served in process by uvicorn on loopback (``in_process``), configured with
``[oidc]`` naming the provider; an httpx client plays the browser, following each redirect by
hand: the daemon's login, the provider's authorization, the daemon's callback. The failures a
provider or an attacker can cause are each refused with a JSON error and no session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from aiguillage.adapters.config.oidc import OidcSettings
from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.api.app import create_app
from aiguillage.adapters.daemon.api.oidc import FLOW_COOKIE, Oidc, SignInFailed
from aiguillage.adapters.daemon.api.sessions import CSRF_HEADER, SESSION_COOKIE
from aiguillage.adapters.daemon.auth import Tickets, Tokens
from aiguillage.adapters.daemon.serve import build_runtime
from tests.adapters.daemon.api.in_process import serving_app
from tests.adapters.daemon.api.oidc_provider import Provider, providing
from tests.adapters.daemons import ADMIN, ADVISOR_ID, free_port, write_config

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning"),
]

SECRET = "client-secret-for-tests"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Desk:
    url: str
    provider: Provider
    page: httpx.AsyncClient
    admin: httpx.AsyncClient


@pytest.fixture(params=["RS256", "ES256"])
async def desk(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    """The daemon, signing people in through the provider (which signs its ID tokens with each
    algorithm the daemon takes); its advisor is ``ADVISOR_ID``."""
    user = {"sub": "u-42", "preferred_username": ADVISOR_ID, "groups": ["desk", "agents"]}
    with providing(Provider("aiguillage", SECRET, user, alg=request.param)) as provider:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        oidc = f"""
[oidc]
issuer = "{provider.issuer}"
client_id = "aiguillage"
client_secret_env = "TEST_OIDC_SECRET"
redirect_url = "{url}/app/oidc/callback"
advisor_claim = "preferred_username"
group_claim = "groups"

[oidc.group_roles]
leads = "supervisor"
agents = "advisor"
"""
        loaded = load_config(write_config(tmp_path, oidc))
        runtime = build_runtime(loaded, tmp_path / "journal.sqlite")
        tokens = Tokens.serving(runtime, {"AIGUILLAGE_ADMIN_TOKEN": ADMIN})
        configured = Oidc.configured(loaded.settings.oidc, {"TEST_OIDC_SECRET": SECRET})
        app = create_app(runtime, tokens, Tickets(60), oidc=configured)
        async with (
            serving_app(runtime, app, port),
            httpx.AsyncClient(base_url=url, timeout=10) as page,
            httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
            ) as admin,
        ):
            yield Desk(url, provider, page, admin)


async def start(desk: Desk) -> str:
    """``GET /app/oidc/login``: return where it sends the browser (the provider)."""
    login = await desk.page.get("/app/oidc/login")
    assert login.status_code == 303, login.text
    assert login.headers["location"].startswith(f"{desk.provider.issuer}/authorize?")
    flow = login.headers["set-cookie"].lower()
    assert flow.startswith(f"{FLOW_COOKIE}=")
    for flag in ("httponly", "samesite=lax", "path=/app/oidc", "max-age=600"):
        assert flag in flow
    return str(login.headers["location"])


async def at_provider(desk: Desk, authorize: str) -> str:
    """Follow the redirect to the provider, which approves: return its redirect back."""
    approved = await desk.page.get(authorize)
    assert approved.status_code == 302, approved.text
    back = str(approved.headers["location"])
    assert back.startswith(f"{desk.url}/app/oidc/callback?")
    return back


async def sign_in(desk: Desk) -> httpx.Response:
    """The whole flow: return the callback's answer."""
    return await desk.page.get(await at_provider(desk, await start(desk)))


def assert_refused(response: httpx.Response, status: int, error: str, saying: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == error
    assert saying in response.json()["detail"]
    assert "Traceback" not in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def with_query(url: str, **changed: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changed
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_the_provider_signs_an_advisor_in_and_the_session_acts_as_it(desk: Desk) -> None:
    authorize = await start(desk)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert asked["code_challenge_method"] == "S256"
    assert asked["client_id"] == "aiguillage"
    assert asked["scope"].split()[0] == "openid"
    assert len(asked["state"]) >= 32
    assert len(asked["nonce"]) >= 32
    callback = await desk.page.get(await at_provider(desk, authorize))
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/app/"
    assert desk.page.cookies.get(SESSION_COOKIE)
    session = await desk.page.get("/app/session")
    assert session.status_code == 200, session.text
    assert session.json()["role"] == "advisor"
    assert session.json()["advisor_id"] == ADVISOR_ID
    csrf = session.json()["csrf"]
    changed = await desk.page.put(
        f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"}, headers={CSRF_HEADER: csrf}
    )
    assert changed.status_code == 200, changed.text
    other = await desk.page.get("/v1/queues")
    assert other.status_code == 403  # an advisor, not staff
    assert desk.provider.refusals == []


async def test_a_group_maps_to_its_role(desk: Desk) -> None:
    desk.provider.user = {"sub": "u-7", "groups": ["leads"]}
    assert (await sign_in(desk)).status_code == 303
    session = (await desk.page.get("/app/session")).json()
    assert (session["role"], session["advisor_id"]) == ("supervisor", None)
    assert (await desk.page.get("/v1/queues")).status_code == 200


async def test_removing_the_advisor_ends_its_session(desk: Desk) -> None:
    assert (await sign_in(desk)).status_code == 303
    assert (await desk.page.get("/app/session")).status_code == 200
    removed = await desk.admin.delete(f"/v1/advisors/{ADVISOR_ID}")
    assert removed.status_code == 200, removed.text
    ended = await desk.page.get("/app/session")
    assert ended.status_code == 401
    assert "roster" in ended.json()["detail"]


async def test_a_wrong_state_is_refused(desk: Desk) -> None:
    back = await at_provider(desk, await start(desk))
    refused = await desk.page.get(with_query(back, state="forged"))
    assert_refused(refused, 400, "invalid_request", "state")


async def test_a_callback_without_the_flow_cookie_is_refused(desk: Desk) -> None:
    back = await at_provider(desk, await start(desk))
    desk.page.cookies.clear()
    assert_refused(await desk.page.get(back), 400, "invalid_request", "start again")


async def test_a_wrong_nonce_is_refused(desk: Desk) -> None:
    desk.provider.nonce = "not-the-one-asked-for"
    assert_refused(await sign_in(desk), 401, "unauthorized", "nonce")


async def test_a_token_signed_by_another_key_is_refused(desk: Desk) -> None:
    desk.provider.signing_key = desk.provider.new_key()
    assert_refused(await sign_in(desk), 401, "unauthorized", "does not hold")


async def test_a_token_for_another_audience_is_refused(desk: Desk) -> None:
    desk.provider.user = {**desk.provider.user, "aud": "another-client"}
    assert_refused(await sign_in(desk), 401, "unauthorized", "aud")


async def test_a_token_for_several_audiences_must_be_authorized_for_us(desk: Desk) -> None:
    shared = {**desk.provider.user, "aud": ["aiguillage", "another-client"]}
    desk.provider.user = {**shared, "azp": "another-client"}
    assert_refused(await sign_in(desk), 401, "unauthorized", "azp")
    desk.provider.user = {**shared, "azp": "aiguillage"}
    assert (await sign_in(desk)).status_code == 303


async def test_an_expired_token_is_refused(desk: Desk) -> None:
    desk.provider.lifetime_s = -600
    assert_refused(await sign_in(desk), 401, "unauthorized", "expired")


async def test_a_verifier_that_does_not_match_the_challenge_is_refused_by_the_provider(
    desk: Desk,
) -> None:
    # An attacker's challenge in place of the daemon's: the daemon's verifier cannot match it.
    authorize = with_query(await start(desk), code_challenge="A" * 43)
    refused = await desk.page.get(await at_provider(desk, authorize))
    assert_refused(refused, 401, "unauthorized", "PKCE verifier does not match")
    assert desk.provider.refusals == ["PKCE verifier does not match"]


async def test_an_advisor_not_on_the_roster_is_refused(desk: Desk) -> None:
    desk.provider.user = {"sub": "u-9", "preferred_username": "nobody", "groups": ["agents"]}
    assert_refused(await sign_in(desk), 403, "forbidden", "`nobody`")


async def test_a_person_with_no_role_is_refused(desk: Desk) -> None:
    desk.provider.user = {"sub": "u-9", "groups": ["visitors"]}
    assert_refused(await sign_in(desk), 403, "forbidden", "no role")


async def test_a_wrong_client_secret_is_refused_by_the_provider(desk: Desk) -> None:
    desk.provider.client_secret = "rotated"
    assert_refused(await sign_in(desk), 401, "unauthorized", "wrong client credentials")


async def test_the_provider_refusing_is_said(desk: Desk) -> None:
    state = parse_qs(urlsplit(await start(desk)).query)["state"][0]
    query = urlencode({"error": "access_denied", "error_description": "denied", "state": state})
    refused = await desk.page.get(f"/app/oidc/callback?{query}")
    assert_refused(refused, 401, "unauthorized", "denied")


async def test_an_unreachable_provider_is_a_502_saying_so() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = OidcSettings(
        issuer=closed,
        client_id="aiguillage",
        redirect_url="http://127.0.0.1:1/app/oidc/callback",
        role_claim="role",
    )
    with pytest.raises(SignInFailed) as failed:
        await Oidc(settings, SECRET).discovery()
    assert failed.value.status == 502
    assert "could not be used (discovery" in failed.value.detail


def test_a_missing_client_secret_says_which_variable_to_set() -> None:
    settings = OidcSettings(
        issuer="https://idp.example.com",
        client_id="aiguillage",
        redirect_url="https://desk.example.com/app/oidc/callback",
        role_claim="role",
    )
    with pytest.raises(ValueError, match="set AIGUILLAGE_OIDC_CLIENT_SECRET"):
        Oidc.configured(settings, {})
    assert Oidc.configured(None, {}) is None
