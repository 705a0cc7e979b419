"""Arrivals: non-homogeneous Poisson processes, one per source, shaped by profiles.

Each source has a yearly volume. Its rate in a given hour is that volume times the hour's
weight (day of week times hour of day times month, from its channel's ``Profile``, times the
share of the hour the channel is open if it refuses work while closed, as the phone line does,
checked in 5-minute slots), divided by the sum of the weights over the 365 days from the start:
a year at these rates brings the yearly volume. A surge multiplies a channel's rate over its
window, in proportion to the part of each hour it covers. The rate is constant within an hour,
so arrivals are drawn as a Poisson count per hour placed uniformly in its open part, which is
exact for a piecewise-constant rate.

Every draw comes from the ``numpy.random.Generator`` passed in: same seed, same arrivals.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from typing import TypeVar

import numpy as np

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.commands import Submit
from aiguillage.engine.instants import HOUR, Instant, from_datetime, to_datetime
from aiguillage.engine.policies import BusinessHours, Channel, Policies, Typology

from .scenario import Profile, Scenario, Surge

__all__ = ["REFERENCE_YEARLY_VOLUMES", "Mix", "Stream", "arrivals", "hourly_rates", "streams_of"]

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

    motives: Mapping[str, float] = field(default_factory=dict)
    languages: Mapping[str, float] = field(default_factory=lambda: {"fr": 1.0})
    typologies: Mapping[Typology, float] = field(
        default_factory=lambda: {"simple": 0.6, "complex": 0.25, "transfer": 0.15}
    )


@dataclass(frozen=True, slots=True)
class Stream:
    """One source's arrivals: a yearly volume shaped by a profile, and when it may arrive."""

    channel: Channel
    source: str
    yearly: float
    profile: Profile = field(default_factory=Profile)
    open_at: Callable[[Instant], bool] | None = None


def streams_of(policies: Policies, scenario: Scenario, calendar: BusinessCalendar) -> list[Stream]:
    """Return the stream of every source the scenario gives a yearly volume, channel by channel
    in the policies' order: a source takes its channel's profile, and its opening hours when the
    channel refuses work while closed.

    The one reading of a deployment's traffic: the simulator draws from these streams, and
    whoever forecasts a day (the daemon's wallboard) shapes the same ones.
    """
    streams = []
    for channel, policy in policies.channels.items():
        open_at = _opening(calendar, policy.hours) if policy.refuse_when_closed else None
        for source in policy.sources:
            if scenario.volumes.get(source, 0):
                streams.append(
                    Stream(
                        channel,
                        source,
                        scenario.volumes[source],
                        scenario.profiles.get(channel, Profile()),
                        open_at,
                    )
                )
    return streams


def _opening(calendar: BusinessCalendar, hours: BusinessHours | None) -> Callable[[Instant], bool]:
    def is_open(at: Instant) -> bool:
        return calendar.is_open(at, hours)

    return is_open


SLOTS = 12
"""An hour is checked against opening hours in twelve 5-minute slots: a line opening at 07:30
gets calls from 07:30, and none is drawn into its last closed minutes."""
SLOT = HOUR // SLOTS


def hourly_rates(
    stream: Stream,
    start: Instant,
    hours: int,
    calendar: BusinessCalendar,
    surges: tuple[Surge, ...] = (),
) -> np.ndarray:
    """Return the stream's mean arrivals in each of ``hours`` hours from ``start``."""
    return _shape(stream, start, hours, calendar, surges)[0]


def _shape(
    stream: Stream,
    start: Instant,
    hours: int,
    calendar: BusinessCalendar,
    surges: tuple[Surge, ...],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the mean arrivals per hour, and which 5-minute slots of each hour are open."""
    span = max(hours, 365 * 24)
    weights = np.empty(span)
    profile = stream.profile
    open_at = stream.open_at
    slots = np.ones((span, SLOTS), dtype=bool) if open_at is not None else None
    for hour, (weekday, hour_of_day, month) in enumerate(_local_hours(start, span, calendar.zone)):
        instant = start + hour * HOUR
        weight = profile.weekday[weekday] * profile.hourly[hour_of_day] * profile.monthly[month - 1]
        if weight and open_at is not None and slots is not None:
            row = [open_at(instant + k * SLOT) for k in range(SLOTS)]
            slots[hour] = row
            weight *= sum(row) / SLOTS
        weights[hour] = weight
    total = weights[: 365 * 24].sum()
    if total <= 0:
        return np.zeros(hours), None
    rates: np.ndarray = weights[:hours] * (stream.yearly / total)
    for surge in surges:
        if surge.channel != stream.channel:
            continue
        begin = from_datetime(surge.start)
        end = from_datetime(surge.start + timedelta(hours=surge.hours))
        for hour in range(max(0, (begin - start) // HOUR), min(hours, -(-(end - start) // HOUR))):
            low = max(begin, start + hour * HOUR)
            high = min(end, start + (hour + 1) * HOUR)
            if high > low:
                rates[hour] *= 1 + (surge.factor - 1) * (high - low) / HOUR
    return rates, None if slots is None else slots[:hours]


@functools.lru_cache(maxsize=4)
def _local_hours(start: Instant, span: int, zone: tzinfo) -> tuple[tuple[int, int, int], ...]:
    """Return (weekday, hour, month) of each hour from ``start``, in local time.

    Every stream of a run shapes the same hours: they are converted once, not once per stream.
    """
    return tuple(
        (local.weekday(), local.hour, local.month)
        for local in (to_datetime(start + hour * HOUR, zone) for hour in range(span))
    )


def _choose(rng: np.random.Generator, shares: Mapping[T, float], size: int) -> list[T | None]:
    if not shares or size == 0:
        return [None] * size
    names = list(shares)
    weights = np.array([shares[n] for n in names], dtype=float)
    picks = rng.choice(len(names), size=size, p=weights / weights.sum())
    return [names[i] for i in picks]


def arrivals(
    streams: list[Stream],
    mix: Mix,
    start: Instant,
    end: Instant,
    rng: np.random.Generator,
    calendar: BusinessCalendar,
    surges: tuple[Surge, ...] = (),
) -> list[tuple[Instant, Submit]]:
    """Return ``(instant, Submit)`` in time order for every stream between start and end."""
    hours = max(1, -(-(end - start) // HOUR))
    instants: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for index, stream in enumerate(streams):
        rates, slots = _shape(stream, start, hours, calendar, surges)
        counts = rng.poisson(rates)
        hour_of = np.repeat(np.arange(hours), counts)
        base = start + hour_of.astype(np.int64) * HOUR
        offsets = rng.integers(0, HOUR, size=base.size, dtype=np.int64)
        if slots is not None:
            # Within a partly open hour, arrivals fall only in its open slots, uniformly.
            partial: np.ndarray = np.logical_not(slots.all(axis=1))
            for n in np.flatnonzero(partial[hour_of]).tolist():
                opened = np.flatnonzero(slots[hour_of[n]])
                offsets[n] = int(rng.choice(opened)) * SLOT + int(rng.integers(0, SLOT))
        instants.append(base + offsets)
        owners.append(np.full(base.size, index))
    times = np.concatenate(instants) if instants else np.empty(0, dtype=np.int64)
    who = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    keep = times < end
    times, who = times[keep], who[keep]
    order = np.argsort(times, kind="stable")
    times, who = times[order], who[order]
    motives = _choose(rng, mix.motives, times.size)
    languages = _choose(rng, mix.languages, times.size)
    typologies = _choose(rng, mix.typologies, times.size)
    drawn: list[tuple[Instant, Submit]] = []
    for n, (instant, index) in enumerate(zip(times.tolist(), who.tolist(), strict=True)):
        stream = streams[index]
        drawn.append(
            (
                instant,
                Submit(
                    channel=stream.channel,
                    source=stream.source,
                    external_id=f"sim-{n + 1}",
                    motive=motives[n],
                    language=languages[n],
                    typology=typologies[n] if stream.channel == "written" else None,
                ),
            )
        )
    return drawn
