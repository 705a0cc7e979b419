"""OAuth 2.0 access tokens for XOAUTH2, against a token endpoint of the test's own on loopback:
a refresh token exchanged, kept until it nears its end, rotated, and refused in words."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from aiguillage.adapters.channels.mail.oauth import AccessTokens
from aiguillage.adapters.channels.mail.settings import MailSettings

pytestmark = pytest.mark.anyio


class TokenEndpoint:
    """Answers RFC 6749 refresh-token grants: ``good-refresh`` (then the rotated one) works."""

    def __init__(self) -> None:
        self.grants: list[dict[str, str]] = []
        self.expires_in = 3600
        self.valid = {"good-refresh"}
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                endpoint.grants.append(form)
                if form.get("refresh_token") in endpoint.valid:
                    number = len(endpoint.grants)
                    endpoint.valid = {f"rotated-{number}"}
                    status, body = (
                        200,
                        {
                            "access_token": f"access-{number}",
                            "expires_in": endpoint.expires_in,
                            "refresh_token": f"rotated-{number}",
                        },
                    )
                else:
                    status, body = 400, {"error": "invalid_grant"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    served = TokenEndpoint()
    yield served
    served.server.shutdown()
    served.server.server_close()


async def test_a_refresh_token_is_exchanged_kept_and_rotated(endpoint: TokenEndpoint) -> None:
    tokens = AccessTokens(endpoint.url, "client", "client-secret", "good-refresh")
    assert await tokens.access_token() == "access-1"
    assert await tokens.access_token() == "access-1"  # still valid: not asked again
    assert len(endpoint.grants) == 1
    assert endpoint.grants[0] == {
        "grant_type": "refresh_token",
        "refresh_token": "good-refresh",
        "client_id": "client",
        "client_secret": "client-secret",
    }


async def test_a_token_near_its_end_is_renewed_with_the_rotated_refresh_token(
    endpoint: TokenEndpoint,
) -> None:
    endpoint.expires_in = 30  # less than the minute kept in hand: renewed at the next use
    tokens = AccessTokens(endpoint.url, "client", "client-secret", "good-refresh")
    assert await tokens.access_token() == "access-1"
    assert await tokens.access_token() == "access-2"
    assert endpoint.grants[1]["refresh_token"] == "rotated-1"


async def test_a_refused_refresh_token_asks_for_a_new_authorisation(
    endpoint: TokenEndpoint,
) -> None:
    tokens = AccessTokens(endpoint.url, "client", "client-secret", "revoked")
    with pytest.raises(PermissionError, match="authorise the mailbox again"):
        await tokens.access_token()


def test_settings_without_what_xoauth2_needs_say_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = MailSettings(
        imap_host="imap.example.fr",
        imap_user="u",
        auth="xoauth2",
        smtp_host="smtp.example.fr",
        from_address="a@example.fr",
        oauth_token_url="https://login.example/token",
        oauth_client_secret_env="SECRET_FOR_TEST",
        oauth_refresh_token_env="REFRESH_FOR_TEST",
    )
    monkeypatch.delenv("SECRET_FOR_TEST", raising=False)
    with pytest.raises(ValueError, match="oauth_client_id, oauth_client_secret_env"):
        AccessTokens.of(settings)
