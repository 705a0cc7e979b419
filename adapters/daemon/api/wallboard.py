"""The supervisor's wallboard as data: ``GET /v1/wallboard``, and the same pushed live.

One object says what a supervisor's wall shows: per channel the queue (waiting, the oldest
wait), today's figures (answered, abandoned, service level against the target) and the work at
risk (past its warning) or breached; per advisor the state with its reason and since when, the
load per channel against the capacity, occupancy and adherence to today's schedule; the
interactions at risk, oldest deadline first, with who holds them; the health of the
daemon, its journal and each channel adapter; and the latest nowcast of the rest of the day
(``daemon.nowcast``).

Today's figures come from ``daemon.today`` (every ratio by ``engine.figures``, the one
definition the reports share), which follows the journal from the first wall that asks: it
reads the day's records once, then each durable batch; when the daemon drops its engine (a
journal failure, a step-down) it is started afresh from the journal.

``GET /v1/wallboard/live?ticket=T`` (a ticket from ``POST /v1/tickets``, as for the offers
WebSocket) sends that object when it connects and again after every batch the journal makes
durable, at most one every ``_MIN_INTERVAL_S``: a burst of events is one message, never a
backlog. ``seq`` says the last journal record the object reflects, so a client can tell how far
behind the journal it is. Times are ISO-8601 with the calendar's offset; the page counts the
seconds itself (time in state, oldest wait) between messages.

Supervisors and admins only: the wall shows every advisor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import msgspec
from litestar import Request, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect

from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.daemon.api.routes import STAFF, caller, runtime_of
from aiguillage.adapters.daemon.api.websocket import (
    CLOSE_CODES,
    authenticate,
    drain_client,
    refuse,
)
from aiguillage.adapters.daemon.auth import Tokens
from aiguillage.adapters.daemon.forecast import DayForecast
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.supervisor import Supervisor
from aiguillage.adapters.daemon.today import Today
from aiguillage.adapters.stores.journal import Record
from aiguillage.adapters.stores.views import iso
from aiguillage.engine.engine import Engine
from aiguillage.engine.instants import Instant
from aiguillage.engine.policies import CHANNELS
from aiguillage.simulations.nowcast import Nowcast

__all__ = ["WALLBOARD_ROUTES", "Wallboard", "wallboard_of"]

_ENCODE = msgspec.json.Encoder()
_MIN_INTERVAL_S = 0.1
"""The shortest time between two pushes: a burst of events is sent as one state."""
_RECONNECT, _UNAUTHORIZED, _FORBIDDEN = 1013, 4401, 4403
assert all(code in CLOSE_CODES for code in (_RECONNECT, _UNAUTHORIZED, _FORBIDDEN))


class ChannelBoard(msgspec.Struct, kw_only=True):
    waiting: int
    oldest_since: str | None
    """When the oldest waiting interaction arrived (the page counts its wait from it)."""
    offered: int
    """Offered to an advisor now, ringing or unread."""
    held: int
    """Held by advisors now."""
    at_risk: int
    """Open, not answered, past its warning and not yet breached."""
    breached: int
    """Open, not answered, past its deadline."""
    arrived_today: int
    expected_by_now: float | None
    """Arrivals the plan (``[simulation]``) expects from midnight to now; ``None`` without one."""
    expected_today: float | None
    """... and over the whole day."""
    answered_today: int
    answered_within_today: int
    abandoned_today: int
    """Every abandon of the day, the short ones included."""
    short_abandons_today: int
    refused_today: int
    """Refused because the channel was closed (a call outside opening hours)."""
    breached_today: int
    """Deadlines passed today without an answer."""
    service_level_today: float | None
    """``figures.service_level`` over the day: short abandons left out."""
    asa_today_s: float | None
    abandonment_today: float | None
    target_share: float
    advisors: dict[str, int]
    """Advisors able to take the channel, by state."""
    callbacks_requested_today: int = 0
    """Callers who asked to be called back (counted in ``service_level_today`` with the wait
    they had then)."""
    callbacks_reached_today: int = 0
    callbacks_unreached_today: int = 0
    callback_service_level_today: float | None = None
    """``figures.callback_service_level``: callbacks whose first attempt started in time."""


class AdvisorBoard(msgspec.Struct, kw_only=True):
    id: str
    name: str
    state: str
    reason: str
    since: str | None
    """When it entered its state; ``None`` before any change was journaled."""
    wrap_until: str | None
    load: dict[str, int]
    capacity: dict[str, int]
    holding: list[int]
    occupancy_today: float | None
    adherence_today: float | None
    """Against today's schedule (``PUT /v1/schedule/{day}``); ``None`` without one."""


class AtRisk(msgspec.Struct, kw_only=True):
    interaction_id: int
    channel: str
    motive: str | None
    status: str
    priority: int
    received_at: str
    deadline: str
    breached: bool
    advisor_id: str | None


class Health(msgspec.Struct, kw_only=True):
    ready: bool
    role: str
    leader: str | None
    store: str | None
    last_seq: int | None
    adapters: dict[str, dict[str, Any]]


class Wallboard(msgspec.Struct, kw_only=True):
    at: str
    seq: int
    """The last journal record this state reflects."""
    channels: dict[str, ChannelBoard]
    advisors: list[AdvisorBoard]
    at_risk: list[AtRisk]
    health: Health
    nowcast: Nowcast | None = None
    """The latest nowcast of the rest of the day (``GET /v1/nowcast``); ``None`` before the
    first."""


def wallboard_of(
    runtime: Runtime,
    engine: Engine,
    adapters: Supervisor | None,
    today: Today,
    plan: DayForecast | None = None,
    nowcast: Nowcast | None = None,
) -> Wallboard:
    """Return the wall's state from the engine's (run between batches: all of it is durable)
    and the day's figures."""
    state = engine.state
    zone = runtime.zone
    now = max(runtime.clock(), engine.now)
    counts = {
        channel: dict.fromkeys(("offered", "held", "at_risk", "breached"), 0)
        for channel in CHANNELS
    }
    oldest: dict[str, Instant] = {}
    risky: list[AtRisk] = []
    for interaction in state.interactions.values():
        channel = interaction.channel
        count = counts[channel]
        status = interaction.status
        if status == "queued":
            since = oldest.get(channel)
            if since is None or interaction.received_at < since:
                oldest[channel] = interaction.received_at
        elif status == "offered":
            count["offered"] += 1
        elif status == "assigned":
            count["held"] += 1
        open_unanswered = interaction.ended_at is None and interaction.responded_at is None
        if open_unanswered and (interaction.warned or interaction.breached):
            count["breached" if interaction.breached else "at_risk"] += 1
            risky.append(
                AtRisk(
                    interaction_id=interaction.id,
                    channel=channel,
                    motive=interaction.motive,
                    status=status,
                    priority=interaction.priority,
                    received_at=iso(interaction.received_at, zone),
                    deadline=iso(interaction.deadline, zone),
                    breached=interaction.breached,
                    advisor_id=interaction.advisor_id,
                )
            )
    risky.sort(key=lambda r: (r.deadline, r.interaction_id))
    channels: dict[str, ChannelBoard] = {}
    for channel in CHANNELS:
        count = counts[channel]
        policy = state.policies.channels.get(channel)
        day = today.channel(channel, now)
        by_state: dict[str, int] = {}
        for advisor in state.advisors.values():
            if advisor.capacity.get(channel, 0) > 0:
                by_state[advisor.state] = by_state.get(advisor.state, 0) + 1
        since = oldest.get(channel)
        channels[channel] = ChannelBoard(
            waiting=state.queues.waiting(channel),
            oldest_since=None if since is None else iso(since, zone),
            offered=count["offered"],
            held=count["held"],
            at_risk=count["at_risk"],
            breached=count["breached"],
            arrived_today=day.arrived,
            expected_by_now=_expected(plan, channel, now, by_now=True),
            expected_today=_expected(plan, channel, now, by_now=False),
            answered_today=day.answered,
            answered_within_today=day.answered_within,
            abandoned_today=day.abandoned,
            short_abandons_today=day.short_abandons,
            refused_today=day.refused,
            breached_today=day.breached,
            service_level_today=day.service_level,
            asa_today_s=day.asa_s,
            abandonment_today=day.abandonment,
            target_share=policy.target_share if policy is not None else 0.0,
            advisors=by_state,
            callbacks_requested_today=day.callbacks_requested,
            callbacks_reached_today=day.callbacks_reached,
            callbacks_unreached_today=day.callbacks_unreached,
            callback_service_level_today=day.callback_service_level,
        )
    advisors = []
    for advisor in sorted(state.advisors.values(), key=lambda a: a.id):
        figures = today.advisor(advisor.id, now, engine)
        advisors.append(
            AdvisorBoard(
                id=advisor.id,
                name=advisor.name,
                state=advisor.state,
                reason=advisor.reason,
                since=iso(advisor.state_since, zone) if advisor.state_since else None,
                wrap_until=None if advisor.wrap_until is None else iso(advisor.wrap_until, zone),
                load={c: n for c, n in advisor.load.items() if n},
                capacity={str(c): n for c, n in advisor.capacity.items()},
                holding=list(advisor.holding),
                occupancy_today=figures.occupancy,
                adherence_today=figures.adherence,
            )
        )
    return Wallboard(
        at=iso(now, zone),
        seq=runtime.last_seq,
        channels=channels,
        advisors=advisors,
        at_risk=risky,
        health=_health(runtime, adapters),
        nowcast=nowcast,
    )


def _expected(
    plan: DayForecast | None, channel: str, now: Instant, *, by_now: bool
) -> float | None:
    if plan is None:
        return None
    if channel not in plan.channels:
        return 0.0  # the plan sends this channel nothing
    return plan.expected_by(channel, now) if by_now else plan.expected_day(channel)


def _health(runtime: Runtime, adapters: Supervisor | None) -> Health:
    journal = runtime.journal
    role = "leader" if runtime.leading else "standby" if runtime.standby else "recovering"
    return Health(
        ready=runtime.ready,
        role=role,
        leader=None if runtime.leading else runtime.leader,
        store=journal.description if journal is not None else None,
        last_seq=runtime.last_seq if runtime.leading else None,
        adapters={}
        if adapters is None
        else {name: msgspec.to_builtins(status) for name, status in adapters.status().items()},
    )


async def _read(runtime: Runtime, adapters: Supervisor | None, state: Any) -> Wallboard:
    today = await state.following.today(runtime)
    plan = await state.forecasts.today(runtime)
    board: Wallboard = await runtime.read(
        lambda engine: wallboard_of(runtime, engine, adapters, today, plan, state.nowcasts.latest)
    )
    return board


@get("/v1/wallboard", summary="The supervisor's wall", tags=["supervision"])
async def read_wallboard(request: Request[Any, Any, Any]) -> Wallboard:
    """Per channel, per advisor, the work at risk and the health, as the wall shows them."""
    caller(request, *STAFF)
    state = request.app.state
    return await _read(runtime_of(request), state.adapters, state)


@websocket("/v1/wallboard/live")
async def wallboard_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Push the wall's state on connection and after each durable batch (coalesced)."""
    await socket.accept()
    try:
        principal = authenticate(socket)
    except Unavailable as exc:
        await refuse(socket, _RECONNECT, "unavailable", str(exc))
        return
    if principal is None:
        await refuse(socket, _UNAUTHORIZED, "unauthorized", "a valid ticket is needed")
        return
    if principal.role not in STAFF:
        await refuse(socket, _FORBIDDEN, "forbidden", "the wall is for supervisors and admins")
        return
    runtime: Runtime = socket.app.state.runtime
    adapters: Supervisor | None = socket.app.state.adapters
    tokens: Tokens = socket.app.state.tokens
    changed = anyio.Event()
    why = ["reconnect"]
    ended = anyio.Event()

    def listener(records: Sequence[Record]) -> None:
        changed.set()

    def dropped() -> None:
        why[0] = "the daemon is rebuilding or stepped down: reconnect"
        ended.set()
        changed.set()

    runtime.add_listener(listener)
    runtime.add_drop_listener(dropped)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(drain_client, socket, group.cancel_scope)
            while not ended.is_set():
                if tokens.current(principal) is None:
                    why[0] = "the token expired (or was revoked): sign in again"
                    break
                try:
                    board = await _read(runtime, adapters, socket.app.state)
                except Unavailable:
                    why[0] = "unavailable: reconnect"
                    break
                await socket.send_text(_ENCODE.encode(board).decode())
                await anyio.sleep(_MIN_INTERVAL_S)
                with anyio.move_on_after(5.0):  # the health and the clock move without events
                    await changed.wait()
                changed = anyio.Event()
            group.cancel_scope.cancel()
        await socket.close(code=_RECONNECT, reason=why[0])
    except WebSocketDisconnect:
        pass
    finally:
        runtime.remove_listener(listener)
        runtime.remove_drop_listener(dropped)


WALLBOARD_ROUTES = [read_wallboard]
"""The HTTP routes (documented in OpenAPI); ``wallboard_socket`` is registered beside them."""
