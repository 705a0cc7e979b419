"""One simulated run of a deployment: the engine, its roster on shift, a scenario's traffic.

``simulate`` seeds a fresh engine with the deployment's policies and roster (the same commands
the daemon journals at its first start), logs advisors in and out by their teams' shifts, feeds
the scenario's arrivals through the virtual-time kernel, and returns the outcome as data. The
same seed gives the same ``RunResult``, bit for bit, on any day.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.commands import AddAdvisor, SetAdvisorState, SetPolicies
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event
from aiguillage.engine.instants import DAY, Instant, from_datetime
from aiguillage.engine.policies import Channel, Policies
from aiguillage.engine.routing import strategy_named

from .kernel import Behaviour, Simulation
from .outcome import RunResult
from .planning import PLAN_CAPACITY, PlanRow
from .results import Tally
from .scenario import Scenario
from .told import Told
from .workload import Mix, arrivals, streams_of

__all__ = ["Deployment", "simulate"]


@dataclass(frozen=True, slots=True)
class Deployment:
    """What is simulated: policies, roster (each advisor with its team, if any), scenario."""

    name: str
    policies: Policies
    roster: tuple[tuple[AddAdvisor, str | None], ...]
    scenario: Scenario
    start: date
    config_digest: str = ""
    plan: tuple[PlanRow, ...] = ()
    """A staffing plan; when given, it replaces the roster: per interval, that many generalist
    advisors per channel (every skill at level 5, every language) are on duty."""


def simulate(
    deployment: Deployment,
    *,
    days: float | None = None,
    seed: int | None = None,
    strategy: str | None = None,
    start: date | datetime | None = None,
    observers: Iterable[Callable[[Event], None]] = (),
) -> RunResult:
    """Run the deployment in virtual time and return what it achieved.

    ``start`` is a local date (the run starts at its midnight) or an aware datetime; by
    default the deployment's fixed start date, so a seed gives the same run on any day.
    """
    scenario = deployment.scenario
    days = scenario.days if days is None else days
    seed = scenario.seed if seed is None else seed
    policies = deployment.policies
    strategy_name = strategy or policies.routing.strategy
    calendar = BusinessCalendar(policies.calendar)
    start = deployment.start if start is None else start
    if not isinstance(start, datetime):
        start = datetime.combine(start, time(0), calendar.zone)
    begin = from_datetime(start)
    end = begin + round(days * DAY)

    # One seed, two independent streams: traffic (numpy, in bulk) and people (per event).
    traffic_seed, behaviour_seed = np.random.SeedSequence(seed).spawn(2)
    engine = Engine(strategy=strategy_named(strategy_name))
    setup = engine.handle(
        SetPolicies(policies=policies, config_digest=deployment.config_digest), begin
    )
    roster = _plan_roster(deployment) if deployment.plan else deployment.roster
    for command, _ in roster:
        setup += engine.handle(command, begin)
    # The caller's observers see the setup too (a journal of the run starts with it); the
    # tally needs none of it.
    observers = list(observers)
    for observer in observers:
        for event in setup:
            observer(event)

    told = Told(
        engine,
        {c: model.mean_s for c, model in scenario.handling.items()},
        {} if scenario.patience_s is None else {"voice": scenario.patience_s},
    )
    tally = Tally(engine, begin, scenario.interval_minutes, told)
    behaviour = Behaviour(
        handling=dict(scenario.handling),
        by_typology=dict(scenario.written_typologies),
        answer_delay_s=scenario.answer_delay_s,
        first_response_share=scenario.first_response_share,
        patience_s=scenario.patience_s,
        callbacks=scenario.callbacks,
    )
    rng = random.Random(int(behaviour_seed.generate_state(1)[0]))
    simulation = Simulation(
        engine, rng, behaviour, observers=[tally, *observers], estimate=told.estimate_us
    )
    if deployment.plan:
        _follow_plan(simulation, deployment.plan, begin, end)
    else:
        for command, team in deployment.roster:
            shift = scenario.teams.get(team) if team is not None else None
            simulation.staff(command.advisor_id, shift, begin, end, calendar)

    streams = streams_of(policies, scenario, calendar)
    mix = Mix(
        motives=dict(scenario.motives) or dict.fromkeys(policies.motives, 1.0),
        languages=dict(scenario.languages),
        typologies=dict(scenario.typologies),
    )
    generator = np.random.default_rng(traffic_seed)
    simulation.schedule_all(
        arrivals(streams, mix, begin, end, generator, calendar, scenario.surges)
    )
    simulation.run(end)
    return tally.result(
        end=end, policies=policies, deployment=deployment.name, seed=seed, strategy=strategy_name
    )


def _plan_roster(deployment: Deployment) -> tuple[tuple[AddAdvisor, str | None], ...]:
    """Generalist advisors, one channel each, as many as the plan ever needs per channel."""
    policies = deployment.policies
    skills = dict.fromkeys(policies.skills, 5)
    peak: dict[Channel, int] = {}
    for row in deployment.plan:
        for channel, needed in row.needs.items():
            peak[channel] = max(peak.get(channel, 0), needed)
    return tuple(
        (
            AddAdvisor(
                advisor_id=f"plan-{channel}-{n + 1}",
                skills=skills,
                languages=policies.languages,
                capacity={channel: PLAN_CAPACITY.get(channel, 1)},
            ),
            None,
        )
        for channel, count in peak.items()
        for n in range(count)
    )


def _follow_plan(
    simulation: Simulation, plan: tuple[PlanRow, ...], begin: Instant, end: Instant
) -> None:
    """Put on duty, interval by interval, as many of each channel's advisors as planned."""
    on_duty: dict[Channel, int] = {}
    for row in plan:
        if row.start >= end:
            break
        at = max(row.start, begin)
        for channel, needed in row.needs.items():
            current = on_duty.get(channel, 0)
            for n in range(current, needed):
                simulation.schedule(
                    at, SetAdvisorState(advisor_id=f"plan-{channel}-{n + 1}", state="available")
                )
            for n in range(needed, current):
                simulation.schedule(
                    at,
                    SetAdvisorState(
                        advisor_id=f"plan-{channel}-{n + 1}",
                        state="not_ready",
                        reason="end_of_shift",
                    ),
                )
            on_duty[channel] = needed
