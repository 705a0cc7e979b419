"""A tiny OpenID Connect provider on loopback, for the sign-in tests: real HTTP, real JOSE.

It serves what the daemon uses of a provider: the discovery document, the authorization
endpoint (which approves ``user`` at once and redirects back with a code), the token endpoint
(which checks the client secret, the redirect URI and the PKCE verifier against the S256
challenge, and answers an ID token signed RS256 or ES256), and the JWKS. A test turns its knobs
to make it misbehave: another nonce, an expired token, a signature by a key it does not publish.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

__all__ = ["Provider", "providing"]


@dataclass
class Provider:
    """The provider's settings and knobs (a test changes them between sign-ins)."""

    client_id: str
    client_secret: str
    user: dict[str, Any]
    """The claims of the one person it signs in (``sub`` and the rest)."""
    issuer: str = ""
    alg: str = "RS256"
    """How it signs ID tokens: RS256 or ES256 (P-256)."""
    key: RSAKey | ECKey | None = None
    """The key it publishes (made for ``alg`` when not given)."""
    signing_key: RSAKey | ECKey | None = None
    """When set, ID tokens are signed with it (still claiming the published key's ``kid``)."""
    nonce: str | None = None
    """When set, the ID token carries this nonce instead of the one asked for."""
    lifetime_s: int = 300
    consent_page: bool = False
    """When set, authorizing answers a page with a link back (``#approve``) instead of a
    redirect: the way back is then a navigation the provider's site starts, as when a person
    approves there, which a browser treats as coming from another site."""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    """Why the token endpoint refused, in order (what the tests assert on)."""

    def __post_init__(self) -> None:
        if self.key is None:
            self.key = self.new_key()

    def new_key(self) -> RSAKey | ECKey:
        """A key for ``alg``, named ``k1`` (as the published one is)."""
        if self.alg == "ES256":
            return ECKey.generate_key("P-256", {"kid": "k1"})
        return RSAKey.generate_key(2048, {"kid": "k1"})

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.alg],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def jwks(self) -> dict[str, Any]:
        assert self.key is not None
        return KeySet([self.key]).as_dict(private=False)

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """Approve at once: return (status, the redirect back, or why not)."""
        if query.get("client_id") != self.client_id:
            return 400, "unknown client"
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            return 400, "code flow with S256 only"
        if "openid" not in query.get("scope", "").split():
            return 400, "scope openid missing"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": query.get("code_challenge", ""),
            "nonce": query.get("nonce", ""),
            "redirect_uri": query.get("redirect_uri", ""),
        }
        back = urlencode({"code": code, "state": query.get("state", "")})
        return 302, f"{query['redirect_uri']}?{back}"

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return self._refuse(401, "invalid_client", "wrong client credentials")
        if form.get("grant_type") != "authorization_code":
            return self._refuse(400, "unsupported_grant_type", "authorization_code only")
        issued = self.codes.pop(form.get("code", ""), None)
        if issued is None:
            return self._refuse(400, "invalid_grant", "unknown or used code")
        if form.get("redirect_uri") != issued["redirect_uri"]:
            return self._refuse(400, "invalid_grant", "redirect_uri differs")
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if not secrets.compare_digest(challenge.decode(), issued["challenge"]):
            return self._refuse(400, "invalid_grant", "PKCE verifier does not match")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + self.lifetime_s,
            "nonce": self.nonce if self.nonce is not None else issued["nonce"],
            **self.user,
        }
        key = self.signing_key or self.key
        assert key is not None
        id_token = jwt.encode({"alg": self.alg, "kid": "k1"}, claims, key)
        return 200, {"access_token": "opaque", "token_type": "Bearer", "id_token": id_token}

    def _refuse(self, status: int, error: str, why: str) -> tuple[int, dict[str, Any]]:
        self.refusals.append(why)
        return status, {"error": error, "error_description": why}


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _page(self, back: str) -> None:
            link = html.escape(back, quote=True)
            data = f'<!doctype html><title>Approve</title><a id="approve" href="{link}">Go</a>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data.encode())))
            self.end_headers()
            self.wfile.write(data.encode())

        def _answer(self, status: int, body: Any, location: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._answer(200, provider.discovery())
            elif url.path == "/jwks":
                self._answer(200, provider.jwks())
            elif url.path == "/authorize":
                status, where = provider.authorize(query)
                if status == 302 and provider.consent_page:
                    self._page(where)
                elif status == 302:
                    self._answer(302, {}, location=where)
                else:
                    self._answer(status, {"error": "invalid_request", "detail": where})
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/token":
                self._answer(404, {"error": "not_found"})
                return
            status, body = provider.token(form, self.headers.get("Authorization", ""))
            self._answer(status, body)

    return Handler


@contextmanager
def providing(provider: Provider, host: str = "127.0.0.1") -> Iterator[Provider]:
    """Serve ``provider`` on a free loopback port until the block ends; its ``issuer`` names
    it by ``host`` (``localhost``: another site than ``127.0.0.1``, for a browser)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.issuer = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
