"""Tests of instants: integer microseconds since the epoch, and the edges with datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiguillage.engine.instants import (
    NaiveDatetimeError,
    from_datetime,
    from_seconds,
    to_datetime,
    to_seconds,
)

PARIS = ZoneInfo("Europe/Paris")
# 1900 to 2200: wide enough for any contract, far from datetime's year 1 and 9999.
INSTANTS = st.integers(min_value=-2_208_988_800_000_000, max_value=7_258_118_400_000_000)


class NoOffset(tzinfo):
    """A time zone that does not know its offset (``utcoffset`` gives ``None``)."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


# -- from_datetime ------------------------------------------------------------------------------


def test_the_epoch_is_instant_zero() -> None:
    assert from_datetime(datetime(1970, 1, 1, tzinfo=UTC)) == 0


def test_an_instant_counts_microseconds_in_utc_whatever_the_offset() -> None:
    one_am_in_paris = datetime.fromisoformat("1970-01-02T01:00:00.000001+01:00")
    assert from_datetime(one_am_in_paris) == 24 * 3600 * 1_000_000 + 1


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        from_datetime(datetime(2026, 12, 1, 10, 0))


def test_a_naive_datetime_is_a_value_error() -> None:
    assert issubclass(NaiveDatetimeError, ValueError)


def test_the_refusal_shows_the_value_with_an_offset_added() -> None:
    with pytest.raises(NaiveDatetimeError) as refused:
        from_datetime(datetime(2026, 12, 1, 10, 0))
    assert str(refused.value) == (
        "2026-12-01T10:00:00 has no UTC offset; give one, for example "
        "2026-12-01T10:00:00+01:00 or 2026-12-01T10:00:00Z"
    )


@pytest.mark.parametrize("suffix", ["+01:00", "Z"])
def test_the_examples_in_the_refusal_are_accepted(suffix: str) -> None:
    naive = datetime(2026, 12, 1, 10, 0, 0, 250_000)
    with pytest.raises(NaiveDatetimeError) as refused:
        from_datetime(naive)
    example = f"{naive.isoformat()}{suffix}"
    assert example in str(refused.value)
    assert from_datetime(datetime.fromisoformat(example)) > 0


def test_a_time_zone_that_gives_no_offset_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        from_datetime(datetime(2026, 12, 1, 10, 0, tzinfo=NoOffset()))


# -- round trips --------------------------------------------------------------------------------


@given(INSTANTS)
def test_an_instant_survives_a_round_trip_through_a_utc_datetime(instant: int) -> None:
    assert from_datetime(to_datetime(instant)) == instant


@given(INSTANTS)
def test_an_instant_survives_a_round_trip_through_paris_local_time(instant: int) -> None:
    assert from_datetime(to_datetime(instant, PARIS)) == instant


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.just(timezone(timedelta(hours=-5, minutes=-30))),
    )
)
def test_an_aware_datetime_survives_a_round_trip_through_an_instant(value: datetime) -> None:
    zone = value.tzinfo
    assert zone is not None
    assert to_datetime(from_datetime(value), zone).isoformat() == value.isoformat()


def test_the_repeated_hour_of_autumn_keeps_its_two_instants_apart() -> None:
    # 2026-10-25 in Paris: 02:30 happens at 00:30Z (summer time) and again at 01:30Z.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=1)
    assert from_datetime(second) - from_datetime(first) == 3600 * 1_000_000


# -- to_datetime --------------------------------------------------------------------------------


def test_to_datetime_is_in_utc_by_default() -> None:
    assert to_datetime(0).isoformat() == "1970-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("utc", "local", "offset_h"),
    [
        ("2026-12-01T09:00:00+00:00", "2026-12-01T10:00:00+01:00", 1),
        ("2026-07-01T08:00:00+00:00", "2026-07-01T10:00:00+02:00", 2),
    ],
    ids=["winter", "summer"],
)
def test_to_datetime_gives_local_time_with_the_offset_in_force(
    utc: str, local: str, offset_h: int
) -> None:
    shown = to_datetime(from_datetime(datetime.fromisoformat(utc)), PARIS)
    assert (shown.isoformat(), shown.utcoffset()) == (local, timedelta(hours=offset_h))


def test_to_datetime_carries_the_zone_it_was_given() -> None:
    assert to_datetime(0, PARIS).tzinfo is PARIS


def test_to_datetime_in_the_repeated_hour_marks_the_second_pass() -> None:
    second_pass = from_datetime(datetime.fromisoformat("2026-10-25T01:30:00+00:00"))
    shown = to_datetime(second_pass, PARIS)
    assert (shown.hour, shown.minute, shown.fold, shown.utcoffset()) == (
        2,
        30,
        1,
        timedelta(hours=1),
    )


# -- seconds ------------------------------------------------------------------------------------


def test_from_seconds_rounds_to_the_nearest_microsecond() -> None:
    assert (from_seconds(1.5), from_seconds(0.0000014)) == (1_500_000, 1)


def test_to_seconds_is_the_inverse_of_from_seconds() -> None:
    assert to_seconds(from_seconds(180.25)) == 180.25
