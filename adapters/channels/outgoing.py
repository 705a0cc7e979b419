"""What a channel is asked to send, and how it says it could not.

The daemon keeps an outbox for every channel that sends: the answers and acknowledgements the
engine holds for the interactions of the channel's ``sources``, journaled (``message.posted``)
before anything leaves. For each, it calls the channel's ``send`` with an ``Outgoing``, then
journals the outcome: ``message.sent`` with the peer's id (``Sent``), or ``message.failed``
(``SendFailed``), retried with back-off until ``[outbox] give_up_after_s`` has passed since the
answer was posted. A message sent and not yet journaled as sent when the daemon dies is sent
once more after the restart, with the same ``idempotency_key``: a channel passes it to a peer
that deduplicates on one (an e-mail's Message-ID, an API's idempotency header), so the customer
sees it once.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import msgspec

__all__ = ["NeedsReauthorisation", "Outgoing", "SendFailed", "Sent"]


class Outgoing(msgspec.Struct, frozen=True, kw_only=True):
    """One message to send: what it is, where it goes, and its text."""

    message_id: int
    interaction_id: int
    kind: Literal["answer", "acknowledgement"]
    text: str
    idempotency_key: str
    """The same at every attempt for this message, and unique to it in the deployment."""
    attempt: int
    """1 at the first attempt, 2 at the first retry, and so on."""
    channel: str
    source: str
    thread: str
    """The conversation key the channel gave at submission (empty when none)."""
    received: tuple[dict[str, Any], ...]
    """The personal data of each customer message of the interaction, oldest first, as the
    channel submitted it (addresses, subject, the peer's ids) with its ``external_id`` as
    given: what a channel needs to address the answer and to thread it (In-Reply-To)."""
    template: str = ""
    """The template the advisor started from, if any (its name)."""


class Sent(NamedTuple):
    """A message the peer accepted."""

    peer_id: str = ""
    """The peer's id of what it accepted (a Message-ID, a post id), journaled with it."""
    evidence: bytes = b""
    """The bytes sent as the peer took them (the whole mail, the API request), kept in the
    personal-data store with the interaction (erasable, and purged with it): the evidence a
    dispute over the answer needs."""


class SendFailed(Exception):
    """The peer did not take the message: ``reason`` is journaled and shown to the advisor.

    ``permanent``: retrying cannot help (an address that does not exist, a conversation the
    network closed); the message fails at once, without waiting for ``give_up_after_s``.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class NeedsReauthorisation(SendFailed):
    """The peer refused the channel's credentials: an operator must authorise it again.

    The message is retried like any failure; the channel's health says so until a send
    succeeds (``/readyz``, the metrics).
    """
