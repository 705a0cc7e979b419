"""Staffing plans: Erlang for calls, deadline-paced work for messages and complaints."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime

import pytest

from aiguillage.adapters.cli.simulate import deployment_of
from aiguillage.adapters.config.settings import default_config_path, load_config
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import MINUTE, from_datetime
from aiguillage.simulations.erlang import smallest_agents
from aiguillage.simulations.planning import (
    PlanRow,
    _deadline_staffing,
    handling_mean_s,
    hours_to_schedule,
    plan_week,
    scheduled,
)
from aiguillage.simulations.run import Deployment, simulate
from aiguillage.simulations.workload import Stream, hourly_rates

STEP = 30 * MINUTE
MONDAY = from_datetime(datetime.fromisoformat("2027-01-04T00:00:00+01:00"))


@pytest.fixture(scope="module")
def reference() -> Deployment:
    return deployment_of(load_config(default_config_path()))


@pytest.fixture(scope="module")
def plan(reference: Deployment) -> list[PlanRow]:
    return plan_week(reference.policies, reference.scenario, MONDAY)


def starts(count: int) -> list[int]:
    return [MONDAY + i * STEP for i in range(count)]


def test_work_due_within_its_interval_needs_its_rate() -> None:
    # 18 items of 300 s each half-hour, due by its end: 5,400 advisor-seconds = 3 advisors.
    times = starts(10)
    due = [t + STEP for t in times]
    assert _deadline_staffing([18.0] * 10, times, due, STEP, 300, 1.0) == [3] * 10


def test_far_deadlines_let_the_work_spread_over_the_time_left() -> None:
    # The same 10 half-hours of work, due 100 half-hours later: 54,000 s over 180,000 s.
    times = starts(10)
    due = [t + 100 * STEP for t in times]
    assert _deadline_staffing([18.0] * 10, times, due, STEP, 300, 1.0) == [1] * 10


def test_concurrency_divides_the_work() -> None:
    times = starts(4)
    due = [t + STEP for t in times]
    assert _deadline_staffing([18.0] * 4, times, due, STEP, 300, 3.0) == [1] * 4


def test_a_burst_is_spread_until_its_deadline() -> None:
    times = starts(6)
    due = [t + 4 * STEP for t in times]
    # 72 items of 300 s at once (21,600 advisor-seconds), due in four half-hours: 3 a time.
    assert _deadline_staffing([72.0, 0, 0, 0, 0, 0], times, due, STEP, 300, 1.0)[:4] == [3] * 4


def test_no_work_needs_nobody() -> None:
    times = starts(3)
    assert _deadline_staffing([0.0] * 3, times, times, STEP, 300, 1.0) == [0, 0, 0]


def test_a_week_has_one_row_per_half_hour(plan: list[PlanRow]) -> None:
    assert len(plan) == 7 * 48
    assert plan[1].start - plan[0].start == STEP


def test_no_one_answers_calls_while_the_line_is_closed(plan: list[PlanRow]) -> None:
    sunday = plan[6 * 48 : 7 * 48]
    night = [row for row in plan if (row.start - MONDAY) % (48 * STEP) < 14 * STEP]
    assert all(row.needs["voice"] == 0 for row in sunday + night)


def test_messages_are_staffed_at_night_since_they_arrive_then(plan: list[PlanRow]) -> None:
    assert plan[4].needs["social"] > 0  # 02:00 on Monday


def test_voice_is_erlang_at_the_target_before_shrinkage(reference: Deployment) -> None:
    rows = plan_week(reference.policies, reference.scenario, MONDAY)
    ten = rows[20]  # Monday 10:00-10:30
    scenario = reference.scenario
    calendar = BusinessCalendar(reference.policies.calendar)
    stream = Stream(
        "voice",
        "phone",
        scenario.volumes["phone"],
        scenario.profiles["voice"],
        calendar.is_open,
    )
    rate = hourly_rates(stream, MONDAY, 24, calendar)[10] / 3600
    aht = 300 + reference.policies.channels["voice"].wrap_up_s  # talk, then after-call work
    expected = smallest_agents(
        0.8, rate_per_s=rate, aht_s=aht, target_s=180, patience_s=scenario.patience_s
    ).agents
    expected = max(expected, math.ceil(rate * aht / 0.85))
    assert ten.needs["voice"] == expected


def test_shrinkage_turns_advisors_on_the_floor_into_advisors_to_schedule() -> None:
    assert [scheduled(n, 0.3) for n in (0, 1, 2, 7, 10)] == [0, 2, 3, 10, 15]
    assert scheduled(7, 0.0) == 7


def test_written_work_weighs_each_typology_by_its_share(reference: Deployment) -> None:
    scenario = reference.scenario
    shares = scenario.typologies
    expected = sum(
        shares[t] * scenario.written_typologies.get(t, scenario.handling["written"]).mean_s
        for t in shares
    ) / sum(shares.values())
    assert handling_mean_s(scenario, "written") == pytest.approx(expected)
    assert handling_mean_s(scenario, "written") > scenario.handling["written"].mean_s


def test_a_planned_week_meets_the_targets_in_simulation(
    reference: Deployment, plan: list[PlanRow]
) -> None:
    result = simulate(dataclasses.replace(reference, plan=tuple(plan)), days=7, seed=5)
    for channel in result.channels:
        assert channel.service_level >= channel.target_share, channel


def test_shrinkage_takes_a_share_of_the_hours_not_an_advisor_per_interval() -> None:
    assert hours_to_schedule(24, 0.3) == pytest.approx(34.29, abs=0.01)
    assert hours_to_schedule(24, 0.0) == 24


def test_written_complaints_are_staffed_only_within_opening_hours(
    reference: Deployment, plan: list[PlanRow]
) -> None:
    calendar = BusinessCalendar(reference.policies.calendar)
    closed = [row for row in plan if not calendar.is_open(row.start)]
    assert plan[6 * 48 + 6].needs["written"] == 0  # 03:00 on Sunday
    assert all(row.needs["written"] == 0 for row in closed)
    assert sum(row.needs["written"] for row in plan) > 0


def test_work_is_paced_over_the_open_time_left_before_its_deadline() -> None:
    # 18 items of 300 s (5,400 advisor-seconds) due in four half-hours, of which two are open.
    times = starts(4)
    due = [times[0] + 4 * STEP] * 4
    workable = {times[1], times[3]}.__contains__
    staffing = _deadline_staffing([18.0, 0, 0, 0], times, due, STEP, 300, 1.0, workable)
    assert staffing == [0, 2, 0, 1]
