"""The virtual-time kernel drives the real engine: same seed, same run; time only forward."""

from __future__ import annotations

import random

import numpy as np
import pytest

from aiguillage.engine.commands import AddAdvisor, SetAdvisorState, SetPolicies, Submit
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import (
    Event,
    InteractionAbandoned,
    InteractionClosed,
    InteractionResponded,
)
from aiguillage.engine.instants import HOUR, SECOND
from aiguillage.simulations.kernel import Behaviour, Simulation, draw_handling
from aiguillage.simulations.scenario import HandlingTime
from aiguillage.simulations.workload import Mix, Stream, arrivals
from tests.engine.conftest import TUESDAY_10H, make_policies


def staffed_engine(advisors: int) -> Engine:
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies()), TUESDAY_10H)
    for n in range(advisors):
        engine.handle(
            AddAdvisor(
                advisor_id=f"A{n}",
                skills={"general": 3, "refunds": 3, "fines": 3},
                capacity={"voice": 1, "written": 2, "social": 3},
            ),
            TUESDAY_10H,
        )
        engine.handle(SetAdvisorState(advisor_id=f"A{n}", state="available"), TUESDAY_10H)
    return engine


def run(seed: int, advisors: int = 3, behaviour: Behaviour | None = None) -> list[Event]:
    engine = staffed_engine(advisors)
    log: list[Event] = []
    simulation = Simulation(engine, random.Random(seed), behaviour, observers=[log.append])
    per_hour = 24 * 365  # a yearly volume of this many is one an hour, with a flat profile
    streams = [
        Stream("voice", "phone", 30 * per_hour),
        Stream("social", "x", 20 * per_hour),
        Stream("written", "email", 5 * per_hour),
    ]
    mix = Mix(motives={"refunds": 1, "fines": 1})
    end = TUESDAY_10H + 2 * HOUR
    traffic = np.random.default_rng(seed + 1)
    for at, command in arrivals(streams, mix, TUESDAY_10H, end, traffic, engine.state.calendar):
        simulation.schedule(at, command)
    simulation.run(end)
    return log


def test_the_same_seed_gives_the_same_run_event_for_event() -> None:
    assert run(5) == run(5)


def test_another_seed_gives_another_run() -> None:
    assert run(5) != run(6)


def test_the_clock_only_moves_forward() -> None:
    instants = [event.at for event in run(3)]
    assert instants == sorted(instants)


def test_simulated_advisors_answer_and_close_what_they_take() -> None:
    log = run(3, advisors=6)
    responded = {e.interaction_id for e in log if isinstance(e, InteractionResponded)}
    closed = {e.interaction_id for e in log if isinstance(e, InteractionClosed)}
    assert len(closed) > 50
    assert closed <= responded


def test_callers_hang_up_when_their_patience_runs_out() -> None:
    engine = staffed_engine(0)
    log: list[Event] = []
    patient = Behaviour(patience_s=60)
    simulation = Simulation(engine, random.Random(1), patient, observers=[log.append])
    for n in range(20):
        simulation.schedule(
            TUESDAY_10H + n * SECOND, Submit(channel="voice", source="phone", external_id=f"c{n}")
        )
    simulation.run(TUESDAY_10H + HOUR)
    assert sum(isinstance(e, InteractionAbandoned) for e in log) == 20
    assert simulation.refused == 0


def test_a_hang_up_after_pick_up_is_not_sent() -> None:
    log = run(4, advisors=8, behaviour=Behaviour(patience_s=30))
    abandoned = {e.interaction_id for e in log if isinstance(e, InteractionAbandoned)}
    responded = {e.interaction_id for e in log if isinstance(e, InteractionResponded)}
    assert not abandoned & responded


def test_lognormal_handling_times_have_the_configured_mean() -> None:
    rng = random.Random(9)
    draws = [draw_handling(HandlingTime(mean_s=300, sd_s=150), rng) for _ in range(40_000)]
    mean = sum(draws) / len(draws)
    # Standard error of the mean: 150 / sqrt(40,000) = 0.75 s; four of them is 3 s.
    assert abs(mean - 300) < 3


def test_arrivals_scheduled_all_at_once_run_as_if_scheduled_one_by_one() -> None:
    def logged(all_at_once: bool) -> list[Event]:
        engine = staffed_engine(2)
        log: list[Event] = []
        simulation = Simulation(engine, random.Random(9), Behaviour(), observers=[log.append])
        # Shifts first, then arrivals, some at the very instants of the shift changes: ties
        # must go in the order scheduled, whichever list a command waits in.
        simulation.schedule(TUESDAY_10H + HOUR, SetAdvisorState(advisor_id="A0", state="not_ready"))
        simulation.schedule(
            TUESDAY_10H + 2 * HOUR, SetAdvisorState(advisor_id="A0", state="available")
        )
        calls = [
            (
                TUESDAY_10H + n * 90 * SECOND,
                Submit(channel="voice", source="phone", external_id=f"c{n}"),
            )
            for n in range(120)
        ]
        if all_at_once:
            simulation.schedule_all(calls)
        else:
            for at, command in calls:
                simulation.schedule(at, command)
        simulation.run(TUESDAY_10H + 4 * HOUR)
        return log

    assert logged(all_at_once=True) == logged(all_at_once=False)


def test_schedule_all_refuses_commands_out_of_time_order() -> None:
    simulation = Simulation(staffed_engine(0), random.Random(1))
    late, early = TUESDAY_10H + HOUR, TUESDAY_10H
    submit = Submit(channel="voice", source="phone", external_id="c")
    with pytest.raises(ValueError, match="time order"):
        simulation.schedule_all([(late, submit), (early, submit)])
