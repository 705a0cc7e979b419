"""Tests of the business calendar: opening hours, public holidays, working days and time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import DAY, HOUR, MICROSECOND, MINUTE, from_datetime, to_datetime
from aiguillage.engine.policies import WEEKDAYS, BusinessHours, CalendarPolicy

CALENDAR = BusinessCalendar(CalendarPolicy())


def at(text: str) -> int:
    """Return the instant of an ISO 8601 date-time with its offset."""
    return from_datetime(datetime.fromisoformat(text))


def local(instant: int) -> datetime:
    return to_datetime(instant, CALENDAR.zone)


# -- opening hours (defaults: Mon-Sat 07:00-20:00 Europe/Paris, closed on holidays) -----------


def test_default_calendar_is_in_europe_paris() -> None:
    assert CALENDAR.zone.key == "Europe/Paris"


def test_open_on_a_weekday_within_hours() -> None:
    assert CALENDAR.is_open(at("2026-06-16T10:00:00+02:00"))  # Tuesday


def test_open_at_opening_time_exactly() -> None:
    assert CALENDAR.is_open(at("2026-06-16T07:00:00+02:00"))


def test_closed_just_before_opening_time() -> None:
    assert not CALENDAR.is_open(at("2026-06-16T06:59:00+02:00"))


def test_closed_at_closing_time_exactly() -> None:
    assert not CALENDAR.is_open(at("2026-06-16T20:00:00+02:00"))


def test_open_one_microsecond_before_closing_time() -> None:
    assert CALENDAR.is_open(at("2026-06-16T19:59:59.999999+02:00"))


def test_open_on_saturday() -> None:
    assert CALENDAR.is_open(at("2026-06-13T10:00:00+02:00"))


def test_closed_on_sunday() -> None:
    assert not CALENDAR.is_open(at("2026-06-14T10:00:00+02:00"))


@pytest.mark.parametrize(
    "text",
    [
        "2026-07-14T10:00:00+02:00",  # Bastille Day, a Tuesday
        "2026-05-01T10:00:00+02:00",  # Labour Day, a Friday
        "2026-12-25T10:00:00+01:00",  # Christmas, a Friday
    ],
)
def test_closed_on_a_public_holiday(text: str) -> None:
    assert not CALENDAR.is_open(at(text))


def test_open_on_a_public_holiday_when_hours_stay_open_on_holidays() -> None:
    hours = BusinessHours(closed_on_holidays=False)
    assert CALENDAR.is_open(at("2026-07-14T10:00:00+02:00"), hours)


def test_given_hours_replace_the_calendar_hours() -> None:
    office = BusinessHours(days=("mon", "tue", "wed", "thu", "fri"), opens=time(9), closes=time(17))
    assert not CALENDAR.is_open(at("2026-06-13T10:00:00+02:00"), office)  # Saturday
    assert not CALENDAR.is_open(at("2026-06-16T08:00:00+02:00"), office)


def test_opening_hours_follow_local_time_in_summer() -> None:
    assert CALENDAR.is_open(at("2026-07-07T05:30:00Z"))  # 07:30 in Paris (+02:00)


def test_opening_hours_follow_local_time_in_winter() -> None:
    assert not CALENDAR.is_open(at("2026-01-06T05:30:00Z"))  # 06:30 in Paris (+01:00)


# -- public holidays and working days ---------------------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 4, 6), date(2027, 3, 29)])
def test_easter_monday_is_a_public_holiday(day: date) -> None:
    assert CALENDAR.is_holiday(day)
    assert not CALENDAR.is_working_day(day)


def test_whit_monday_is_a_public_holiday_by_default() -> None:
    assert not CALENDAR.is_working_day(date(2026, 5, 25))


def test_whit_monday_is_a_working_day_when_removed_from_holidays() -> None:
    calendar = BusinessCalendar(CalendarPolicy(removed_holidays=(date(2026, 5, 25),)))
    assert not calendar.is_holiday(date(2026, 5, 25))
    assert calendar.is_working_day(date(2026, 5, 25))


def test_an_extra_holiday_is_not_a_working_day() -> None:
    calendar = BusinessCalendar(CalendarPolicy(extra_holidays=(date(2026, 6, 17),)))
    assert calendar.is_holiday(date(2026, 6, 17))
    assert not calendar.is_working_day(date(2026, 6, 17))
    assert not calendar.is_open(at("2026-06-17T10:00:00+02:00"))


def test_good_friday_is_a_working_day_in_most_of_france() -> None:
    assert CALENDAR.is_working_day(date(2026, 4, 3))


def test_a_subdivision_adds_its_own_holidays() -> None:
    moselle = BusinessCalendar(CalendarPolicy(subdivision="57"))
    assert moselle.is_holiday(date(2026, 4, 3))  # Good Friday in Alsace-Moselle


def test_new_years_eve_is_a_working_day_and_new_years_day_is_not() -> None:
    assert CALENDAR.is_working_day(date(2026, 12, 31))
    assert not CALENDAR.is_working_day(date(2027, 1, 1))


@pytest.mark.parametrize("day", [date(2026, 6, 13), date(2026, 6, 14)])
def test_weekend_days_are_not_working_days(day: date) -> None:
    assert not CALENDAR.is_working_day(day)


def test_an_unknown_country_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"calendar\.country 'XX'"):
        BusinessCalendar(CalendarPolicy(country="XX"))


def test_an_unknown_time_zone_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"calendar\.timezone 'Europe/Atlantis'"):
        BusinessCalendar(CalendarPolicy(timezone="Europe/Atlantis"))


def test_add_working_days_skips_christmas_and_the_weekend() -> None:
    assert CALENDAR.add_working_days(date(2026, 12, 24), 3) == date(2026, 12, 30)


def test_add_working_days_crosses_the_year_end() -> None:
    assert CALENDAR.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)


def test_add_working_days_never_counts_the_start_day() -> None:
    assert CALENDAR.add_working_days(date(2026, 6, 15), 1) == date(2026, 6, 16)  # Mon -> Tue


def test_add_working_days_refuses_zero_days() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CALENDAR.add_working_days(date(2026, 6, 15), 0)


def test_a_calendar_without_working_days_refuses_to_count_them() -> None:
    calendar = BusinessCalendar(CalendarPolicy(working_days=()))
    with pytest.raises(ValueError, match="working_days is empty"):
        calendar.add_working_days(date(2026, 6, 15), 1)


# -- local time -------------------------------------------------------------------------------


def test_local_date_is_the_date_in_the_calendar_zone() -> None:
    assert CALENDAR.local_date(at("2026-03-26T23:30:00Z")) == date(2026, 3, 27)


def test_at_local_gives_the_instant_of_a_wall_time() -> None:
    assert CALENDAR.at_local(date(2026, 12, 30), time(20)) == at("2026-12-30T20:00:00+01:00")


def test_at_local_in_the_spring_gap_is_shifted_by_the_gap() -> None:
    instant = CALENDAR.at_local(date(2026, 3, 29), time(2, 30))
    assert instant == at("2026-03-29T03:30:00+02:00")


def test_at_local_in_the_autumn_overlap_is_the_first_occurrence() -> None:
    instant = CALENDAR.at_local(date(2026, 10, 25), time(2, 30))
    assert instant == at("2026-10-25T02:30:00+02:00")


# -- opening time -----------------------------------------------------------------------------


def test_open_time_from_friday_evening_to_tuesday_morning_counts_saturday_not_sunday() -> None:
    start, end = at("2026-06-12T18:00:00+02:00"), at("2026-06-16T09:00:00+02:00")
    assert CALENDAR.open_time_between(start, end) == (2 + 13 + 0 + 13 + 2) * HOUR


def test_open_time_is_zero_over_a_night() -> None:
    start, end = at("2026-06-16T20:00:00+02:00"), at("2026-06-17T07:00:00+02:00")
    assert CALENDAR.open_time_between(start, end) == 0


def test_open_time_is_zero_when_the_end_is_not_after_the_start() -> None:
    instant = at("2026-06-16T10:00:00+02:00")
    assert CALENDAR.open_time_between(instant, instant - HOUR) == 0


def test_open_time_follows_the_hours_given() -> None:
    mornings = BusinessHours(days=("mon",), opens=time(8), closes=time(12))
    start, end = at("2026-06-12T00:00:00+02:00"), at("2026-06-23T00:00:00+02:00")
    assert CALENDAR.open_time_between(start, end, mornings) == 2 * 4 * HOUR  # two Mondays


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_open_hours_of_a_day_of_a_clock_change_last_their_wall_clock_length(day: date) -> None:
    every_day = BusinessCalendar(
        CalendarPolicy(hours=BusinessHours(days=WEEKDAYS, closed_on_holidays=False))
    )
    start = every_day.at_local(day, time(0))
    end = every_day.at_local(day + timedelta(days=1), time(0))
    assert every_day.open_time_between(start, end) == 13 * HOUR


def test_add_open_time_starts_at_the_next_opening() -> None:
    thursday = at("2026-06-18T20:00:00+02:00")
    assert CALENDAR.add_open_time(thursday, 8 * HOUR) == at("2026-06-19T15:00:00+02:00")


def test_add_open_time_skips_sunday_and_public_holidays() -> None:
    saturday = at("2026-07-11T19:00:00+02:00")  # Monday 13 is open, Tuesday 14 a holiday
    later = CALENDAR.add_open_time(saturday, (1 + 13 + 2) * HOUR)
    assert later == at("2026-07-15T09:00:00+02:00")


def test_add_open_time_that_fills_the_day_returns_its_closing() -> None:
    friday = at("2026-06-12T18:00:00+02:00")
    assert CALENDAR.add_open_time(friday, 2 * HOUR) == at("2026-06-12T20:00:00+02:00")


def test_add_zero_open_time_moves_nothing() -> None:
    sunday = at("2026-06-14T10:00:00+02:00")
    assert CALENDAR.add_open_time(sunday, 0) == sunday


def test_add_open_time_refuses_a_negative_duration() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        CALENDAR.add_open_time(at("2026-06-16T10:00:00+02:00"), -MINUTE)


def test_add_open_time_refuses_hours_that_never_open() -> None:
    with pytest.raises(ValueError, match="never open"):
        CALENDAR.add_open_time(at("2026-06-16T10:00:00+02:00"), HOUR, BusinessHours(days=()))


def test_the_next_change_of_an_open_instant_is_its_closing() -> None:
    instant = at("2026-06-16T19:30:00+02:00")
    assert CALENDAR.next_change(instant, instant + DAY) == at("2026-06-16T20:00:00+02:00")


def test_the_next_change_of_a_closed_instant_is_the_next_opening() -> None:
    saturday = at("2026-06-13T20:00:00+02:00")
    assert CALENDAR.next_change(saturday, saturday + 3 * DAY) == at("2026-06-15T07:00:00+02:00")


def test_no_change_before_the_bound_is_none() -> None:
    saturday = at("2026-06-13T20:00:00+02:00")
    assert CALENDAR.next_change(saturday, at("2026-06-15T07:00:00+02:00")) is None


# -- invariants -------------------------------------------------------------------------------

INSTANTS = st.integers(
    min_value=at("2024-01-01T00:00:00+01:00"), max_value=at("2030-12-31T23:59:59.999999+01:00")
)
DURATIONS = st.integers(min_value=0, max_value=30 * DAY)


@settings(deadline=None)
@given(instant=INSTANTS, duration=DURATIONS)
def test_open_time_between_undoes_add_open_time(instant: int, duration: int) -> None:
    later = CALENDAR.add_open_time(instant, duration)
    assert CALENDAR.open_time_between(instant, later) == duration


@settings(deadline=None)
@given(instant=INSTANTS, duration=st.integers(min_value=1, max_value=30 * DAY))
def test_add_open_time_returns_the_earliest_such_instant(instant: int, duration: int) -> None:
    later = CALENDAR.add_open_time(instant, duration)
    assert CALENDAR.open_time_between(instant, later - MICROSECOND) == duration - MICROSECOND


@settings(deadline=None)
@given(instant=INSTANTS, span=st.integers(min_value=1, max_value=4 * DAY))
def test_the_next_change_is_where_being_open_flips(instant: int, span: int) -> None:
    change = CALENDAR.next_change(instant, instant + span)
    if change is None:  # open or closed throughout
        assert CALENDAR.open_time_between(instant, instant + span) in (0, span)
    else:
        assert instant < change < instant + span
        assert CALENDAR.is_open(change) != CALENDAR.is_open(instant)
        assert CALENDAR.is_open(change - MICROSECOND) == CALENDAR.is_open(instant)
        assert CALENDAR.open_time_between(instant, change) in (0, change - instant)


@settings(deadline=None)
@given(instant=INSTANTS)
def test_is_open_matches_the_local_wall_clock(instant: int) -> None:
    wall = local(instant)
    expected = (
        wall.weekday() < 6
        and time(7) <= wall.time() < time(20)
        and not CALENDAR.is_holiday(wall.date())
    )
    assert CALENDAR.is_open(instant) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=3 * 366 * 24 * 60),
    st.sampled_from([BusinessHours(), BusinessHours(opens=time(2, 30), closes=time(3, 15))]),
)
def test_opening_answers_follow_the_wall_clock_across_daylight_saving(
    minutes: int, hours: BusinessHours
) -> None:
    """Each day's answers (kept per day) agree with reading the local wall clock, DST included."""
    calendar = BusinessCalendar(CalendarPolicy())
    start = from_datetime(datetime(2026, 1, 1, tzinfo=calendar.zone))
    for offset in (0, 1, 30 * MINUTE, HOUR, 3 * HOUR, DAY):  # several, so the day is reused
        instant = start + minutes * MINUTE + offset
        local = to_datetime(instant, calendar.zone)
        expected = (
            WEEKDAYS[local.weekday()] in hours.days
            and hours.opens <= local.time() < hours.closes
            and not (hours.closed_on_holidays and calendar.is_holiday(local.date()))
        )
        assert calendar.is_open(instant, hours) == expected
        assert calendar.local_date(instant) == local.date()


def test_working_day_deadlines_are_the_working_day_arithmetic() -> None:
    calendar = BusinessCalendar(CalendarPolicy())
    friday_evening = from_datetime(datetime(2026, 12, 24, 19, 0, tzinfo=calendar.zone))
    for instant in (friday_evening, friday_evening + HOUR, friday_evening + 3 * DAY):
        day = calendar.local_date(instant)
        expected = calendar.at_local(calendar.add_working_days(day, 3), time(20))
        assert calendar.deadline_on_working_day(instant, 3, time(20)) == expected
        assert calendar.deadline_on_working_day(instant, 3, time(20)) == expected  # kept


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25), date(2026, 10, 26)])
def test_opening_answers_follow_the_wall_clock_through_a_change_of_offset(day: date) -> None:
    calendar = BusinessCalendar(CalendarPolicy())
    night = BusinessHours(days=WEEKDAYS, opens=time(2, 30), closes=time(3, 15))
    start = from_datetime(datetime.combine(day - timedelta(days=1), time(22), calendar.zone))
    for step in range(30 * 4):  # every quarter of an hour, from the evening before
        instant = start + step * 15 * MINUTE
        local = to_datetime(instant, calendar.zone)
        for hours in (night, calendar.policy.hours):
            expected = (
                WEEKDAYS[local.weekday()] in hours.days
                and hours.opens <= local.time() < hours.closes
                and not (hours.closed_on_holidays and calendar.is_holiday(local.date()))
            )
            assert calendar.is_open(instant, hours) == expected
