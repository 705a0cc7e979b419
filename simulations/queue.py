"""One voice queue run through the real engine, beside the Erlang formulas for it.

Poisson arrivals at ``rate_per_hour``, exponential handling times of mean ``aht_s``, ``agents``
identical advisors always available who pick up at once, first come first served and, with
``patience_s``, exponential patience (callers hang up): the M/M/c (Erlang C) and M/M/c+M
(Erlang A) queues. The calls go through ``Engine.handle`` like any others, so this is the
routing core measured against published mathematics.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from aiguillage.engine.commands import AddAdvisor, SetAdvisorState, SetPolicies, Submit
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import (
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionForgotten,
    InteractionResponded,
    OfferAccepted,
)
from aiguillage.engine.instants import DAY, HOUR, SECOND, Instant
from aiguillage.engine.policies import (
    BusinessHours,
    CalendarPolicy,
    ChannelPolicy,
    ElapsedSla,
    MixingPolicy,
    Policies,
    RoutingPolicy,
)

from .erlang import Staffing, staffing
from .kernel import Behaviour, Simulation
from .scenario import HandlingTime

__all__ = ["QueueRun", "run_queue"]

_START: Instant = 1_798_761_600 * SECOND  # 2027-01-01T00:00:00Z: a fixed day, any day run


@dataclass(frozen=True, slots=True)
class QueueRun:
    """What the engine measured on the queue, and what the formula says for the same inputs."""

    offered: int
    answered: int
    abandoned: int
    service_level: float
    """Answered within the target over all offered (abandoned count as not within)."""
    asa_s: float
    """Mean wait of answered calls, seconds."""
    abandon_rate: float
    occupancy: float
    """Busy time over ``agents`` times the time from the first arrival to the last departure."""
    formula: Staffing
    service_level_se: float
    """Standard error of ``service_level`` by batch means (20 batches of consecutive calls):
    calls that wait behind each other are correlated, so the binomial error would flatter."""
    asa_se_s: float
    abandon_rate_se: float


def _policies(target_s: float) -> Policies:
    always = BusinessHours(days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    voice = ChannelPolicy(
        sources=("phone",),
        sla=ElapsedSla(seconds=max(1, round(target_s))),
        # Picked up at once, so an offer never times out; a day is as good as forever, and
        # keeps the engine's timer heap to a day of offers rather than the whole run's.
        offer_timeout_s=24 * 3600,
        hours=always,
    )
    return Policies(
        calendar=CalendarPolicy(hours=always, extra_holidays=()),
        channels={"voice": voice},
        routing=RoutingPolicy(strategy="fifo", mixing=MixingPolicy()),
    )


def run_queue(
    *,
    rate_per_hour: float,
    aht_s: float,
    agents: int,
    target_s: float,
    arrivals: int,
    patience_s: float | None = None,
    seed: int = 1,
) -> QueueRun:
    """Run ``arrivals`` calls through the engine and return the measured figures."""
    if rate_per_hour <= 0 or aht_s <= 0 or agents < 1 or arrivals < 1 or target_s < 0:
        raise ValueError("rate, handling time, agents and arrivals must be positive")
    if seed < 0:
        raise ValueError("the seed must be zero or more")
    formula = staffing(
        rate_per_s=rate_per_hour / 3600,
        aht_s=aht_s,
        agents=agents,
        target_s=target_s,
        patience_s=patience_s,
    )
    traffic_seed, people_seed = np.random.SeedSequence(seed).spawn(2)
    gaps = np.random.default_rng(traffic_seed).exponential(HOUR / rate_per_hour, arrivals)
    times = _START + np.cumsum(gaps).astype(np.int64)

    engine = Engine()
    engine.handle(SetPolicies(policies=_policies(target_s)), _START)
    for n in range(agents):
        engine.handle(AddAdvisor(advisor_id=f"agent{n}", capacity={"voice": 1}), _START)
        engine.handle(SetAdvisorState(advisor_id=f"agent{n}", state="available"), _START)

    record = _Record()
    behaviour = Behaviour(
        handling={"voice": HandlingTime(mean_s=aht_s, distribution="exponential")},
        answer_delay_s=0.0,
        patience_s=patience_s,
    )
    rng = random.Random(int(people_seed.generate_state(1)[0]))
    simulation = Simulation(engine, rng, behaviour, observers=[record])
    simulation.schedule_all(
        (at, Submit(channel="voice", source="phone", external_id=str(n)))
        for n, at in enumerate(times.tolist())
    )
    simulation.run(int(times[-1]) + 365 * DAY)

    target = round(target_s * SECOND)
    # Per call, in arrival order: its wait in seconds, or NaN when the caller hung up.
    waits = np.full(arrivals, np.nan)
    for interaction_id, wait in record.waits.items():
        waits[interaction_id - 1] = wait / SECOND
    answered = ~np.isnan(waits)
    within = answered & (np.nan_to_num(waits, nan=np.inf) <= target / SECOND)
    span = record.last - int(times[0])
    return QueueRun(
        offered=arrivals,
        answered=int(answered.sum()),
        abandoned=record.abandoned,
        service_level=float(within.mean()),
        asa_s=float(waits[answered].mean()) if answered.any() else 0.0,
        abandon_rate=record.abandoned / arrivals,
        occupancy=record.busy / (agents * span) if span > 0 else 0.0,
        formula=formula,
        service_level_se=_batch_error(within.astype(float)),
        asa_se_s=_batch_error(waits, skip_nan=True),
        abandon_rate_se=_batch_error((~answered).astype(float)),
    )


def _batch_error(values: np.ndarray, batches: int = 20, skip_nan: bool = False) -> float:
    """Return the standard error of a mean by batch means over consecutive values."""
    if values.size < batches:
        return float("nan")
    parts = np.array_split(values, batches)
    means = np.array([np.nanmean(p) if skip_nan else p.mean() for p in parts])
    return float(means.std(ddof=1) / np.sqrt(batches))


class _Record:
    """Waits, abandons and busy time, from the events."""

    def __init__(self) -> None:
        self.received: dict[int, Instant] = {}
        self.accepted: dict[int, Instant] = {}
        self.waits: dict[int, int] = {}
        self.abandoned = 0
        self.busy = 0
        self.last: Instant = 0

    def __call__(self, event: Event) -> None:
        kind = type(event)
        if kind is not InteractionForgotten:  # retention bookkeeping, not a departure
            self.last = event.at
        if kind is InteractionArrived:
            self.received[event.interaction_id] = event.received_at  # type: ignore[union-attr]
        elif kind is InteractionResponded:
            interaction_id = event.interaction_id  # type: ignore[union-attr]
            self.waits[interaction_id] = event.at - self.received[interaction_id]
        elif kind is OfferAccepted:
            self.accepted[event.interaction_id] = event.at  # type: ignore[union-attr]
        elif kind is InteractionClosed:
            self.busy += event.at - self.accepted.pop(event.interaction_id)  # type: ignore[union-attr]
        elif kind is InteractionAbandoned:
            self.abandoned += 1
