"""Browser sessions: the people's screens sign in once, then hold only a signed cookie.

A page must not keep a bearer token where any script of it can read it (``localStorage``). It
posts the token once to ``POST /app/session`` (or signs in through OpenID Connect, see
``oidc``); the daemon answers with a cookie ``aiguillage_session`` (HttpOnly, SameSite=Strict,
Path=/, and Secure unless the request came over plain http to a loopback address) and with a
CSRF token the page keeps in memory. A reloaded page asks ``GET /app/session`` for its CSRF
token again. From then on ``caller`` (``routes``) accepts the cookie in place of an
``Authorization`` header:

- the session's token is checked again on every request (``Tokens.by_id``), so revoking it,
  its expiry or its advisor's removal ends the session at once;
- a request that may change something (POST, PUT, PATCH, DELETE) must carry the header
  ``X-CSRF-Token`` with the session's CSRF token; without it the answer is 403 and nothing is
  done;
- a session unused for ``[daemon] session_idle_s`` seconds ends; each use, at most a minute
  apart, gives the browser a new cookie saying when it was last used (a sliding time-out);
- ``DELETE /app/session`` signs out: the cookie is cleared.

A request with an ``Authorization`` header is a bearer request, whatever cookie it carries.

The cookie is the session. It holds a random session id, what the session stands for (the
journal's id of its token, never the secret; or, for OpenID Connect, the role, advisor and
subject the provider vouched for; or a fingerprint of ``AIGUILLAGE_ADMIN_TOKEN``), when it was
opened and last used, all MAC'd with HMAC-SHA256 under a key derived from the deployment's
secret (``signed``). No daemon keeps a table of sessions: any daemon of the deployment checks a
cookie after a restart or a failover, and the page never signs in again for those. The CSRF
token is a MAC of the session id, so it needs no storage either.

Signing out clears the cookie, and the daemon keeps the session id in a signed-out set until
the session would have been idle too long anyway, so that a copy of the cookie replayed after
the sign-out is refused. That set lives in the daemon's memory: another daemon, or this one
after a restart, does not know it. It is enough, because the browser has dropped the cookie
(HttpOnly: no script of the page ever read it), so a replay needs a copy taken from the
machine or the wire, and even that copy dies at its idle time-out; to end every session of a
person for sure, revoke the token (or remove the advisor), which every daemon sees at once.

"Plain http to loopback" means both the address the request came in on and its ``Host`` are
loopback: a page on ``http://127.0.0.1`` gets a cookie it can send back, and one behind a
TLS-terminating proxy that keeps the public ``Host`` gets a Secure one.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.openapi import ResponseSpec
from litestar.types import Message, Scope

from aiguillage.adapters.daemon.api import signed
from aiguillage.adapters.daemon.api.models import ErrorOut
from aiguillage.adapters.daemon.auth import Principal, Tokens, Unauthenticated
from aiguillage.engine.tokens import ROLES

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_ROUTES",
    "Claims",
    "SessionIn",
    "SessionOut",
    "Sessions",
    "refresh_cookie",
    "secure_cookie",
    "session_principal",
    "session_response",
    "signed_in",
]

SESSION_COOKIE = "aiguillage_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFRESH_S = 60.0
"""A cookie last used longer ago than this (or half the idle time-out) is given anew."""
_LABEL = b"aiguillage browser sessions v1"
_REFRESHED = "aiguillage.session_cookie"
"""Where ``session_principal`` leaves a renewed cookie, for ``refresh_cookie`` to send."""

Kind = Literal["token", "environment", "oidc"]


class Claims(msgspec.Struct, frozen=True, array_like=True):
    """What a session cookie says, under its MAC (readable by whoever holds the cookie)."""

    sid: str
    kind: Kind
    issued: int
    """When the session was opened (seconds since the epoch)."""
    used: int
    """When it was last used, to a minute (the cookie is given anew at most once a minute)."""
    token_id: int | None = None
    """``token``: the journal's id of the token signed in with."""
    role: str = ""
    """``oidc``: the role the provider's claims map to."""
    advisor_id: str | None = None
    subject: str = ""
    """``oidc``: the provider's subject; ``environment``: a fingerprint of the admin token."""


class SignInAgain(NotAuthorizedException):
    """A cookie that opens nothing (any more): 401, saying why."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail}; sign in again (POST /app/session)")


class Sessions:
    """Opens and checks session cookies; ``key`` returns the deployment's secret (raising while
    the daemon cannot serve), ``clock`` the wall-clock time in seconds."""

    def __init__(
        self,
        key: Callable[[], bytes],
        idle_s: float = 1800.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle_s = idle_s
        self._key = key
        self._clock = clock
        self._signed_out: dict[str, float] = {}
        """Session id -> when it would have ended anyway (see the module's docstring)."""

    def open(self, kind: Kind, **what: Any) -> tuple[str, Claims]:
        """Return a new session's cookie value and its claims."""
        now = int(self._clock())
        claims = Claims(secrets.token_urlsafe(24), kind, now, now, **what)
        return self._sealed(claims), claims

    def read(self, value: str | None) -> Claims:
        """Return what a cookie says; raise ``SignInAgain`` if it was not ours, was altered,
        was signed out, or was idle too long."""
        payload = signed.verify(self._session_key(), value or "")
        if payload is None:
            raise SignInAgain("this session cookie is not one of ours, or was altered")
        try:
            claims = msgspec.json.decode(payload, type=Claims)
        except msgspec.DecodeError:
            raise SignInAgain("this session cookie is of another version") from None
        now = self._clock()
        if now - claims.used > self.idle_s:
            raise SignInAgain(f"this session was idle more than {self.idle_s:g} s")
        if claims.sid in self._signed_out:
            raise SignInAgain("this session was signed out")
        return claims

    def csrf(self, claims: Claims) -> str:
        """The session's CSRF token: a MAC of its id, so nothing keeps it."""
        return signed.mac(self._session_key(), b"csrf\0" + claims.sid.encode())

    def renewed(self, claims: Claims) -> str | None:
        """Return the cookie value saying the session is used now, when the one sent is older
        than a minute (or half the idle time-out); ``None`` while it is recent enough."""
        now = int(self._clock())
        if now - claims.used < min(REFRESH_S, self.idle_s / 2):
            return None
        return self._sealed(msgspec.structs.replace(claims, used=now))

    def close(self, claims: Claims) -> None:
        """Refuse the session's cookie from now on, until it would have been idle too long."""
        now = self._clock()
        self._signed_out = {sid: end for sid, end in self._signed_out.items() if end >= now}
        self._signed_out[claims.sid] = claims.used + self.idle_s

    def environment_fingerprint(self, admin_digest: str) -> str:
        """What a session opened with ``AIGUILLAGE_ADMIN_TOKEN`` holds of it: a MAC of its
        digest, so that the session ends when the variable changes."""
        return signed.mac(self._session_key(), b"environment\0" + admin_digest.encode())

    def key_for(self, label: bytes) -> bytes:
        """A key of the deployment's for another use than sessions (``label`` names it)."""
        return signed.derive(self._key(), label)

    def _sealed(self, claims: Claims) -> str:
        return signed.sign(self._session_key(), msgspec.json.encode(claims))

    def _session_key(self) -> bytes:
        return self.key_for(_LABEL)


def _csrf_checked(request: Request[Any, Any, Any], sessions: Sessions, claims: Claims) -> None:
    if request.method in UNSAFE and not secrets.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), sessions.csrf(claims).encode()
    ):
        raise PermissionDeniedException(
            f"a request of a browser session that changes something needs the header "
            f"{CSRF_HEADER} with the session's CSRF token"
        )


def _principal(request: Request[Any, Any, Any], sessions: Sessions, claims: Claims) -> Principal:
    """Who the session stands for now, checked against the journal as a token would be."""
    tokens: Tokens = request.app.state.tokens
    if claims.kind == "token" and claims.token_id is not None:
        principal = tokens.by_id(claims.token_id)
        if principal is None:
            raise SignInAgain("the token of this session was revoked or expired")
        return principal
    if claims.kind == "environment":
        admin = tokens.admin_digest
        if admin is None or not secrets.compare_digest(
            claims.subject.encode(), sessions.environment_fingerprint(admin).encode()
        ):
            raise SignInAgain("the admin token of this session changed")
        return Principal("admin", None, "environment")
    if claims.kind == "oidc":
        if getattr(request.app.state, "oidc", None) is None:
            raise SignInAgain("OpenID Connect sign-in is no longer configured")
        if claims.role not in ROLES:
            raise SignInAgain(f"role `{claims.role}` is not one this daemon knows")
        if claims.role == "advisor" and not tokens.advisor_present(claims.advisor_id or ""):
            raise SignInAgain(f"advisor `{claims.advisor_id}` is not on the roster")
        return Principal(claims.role, claims.advisor_id, f"oidc {claims.subject}")
    raise SignInAgain("this session cookie is of another version")


def _verified(request: Request[Any, Any, Any]) -> tuple[Sessions, Claims, Principal]:
    """Check the request's session cookie, its principal and its CSRF header; leave a renewed
    cookie for ``refresh_cookie`` when it is due."""
    sessions: Sessions = request.app.state.sessions
    claims = sessions.read(request.cookies.get(SESSION_COOKIE))
    principal = _principal(request, sessions, claims)
    _csrf_checked(request, sessions, claims)
    renewed = sessions.renewed(claims)
    if renewed is not None:
        request.scope.setdefault("state", {})[_REFRESHED] = _cookie(request, renewed)
    return sessions, claims, principal


def session_principal(request: Request[Any, Any, Any]) -> Principal:
    """Return who the request's session cookie stands for, checking its token and CSRF."""
    return _verified(request)[2]


def signed_in(request: Request[Any, Any, Any]) -> tuple[str, Principal]:
    """Return the session's id and who its cookie stands for, checked as by
    ``session_principal`` (the access log names the session that read personal data)."""
    _, claims, principal = _verified(request)
    return claims.sid, principal


async def refresh_cookie(message: Message, scope: Scope) -> None:
    """``before_send``: add the renewed session cookie ``session_principal`` left, if any, to
    the answer (a refused request renews nothing: the check came first)."""
    if message["type"] != "http.response.start":
        return
    cookie = scope.get("state", {}).pop(_REFRESHED, None)
    if cookie is not None:
        message["headers"] = [*message.get("headers", []), cookie.to_encoded_header()]


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secure_cookie(request: Request[Any, Any, Any]) -> bool:
    """Whether the cookie must be Secure: always, but for plain http to a loopback address."""
    server = request.scope.get("server")
    server_host = server[0] if server else None
    plain = request.url.scheme == "http"
    return not (plain and _loopback(server_host) and _loopback(request.url.hostname))


def _cookie(request: Request[Any, Any, Any], value: str) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )


class SessionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: str


class SessionOut(msgspec.Struct, kw_only=True):
    csrf: str
    """Send it back as the header ``X-CSRF-Token`` with every POST, PUT, PATCH and DELETE."""
    role: str
    advisor_id: str | None
    idle_timeout_s: int


def _described(sessions: Sessions, claims: Claims, principal: Principal) -> SessionOut:
    return SessionOut(
        csrf=sessions.csrf(claims),
        role=principal.role,
        advisor_id=principal.advisor_id,
        idle_timeout_s=math.ceil(sessions.idle_s),
    )


def session_response(
    request: Request[Any, Any, Any], kind: Kind, principal: Principal, **what: Any
) -> tuple[Cookie, SessionOut]:
    """Open a session for ``principal``: its cookie, and what the page is told of it."""
    sessions: Sessions = request.app.state.sessions
    value, claims = sessions.open(kind, **what)
    return _cookie(request, value), _described(sessions, claims, principal)


def _errors(**described: str) -> dict[int, ResponseSpec]:
    statuses = {
        "bad_request": 400,
        "unauthorized": 401,
        "forbidden": 403,
        "internal": 500,
        "unavailable": 503,
    }
    return {
        statuses[name]: ResponseSpec(data_container=ErrorOut, description=f"{name}: {text}")
        for name, text in described.items()
    }


_COMMON = {
    "internal": "a fault of ours, logged",
    "unavailable": "the journal is rebuilt or cannot write, or this daemon is a standby "
    "(`leader` names the one that serves); `Retry-After`",
}


@post(
    "/app/session",
    tags=["sessions"],
    status_code=201,
    security=[],
    responses=_errors(
        bad_request="a body that is not `{token}`",
        unauthorized="a token we do not know (never minted, revoked, expired)",
        forbidden="never answered here; a session's requests answer it without `X-CSRF-Token`",
        **_COMMON,
    ),
)
async def sign_in(request: Request[Any, Any, Any], data: SessionIn) -> Response[SessionOut]:
    """Exchange a token for a browser session: an HttpOnly cookie, and a CSRF token."""
    tokens: Tokens = request.app.state.tokens
    try:
        principal = tokens.authenticate(data.token.strip())
    except Unauthenticated as refused:
        raise NotAuthorizedException(str(refused)) from None
    if principal.token_id is not None:
        cookie, body = session_response(request, "token", principal, token_id=principal.token_id)
    else:
        sessions: Sessions = request.app.state.sessions
        fingerprint = sessions.environment_fingerprint(tokens.admin_digest or "")
        cookie, body = session_response(request, "environment", principal, subject=fingerprint)
    return Response(body, status_code=201, cookies=[cookie])


@get(
    "/app/session",
    tags=["sessions"],
    security=[],
    responses=_errors(
        bad_request="never answered here (the route takes no input but the cookie)",
        unauthorized="no session, or one signed out, idle too long, or whose token was revoked",
        forbidden="never answered here",
        **_COMMON,
    ),
)
async def current_session(request: Request[Any, Any, Any]) -> SessionOut:
    """The signed-in session, as signing in answered it: a reloaded page's CSRF token.

    A page of another site cannot read it: the cookie is SameSite=Strict, and the daemon
    answers no CORS request."""
    sessions, claims, principal = _verified(request)
    return _described(sessions, claims, principal)


@delete(
    "/app/session",
    tags=["sessions"],
    status_code=204,
    security=[],
    responses=_errors(
        bad_request="never answered here (the route takes no input but the cookie)",
        unauthorized="no session, or one ended or idle too long",
        forbidden="no `X-CSRF-Token` header with the session's CSRF token",
        **_COMMON,
    ),
)
async def sign_out(request: Request[Any, Any, Any]) -> Response[None]:
    """Sign out: the cookie is cleared and refused from now on (needs ``X-CSRF-Token``)."""
    sessions: Sessions = request.app.state.sessions
    claims = sessions.read(request.cookies.get(SESSION_COOKIE))
    _csrf_checked(request, sessions, claims)
    sessions.close(claims)
    response: Response[None] = Response(None, status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


SESSION_ROUTES = [sign_in, current_session, sign_out]
