"""The shared poller's parts: the high-water mark, the daily quota and the polls' spread."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from aiguillage.adapters.channels.social.polling import Mark, Quota, QuotaState, spread_s
from aiguillage.engine.instants import SECOND

PACIFIC = ZoneInfo("America/Los_Angeles")
OVERLAP = 60 * SECOND


def test_a_mark_takes_what_is_later_or_near_and_unseen_and_stays_small() -> None:
    mark = Mark()
    assert mark.new("a", 1_000 * SECOND, OVERLAP)
    mark.took([("a", 1_000 * SECOND), ("b", 1_000 * SECOND), ("c", 900 * SECOND)], OVERLAP)
    assert mark.at == 1_000 * SECOND
    assert sorted(mark.seen) == ["a", "b"]  # c is behind the overlap: its id is not kept
    assert not mark.new("a", 1_000 * SECOND, OVERLAP)  # seen, same second
    assert mark.new("d", 1_000 * SECOND, OVERLAP)  # same second, made visible late
    assert mark.new("e", 970 * SECOND, OVERLAP)  # within the overlap, unseen
    assert not mark.new("c", 900 * SECOND, OVERLAP)  # behind the overlap
    assert mark.older(900 * SECOND, OVERLAP)
    assert not mark.older(970 * SECOND, OVERLAP)
    for n in range(1_000):
        mark.took([(f"x{n}", (1_001 * SECOND) + n)], OVERLAP)
    assert len(mark.seen) == 200
    assert "x999" in mark.seen
    assert "a" not in mark.seen


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=PACIFIC).timestamp()


def test_the_quota_keeps_units_for_answers_and_resets_at_midnight_pacific() -> None:
    now = [_at("2026-12-04T23:00:00")]
    quota = Quota(10_000, 2_000, zone=PACIFIC, clock=lambda: now[0])
    assert quota.resets_in_s() == 3600
    quota.spend(7_999)
    assert quota.can_poll(1)
    assert not quota.can_poll(2)
    assert quota.can_answer(50)
    quota.spend(1)
    assert quota.left_for_polls == 0
    assert quota.left == 2_000
    quota.exhausted()  # Google says so: nothing more today, answers included
    assert quota.left == 0
    assert not quota.can_answer(50)
    assert quota.status()["left"] == 0
    now[0] = _at("2026-12-05T00:00:01")  # midnight in California (08:00 UTC)
    assert quota.left == 10_000
    assert quota.left_for_polls == 8_000
    assert quota.state == QuotaState(day="2026-12-05", used=0)


def test_polls_are_spread_over_what_is_left_of_the_day() -> None:
    now = [_at("2026-12-05T00:00:00")]
    quota = Quota(10_000, 2_000, zone=PACIFIC, clock=lambda: now[0])
    assert spread_s(quota, 1) == pytest.approx(86_400 / 8_000)  # about 11 s
    assert spread_s(quota, 1, least_s=30) == 30
    assert spread_s(quota, 5, fixed_s=2.0) == 2.0
    quota.spend(8_000)
    assert spread_s(quota, 1, fixed_s=2.0) == 86_400  # nothing left for polls: the reset


def test_the_reserve_must_leave_room_for_polls() -> None:
    with pytest.raises(ValueError, match="fewer"):
        Quota(100, 100, zone=PACIFIC)
