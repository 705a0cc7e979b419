"""Messages: the thread of a conversation, as the engine holds it.

An interaction holds a thread of messages: what the customer wrote (``customer``), what an
advisor answered (``answer``), an advisor's internal ``note``, and the system's
``acknowledgement`` of receipt. The engine numbers them, keeps their order and their delivery
state; their texts stay outside the journal, sealed in the personal store, and the engine only
carries each one's ``digest``.

A message's ``state`` follows from its kind and what the channel reported::

    customer         received
    note             internal
    answer, ack      posted ──> sent ──> bounced
                        │        ↑
                        └──> failed (retry_at set: will retry) ──> failed (retry_at None: gave up)

The answers and acknowledgements still to be delivered (``posted``, or ``failed`` with a retry
to come) make the state's ``outbox``, which the channel's outbox worker reads.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .instants import Instant

__all__ = ["Message", "MessageKind", "MessageState", "in_outbox"]

MessageKind = Literal["customer", "answer", "note", "acknowledgement"]
MessageState = Literal["received", "posted", "sent", "failed", "bounced", "internal"]


class Message(msgspec.Struct, kw_only=True, gc=False):
    """One message of a thread; ``author`` is the advisor who wrote it (``None``: the customer
    or the system), ``peer_id`` the id the peer gave it (an e-mail's Message-ID, a post's id),
    ``external_id`` the keyed external id a customer message was submitted with."""

    id: int
    interaction_id: int
    kind: MessageKind
    author: str | None
    at: Instant
    digest: str
    """Salted digest of the sealed text in the personal store: the engine only carries it."""
    state: MessageState
    peer_id: str = ""
    attempts: int = 0
    """Failed delivery attempts so far."""
    retry_at: Instant | None = None
    """When a failed delivery is tried again; ``None`` once delivered or given up."""
    reason: str = ""
    """Why the last delivery failed or bounced."""
    template: str = ""
    external_id: str = ""


def in_outbox(message: Message) -> bool:
    """Return whether a message is still to be delivered: posted, or failed with a retry."""
    return message.state == "posted" or (message.state == "failed" and message.retry_at is not None)
