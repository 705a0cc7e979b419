"""Arrivals: interactions drawn as Poisson processes, one per channel and source.

Every draw comes from the generator passed in. Shares of motives, languages and typologies are
drawn per interaction. A source's rate may follow opening hours (calls come only while the line
is open): arrivals outside are simply not generated.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from aiguillage.engine.commands import Submit
from aiguillage.engine.instants import HOUR, Instant
from aiguillage.engine.policies import Channel, Typology

__all__ = ["REFERENCE_YEARLY_VOLUMES", "Mix", "Stream", "arrivals"]

T = TypeVar("T")

REFERENCE_YEARLY_VOLUMES: list[tuple[Channel, str, int]] = [
    ("voice", "phone", 40_000),
    ("written", "email", 25_000),
    ("written", "webform", 20_000),
    ("social", "x", 42_000),
    ("social", "facebook", 36_000),
    ("social", "instagram", 24_000),
    ("social", "linkedin", 12_000),
    ("social", "youtube", 6_000),
]
"""The tender's yearly volumes (V1, W1, S1: 40,000 calls, 45,000 complaints, 120,000 social
messages), split across sources; the split between sources is an assumption."""


@dataclass(frozen=True, slots=True)
class Mix:
    """Shares of motives, languages and (for written complaints) typologies."""

    motives: dict[str, float] = field(default_factory=dict)
    languages: dict[str, float] = field(default_factory=lambda: {"fr": 1.0})
    typologies: dict[Typology, float] = field(
        default_factory=lambda: {"simple": 0.6, "complex": 0.25, "transfer": 0.15}
    )


@dataclass(frozen=True, slots=True)
class Stream:
    """One source's arrivals: a mean rate per hour, and when it may arrive."""

    channel: Channel
    source: str
    rate_per_hour: float
    open_at: Callable[[Instant], bool] | None = None


def _pick(rng: random.Random, shares: Mapping[T, float]) -> T | None:
    if not shares:
        return None
    return rng.choices(list(shares), list(shares.values()))[0]


def arrivals(
    streams: list[Stream], mix: Mix, start: Instant, end: Instant, rng: random.Random
) -> Iterator[tuple[Instant, Submit]]:
    """Yield ``(instant, Submit)`` in time order for every stream between start and end."""
    total = sum(stream.rate_per_hour for stream in streams)
    if total <= 0:
        return
    weights = [stream.rate_per_hour for stream in streams]
    now = start
    count = 0
    while True:
        # The superposition of Poisson streams is Poisson at the summed rate; each arrival
        # belongs to one stream with probability proportional to its rate.
        now += round(rng.expovariate(total) * HOUR)
        if now >= end:
            return
        stream = rng.choices(streams, weights)[0]
        motive = _pick(rng, mix.motives)
        language = _pick(rng, mix.languages)
        typology = _pick(rng, mix.typologies) if stream.channel == "written" else None
        if stream.open_at is not None and not stream.open_at(now):
            continue
        count += 1
        yield (
            now,
            Submit(
                channel=stream.channel,
                source=stream.source,
                external_id=f"sim-{count}",
                motive=motive,
                language=language,
                typology=typology,
            ),
        )
