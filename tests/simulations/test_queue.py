"""The engine, driven as one M/M/c queue, agrees with Erlang C and Erlang A.

Each run pushes 20,000 calls through the real engine (about a second). The tolerance is four
standard errors of the measured figure, estimated by batch means over 20 batches of consecutive
calls (waits of neighbouring calls are correlated, so the binomial error would be too small):
a correct simulator fails such a check about once in 16,000 runs, and these runs are seeded.
Occupancy stays at or below 0.85, where 20,000 calls give a tight estimate; past it the queue's
memory grows long and a check this tight would need millions of calls.
"""

from __future__ import annotations

import pytest

from aiguillage.simulations.queue import QueueRun, run_queue

CALLS = 20_000


def within_four_errors(measured: float, expected: float, error: float) -> bool:
    return abs(measured - expected) <= 4 * error


@pytest.fixture(scope="module")
def busy() -> QueueRun:
    # 120 calls/h of 240 s on 10 advisors: 8 erlangs, occupancy 0.80.
    return run_queue(rate_per_hour=120, aht_s=240, agents=10, target_s=20, arrivals=CALLS, seed=1)


@pytest.fixture(scope="module")
def calm() -> QueueRun:
    # The same traffic on 14 advisors: occupancy 0.57.
    return run_queue(rate_per_hour=120, aht_s=240, agents=14, target_s=20, arrivals=CALLS, seed=2)


@pytest.fixture(scope="module")
def impatient() -> QueueRun:
    # 8 erlangs on 8 advisors, callers patient for 120 s on average: Erlang A.
    return run_queue(
        rate_per_hour=120, aht_s=240, agents=8, target_s=20, arrivals=CALLS, patience_s=120, seed=3
    )


@pytest.mark.parametrize("run", ["busy", "calm"])
def test_service_level_agrees_with_erlang_c(run: str, request: pytest.FixtureRequest) -> None:
    measured: QueueRun = request.getfixturevalue(run)
    assert within_four_errors(
        measured.service_level, measured.formula.service_level, measured.service_level_se
    ), measured


@pytest.mark.parametrize("run", ["busy", "calm"])
def test_mean_wait_agrees_with_erlang_c(run: str, request: pytest.FixtureRequest) -> None:
    measured: QueueRun = request.getfixturevalue(run)
    assert within_four_errors(measured.asa_s, measured.formula.asa_s, measured.asa_se_s), measured


def test_every_call_is_answered_without_patience(busy: QueueRun) -> None:
    assert (busy.offered, busy.answered, busy.abandoned) == (CALLS, CALLS, 0)


def test_occupancy_is_the_offered_load_over_the_advisors(busy: QueueRun) -> None:
    # Busy time over 20,000 calls of mean 240 s: relative standard error 1/sqrt(20,000) = 0.7 %.
    assert busy.occupancy == pytest.approx(0.8, rel=4 * 0.007)


def test_abandonment_agrees_with_erlang_a(impatient: QueueRun) -> None:
    expected = impatient.formula.abandon_rate
    assert expected is not None
    assert within_four_errors(impatient.abandon_rate, expected, impatient.abandon_rate_se)
    assert impatient.abandoned + impatient.answered == CALLS


def test_service_level_agrees_with_erlang_a(impatient: QueueRun) -> None:
    assert within_four_errors(
        impatient.service_level, impatient.formula.service_level, impatient.service_level_se
    ), impatient


def test_the_same_seed_gives_the_same_run() -> None:
    def once() -> QueueRun:
        return run_queue(rate_per_hour=60, aht_s=120, agents=3, target_s=30, arrivals=500, seed=9)

    assert once() == once()
