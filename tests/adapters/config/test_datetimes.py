"""Datetimes at the edges: an offset is required, and instants print in local time."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from aiguillage.adapters.config.datetimes import DatetimeError, format_instant, parse_instant

PARIS = ZoneInfo("Europe/Paris")


def test_an_offset_and_z_name_the_same_instant() -> None:
    assert parse_instant("2026-12-24T18:00:00Z") == parse_instant("2026-12-24T19:00:00+01:00")


def test_a_naive_datetime_is_refused_with_a_way_to_fix_it() -> None:
    with pytest.raises(DatetimeError, match=r"no UTC offset; give one, for example .*\+01:00"):
        parse_instant("2026-12-24T19:00:00")


def test_text_that_is_not_a_datetime_is_refused() -> None:
    with pytest.raises(DatetimeError, match="not an ISO-8601 datetime"):
        parse_instant("24/12/2026 19:00")


def test_an_instant_prints_with_the_local_offset_of_its_season() -> None:
    assert format_instant(parse_instant("2026-07-01T08:00:00Z"), PARIS) == (
        "2026-07-01T10:00:00+02:00"
    )
    assert format_instant(parse_instant("2026-01-01T08:00:00Z"), PARIS) == (
        "2026-01-01T09:00:00+01:00"
    )


def test_microseconds_are_printed_only_when_present() -> None:
    instant = parse_instant("2026-01-01T08:00:00.250000Z")
    assert format_instant(instant, PARIS) == "2026-01-01T09:00:00.250000+01:00"
