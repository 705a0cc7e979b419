"""Tests of SLA deadlines: voice, social and written rules, warnings and pauses."""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta

import holidays
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguillage.adapters.config.settings import default_config_path, load_config
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import HOUR, MINUTE, SECOND, from_datetime, to_datetime
from aiguillage.engine.policies import (
    WEEKDAYS,
    BusinessHours,
    BusinessHoursSla,
    CalendarPolicy,
    ElapsedSla,
    WorkingDaysSla,
)
from aiguillage.engine.sla import credit_wait, deadline, warning_at

CALENDAR = BusinessCalendar(CalendarPolicy())
VOICE = ElapsedSla()
SOCIAL = BusinessHoursSla()
WRITTEN = WorkingDaysSla()


def at(text: str) -> int:
    """Return the instant of an ISO 8601 date-time with its offset."""
    return from_datetime(datetime.fromisoformat(text))


def local(instant: int) -> datetime:
    return to_datetime(instant, CALENDAR.zone)


# -- the default rules ------------------------------------------------------------------------


def test_default_voice_sla_is_180_elapsed_seconds() -> None:
    assert VOICE.seconds == 180


def test_default_social_sla_is_two_hours_within_and_four_hours_outside() -> None:
    assert (SOCIAL.within_s, SOCIAL.outside_s) == (2 * 3600, 4 * 3600)


def test_default_written_sla_is_three_working_days_at_20h() -> None:
    assert (WRITTEN.days, WRITTEN.due_at) == (3, time(20, 0))


# -- voice ------------------------------------------------------------------------------------


def test_voice_deadline_is_180_seconds_after_reception() -> None:
    received = at("2026-06-16T10:00:00+02:00")
    assert deadline(VOICE, received, CALENDAR) == received + 180 * SECOND


# -- social -----------------------------------------------------------------------------------


def test_social_received_within_hours_is_due_two_hours_later() -> None:
    received = at("2026-06-16T10:00:00+02:00")  # Tuesday
    assert deadline(SOCIAL, received, CALENDAR) == received + 2 * HOUR


def test_social_received_at_opening_time_is_within_hours() -> None:
    received = at("2026-06-16T07:00:00+02:00")
    assert deadline(SOCIAL, received, CALENDAR) == received + 2 * HOUR


def test_social_received_at_closing_time_is_outside_hours() -> None:
    received = at("2026-06-16T20:00:00+02:00")
    assert deadline(SOCIAL, received, CALENDAR) == received + 4 * HOUR


def test_social_received_on_a_public_holiday_is_outside_hours() -> None:
    received = at("2026-07-14T10:00:00+02:00")
    assert deadline(SOCIAL, received, CALENDAR) == received + 4 * HOUR


def test_social_follows_the_channel_hours_when_given() -> None:
    round_the_clock = BusinessHours(
        days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"), opens=time(0), closes=time.max
    )
    received = at("2026-06-14T23:00:00+02:00")  # Sunday night
    assert deadline(SOCIAL, received, CALENDAR, round_the_clock) == received + 2 * HOUR


def test_social_deadline_before_the_spring_change_is_four_elapsed_hours() -> None:
    due = deadline(SOCIAL, at("2026-03-28T21:00:00+01:00"), CALENDAR)
    assert due == at("2026-03-29T01:00:00+01:00")
    assert local(due).utcoffset() == timedelta(hours=1)


def test_social_deadline_across_the_spring_change_shows_five_hours_on_the_wall_clock() -> None:
    due = deadline(SOCIAL, at("2026-03-28T23:30:00+01:00"), CALENDAR)
    assert due == at("2026-03-29T04:30:00+02:00")
    assert local(due).isoformat() == "2026-03-29T04:30:00+02:00"


def test_social_deadline_across_the_autumn_change_shows_three_hours_on_the_wall_clock() -> None:
    due = deadline(SOCIAL, at("2026-10-24T23:30:00+02:00"), CALENDAR)
    assert due == at("2026-10-25T02:30:00+01:00")
    assert local(due).isoformat() == "2026-10-25T02:30:00+01:00"


# -- social: the two readings ----------------------------------------------------------------

MONOTONIC = BusinessHoursSla(reading="monotonic")
EVERY_DAY = BusinessCalendar(
    CalendarPolicy(hours=BusinessHours(days=WEEKDAYS, closed_on_holidays=False))
)


def due_at(sla: BusinessHoursSla, received: str, calendar: BusinessCalendar = CALENDAR) -> str:
    return to_datetime(deadline(sla, at(received), calendar), calendar.zone).isoformat()


def test_the_literal_reading_is_the_default() -> None:
    assert SOCIAL.reading == "literal"


def test_read_literally_a_message_just_before_opening_is_due_after_one_at_opening() -> None:
    assert due_at(SOCIAL, "2026-06-16T06:59:00+02:00") == "2026-06-16T10:59:00+02:00"
    assert due_at(SOCIAL, "2026-06-16T07:00:00+02:00") == "2026-06-16T09:00:00+02:00"


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-06-16T06:59:00+02:00", "2026-06-16T09:00:00+02:00"),
        ("2026-06-16T05:00:00+02:00", "2026-06-16T09:00:00+02:00"),
        ("2026-06-16T04:59:59+02:00", "2026-06-16T08:59:59+02:00"),
        ("2026-06-16T07:00:00+02:00", "2026-06-16T09:00:00+02:00"),
        ("2026-06-13T19:30:00+02:00", "2026-06-13T21:30:00+02:00"),  # Saturday, as literal
        ("2026-06-13T20:00:00+02:00", "2026-06-14T00:00:00+02:00"),
        ("2026-06-14T06:00:00+02:00", "2026-06-14T10:00:00+02:00"),  # Sunday: closed all day
        ("2026-07-14T06:00:00+02:00", "2026-07-14T10:00:00+02:00"),  # Bastille Day
        ("2026-07-15T06:00:00+02:00", "2026-07-15T09:00:00+02:00"),  # the day after
    ],
)
def test_read_monotonically_a_message_is_never_due_after_one_received_later(
    received: str, due: str
) -> None:
    assert due_at(MONOTONIC, received) == due


def test_read_monotonically_the_morning_after_the_spring_change_counts_elapsed_hours() -> None:
    # Sunday 29 March 2026 opens at 07:00+02:00; 05:30+02:00 is 1 h 30 before it, elapsed.
    assert due_at(MONOTONIC, "2026-03-29T05:30:00+02:00", EVERY_DAY) == "2026-03-29T09:00:00+02:00"
    # 01:30+01:00 is 4 h 30 before it: four elapsed hours end at 06:30+02:00, before 09:00.
    assert due_at(MONOTONIC, "2026-03-29T01:30:00+01:00", EVERY_DAY) == "2026-03-29T06:30:00+02:00"


def test_read_monotonically_the_morning_after_the_autumn_change_counts_elapsed_hours() -> None:
    # 05:30+01:00 on Sunday 25 October 2026: 1 h 30 before 07:00+01:00.
    assert due_at(MONOTONIC, "2026-10-25T05:30:00+01:00", EVERY_DAY) == "2026-10-25T09:00:00+01:00"
    # 02:30+02:00, the first of the two: 5 h 30 elapsed before opening, so four hours, literal.
    assert due_at(MONOTONIC, "2026-10-25T02:30:00+02:00", EVERY_DAY) == "2026-10-25T05:30:00+01:00"


def test_read_monotonically_a_longer_time_within_hours_is_capped_at_closing() -> None:
    # Were the time within hours the longer one, a message just before closing would be due
    # after one received at closing; read monotonically, it is due no later.
    inverted = BusinessHoursSla(within_s=4 * 3600, outside_s=2 * 3600, reading="monotonic")
    assert due_at(inverted, "2026-06-16T19:00:00+02:00") == "2026-06-16T22:00:00+02:00"
    assert due_at(inverted, "2026-06-16T15:00:00+02:00") == "2026-06-16T19:00:00+02:00"


# -- written ----------------------------------------------------------------------------------


def test_written_deadline_of_the_specification_example() -> None:
    # Thursday 24 December 19:00; Christmas Friday and the weekend do not count.
    due = deadline(WRITTEN, at("2026-12-24T19:00:00+01:00"), CALENDAR)
    assert local(due).isoformat() == "2026-12-30T20:00:00+01:00"


def test_written_deadline_crosses_the_year_end_skipping_new_years_day() -> None:
    # Wednesday 30 December: Thu 31 (1), Fri 1 January is a holiday, Mon 4 (2), Tue 5 (3).
    due = deadline(WRITTEN, at("2026-12-30T10:00:00+01:00"), CALENDAR)
    assert local(due).isoformat() == "2027-01-05T20:00:00+01:00"


def test_written_reception_day_never_counts_even_just_after_midnight() -> None:
    due = deadline(WRITTEN, at("2026-06-15T00:00:01+02:00"), CALENDAR)  # Monday
    assert local(due).isoformat() == "2026-06-18T20:00:00+02:00"  # Thursday


def test_written_deadline_counts_from_the_local_reception_day_not_the_utc_one() -> None:
    # 23:30 UTC on Thursday 26 March is already Friday 27 March 00:30 in Paris.
    due = deadline(WRITTEN, at("2026-03-26T23:30:00Z"), CALENDAR)
    assert local(due).isoformat() == "2026-04-01T20:00:00+02:00"


def test_written_deadline_after_the_spring_change_is_20h_summer_time() -> None:
    due = deadline(WRITTEN, at("2026-03-26T10:00:00+01:00"), CALENDAR)  # Thursday
    assert due == at("2026-03-31T20:00:00+02:00")


def test_written_deadline_after_the_autumn_change_is_20h_winter_time() -> None:
    due = deadline(WRITTEN, at("2026-10-22T10:00:00+02:00"), CALENDAR)  # Thursday
    assert due == at("2026-10-27T20:00:00+01:00")


# -- warnings ---------------------------------------------------------------------------------


def test_warning_fires_at_the_given_share_of_the_time_to_deadline() -> None:
    received = at("2026-06-16T10:00:00+02:00")
    assert warning_at(received, received + 4 * HOUR, 0.8) == received + 3 * HOUR + 12 * MINUTE


def test_warning_is_rounded_to_the_whole_second() -> None:
    received = at("2026-12-01T10:00:00+01:00")
    assert warning_at(received, received + 180 * SECOND, 0.67) == received + 121 * SECOND


def test_warning_at_the_full_share_is_the_deadline() -> None:
    received = at("2026-06-16T10:00:00+02:00")
    assert warning_at(received, received + 180 * SECOND, 1.0) == received + 180 * SECOND


# -- a credited wait for the principal --------------------------------------------------------


def test_eight_open_hours_of_waiting_move_a_thursday_evening_deadline_to_friday_afternoon() -> None:
    wait = at("2026-06-16T09:00:00+02:00"), at("2026-06-16T17:00:00+02:00")  # Tuesday
    due = credit_wait(at("2026-06-18T20:00:00+02:00"), *wait, CALENDAR)
    # Not Friday 04:00: the eight hours are the advisor's usable time, from Friday's opening.
    assert local(due).isoformat() == "2026-06-19T15:00:00+02:00"


def test_a_wait_from_friday_evening_to_saturday_morning_credits_its_four_open_hours() -> None:
    wait = at("2026-06-12T19:00:00+02:00"), at("2026-06-13T10:00:00+02:00")
    due = credit_wait(at("2026-06-17T20:00:00+02:00"), *wait, CALENDAR)
    # 19:00-20:00 on Friday and 07:00-10:00 on Saturday; the night credits nothing.
    assert local(due).isoformat() == "2026-06-18T11:00:00+02:00"


def test_a_credited_wait_follows_the_channels_own_hours() -> None:
    weekdays_9_to_17 = BusinessHours(
        days=("mon", "tue", "wed", "thu", "fri"), opens=time(9), closes=time(17)
    )
    wait = at("2026-06-12T16:00:00+02:00"), at("2026-06-15T10:00:00+02:00")  # Fri to Mon
    due = credit_wait(at("2026-06-17T20:00:00+02:00"), *wait, CALENDAR, weekdays_9_to_17)
    assert local(due).isoformat() == "2026-06-18T11:00:00+02:00"  # 1 h + 1 h from Thursday 09:00


def test_a_wait_over_a_sunday_leaves_the_deadline_unchanged() -> None:
    wait = at("2026-06-13T20:00:00+02:00"), at("2026-06-15T07:00:00+02:00")
    original = at("2026-06-17T20:00:00+02:00")
    assert credit_wait(original, *wait, CALENDAR) == original


def test_a_wait_on_a_public_holiday_leaves_the_deadline_unchanged() -> None:
    wait = at("2026-07-14T08:00:00+02:00"), at("2026-07-14T18:00:00+02:00")
    original = at("2026-07-16T20:00:00+02:00")
    assert credit_wait(original, *wait, CALENDAR) == original


def test_a_credit_that_ends_at_closing_time_is_due_at_closing_time() -> None:
    wait = at("2026-06-16T07:00:00+02:00"), at("2026-06-16T20:00:00+02:00")  # a whole day
    due = credit_wait(at("2026-06-17T20:00:00+02:00"), *wait, CALENDAR)
    assert local(due).isoformat() == "2026-06-18T20:00:00+02:00"


# -- invariants -------------------------------------------------------------------------------

RECEPTIONS = st.integers(
    min_value=at("2024-01-01T00:00:00+01:00"), max_value=at("2030-12-31T23:59:59.999999+01:00")
)
FRENCH_HOLIDAYS = holidays.country_holidays("FR", years=range(2024, 2032))


def french_working_days_after(first: date, last: date) -> int:
    """Count Monday-to-Friday non-holidays in ``(first, last]``, without the calendar."""
    days = (first + timedelta(days=n) for n in range(1, (last - first).days + 1))
    return sum(1 for day in days if day.weekday() < 5 and day not in FRENCH_HOLIDAYS)


@settings(deadline=None)
@given(received=RECEPTIONS)
def test_written_deadline_is_20h_local_on_a_working_day(received: int) -> None:
    due = local(deadline(WRITTEN, received, CALENDAR))
    assert due.time() == time(20, 0)
    assert due.weekday() < 5
    assert due.date() not in FRENCH_HOLIDAYS


@settings(deadline=None)
@given(received=RECEPTIONS)
def test_written_deadline_is_the_third_working_day_after_local_reception(received: int) -> None:
    reception_day = local(received).date()
    due_day = local(deadline(WRITTEN, received, CALENDAR)).date()
    assert due_day > reception_day
    assert french_working_days_after(reception_day, due_day) == 3
    assert french_working_days_after(reception_day, due_day - timedelta(days=1)) == 2


@settings(deadline=None)
@given(received=RECEPTIONS)
def test_social_deadline_is_two_hours_when_open_and_four_hours_otherwise(received: int) -> None:
    expected = 2 * HOUR if CALENDAR.is_open(received) else 4 * HOUR
    assert deadline(SOCIAL, received, CALENDAR) - received == expected


@settings(deadline=None)
@given(
    received=RECEPTIONS,
    wait_start_after=st.integers(min_value=0, max_value=20 * 24 * HOUR),
    wait_length=st.integers(min_value=0, max_value=20 * 24 * HOUR),
)
def test_a_credited_deadline_is_the_raw_one_plus_the_open_time_waited(
    received: int, wait_start_after: int, wait_length: int
) -> None:
    raw = deadline(WRITTEN, received, CALENDAR)
    start = received + wait_start_after
    credited = credit_wait(raw, start, start + wait_length, CALENDAR)
    waited = CALENDAR.open_time_between(start, start + wait_length)
    assert credited >= raw
    assert CALENDAR.open_time_between(raw, credited) == waited
    if waited:  # the earliest such instant, and inside opening hours' reach
        assert CALENDAR.open_time_between(raw, credited - 1) == waited - 1


# Receptions within a few hours of an opening or a closing, where the two readings differ.
NEAR_CHANGES = st.builds(
    lambda day, edge, offset: CALENDAR.at_local(day, edge) + offset,
    st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from([time(7), time(20)]),
    st.integers(min_value=-5 * HOUR, max_value=5 * HOUR),
)
LATER_BY = st.one_of(
    st.integers(min_value=0, max_value=1_000), st.integers(min_value=0, max_value=8 * HOUR)
)


def literal_promise(
    sla: BusinessHoursSla, calendar: BusinessCalendar, hours: BusinessHours | None, received: int
) -> None:
    """The tender's words: the time within hours if received in them, else the time outside."""
    allowed = sla.within_s if calendar.is_open(received, hours) else sla.outside_s
    assert deadline(sla, received, calendar, hours) - received == allowed * SECOND


def monotonic_promise(
    sla: BusinessHoursSla,
    calendar: BusinessCalendar,
    hours: BusinessHours | None,
    received: int,
    later: int,
) -> None:
    """Never due after a message received later; never later than read literally; and when
    sooner, due exactly as a message received when the hours next open or close."""
    due = deadline(sla, received, calendar, hours)
    assert due <= deadline(sla, received + later, calendar, hours)
    literal = deadline(msgspec.structs.replace(sla, reading="literal"), received, calendar, hours)
    assert due <= literal
    if due < literal:
        change = calendar.next_change(received, literal, hours)
        assert change is not None
        assert calendar.is_open(change, hours) != calendar.is_open(received, hours)
        assert calendar.is_open(change - 1, hours) == calendar.is_open(received, hours)
        assert due == deadline(sla, change, calendar, hours)


@settings(deadline=None)
@given(
    received=st.one_of(RECEPTIONS, NEAR_CHANGES),
    later=LATER_BY,
    calendar=st.sampled_from([CALENDAR, EVERY_DAY]),
)
def test_read_monotonically_no_message_is_due_after_one_received_later(
    received: int, later: int, calendar: BusinessCalendar
) -> None:
    monotonic_promise(MONOTONIC, calendar, None, received, later)


@functools.cache
def configured_social() -> tuple[BusinessHoursSla, BusinessCalendar, BusinessHours | None]:
    """The social channel's SLA, calendar and hours as the reference configuration sets them."""
    configured = load_config(default_config_path()).settings
    social = configured.channels["social"]
    assert isinstance(social.sla, BusinessHoursSla)
    return social.sla, BusinessCalendar(configured.calendar), social.hours


@settings(deadline=None)
@given(received=st.one_of(RECEPTIONS, NEAR_CHANGES), later=LATER_BY)
def test_the_configured_social_reading_keeps_its_promise(received: int, later: int) -> None:
    sla, calendar, hours = configured_social()
    if sla.reading == "literal":
        literal_promise(sla, calendar, hours, received)
    else:
        monotonic_promise(sla, calendar, hours, received, later)
