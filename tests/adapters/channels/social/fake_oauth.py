"""A fake OAuth 2.0 authorization server for contract tests, held to RFC 6749 and RFC 7636.

It is a real HTTP server on loopback (the standard library's, in a thread). What it checks, as
the RFCs say a server must, and records in ``violations`` (which the tests' fixture asserts
empty) when a client breaks it:

- ``GET /authorize`` (RFC 6749, 4.1.1; RFC 7636, 4.3): ``response_type=code``, a known
  ``client_id``, the ``redirect_uri`` registered for it (exact match), a ``scope``, a
  ``state``, a ``code_challenge`` of 43 characters with ``code_challenge_method=S256``. The
  person consents (or not: ``deny``) and the browser is redirected (302) to the redirect URI
  with ``code`` and ``state`` (or ``error=access_denied`` and ``state``).
- ``POST /token`` (RFC 6749, 2.3.1, 4.1.3, 5, 6; RFC 7636, 4.5-4.6), form-encoded: the client
  authenticated by HTTP Basic or by ``client_id``/``client_secret`` in the body (not both);
  ``grant_type=authorization_code`` with a code issued to this client, not used before (a code
  used twice is ``invalid_grant``), the same ``redirect_uri``, and a ``code_verifier`` whose
  S256 is the challenge; ``grant_type=refresh_token`` with a live refresh token of this client.
  Answers are JSON with ``Cache-Control: no-store``: ``access_token``, ``token_type``,
  ``expires_in``, ``refresh_token``, ``scope``; refusals are 400 ``{"error": ...}`` (401
  ``invalid_client``). With ``rotate``, each refresh gives a new refresh token and retires the
  one used (as X does).

``live`` is the set of access tokens a resource server (a platform's fake API) accepts: issued
here and not expired.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from tests.adapters.daemons import free_port

CLIENT_ID = "aiguillage-test-client"
CLIENT_SECRET = "s3cret-of-the-client"


class LiveTokens:
    """The access tokens a resource server accepts (a set-like view of the server's)."""

    def __init__(self, server: FakeOAuth) -> None:
        self._server = server

    def __contains__(self, token: object) -> bool:
        with self._server.lock:
            expiry = self._server.access.get(str(token))
        return expiry is not None and time.time() < expiry

    def add(self, token: str) -> None:
        with self._server.lock:
            self._server.access[token] = time.time() + 3600


class FakeOAuth:
    """See the module docstring. Thread-safe: tests script it from their own thread."""

    def __init__(self, *, redirect_uri: str, lifetime_s: int = 3600, rotate: bool = True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redirect_uri = redirect_uri
        self.lifetime_s = lifetime_s
        self.rotate = rotate
        self.deny = False
        self.delay_s = 0.0
        """How long the token endpoint takes to answer."""
        self.down = False
        """The token endpoint answers 503 while set."""
        self.violations: list[str] = []
        self.lock = threading.RLock()
        self.codes: dict[str, dict[str, Any]] = {}
        self.used_codes: set[str] = set()
        self.refresh: dict[str, str] = {}
        """Live refresh tokens, with the scope they carry."""
        self.retired: set[str] = set()
        self.access: dict[str, float] = {}
        """Access tokens issued, with their expiry."""
        self.token_requests = 0
        self.grants: list[str] = []
        """The grant type of each token granted, in order."""
        self.live = LiveTokens(self)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # -- what tests script ---------------------------------------------------------------------

    def revoke_all(self) -> None:
        """The person withdrew the app's access: every refresh and access token dies."""
        with self.lock:
            self.retired |= set(self.refresh)
            self.refresh.clear()
            self.access.clear()

    def expire_access(self) -> None:
        with self.lock:
            for token in self.access:
                self.access[token] = 0.0

    def count(self, grant_type: str) -> int:
        with self.lock:
            return self.grants.count(grant_type)

    # -- serving -------------------------------------------------------------------------------

    def start(self) -> FakeOAuth:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._authorize(self)

            def do_POST(self) -> None:
                fake._token(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _violation(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)

    def _authorize(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        if parts.path != "/authorize":
            _send(request, 404, {"error": "not_found"})
            return
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        problems = []
        if query.get("response_type") != "code":
            problems.append("response_type is not code")
        if query.get("client_id") != CLIENT_ID:
            problems.append(f"unknown client_id {query.get('client_id')!r}")
        if query.get("redirect_uri") != self.redirect_uri:
            problems.append(f"redirect_uri {query.get('redirect_uri')!r} is not registered")
        if not query.get("scope"):
            problems.append("no scope")
        if not query.get("state"):
            problems.append("no state (RFC 6749, 10.12)")
        challenge = query.get("code_challenge", "")
        if query.get("code_challenge_method") != "S256" or len(challenge) != 43:
            problems.append("no S256 code_challenge of 43 characters (RFC 7636, 4.2)")
        if problems:
            # RFC 6749, 4.1.2.1: a bad client or redirect is shown, never redirected to.
            self._violation("authorize: " + "; ".join(problems))
            _send(request, 400, {"error": "invalid_request", "problems": problems})
            return
        if self.deny:
            answer = {"error": "access_denied", "state": query["state"]}
        else:
            code = f"code-{next(self._ids)}"
            with self.lock:
                self.codes[code] = {
                    "challenge": challenge,
                    "redirect_uri": query["redirect_uri"],
                    "scope": query["scope"],
                    "issued": time.time(),
                }
            answer = {"code": code, "state": query["state"]}
        request.send_response(302)
        request.send_header("Location", f"{self.redirect_uri}?{urlencode(answer)}")
        request.send_header("Content-Length", "0")
        request.end_headers()

    def _token(self, request: BaseHTTPRequestHandler) -> None:
        if urlsplit(request.path).path != "/token":
            _send(request, 404, {"error": "not_found"})
            return
        with self.lock:
            self.token_requests += 1
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length).decode()
        if request.headers.get("Content-Type", "").split(";")[0] != (
            "application/x-www-form-urlencoded"
        ):
            self._violation("token: the body is not application/x-www-form-urlencoded")
            _send(request, 400, {"error": "invalid_request"})
            return
        form = dict(parse_qsl(body, keep_blank_values=True))
        time.sleep(self.delay_s)
        if self.down:
            _send(request, 503, {"error": "temporarily_unavailable"})
            return
        client = self._client(request, form)
        if client is None:
            _send(request, 401, {"error": "invalid_client"})
            return
        grant_type = form.get("grant_type")
        with self.lock:
            if grant_type == "authorization_code":
                self._code_grant(request, form)
            elif grant_type == "refresh_token":
                self._refresh_grant(request, form)
            else:
                self._violation(f"token: grant_type {grant_type!r}")
                _send(request, 400, {"error": "unsupported_grant_type"})

    def _client(self, request: BaseHTTPRequestHandler, form: dict[str, str]) -> str | None:
        header = request.headers.get("Authorization", "")
        in_body = "client_secret" in form
        if header.startswith("Basic "):
            if in_body:
                self._violation("token: the client authenticated twice (RFC 6749, 2.3)")
                return None
            pair = base64.b64decode(header.removeprefix("Basic ")).decode()
            client_id, _, secret = pair.partition(":")
            client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            self._violation(f"token: client {client_id!r} not authenticated")
            return None
        return client_id

    def _code_grant(self, request: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        code = form.get("code", "")
        issued = self.codes.get(code)
        if issued is None or code in self.used_codes:
            _send(request, 400, {"error": "invalid_grant", "error_description": "unknown code"})
            return
        self.used_codes.add(code)
        if form.get("redirect_uri") != issued["redirect_uri"]:
            self._violation("token: redirect_uri differs from the authorisation request's")
            _send(request, 400, {"error": "invalid_grant"})
            return
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != issued["challenge"]:
            self._violation("token: code_verifier does not match the challenge (RFC 7636, 4.6)")
            _send(request, 400, {"error": "invalid_grant", "error_description": "PKCE"})
            return
        self._grant(request, "authorization_code", issued["scope"], new_refresh=True)

    def _refresh_grant(self, request: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        token = form.get("refresh_token", "")
        scope = self.refresh.get(token)
        if scope is None:
            error = "a retired refresh token" if token in self.retired else "unknown"
            _send(request, 400, {"error": "invalid_grant", "error_description": error})
            return
        if self.rotate:
            del self.refresh[token]
            self.retired.add(token)
        self._grant(request, "refresh_token", scope, new_refresh=self.rotate)

    def _grant(
        self, request: BaseHTTPRequestHandler, grant_type: str, scope: str, *, new_refresh: bool
    ) -> None:
        number = next(self._ids)
        access = f"access-{number}"
        self.access[access] = time.time() + self.lifetime_s
        self.grants.append(grant_type)
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.lifetime_s,
            "scope": scope,
        }
        if new_refresh:
            refresh = f"refresh-{number}"
            self.refresh[refresh] = scope
            answer["refresh_token"] = refresh
        _send(request, 200, answer)


def _send(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Cache-Control", "no-store")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
