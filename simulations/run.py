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
from aiguillage.engine.commands import AddAdvisor, SetPolicies
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event
from aiguillage.engine.instants import DAY, Instant, from_datetime
from aiguillage.engine.policies import BusinessHours, Policies
from aiguillage.engine.routing import strategy_named

from .kernel import Behaviour, Simulation
from .outcome import RunResult
from .results import Tally
from .scenario import Profile, Scenario
from .workload import Mix, Stream, arrivals

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
    engine.handle(SetPolicies(policies=policies, config_digest=deployment.config_digest), begin)
    for command, _ in deployment.roster:
        engine.handle(command, begin)

    tally = Tally(engine, begin, scenario.interval_minutes)
    behaviour = Behaviour(
        handling=dict(scenario.handling),
        by_typology=dict(scenario.written_typologies),
        answer_delay_s=scenario.answer_delay_s,
        first_response_share=scenario.first_response_share,
        patience_s=scenario.patience_s,
    )
    rng = random.Random(int(behaviour_seed.generate_state(1)[0]))
    simulation = Simulation(engine, rng, behaviour, observers=[tally, *observers])
    for command, team in deployment.roster:
        shift = scenario.teams.get(team) if team is not None else None
        simulation.staff(command.advisor_id, shift, begin, end, calendar)

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
    mix = Mix(
        motives=dict(scenario.motives) or dict.fromkeys(policies.motives, 1.0),
        languages=dict(scenario.languages),
        typologies=dict(scenario.typologies),
    )
    generator = np.random.default_rng(traffic_seed)
    for at, submit in arrivals(streams, mix, begin, end, generator, calendar, scenario.surges):
        simulation.schedule(at, submit)
    simulation.run(end)
    return tally.result(
        end=end, policies=policies, deployment=deployment.name, seed=seed, strategy=strategy_name
    )


def _opening(calendar: BusinessCalendar, hours: BusinessHours | None) -> Callable[[Instant], bool]:
    def is_open(at: Instant) -> bool:
        return calendar.is_open(at, hours)

    return is_open
