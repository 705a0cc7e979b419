"""The estimated wait told to waiting callers, measured against the waits that followed."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest

from aiguillage.engine.commands import AddAdvisor, SetAdvisorState, SetPolicies, Submit
from aiguillage.engine.engine import Engine
from aiguillage.engine.estimate import RecentHandling, RecentPatience, estimated_wait_s
from aiguillage.engine.events import (
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionResponded,
)
from aiguillage.engine.instants import SECOND
from aiguillage.engine.policies import (
    BusinessHours,
    CalendarPolicy,
    ChannelPolicy,
    ElapsedSla,
    MixingPolicy,
    Policies,
    RoutingPolicy,
)
from aiguillage.simulations.kernel import Behaviour, Simulation
from aiguillage.simulations.outcome import ChannelSummary, RunResult
from aiguillage.simulations.results import Tally
from aiguillage.simulations.run import Deployment, simulate
from aiguillage.simulations.scenario import HandlingTime, Scenario
from aiguillage.simulations.told import Told

ALWAYS = BusinessHours(days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"))


def queue(
    agents: int, *, calls_per_hour: float = 65, patience_s: float | None = None
) -> Deployment:
    """An M/M/c queue: Poisson calls, exponential handling of 240 s, ``agents`` always on."""
    voice = ChannelPolicy(
        sources=("phone",), sla=ElapsedSla(seconds=180), offer_timeout_s=3600, hours=ALWAYS
    )
    policies = Policies(
        calendar=CalendarPolicy(hours=ALWAYS, extra_holidays=()),
        channels={"voice": voice},
        routing=RoutingPolicy(strategy="fifo", mixing=MixingPolicy()),
    )
    roster = tuple(
        (AddAdvisor(advisor_id=f"agent{n}", capacity={"voice": 1}), None) for n in range(agents)
    )
    scenario = Scenario(
        days=3,
        volumes={"phone": round(calls_per_hour * 24 * 365)},
        handling={"voice": HandlingTime(mean_s=240, distribution="exponential")},
        patience_s=patience_s,
        answer_delay_s=0,
    )
    return Deployment(
        name="M/M/c", policies=policies, roster=roster, scenario=scenario, start=date(2027, 1, 4)
    )


def voice(result: RunResult) -> ChannelSummary:
    return next(summary for summary in result.channels if summary.channel == "voice")


@pytest.fixture(scope="module")
def five() -> ChannelSummary:
    return voice(simulate(queue(5)))


def test_in_an_mmc_queue_few_callers_wait_a_minute_beyond_what_they_were_told(
    five: ChannelSummary,
) -> None:
    # 65 calls an hour of 4 minutes on 5 advisors (87 % busy): most callers wait.
    assert five.estimated > 0.4 * five.offered
    assert five.estimated <= five.answered + five.abandoned
    assert five.estimate_late_share <= 0.10
    # Rounded up to the minute, most estimates are above the wait, by less than the mean wait.
    assert 0.5 < five.estimate_over_share < 1
    assert 0 < five.estimate_mae_s < five.mean_wait_s + 60


def test_the_measurement_follows_the_staffing(five: ChannelSummary) -> None:
    six = voice(simulate(queue(6)))
    # Fewer callers wait with one more advisor, and their waits are shorter and closer to what
    # they are told.
    assert six.estimated < five.estimated
    assert six.mean_wait_s < five.mean_wait_s
    assert six.estimate_mae_s < five.estimate_mae_s
    assert (six.estimate_late_share, six.estimate_over_share) != (
        five.estimate_late_share,
        five.estimate_over_share,
    )


def test_impatient_callers_count_among_the_told_but_not_in_the_error() -> None:
    summary = voice(simulate(queue(5, patience_s=120)))
    assert summary.abandoned > 0
    assert summary.estimated <= summary.answered + summary.abandoned
    assert summary.estimated > summary.answered - (summary.offered - summary.estimated)


def test_channels_whose_customers_are_told_nothing_report_nothing() -> None:
    result = simulate(queue(5), days=1)
    for summary in result.channels:
        if summary.channel != "voice":
            assert summary.estimated == 0
            assert summary.estimate_late_share == summary.estimate_mae_s == 0.0


class Witness:
    """The measurement done again beside the run, from the events and the engine's state."""

    def __init__(self, engine: Engine, handling_s: float, patience_s: float) -> None:
        self.engine = engine
        self.recent = RecentHandling({"voice": handling_s})
        self.patience = RecentPatience({"voice": patience_s})
        self.received: dict[int, int] = {}
        self.told: dict[int, tuple[int, int]] = {}
        self.outcomes: list[tuple[float, float, bool]] = []
        """(estimate, wait, answered) in seconds, per told caller with an outcome."""

    def __call__(self, event: Event) -> None:
        state = self.engine.state
        if isinstance(event, InteractionArrived):
            self.received[event.interaction_id] = event.received_at
            if state.interactions[event.interaction_id].status == "queued":
                told = estimated_wait_s(
                    state,
                    event.interaction_id,
                    event.at,
                    self.recent.means(),
                    patience_s=self.patience.means(),
                )
                if told is not None:
                    self.told[event.interaction_id] = (event.received_at, told)
        elif isinstance(event, InteractionResponded | InteractionAbandoned):
            received = self.received.pop(event.interaction_id)
            gone = isinstance(event, InteractionAbandoned)
            self.patience.add("voice", received, event.at, gone)
            given = self.told.pop(event.interaction_id, None)
            if given is not None:
                wait = (event.at - given[0]) / SECOND
                answered = isinstance(event, InteractionResponded)
                self.outcomes.append((given[1], wait, answered))
        elif isinstance(event, InteractionClosed):
            picked_up = state.interactions[event.interaction_id].responded_at
            assert picked_up is not None
            self.recent.add("voice", (event.at - picked_up) / SECOND)


def test_the_figures_are_those_of_the_waits_that_followed() -> None:
    deployment = queue(5)
    engine = Engine()
    start = 1_798_761_600 * SECOND  # 2027-01-01T00:00:00Z
    engine.handle(SetPolicies(policies=deployment.policies), start)
    for command, _ in deployment.roster:
        engine.handle(command, start)
        engine.handle(SetAdvisorState(advisor_id=command.advisor_id, state="available"), start)
    tally = Tally(engine, start, 30, Told(engine, {"voice": 240.0}, {"voice": 900.0}))
    witness = Witness(engine, 240.0, 900.0)
    behaviour = Behaviour(
        handling={"voice": HandlingTime(mean_s=240, distribution="exponential")},
        answer_delay_s=2.0,
        patience_s=600.0,
    )
    simulation = Simulation(engine, random.Random(5), behaviour, observers=[tally, witness])
    gaps = np.random.default_rng(5).exponential(3600 / 65, 2000)
    times = start + np.cumsum(gaps * SECOND).astype(np.int64)
    simulation.schedule_all(
        (at, Submit(channel="voice", source="phone", external_id=str(n)))
        for n, at in enumerate(times.tolist())
    )
    end = int(times[-1]) + 3600 * SECOND
    simulation.run(end)
    result = tally.result(
        end=end, policies=deployment.policies, deployment="M/M/c", seed=5, strategy="fifo"
    )
    summary = voice(result)
    outcomes = witness.outcomes
    answered = [(told, wait) for told, wait, done in outcomes if done]
    assert summary.abandoned > 0
    assert len(outcomes) == summary.estimated > 500
    late = sum(wait - told > 60 for told, wait, _ in outcomes) / len(outcomes)
    assert summary.estimate_late_share == pytest.approx(late)
    error = sum(abs(wait - told) for told, wait in answered) / len(answered)
    assert summary.estimate_mae_s == pytest.approx(error)
    over = sum(wait < told for told, wait in answered) / len(answered)
    assert summary.estimate_over_share == pytest.approx(over)
