"""The API's request and response bodies, as msgspec Structs (validated and documented).

Requests forbid unknown fields: a misspelt ``prority`` is a 400 naming it, not a silently
ignored wish. Datetimes must carry a UTC offset; the handlers refuse naive ones by field name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from aiguillage.adapters.stores.views import InteractionOut
from aiguillage.engine.policies import Channel, Typology

__all__ = [
    "AdvisorIn",
    "AdvisorOut",
    "AdvisorPage",
    "AdvisorPatch",
    "ChannelQueue",
    "DeclineIn",
    "ErrorOut",
    "EventPage",
    "InteractionPage",
    "MoveIn",
    "PriorityIn",
    "Queues",
    "StateIn",
    "SubmitIn",
    "TicketOut",
    "TransferIn",
    "TransferOutIn",
    "WorkIn",
]

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_Level = Annotated[int, msgspec.Meta(ge=1, le=5)]
_Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class BodyIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class SubmitIn(BodyIn, kw_only=True):
    """A new interaction from a channel: a call in the PBX queue, a complaint, a message."""

    channel: Channel
    source: _Id
    external_id: _Id
    """The id the source gave it (the call id, the e-mail's Message-ID, the post id): a
    resubmission with the same ``(source, external_id)`` creates nothing. It may name a
    person: the journal holds a keyed digest of it, and the erasable store the id itself."""
    received_at: datetime | None = None
    """ISO-8601 with a UTC offset; defaults to now."""
    motive: str | None = None
    language: str | None = None
    typology: Typology | None = None
    priority: Annotated[int, msgspec.Meta(ge=0, le=9)] | None = None
    skills: dict[str, _Level] = {}
    customer: dict[str, Any] | None = None
    """Personal data: kept in the erasable store, never in the journal."""
    subject: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    text: str | None = None


class StateIn(BodyIn, kw_only=True):
    state: Literal["offline", "available", "not_ready"]
    """Not ``wrap_up``: the engine puts an advisor in it when work ends, for the channel's
    ``wrap_up_s``, and out of it."""
    reason: str = ""
    """One of the codes of ``[reasons] not_ready`` in config.toml (``lunch``), or none."""


class WorkIn(BodyIn, kw_only=True):
    """A supervisor acting for an advisor names it; an advisor's own token says who it is."""

    advisor_id: str | None = None


class CloseIn(WorkIn, kw_only=True):
    reason: str = ""
    """One of the codes of ``[reasons] close`` in config.toml (``no_answer_needed`` for a
    thank-you or spam that needs no answer), or none."""
    motive: str | None = None
    """The final motive, one of ``[motives]``, when the work was about something else than it
    was submitted for; none keeps the interaction's."""


class DeclineIn(BodyIn, kw_only=True):
    reason: str = ""
    """One of the codes of ``[reasons] decline`` in config.toml (``busy``), or none."""


class TransferIn(BodyIn, kw_only=True):
    advisor_id: str | None = None
    channel: Channel | None = None
    motive: str | None = None
    skills: dict[str, _Level] | None = None
    note: str = ""
    """Personal data: kept in the erasable store, never in the journal."""
    to_advisor: str | None = None
    """The advisor offered the work first, when ready for it (not the one transferring it)."""


class PriorityIn(BodyIn, kw_only=True):
    """A supervisor gives waiting (or offered) work another priority."""

    priority: Annotated[int, msgspec.Meta(ge=0, le=9)]
    reason: _Code
    """One of the codes of ``[reasons] steer`` in config.toml (``urgent``)."""


class MoveIn(BodyIn, kw_only=True):
    """A supervisor sends queued, offered or held work back to its place in the queue."""

    to_advisor: str | None = None
    """The advisor offered the work first, when ready for it."""
    channel: Channel | None = None
    motive: str | None = None
    skills: dict[str, _Level] | None = None
    reason: _Code
    """One of the codes of ``[reasons] steer`` in config.toml (``rebalance``)."""
    note: str = ""
    """Personal data, like a transfer's note: kept in the erasable store, never in the
    journal."""


class TransferOutIn(BodyIn, kw_only=True):
    advisor_id: str | None = None
    party: _Id
    """Who takes the work over; personal data, kept like a transfer's note."""


class AdvisorIn(BodyIn, kw_only=True):
    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$", max_length=100)]
    name: str = ""
    skills: dict[str, _Level] = {}
    languages: tuple[str, ...] = ()
    capacity: dict[Channel, Annotated[int, msgspec.Meta(ge=0, le=50)]] = {}


class AdvisorPatch(BodyIn, kw_only=True):
    name: str | None = None
    skills: dict[str, _Level] | None = None
    languages: tuple[str, ...] | None = None
    capacity: dict[Channel, Annotated[int, msgspec.Meta(ge=0, le=50)]] | None = None


class AdvisorOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    state: str
    reason: str
    skills: dict[str, int]
    languages: tuple[str, ...]
    capacity: dict[Channel, int]
    load: dict[Channel, int]
    holding: list[int]
    offers: list[int]
    since: str | None = None
    """When it entered its state; ``null`` before any change was journaled."""
    wrap_until: str | None = None
    """In ``wrap_up``: when it ends."""


class AdvisorPage(msgspec.Struct, kw_only=True):
    advisors: list[AdvisorOut]
    next_after: str | None
    """Pass it as ``after`` for the next page; ``null`` when this page ends the list."""


class InteractionPage(msgspec.Struct, kw_only=True):
    interactions: list[InteractionOut]
    next_after: int | None
    """Pass it as ``after`` for the next page; ``null`` when this page ends the list."""


class ChannelQueue(msgspec.Struct, kw_only=True):
    waiting: int
    oldest_wait_s: float | None
    estimated_wait_s: float | None
    """Mean wait of the last (up to 50) interactions an advisor accepted since the start."""
    service_level_today: float | None
    """Today's (local day) service level, as ``engine.figures.service_level`` defines it: short
    abandons left out; the same figure as the wall's."""
    target_share: float
    advisors: dict[str, int]
    """Advisors able to take this channel, by state."""


class Queues(msgspec.Struct, kw_only=True):
    at: str
    channels: dict[str, ChannelQueue]


class EventPage(msgspec.Struct, kw_only=True):
    events: list[dict[str, Any]]
    next_after: int
    """Pass it as ``after`` to read on; equal to the request's when nothing new."""


class TicketOut(msgspec.Struct, kw_only=True):
    ticket: str
    expires_in_s: int
    url: str


class ErrorOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    error: str
    """A short stable code: invalid_request, unauthorized, forbidden, not_found, conflict…"""
    detail: str
    field: str | None = None
    """The request field at fault, as a path (``received_at``, ``customer.phone``)."""
    leader: str | None = None
    """On a 503 from a standby: the address of the daemon that leads (serves) now."""
