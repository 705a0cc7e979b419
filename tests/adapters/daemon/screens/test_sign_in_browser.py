"""Browser sign-in in a real Chromium: the session cookie is out of the page's scripts' reach,
nothing is stored, and the session outlives a reload and a restart of the daemon; signing in
through OpenID Connect follows the provider's redirects from another site back to the daemon.

The page calls the API as the screens do (``fetch`` with the cookie), through a real daemon
subprocess on loopback; the OpenID provider is the tests' own (``oidc_provider``), named
``localhost`` so that, to the browser, it is another site than the daemon's ``127.0.0.1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiguillage.adapters.daemon.api.sessions import SESSION_COOKIE
from tests.adapters.daemon.api.oidc_provider import Provider, providing
from tests.adapters.daemons import ADVISOR, ADVISOR_ID, Daemon, write_config

SIGN_IN = """async (token) => {
  const r = await fetch("/app/session", {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({token})});
  return {status: r.status, body: await r.json()};
}"""
CURRENT = """async () => {
  const r = await fetch("/app/session", {credentials: "same-origin"});
  return {status: r.status, body: await r.json()};
}"""
STORED = "() => [document.cookie, localStorage.length, sessionStorage.length]"


def test_the_session_outlives_a_reload_and_a_restart_and_no_script_sees_it(
    page: Any, tmp_path: Path
) -> None:
    daemon = Daemon(tmp_path).start()
    try:
        page.goto(f"{daemon.url}/livez")
        signed = page.evaluate(SIGN_IN, ADVISOR)
        assert signed["status"] == 201, signed
        assert [c["name"] for c in page.context.cookies()] == [SESSION_COOKIE]
        assert page.context.cookies()[0]["httpOnly"] is True
        assert page.context.cookies()[0]["sameSite"] == "Strict"
        page.reload()
        again = page.evaluate(CURRENT)
        assert again == {"status": 200, "body": signed["body"]}
        daemon.stop()
        daemon.start()
        page.reload()
        after = page.evaluate(CURRENT)
        assert after == {"status": 200, "body": signed["body"]}
        assert page.evaluate(STORED) == ["", 0, 0]
    finally:
        daemon.kill()


def test_signing_in_through_openid_connect_in_a_browser(page: Any, tmp_path: Path) -> None:
    user = {"sub": "u-42", "preferred_username": ADVISOR_ID, "role": "advisor"}
    provider = Provider("aiguillage", "s3cret", user, consent_page=True)
    with providing(provider, host="localhost"):
        daemon = Daemon(tmp_path, env={"AIGUILLAGE_OIDC_CLIENT_SECRET": "s3cret"})
        write_config(
            tmp_path,
            f"""
[oidc]
issuer = "{provider.issuer}"
client_id = "aiguillage"
redirect_url = "{daemon.url}/app/oidc/callback"
role_claim = "role"
after_sign_in = "/livez"
""",
        )
        daemon.start()
        try:
            page.goto(f"{daemon.url}/app/oidc/login")
            assert page.url.startswith(f"{provider.issuer}/authorize?")
            # The person approves at the provider: a navigation from another site.
            with page.expect_navigation(url=f"{daemon.url}/livez"):
                page.click("#approve")
            current = page.evaluate(CURRENT)
            assert current["status"] == 200, current
            assert current["body"]["role"] == "advisor"
            assert current["body"]["advisor_id"] == ADVISOR_ID
            names = [c["name"] for c in page.context.cookies()]
            assert names == [SESSION_COOKIE]  # the flow's cookie is spent
            assert provider.refusals == []
        finally:
            daemon.kill()
