"""The tally counts what happened per channel from the engine's events."""

from __future__ import annotations

import math
import random
import statistics

import msgspec
import pytest

from aiguillage.engine.commands import Abandon, AddAdvisor, SetAdvisorState, SetPolicies, Submit
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import (
    InteractionAbandoned,
    InteractionArrived,
    InteractionResponded,
    SlaBreached,
)
from aiguillage.engine.instants import SECOND
from aiguillage.engine.policies import Channel
from aiguillage.simulations.kernel import Behaviour, Simulation
from aiguillage.simulations.outcome import Estimate, RunResult
from aiguillage.simulations.queue import run_queue
from aiguillage.simulations.results import Tally, mean_interval
from aiguillage.simulations.scenario import HandlingTime
from tests.engine.conftest import TUESDAY_10H, make_policies

T = 1_800_000_000_000_000


def arrived(interaction_id: int, channel: str = "voice") -> InteractionArrived:
    return InteractionArrived(
        at=T,
        interaction_id=interaction_id,
        channel=channel,  # type: ignore[arg-type]
        source="phone",
        external_id=str(interaction_id),
        motive=None,
        language="fr",
        skills={},
        priority=0,
        typology=None,
        received_at=T,
        deadline=T + 180 * SECOND,
        warning_at=T + 144 * SECOND,
    )


def test_service_level_counts_abandons_and_late_open_work_as_missed() -> None:
    tally = Tally()
    for n in range(1, 6):
        tally(arrived(n))
    tally(
        InteractionResponded(at=T + 30 * SECOND, interaction_id=1, advisor_id="A", within_sla=True)
    )
    tally(
        InteractionResponded(at=T + 90 * SECOND, interaction_id=2, advisor_id="A", within_sla=True)
    )
    tally(InteractionAbandoned(at=T + 10 * SECOND, interaction_id=3))
    tally(SlaBreached(at=T + 180 * SECOND, interaction_id=4, due=T + 180 * SECOND))
    voice = tally.channels["voice"]
    # 5 offered: 2 in time, 1 abandoned, 1 late and open, 1 still open in time (no outcome yet).
    assert (voice.offered, voice.answered, voice.abandoned, voice.breaches) == (5, 2, 1, 1)
    assert voice.settled == 4
    assert voice.service_level == 0.5
    assert voice.mean_wait_s == 60.0


def test_work_answered_after_its_breach_is_no_longer_late_and_open() -> None:
    tally = Tally()
    tally(arrived(1))
    tally(SlaBreached(at=T + 180 * SECOND, interaction_id=1, due=T + 180 * SECOND))
    tally(
        InteractionResponded(
            at=T + 200 * SECOND, interaction_id=1, advisor_id="A", within_sla=False
        )
    )
    voice = tally.channels["voice"]
    assert (voice.late_open, voice.settled, voice.service_level) == (0, 1, 0.0)
    assert voice.wait_percentile_s(0.9) == 200.0


def test_the_interval_of_three_replications_uses_students_t() -> None:
    estimate = mean_interval([0.8, 0.9, 1.0])
    # mean 0.9, standard deviation 0.1, t(0.975, 2 degrees of freedom) = 4.303.
    half = 4.303 * 0.1 / math.sqrt(3)
    assert estimate.mean == pytest.approx(0.9)
    assert (estimate.low, estimate.high) == (pytest.approx(0.9 - half), pytest.approx(0.9 + half))


def test_one_replication_has_no_spread() -> None:
    assert mean_interval([0.7]) == Estimate(mean=0.7, low=0.7, high=0.7)


def test_intervals_of_replications_cover_the_true_value_as_often_as_they_claim() -> None:
    # 40 independent runs of an M/M/c queue (occupancy 0.57), whose service level Erlang C
    # gives exactly, in 8 groups of 5 replications: each group's 95 % interval should contain
    # the true value. Eight intervals of 95 % all miss but two or fewer with probability 0.6 %
    # (binomial), so at least 6 of 8 must cover it.
    truth = 0.0
    covered = 0
    for group in range(8):
        runs = [
            run_queue(
                rate_per_hour=120, aht_s=240, agents=14, target_s=20, arrivals=2_000, seed=seed
            )
            for seed in range(5 * group, 5 * group + 5)
        ]
        truth = runs[0].formula.service_level
        estimate = mean_interval([run.service_level for run in runs])
        covered += estimate.low <= truth <= estimate.high
        spread = statistics.stdev(run.service_level for run in runs)
        assert estimate.high - estimate.mean == pytest.approx(2.776 * spread / math.sqrt(5))
    assert covered >= 6, f"{covered} of 8 intervals contain {truth}"


def test_a_caller_who_hangs_up_after_the_breach_is_counted_once() -> None:
    tally = Tally()
    tally(arrived(1))
    tally(SlaBreached(at=T + 180 * SECOND, interaction_id=1, due=T + 180 * SECOND))
    tally(InteractionAbandoned(at=T + 200 * SECOND, interaction_id=1))
    voice = tally.channels["voice"]
    assert (voice.abandoned, voice.late_open, voice.settled) == (1, 0, 1)


def one_advisor_for_an_hour(
    channel: Channel,
    capacity: int,
    handling_s: int,
    arrivals: list[int],
    *,
    interval_minutes: int,
    wrap_up_s: int = 0,
) -> RunResult:
    """One advisor logged in from 10:00 to 11:00 on a Tuesday, items of ``channel`` arriving
    ``arrivals`` seconds after 10:00, each handled in exactly ``handling_s``."""
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies(wrap_up_s=wrap_up_s)), TUESDAY_10H)
    engine.handle(AddAdvisor(advisor_id="A1", capacity={channel: capacity}), TUESDAY_10H)
    tally = Tally(engine, TUESDAY_10H, interval_minutes=interval_minutes)
    fixed = Behaviour(
        handling={channel: HandlingTime(mean_s=handling_s, sd_s=0)},
        answer_delay_s=0,
        patience_s=None,
    )
    simulation = Simulation(engine, random.Random(1), fixed, observers=[tally])
    simulation.schedule(TUESDAY_10H, SetAdvisorState(advisor_id="A1", state="available"))
    source = {"voice": "phone", "social": "x"}[channel]
    for n, after_s in enumerate(arrivals):
        simulation.schedule(
            TUESDAY_10H + after_s * SECOND,
            Submit(channel=channel, source=source, external_id=f"item-{n}"),
        )
    end = TUESDAY_10H + 3600 * SECOND
    simulation.run(end)
    return tally.result(
        end=end, policies=engine.state.policies, deployment="test", seed=1, strategy="deadline"
    )


def test_occupancy_counts_after_call_work_as_busy() -> None:
    result = one_advisor_for_an_hour("voice", 1, 300, [0], interval_minutes=60, wrap_up_s=30)
    voice = next(c for c in result.channels if c.channel == "voice")
    # 300 s on the call, then 30 s of wrap-up, in an hour logged in.
    assert voice.occupancy == pytest.approx(330 / 3600)


def test_occupancy_is_time_with_work_in_hand_whatever_the_load_across_intervals() -> None:
    # One advisor holding up to three social conversations: busy from the first taken (10:00)
    # to the last closed (10:50), its load going 1, 2, 3, 2, 1, 0 meanwhile; intervals of 30
    # minutes cut that stretch at 10:30.
    result = one_advisor_for_an_hour("social", 3, 1800, [0, 600, 1200], interval_minutes=30)
    social = next(c for c in result.channels if c.channel == "social")
    assert social.occupancy == pytest.approx(3000 / 3600)
    assert [row.occupancy for row in result.series["social"]] == pytest.approx([1.0, 1200 / 1800])


def test_a_call_picked_up_at_the_very_deadline_is_met_and_costs_no_penalty() -> None:
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies()), TUESDAY_10H)
    engine.handle(AddAdvisor(advisor_id="A1", capacity={"voice": 1}), TUESDAY_10H)
    tally = Tally(engine, TUESDAY_10H, interval_minutes=60)
    fixed = Behaviour(
        handling={"voice": HandlingTime(mean_s=60, sd_s=0)}, answer_delay_s=0, patience_s=None
    )
    simulation = Simulation(engine, random.Random(1), fixed, observers=[tally])
    simulation.schedule(TUESDAY_10H, Submit(channel="voice", source="phone", external_id="c1"))
    # The only advisor logs in as the 180 s run out, and picks up at once.
    simulation.schedule(
        TUESDAY_10H + 180 * SECOND, SetAdvisorState(advisor_id="A1", state="available")
    )
    end = TUESDAY_10H + 3600 * SECOND
    simulation.run(end)
    assert engine.state.interactions[1].responded_at == engine.state.interactions[1].deadline
    result = tally.result(
        end=end, policies=engine.state.policies, deployment="test", seed=1, strategy="deadline"
    )
    voice = next(c for c in result.channels if c.channel == "voice")
    assert (voice.answered_within_sla, voice.breaches, voice.penalties_eur) == (1, 0, 0.0)
    assert voice.service_level == 1.0


def test_short_abandons_are_counted_apart_and_left_out_of_the_figures() -> None:
    policies = make_policies()
    voice = policies.channels["voice"]
    short = msgspec.structs.replace(voice, short_abandon_s=5.0)
    engine = Engine()
    engine.handle(
        SetPolicies(policies=msgspec.structs.replace(policies, channels={"voice": short})),
        TUESDAY_10H,
    )
    tally = Tally(engine, TUESDAY_10H)
    for n in range(1, 5):
        tally(arrived(n))
    tally(
        InteractionResponded(at=T + 20 * SECOND, interaction_id=1, advisor_id="A", within_sla=True)
    )
    tally(InteractionAbandoned(at=T + 4 * SECOND, interaction_id=2))  # short
    tally(InteractionAbandoned(at=T + 5 * SECOND, interaction_id=3))  # not short: 5 s is enough
    tally(InteractionAbandoned(at=T + 60 * SECOND, interaction_id=4))
    result = tally.channels["voice"]
    assert (result.abandoned, result.short_abandons) == (3, 1)
    assert result.service_level == pytest.approx(1 / 3)
    assert result.abandonment == pytest.approx(2 / 3)


def test_without_a_threshold_no_abandon_is_short() -> None:
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies()), TUESDAY_10H)
    tally = Tally(engine, TUESDAY_10H)
    tally(arrived(1))
    tally(arrived(2))
    tally(InteractionAbandoned(at=T, interaction_id=1))
    tally(InteractionResponded(at=T + SECOND, interaction_id=2, advisor_id="A", within_sla=True))
    result = tally.channels["voice"]
    assert (result.short_abandons, result.service_level, result.abandonment) == (0, 0.5, 0.5)


def test_a_short_abandon_reaches_the_run_result_and_its_interval() -> None:
    engine = Engine()
    policies = make_policies()
    voice = msgspec.structs.replace(policies.channels["voice"], short_abandon_s=5.0)
    channels = {**policies.channels, "voice": voice}
    engine.handle(
        SetPolicies(policies=msgspec.structs.replace(policies, channels=channels)), TUESDAY_10H
    )
    tally = Tally(engine, TUESDAY_10H, interval_minutes=60)
    simulation = Simulation(
        engine,
        random.Random(1),
        Behaviour(handling={}, answer_delay_s=0, patience_s=None),
        observers=[tally],
    )
    simulation.schedule(TUESDAY_10H, Submit(channel="voice", source="phone", external_id="c1"))
    simulation.schedule(TUESDAY_10H + 2 * SECOND, Abandon(interaction_id=1))
    end = TUESDAY_10H + 3600 * SECOND
    simulation.run(end)
    result = tally.result(
        end=end, policies=engine.state.policies, deployment="test", seed=1, strategy="deadline"
    )
    summary = next(c for c in result.channels if c.channel == "voice")
    assert (summary.abandoned, summary.short_abandons, summary.abandonment) == (1, 1, 0.0)
    assert summary.service_level == 1.0  # nothing with an outcome: nothing missed
    assert result.series["voice"][0].short_abandons == 1
