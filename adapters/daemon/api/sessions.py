"""Browser sessions: the people's screens sign in once with a token, then hold only a cookie.

A page must not keep a bearer token where any script of it can read it (``localStorage``). It
posts the token once to ``POST /app/session``; the daemon answers with a cookie
``aiguillage_session`` (HttpOnly, SameSite=Strict, Path=/, and Secure unless the request came
over plain http to a loopback address) holding an opaque random id, and with a CSRF token the
page keeps in memory. From then on ``caller`` (``routes``) accepts the cookie in place of an
``Authorization`` header:

- the session's token is checked again on every request (``Tokens.current``), so revoking it,
  its expiry or its advisor's removal ends the session at once;
- a request that may change something (POST, PUT, PATCH, DELETE) must carry the header
  ``X-CSRF-Token`` with the session's CSRF token; without it the answer is 403 and nothing is
  done;
- a session unused for ``idle_s`` seconds (``IDLE_S`` by default) is forgotten;
- ``DELETE /app/session`` signs out: the session is forgotten and the cookie cleared.

A request with an ``Authorization`` header is a bearer request, whatever cookie it carries.

"Plain http to loopback" means both the address the request came in on and its ``Host`` are
loopback: a page on ``http://127.0.0.1`` gets a cookie it can send back, and one behind a
TLS-terminating proxy that keeps the public ``Host`` gets a Secure one.

Sessions live in the daemon's memory only: a restart forgets them all, and the page signs in
again (as it does after an idle time-out). The daemon keeps, per session, the token's principal
(its id in the journal, never the secret), the CSRF token, and when it was last used.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, Response, delete, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.openapi import ResponseSpec

from aiguillage.adapters.daemon.api.models import ErrorOut
from aiguillage.adapters.daemon.auth import Principal, Tokens, Unauthenticated

__all__ = [
    "CSRF_HEADER",
    "IDLE_S",
    "SESSION_COOKIE",
    "SESSION_ROUTES",
    "SessionIn",
    "SessionOut",
    "Sessions",
    "session_principal",
]

SESSION_COOKIE = "aiguillage_session"
CSRF_HEADER = "X-CSRF-Token"
IDLE_S = 1800.0
"""How long a session may go unused; ``[daemon] session_idle_s`` is where it will be set."""
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Session(msgspec.Struct, kw_only=True):
    principal: Principal
    csrf: str
    last_used: float


class Sessions:
    """The signed-in sessions, by cookie id; ``clock`` is monotonic, in seconds."""

    def __init__(self, idle_s: float = IDLE_S, clock: Callable[[], float] = time.monotonic):
        self.idle_s = idle_s
        self._clock = clock
        self._open: dict[str, Session] = {}

    def open(self, principal: Principal) -> tuple[str, Session]:
        """Return a new session id and its session, for ``principal``."""
        now = self._clock()
        self._forget_idle(now)
        session_id = secrets.token_urlsafe(32)
        session = Session(principal=principal, csrf=secrets.token_urlsafe(32), last_used=now)
        self._open[session_id] = session
        return session_id, session

    def find(self, session_id: str | None) -> Session | None:
        """Return the session ``session_id`` names; ``None`` if unknown or idle too long."""
        session = self._open.get(session_id or "")
        if session is None:
            return None
        if self._clock() - session.last_used > self.idle_s:
            del self._open[session_id or ""]
            return None
        return session

    def touch(self, session: Session) -> None:
        session.last_used = self._clock()

    def close(self, session_id: str | None) -> None:
        self._open.pop(session_id or "", None)

    def __len__(self) -> int:
        return len(self._open)

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, session in self._open.items() if now - session.last_used > self.idle_s]
        for session_id in idle:
            del self._open[session_id]


def _sign_in_again(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(f"{detail}; sign in again (POST /app/session)")


def _csrf_checked(request: Request[Any, Any, Any], session: Session) -> None:
    if request.method in UNSAFE and not secrets.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()
    ):
        raise PermissionDeniedException(
            f"a request of a browser session that changes something needs the header "
            f"{CSRF_HEADER} with the session's CSRF token"
        )


def session_principal(request: Request[Any, Any, Any]) -> Principal:
    """Return who the request's session cookie stands for, checking its token and CSRF."""
    sessions: Sessions = request.app.state.sessions
    session_id = request.cookies.get(SESSION_COOKIE)
    session = sessions.find(session_id)
    if session is None:
        raise _sign_in_again("this session is unknown, ended, or was idle too long")
    tokens: Tokens = request.app.state.tokens
    principal = tokens.current(session.principal)
    if principal is None:
        sessions.close(session_id)
        raise _sign_in_again("the token of this session was revoked or expired")
    _csrf_checked(request, session)
    sessions.touch(session)
    return principal


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _secure(request: Request[Any, Any, Any]) -> bool:
    """Whether the cookie must be Secure: always, but for plain http to a loopback address."""
    server = request.scope.get("server")
    server_host = server[0] if server else None
    plain = request.url.scheme == "http"
    return not (plain and _loopback(server_host) and _loopback(request.url.hostname))


class SessionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: str


class SessionOut(msgspec.Struct, kw_only=True):
    csrf: str
    """Send it back as the header ``X-CSRF-Token`` with every POST, PUT, PATCH and DELETE."""
    role: str
    advisor_id: str | None
    idle_timeout_s: int


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
    sessions: Sessions = request.app.state.sessions
    session_id, session = sessions.open(principal)
    cookie = Cookie(
        key=SESSION_COOKIE,
        value=session_id,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    body = SessionOut(
        csrf=session.csrf,
        role=principal.role,
        advisor_id=principal.advisor_id,
        idle_timeout_s=int(sessions.idle_s),
    )
    return Response(body, status_code=201, cookies=[cookie])


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
    """Sign out: the session is forgotten and its cookie cleared (needs ``X-CSRF-Token``)."""
    sessions: Sessions = request.app.state.sessions
    session_id = request.cookies.get(SESSION_COOKIE)
    session = sessions.find(session_id)
    if session is None:
        raise _sign_in_again("this session is unknown, ended, or was idle too long")
    _csrf_checked(request, session)
    sessions.close(session_id)
    response: Response[None] = Response(None, status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


SESSION_ROUTES = [sign_in, sign_out]
