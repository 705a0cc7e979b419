"""The rest of a day's traffic: the plan's arrivals from now to the day's end, corrected by
what has arrived so far.

``DayTraffic.of(policies, scenario, day_start, day_end)`` shapes each source's stream for one
local day exactly as the simulator and the daemon's forecast do (``workload.hourly_rates``, the
rates normalised over the 365 days from the day's midnight; opening hours checked in the
simulator's 5-minute slots). ``expected(channel, start, end)`` says how many arrivals the plan
expects between two instants of the day.

The correction is a day-level factor per channel, a gamma-Poisson posterior: the plan's level
is trusted as much as ``prior`` arrivals seen, so with ``a`` arrived where ``e`` were expected
the factor is drawn from Gamma(prior + a, rate prior + e), whose mean is
``(prior + a) / (prior + e)``: the ratio of actual to expected, shrunk toward 1, and the less
traffic seen, the more. Each replication draws its own factor, so the intervals carry the
uncertainty on the day's level as well as the Poisson noise of its arrivals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.commands import Submit
from aiguillage.engine.instants import HOUR, Instant
from aiguillage.engine.policies import Channel, Policies

from .scenario import Scenario
from .workload import SLOT, SLOTS, Mix, Stream, hourly_rates, streams_of

__all__ = ["PRIOR_ARRIVALS", "DayTraffic", "level_factor"]

PRIOR_ARRIVALS = 30.0
"""How many arrivals' worth of belief the plan's level gets against what is seen."""


@dataclass(frozen=True, slots=True)
class _Shaped:
    stream: Stream
    hourly: tuple[float, ...]
    open_slots: tuple[tuple[bool, ...], ...]
    """Per hour, which 5-minute slots may receive arrivals (all of them for a channel that
    takes work while closed)."""


def level_factor(
    arrived: float, expected: float, rng: np.random.Generator, prior: float = PRIOR_ARRIVALS
) -> float:
    """Draw the factor of the plan's level for the rest of the day (see the module)."""
    return float(rng.gamma(prior + arrived, 1.0 / (prior + expected)))


class DayTraffic:
    """The plan's arrivals over one local day, by source, and draws of the rest of it."""

    def __init__(self, shaped: list[_Shaped], start: Instant, end: Instant, mix: Mix) -> None:
        self._shaped = shaped
        self.start = start
        self.end = end
        self.mix = mix

    @classmethod
    def of(cls, policies: Policies, scenario: Scenario, start: Instant, end: Instant) -> DayTraffic:
        """Shape the day from ``start`` (a local midnight) to ``end`` (the next)."""
        calendar = BusinessCalendar(policies.calendar)
        hours = -(-(end - start) // HOUR)
        shaped = []
        for stream in streams_of(policies, scenario, calendar):
            rates = hourly_rates(stream, start, hours, calendar, scenario.surges)
            open_at = stream.open_at
            slots = tuple(
                tuple(
                    True if open_at is None else open_at(start + hour * HOUR + k * SLOT)
                    for k in range(SLOTS)
                )
                for hour in range(hours)
            )
            shaped.append(_Shaped(stream, tuple(rates.tolist()), slots))
        mix = Mix(
            motives=dict(scenario.motives) or dict.fromkeys(policies.motives, 1.0),
            languages=dict(scenario.languages),
            typologies=dict(scenario.typologies),
        )
        return cls(shaped, start, end, mix)

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels the plan gives traffic, in the policies' order."""
        return tuple(dict.fromkeys(s.stream.channel for s in self._shaped))

    def expected(self, channel: Channel, start: Instant, end: Instant) -> float:
        """Arrivals the plan expects on ``channel`` between two instants of the day."""
        return sum(
            sum(self._pieces(shaped, start, end)[1])
            for shaped in self._shaped
            if shaped.stream.channel == channel
        )

    def _pieces(
        self, shaped: _Shaped, start: Instant, end: Instant
    ) -> tuple[list[tuple[Instant, Instant]], list[float]]:
        """The open 5-minute slots between two instants and the arrivals expected in each."""
        spans: list[tuple[Instant, Instant]] = []
        means: list[float] = []
        start, end = max(start, self.start), min(end, self.end)
        if end <= start:
            return spans, means
        for hour in range((start - self.start) // HOUR, -(-(end - self.start) // HOUR)):
            slots = shaped.open_slots[hour]
            opened = sum(slots)
            if not opened or not shaped.hourly[hour]:
                continue
            per_slot = shaped.hourly[hour] / opened
            base = self.start + hour * HOUR
            for k, is_open in enumerate(slots):
                low, high = max(start, base + k * SLOT), min(end, base + (k + 1) * SLOT)
                if is_open and high > low:
                    spans.append((low, high))
                    means.append(per_slot * (high - low) / SLOT)
        return spans, means

    def draw(
        self,
        start: Instant,
        factors: Mapping[Channel, float],
        rng: np.random.Generator,
        prefix: str = "nowcast",
    ) -> list[tuple[Instant, Submit]]:
        """Draw the arrivals from ``start`` to the day's end, each channel's plan times its
        factor, in time order (``external_id``: ``{prefix}-{n}``)."""
        instants: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        for index, shaped in enumerate(self._shaped):
            spans, means = self._pieces(shaped, start, self.end)
            if not spans:
                continue
            counts = rng.poisson(np.asarray(means) * factors.get(shaped.stream.channel, 1.0))
            lows = np.array([low for low, _ in spans], dtype=np.int64)
            widths = np.array([high - low for low, high in spans], dtype=np.int64)
            which = np.repeat(np.arange(len(spans)), counts)
            instants.append(lows[which] + (rng.random(which.size) * widths[which]).astype(np.int64))
            owners.append(np.full(which.size, index))
        if not instants:
            return []
        times = np.concatenate(instants)
        who = np.concatenate(owners)
        order = np.argsort(times, kind="stable")
        times, who = times[order], who[order]
        motives = _choose(rng, self.mix.motives, times.size)
        languages = _choose(rng, self.mix.languages, times.size)
        typologies = _choose(rng, self.mix.typologies, times.size)
        drawn = []
        for n, (instant, index) in enumerate(zip(times.tolist(), who.tolist(), strict=True)):
            stream = self._shaped[index].stream
            drawn.append(
                (
                    instant,
                    Submit(
                        channel=stream.channel,
                        source=stream.source,
                        external_id=f"{prefix}-{n + 1}",
                        motive=motives[n],
                        language=languages[n],
                        typology=typologies[n] if stream.channel == "written" else None,
                    ),
                )
            )
        return drawn


T = TypeVar("T")


def _choose(rng: np.random.Generator, shares: Mapping[T, float], size: int) -> list[T | None]:
    if not shares or size == 0:
        return [None] * size
    names = list(shares)
    weights = np.array([shares[n] for n in names], dtype=float)
    picks = rng.choice(len(names), size=size, p=weights / weights.sum())
    return [names[i] for i in picks]
