"""Drive the engine alone and print its throughput and routing latency.

Workload: the reference deployment's policies (config.toml) with a synthetic roster of 1,000
advisors and a standing backlog of 10,000 waiting interactions across the three channels, in
the reference mix of channels (40,000 calls, 45,000 complaints, 120,000 messages a year),
motives and languages. Each lifecycle is what a runtime would send: arrivals (as many as keep
10,000 waiting), then for the oldest pending offer: accept, first response (picking up a call is
its response), close; the close frees the advisor and the engine routes the next work to it.
Virtual time advances 100 ms per lifecycle with ``advance`` called as a runtime would, so
wrap-ups end, offers time out and SLA warnings and breaches fire as they fall due.

Prints (a) complete lifecycles per second, and (b) the median and 99th percentile of one routing
decision (the engine's choice that ends in an offer, timed inside ``handle``), both kinds: a
freed advisor choosing among queue heads, and an arriving interaction choosing among idle
advisors; then the same choice among 1,000 idle advisors, the widest case.

    python benchmarks/core.py [--lifecycles N] [--seed S]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from collections import deque
from pathlib import Path
from typing import Any

from aiguillage.adapters.config.settings import load_config
from aiguillage.engine.commands import (
    Accept,
    AddAdvisor,
    Close,
    RecordResponse,
    SetAdvisorState,
    SetPolicies,
    Submit,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event, OfferMade
from aiguillage.engine.instants import SECOND, Instant, from_datetime
from aiguillage.engine.policies import CHANNELS, Channel, Policies
from aiguillage.simulations.workload import REFERENCE_YEARLY_VOLUMES

MILLISECOND = SECOND // 1000
ROOT = Path(__file__).resolve().parents[1]
START = from_datetime(__import__("datetime").datetime.fromisoformat("2027-01-05T09:00:00+01:00"))


def roster(policies: Policies, count: int, rng: random.Random) -> list[AddAdvisor]:
    motive_skills = sorted({m.skill for m in policies.motives.values()} - {"general"})
    advisors = []
    for n in range(count):
        skills = {"general": rng.randint(1, 5)}
        for skill in rng.sample(motive_skills, rng.randint(2, 5)):
            skills[skill] = rng.randint(1, 5)
        languages = (
            ("fr",)
            + (("en",) if rng.random() < 0.3 else ())
            + (("es",) if rng.random() < 0.1 else ())
        )
        kind = rng.random()
        capacity: dict[Channel, int] = (
            {"voice": 1, "written": 2, "social": 3}
            if kind < 0.4
            else {"voice": 1, "written": 0, "social": 0}
            if kind < 0.7
            else {"voice": 0, "written": 2, "social": 3}
        )
        advisors.append(
            AddAdvisor(
                advisor_id=f"B{n:04d}", skills=skills, languages=languages, capacity=capacity
            )
        )
    return advisors


class Arrivals:
    """Interactions in the reference mix, each with a fresh external id."""

    def __init__(self, policies: Policies, rng: random.Random) -> None:
        self.rng = rng
        self.motives = sorted(policies.motives)
        self.sources = [(c, s) for c, s, _ in REFERENCE_YEARLY_VOLUMES]
        self.weights = [w for _, _, w in REFERENCE_YEARLY_VOLUMES]
        self.count = 0

    def next(self) -> Submit:
        self.count += 1
        channel, source = self.rng.choices(self.sources, self.weights)[0]
        draw = self.rng.random()
        language = "fr" if draw < 0.9 else "en" if draw < 0.98 else "es"
        return Submit(
            channel=channel,
            source=source,
            external_id=f"bench-{self.count}",
            motive=self.rng.choice(self.motives),
            language=language,
            priority=self.rng.choice((0, 0, 0, 0, 1, 2)),
            typology=self.rng.choice(("simple", "simple", "complex", "transfer"))
            if channel == "written"
            else None,
        )


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000  # ns -> µs


class TimedEngine(Engine):
    """The engine, its two routing decisions timed when they end in an offer.

    A subclass rather than attributes set on an instance: compiled (setup.py), the engine's
    methods cannot be replaced on an instance, and it allows interpreted subclasses.
    """

    def __init__(self) -> None:
        super().__init__()
        self.samples: dict[str, list[int]] = {"_fill": [], "_place": []}

    def _fill(self, advisor_id: str, now: int, out: list[Event]) -> None:
        self._timed("_fill", super()._fill, advisor_id, now, out)

    def _place(self, interaction_id: int, now: int, out: list[Event]) -> None:  # type: ignore[override]
        self._timed("_place", super()._place, interaction_id, now, out)

    def _timed(self, name: str, decide: Any, subject: object, now: int, out: list[Event]) -> None:
        before = len(out)
        begin = time.perf_counter_ns()
        decide(subject, now, out)
        elapsed = time.perf_counter_ns() - begin
        if len(out) > before:
            self.samples[name].append(elapsed)


def churn(
    engine: Engine, policies: Policies, lifecycles: int, seed: int, advisors: int, backlog: int
) -> tuple[int, float]:
    """Run lifecycles against a standing backlog; return how many and the wall time."""
    rng = random.Random(seed)
    now: Instant = START
    engine.handle(SetPolicies(policies=policies), now)
    arrivals = Arrivals(policies, rng)
    for _ in range(backlog):
        engine.handle(arrivals.next(), now)
    pending: deque[OfferMade] = deque()

    def collect(events: list[Event]) -> None:
        pending.extend(e for e in events if isinstance(e, OfferMade))

    for command in roster(policies, advisors, rng):
        engine.handle(command, now)
        collect(
            engine.handle(SetAdvisorState(advisor_id=command.advisor_id, state="available"), now)
        )

    # Draw the arrivals before the clock starts: the loop times the engine, not the dice.
    drawn = [arrivals.next() for _ in range(lifecycles + lifecycles // 5)]
    upcoming = iter(drawn)
    queues = engine.state.queues
    done = 0
    step = 100 * MILLISECOND
    started = time.perf_counter()
    while done < lifecycles:
        now += step
        collect(engine.advance(now))
        while sum(queues.waiting(c) for c in CHANNELS) < backlog:
            collect(engine.handle(next(upcoming, None) or arrivals.next(), now))
        while pending and pending[0].offer_id not in engine.state.offers:
            pending.popleft()  # expired or revoked meanwhile
        if not pending:
            due = engine.next_timer()
            if due is not None and due > now:
                now = due
            continue
        offer = pending.popleft()
        interaction = engine.state.interactions[offer.interaction_id]
        collect(engine.handle(Accept(advisor_id=offer.advisor_id, offer_id=offer.offer_id), now))
        if interaction.channel != "voice":
            engine.handle(
                RecordResponse(advisor_id=offer.advisor_id, interaction_id=interaction.id), now
            )
        collect(
            engine.handle(Close(advisor_id=offer.advisor_id, interaction_id=interaction.id), now)
        )
        done += 1
    wall = time.perf_counter() - started
    return done, wall


def run(lifecycles: int, seed: int, advisors: int, backlog: int) -> None:
    policies = load_config(ROOT / "config.toml").settings.policies()
    # The throughput of the engine as it is; the decisions timed in a second run, by a subclass
    # whose timing would otherwise count against the throughput.
    done, wall = churn(Engine(), policies, lifecycles, seed, advisors, backlog)
    timed = TimedEngine()
    churn(timed, policies, lifecycles, seed, advisors, backlog)
    decisions = timed.samples
    arrivals = Arrivals(policies, random.Random(seed))

    # Arrivals meeting idle advisors: a fresh engine with everyone waiting and no backlog.
    idle = TimedEngine()
    idle.handle(SetPolicies(policies=policies), START)
    staff = roster(policies, advisors, random.Random(seed))
    for command in staff:
        idle.handle(command, START)
        idle.handle(SetAdvisorState(advisor_id=command.advisor_id, state="available"), START)
    idle_decisions = idle.samples
    moment = START
    for _ in range(2000):
        moment += SECOND
        idle.advance(moment)
        for event in idle.handle(arrivals.next(), moment):
            if isinstance(event, OfferMade):
                idle.handle(Accept(advisor_id=event.advisor_id, offer_id=event.offer_id), moment)
                idle.handle(
                    Close(advisor_id=event.advisor_id, interaction_id=event.interaction_id), moment
                )

    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(f"workload: {advisors} advisors, {backlog} waiting, {lifecycles} lifecycles, seed {seed}")
    print(f"(a) lifecycles per second: {done / wall:,.0f}  ({done} in {wall:.2f} s)")

    def summary(samples: list[int]) -> str:
        if not samples:
            return "none in this run"
        median = statistics.median(samples) / 1000
        return f"median {median:.1f} µs, p99 {percentile(samples, 0.99):.1f} µs ({len(samples)})"

    print(f"(b) routing decision, freed advisor among queue heads: {summary(decisions['_fill'])}")
    print(f"    routing decision, arrival among idle advisors:   {summary(decisions['_place'])}")
    print(
        f"    routing decision, arrival among {advisors} idle advisors: "
        f"{summary(idle_decisions['_place'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--advisors", type=int, default=1_000)
    parser.add_argument("--backlog", type=int, default=10_000)
    args = parser.parse_args()
    run(args.lifecycles, args.seed, args.advisors, args.backlog)


if __name__ == "__main__":
    main()
