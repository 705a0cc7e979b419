"""SLA arithmetic turns a reception instant and a channel's SLA rule into a deadline.

Three rules, one per kind of :data:`~.policies.Sla`:

- :class:`~.policies.ElapsedSla` (voice): a fixed elapsed time after reception;
- :class:`~.policies.BusinessHoursSla` (social): one elapsed time if received within opening
  hours, another if not; elapsed, so a night across a daylight-saving change does not stretch
  or shrink it, even though the wall clock shows one hour more or less. Read literally, a
  message received just before opening is due after one received at opening; the
  ``monotonic`` reading makes it due no later, so deadlines never decrease with reception;
- :class:`~.policies.WorkingDaysSla` (written): a local wall time on the N-th working day after
  the local day of reception, which itself never counts.

One rule says whether an answer meets its deadline, for the engine and the simulator alike:
an answer at or before the deadline is within it (:func:`answered_within`), and the deadline is
breached one microsecond after it (:func:`breach_due`), so an answer at the very instant of the
deadline is within it and never breached.

When a channel credits the wait for the principal (``credit_principal_wait``), a complaint's
clock pauses meanwhile, and :func:`credit_wait` moves its deadline later by the opening hours
the wait covered. Everything here is a pure function of instants and a
:class:`~.calendar.BusinessCalendar`.
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
    "credit_wait",
    "deadline",
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
        case BusinessHoursSla(within_s=within_s, outside_s=outside_s, reading=reading):
            within = calendar.is_open(received, hours)
            allowed, other = (within_s, outside_s) if within else (outside_s, within_s)
            due = received + allowed * SECOND
            if reading == "monotonic" and other < allowed:
                # A message received when the hours next open (or close) gets ``other``: this
                # one is due no later, if that falls sooner. Later changes come later still.
                change = calendar.next_change(received, due - other * SECOND, hours)
                if change is not None:
                    due = change + other * SECOND
            return due
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


def credit_wait(
    deadline: Instant,
    waited_from: Instant,
    waited_until: Instant,
    calendar: BusinessCalendar,
    hours: BusinessHours | None = None,
) -> Instant:
    """Return the deadline moved later by the opening time a credited wait covered.

    The wait for the principal is measured in opening hours (``hours``, else the calendar's)
    and added in opening hours, so a complaint keeps the usable time it had: with hours
    07:00-20:00, eight open hours of waiting move a Thursday 20:00 deadline to Friday 15:00, and
    a wait from Friday 19:00 to Saturday 10:00 credits 4 h (one on Friday, three on Saturday).
    A wait that covered no opening time leaves the deadline where it was, and nothing moves it
    earlier. Crediting waits one after another from the deadline in force is the same as
    crediting their sum from the raw deadline.
    """
    covered = calendar.open_time_between(waited_from, waited_until, hours)
    return calendar.add_open_time(deadline, covered, hours)
