"""Tests of the routing strategies: how work and advisors are ranked."""

from __future__ import annotations

import pytest

from aiguillage.engine.advisors import Advisor
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.interactions import Interaction
from aiguillage.engine.policies import ChannelPolicy, ElapsedSla, RoutingPolicy
from aiguillage.engine.routing import (
    STRATEGIES,
    deadline_urgency,
    longest_wait,
    strategy_named,
)

T0: Instant = 1_800_000_000 * SECOND


def call(received_at: Instant = T0, sla_s: int = 180) -> Interaction:
    return Interaction(
        id=1,
        channel="voice",
        source="phone",
        external_id="c1",
        motive=None,
        language="fr",
        skills={},
        need={},
        signature=("fr", ()),
        priority=0,
        typology=None,
        received_at=received_at,
        deadline=received_at + sla_s * SECOND,
        raw_deadline=received_at + sla_s * SECOND,
        warning_at=received_at + sla_s * SECOND * 4 // 5,
    )


def policy(penalty_eur: float) -> ChannelPolicy:
    return ChannelPolicy(sources=("phone",), sla=ElapsedSla(seconds=180), penalty_eur=penalty_eur)


# -- deadline_urgency ---------------------------------------------------------------------------


def test_urgency_is_the_share_of_sla_time_spent_times_the_penalty() -> None:
    score = deadline_urgency(call(), policy(10.0), T0 + 150 * SECOND)
    assert score == pytest.approx(10.0 * 150 / 180)


def test_urgency_of_work_just_received_is_zero() -> None:
    assert deadline_urgency(call(), policy(10.0), T0) == 0.0


def test_urgency_at_the_same_share_grows_with_the_penalty() -> None:
    now = T0 + 90 * SECOND
    low = deadline_urgency(call(), policy(10.0), now)
    high = deadline_urgency(call(), policy(50.0), now)
    assert high == pytest.approx(5 * low)


def test_urgency_compares_shares_not_seconds_waited() -> None:
    # 60 s into a 180 s clock is a third; 60 s into a 7200 s clock is a 120th.
    now = T0 + 60 * SECOND
    short = deadline_urgency(call(sla_s=180), policy(10.0), now)
    long = deadline_urgency(call(sla_s=7200), policy(10.0), now)
    assert (short, long) == pytest.approx((10.0 / 3, 10.0 / 120))


def test_urgency_past_the_deadline_keeps_growing() -> None:
    at_deadline = deadline_urgency(call(), policy(10.0), T0 + 180 * SECOND)
    twice_late = deadline_urgency(call(), policy(10.0), T0 + 360 * SECOND)
    assert (at_deadline, twice_late) == pytest.approx((10.0, 20.0))


def test_urgency_without_a_penalty_weighs_one() -> None:
    assert deadline_urgency(call(), policy(0.0), T0 + 90 * SECOND) == pytest.approx(0.5)


# -- longest_wait -------------------------------------------------------------------------------


def test_longest_wait_is_the_microseconds_waited_since_reception() -> None:
    assert longest_wait(call(), policy(10.0), T0 + 7 * SECOND) == 7_000_000.0


def test_longest_wait_ignores_the_deadline_and_the_penalty() -> None:
    now = T0 + 60 * SECOND
    scores = {
        longest_wait(call(sla_s=180), policy(10.0), now),
        longest_wait(call(sla_s=7200), policy(50.0), now),
    }
    assert scores == {60_000_000.0}


def test_longest_wait_ranks_the_earlier_reception_higher() -> None:
    now = T0 + 60 * SECOND
    older = longest_wait(call(received_at=T0 - SECOND), policy(10.0), now)
    newer = longest_wait(call(received_at=T0), policy(10.0), now)
    assert older > newer


# -- strategies ---------------------------------------------------------------------------------


def test_the_built_in_strategies_are_deadline_and_fifo() -> None:
    assert sorted(STRATEGIES) == ["deadline", "fifo"]


@pytest.mark.parametrize("name", ["deadline", "fifo"])
def test_a_strategy_is_listed_under_its_own_name(name: str) -> None:
    assert STRATEGIES[name].name == name


@pytest.mark.parametrize(
    ("name", "work_score"), [("deadline", deadline_urgency), ("fifo", longest_wait)]
)
def test_a_strategy_ranks_work_with_its_function(name: str, work_score: object) -> None:
    assert STRATEGIES[name].work_score is work_score


@pytest.mark.parametrize("name", ["deadline", "fifo"])
def test_a_strategy_ranks_advisors_by_summed_levels_on_the_skills_needed(name: str) -> None:
    advisor = Advisor(
        id="A1",
        name="A1",
        skills={"refunds": 4, "fines": 2, "general": 5},
        languages=("fr",),
        capacity={"voice": 1},
    )
    score = STRATEGIES[name].advisor_score(advisor, {"refunds": 1, "fines": 1}, T0)
    assert score == 6.0


def test_strategy_named_returns_the_built_in_strategy() -> None:
    assert strategy_named("fifo") is STRATEGIES["fifo"]


def test_the_default_routing_policy_names_a_built_in_strategy() -> None:
    assert strategy_named(RoutingPolicy().strategy).name == "deadline"


def test_an_unknown_strategy_name_is_an_error_that_lists_the_known_names() -> None:
    with pytest.raises(KeyError) as unknown:
        strategy_named("random")
    assert unknown.value.args[0] == "unknown strategy 'random'; known: deadline, fifo"
