"""The figures' definitions: each ratio, its short abandons, and its empty case."""

from __future__ import annotations

import pytest

from aiguillage.engine import figures


def test_service_level_is_answered_in_time_over_work_with_an_outcome() -> None:
    # 8 answered (6 in time), 2 abandoned, 1 late and still waiting: 6 / 11.
    assert figures.service_level(6, 8, 2, late_open=1) == pytest.approx(6 / 11)


def test_short_abandons_are_left_out_of_the_service_level() -> None:
    # 3 abandoned, 2 of them short: only one counts as missed.
    assert figures.service_level(6, 8, 3, short_abandons=2) == pytest.approx(6 / 9)
    assert figures.service_level(6, 8, 3, short_abandons=0) == pytest.approx(6 / 11)


def test_no_work_with_an_outcome_has_no_service_level() -> None:
    assert figures.service_level(0, 0, 0) is None
    # Only short abandons: nothing counted either.
    assert figures.service_level(0, 0, 2, short_abandons=2) is None


def test_the_average_speed_of_answer_is_the_mean_wait_of_the_answered() -> None:
    assert figures.mean_wait_s(90.0, 3) == pytest.approx(30.0)
    assert figures.mean_wait_s(0.0, 0) is None


def test_the_abandonment_rate_leaves_short_abandons_out_of_both_sides() -> None:
    # 20 arrived, 5 abandoned of which 2 short: 3 / 18.
    assert figures.abandonment_rate(5, 20, 2) == pytest.approx(3 / 18)
    assert figures.abandonment_rate(5, 20) == pytest.approx(5 / 20)
    assert figures.abandonment_rate(2, 2, 2) is None
    assert figures.abandonment_rate(0, 0) is None


def test_a_short_abandon_waited_strictly_less_than_the_threshold() -> None:
    assert figures.is_short_abandon(4.999, 5)
    assert not figures.is_short_abandon(5.0, 5)
    assert not figures.is_short_abandon(0.0, 0)  # 0: none is short


def test_occupancy_and_adherence_are_plain_shares_of_time() -> None:
    assert figures.occupancy(1800.0, 3600.0) == pytest.approx(0.5)
    assert figures.occupancy(0.0, 0.0) is None
    assert figures.adherence(2700.0, 3600.0) == pytest.approx(0.75)
    assert figures.adherence(0.0, 0.0) is None


def test_a_callback_asked_for_is_the_calls_outcome_with_the_wait_it_had() -> None:
    # 8 answered (6 in time), 4 callbacks asked for (3 before the target), 2 abandoned: 9 / 14.
    assert figures.service_level(6, 8, 2, callbacks_within=3, callbacks=4) == pytest.approx(9 / 14)
    # Only callbacks: their waits decide.
    assert figures.service_level(0, 0, 0, callbacks_within=1, callbacks=2) == pytest.approx(0.5)


def test_the_callback_service_level_is_first_attempts_in_time_over_those_with_an_outcome() -> None:
    # 10 made (8 started by their deadline), 2 never attempted and overdue: 8 / 12.
    assert figures.callback_service_level(8, 10, overdue=2) == pytest.approx(8 / 12)
    assert figures.callback_service_level(8, 10) == pytest.approx(0.8)
    assert figures.callback_service_level(0, 0) is None
