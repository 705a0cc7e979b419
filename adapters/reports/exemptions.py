"""Exemptions in the reports: which claims a month shows, and which of its interactions they excuse.

``Claims`` follows the journal's ``exemption.claimed`` and ``exemption.decided`` events (fed by
the month's reader, in journal order) and keeps each claim as it stands at the end of the
records read: a claim decided after the month but before the report still counts, as the report
is computed from the journal up to its head, and ``report verify`` reads the same range.

An interaction counted in a month is exempted when its deadline (the instant its breach would
fall at) lies in an accepted period ``[from, until)`` that covers its channel: it is neither a
breach nor in the service level the penalties apply to, and is listed by id. A pending claim is
shown as pending and applied to nothing; a refused one is shown as refused and applied to
nothing. The month's report keeps its figures as they happened (``channels``); what the exempted
work counted for is in ``MonthExemptions.channels``, which the penalty statement takes off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from typing import Any, Protocol, TypeVar

import msgspec

from aiguillage.engine.events import ExemptionClaimed, ExemptionDecided
from aiguillage.engine.instants import Instant, to_datetime
from aiguillage.engine.policies import CHANNELS

__all__ = [
    "COUNTS",
    "EXEMPTION_EVENTS",
    "Claim",
    "ClaimOut",
    "Claims",
    "Excused",
    "MonthExemptions",
    "counts_without",
    "excused_in",
    "month_exemptions",
]

EXEMPTION_EVENTS = (ExemptionClaimed, ExemptionDecided)


class ClaimOut(msgspec.Struct, kw_only=True):
    """One claim whose period meets the month, as the report shows it."""

    id: int
    start: str
    end: str
    """ISO-8601 with the zone's offset; the period is ``[start, end)``."""
    channels: list[str]
    """The channels it covers; empty: every channel."""
    status: str
    """``pending``, ``accepted`` or ``refused``: only an accepted claim is applied."""
    reason: str
    claimed_by: str
    claimed_at: str
    decision_reason: str = ""
    decided_by: str = ""
    decided_at: str | None = None


class Excused(msgspec.Struct, kw_only=True):
    """What one channel's exempted interactions counted for in the month's figures: the
    penalty statement takes these off the channel's before it computes the service level."""

    channel: str
    interactions: list[int]
    received: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    callbacks_requested: int = 0
    callbacks_within: int = 0
    breaches: list[int] = []
    """The exempted interactions that breached: breaches not charged."""

    @classmethod
    def of(cls, row: Any, interactions: list[int], breaches: list[int]) -> Excused:
        """Take the counts of a channel's row of figures (``month_figures.Figures``)."""
        return cls(
            channel=row.channel,
            interactions=interactions,
            breaches=breaches,
            **{name: getattr(row, name) for name in COUNTS},
        )


COUNTS = (
    "received",
    "answered",
    "answered_within",
    "abandoned",
    "short_abandons",
    "callbacks_requested",
    "callbacks_within",
)
"""The counts of a row the service level is computed from (``engine.figures.service_level``)."""


class MonthExemptions(msgspec.Struct, kw_only=True):
    """The claims whose period meets a month or that excuse work counted in it (work due in an
    earlier month, settled in this one), and what the accepted ones excuse in it."""

    claims: list[ClaimOut] = []
    interactions: list[int] = []
    """The exempted interactions counted in the month, by id."""
    channels: list[Excused] = []
    """Per channel that has exempted interactions, what they counted for."""


class Claim(msgspec.Struct, kw_only=True):
    """A claim as the journal tells it so far."""

    id: int
    start: Instant
    end: Instant
    channels: tuple[str, ...]
    reason: str
    claimed_by: str
    claimed_at: Instant
    status: str = "pending"
    decision_reason: str = ""
    decided_by: str = ""
    decided_at: Instant | None = None

    def excuses(self, channel: str, deadline: Instant) -> bool:
        """Return whether this claim, accepted, excuses work of a channel due at ``deadline``."""
        return (
            self.status == "accepted"
            and self.start <= deadline < self.end
            and (not self.channels or channel in self.channels)
        )

    def out(self, zone: tzinfo) -> ClaimOut:
        return ClaimOut(
            id=self.id,
            start=_iso(self.start, zone),
            end=_iso(self.end, zone),
            channels=list(self.channels),
            status=self.status,
            reason=self.reason,
            claimed_by=self.claimed_by,
            claimed_at=_iso(self.claimed_at, zone),
            decision_reason=self.decision_reason,
            decided_by=self.decided_by,
            decided_at=None if self.decided_at is None else _iso(self.decided_at, zone),
        )


class Claims:
    """Every claim read so far, by id."""

    def __init__(self) -> None:
        self.by_id: dict[int, Claim] = {}

    def read(self, event: ExemptionClaimed | ExemptionDecided) -> None:
        if isinstance(event, ExemptionClaimed):
            self.by_id[event.exemption_id] = Claim(
                id=event.exemption_id,
                start=event.start,
                end=event.end,
                channels=tuple(event.channels),
                reason=event.reason,
                claimed_by=_who(event.by, event.role),
                claimed_at=event.at,
            )
            return
        claim = self.by_id.get(event.exemption_id)
        if claim is not None and claim.status == "pending":
            claim.status = event.decision
            claim.decision_reason = event.reason
            claim.decided_by = _who(event.by, event.role)
            claim.decided_at = event.at

    def shown(self, start: Instant, end: Instant, applied: set[int]) -> list[Claim]:
        """The claims whose period meets ``[start, end)``, and those ``applied`` (an earlier
        month's period excusing work settled in this one), by id."""
        return [
            c
            for _, c in sorted(self.by_id.items())
            if (c.start < end and start < c.end) or c.id in applied
        ]

    def exempted(self, work: Iterable[tuple[int, str, Instant]]) -> tuple[list[int], set[int]]:
        """The ids, in order, of the ``(id, channel, deadline)`` an accepted claim excuses, and
        the ids of the claims that excuse them."""
        accepted = [c for c in self.by_id.values() if c.status == "accepted"]
        excused: list[int] = []
        applied: set[int] = set()
        if not accepted:
            return excused, applied
        for interaction_id, channel, deadline in work:
            covering = [c.id for c in accepted if c.excuses(channel, deadline)]
            if covering:
                excused.append(interaction_id)
                applied.update(covering)
        return sorted(excused), applied


class _Work(Protocol):
    id: int
    channel: str
    deadline: Instant
    breached: bool


W = TypeVar("W", bound=_Work)


def month_exemptions(
    claims: Claims,
    counted: Sequence[W],
    month: tuple[Instant, Instant, tzinfo],
    tally: Callable[[str, list[W]], Any],
) -> MonthExemptions:
    """The claims meeting a month ``(start, end, zone)``, and what the work counted in it that
    they excuse counted for, per channel (``tally`` counts a channel's row of figures)."""
    start, end, zone = month
    found, applied = claims.exempted((w.id, w.channel, w.deadline) for w in counted)
    excused = set(found)
    rows = []
    for channel in CHANNELS:
        works = sorted(
            (w for w in counted if w.channel == channel and w.id in excused), key=lambda w: w.id
        )
        if works:
            ids, breached = [w.id for w in works], [w.id for w in works if w.breached]
            rows.append(Excused.of(tally(channel, works), ids, breached))
    return MonthExemptions(
        claims=[claim.out(zone) for claim in claims.shown(start, end, applied)],
        interactions=sorted(excused),
        channels=rows,
    )


def excused_in(exemptions: MonthExemptions, channel: str) -> Excused | None:
    """What a channel's exempted work counted for in the month, if it has any."""
    return next((e for e in exemptions.channels if e.channel == channel), None)


def counts_without(row: Any, excused: Excused | None) -> dict[str, int]:
    """A row's counts (``COUNTS``) with those of its exempted work taken off."""
    return {name: getattr(row, name) - getattr(excused, name, 0) for name in COUNTS}


def _who(by: str, role: str) -> str:
    """``token:7 (supervisor)``: the token by its journal id, and its role, never its secret."""
    return f"{by} ({role})" if role else by


def _iso(at: Instant, zone: tzinfo) -> str:
    return to_datetime(at, zone).isoformat()
