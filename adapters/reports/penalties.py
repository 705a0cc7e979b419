"""The month's penalty statement: the contract's rules applied to the month's figures, no I/O.

``penalty_statement(figures, rules)`` returns a ``PenaltyStatement``: per channel, a line for
its breaches (the amount per breach times their count, with each breached interaction's id) and
a line for a service level under the monthly target (the amount per point times the points
under it, with the figures the service level was computed from) and, where the contract sets an
amount, a line for its transfers (with each transferred interaction's id); then a line for the
service's unavailability, per started hour of it in opening hours beyond the share allowed (with
the outages behind it); where a cap is reached, a line taking off what exceeds it: a channel's
cap after that channel's lines, the month's cap last. Amounts are whole cents, each line rounded
to the nearest cent; the total is the sum of the lines, caps included, so every euro of it can
be checked line by line.
Work an accepted exemption excuses (``reports.exemptions``) is charged no breach and left out
of the service level; each line names what it left out (``exempted``), and the statement lists
the claims.

``rules_of(settings, policies)`` turns ``[penalties]`` (euros) into ``PenaltyRules`` (cents),
which the statement carries, so that it can be recomputed without the operator's configuration.
"""

from __future__ import annotations

import math

import msgspec

from aiguillage.adapters.config.reports import PenaltySettings
from aiguillage.adapters.reports.exemptions import ClaimOut, counts_without, excused_in
from aiguillage.adapters.reports.month_availability import Availability
from aiguillage.adapters.reports.month_figures import Figures, JournalRange, MonthFigures
from aiguillage.engine import figures as definitions
from aiguillage.engine.policies import CHANNELS, Policies

__all__ = [
    "ChannelRules",
    "PenaltyLine",
    "PenaltyRules",
    "PenaltyStatement",
    "penalty_statement",
    "rules_of",
]


class ChannelRules(msgspec.Struct, kw_only=True):
    """One channel's penalties, in cents."""

    breach_cents: int = 0
    point_cents: int = 0
    """Per point (1 %) of service level under the target, pro rata."""
    cap_cents: int | None = None
    transfer_cents: int = 0
    """Per interaction transferred."""


class PenaltyRules(msgspec.Struct, kw_only=True):
    """The contract's penalties, as the statement applied them."""

    channels: dict[str, ChannelRules] = {}
    cap_cents: int | None = None
    unavailable_hour_cents: int = 0
    """Per started hour of unavailability beyond ``allowed_unavailable_share``."""
    allowed_unavailable_share: float = 0.0


class PenaltyLine(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of the statement, with what it rests on.

    ``kind``: ``breaches`` (``count`` breaches at ``unit_cents``, ``interactions`` their ids),
    ``service_level`` (``points`` under ``target``, at ``unit_cents`` a point, ``figures`` what
    the service level was computed from), ``transfers`` (``count`` interactions transferred at
    ``unit_cents``, ``interactions`` their ids), ``unavailability`` (``count`` started hours at
    ``unit_cents``; ``figures``: the month's opening seconds, those the service was down and
    those allowed; ``periods``: each outage, ``start/end``), ``channel_cap`` or ``cap`` (what
    exceeds ``cap_cents``, taken off: a negative amount).
    """

    kind: str
    channel: str | None = None
    amount_cents: int
    unit_cents: int | None = None
    count: int | None = None
    interactions: list[int] = []
    service_level: float | None = None
    target: float | None = None
    points: float | None = None
    figures: dict[str, int] = {}
    cap_cents: int | None = None
    exempted: list[int] = []
    """The channel's interactions an accepted exemption excuses, left out of this line: its
    exempted breaches (``breaches``), or its exempted work (``service_level``)."""
    periods: list[str] = []


class PenaltyStatement(msgspec.Struct, kw_only=True):
    """The penalties of one month, from its figures."""

    month: str
    zone: str
    start: str
    end: str
    complete: bool
    """Whether the journal reaches past the month's end (else the statement is so far)."""
    rules: PenaltyRules
    lines: list[PenaltyLine]
    total_cents: int
    """The sum of ``lines``' amounts."""
    journal: JournalRange
    exemptions: list[ClaimOut] = []
    """The exemption claims meeting the month or excusing its work, pending, accepted or
    refused: only accepted ones are applied (``reports.exemptions``)."""
    exempted: list[int] = []
    """The interactions of the month the accepted claims excuse, by id."""


def rules_of(settings: PenaltySettings, policies: Policies) -> PenaltyRules:
    """The rules of ``[penalties]`` in cents; a channel's breach amount defaults to its
    ``penalty_eur``."""
    channels: dict[str, ChannelRules] = {}
    for channel in CHANNELS:
        given = settings.channels.get(channel)
        policy = policies.channels.get(channel)
        default = policy.penalty_eur if policy is not None else 0.0
        breach = given.breach_eur if given is not None and given.breach_eur is not None else default
        channels[channel] = ChannelRules(
            breach_cents=_cents(breach),
            point_cents=_cents(given.point_eur) if given is not None else 0,
            cap_cents=_cents(given.cap_eur)
            if given is not None and given.cap_eur is not None
            else None,
            transfer_cents=_cents(given.transfer_eur) if given is not None else 0,
        )
    cap = None if settings.cap_eur is None else _cents(settings.cap_eur)
    return PenaltyRules(
        channels=channels,
        cap_cents=cap,
        unavailable_hour_cents=_cents(settings.unavailable_hour_eur),
        allowed_unavailable_share=settings.allowed_unavailable_share,
    )


def penalty_statement(figures: MonthFigures, rules: PenaltyRules) -> PenaltyStatement:
    """Apply ``rules`` to a month's figures."""
    lines: list[PenaltyLine] = []
    for row in figures.channels:
        channel_rules = rules.channels.get(row.channel, ChannelRules())
        channel_lines = _channel_lines(row, figures, channel_rules)
        lines.extend(channel_lines)
        cap = channel_rules.cap_cents
        charged = sum(line.amount_cents for line in channel_lines)
        if cap is not None and charged > cap:
            lines.append(
                PenaltyLine(
                    kind="channel_cap",
                    channel=row.channel,
                    amount_cents=cap - charged,
                    cap_cents=cap,
                )
            )
    if figures.availability is not None:
        lines.extend(_unavailability_lines(figures.availability, rules))
    charged = sum(line.amount_cents for line in lines)
    if rules.cap_cents is not None and charged > rules.cap_cents:
        lines.append(
            PenaltyLine(
                kind="cap", amount_cents=rules.cap_cents - charged, cap_cents=rules.cap_cents
            )
        )
    return PenaltyStatement(
        month=figures.month,
        zone=figures.zone,
        start=figures.start,
        end=figures.end,
        complete=figures.complete,
        rules=rules,
        lines=lines,
        total_cents=sum(line.amount_cents for line in lines),
        journal=figures.journal,
        exemptions=figures.exemptions.claims,
        exempted=figures.exemptions.interactions,
    )


def _channel_lines(row: Figures, figures: MonthFigures, rules: ChannelRules) -> list[PenaltyLine]:
    lines = []
    excused = excused_in(figures.exemptions, row.channel)
    spared = set(excused.interactions) if excused is not None else set()
    breached = [
        b.interaction_id
        for b in figures.breaches
        if b.channel == row.channel and b.interaction_id not in spared
    ]
    spared_breaches = excused.breaches if excused is not None else []
    if (breached or spared_breaches) and rules.breach_cents:
        lines.append(
            PenaltyLine(
                kind="breaches",
                channel=row.channel,
                amount_cents=len(breached) * rules.breach_cents,
                unit_cents=rules.breach_cents,
                count=len(breached),
                interactions=breached,
                exempted=spared_breaches,
            )
        )
    counts = counts_without(row, excused)
    level, target = row.service_level, row.target
    if excused is not None:
        level = definitions.service_level(
            counts["answered_within"],
            counts["answered"],
            counts["abandoned"],
            counts["short_abandons"],
            callbacks_within=counts["callbacks_within"],
            callbacks=counts["callbacks_requested"],
        )
    if rules.point_cents and level is not None and target is not None and level < target:
        points = (target - level) * 100
        lines.append(
            PenaltyLine(
                kind="service_level",
                channel=row.channel,
                amount_cents=_round(points * rules.point_cents),
                unit_cents=rules.point_cents,
                service_level=level,
                target=target,
                points=points,
                figures={name: counts[name] for name in _SERVICE_LEVEL_FIGURES},
                exempted=sorted(spared),
            )
        )
    transferred = [t.interaction_id for t in figures.transfers if t.channel == row.channel]
    if transferred and rules.transfer_cents:
        lines.append(
            PenaltyLine(
                kind="transfers",
                channel=row.channel,
                amount_cents=len(transferred) * rules.transfer_cents,
                unit_cents=rules.transfer_cents,
                count=len(transferred),
                interactions=transferred,
            )
        )
    return lines


_SERVICE_LEVEL_FIGURES = (
    "answered_within",
    "answered",
    "abandoned",
    "short_abandons",
    "callbacks_within",
    "callbacks_requested",
)
"""What a service-level line shows it was computed from, in this order."""


def _unavailability_lines(shown: Availability, rules: PenaltyRules) -> list[PenaltyLine]:
    """A line per started hour of unavailability in opening hours beyond the share allowed."""
    allowed_s = rules.allowed_unavailable_share * shown.open_s
    beyond_s = shown.down_open_s - allowed_s
    if not rules.unavailable_hour_cents or beyond_s <= 0:
        return []
    hours = math.ceil(beyond_s / 3600)
    return [
        PenaltyLine(
            kind="unavailability",
            amount_cents=hours * rules.unavailable_hour_cents,
            unit_cents=rules.unavailable_hour_cents,
            count=hours,
            figures={
                "open_s": round(shown.open_s),
                "down_open_s": round(shown.down_open_s),
                "allowed_s": round(allowed_s),
            },
            periods=[f"{o.start}/{o.end}" for o in shown.outages if o.open_seconds > 0],
        )
    ]


def _cents(euros: float) -> int:
    return _round(euros * 100)


def _round(value: float) -> int:
    """To the nearest whole number, halves up (as amounts in euros are rounded to the cent)."""
    return math.floor(value + 0.5)
