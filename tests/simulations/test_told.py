"""The estimated wait told to waiting callers, measured against the waits that followed."""

from __future__ import annotations

from datetime import date

import pytest

from aiguillage.engine.commands import AddAdvisor
from aiguillage.engine.policies import (
    BusinessHours,
    CalendarPolicy,
    ChannelPolicy,
    ElapsedSla,
    MixingPolicy,
    Policies,
    RoutingPolicy,
)
from aiguillage.simulations.outcome import ChannelSummary, RunResult
from aiguillage.simulations.run import Deployment, simulate
from aiguillage.simulations.scenario import HandlingTime, Scenario

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
