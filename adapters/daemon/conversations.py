"""Conversations as the daemon serves them: an interaction's thread with its texts, and what
a channel is given to send.

The engine holds each message's metadata and the digest of its text; the text is a piece of
the personal-data store (``{"message": text}`` for what advisors write, the submission's own
piece for a customer's message), served only under a digest the journal holds for that
interaction, like every other piece (``stores.sealing``). An erased text reads as ``None``:
the thread keeps its shape, its instants and its states, which the reports and disputes need.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiguillage.adapters.channels.outgoing import Outgoing
from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.views import KeptView, MessageView, message_view
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import UnknownInteraction
from aiguillage.engine.messages import Message

__all__ = ["MessageOut", "outgoing", "text_of", "thread"]


class MessageOut(MessageView, frozen=True, kw_only=True):
    """One message of a thread as the API shows it: its view and its text."""

    text: str | None
    """None once erased (or while the personal-data store does not hold it)."""


def text_of(piece: dict[str, Any] | None) -> str | None:
    """Return the text of a message's piece: an advisor's message, or a customer's submission."""
    if piece is None:
        return None
    text = piece.get("message", piece.get("text"))
    return text if isinstance(text, str) else None


async def thread(runtime: Runtime, interaction_id: int) -> list[MessageOut]:
    """Return an interaction's thread, oldest first, with the texts still held.

    ``UnknownInteraction`` when the journal has never had it.
    """
    zone = runtime.zone

    def live(engine: Engine) -> list[MessageView] | None:
        found = engine.state.interactions.get(interaction_id)
        if found is None:
            return None
        messages = engine.state.messages
        return [message_view(messages[i], zone) for i in found.messages if i in messages]

    views = await runtime.read(live)
    if views is None:
        body = await runtime.stored_body(interaction_id)
        if body is None:
            raise UnknownInteraction(f"no interaction {interaction_id}")
        views = list(msgspec.json.decode(body, type=KeptView).messages)
    pieces = await runtime.pieces(interaction_id) if views else {}
    return [
        MessageOut(**msgspec.structs.asdict(view), text=text_of(pieces.get(view.digest)))
        for view in views
    ]


async def outgoing(
    runtime: Runtime, message_id: int, idempotency_key: str
) -> tuple[Outgoing, Message] | None:
    """Return what a channel is given to send a message, read from the engine now, with the
    engine's message; None when it is no longer waiting to be sent (sent meanwhile)."""

    def waiting(engine: Engine) -> tuple[Message, str, str, str, list[str]] | None:
        state = engine.state
        message = state.outbox.get(message_id)
        if message is None:
            return None
        interaction = state.interactions[message.interaction_id]
        customers = [
            state.messages[i].digest
            for i in interaction.messages
            if i in state.messages and state.messages[i].kind == "customer"
        ]
        return message, interaction.channel, interaction.source, interaction.thread, customers

    found = await runtime.read(waiting)
    if found is None:
        return None
    message, channel, source, thread_key, customers = found
    pieces = await runtime.pieces(message.interaction_id)
    text = text_of(pieces.get(message.digest))
    if text is None:
        raise Unavailable(f"the text of message {message_id} is not readable now")
    if message.kind not in ("answer", "acknowledgement"):  # pragma: no cover - the engine's rule
        return None
    received = tuple(pieces[d] for d in customers if d in pieces)
    prepared = Outgoing(
        message_id=message.id,
        interaction_id=message.interaction_id,
        kind=message.kind,
        text=text,
        idempotency_key=idempotency_key,
        attempt=message.attempts + 1,
        channel=channel,
        source=source,
        thread=thread_key,
        received=received,
        template=message.template,
    )
    return prepared, message
