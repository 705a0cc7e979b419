"""SLA arithmetic turns a reception instant and a channel's SLA rule into a deadline.

Three rules, one per kind of :data:`~.policies.Sla`:

- :class:`~.policies.ElapsedSla` (voice): a fixed elapsed time after reception;
- :class:`~.policies.BusinessHoursSla` (social): one elapsed time if received within opening
  hours, another if not; elapsed, so a night across a daylight-saving change does not stretch
  or shrink it, even though the wall clock shows one hour more or less;
- :class:`~.policies.WorkingDaysSla` (written): a local wall time on the N-th working day after
  the local day of reception, which itself never counts.

One rule says whether an answer meets its deadline, for the engine and the simulator alike:
an answer at or before the deadline is within it (:func:`answered_within`), and the deadline is
breached one microsecond after it (:func:`breach_due`), so an answer at the very instant of the
deadline is within it and never breached.

While a complaint waits for the principal its clock pauses: :func:`extend_for_pause` moves the
deadline later by the working time the pause covered. Everything here is a pure function of
instants and a :class:`~.calendar.BusinessCalendar`.
"""

from __future__ import annotations

from typing import Final, assert_never

from .calendar import BusinessCalendar
from .instants import SECOND, Instant
from .policies import BusinessHours, BusinessHoursSla, ElapsedSla, Sla, WorkingDaysSla

__all__ = [
    "BREACH_AFTER",
    "answered_within",
    "breach_due",
    "deadline",
    "extend_for_pause",
    "warning_at",
]

BREACH_AFTER: Final = 1
"""How long after its deadline an unanswered interaction is breached: one microsecond, the
first instant at which an answer would no longer be within the deadline."""


def deadline(
    sla: Sla,
    received: Instant,
    calendar: BusinessCalendar,
    hours: BusinessHours | None = None,
) -> Instant:
    """Return the instant by which an interaction received at ``received`` must be answered.

    ``hours`` are the channel's opening hours for a business-hours SLA (the calendar's when
    absent).
    """
    match sla:
        case ElapsedSla(seconds=seconds):
            return received + seconds * SECOND
        case BusinessHoursSla(within_s=within_s, outside_s=outside_s):
            within = calendar.is_open(received, hours)
            return received + (within_s if within else outside_s) * SECOND
        case WorkingDaysSla(days=days, due_at=due_at):
            # The local day of reception, not the UTC one: 00:30 in Paris is already tomorrow.
            return calendar.deadline_on_working_day(received, days, due_at)
        case _:
            assert_never(sla)


def answered_within(answered: Instant, deadline: Instant) -> bool:
    """Return whether an answer at ``answered`` meets ``deadline``: at or before it."""
    return answered <= deadline


def breach_due(deadline: Instant) -> Instant:
    """Return when an interaction still unanswered breaches ``deadline``: just after it."""
    return deadline + BREACH_AFTER


def warning_at(received: Instant, deadline: Instant, fraction: float) -> Instant:
    """Return the instant at which ``fraction`` of the time from reception to deadline is gone.

    Rounded to the whole second: a fraction such as 0.67 of 180 s warns at 121 s, not at
    120.6 s, so the instant reads cleanly in logs and reports.
    """
    return received + round(fraction * (deadline - received) / SECOND) * SECOND


def extend_for_pause(
    deadline: Instant,
    paused_from: Instant,
    paused_until: Instant,
    calendar: BusinessCalendar,
) -> Instant:
    """Return the deadline moved later by the working time a pause of the clock covered.

    The covered working time is added along working time from the old deadline, so a pause of
    one full working day moves a Friday 20:00 deadline to Monday 20:00. A pause that covered no
    working time (a weekend, a public holiday) leaves the deadline where it was.
    """
    covered = calendar.working_time_between(paused_from, paused_until)
    if covered == 0:
        return deadline
    return calendar.add_working_time(deadline, covered)
