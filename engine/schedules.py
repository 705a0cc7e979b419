"""Schedules: who is planned to do what, and when, on a given day.

A workforce-management tool (or a planner with a spreadsheet) plans each advisor's day as
shifts: stretches of ``work`` and of pauses (``break``, ``lunch``, ``training``: a not-ready
reason code). ``SetSchedule`` journals a whole day's shifts at once, replacing the day's
previous ones; the engine keeps the days of the last week and those ahead, so that adherence
(``figures.adherence``) compares what advisors did with what was planned. Routing never reads
a schedule: advisors log in and pause themselves.

A day is a local date of the deployment's calendar (``YYYY-MM-DD``); a shift belongs to the day
on which it starts, so a night shift from 22:00 to 06:00 is the evening's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Final

import msgspec

from .instants import HOUR, Instant, from_datetime, to_datetime

__all__ = [
    "KEPT_DAYS",
    "LATEST_DAYS_AHEAD",
    "MAX_SHIFTS",
    "WORK",
    "ScheduleError",
    "Shift",
    "check_schedule",
    "day_bounds",
    "kept_since",
    "parse_day",
]

WORK: Final = "work"
"""The activity of a shift spent taking work; any other activity is a not-ready reason code."""

KEPT_DAYS: Final = 7
"""A new schedule drops the days more than this many days before the day it is set on."""

LATEST_DAYS_AHEAD: Final = 366
"""A schedule is set for a day at most this many days ahead."""

MAX_SHIFTS: Final = 20_000
"""At most this many shifts in one day's schedule (a thousand advisors, twenty stretches each)."""

_LONGEST: Final = 24 * HOUR
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_CODE_CHARS = _LOWER | frozenset("0123456789_")


def _is_code(text: str) -> bool:
    """A reason code as configured: lowercase letters, digits and _, a letter first, 40 at most."""
    return 0 < len(text) <= 40 and text[0] in _LOWER and all(c in _CODE_CHARS for c in text)


def _is_day(text: str) -> bool:
    return (
        len(text) == 10
        and text[4] == text[7] == "-"
        and (text[:4] + text[5:7] + text[8:]).isascii()
        and (text[:4] + text[5:7] + text[8:]).isdigit()
    )


class Shift(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One stretch of an advisor's planned day: ``[start, end)`` spent on ``activity``."""

    advisor_id: str
    start: Instant
    end: Instant
    activity: str = WORK
    """``work``, or the not-ready reason code of a planned pause (``break``, ``lunch``…)."""


class ScheduleError(ValueError):
    """A schedule that cannot be journaled; ``index`` is the shift at fault, if one is, and
    ``field`` its field at fault (``advisor_id``, ``start``, ``end``, ``activity``)."""

    def __init__(self, message: str, index: int | None = None, field: str = "") -> None:
        super().__init__(message)
        self.index = index
        self.field = field


def parse_day(day: str) -> date:
    """Return the date of a ``YYYY-MM-DD`` day; raise ``ScheduleError`` for anything else."""
    if not _is_day(day):
        raise ScheduleError(f"day {day!r} is not a date written YYYY-MM-DD, such as 2027-03-01")
    try:
        return date.fromisoformat(day)
    except ValueError as exc:
        raise ScheduleError(f"day {day!r} is not a date: {exc}") from None


def day_bounds(day: date, zone: tzinfo) -> tuple[Instant, Instant]:
    """Return the instants at which a local day starts and the next one starts."""
    start = from_datetime(datetime.combine(day, datetime.min.time(), zone))
    end = from_datetime(datetime.combine(day + timedelta(days=1), datetime.min.time(), zone))
    return start, end


def check_schedule(day: str, shifts: tuple[Shift, ...], zone: tzinfo, now: Instant) -> None:
    """Check one day's schedule; raise ``ScheduleError`` naming the shift at fault.

    Each shift starts on the day (local time), ends after it starts and at most 24 hours
    later, has an activity written as a code, and overlaps no other shift of its advisor. The
    day is at most ``KEPT_DAYS`` days past and ``LATEST_DAYS_AHEAD`` days ahead.
    """
    planned = parse_day(day)
    today = to_datetime(now, zone).date()
    if planned < today - timedelta(days=KEPT_DAYS):
        raise ScheduleError(
            f"day {day} is more than {KEPT_DAYS} days ago: schedules of older days are not kept"
        )
    if planned > today + timedelta(days=LATEST_DAYS_AHEAD):
        raise ScheduleError(f"day {day} is more than {LATEST_DAYS_AHEAD} days ahead")
    if len(shifts) > MAX_SHIFTS:
        raise ScheduleError(f"{len(shifts)} shifts in one day; at most {MAX_SHIFTS}")
    first, last = day_bounds(planned, zone)
    by_advisor: dict[str, list[tuple[Instant, Instant, int]]] = {}
    for index, shift in enumerate(shifts):
        if not shift.advisor_id:
            raise ScheduleError("a shift names no advisor", index, "advisor_id")
        if not first <= shift.start < last:
            starts = to_datetime(shift.start, zone).isoformat()
            raise ScheduleError(
                f"the shift starts at {starts}, not on {day}: a shift belongs to the day it "
                "starts on",
                index,
                "start",
            )
        if shift.end <= shift.start:
            raise ScheduleError("the shift ends before it starts", index, "end")
        if shift.end - shift.start > _LONGEST:
            raise ScheduleError("the shift lasts more than 24 hours", index, "end")
        if shift.activity != WORK and not _is_code(shift.activity):
            raise ScheduleError(
                f"activity {shift.activity!r} is neither `work` nor a reason code (lowercase "
                "letters, digits and _, such as lunch)",
                index,
                "activity",
            )
        by_advisor.setdefault(shift.advisor_id, []).append((shift.start, shift.end, index))
    for advisor_id, spans in by_advisor.items():
        spans.sort()
        for (_, end, _), (start, _, index) in pairwise(spans):
            if start < end:
                raise ScheduleError(
                    f"advisor {advisor_id!r} has two shifts at once: each stretch of a day is "
                    "one activity (split a work shift around its breaks)",
                    index,
                    "start",
                )


def kept_since(now: Instant, zone: tzinfo) -> str:
    """Return the oldest day a schedule set at ``now`` keeps (days before it are dropped)."""
    return (to_datetime(now, zone).date() - timedelta(days=KEPT_DAYS)).isoformat()
