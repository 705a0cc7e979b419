"""The business calendar answers whether a service is open and counts working days and time.

A :class:`BusinessCalendar` is built from a :class:`~.policies.CalendarPolicy`: a time zone
(Europe/Paris by default), opening hours, working weekdays and public holidays (from the
``holidays`` package, plus the policy's extra days, less its removed days). Every question takes
and returns integer instants (microseconds since the epoch, UTC) or local dates; local wall time
is used only inside, because the contract is written in local time.

Two notions of "working" coexist, as in the contract:

- *open* (:meth:`BusinessCalendar.is_open`): inside opening hours, e.g. Mon-Sat 07:00-20:00;
  opening *time* counts the elapsed time inside them (:meth:`BusinessCalendar.open_time_between`);
- *working day* (:meth:`BusinessCalendar.is_working_day`): a working weekday (Mon-Fri) that is
  not a public holiday; written deadlines count them.

Opening time is real elapsed time: the hours 07:00-20:00 of a day of a daylight-saving change
last 13 h like any other's, since the change happens at night.
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
        opening = self.opening_of(today, hours)
        span = (hours, start, start, start) if opening is None else (hours, start, *opening)
        self._open_spans[id(hours)] = span
        return span

    def opening_of(self, day: date, hours: BusinessHours) -> tuple[Instant, Instant] | None:
        """Return the instants the hours open and close on a local date; ``None`` if shut.

        Shut: not an open weekday, a public holiday when the hours close on holidays, or hours
        that never open. The open span is ``[opening, closing)``.
        """
        shut = (
            WEEKDAYS[day.weekday()] not in hours.days
            or not hours.opens < hours.closes
            or (hours.closed_on_holidays and self.is_holiday(day))
        )
        if shut:
            return None
        return self.at_local(day, hours.opens), self.at_local(day, hours.closes)

    def next_change(
        self, instant: Instant, before: Instant, hours: BusinessHours | None = None
    ) -> Instant | None:
        """Return the first instant after ``instant`` at which opening hours open or close.

        From an open instant it is the closing; from a closed one, the next opening, however
        many closed days lie between. ``None`` when there is none before ``before``. The hours
        are the calendar's when absent.
        """
        if hours is None:
            hours = self.policy.hours
        day = self.local_date(instant)
        while self._start_of_day(day) < before:
            span = self.opening_of(day, hours)
            if span is not None and instant < span[1]:
                change = span[0] if instant < span[0] else span[1]
                return change if change < before else None
            day += _ONE_DAY
        return None

    # -- opening time -------------------------------------------------------------------------

    def open_time_between(
        self, start: Instant, end: Instant, hours: BusinessHours | None = None
    ) -> int:
        """Return the microseconds of ``[start, end)`` within opening hours (0 if empty).

        The hours are the calendar's when absent.
        """
        if end <= start:
            return 0
        if hours is None:
            hours = self.policy.hours
        total = 0
        day = self.local_date(start)
        last = self.local_date(end - 1)
        while day <= last:
            span = self.opening_of(day, hours)
            if span is not None:
                total += max(0, min(end, span[1]) - max(start, span[0]))
            day += _ONE_DAY
        return total

    def add_open_time(
        self, instant: Instant, duration: int, hours: BusinessHours | None = None
    ) -> Instant:
        """Return the earliest instant by which ``duration`` of opening time has elapsed.

        Closed hours are skipped: from a Thursday 20:00, with hours 07:00-20:00, 8 h of opening
        time end on Friday at 15:00. It is the inverse of :meth:`open_time_between`:
        ``open_time_between(i, add_open_time(i, d)) == d``. A zero duration moves nothing. The
        hours are the calendar's when absent.
        """
        if duration < 0:
            raise ValueError(f"opening time to add must not be negative, got {duration}")
        if duration == 0:
            return instant
        if hours is None:
            hours = self.policy.hours
        if not hours.days or not hours.opens < hours.closes:
            # Without a single open day the day-by-day search would never end.
            raise ValueError("the opening hours never open: no opening time can be added")
        remaining = duration
        day = self.local_date(instant)
        while True:
            span = self.opening_of(day, hours)
            if span is not None:
                start = max(instant, span[0])
                if start < span[1]:
                    available = span[1] - start
                    if remaining <= available:
                        return start + remaining
                    remaining -= available
            day += _ONE_DAY

    # -- internals ----------------------------------------------------------------------------

    def _start_of_day(self, day: date) -> Instant:
        # The first instant of the local day; where midnight falls in a gap, at_local's rule
        # gives the end of the gap, which is exactly when the day begins.
        return self.at_local(day, _MIDNIGHT)

    def _require_working_weekdays(self) -> None:
        # Without a single working weekday the day-by-day searches would never end.
        if not self._working_weekdays:
            raise ValueError("calendar.working_days is empty: no working day can ever be found")
