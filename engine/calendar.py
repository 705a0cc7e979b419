"""The business calendar answers whether a service is open and counts working days and time.

A :class:`BusinessCalendar` is built from a :class:`~.policies.CalendarPolicy`: a time zone
(Europe/Paris by default), opening hours, working weekdays and public holidays (from the
``holidays`` package, plus the policy's extra days, less its removed days). Every question takes
and returns integer instants (microseconds since the epoch, UTC) or local dates; local wall time
is used only inside, because the contract is written in local time.

Two notions of "working" coexist, as in the contract:

- *open* (:meth:`BusinessCalendar.is_open`): inside opening hours, e.g. Mon-Sat 07:00-20:00;
- *working day* (:meth:`BusinessCalendar.is_working_day`): a working weekday (Mon-Fri) that is
  not a public holiday. Working *time* counts the whole local day of a working day, midnight to
  midnight, as real elapsed time (so a day of a daylight-saving change counts 23 h or 25 h).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from .instants import Instant, from_datetime, to_datetime
from .policies import WEEKDAYS, BusinessHours, CalendarPolicy

__all__ = ["BusinessCalendar"]

_ONE_DAY = timedelta(days=1)
_DAY = 86_400_000_000  # microseconds
_MIDNIGHT = time(0, 0)


class BusinessCalendar:
    """Opening hours, working days and public holidays of one calendar policy, in its zone."""

    def __init__(self, policy: CalendarPolicy) -> None:
        try:
            zone = ZoneInfo(policy.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"calendar.timezone {policy.timezone!r} is not a known IANA time zone; "
                "give one such as 'Europe/Paris'"
            ) from exc
        try:
            # An empty year list computes nothing; it only checks country and subdivision now,
            # rather than on the first hot-path lookup.
            holidays.country_holidays(policy.country, subdiv=policy.subdivision, years=())
        except NotImplementedError as exc:
            raise ValueError(
                f"calendar.country {policy.country!r} / calendar.subdivision "
                f"{policy.subdivision!r} has no public-holiday calendar: {exc}"
            ) from exc
        self.policy = policy
        self.zone = zone
        self._working_weekdays = frozenset(WEEKDAYS.index(day) for day in policy.working_days)
        self._holidays_by_year: dict[int, frozenset[date]] = {}
        # The local day last asked about, as (first instant, first instant of the next day,
        # date), when it is a plain 24-hour day (no change of UTC offset); else None. Successive
        # questions mostly fall on the same day, and within such a day local wall time is the
        # instant plus a fixed offset, so the answers below need no time-zone conversion.
        self._day: tuple[Instant, Instant, date] | None = None
        # Per opening hours (by identity, the object kept to check it) and day: the open span.
        self._open_spans: dict[int, tuple[BusinessHours, Instant, Instant, Instant]] = {}
        self._working_day_instants: dict[tuple[date, int, time], Instant] = {}

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.policy!r})"

    # -- days ---------------------------------------------------------------------------------

    def holidays_of(self, year: int) -> frozenset[date]:
        """Return the public holidays of a year, after the policy's additions and removals."""
        cached = self._holidays_by_year.get(year)
        if cached is None:
            policy = self.policy
            found = holidays.country_holidays(policy.country, subdiv=policy.subdivision, years=year)
            days = set(found.keys())
            days.update(day for day in policy.extra_holidays if day.year == year)
            days.difference_update(policy.removed_holidays)
            cached = frozenset(days)
            self._holidays_by_year[year] = cached
        return cached

    def is_holiday(self, day: date) -> bool:
        """Return whether a local date is a public holiday."""
        return day in self.holidays_of(day.year)

    def is_working_day(self, day: date) -> bool:
        """Return whether a local date is a working weekday and not a public holiday."""
        return day.weekday() in self._working_weekdays and not self.is_holiday(day)

    def add_working_days(self, day: date, n: int) -> date:
        """Return the ``n``-th working day strictly after ``day`` (``day`` itself never counts)."""
        if n < 1:
            raise ValueError(f"the number of working days must be at least 1, got {n}")
        self._require_working_weekdays()
        while n:
            day += _ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    # -- instants and local time --------------------------------------------------------------

    def local_date(self, instant: Instant) -> date:
        """Return the local date of an instant in the calendar's zone."""
        day = self._day
        if day is not None and day[0] <= instant < day[1]:
            return day[2]
        return to_datetime(instant, self.zone).date()

    def _plain_day(self, instant: Instant) -> tuple[Instant, Instant, date] | None:
        """Return the local day of an instant as (start, next day's start, date), if plain.

        A plain day lasts 24 hours with one UTC offset throughout; a day of a daylight-saving
        change is not (``None``), and is then answered the general way.
        """
        day = self._day
        if day is not None and day[0] <= instant < day[1]:
            return day
        local = to_datetime(instant, self.zone)
        today = local.date()
        start = self._start_of_day(today)
        end = self._start_of_day(today + _ONE_DAY)
        if end - start != _DAY or to_datetime(end - 1, self.zone).utcoffset() != local.utcoffset():
            return None
        self._day = (start, end, today)
        return self._day

    def deadline_on_working_day(self, received: Instant, days: int, due_at: time) -> Instant:
        """Return the instant of ``due_at`` on the ``days``-th working day after reception's day.

        The local day of reception never counts (see ``add_working_days``).
        """
        day = self.local_date(received)
        key = (day, days, due_at)
        found = self._working_day_instants.get(key)
        if found is None:
            found = self._working_day_instants[key] = self.at_local(
                self.add_working_days(day, days), due_at
            )
        return found

    def at_local(self, day: date, clock: time) -> Instant:
        """Return the instant at which the local wall clock shows ``clock`` on ``day``.

        A wall time that does not exist (the spring-forward gap) is read with the offset in force
        before the change, so it lands after the gap, shifted by the gap's length: 02:30 on
        29 March 2026 in Paris is 03:30+02:00. A wall time that happens twice (fall back) is its
        first occurrence: 02:30 on 25 October 2026 in Paris is 02:30+02:00.
        """
        wall = datetime.combine(day, clock.replace(tzinfo=None, fold=0), tzinfo=self.zone)
        return from_datetime(wall)

    def is_open(self, instant: Instant, hours: BusinessHours | None = None) -> bool:
        """Return whether an instant falls within opening hours (the calendar's by default).

        Opening hours are local: ``opens <= wall time < closes`` on an open weekday, and not on a
        public holiday when the hours close on holidays.
        """
        if hours is None:
            hours = self.policy.hours
        day = self._plain_day(instant)
        if day is not None:
            span = self._open_spans.get(id(hours))
            if span is None or span[0] is not hours or span[1] != day[0]:
                span = self._open_span(hours, day)
            return span[2] <= instant < span[3]
        local = to_datetime(instant, self.zone)
        if WEEKDAYS[local.weekday()] not in hours.days:
            return False
        if not hours.opens <= local.time() < hours.closes:
            return False
        return not (hours.closed_on_holidays and self.is_holiday(local.date()))

    def _open_span(
        self, hours: BusinessHours, day: tuple[Instant, Instant, date]
    ) -> tuple[BusinessHours, Instant, Instant, Instant]:
        """Return (hours, day's start, opening, closing instants) on a plain day; empty if shut.

        On a plain day the wall time is the instant plus one offset, so ``opens <= wall time <
        closes`` is exactly ``opening <= instant < closing``.
        """
        start, _, today = day
        shut = (
            WEEKDAYS[today.weekday()] not in hours.days
            or not hours.opens < hours.closes
            or (hours.closed_on_holidays and self.is_holiday(today))
        )
        if shut:
            span = (hours, start, start, start)
        else:
            span = (
                hours,
                start,
                self.at_local(today, hours.opens),
                self.at_local(today, hours.closes),
            )
        self._open_spans[id(hours)] = span
        return span

    # -- working time -------------------------------------------------------------------------

    def working_time_between(self, start: Instant, end: Instant) -> int:
        """Return the microseconds of ``[start, end)`` that fall on working days (0 if empty)."""
        if end <= start:
            return 0
        total = 0
        day = self.local_date(start)
        last = self.local_date(end - 1)
        day_start = self._start_of_day(day)
        while day <= last:
            next_start = self._start_of_day(day + _ONE_DAY)
            if self.is_working_day(day):
                total += min(end, next_start) - max(start, day_start)
            day, day_start = day + _ONE_DAY, next_start
        return total

    def add_working_time(self, instant: Instant, duration: int) -> Instant:
        """Return the earliest instant by which ``duration`` of working time has elapsed.

        Non-working days are skipped: from a Friday 20:00, 24 h of working time end on Monday at
        20:00 (4 h on Friday, 20 h on Monday). From a non-working day, working time starts at the
        next working day's midnight. It is the inverse of :meth:`working_time_between`:
        ``working_time_between(i, add_working_time(i, d)) == d``. A zero duration moves nothing.
        """
        if duration < 0:
            raise ValueError(f"working time to add must not be negative, got {duration}")
        if duration == 0:
            return instant
        self._require_working_weekdays()
        remaining = duration
        cursor = instant
        day = self.local_date(instant)
        while True:
            next_start = self._start_of_day(day + _ONE_DAY)
            if self.is_working_day(day):
                available = next_start - cursor
                if remaining <= available:
                    return cursor + remaining
                remaining -= available
            cursor, day = next_start, day + _ONE_DAY

    # -- internals ----------------------------------------------------------------------------

    def _start_of_day(self, day: date) -> Instant:
        # The first instant of the local day; where midnight falls in a gap, at_local's rule
        # gives the end of the gap, which is exactly when the day begins.
        return self.at_local(day, _MIDNIGHT)

    def _require_working_weekdays(self) -> None:
        # Without a single working weekday the day-by-day searches would never end.
        if not self._working_weekdays:
            raise ValueError("calendar.working_days is empty: no working day can ever be found")
