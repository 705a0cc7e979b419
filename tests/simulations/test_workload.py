"""Arrivals are Poisson per source, in time order, and follow opening hours and shares."""

from __future__ import annotations

import math
import random
from collections import Counter

from aiguillage.engine.instants import HOUR
from aiguillage.simulations.workload import Mix, Stream, arrivals

START = 1_800_000_000_000_000


def test_arrivals_come_in_time_order_within_the_window() -> None:
    drawn = list(
        arrivals([Stream("social", "x", 50)], Mix(), START, START + 10 * HOUR, random.Random(1))
    )
    instants = [at for at, _ in drawn]
    assert instants == sorted(instants)
    assert instants[0] > START
    assert instants[-1] < START + 10 * HOUR


def test_the_count_matches_the_rate_within_four_standard_deviations() -> None:
    # Poisson: mean 100/h x 100 h = 10,000, standard deviation sqrt(10,000) = 100.
    drawn = list(
        arrivals([Stream("social", "x", 100)], Mix(), START, START + 100 * HOUR, random.Random(2))
    )
    assert abs(len(drawn) - 10_000) < 4 * math.sqrt(10_000)


def test_sources_share_arrivals_in_proportion_to_their_rates() -> None:
    streams = [Stream("social", "x", 75), Stream("social", "facebook", 25)]
    drawn = list(arrivals(streams, Mix(), START, START + 100 * HOUR, random.Random(3)))
    share = Counter(command.source for _, command in drawn)["x"] / len(drawn)
    # Binomial share 0.75 over ~10,000: standard deviation ~0.0043.
    assert abs(share - 0.75) < 4 * 0.0043


def test_no_arrival_while_a_stream_is_closed() -> None:
    def mornings(at: int) -> bool:
        return (at - START) % (24 * HOUR) < 12 * HOUR

    stream = Stream("voice", "phone", 40, open_at=mornings)
    drawn = list(arrivals([stream], Mix(), START, START + 48 * HOUR, random.Random(4)))
    assert drawn
    assert all(mornings(at) for at, _ in drawn)


def test_motives_languages_and_typologies_follow_the_mix() -> None:
    mix = Mix(motives={"refunds": 1.0}, languages={"en": 1.0}, typologies={"complex": 1.0})
    drawn = list(
        arrivals([Stream("written", "email", 20)], mix, START, START + 5 * HOUR, random.Random(5))
    )
    assert {(c.motive, c.language, c.typology) for _, c in drawn} == {("refunds", "en", "complex")}
    assert len({c.external_id for _, c in drawn}) == len(drawn)


def test_the_same_seed_draws_the_same_arrivals() -> None:
    def draw(seed: int) -> list[object]:
        return list(
            arrivals([Stream("social", "x", 30)], Mix(), START, START + HOUR, random.Random(seed))
        )

    assert draw(8) == draw(8)
