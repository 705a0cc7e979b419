"""A simulated run of the reference deployment: reproducible, and its books balance."""

from __future__ import annotations

from datetime import date

import pytest

from aiguillage.adapters.cli.simulate import deployment_of
from aiguillage.adapters.config.settings import default_config_path, load_config
from aiguillage.simulations.outcome import RunResult
from aiguillage.simulations.run import Deployment, simulate


@pytest.fixture(scope="module")
def reference() -> Deployment:
    return deployment_of(load_config(default_config_path()))


@pytest.fixture(scope="module")
def two_days(reference: Deployment) -> RunResult:
    return simulate(reference, days=2, seed=3)


def test_the_same_seed_gives_the_same_result(reference: Deployment, two_days: RunResult) -> None:
    assert simulate(reference, days=2, seed=3) == two_days


def test_another_seed_gives_another_result(reference: Deployment, two_days: RunResult) -> None:
    assert simulate(reference, days=2, seed=4) != two_days


def test_the_run_starts_on_the_configured_date_whatever_the_day(two_days: RunResult) -> None:
    assert two_days.start == "2027-01-04T00:00:00+01:00"
    assert two_days.end == "2027-01-06T00:00:00+01:00"


def test_every_interaction_offered_has_one_outcome_or_none_yet(two_days: RunResult) -> None:
    for channel in two_days.channels:
        assert channel.offered > 0
        settled = channel.answered + channel.abandoned + channel.still_open
        assert settled <= channel.offered + channel.breaches  # a late answer counts once
        assert 0 <= channel.service_level <= 1
        assert 0 <= channel.occupancy <= 1


def test_the_series_cover_the_run_in_half_hours(two_days: RunResult) -> None:
    for channel in two_days.channels:
        rows = two_days.series[channel.channel]
        assert len(rows) == 2 * 48
        assert sum(row.arrivals for row in rows) == channel.offered
        assert sum(row.breaches for row in rows) == channel.breaches


def test_calls_arrive_only_while_the_line_is_open(two_days: RunResult) -> None:
    for row in two_days.series["voice"]:
        hour = int(row.start[11:13])
        if row.arrivals:
            assert 7 <= hour < 20


def test_penalties_are_breaches_times_the_channel_penalty(
    reference: Deployment, two_days: RunResult
) -> None:
    for channel in two_days.channels:
        penalty = reference.policies.channels[channel.channel].penalty_eur
        assert channel.penalties_eur == channel.breaches * penalty


def test_a_later_start_date_moves_the_run(reference: Deployment) -> None:
    result = simulate(reference, days=1, seed=3, start=date(2027, 3, 1))
    assert result.start == "2027-03-01T00:00:00+01:00"
