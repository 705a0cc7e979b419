"""Browser sessions: a token exchanged once for a signed HttpOnly cookie, CSRF-checked on
changes, recovered by a reloaded page, kept through a restart of the daemon and a failover to
another on the same Redis, ended by sign-out, by its token's revocation, and by idleness.

Through real daemons on loopback (``daemons.py``), with an httpx client that keeps cookies and
sends no ``Authorization`` header; idleness through the same application served in process by
uvicorn on loopback, with sessions on a clock the test moves.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.api.app import create_app
from aiguillage.adapters.daemon.api.sessions import CSRF_HEADER, SESSION_COOKIE, Sessions
from aiguillage.adapters.daemon.auth import Tickets, Tokens
from aiguillage.adapters.daemon.serve import build_runtime
from tests.adapters.daemon.api.in_process import serving_app
from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    ADVISOR_ID,
    Daemon,
    running,
    write_config,
)
from tests.adapters.redis_server import RedisServer


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("sessions"))


@pytest.fixture
def admin(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(ADMIN) as client:
        yield client


_advisors = iter(range(1, 1000))


@pytest.fixture
def advisor(admin: httpx.Client) -> tuple[str, str, int]:
    """A new advisor of its own (so tests share no state), and a token for it: (id, secret,
    token id)."""
    advisor_id = f"session.advisor{next(_advisors)}"
    added = admin.post(
        "/v1/advisors",
        json={"id": advisor_id, "skills": {"general": 3}, "capacity": {"social": 1}},
    )
    assert added.status_code == 201, added.text
    minted = admin.post("/v1/tokens", json={"role": "advisor", "advisor": advisor_id})
    assert minted.status_code == 201, minted.text
    return advisor_id, minted.json()["token"], minted.json()["id"]


def browser(url: str) -> httpx.Client:
    """A client as a page is: cookies kept, no Authorization header."""
    return httpx.Client(base_url=url, timeout=10)


def sign_in(client: httpx.Client, token: str) -> str:
    """Sign in; return the CSRF token."""
    response = client.post("/app/session", json={"token": token})
    assert response.status_code == 201, response.text
    assert client.cookies.get(SESSION_COOKIE)
    csrf: str = response.json()["csrf"]
    return csrf


def state_of(admin: httpx.Client, advisor_id: str) -> str:
    response = admin.get(f"/v1/advisors/{advisor_id}")
    assert response.status_code == 200, response.text
    state: str = response.json()["state"]
    return state


def assert_error(response: httpx.Response, status: int, error: str, saying: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert saying in response.json()["detail"]


def test_signing_in_answers_the_csrf_token_and_who_the_session_is(daemon: Daemon) -> None:
    with browser(daemon.url) as page:
        response = page.post("/app/session", json={"token": ADVISOR})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["role"] == "advisor"
        assert body["advisor_id"] == ADVISOR_ID
        assert body["idle_timeout_s"] == 1800
        assert len(body["csrf"]) >= 43
        assert ADVISOR not in response.text
        assert page.cookies[SESSION_COOKIE] not in (ADVISOR, body["csrf"])


def test_the_cookie_is_httponly_samesite_strict_and_secure_unless_plain_http_to_loopback(
    daemon: Daemon,
) -> None:
    with browser(daemon.url) as page:
        local = page.post("/app/session", json={"token": ADVISOR}).headers["set-cookie"]
        named = page.post(
            "/app/session", json={"token": ADVISOR}, headers={"Host": "desk.example.com"}
        ).headers["set-cookie"]
    for cookie in (local, named):
        flags = [flag.strip().lower() for flag in cookie.split(";")]
        assert flags[0].startswith(f"{SESSION_COOKIE}=")
        assert "httponly" in flags
        assert "samesite=strict" in flags
        assert "path=/" in flags
    assert "secure" not in [flag.strip().lower() for flag in local.split(";")]
    assert "secure" in [flag.strip().lower() for flag in named.split(";")]


def test_a_session_reads_and_acts_through_its_cookie_with_the_csrf_header(
    daemon: Daemon, admin: httpx.Client, advisor: tuple[str, str, int]
) -> None:
    advisor_id, token, _ = advisor
    with browser(daemon.url) as page:
        csrf = sign_in(page, token)
        read = page.get(f"/v1/advisors/{advisor_id}")
        assert read.status_code == 200, read.text
        assert read.json()["state"] == "offline"
        changed = page.put(
            f"/v1/advisors/{advisor_id}/state",
            json={"state": "available"},
            headers={CSRF_HEADER: csrf},
        )
        assert changed.status_code == 200, changed.text
        assert state_of(admin, advisor_id) == "available"
        ticket = page.post("/v1/tickets", headers={CSRF_HEADER: csrf})
        assert ticket.status_code == 201, ticket.text
        # The session acts as its advisor, as the token would: not for another.
        other = page.put(
            f"/v1/advisors/{ADVISOR_ID}/state",
            json={"state": "available"},
            headers={CSRF_HEADER: csrf},
        )
        assert_error(other, 403, "forbidden", ADVISOR_ID)
        assert_error(page.get("/v1/queues"), 403, "forbidden", "role `advisor`")


def test_without_the_csrf_header_a_change_is_refused_and_nothing_is_done(
    daemon: Daemon, admin: httpx.Client, advisor: tuple[str, str, int]
) -> None:
    advisor_id, token, _ = advisor
    with browser(daemon.url) as page:
        sign_in(page, token)
        before = httpx.get(f"{daemon.url}/readyz").json()["last_seq"]
        for headers in ({}, {CSRF_HEADER: ""}, {CSRF_HEADER: "not-the-session-s"}):
            refused = page.put(
                f"/v1/advisors/{advisor_id}/state", json={"state": "available"}, headers=headers
            )
            assert_error(refused, 403, "forbidden", CSRF_HEADER)
            assert_error(page.post("/v1/tickets", headers=headers), 403, "forbidden", CSRF_HEADER)
        assert httpx.get(f"{daemon.url}/readyz").json()["last_seq"] == before
        assert state_of(admin, advisor_id) == "offline"


def test_the_csrf_token_of_another_session_is_refused(
    daemon: Daemon, advisor: tuple[str, str, int]
) -> None:
    advisor_id, token, _ = advisor
    with browser(daemon.url) as page, browser(daemon.url) as other:
        sign_in(page, token)
        foreign = sign_in(other, token)
        refused = page.put(
            f"/v1/advisors/{advisor_id}/state",
            json={"state": "available"},
            headers={CSRF_HEADER: foreign},
        )
        assert_error(refused, 403, "forbidden", CSRF_HEADER)


def test_a_revoked_token_ends_its_session_at_once(
    daemon: Daemon, admin: httpx.Client, advisor: tuple[str, str, int]
) -> None:
    advisor_id, token, token_id = advisor
    with browser(daemon.url) as page:
        sign_in(page, token)
        assert page.get(f"/v1/advisors/{advisor_id}").status_code == 200
        assert admin.delete(f"/v1/tokens/{token_id}").status_code == 200
        assert_error(page.get(f"/v1/advisors/{advisor_id}"), 401, "unauthorized", "revoked")
        assert_error(page.get(f"/v1/advisors/{advisor_id}"), 401, "unauthorized", "sign in")


def test_signing_out_needs_the_csrf_header_then_ends_the_session(
    daemon: Daemon, advisor: tuple[str, str, int]
) -> None:
    advisor_id, token, _ = advisor
    with browser(daemon.url) as page:
        csrf = sign_in(page, token)
        cookie = page.cookies[SESSION_COOKIE]
        assert_error(page.delete("/app/session"), 403, "forbidden", CSRF_HEADER)
        assert page.get(f"/v1/advisors/{advisor_id}").status_code == 200
        out = page.delete("/app/session", headers={CSRF_HEADER: csrf})
        assert out.status_code == 204, out.text
        cleared = out.headers["set-cookie"].lower()
        assert cleared.startswith(f"{SESSION_COOKIE}=")
        assert "max-age=0" in cleared or "expires=" in cleared
        assert SESSION_COOKIE not in page.cookies
    with browser(daemon.url) as replay:
        replay.cookies.set(SESSION_COOKIE, cookie)
        assert_error(replay.get(f"/v1/advisors/{advisor_id}"), 401, "unauthorized", "sign in")
        signed_out = replay.delete("/app/session", headers={CSRF_HEADER: csrf})
        assert_error(signed_out, 401, "unauthorized", "sign in")


def test_a_bad_token_is_refused_and_no_session_opened(daemon: Daemon) -> None:
    with browser(daemon.url) as page:
        response = page.post("/app/session", json={"token": "not-a-token"})
        assert_error(response, 401, "unauthorized", "not known")
        assert "set-cookie" not in response.headers
        assert_error(page.post("/app/session", json={}), 400, "invalid_request", "token")
        page.cookies.set(SESSION_COOKIE, "made-up")
        assert_error(page.get(f"/v1/advisors/{ADVISOR_ID}"), 401, "unauthorized", "sign in")


def test_a_bearer_request_ignores_any_session_cookie(daemon: Daemon) -> None:
    with daemon.client(ADVISOR) as client:
        client.cookies.set(SESSION_COOKIE, "made-up")
        assert client.get(f"/v1/advisors/{ADVISOR_ID}").status_code == 200
    with browser(daemon.url) as page:
        sign_in(page, ADVISOR)
        wrong = page.get(f"/v1/advisors/{ADVISOR_ID}", headers={"Authorization": "Bearer nope"})
        assert_error(wrong, 401, "unauthorized", "not known")


def test_a_reloaded_page_gets_its_csrf_token_back_from_the_cookie(
    daemon: Daemon, advisor: tuple[str, str, int]
) -> None:
    advisor_id, token, _ = advisor
    with browser(daemon.url) as page:
        signed = page.post("/app/session", json={"token": token}).json()
        # A reload: the page's memory is gone, the cookie is not.
        again = page.get("/app/session")
        assert again.status_code == 200, again.text
        assert again.json() == signed
        changed = page.put(
            f"/v1/advisors/{advisor_id}/state",
            json={"state": "available"},
            headers={CSRF_HEADER: again.json()["csrf"]},
        )
        assert changed.status_code == 200, changed.text
    with browser(daemon.url) as stranger:
        assert_error(stranger.get("/app/session"), 401, "unauthorized", "sign in")


def test_an_altered_cookie_is_refused(daemon: Daemon, advisor: tuple[str, str, int]) -> None:
    advisor_id, token, _ = advisor
    with browser(daemon.url) as page:
        sign_in(page, token)
        cookie = page.cookies[SESSION_COOKIE]
        payload, _, mac = cookie.partition(".")
        for altered in (payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + mac, payload):
            page.cookies.clear()
            page.cookies.set(SESSION_COOKIE, altered)
            assert_error(page.get(f"/v1/advisors/{advisor_id}"), 401, "unauthorized", "altered")


def test_the_cookie_carries_the_token_id_never_the_token(
    daemon: Daemon, advisor: tuple[str, str, int]
) -> None:
    _, token, token_id = advisor
    with browser(daemon.url) as page:
        sign_in(page, token)
        payload = page.cookies[SESSION_COOKIE].partition(".")[0]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert token not in json.dumps(claims)
    assert claims[1] == "token"
    assert claims[4] == token_id


def test_the_environment_admin_token_opens_a_session(daemon: Daemon) -> None:
    with browser(daemon.url) as page:
        csrf = sign_in(page, ADMIN)
        assert page.get("/app/session").json()["role"] == "admin"
        assert page.get("/v1/queues").status_code == 200
        minted = page.post("/v1/tokens", json={"role": "supervisor"}, headers={CSRF_HEADER: csrf})
        assert minted.status_code == 201, minted.text


def test_a_session_survives_a_restart_of_the_daemon(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path).start()
    try:
        with browser(daemon.url) as page:
            csrf = sign_in(page, ADVISOR)
            daemon.stop()
            daemon.start()
            again = page.get("/app/session")
            assert again.status_code == 200, again.text
            assert again.json()["csrf"] == csrf
            changed = page.put(
                f"/v1/advisors/{ADVISOR_ID}/state",
                json={"state": "available"},
                headers={CSRF_HEADER: csrf},
            )
            assert changed.status_code == 200, changed.text
    finally:
        daemon.kill()


def test_a_session_survives_a_failover_to_another_daemon_on_the_same_redis(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = write_config(tmp_path)
    text = config.read_text()
    config.write_text(text.replace("\nlease_s = 10 ", "\nlease_s = 2 ", 1))
    first = Daemon(tmp_path / "a", config, store=redis_server.url)
    second = Daemon(tmp_path / "b", config, store=redis_server.url)
    for one in (first, second):
        one.directory.mkdir()
    try:
        first.start()
        with browser(first.url) as page:
            csrf = sign_in(page, ADVISOR)
            cookie = page.cookies[SESSION_COOKIE]
        first.kill()
        second.start(timeout=60)
        with browser(second.url) as page:
            page.cookies.set(SESSION_COOKIE, cookie)
            again = page.get("/app/session")
            assert again.status_code == 200, again.text
            assert again.json()["csrf"] == csrf
            assert page.get(f"/v1/advisors/{ADVISOR_ID}").status_code == 200
    finally:
        first.kill()
        second.kill()


# -- idleness, on a clock the test moves ---------------------------------------------------------


class Seconds:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))  # whole seconds, as the cookie keeps them

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


IDLE_S = 600.0


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Seconds]]:
    """The API with sessions idle after ``IDLE_S`` on a moved clock, by uvicorn on loopback."""
    runtime = build_runtime(load_config(write_config(tmp_path)), tmp_path / "journal.sqlite")
    clock = Seconds()
    tokens = Tokens.serving(runtime, {"AIGUILLAGE_ADMIN_TOKEN": ADMIN})
    sessions = Sessions(lambda: runtime.external_id_key, IDLE_S, clock)
    app = create_app(runtime, tokens, Tickets(60), sessions=sessions)
    async with serving_app(runtime, app) as url, httpx.AsyncClient(base_url=url) as page:
        yield page, clock


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")
async def test_a_session_unused_for_its_idle_time_out_ends_and_each_use_slides_it(
    served: tuple[httpx.AsyncClient, Seconds],
) -> None:
    page, clock = served
    signed = await page.post("/app/session", json={"token": ADVISOR})
    assert signed.status_code == 201, signed.text
    assert signed.json()["idle_timeout_s"] == IDLE_S
    path = f"/v1/advisors/{ADVISOR_ID}"
    clock.now += 30
    recent = await page.get(path)
    assert recent.status_code == 200
    assert "set-cookie" not in recent.headers  # used less than a minute ago: the same cookie
    clock.now += IDLE_S - 30
    used = await page.get(path)
    assert used.status_code == 200  # idle exactly IDLE_S: still open, and renewed
    assert used.headers["set-cookie"].startswith(f"{SESSION_COOKIE}=")
    renewed = page.cookies[SESSION_COOKIE]
    clock.now += IDLE_S
    assert (await page.get(path)).status_code == 200
    assert (await page.get("/app/session")).status_code == 200
    clock.now += IDLE_S + 1
    assert_error(await page.get(path), 401, "unauthorized", "idle")
    assert_error(await page.get("/app/session"), 401, "unauthorized", "idle")
    # The older cookie, replayed, is no better.
    page.cookies.clear()
    page.cookies.set(SESSION_COOKIE, renewed)
    assert_error(await page.get(path), 401, "unauthorized", "idle")


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")
async def test_a_refused_request_renews_no_cookie(
    served: tuple[httpx.AsyncClient, Seconds],
) -> None:
    page, clock = served
    await page.post("/app/session", json={"token": ADVISOR})
    clock.now += 120
    refused = await page.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
