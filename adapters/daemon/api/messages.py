"""The conversation routes: an interaction's thread, and the advisor's answers and notes.

``GET /v1/interactions/{id}/messages`` reads the thread (the customer's messages, the answers,
the notes, the acknowledgements), with each answer's sending state; ``POST`` adds an answer,
or an internal note (``"internal": true``), by the advisor holding the work. An answer is
journaled before it leaves (``daemon.outbox``); the first answer of a written or social
interaction is its first response, which stops the SLA clock. A call is answered by picking it
up (``…/response``), not here.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post

from aiguillage.adapters.channels.events_out import event_out
from aiguillage.adapters.daemon.api.models import BodyIn
from aiguillage.adapters.daemon.api.routes import (
    InvalidField,
    acting_advisor,
    reader_of_work,
    runtime_of,
)
from aiguillage.adapters.daemon.api.templates import fill
from aiguillage.adapters.daemon.conversations import MessageOut, thread
from aiguillage.engine.commands import PostMessage
from aiguillage.engine.events import MessagePosted

__all__ = ["MESSAGE_ROUTES", "MessageIn", "MessagesOut", "PostedOut"]

MAX_TEXT = 100_000
"""Characters in one answer or note, at most."""


class MessageIn(BodyIn, kw_only=True):
    """An answer to the customer, or an internal note."""

    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] = ""
    """What the customer reads (or, for a note, the team). Personal data: kept in the erasable
    store, its digest in the journal."""
    template: Annotated[str, msgspec.Meta(max_length=200)] = ""
    """The name of the template it was written from, if any (``GET /v1/templates``); with no
    ``text``, the template filled in for this interaction is the text."""
    internal: bool = False
    """A note for the team: never sent, and it stops no clock."""
    advisor_id: str | None = None
    """A supervisor acting for an advisor names it; an advisor's own token says who it is."""


class MessagesOut(msgspec.Struct, frozen=True, kw_only=True):
    interaction_id: int
    messages: list[MessageOut]


class PostedOut(msgspec.Struct, frozen=True, kw_only=True):
    message: MessageOut
    events: list[dict[str, Any]]


@get(
    "/v1/interactions/{interaction_id:int}/messages",
    summary="Read an interaction's thread",
    tags=["conversations"],
)
async def read_messages(request: Request[Any, Any, Any], interaction_id: int) -> MessagesOut:
    """The thread, oldest first: for the advisor holding the work, staff and integrators. A
    text erased (GDPR) reads as null; the rest of the thread stays."""
    runtime = await reader_of_work(request, interaction_id, "the thread")
    return MessagesOut(
        interaction_id=interaction_id, messages=await thread(runtime, interaction_id)
    )


@post(
    "/v1/interactions/{interaction_id:int}/messages",
    summary="Answer the customer, or add a note",
    tags=["conversations"],
    status_code=201,
)
async def post_message(
    request: Request[Any, Any, Any], interaction_id: int, data: MessageIn
) -> PostedOut:
    """Add an answer (sent by the interaction's channel) or an internal note to the thread."""
    advisor_id = await acting_advisor(request, interaction_id, data.advisor_id)
    runtime = runtime_of(request)
    text = data.text
    if data.template and all(t.name != data.template for t in runtime.loaded.templates):
        detail = f"no template {data.template!r}; GET /v1/templates lists them"
        raise InvalidField("template", detail)
    if not text.strip():
        if not data.template:
            raise InvalidField("text", "write the answer's text, or name a template")
        text = await fill(runtime, interaction_id, data.template)
    command = PostMessage(
        interaction_id=interaction_id,
        advisor_id=advisor_id,
        kind="note" if data.internal else "answer",
        digest="",
        template=data.template,
    )
    events = await runtime.execute(command, {"message": text})
    posted = next(event for event in events if isinstance(event, MessagePosted))
    messages = await thread(runtime, interaction_id)
    message = next(m for m in messages if m.id == posted.message_id)
    return PostedOut(message=message, events=[event_out(event, runtime.zone) for event in events])


MESSAGE_ROUTES = [read_messages, post_message]
