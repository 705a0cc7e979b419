"""The policies the engine applies: calendar, channels and their SLA rules, skills, routing.

Policies are data. ``config.toml`` seeds them at the first start through a ``SetPolicies``
command; after that they live in the journal (``policies.set`` events), so replaying a journal
never depends on the configuration file as it is today. Every struct here is frozen and refuses
unknown fields, because the same types decode the configuration file.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Literal

import msgspec

__all__ = [
    "CHANNELS",
    "WEEKDAYS",
    "BusinessHours",
    "BusinessHoursSla",
    "CalendarPolicy",
    "Channel",
    "ChannelPolicy",
    "ElapsedSla",
    "MixingPolicy",
    "MotivePolicy",
    "Policies",
    "RelaxationStep",
    "RetentionPolicy",
    "RoutingPolicy",
    "SkillPolicy",
    "Sla",
    "SlaReading",
    "Typology",
    "Weekday",
    "WorkingDaysSla",
]

Channel = Literal["voice", "written", "social"]
CHANNELS: tuple[Channel, ...] = ("voice", "written", "social")

Typology = Literal["transfer", "simple", "complex"]

SlaReading = Literal["literal", "monotonic"]
"""How a business-hours SLA is read (see ``BusinessHoursSla``)."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Index i is ``date.weekday() == i``."""

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
Fraction = Annotated[float, msgspec.Meta(gt=0, le=1)]
SkillLevel = Annotated[int, msgspec.Meta(ge=1, le=5)]


class _Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class BusinessHours(_Policy, frozen=True):
    """When a service is open: the same hours on each open day, closed on public holidays.

    ``closes`` itself is outside the hours: with the defaults, 20:00:00 is closed.
    """

    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")
    opens: time = time(7, 0)
    closes: time = time(20, 0)
    closed_on_holidays: bool = True


class CalendarPolicy(_Policy, frozen=True):
    """The business calendar: time zone, opening hours, working days and public holidays.

    Public holidays come from the ``holidays`` package for ``country`` (and ``subdivision``),
    then ``extra_holidays`` are added and ``removed_holidays`` taken away (some employers work
    on Whit Monday). Working days (*jours ouvrés*) are ``working_days`` less public holidays.
    """

    timezone: str = "Europe/Paris"
    country: str = "FR"
    subdivision: str | None = None
    hours: BusinessHours = BusinessHours()
    working_days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    extra_holidays: tuple[date, ...] = ()
    removed_holidays: tuple[date, ...] = ()


class ElapsedSla(_Policy, frozen=True, tag="elapsed", tag_field="kind"):
    """The deadline is a fixed elapsed time after reception (voice: 180 s)."""

    seconds: PositiveInt = 180


class BusinessHoursSla(_Policy, frozen=True, tag="business_hours", tag_field="kind"):
    """The deadline depends on whether reception falls within business hours (social: 2 h / 4 h).

    Both durations are elapsed time, whatever the wall clock does across a daylight-saving change.
    ``reading`` says how the two combine:

    - ``literal`` (the tender's words): ``within_s`` after a reception in business hours,
      ``outside_s`` after one outside them. A message at 06:59 is then due at 10:59, after one
      received at 07:00 and due at 09:00.
    - ``monotonic``: as literal, but never due later than a message received after it; a
      message received shortly before the hours open (or close) is due when one received at
      that instant would be: at 06:59, 05:00 or 04:59, with hours from 07:00, the deadline is
      09:00, 09:00 and 08:59. The deadline then never decreases as the reception gets later.
    """

    within_s: PositiveInt = 2 * 3600
    outside_s: PositiveInt = 4 * 3600
    reading: SlaReading = "literal"


class WorkingDaysSla(_Policy, frozen=True, tag="working_days", tag_field="kind"):
    """The deadline is ``due_at`` local time on the N-th working day after the day of reception.

    The day of reception never counts, whatever the hour (written: 3 working days, 20:00).
    """

    days: PositiveInt = 3
    due_at: time = time(20, 0)


Sla = ElapsedSla | BusinessHoursSla | WorkingDaysSla


class RelaxationStep(_Policy, frozen=True):
    """After ``after_s`` seconds of waiting, widen who may take an interaction.

    ``level_drop`` lowers each required skill level (never below 1), counted from the original
    requirement; ``fallback`` replaces each skill by its skill's fallback group, at level 1.
    The interaction keeps its place in the queue: only who may take it changes.
    """

    after_s: PositiveInt
    level_drop: NonNegativeInt = 0
    fallback: bool = False


class ChannelPolicy(_Policy, frozen=True):
    """How one channel is served: its sources, SLA clock, targets, offers and relaxation."""

    sources: tuple[str, ...]
    sla: Sla
    target_share: Fraction = 0.8
    """Share of interactions that must meet the SLA (a placeholder until the contract's figure)."""
    penalty_eur: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    """Penalty per missed SLA, in euros; also weighs cross-channel routing decisions."""
    warning_fraction: Fraction = 0.8
    """A warning fires when this share of the time from reception to deadline has elapsed."""
    offer_timeout_s: PositiveInt = 20
    wrap_up_s: NonNegativeInt = 0
    hours: BusinessHours | None = None
    """Opening hours of this channel; the calendar's hours when absent."""
    refuse_when_closed: bool = False
    """Refuse new interactions outside opening hours (the phone line), with reason ``closed``."""
    pause_on_principal: tuple[Typology, ...] = ()
    """Typologies whose SLA clock may pause while waiting for the principal (see below)."""
    credit_principal_wait: bool = False
    """Whether the wait for the principal of a ``pause_on_principal`` typology is credited: the
    clock then pauses, and the deadline moves later by the opening hours the wait covered,
    added in opening hours (the channel's ``hours``, else the calendar's). Off, the clock runs
    on while the principal is consulted, since the tender does not say that it stops."""
    relaxation: tuple[RelaxationStep, ...] = ()
    default_priority: Annotated[int, msgspec.Meta(ge=0, le=9)] = 0
    short_abandon_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    """Work abandoned after waiting less than this is a short abandon (a wrong number, a caller
    who hung up at once): counted apart, and left out of the service level and the abandonment
    rate (see ``figures``). 0: none is left out. Only the figures read it; routing does not."""
    callback_target_s: NonNegativeInt = 0
    """A caller who waits may ask to be called back instead (``RequestCallback``): the callback
    is then due this long after it was asked for (never earlier than the call was), and it is
    offered only when that falls before the channel closes the same day. 0: no callback is
    offered. The callback's own target, reported apart from the call's."""
    callback_attempts: PositiveInt = 3
    """Calls made to reach the customer before an unanswered callback is closed
    (``callback_unanswered``)."""
    callback_retry_s: PositiveInt = 600
    """After an unanswered attempt, the callback waits this long before it is offered again."""


class SkillPolicy(_Policy, frozen=True):
    """One skill; ``fallback`` names the broader skill group accepted after relaxation."""

    label: str = ""
    fallback: str | None = None


class MotivePolicy(_Policy, frozen=True):
    """A motive (reason for contact) and the skill, at a minimum level, that serves it."""

    skill: str
    level: SkillLevel = 1
    label: str = ""


class MixingPolicy(_Policy, frozen=True):
    """How an advisor mixes channels.

    A channel listed in ``exclusive`` takes the whole advisor (by default a call): it is offered
    only to an advisor holding nothing, and while held nothing else is offered. Other channels run
    side by side up to each channel's capacity and ``max_concurrent`` in all.
    """

    exclusive: tuple[Channel, ...] = ("voice",)
    max_concurrent: PositiveInt | None = None


class RoutingPolicy(_Policy, frozen=True):
    """Routing options."""

    strategy: str = "deadline"
    """Named strategy: ``deadline`` (penalty-weighted urgency across channels) or ``fifo``."""
    max_missed_offers: PositiveInt = 2
    """Consecutive offers left to time out before the advisor is set ``not_ready``."""
    reoffer_after_s: NonNegativeInt = 30
    """A declined or missed interaction is not offered to the same advisor before this delay."""
    mixing: MixingPolicy = MixingPolicy()


class RetentionPolicy(_Policy, frozen=True):
    """How long ended work stays in the live state, so memory stays flat over a year.

    ``live_after_close_s`` after an interaction ends (closed, abandoned, transferred out) it is
    forgotten: commands about it are refused as unknown, a new submission with its source and
    external id creates a new interaction, and the journal keeps its whole history. Offers that
    ended that long ago are forgotten too; a late answer to one is then an unknown offer.
    """

    live_after_close_s: Annotated[int, msgspec.Meta(ge=60)] = 86400


class Policies(_Policy, frozen=True):
    """Everything the engine applies, as one journaled value."""

    calendar: CalendarPolicy = CalendarPolicy()
    channels: dict[Channel, ChannelPolicy] = {}
    skills: dict[str, SkillPolicy] = {}
    motives: dict[str, MotivePolicy] = {}
    languages: tuple[str, ...] = ("fr",)
    default_language: str = "fr"
    routing: RoutingPolicy = RoutingPolicy()
    retention: RetentionPolicy = RetentionPolicy()
