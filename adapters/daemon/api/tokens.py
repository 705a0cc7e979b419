"""``/v1/tokens``: admins mint, list and revoke the API's tokens, as journaled commands.

A token's secret is drawn here and shown once, in the answer to ``POST /v1/tokens``; the engine
journals only its SHA-256, with its role, advisor, expiry and label (see ``auth``). Listing
shows no secret and no digest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post

from aiguillage.adapters.daemon.api.models import ErrorOut
from aiguillage.adapters.daemon.api.routes import InvalidField, caller
from aiguillage.adapters.daemon.auth import new_secret
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.views import iso
from aiguillage.engine.commands import MintToken, RevokeToken
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import InvalidCommand
from aiguillage.engine.events import TokenMinted
from aiguillage.engine.instants import SECOND, from_datetime
from aiguillage.engine.tokens import Role, Token

__all__ = ["TOKEN_ROUTES", "MintedOut", "TokenIn", "TokenList", "TokenOut"]

_YEAR_S = 366 * 86_400


class TokenIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A token to mint: its role, the advisor it acts as (role ``advisor``), expiry, label."""

    role: Role
    advisor: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    expires_at: datetime | None = None
    """ISO-8601 with a UTC offset."""
    expires_in_s: Annotated[int, msgspec.Meta(ge=60, le=10 * _YEAR_S)] | None = None
    """Or: valid this many seconds from now."""
    label: Annotated[str, msgspec.Meta(max_length=100)] = ""
    """Who or what holds it (a workstation, a program). It is journaled: name no customer."""


class TokenOut(msgspec.Struct, kw_only=True):
    id: int
    role: str
    advisor: str | None
    label: str
    created: str
    expires: str | None
    """``None``: until revoked."""
    expired: bool


class MintedOut(TokenOut, kw_only=True):
    token: str
    """The secret, shown this once: hand it to its holder. The daemon keeps only its SHA-256."""


class TokenList(msgspec.Struct, kw_only=True):
    tokens: list[TokenOut]


def _out(token: Token, runtime: Runtime, now: int) -> TokenOut:
    zone = runtime.zone
    return TokenOut(
        id=token.id,
        role=token.role,
        advisor=token.advisor_id,
        label=token.label,
        created=iso(token.minted_at, zone),
        expires=None if token.expires_at is None else iso(token.expires_at, zone),
        expired=token.expired(now),
    )


_FIELD_OF_REASON = {
    "advisor_binding": "advisor",
    "unknown_advisor": "advisor",
    "retired": "advisor",
}


@post("/v1/tokens", tags=["tokens"], status_code=201)
async def mint_token(request: Request[Any, Any, Any], data: TokenIn) -> Response[Any]:
    """Mint a token: 201 with its secret, shown this once, and its id (to list or revoke it)."""
    caller(request, "admin")
    runtime: Runtime = request.app.state.runtime
    expires_at = None
    if data.expires_at is not None:
        if data.expires_at.utcoffset() is None:
            raise InvalidField(
                "expires_at", "has no UTC offset; give one, for example 2027-01-04T09:00:00+01:00"
            )
        expires_at = from_datetime(data.expires_at)
    if data.expires_in_s is not None:
        if expires_at is not None:
            raise InvalidField("expires_in_s", "give expires_at or expires_in_s, not both")
        expires_at = runtime.clock() + data.expires_in_s * SECOND
    secret, digest = new_secret()
    command = MintToken(
        digest=digest,
        role=data.role,
        advisor_id=data.advisor,
        expires_at=expires_at,
        label=data.label,
    )
    try:
        events = await runtime.execute(command)
    except InvalidCommand as refused:
        field = _FIELD_OF_REASON.get(refused.reason)
        if refused.reason in ("expired", "too_far"):
            field = "expires_at" if data.expires_at is not None else "expires_in_s"
        error = ErrorOut(error=refused.reason, detail=str(refused), field=field)
        return Response(error, status_code=422)
    (minted,) = [event for event in events if isinstance(event, TokenMinted)]
    minted_out = MintedOut(
        token=secret,
        id=minted.token_id,
        role=minted.role,
        advisor=minted.advisor_id,
        label=minted.label,
        created=iso(minted.at, runtime.zone),
        expires=None if minted.expires_at is None else iso(minted.expires_at, runtime.zone),
        expired=False,
    )
    return Response(minted_out, status_code=201)


@get("/v1/tokens", tags=["tokens"])
async def list_tokens(request: Request[Any, Any, Any]) -> TokenList:
    """The live tokens (expired ones until revoked), without their secrets, by id."""
    caller(request, "admin")
    runtime: Runtime = request.app.state.runtime

    def read(engine: Engine) -> TokenList:
        now = runtime.clock()
        tokens = sorted(engine.state.tokens.values(), key=lambda token: token.id)
        return TokenList(tokens=[_out(token, runtime, now) for token in tokens])

    result: TokenList = await runtime.read(read)
    return result


@delete("/v1/tokens/{token_id:int}", tags=["tokens"], status_code=200)
async def revoke_token(request: Request[Any, Any, Any], token_id: int) -> dict[str, Any]:
    """Revoke a token: refused from now on, and never let in again."""
    caller(request, "admin")
    runtime: Runtime = request.app.state.runtime
    events = await runtime.execute(RevokeToken(token_id=token_id))
    return {"events": [msgspec.to_builtins(event) for event in events]}


TOKEN_ROUTES = [mint_token, list_tokens, revoke_token]
