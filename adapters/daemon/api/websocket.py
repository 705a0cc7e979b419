"""The offers WebSocket: each advisor's offers pushed the moment the journal has them.

``GET /v1/offers?ticket=T`` (a ticket from ``POST /v1/tickets``, since browsers cannot send a
header on a WebSocket) or with ``Authorization: Bearer`` (other clients). On connection the
advisor receives its pending offers (``offer.pending``), then, as they happen, every journaled
event about it: ``offer.made`` (with the interaction), ``offer.expired``, ``offer.revoked``,
``offer.accepted``, ``offer.declined``, its state changes, and events of the work it holds.
Each message, replayed on connection or pushed live, is one JSON object in one envelope:
``{"id", "seq", "event", "interaction"}``: ``id`` is ``epoch:seq`` (unique even across a store
failover) and ``seq`` the journal's, both ``null`` for the pending offers replayed on
connection, which are state rather than events; ``event`` has its instants in ISO-8601 with the
calendar's offset, as the whole API; ``interaction`` is the interaction an offer is for (its
view, as ``GET /v1/interactions/{id}`` shows it), else ``null``. A client too slow to read
(more than 1,000 messages behind), or connected when the daemon drops its engine (a journal
failure, a leader stepping down), is disconnected with code 1013 and reconnects for a fresh
start; so is one whose token is revoked (at once) or expires (within a second), and its
reconnection is refused.
Supervisors and admins connect with ``?advisor=ID`` to watch one advisor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectSendStream
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from aiguillage.adapters.channels.events_out import OfferPending, event_out
from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.daemon.auth import Principal, Tokens, Unauthenticated
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.journal import Record
from aiguillage.adapters.stores.views import view_of
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import (
    AdvisorStateChanged,
    InteractionMoved,
    MessageBounced,
    MessageFailed,
    MessageSent,
    OfferMade,
    TokenMinted,
    TokenRevoked,
)

__all__ = ["CLOSE_CODES", "NOT_PUSHED", "authenticate", "drain_client", "offers_socket", "refuse"]

_ENCODE = msgspec.json.Encoder()
_BACKLOG = 1000
_UNAUTHORIZED = 4401
_FORBIDDEN = 4403
_RECONNECT = 1013
CLOSE_CODES = {
    _RECONNECT: "reconnect: the client was too slow to read, the daemon dropped its engine (a "
    "journal failure, a leader stepping down) or is unavailable, or the token was revoked or "
    "expired (its reconnection is then refused with 4401)",
    _UNAUTHORIZED: "unauthorized: no ticket or token, or one not valid (sign in again)",
    _FORBIDDEN: "forbidden: no advisor to watch (a supervisor or admin names one with "
    "``?advisor=ID``)",
}
"""The codes a connection is closed with, and why (the offers WebSocket's document shows them)."""
NOT_PUSHED = (TokenMinted,)
"""Events about an advisor that its connection does not receive (roster data, not work)."""
_EXPIRY_CHECK_S = 1.0
"""How often an open connection checks that its token still lets it in (not expired)."""


@websocket("/v1/offers")
async def offers_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Push an advisor's offers and the events about its work."""
    await socket.accept()
    try:
        principal = authenticate(socket)
    except Unavailable as exc:
        await refuse(socket, _RECONNECT, "unavailable", str(exc))
        return
    if principal is None:
        await refuse(socket, _UNAUTHORIZED, "unauthorized", "a valid ticket or token is needed")
        return
    advisor_id = principal.advisor_id
    if principal.role in ("supervisor", "admin"):
        advisor_id = socket.query_params.get("advisor") or None
    if advisor_id is None:
        await refuse(socket, _FORBIDDEN, "forbidden", "offers go to advisors; name one")
        return
    runtime: Runtime = socket.app.state.runtime
    send, receive = anyio.create_memory_object_stream[bytes](_BACKLOG)

    def listener(records: Sequence[Record]) -> None:
        engine = runtime.engine
        for record in records:
            event = record.event
            if isinstance(event, TokenRevoked) and event.token_id == principal.token_id:
                why[0] = "the token was revoked"
                send.close()
                return
            message = message_for(advisor_id, record, engine, runtime)
            if message is not None:
                _push(send, message)

    try:
        pending = await runtime.read(lambda engine: _pending(advisor_id, engine, runtime))
    except Unavailable as exc:
        await refuse(socket, _RECONNECT, "unavailable", str(exc))
        return
    why = ["too slow: reconnect"]

    def dropped() -> None:
        # The engine is gone (a failure, a step-down): the client reconnects, through the load
        # balancer to whichever daemon leads, and receives its pending offers afresh.
        why[0] = "the daemon is rebuilding or stepped down: reconnect"
        send.close()

    tokens: Tokens = socket.app.state.tokens

    async def expire() -> None:
        # The time a token lets its holder in ends while it is connected: close it then.
        while True:
            await anyio.sleep(_EXPIRY_CHECK_S)
            try:
                current = tokens.current(principal)
            except Unavailable:
                continue  # the engine is being rebuilt: ``dropped`` closes the connection
            if current is None:
                why[0] = "the token expired (or was revoked): sign in again"
                send.close()
                return

    runtime.add_listener(listener)
    runtime.add_drop_listener(dropped)
    try:
        for message in pending:
            await socket.send_text(message.decode())
        async with anyio.create_task_group() as group:
            group.start_soon(drain_client, socket, group.cancel_scope)
            if principal.token_id is not None:
                group.start_soon(expire)
            async with receive:
                async for message in receive:
                    await socket.send_text(message.decode())
            group.cancel_scope.cancel()
        await socket.close(code=_RECONNECT, reason=why[0])
    except WebSocketDisconnect:
        pass
    finally:
        runtime.remove_listener(listener)
        runtime.remove_drop_listener(dropped)
        send.close()


def authenticate(socket: WebSocket[Any, Any, Any]) -> Principal | None:
    ticket = socket.query_params.get("ticket")
    tokens: Tokens = socket.app.state.tokens
    if ticket:
        principal: Principal | None = socket.app.state.tickets.redeem(ticket, time.monotonic())
        return None if principal is None else tokens.current(principal)
    scheme, _, token = socket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            return tokens.authenticate(token.strip())
        except Unauthenticated:
            return None
    return None


async def refuse(socket: WebSocket[Any, Any, Any], code: int, error: str, detail: str) -> None:
    await socket.send_json({"error": error, "detail": detail})
    await socket.close(code=code, reason=error)


async def drain_client(socket: WebSocket[Any, Any, Any], scope: anyio.CancelScope) -> None:
    """Read what the client sends (nothing is expected) so that a disconnect is noticed."""
    try:
        while True:
            await socket.receive_data(mode="text")
    except WebSocketDisconnect:
        scope.cancel()


def _push(send: MemoryObjectSendStream[bytes], message: bytes) -> None:
    try:
        send.send_nowait(message)
    except anyio.WouldBlock:
        send.close()  # the reader ends and the socket closes: the client reconnects afresh
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


def _pending(advisor_id: str, engine: Engine, runtime: Runtime) -> list[bytes]:
    state = engine.state
    messages = []
    for offer in state.offers.values():
        if offer.advisor_id != advisor_id:
            continue
        interaction = state.interactions.get(offer.interaction_id)
        messages.append(
            _ENCODE.encode(
                {
                    "id": None,
                    "seq": None,
                    "event": event_out(
                        OfferPending(
                            at=offer.made_at,
                            offer_id=offer.id,
                            interaction_id=offer.interaction_id,
                            advisor_id=advisor_id,
                            expires_at=offer.expires_at,
                        ),
                        runtime.zone,
                    ),
                    "interaction": None
                    if interaction is None
                    else view_of(interaction, runtime.zone),
                }
            )
        )
    return messages


def message_for(
    advisor_id: str, record: Record, engine: Engine | None, runtime: Runtime
) -> bytes | None:
    event = record.event
    if isinstance(event, NOT_PUSHED):
        return None
    about = getattr(event, "advisor_id", None)
    if isinstance(event, InteractionMoved):
        about = event.from_advisor  # the work taken from it (or its offer) tells it why
    if isinstance(event, MessageSent | MessageFailed | MessageBounced) and engine is not None:
        # What became of an answer reaches its author, even once the work is closed.
        message = engine.state.messages.get(event.message_id)
        about = None if message is None else message.author
    if about != advisor_id:
        if isinstance(event, AdvisorStateChanged) or engine is None:
            return None
        interaction_id = getattr(event, "interaction_id", None)
        interaction = (
            None if interaction_id is None else engine.state.interactions.get(interaction_id)
        )
        if interaction is None or interaction.advisor_id != advisor_id:
            return None
    shown = None
    if isinstance(event, OfferMade) and engine is not None:
        interaction = engine.state.interactions.get(event.interaction_id)
        if interaction is not None:
            shown = view_of(interaction, runtime.zone)
    body = {
        "id": record.id,
        "seq": record.seq,
        "event": event_out(event, runtime.zone),
        "interaction": shown,
    }
    return _ENCODE.encode(body)
