"""Arrivals are Poisson per source, shaped by profiles, opening hours and surges."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, time

import numpy as np

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import DAY, HOUR, from_datetime, to_datetime
from aiguillage.engine.policies import BusinessHours, CalendarPolicy
from aiguillage.simulations.scenario import Profile, Surge
from aiguillage.simulations.workload import Mix, Stream, arrivals, hourly_rates

CALENDAR = BusinessCalendar(CalendarPolicy())
MONDAY = from_datetime(datetime.fromisoformat("2027-01-04T00:00:00+01:00"))
PER_HOUR = 24 * 365  # with a flat profile, this yearly volume is one arrival an hour


def draw(streams: list[Stream], days: float, seed: int = 1, mix: Mix | None = None) -> list:
    end = MONDAY + round(days * DAY)
    return arrivals(streams, mix or Mix(), MONDAY, end, np.random.default_rng(seed), CALENDAR)


def test_arrivals_come_in_time_order_within_the_window() -> None:
    drawn = draw([Stream("social", "x", 50 * PER_HOUR)], days=2)
    instants = [at for at, _ in drawn]
    assert instants == sorted(instants)
    assert instants[0] >= MONDAY
    assert instants[-1] < MONDAY + 2 * DAY


def test_a_flat_profile_spreads_the_yearly_volume_evenly() -> None:
    # 100 an hour for 100 hours: Poisson mean 10,000, standard deviation 100.
    drawn = draw([Stream("social", "x", 100 * PER_HOUR)], days=100 / 24)
    assert abs(len(drawn) - 10_000) < 4 * math.sqrt(10_000)


def test_a_year_at_the_profiled_rates_brings_the_yearly_volume() -> None:
    profile = Profile(hourly=(0.0,) * 8 + (2.0,) * 10 + (0.5,) * 6, weekday=(1, 1, 1, 1, 1, 2, 0))
    rates = hourly_rates(Stream("written", "email", 45_000, profile), MONDAY, 365 * 24, CALENDAR)
    assert math.isclose(rates.sum(), 45_000, rel_tol=1e-9)


def test_hours_of_no_weight_get_no_arrivals() -> None:
    profile = Profile(hourly=(0.0,) * 9 + (1.0,) * 8 + (0.0,) * 7)
    drawn = draw([Stream("social", "x", 200 * PER_HOUR, profile)], days=3)
    assert drawn
    assert all(9 <= to_datetime(at, CALENDAR.zone).hour < 17 for at, _ in drawn)


def test_a_closed_line_gets_no_calls() -> None:
    stream = Stream("voice", "phone", 100 * PER_HOUR, open_at=CALENDAR.is_open)
    drawn = draw([stream], days=7)
    assert drawn
    assert all(CALENDAR.is_open(at) for at, _ in drawn)


def test_a_surge_multiplies_the_rate_over_its_window() -> None:
    start = datetime.fromisoformat("2027-01-05T08:00:00+01:00")
    surge = Surge(channel="social", start=start, hours=2.5, factor=5)
    stream = Stream("social", "x", 10 * PER_HOUR)
    rates = hourly_rates(stream, MONDAY, 72, CALENDAR, (surge,))
    begin = (from_datetime(start) - MONDAY) // HOUR
    assert math.isclose(rates[begin], 5 * rates[0])
    assert math.isclose(rates[begin + 1], 5 * rates[0])
    assert math.isclose(rates[begin + 2], 3 * rates[0])  # half the hour at 5x, half at 1x
    assert math.isclose(rates[begin + 3], rates[0])


def test_sources_share_arrivals_in_proportion_to_their_volumes() -> None:
    streams = [Stream("social", "x", 75 * PER_HOUR), Stream("social", "facebook", 25 * PER_HOUR)]
    drawn = draw(streams, days=100 / 24)
    share = Counter(command.source for _, command in drawn)["x"] / len(drawn)
    # Binomial share 0.75 over ~10,000: standard deviation ~0.0043.
    assert abs(share - 0.75) < 4 * 0.0043


def test_motives_languages_and_typologies_follow_the_mix() -> None:
    mix = Mix(motives={"refunds": 1.0}, languages={"en": 1.0}, typologies={"complex": 1.0})
    drawn = draw([Stream("written", "email", 20 * PER_HOUR)], days=0.5, mix=mix)
    assert {(c.motive, c.language, c.typology) for _, c in drawn} == {("refunds", "en", "complex")}
    assert len({c.external_id for _, c in drawn}) == len(drawn)


def test_the_same_seed_draws_the_same_arrivals() -> None:
    stream = Stream("social", "x", 30 * PER_HOUR)
    assert draw([stream], days=1, seed=8) == draw([stream], days=1, seed=8)
    assert draw([stream], days=1, seed=8) != draw([stream], days=1, seed=9)


def test_a_line_opening_at_half_past_gets_calls_from_half_past_only() -> None:
    hours = BusinessHours(opens=time(7, 30), closes=time(19, 30))

    def open_at(at: int) -> bool:
        return CALENDAR.is_open(at, hours)

    drawn = draw([Stream("voice", "phone", 200 * PER_HOUR, open_at=open_at)], days=6)
    assert drawn
    assert all(open_at(at) for at, _ in drawn)
    first_half_hours = [at for at, _ in drawn if to_datetime(at, CALENDAR.zone).hour == 7]
    assert first_half_hours  # 07:30 to 08:00 gets its share
