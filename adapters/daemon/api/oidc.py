"""Signing in through an OpenID Connect provider: the code flow with PKCE, to a browser session.

With ``[oidc]`` in ``config.toml`` (see ``config.oidc``), a page sends the browser to
``GET /app/oidc/login``. The daemon reads the provider's discovery document
(``<issuer>/.well-known/openid-configuration``), and redirects to its authorization endpoint
with a fresh ``state``, ``nonce`` and PKCE code challenge (S256). It keeps the three, and the
PKCE verifier, in a signed HttpOnly cookie valid ten minutes (``Path=/app/oidc``,
``SameSite=Lax``: the provider's redirect back is a navigation from another site, which a
Strict cookie would not follow). No daemon keeps anything: any daemon of the deployment may
take the callback.

``GET /app/oidc/callback`` checks ``state`` against the cookie, exchanges the code at the
token endpoint (with the verifier and the client secret, HTTP Basic), and checks the ID token:
its signature against the provider's JWKS (RS256 or ES256), ``iss``, ``aud`` (and ``azp`` when
there are several audiences), ``exp`` and the ``nonce``. Its claims give the role
(``role_claim``, or the first of ``group_roles`` the person is in) and, for an advisor, the
advisor's id (``advisor_claim``), which must be on the roster.
It then opens the same browser session as a token sign-in (``sessions``), and redirects to
``after_sign_in``, where the page asks ``GET /app/session`` for its CSRF token.

Such a session stands for no token: its cookie holds the role, the advisor and the provider's
subject. It is checked again at each request as far as this daemon can: it ends when its
advisor leaves the roster, when ``[oidc]`` is removed, and at its idle time-out; the provider
is not asked again (a person disabled at the provider keeps the session until it is idle, or
until their advisor is removed). The principal is labelled ``oidc <subject>``.

A failure answers JSON ``{error, detail, field}`` saying what to do, never a traceback: 400
for a callback that does not match a sign-in started here, 401 when the provider refuses or
its ID token does not hold, 403 for a person the claims give no role or an advisor not on the
roster, 502 when the provider cannot be reached or answers nonsense.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from litestar import Request, Response, get
from litestar.datastructures import Cookie
from litestar.response import Redirect

from aiguillage.adapters.config.oidc import OidcSettings
from aiguillage.adapters.daemon.api import signed
from aiguillage.adapters.daemon.api.models import ErrorOut
from aiguillage.adapters.daemon.api.sessions import Sessions, secure_cookie, session_response
from aiguillage.adapters.daemon.auth import Principal, Tokens
from aiguillage.engine.tokens import ROLES

__all__ = ["FLOW_COOKIE", "OIDC_ROUTES", "Oidc", "SignInFailed"]

log = structlog.get_logger("aiguillage.oidc")

FLOW_COOKIE = "aiguillage_oidc"
FLOW_S = 600
"""How long a person may take at the provider between login and callback."""
ALGORITHMS = ("RS256", "ES256")
_LABEL = b"aiguillage oidc flow v1"
_CACHE_S = 3600.0
"""How long the discovery document and the JWKS are kept (a key unknown to the cached JWKS
fetches it again at once: the provider rolled its keys)."""
_LEEWAY_S = 60
"""Clock difference with the provider tolerated on ``exp`` and ``iat``."""


class SignInFailed(Exception):
    """The sign-in cannot go on: answered as JSON with ``status``, ``error`` and ``detail``."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


class _Flow(msgspec.Struct, frozen=True, array_like=True):
    state: str
    nonce: str
    verifier: str
    started: int


class _Discovery(msgspec.Struct, frozen=True):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def _unreachable(what: str, exc: Exception) -> SignInFailed:
    log.warning("OpenID provider failed", step=what, error=str(exc))
    return SignInFailed(
        502,
        "provider_unavailable",
        f"the OpenID provider could not be used ({what}: {exc}); try again, or sign in with a "
        "token",
    )


class Oidc:
    """The provider this deployment signs people in with, and this daemon as its client."""

    def __init__(
        self,
        settings: OidcSettings,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._secret = client_secret
        self._clock = clock
        self._discovery: tuple[float, _Discovery] | None = None
        self._keys: tuple[float, KeySet] | None = None

    @classmethod
    def configured(cls, settings: OidcSettings | None, environ: Mapping[str, str]) -> Oidc | None:
        """Return the configured provider (``None`` without ``[oidc]``); raise ``ValueError``
        saying which variable to set when the client secret is missing."""
        if settings is None:
            return None
        secret = environ.get(settings.client_secret_env, "")
        if not secret:
            raise ValueError(
                f"set {settings.client_secret_env} in the daemon's environment: the client "
                "secret of [oidc] (config.toml, key oidc.client_secret_env)"
            )
        return cls(settings, secret)

    async def _get(self, url: str, what: str) -> bytes:
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.get(url, headers={"Accept": "application/json"})
                answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise _unreachable(what, exc) from None
        return answer.content

    async def discovery(self) -> _Discovery:
        now = self._clock()
        if self._discovery is not None and now - self._discovery[0] < _CACHE_S:
            return self._discovery[1]
        issuer = self.settings.issuer.rstrip("/")
        url = f"{issuer}/.well-known/openid-configuration"
        try:
            found = msgspec.json.decode(await self._get(url, "discovery"), type=_Discovery)
        except msgspec.DecodeError as exc:
            raise _unreachable("discovery", exc) from None
        if found.issuer.rstrip("/") != issuer:
            raise _unreachable("discovery", ValueError(f"it names issuer {found.issuer!r}"))
        self._discovery = (now, found)
        return found

    async def _key_set(self, *, again: bool = False) -> KeySet:
        now = self._clock()
        if not again and self._keys is not None and now - self._keys[0] < _CACHE_S:
            return self._keys[1]
        discovery = await self.discovery()
        try:
            keys = KeySet.import_key_set(
                msgspec.json.decode(await self._get(discovery.jwks_uri, "JWKS"))
            )
        except (msgspec.DecodeError, JoseError, ValueError, TypeError) as exc:
            raise _unreachable("JWKS", exc) from None
        self._keys = (now, keys)
        return keys

    async def authorization_url(self, flow: _Flow) -> str:
        discovery = await self.discovery()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(flow.verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.settings.redirect_url,
                "scope": " ".join(self.settings.scopes),
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in discovery.authorization_endpoint else "?"
        return f"{discovery.authorization_endpoint}{separator}{query}"

    async def id_token(self, code: str, verifier: str) -> str:
        """Exchange the code for the ID token; raise ``SignInFailed`` when the provider
        refuses (a code used twice, a verifier that does not match, a wrong secret)."""
        discovery = await self.discovery()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(
                    discovery.token_endpoint,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": self.settings.redirect_url,
                        "code_verifier": verifier,
                    },
                    auth=(self.settings.client_id, self._secret),
                    headers={"Accept": "application/json"},
                )
        except httpx.HTTPError as exc:
            raise _unreachable("token endpoint", exc) from None
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if answer.status_code in (400, 401):
            why = body.get("error_description") or body.get("error") or answer.text[:200]
            raise SignInFailed(
                401, "unauthorized", f"the OpenID provider refused the sign-in: {why}; start again"
            )
        token = body.get("id_token")
        if answer.status_code != 200 or not isinstance(token, str):
            raise _unreachable("token endpoint", ValueError(f"status {answer.status_code}"))
        return token

    async def claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        """Return the ID token's claims once its signature, issuer, audience, expiry and nonce
        hold; raise ``SignInFailed`` (401) otherwise."""
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=ALGORITHMS)
            except JoseError:
                # Perhaps signed with a key the provider added since: fetch its keys once more.
                token = jwt.decode(id_token, await self._key_set(again=True), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                now=lambda: int(self._clock()),
                leeway=_LEEWAY_S,
                iss={"essential": True, "value": (await self.discovery()).issuer},
                aud={"essential": True, "value": self.settings.client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
            audience = token.claims.get("aud")
            # OpenID Connect Core 3.1.3.7: with several audiences, ``azp`` must be us.
            several = isinstance(audience, list) and len(audience) > 1
            if several and token.claims.get("azp") != self.settings.client_id:
                raise ValueError("several audiences, and azp is not this client")
        except (JoseError, ValueError) as exc:
            raise SignInFailed(
                401,
                "unauthorized",
                f"the ID token from the OpenID provider does not hold ({exc}); start again",
            ) from None
        return dict(token.claims)

    def identity(self, claims: Mapping[str, Any]) -> tuple[str, str | None]:
        """Return the role and, for an advisor, the advisor id the claims give; raise
        ``SignInFailed`` (403) when they give no role, or an advisor without its id."""
        settings = self.settings
        role: str | None = None
        if settings.role_claim:
            value = claims.get(settings.role_claim)
            role = value if isinstance(value, str) and value in ROLES else None
        else:
            groups = claims.get(settings.group_claim)
            held = set(groups) if isinstance(groups, list) else set()
            role = next((r for g, r in settings.group_roles.items() if g in held), None)
        if role is None:
            where = (
                f"claim {settings.role_claim}"
                if settings.role_claim
                else f"a group of [oidc.group_roles] in claim {settings.group_claim}"
            )
            raise SignInFailed(
                403,
                "forbidden",
                f"the OpenID provider gives this person no role here ({where}); ask an admin "
                "to grant one",
            )
        if role != "advisor":
            return role, None
        advisor = claims.get(settings.advisor_claim)
        if not isinstance(advisor, str) or not advisor:
            raise SignInFailed(
                403,
                "forbidden",
                f"the OpenID provider names no advisor (claim {settings.advisor_claim})",
            )
        return role, advisor


def _flow_key(request: Request[Any, Any, Any]) -> bytes:
    sessions: Sessions = request.app.state.sessions
    return sessions.key_for(_LABEL)


def _failed(failure: SignInFailed) -> Response[ErrorOut]:
    return Response(
        ErrorOut(error=failure.error, detail=failure.detail, field=None),
        status_code=failure.status,
    )


def _configured(request: Request[Any, Any, Any]) -> Oidc:
    oidc: Oidc | None = getattr(request.app.state, "oidc", None)
    if oidc is None:
        raise SignInFailed(
            404,
            "not_found",
            "sign-in through OpenID Connect is not configured here ([oidc] in config.toml); "
            "sign in with a token (POST /app/session)",
        )
    return oidc


@get("/app/oidc/login", include_in_schema=False, security=[])
async def oidc_login(request: Request[Any, Any, Any]) -> Response[Any]:
    """Send the browser to the provider, with the flow's secrets in a signed cookie."""
    try:
        oidc = _configured(request)
        flow = _Flow(
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(48),
            int(time.time()),
        )
        target = await oidc.authorization_url(flow)
    except SignInFailed as failure:
        return _failed(failure)
    cookie = Cookie(
        key=FLOW_COOKIE,
        value=signed.sign(_flow_key(request), msgspec.json.encode(flow)),
        path="/app/oidc",
        max_age=FLOW_S,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request),
    )
    return Redirect(target, status_code=303, cookies=[cookie])


def _flow_of(request: Request[Any, Any, Any]) -> _Flow:
    payload = signed.verify(_flow_key(request), request.cookies.get(FLOW_COOKIE, ""))
    flow = None
    if payload is not None:
        try:
            flow = msgspec.json.decode(payload, type=_Flow)
        except msgspec.DecodeError:
            flow = None
    if flow is None or time.time() - flow.started > FLOW_S:
        raise SignInFailed(
            400,
            "invalid_request",
            "this answer of the OpenID provider matches no sign-in started in this browser in "
            "the last 10 minutes; start again at /app/oidc/login",
        )
    return flow


@get("/app/oidc/callback", include_in_schema=False, security=[])
async def oidc_callback(request: Request[Any, Any, Any]) -> Response[Any]:
    """The provider's answer: check it, and open a browser session."""
    try:
        oidc = _configured(request)
        flow = _flow_of(request)
        query = request.query_params
        if query.get("error"):
            why = query.get("error_description") or query.get("error")
            raise SignInFailed(401, "unauthorized", f"the OpenID provider refused: {why}")
        if not secrets.compare_digest(query.get("state", "").encode(), flow.state.encode()):
            raise SignInFailed(
                400,
                "invalid_request",
                "the state of this answer is not the one this browser's sign-in sent; "
                "start again at /app/oidc/login",
            )
        code = query.get("code", "")
        if not code:
            raise SignInFailed(400, "invalid_request", "the OpenID provider sent no code")
        claims = await oidc.claims(await oidc.id_token(code, flow.verifier), flow.nonce)
        role, advisor_id = oidc.identity(claims)
        tokens: Tokens = request.app.state.tokens
        if advisor_id is not None and not tokens.advisor_present(advisor_id):
            raise SignInFailed(
                403,
                "forbidden",
                f"advisor `{advisor_id}` (claim {oidc.settings.advisor_claim}) is not on the "
                "roster; ask a supervisor to add it",
            )
    except SignInFailed as failure:
        response = _failed(failure)
        response.delete_cookie(FLOW_COOKIE, path="/app/oidc")
        return response
    subject = str(claims["sub"])
    principal = Principal(role, advisor_id, f"oidc {subject}")  # type: ignore[arg-type]
    cookie, _ = session_response(
        request, "oidc", principal, role=role, advisor_id=advisor_id, subject=subject
    )
    log.info("signed in through OpenID Connect", subject=subject, role=role, advisor_id=advisor_id)
    redirect = Redirect(oidc.settings.after_sign_in, status_code=303, cookies=[cookie])
    redirect.delete_cookie(FLOW_COOKIE, path="/app/oidc")
    return redirect


OIDC_ROUTES = [oidc_login, oidc_callback]
