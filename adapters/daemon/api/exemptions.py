"""``/v1/exemptions``: periods of force majeure, claimed by the operator, decided by the authority.

A supervisor or an admin ``POST``s a claim (``from``, ``until``, the channels or none for all,
a reason); only the principal's ``authority`` role ``POST``s a decision on it, once (a
supervisor or an admin is answered 403: the party that pays does not grant itself relief).
Both are journaled with the token that did it (``token:7``, by the journal's id, never the
secret) and its role. ``GET`` lists every claim as it stands, for the staff and the authority.
The reports apply accepted claims only (``reports.exemptions``).

A body that cannot be a claim or a decision is a 400 naming its field: a time without a UTC
offset, ``until`` not after ``from``, an unknown channel, no reason. An unknown claim is a 404,
a claim decided already a 409.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get, post
from litestar.exceptions import PermissionDeniedException

from aiguillage.adapters.daemon.api.models import BodyIn
from aiguillage.adapters.daemon.api.routes import InvalidField, actor, caller, runtime_of
from aiguillage.adapters.stores.views import iso
from aiguillage.engine.commands import ClaimExemption, DecideExemption
from aiguillage.engine.engine import Engine
from aiguillage.engine.exemptions import DECIDER, MAX_REASON, Exemption
from aiguillage.engine.instants import Instant, from_datetime
from aiguillage.engine.policies import Channel

__all__ = ["EXEMPTION_ROUTES", "ClaimIn", "DecisionIn", "ExemptionOut", "ExemptionPage"]

CLAIMANTS = ("supervisor", "admin")
"""Who may claim: the operator's side."""
READERS = ("supervisor", "admin", "authority")

_Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON)]


class ClaimIn(BodyIn, kw_only=True):
    """A period of force majeure the operator asks relief for."""

    start: datetime = msgspec.field(name="from")
    """ISO-8601 with a UTC offset: the period's first instant."""
    until: datetime
    """ISO-8601 with a UTC offset, after ``from``: the period ends just before it."""
    channels: list[Channel] = []
    """The channels it covers; none: every channel."""
    reason: _Reason
    """Why, in a sentence (a strike, an outage of the authority's systems). It is journaled and
    cannot be erased: name no person."""


class DecisionIn(BodyIn, kw_only=True):
    """The authority's decision on a pending claim."""

    decision: Literal["accepted", "refused"]
    reason: _Reason


class ExemptionOut(msgspec.Struct, kw_only=True):
    id: int
    start: str = msgspec.field(name="from")
    """ISO-8601 in the deployment's time zone, with its offset."""
    until: str
    channels: list[str]
    """Empty: every channel."""
    reason: str
    status: str
    """``pending``, ``accepted`` or ``refused``."""
    claimed_by: str
    """The token that claimed it (``token:7``), by the journal's id."""
    claimed_role: str
    claimed_at: str
    decision_reason: str = ""
    decided_by: str = ""
    decided_role: str = ""
    decided_at: str | None = None


class ExemptionPage(msgspec.Struct, kw_only=True):
    exemptions: list[ExemptionOut]
    """By id."""


def _out(exemption: Exemption, zone: tzinfo) -> ExemptionOut:
    return ExemptionOut(
        id=exemption.id,
        start=iso(exemption.start, zone),
        until=iso(exemption.end, zone),
        channels=list(exemption.channels),
        reason=exemption.reason,
        status=exemption.status,
        claimed_by=exemption.claimed_by,
        claimed_role=exemption.claimed_role,
        claimed_at=iso(exemption.claimed_at, zone),
        decision_reason=exemption.decision_reason,
        decided_by=exemption.decided_by,
        decided_role=exemption.decided_role,
        decided_at=None if exemption.decided_at is None else iso(exemption.decided_at, zone),
    )


def _instant(field: str, value: datetime) -> Instant:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidField(
            field, f"{field} has no UTC offset; give one, for example 2027-01-04T09:00:00+01:00"
        )
    return from_datetime(value)


async def _one(request: Request[Any, Any, Any], exemption_id: int) -> ExemptionOut:
    runtime = runtime_of(request)
    zone = runtime.zone
    exemption: Exemption = await runtime.read(lambda engine: engine.state.exemptions[exemption_id])
    return _out(exemption, zone)


@post("/v1/exemptions", summary="Claim an exemption", tags=["exemptions"], status_code=201)
async def claim_exemption(request: Request[Any, Any, Any], data: ClaimIn) -> ExemptionOut:
    """Claim relief for a period of force majeure on some channels (none: all), pending the
    authority's decision. Supervisors and admins."""
    principal = caller(request, *CLAIMANTS)
    start, end = _instant("from", data.start), _instant("until", data.until)
    if end <= start:
        raise InvalidField("until", "until must be after from: the period would be empty")
    if len(set(data.channels)) != len(data.channels):
        raise InvalidField("channels", "a channel is named twice")
    if not data.reason.strip():
        raise InvalidField("reason", "reason must say why, in words")
    command = ClaimExemption(
        start=start,
        end=end,
        channels=tuple(data.channels),
        reason=data.reason,
        by=actor(principal),
        role=principal.role,
    )
    events = await runtime_of(request).execute(command)
    return await _one(request, events[0].exemption_id)  # type: ignore[union-attr]


@post(
    "/v1/exemptions/{exemption_id:int}/decision",
    summary="Accept or refuse a claim (the authority)",
    tags=["exemptions"],
    status_code=200,
)
async def decide_exemption(
    request: Request[Any, Any, Any], exemption_id: int, data: DecisionIn
) -> ExemptionOut:
    """Accept or refuse a pending claim, once, saying why. The ``authority`` role only: the
    party that pays does not grant itself relief."""
    principal = caller(request, *READERS)
    if principal.role != DECIDER:
        raise PermissionDeniedException(
            f"role `{principal.role}` may not decide an exemption claim: only the {DECIDER} "
            "accepts or refuses one (the party that pays does not grant itself relief)"
        )
    if not data.reason.strip():
        raise InvalidField("reason", "reason must say why, in words")
    command = DecideExemption(
        exemption_id=exemption_id,
        decision=data.decision,
        reason=data.reason,
        by=actor(principal),
        role=principal.role,
    )
    await runtime_of(request).execute(command)
    return await _one(request, exemption_id)


@get("/v1/exemptions", summary="List the exemption claims", tags=["exemptions"])
async def list_exemptions(request: Request[Any, Any, Any]) -> ExemptionPage:
    """Every claim as it stands (pending, accepted or refused), with who claimed and decided it
    and why. Supervisors, admins and the authority."""
    caller(request, *READERS)
    runtime = runtime_of(request)
    zone = runtime.zone

    def read(engine: Engine) -> list[ExemptionOut]:
        return [_out(e, zone) for _, e in sorted(engine.state.exemptions.items())]

    return ExemptionPage(exemptions=await runtime.read(read))


EXEMPTION_ROUTES = [claim_exemption, decide_exemption, list_exemptions]
