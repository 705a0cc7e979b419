"""What the API shows of an interaction, and how instants look at the edge.

The engine's instants are integer microseconds, UTC; a person or a program at the edge reads
ISO-8601 with the offset of the deployment's calendar (Europe/Paris), since contractual deadlines
are local. The view is stored in the journal beside the events, so an interaction that has left
the engine's live state reads the same as one still in it; the stored one (``KeptView``) also
keeps the digests of its personal data, which what the personal-data store holds is checked
against. Its ``external_id`` is the keyed digest the journal holds (see ``personal``).
"""

from __future__ import annotations

from datetime import tzinfo

import msgspec

from aiguillage.engine.instants import Instant, to_datetime
from aiguillage.engine.interactions import Interaction
from aiguillage.engine.messages import Message, MessageKind, MessageState
from aiguillage.engine.policies import Channel, Typology

__all__ = [
    "InteractionOut",
    "KeptView",
    "MessageView",
    "iso",
    "kept_view_of",
    "message_view",
    "personal_digests",
    "view_of",
]


class InteractionOut(msgspec.Struct, frozen=True, kw_only=True):
    """An interaction as the API answers it."""

    id: int
    channel: Channel
    source: str
    external_id: str
    status: str
    deadline: str
    """The SLA deadline in force, ISO-8601 with the calendar's offset."""
    raw_deadline: str | None = None
    """The deadline given at reception, which never moves; ``deadline`` is later when a wait
    for the principal was credited. Absent from views stored before it was shown."""
    received_at: str
    priority: int
    motive: str | None = None
    language: str = ""
    typology: Typology | None = None
    advisor_id: str | None = None
    """The advisor it is offered to or assigned to now."""
    handled_by: str | None = None
    """The advisor who last accepted it; kept once it is released or ended. Absent from views
    stored before it was shown."""
    offer_id: int | None = None
    responded_at: str | None = None
    within_sla: bool | None = None
    warned: bool = False
    breached: bool = False
    ended_at: str | None = None
    transfers: int = 0
    """How many times it was sent back to a queue by an advisor."""
    follows: int | None = None
    """The interaction of the same thread it follows (the customer wrote again after it
    ended); absent when it opened its thread, and in views stored before it was shown."""


class MessageView(msgspec.Struct, frozen=True, kw_only=True):
    """One message of an interaction's thread, without its text (the personal-data store has
    it, under ``digest``)."""

    id: int
    kind: MessageKind
    """``customer``, ``answer``, ``note`` (internal) or ``acknowledgement`` (of receipt)."""
    author: str | None
    """The advisor who wrote it; None for the customer's and the system's."""
    at: str
    state: MessageState
    """``received``, ``internal``; for what is sent: ``posted``, ``sent``, ``failed``,
    ``bounced``."""
    digest: str
    peer_id: str = ""
    """The peer's id of it (an e-mail's Message-ID, a post's id), once sent or received."""
    attempts: int = 0
    retry_at: str | None = None
    """When a failed send is tried again; None once it is sent or failed for good."""
    reason: str = ""
    """Why the last send failed, or why it bounced, as the peer said."""
    template: str = ""


def message_view(message: Message, zone: tzinfo) -> MessageView:
    """Return the view of one message of a thread."""
    return MessageView(
        id=message.id,
        kind=message.kind,
        author=message.author,
        at=iso(message.at, zone),
        state=message.state,
        digest=message.digest,
        peer_id=message.peer_id,
        attempts=message.attempts,
        retry_at=None if message.retry_at is None else iso(message.retry_at, zone),
        reason=message.reason,
        template=message.template,
    )


class KeptView(InteractionOut, frozen=True, kw_only=True):
    """The view the journal keeps of an interaction (its API view, read as ``InteractionOut``)."""

    personal_digests: tuple[str, ...] | None = None
    """The digests of its personal data the journal holds, the submission's first; ``None`` in
    a view written by an earlier version, which did not keep them."""
    content_digest: str = ""
    """The keyed digest of the submission's content (see ``sealing.content_digest``); empty in a
    view written by an earlier version."""
    messages: tuple[MessageView, ...] = ()
    """Its thread (empty in a view written before threads), so that it reads the same once
    the interaction has left the live state."""


def personal_digests(interaction: Interaction) -> tuple[str, ...]:
    """Return the digests of an interaction's personal data: the submission's, then the rest."""
    first = (interaction.personal_digest,) if interaction.personal_digest else ()
    return first + interaction.later_digests


def iso(instant: Instant, zone: tzinfo) -> str:
    """Return an instant as ISO-8601 with the offset it has in ``zone``."""
    return to_datetime(instant, zone).isoformat()


def view_of(interaction: Interaction, zone: tzinfo) -> InteractionOut:
    """Return the API's view of an interaction held by the engine."""
    return InteractionOut(
        id=interaction.id,
        channel=interaction.channel,
        source=interaction.source,
        external_id=interaction.external_id,
        status=interaction.status,
        deadline=iso(interaction.deadline, zone),
        raw_deadline=iso(interaction.raw_deadline, zone),
        received_at=iso(interaction.received_at, zone),
        priority=interaction.priority,
        motive=interaction.motive,
        language=interaction.language,
        typology=interaction.typology,
        advisor_id=interaction.advisor_id,
        handled_by=interaction.handled_by,
        offer_id=interaction.offer_id,
        responded_at=None
        if interaction.responded_at is None
        else iso(interaction.responded_at, zone),
        within_sla=interaction.within_sla,
        warned=interaction.warned,
        breached=interaction.breached,
        ended_at=None if interaction.ended_at is None else iso(interaction.ended_at, zone),
        transfers=interaction.transfers,
        follows=interaction.follows,
    )


def kept_view_of(
    interaction: Interaction, zone: tzinfo, messages: dict[int, Message] | None = None
) -> KeptView:
    """Return the view the journal keeps of an interaction held by the engine, with its
    thread (``messages``: the engine's messages by id)."""
    found = messages or {}
    return KeptView(
        **msgspec.structs.asdict(view_of(interaction, zone)),
        personal_digests=personal_digests(interaction),
        content_digest=interaction.content_digest,
        messages=tuple(message_view(found[i], zone) for i in interaction.messages if i in found),
    )
