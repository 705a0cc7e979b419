"""OAuth 2.0 as a client: a channel's ``[adapters.<name>.oauth]`` table, the platform's
endpoints, the consent URL with PKCE, and the token endpoint's two requests and their answers.

The authorization-code grant (RFC 6749, section 4.1) with PKCE (RFC 7636, ``S256``): the consent
URL carries ``response_type=code``, ``client_id``, ``redirect_uri``, ``scope``, ``state`` and
``code_challenge``; the redirect brings back ``code`` and ``state`` (or ``error``); the code is
exchanged with ``grant_type=authorization_code`` and the ``code_verifier``; later
``grant_type=refresh_token`` gives a new access token, and a new refresh token where the
platform rotates them (X). A refusal of the grant (``invalid_grant``: revoked, expired, already
used) is ``GrantRefused``; a token endpoint that does not answer, or answers 5xx, is
``EndpointDown``; both are ``OAuthError``.

Each platform's endpoints, scopes and habits are defaults (``VENDORS``) the table may override:
Google (the YouTube channel) wants ``access_type=offline`` and ``prompt=consent`` for a refresh
token; LinkedIn's refresh tokens come only to apps LinkedIn enabled them for; X's OAuth 2.0 user
context wants ``offline.access`` for a refresh token and authenticates a confidential client
with HTTP Basic.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlencode

import httpx
import msgspec

from aiguillage.adapters.channels.social.token_store import Grant

__all__ = [
    "VENDORS",
    "Client",
    "EndpointDown",
    "Endpoints",
    "GrantRefused",
    "OAuthError",
    "OAuthSettings",
    "TokenRequest",
    "Vendor",
    "authorization_url",
    "challenge_of",
    "code_request",
    "granted",
    "pkce_pair",
    "refresh_request",
]

_Env = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_Url = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]+$")]


class OAuthError(Exception):
    """The token endpoint did not grant what was asked; the message says why."""


class GrantRefused(OAuthError):
    """The platform refused the code or the refresh token for good: authorise again."""


class EndpointDown(OAuthError):
    """The token endpoint did not answer, or failed (5xx): try again later."""


class Vendor(NamedTuple):
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    client_auth: Literal["basic", "post"]
    extra: tuple[tuple[str, str], ...] = ()
    """Parameters the consent URL adds for this platform."""


VENDORS: dict[str, Vendor] = {
    "google": Vendor(
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        ("https://www.googleapis.com/auth/youtube.force-ssl",),
        "post",
        (("access_type", "offline"), ("prompt", "consent")),
    ),
    "linkedin": Vendor(
        "https://www.linkedin.com/oauth/v2/authorization",
        "https://www.linkedin.com/oauth/v2/accessToken",
        ("r_organization_social", "w_organization_social"),
        "post",
    ),
    "x": Vendor(
        "https://twitter.com/i/oauth2/authorize",
        "https://api.x.com/2/oauth2/token",
        ("tweet.read", "tweet.write", "users.read", "dm.read", "dm.write", "offline.access"),
        "basic",
    ),
}


class OAuthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[adapters.<name>.oauth]``: the channel's token comes from an encrypted store that
    ``aiguillage channel authorize <name>`` fills and the channel refreshes."""

    store: str
    """The encrypted file of the grant (written mode 0600; its folder must be writable)."""
    key_env: _Env = "AIGUILLAGE_OAUTH_KEY"
    """The variable holding the store's key (``aiguillage channel new-key`` makes one)."""
    client_id_env: _Env
    """The variable holding the OAuth client's id."""
    client_secret_env: _Env | None = None
    """The variable holding the client's secret (none: a public client, PKCE alone)."""
    redirect_uri: _Url = "http://127.0.0.1:8765/callback"
    """The redirect registered with the platform; on loopback, ``channel authorize`` listens
    there for the consent's answer."""
    authorize_url: _Url | None = None
    """The platform's authorisation endpoint (its default: see ``VENDORS``)."""
    token_url: _Url | None = None
    """The platform's token endpoint (its default: see ``VENDORS``)."""
    scopes: list[str] | None = None
    """The scopes asked for (the platform's default: what the channel needs)."""
    refresh_before_s: Annotated[float, msgspec.Meta(ge=0, le=86_400)] = 300.0
    """The access token is refreshed this long before it expires."""

    def endpoints(self, vendor: str) -> Endpoints:
        """The endpoints and scopes in force: this table's, else the platform's defaults."""
        default = VENDORS[vendor]
        return Endpoints(
            authorize_url=self.authorize_url or default.authorize_url,
            token_url=self.token_url or default.token_url,
            scopes=tuple(self.scopes) if self.scopes is not None else default.scopes,
            client_auth=default.client_auth,
            extra=default.extra,
        )


class Endpoints(NamedTuple):
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    client_auth: Literal["basic", "post"]
    extra: tuple[tuple[str, str], ...]


class Client(NamedTuple):
    id: str
    secret: str


class TokenRequest(NamedTuple):
    """A POST to the token endpoint, form-encoded (RFC 6749, section 4.1.3 and 6)."""

    url: str
    form: dict[str, str]
    headers: dict[str, str]

    def send(self, client: httpx.Client) -> httpx.Response:
        return client.post(self.url, data=self.form, headers=self.headers)

    async def send_async(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(self.url, data=self.form, headers=self.headers)


def pkce_pair() -> tuple[str, str]:
    """A PKCE ``code_verifier`` (43 characters of 32 random bytes) and its ``S256`` challenge."""
    verifier = secrets.token_urlsafe(32)
    return verifier, challenge_of(verifier)


def challenge_of(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` without padding (RFC 7636, section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(
    endpoints: Endpoints, client_id: str, redirect_uri: str, state: str, challenge: str
) -> str:
    """The consent URL the person granting access opens."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(endpoints.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **dict(endpoints.extra),
    }
    separator = "&" if "?" in endpoints.authorize_url else "?"
    return endpoints.authorize_url + separator + urlencode(query)


def code_request(
    endpoints: Endpoints, client: Client, code: str, redirect_uri: str, verifier: str
) -> TokenRequest:
    """The exchange of an authorisation code for the first grant."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return _request(endpoints, client, form)


def refresh_request(endpoints: Endpoints, client: Client, refresh_token: str) -> TokenRequest:
    """The request of a new access token with the refresh token."""
    return _request(
        endpoints, client, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


def _request(endpoints: Endpoints, client: Client, form: dict[str, str]) -> TokenRequest:
    headers = {"Accept": "application/json"}
    if client.secret and endpoints.client_auth == "basic":
        # RFC 6749, section 2.3.1: each part form-encoded before the Basic encoding.
        pair = f"{_form(client.id)}:{_form(client.secret)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form = {**form, "client_id": client.id}
        if client.secret:
            form["client_secret"] = client.secret
    return TokenRequest(endpoints.token_url, form, headers)


def _form(value: str) -> str:
    return urlencode({"": value})[1:]


def granted(response: httpx.Response, previous: Grant | None = None) -> Grant:
    """The grant a token endpoint's answer gives (RFC 6749, sections 5.1 and 5.2).

    A refresh answered without a new refresh token keeps the previous one, and without scopes
    keeps the previous scopes (section 6)."""
    try:
        body: Any = msgspec.json.decode(response.content) if response.content else {}
    except msgspec.DecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    if status >= 500:
        raise EndpointDown(f"the token endpoint answered {status}")
    if status != 200:
        error = str(body.get("error") or f"HTTP {status}")
        described = str(body.get("error_description") or "").strip()
        what = f"the token endpoint refused: {error}" + (f" ({described})" if described else "")
        if error in {"invalid_grant", "invalid_client", "unauthorized_client"}:
            raise GrantRefused(what)
        if status == 429 or error == "temporarily_unavailable":
            raise EndpointDown(what)
        raise OAuthError(what)
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("the token endpoint answered without an access_token")
    now = time.time()
    expires_in = body.get("expires_in")
    expires_at = float(now + expires_in) if isinstance(expires_in, int | float) else None
    scope = body.get("scope")
    scopes = str(scope).replace(",", " ").split() if isinstance(scope, str) else None
    refresh = body.get("refresh_token")
    return Grant(
        access_token=access,
        refresh_token=refresh
        if isinstance(refresh, str) and refresh
        else (previous.refresh_token if previous else ""),
        expires_at=expires_at,
        scopes=scopes if scopes is not None else (list(previous.scopes) if previous else []),
        token_type=str(body.get("token_type") or "Bearer"),
        obtained_at=now,
    )
