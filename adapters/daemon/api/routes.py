"""The ``/v1`` routes: interactions, advisors and their offers, queues, the audit trail.

Each handler first says who may call it (``_caller``): 401 without a known token, 403 for a
role that may not, and an advisor acts only for itself. Then it turns the request into one
engine command and waits for the runtime to have it durable. Free text (a transfer's note, the
party work is handed to) goes to the runtime beside the command, as personal data, never in
it; a reason is one of the codes ``[reasons]`` configures.
"""

from __future__ import annotations

import asyncio
import time
import typing
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.openapi import ResponseSpec
from litestar.params import Parameter, QueryParameter

from aiguillage.adapters.channels.events_out import event_out
from aiguillage.adapters.config.datetimes import DatetimeError, parse_instant
from aiguillage.adapters.daemon.api.listing import (
    InteractionFilter,
    advisor_out,
    advisors_page,
    interactions_page,
)
from aiguillage.adapters.daemon.api.models import (
    AdvisorIn,
    AdvisorOut,
    AdvisorPage,
    AdvisorPatch,
    ChannelQueue,
    CloseIn,
    DeclineIn,
    EventPage,
    InteractionPage,
    MoveIn,
    PriorityIn,
    Queues,
    StateIn,
    SubmitIn,
    TicketOut,
    TransferIn,
    TransferOutIn,
    WorkIn,
)
from aiguillage.adapters.daemon.api.sessions import SESSION_COOKIE, signed_in
from aiguillage.adapters.daemon.auth import Principal, Unauthenticated, actor_of
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.today import Today
from aiguillage.adapters.stores.access_log import Via, via
from aiguillage.adapters.stores.actors import acting
from aiguillage.adapters.stores.views import InteractionOut, iso
from aiguillage.engine.commands import (
    Abandon,
    Accept,
    AddAdvisor,
    AdvisorState,
    AwaitPrincipal,
    Close,
    Decline,
    Move,
    PrincipalAnswered,
    Prioritise,
    RecordResponse,
    RemoveAdvisor,
    SetAdvisorState,
    Submit,
    Transfer,
    TransferOut,
    UpdateAdvisor,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import UnknownAdvisor, UnknownInteraction
from aiguillage.engine.instants import SECOND, from_datetime
from aiguillage.engine.policies import CHANNELS
from aiguillage.engine.states import InteractionStatus

__all__ = ["ROUTES", "caller"]

ANY_ROLE = ("advisor", "supervisor", "integrator", "admin")
STAFF = ("supervisor", "admin")
_EVENT_ENCODE = msgspec.json.Encoder()


class InvalidField(HTTPException):
    """A well-formed body with a field whose value we refuse (a date without an offset)."""

    status_code = 400

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail=detail, extra=[{"key": field, "message": detail}])


class UnknownName(InvalidField):
    """A field naming something that does not exist (an advisor not in the roster)."""

    status_code = 404


def caller(request: Request[Any, Any, Any], *roles: str) -> Principal:
    """Return who holds the bearer token, or else the browser session (``sessions``), if its
    role is one of ``roles``."""
    header = request.headers.get("authorization")
    session = ""  # a bearer token's reads are counted by day (``daemon.access``)
    if header is None and SESSION_COOKIE in request.cookies:
        session, principal = signed_in(request)
    else:
        principal = _bearer(header or "", request)
    if principal.role not in roles:
        raise PermissionDeniedException(
            f"role `{principal.role}` may not do this; it needs one of: {', '.join(roles)}"
        )
    acting.set(actor_of(principal))  # for this request's task: the journal names who did it
    via.set(Via(f"{request.method} {request.url.path}", session))  # and the access log how
    return principal


def _bearer(header: str, request: Request[Any, Any, Any]) -> Principal:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException(
            "a bearer token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        principal: Principal = request.app.state.tokens.authenticate(token.strip())
    except Unauthenticated as refused:
        raise NotAuthorizedException(str(refused), headers={"WWW-Authenticate": "Bearer"}) from None
    return principal


def _as_advisor(principal: Principal, advisor_id: str | None) -> str:
    """Return the advisor an action is for: an advisor's own id, or the one a supervisor names."""
    if principal.role == "advisor":
        if advisor_id is not None and advisor_id != principal.advisor_id:
            raise PermissionDeniedException(
                f"this token acts for advisor `{principal.advisor_id}`, not `{advisor_id}`"
            )
        return principal.advisor_id or ""
    if advisor_id is None:
        raise InvalidField("advisor_id", "name the advisor this action is for")
    return advisor_id


def actor(principal: Principal) -> str:
    """Name who steers work in the journal: its token, by the journal's id (never the secret)."""
    return f"token:{principal.label if principal.token_id is None else principal.token_id}"


async def check_names(
    runtime: Runtime, *, motive: str | None = None, to_advisor: str | None = None
) -> None:
    """Refuse, naming the field, a motive not configured or an advisor not in the roster.

    The engine refuses them too, but cannot say which field of the request is at fault.
    """

    def check(engine: Engine) -> InvalidField | None:
        motives = engine.state.policies.motives
        if motive is not None and motive not in motives:
            known = ", ".join(motives) or "none configured"
            return InvalidField("motive", f"`{motive}` is not a configured motive; one of: {known}")
        if to_advisor is not None and to_advisor not in engine.state.advisors:
            return UnknownName("to_advisor", f"no advisor `{to_advisor}` in the roster")
        return None

    problem = await runtime.read(check)
    if problem is not None:
        raise problem


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def holder_of(runtime: Runtime, interaction_id: int) -> Any:
    def holder(engine: Engine) -> str | None:
        interaction = engine.state.interactions.get(interaction_id)
        if interaction is None:
            raise UnknownInteraction(f"no interaction {interaction_id} is open")
        return interaction.advisor_id

    return runtime.read(holder)


async def acting_advisor(
    request: Request[Any, Any, Any], interaction_id: int, named: str | None
) -> str:
    """The advisor acting on an interaction: the caller, the one named, or its holder."""
    principal = caller(request, "advisor", *STAFF)
    if principal.role == "advisor" or named is not None:
        return _as_advisor(principal, named)
    holder = await holder_of(runtime_of(request), interaction_id)
    if holder is None:
        raise InvalidField("advisor_id", "nobody holds this interaction; name the advisor")
    return str(holder)


async def reader_of_work(
    request: Request[Any, Any, Any],
    interaction_id: int,
    what: str,
    *,
    integrators: bool = True,
    authority: bool = False,
) -> Runtime:
    """Check that the caller may read ``what`` of an interaction (the advisor holding it,
    staff, integrators unless told not, the ``authority`` when told), and return the runtime."""
    roles: tuple[str, ...] = (
        ("advisor", "integrator", *STAFF) if integrators else ("advisor", *STAFF)
    )
    roles += ("authority",) if authority else ()
    principal = caller(request, *roles)
    runtime = runtime_of(request)
    if principal.role == "advisor":
        holder = await holder_of(runtime, interaction_id)
        if holder != principal.advisor_id:
            raise PermissionDeniedException(f"an advisor reads {what} of its own work")
    return runtime


# -- interactions ---------------------------------------------------------------------------------


@post(
    "/v1/interactions",
    summary="Submit an interaction",
    tags=["interactions"],
    status_code=201,
    responses={200: ResponseSpec(InteractionOut, description="already known: the first one")},
)
async def submit(request: Request[Any, Any, Any], data: SubmitIn) -> Response[InteractionOut]:
    """Create an interaction once it is durable (201), or return the one already known (200)."""
    caller(request, "integrator", *STAFF)
    received_at = None
    if data.received_at is not None:
        if data.received_at.tzinfo is None or data.received_at.utcoffset() is None:
            raise InvalidField(
                "received_at", "has no UTC offset; give one, for example 2027-01-04T09:00:00+01:00"
            )
        received_at = from_datetime(data.received_at)
    personal = {
        key: value
        for key, value in (
            ("customer", data.customer),
            ("subject", data.subject),
            ("text", data.text),
        )
        if value is not None
    }
    command = Submit(
        channel=data.channel,
        source=data.source,
        external_id=data.external_id,
        received_at=received_at,
        motive=data.motive,
        language=data.language,
        skills=dict(data.skills),
        priority=data.priority,
        typology=data.typology,
    )
    receipt = await runtime_of(request).submit(command, personal or None)
    return Response(receipt.interaction, status_code=201 if receipt.created else 200)


@get("/v1/interactions/{interaction_id:int}", summary="Read an interaction", tags=["interactions"])
async def read_interaction(request: Request[Any, Any, Any], interaction_id: int) -> InteractionOut:
    """Any role reads an interaction; its external id as given (personal data: an e-mail's
    Message-ID names an address) only for those who may read its personal data, else the
    keyed digest the journal holds."""
    principal = caller(request, *ANY_ROLE)
    runtime = runtime_of(request)
    reveal = True
    if principal.role == "advisor":
        try:
            reveal = await holder_of(runtime, interaction_id) == principal.advisor_id
        except UnknownInteraction:
            reveal = False  # no longer live: nobody holds it
    found = await runtime.interaction(interaction_id, reveal=reveal)
    if found is None:
        raise UnknownInteraction(f"no interaction {interaction_id}")
    return found


@post("/v1/interactions/{interaction_id:int}/response", tags=["interactions"], status_code=200)
async def respond(
    request: Request[Any, Any, Any], interaction_id: int, data: WorkIn | None = None
) -> dict[str, Any]:
    """Record the first response sent (a call's pick-up counts already): the SLA clock stops."""
    advisor_id = await acting_advisor(request, interaction_id, data.advisor_id if data else None)
    return await _done(
        request, RecordResponse(advisor_id=advisor_id, interaction_id=interaction_id)
    )


@post("/v1/interactions/{interaction_id:int}/transfer", tags=["interactions"], status_code=200)
async def transfer(
    request: Request[Any, Any, Any], interaction_id: int, data: TransferIn
) -> dict[str, Any]:
    """Send it back to a queue (another channel, motive or skills); place and clock are kept.
    With ``to_advisor``, that advisor is offered it first, when ready for it.

    The note is personal data: kept in the erasable store, its digest in the journal.
    """
    advisor_id = await acting_advisor(request, interaction_id, data.advisor_id)
    await check_names(runtime_of(request), motive=data.motive, to_advisor=data.to_advisor)
    command = Transfer(
        advisor_id=advisor_id,
        interaction_id=interaction_id,
        channel=data.channel,
        motive=data.motive,
        skills=data.skills,
        to_advisor=data.to_advisor,
    )
    return await _done(request, command, {"note": data.note} if data.note else None)


@post("/v1/interactions/{interaction_id:int}/transfer-out", tags=["interactions"], status_code=200)
async def transfer_out(
    request: Request[Any, Any, Any], interaction_id: int, data: TransferOutIn
) -> dict[str, Any]:
    """Hand it to a party outside (another service); it leaves the queues.

    Who the party is is personal data (it may name a person): kept like a transfer's note.
    """
    advisor_id = await acting_advisor(request, interaction_id, data.advisor_id)
    command = TransferOut(advisor_id=advisor_id, interaction_id=interaction_id)
    return await _done(request, command, {"party": data.party})


@post(
    "/v1/interactions/{interaction_id:int}/await-principal", tags=["interactions"], status_code=200
)
async def await_principal(
    request: Request[Any, Any, Any], interaction_id: int, data: WorkIn | None = None
) -> dict[str, Any]:
    """Wait for the principal's input; a ``complex`` complaint's clock pauses meanwhile."""
    advisor_id = await acting_advisor(request, interaction_id, data.advisor_id if data else None)
    return await _done(
        request, AwaitPrincipal(advisor_id=advisor_id, interaction_id=interaction_id)
    )


@post(
    "/v1/interactions/{interaction_id:int}/principal-answered",
    tags=["interactions"],
    status_code=200,
)
async def principal_answered(
    request: Request[Any, Any, Any], interaction_id: int
) -> dict[str, Any]:
    """The principal answered: the interaction queues again with its clock running."""
    caller(request, "integrator", *STAFF)
    return await _done(request, PrincipalAnswered(interaction_id=interaction_id))


@post("/v1/interactions/{interaction_id:int}/abandon", tags=["interactions"], status_code=200)
async def abandon(request: Request[Any, Any, Any], interaction_id: int) -> dict[str, Any]:
    """The customer left (a caller hung up before being answered)."""
    caller(request, "integrator", *STAFF)
    return await _done(request, Abandon(interaction_id=interaction_id))


@post("/v1/interactions/{interaction_id:int}/close", tags=["interactions"], status_code=200)
async def close(
    request: Request[Any, Any, Any], interaction_id: int, data: CloseIn | None = None
) -> dict[str, Any]:
    """Close it: the advisor's slot is freed (after wrap-up, for calls). ``reason`` is one of
    ``[reasons] close``: ``no_answer_needed`` closes a thank-you or spam without answering.
    ``motive``, one of ``[motives]``, is the final one when the work was about something else;
    reports count closed work by both."""
    principal = caller(request, "advisor", "integrator", *STAFF)
    named = data.advisor_id if data else None
    advisor_id = _as_advisor(principal, named) if principal.role == "advisor" else named
    reason = data.reason if data else ""
    motive = data.motive if data else None
    await check_names(runtime_of(request), motive=motive)
    command = Close(
        interaction_id=interaction_id, advisor_id=advisor_id, reason=reason, motive=motive
    )
    return await _done(request, command)


@post("/v1/interactions/{interaction_id:int}/priority", tags=["supervision"], status_code=200)
async def prioritise(
    request: Request[Any, Any, Any], interaction_id: int, data: PriorityIn
) -> dict[str, Any]:
    """Give waiting work another priority (0 to 9): it takes the place its new key gives, and
    an offer pending for it is withdrawn first. Supervisors and admins; ``reason`` is one of
    ``[reasons] steer``; the journal records the token that did it."""
    principal = caller(request, *STAFF)
    command = Prioritise(
        interaction_id=interaction_id,
        priority=data.priority,
        by=actor(principal),
        reason=data.reason,
    )
    return await _done(request, command)


@post("/v1/interactions/{interaction_id:int}/move", tags=["supervision"], status_code=200)
async def move(
    request: Request[Any, Any, Any], interaction_id: int, data: MoveIn
) -> dict[str, Any]:
    """Send queued, offered or held work back to its place in the queue, its SLA clock kept:
    an offer is withdrawn, held work is taken from its advisor (freed without a wrap-up). With
    another channel, motive or skills when given; offered first to ``to_advisor`` when named.
    Supervisors and admins; ``reason`` is one of ``[reasons] steer``; the note is personal data,
    kept like a transfer's."""
    principal = caller(request, *STAFF)
    await check_names(runtime_of(request), motive=data.motive, to_advisor=data.to_advisor)
    command = Move(
        interaction_id=interaction_id,
        to_advisor=data.to_advisor,
        channel=data.channel,
        motive=data.motive,
        skills=data.skills,
        by=actor(principal),
        reason=data.reason,
    )
    return await _done(request, command, {"note": data.note} if data.note else None)


@get("/v1/interactions/{interaction_id:int}/personal-data", tags=["interactions"])
async def personal_data(request: Request[Any, Any, Any], interaction_id: int) -> dict[str, Any]:
    """The external id, customer, subject and text, then the transfer notes and parties: for
    the advisor holding the work, staff and integrators, and the ``authority`` (the data
    controller) naming one interaction; every person's read is recorded in the access log.
    Only what the journal holds the digest of for this interaction is shown."""
    runtime = await reader_of_work(request, interaction_id, "the personal data", authority=True)
    data = await runtime.personal_data(interaction_id)
    if data is None:
        raise NotFoundException(
            f"no personal data for interaction {interaction_id} (never given, or erased)"
        )
    return {"interaction_id": interaction_id, **data}


@delete(
    "/v1/interactions/{interaction_id:int}/personal-data", tags=["interactions"], status_code=200
)
async def erase(
    request: Request[Any, Any, Any],
    interaction_id: int,
    reason: str = Parameter(
        default="", description="Why: one of `[reasons] erase` (`subject_request`…)."
    ),
) -> dict[str, Any]:
    """Erase the customer's personal data (GDPR); the journal keeps only a meaningless digest.
    Who asked and why (``reason``) is recorded in the access log."""
    caller(request, "admin")
    runtime = runtime_of(request)
    allowed = runtime.settings.reasons.erase
    if reason not in allowed:
        said = f"`{reason}` is not" if reason else "a reason is required:"
        raise InvalidField(
            "reason", f"{said} one of [reasons] erase: {', '.join(allowed)} (?reason=…)"
        )
    erased = await runtime.erase(interaction_id, reason)
    return {"interaction_id": interaction_id, "erased": erased, "reason": reason}


# -- advisors -------------------------------------------------------------------------------------


@put("/v1/advisors/{advisor_id:str}/state", tags=["advisors"], status_code=200)
async def set_state(
    request: Request[Any, Any, Any], advisor_id: str, data: StateIn
) -> dict[str, Any]:
    """Log in, go available, pause (``not_ready``), or log out (``offline``).

    Set by a supervisor or an admin, ``not_ready`` and ``offline`` first send the work the
    advisor holds back to its place in the queue (an ``interaction.moved`` each), and the
    journal records the token that did it (``by``)."""
    principal = caller(request, "advisor", *STAFF)
    _as_advisor(principal, advisor_id)
    by = "" if principal.role == "advisor" else actor(principal)
    command = SetAdvisorState(advisor_id=advisor_id, state=data.state, reason=data.reason, by=by)
    return await _done(request, command)


@post(
    "/v1/advisors/{advisor_id:str}/offers/{offer_id:int}/accept", tags=["advisors"], status_code=200
)
async def accept(request: Request[Any, Any, Any], advisor_id: str, offer_id: int) -> dict[str, Any]:
    principal = caller(request, "advisor", *STAFF)
    _as_advisor(principal, advisor_id)
    return await _done(request, Accept(advisor_id=advisor_id, offer_id=offer_id))


@post(
    "/v1/advisors/{advisor_id:str}/offers/{offer_id:int}/decline",
    tags=["advisors"],
    status_code=200,
)
async def decline(
    request: Request[Any, Any, Any], advisor_id: str, offer_id: int, data: DeclineIn | None = None
) -> dict[str, Any]:
    principal = caller(request, "advisor", *STAFF)
    _as_advisor(principal, advisor_id)
    reason = data.reason if data else ""  # a configured code: the runtime checks it
    return await _done(request, Decline(advisor_id=advisor_id, offer_id=offer_id, reason=reason))


@get("/v1/advisors/{advisor_id:str}", tags=["advisors"])
async def read_advisor(request: Request[Any, Any, Any], advisor_id: str) -> AdvisorOut:
    principal = caller(request, "advisor", *STAFF)
    _as_advisor(principal, advisor_id)

    def read(engine: Engine) -> AdvisorOut:
        advisor = engine.state.advisors.get(advisor_id)
        if advisor is None:
            raise UnknownAdvisor(f"no advisor `{advisor_id}`")
        offers = [o.id for o in engine.state.offers.values() if o.advisor_id == advisor_id]
        return advisor_out(advisor, offers, runtime_of(request).zone)

    result: AdvisorOut = await runtime_of(request).read(read)
    return result


@post("/v1/advisors", tags=["roster"], status_code=201)
async def add_advisor(request: Request[Any, Any, Any], data: AdvisorIn) -> dict[str, Any]:
    """Add an advisor to the roster (a journaled command; the config file is not edited)."""
    caller(request, "admin")
    command = AddAdvisor(
        advisor_id=data.id,
        name=data.name,
        skills=dict(data.skills),
        languages=data.languages,
        capacity=dict(data.capacity),
    )
    return await _done(request, command)


@patch("/v1/advisors/{advisor_id:str}", tags=["roster"], status_code=200)
async def update_advisor(
    request: Request[Any, Any, Any], advisor_id: str, data: AdvisorPatch
) -> dict[str, Any]:
    """Change an advisor's name, skills, languages or capacity."""
    caller(request, "admin")
    command = UpdateAdvisor(
        advisor_id=advisor_id,
        name=data.name,
        skills=None if data.skills is None else dict(data.skills),
        languages=data.languages,
        capacity=None if data.capacity is None else dict(data.capacity),
    )
    return await _done(request, command)


@delete("/v1/advisors/{advisor_id:str}", tags=["roster"], status_code=200)
async def remove_advisor(request: Request[Any, Any, Any], advisor_id: str) -> dict[str, Any]:
    caller(request, "admin")
    return await _done(request, RemoveAdvisor(advisor_id=advisor_id))


# -- supervision ----------------------------------------------------------------------------------


@get("/v1/queues", tags=["supervision"])
async def queues(request: Request[Any, Any, Any]) -> Queues:
    """Per channel: waiting, oldest wait, estimated wait, service level today, advisors."""
    caller(request, *STAFF)
    runtime = runtime_of(request)
    today = await request.app.state.following.today(runtime)
    result: Queues = await runtime.read(lambda engine: _queues(runtime, engine, today))
    return result


def _queues(runtime: Runtime, engine: Engine, today: Today) -> Queues:
    state = engine.state
    now = max(runtime.clock(), engine.now)
    zone = runtime.zone
    channels: dict[str, ChannelQueue] = {}
    waiting_since: dict[str, int] = {}
    for interaction in state.interactions.values():
        channel = interaction.channel
        if interaction.status == "queued":
            since = waiting_since.get(channel)
            if since is None or interaction.received_at < since:
                waiting_since[channel] = interaction.received_at
    for channel in CHANNELS:
        policy = state.policies.channels.get(channel)
        by_state: dict[str, int] = {}
        for advisor in state.advisors.values():
            if advisor.capacity.get(channel, 0) > 0:
                by_state[advisor.state] = by_state.get(advisor.state, 0) + 1
        waits = runtime.recent_waits(channel)
        oldest = waiting_since.get(channel)
        channels[channel] = ChannelQueue(
            waiting=state.queues.waiting(channel),
            oldest_wait_s=None if oldest is None else max(0.0, (now - oldest) / SECOND),
            estimated_wait_s=sum(waits) / len(waits) if waits else None,
            service_level_today=today.channel(channel, now).service_level,
            target_share=policy.target_share if policy is not None else 0.0,
            advisors=by_state,
        )
    return Queues(at=iso(now, zone), channels=channels)


@get("/v1/events", tags=["supervision"])
async def events(
    request: Request[Any, Any, Any],
    after: int = Parameter(default=0, ge=0, description="Read the events after this seq."),
    limit: int = Parameter(default=500, ge=1, le=5000),
) -> EventPage:
    """The audit trail, in journal order, a page at a time: each event with who caused it
    (``by``: a token by its id, a session, a channel, the daemon; ``null`` in records written
    before actors were kept)."""
    caller(request, *STAFF)
    runtime = runtime_of(request)
    records = await runtime.records_after(after, limit)
    rows = [
        {
            "id": r.id,
            "seq": r.seq,
            "hash": r.hash,
            "by": msgspec.to_builtins(r.by),
            "event": event_out(r.event, runtime.zone),
        }
        for r in records
    ]
    return EventPage(events=rows, next_after=records[-1].seq if records else after)


@post("/v1/tickets", tags=["advisors"], status_code=201)
async def ticket(request: Request[Any, Any, Any]) -> TicketOut:
    """Exchange the bearer token for a short-lived ticket to open the offers WebSocket."""
    principal = caller(request, *ANY_ROLE)
    tickets = request.app.state.tickets
    issued = tickets.issue(principal, time.monotonic())
    return TicketOut(
        ticket=issued, expires_in_s=int(tickets.ttl_s), url=f"/v1/offers?ticket={issued}"
    )


# -- lists ----------------------------------------------------------------------------------------

_STATUSES = typing.get_args(InteractionStatus)
_ADVISOR_STATES = typing.get_args(AdvisorState)


@get("/v1/advisors", summary="List the advisors", tags=["advisors"])
async def list_advisors(
    request: Request[Any, Any, Any],
    in_state: Annotated[  # `state` is the app's state to the framework: named apart
        str | None, QueryParameter(name="state", description="Only advisors in this state.")
    ] = None,
    after: str | None = Parameter(
        default=None, description="The id after which to list (a page's `next_after`)."
    ),
    limit: int = Parameter(default=100, ge=1, le=1000),
) -> AdvisorPage:
    """The roster in id order, each advisor with its state, load and capacity per channel,
    skills and languages, a page at a time. An advisor's list holds only itself."""
    principal = caller(request, "advisor", *STAFF)
    if in_state is not None and in_state not in _ADVISOR_STATES:
        raise InvalidField(
            "state", f"`{in_state}` is not a state; one of: {', '.join(_ADVISOR_STATES)}"
        )
    only = principal.advisor_id if principal.role == "advisor" else None
    zone = runtime_of(request).zone

    def read(engine: Engine) -> tuple[list[AdvisorOut], str | None]:
        return advisors_page(engine, state=in_state, only=only, after=after, limit=limit, zone=zone)

    advisors, next_after = await runtime_of(request).read(read)
    return AdvisorPage(advisors=advisors, next_after=next_after)


@get("/v1/interactions", summary="List the live interactions", tags=["interactions"])
async def list_interactions(
    request: Request[Any, Any, Any],
    status: list[str] | None = Parameter(
        default=None, description="Statuses to list: repeat the parameter, or separate by commas."
    ),
    channel: str | None = None,
    advisor: str | None = Parameter(
        default=None, description="Offered to or held by this advisor, or last accepted by it."
    ),
    received_since: str | None = Parameter(
        default=None, description="Received at or after: ISO-8601 with an offset."
    ),
    received_until: str | None = Parameter(
        default=None, description="Received before: ISO-8601 with an offset."
    ),
    after: int = Parameter(
        default=0, ge=0, description="The id after which to list (a page's `next_after`)."
    ),
    limit: int = Parameter(default=100, ge=1, le=1000),
) -> InteractionPage:
    """The interactions in the engine's live state, in id order, a page at a time: open work,
    and ended work until ``[retention] live_after_close_s`` has passed (read older work by its
    id). An advisor lists only the work offered to or held by it now. External ids are shown
    as given, as to those who may read the personal data."""
    principal = caller(request, "advisor", "integrator", *STAFF)
    statuses = frozenset(s.strip() for given in status or () for s in given.split(",") if s.strip())
    for named in sorted(statuses):
        if named not in _STATUSES:
            raise InvalidField(
                "status", f"`{named}` is not a status; one of: {', '.join(_STATUSES)}"
            )
    if channel is not None and channel not in CHANNELS:
        raise InvalidField(
            "channel", f"`{channel}` is not a channel; one of: {', '.join(CHANNELS)}"
        )
    holder = None
    if principal.role == "advisor":
        holder = _as_advisor(principal, advisor)
    wanted = InteractionFilter(
        statuses=statuses,
        channel=channel,
        advisor=None if holder else advisor,
        holder=holder,
        received_since=_instant("received_since", received_since),
        received_until=_instant("received_until", received_until),
    )
    runtime = runtime_of(request)
    zone = runtime.zone
    found, next_after = await runtime.read(
        lambda engine: interactions_page(engine, wanted, after=after, limit=limit, zone=zone)
    )
    # Whoever reads a list may read its personal data: an advisor's list is its own work. Read
    # together, so that the access log records the page's reads in one durable write.
    views = list(
        await asyncio.gather(*(runtime.revealed(view, digests) for view, digests in found))
    )
    return InteractionPage(interactions=views, next_after=next_after)


def _instant(field: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except DatetimeError as exc:
        hint = " (in a query string, write `+` as `%2B`)" if " " in text.strip() else ""
        raise InvalidField(field, f"{exc}{hint}") from None


async def _done(
    request: Request[Any, Any, Any], command: Any, personal: dict[str, Any] | None = None
) -> dict[str, Any]:
    runtime = runtime_of(request)
    events = await runtime.execute(command, personal)
    return {"events": [event_out(event, runtime.zone) for event in events]}


ROUTES = [
    submit,
    read_interaction,
    respond,
    transfer,
    transfer_out,
    await_principal,
    principal_answered,
    abandon,
    close,
    prioritise,
    move,
    personal_data,
    erase,
    set_state,
    accept,
    decline,
    read_advisor,
    add_advisor,
    update_advisor,
    remove_advisor,
    queues,
    events,
    ticket,
    list_advisors,
    list_interactions,
]
