"""Schedules: a day's planned shifts, journaled, checked, kept a week, and in snapshots."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from aiguillage.engine.commands import SetSchedule
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import InvalidCommand
from aiguillage.engine.events import Event, ScheduleSet
from aiguillage.engine.instants import HOUR, MINUTE
from aiguillage.engine.schedules import Shift

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, at, replayed

T0 = TUESDAY_10H  # Tuesday 1 December 2026, 10:00 in Paris
DAY = "2026-12-01"
DATA = Path(__file__).parent / "data"


def shift(advisor_id: str, start: str, end: str, activity: str = "work") -> Shift:
    return Shift(
        advisor_id=advisor_id,
        start=at(f"{DAY}T{start}:00+01:00"),
        end=at(f"{DAY}T{end}:00+01:00"),
        activity=activity,
    )


@pytest.fixture
def staffed(engine: JournaledEngine) -> JournaledEngine:
    add_advisor(engine, "A1", T0, available=False)
    add_advisor(engine, "A2", T0, available=False)
    return engine


def test_a_day_schedule_is_journaled_and_kept_by_day(staffed: JournaledEngine) -> None:
    shifts = (
        shift("A1", "09:00", "12:00"),
        shift("A1", "12:00", "13:00", "lunch"),
        shift("A1", "13:00", "17:00"),
        shift("A2", "13:00", "20:00"),
    )
    events = staffed.handle(SetSchedule(day=DAY, shifts=shifts), T0)
    assert events == [ScheduleSet(at=T0, day=DAY, shifts=shifts)]
    assert staffed.state.schedules == {DAY: shifts}


def test_a_new_schedule_replaces_the_day_and_an_empty_one_clears_it(
    staffed: JournaledEngine,
) -> None:
    staffed.handle(SetSchedule(day=DAY, shifts=(shift("A1", "09:00", "17:00"),)), T0)
    again = (shift("A2", "09:00", "17:00"),)
    staffed.handle(SetSchedule(day=DAY, shifts=again), T0)
    assert staffed.state.schedules == {DAY: again}
    staffed.handle(SetSchedule(day=DAY), T0)
    assert staffed.state.schedules == {}


def test_days_older_than_a_week_are_dropped_on_a_new_set(staffed: JournaledEngine) -> None:
    staffed.handle(SetSchedule(day=DAY, shifts=(shift("A1", "09:00", "17:00"),)), T0)

    def set_day_after(days: int) -> None:
        now = T0 + days * 24 * HOUR
        later = Shift(advisor_id="A1", start=now, end=now + HOUR)
        day = f"2026-12-{1 + days:02d}"
        staffed.handle(SetSchedule(day=day, shifts=(later,)), now)

    set_day_after(7)  # a week later, the day is still kept
    assert list(staffed.state.schedules) == [DAY, "2026-12-08"]
    set_day_after(8)
    assert list(staffed.state.schedules) == ["2026-12-08", "2026-12-09"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (SetSchedule(day="1/12/2026"), "not a date written YYYY-MM-DD"),
        (SetSchedule(day="2026-02-30"), "is not a date"),
        (SetSchedule(day="2026-11-20"), "more than 7 days ago"),
        (SetSchedule(day="2028-01-01"), "more than 366 days ahead"),
        (
            SetSchedule(day=DAY, shifts=(shift("A1", "09:00", "08:00"),)),
            "shift 1: the shift ends before it starts",
        ),
        (
            SetSchedule(day="2026-12-02", shifts=(shift("A1", "09:00", "17:00"),)),
            "shift 1: the shift starts at 2026-12-01T09:00:00+01:00, not on 2026-12-02",
        ),
        (
            SetSchedule(day=DAY, shifts=(shift("A1", "09:00", "10:00", "Pause déj"),)),
            "shift 1: activity 'Pause déj' is neither `work` nor a reason code",
        ),
        (
            SetSchedule(
                day=DAY,
                shifts=(shift("A1", "09:00", "17:00"), shift("A1", "12:00", "13:00", "lunch")),
            ),
            "shift 2: advisor 'A1' has two shifts at once",
        ),
        (
            SetSchedule(day=DAY, shifts=(shift("Z9", "09:00", "17:00"),)),
            "shift 1: no advisor 'Z9' in the roster",
        ),
    ],
)
def test_a_bad_schedule_is_refused_saying_which_shift(
    staffed: JournaledEngine, command: SetSchedule, message: str
) -> None:
    with pytest.raises(InvalidCommand, match=re.escape(message)) as refused:
        staffed.handle(command, T0)
    assert staffed.state.schedules == {}
    assert refused.value.reason in ("invalid_schedule", "unknown_advisor")


def test_a_shift_longer_than_a_day_is_refused(staffed: JournaledEngine) -> None:
    start = at(f"{DAY}T09:00:00+01:00")
    long = Shift(advisor_id="A1", start=start, end=start + 24 * HOUR + MINUTE)
    with pytest.raises(InvalidCommand, match="more than 24 hours"):
        staffed.handle(SetSchedule(day=DAY, shifts=(long,)), T0)


def test_replay_and_snapshots_keep_the_schedules(staffed: JournaledEngine) -> None:
    shifts = (shift("A1", "09:00", "12:00"), shift("A1", "12:00", "13:00", "lunch"))
    staffed.handle(SetSchedule(day=DAY, shifts=shifts), T0)
    tomorrow = Shift(
        advisor_id="A2",
        start=T0 + 24 * HOUR,
        end=T0 + 25 * HOUR,
    )
    staffed.handle(SetSchedule(day="2026-12-02", shifts=(tomorrow,)), T0)
    assert replayed(staffed.journal).snapshot() == staffed.snapshot()
    restored = Engine.from_image(staffed.image())
    assert restored.state.schedules == staffed.state.schedules
    assert restored.snapshot() == staffed.snapshot()
    assert restored.image() == staffed.image()


def test_an_image_of_format_3_reads_without_schedules_as_replaying_its_journal() -> None:
    # Written by the code of format 3 (no schedules), with the journal it came from.
    image = (DATA / "snapshot-format-3.msgpack").read_bytes()
    journal = msgspec.json.decode(
        (DATA / "snapshot-format-3.journal.json").read_bytes(), type=list[Event]
    )
    assert msgspec.msgpack.decode(image)["format"] == 3
    upgraded = Engine.from_image(image)
    rebuilt = replayed(journal)
    assert upgraded.state.schedules == {}
    assert upgraded.state.messages  # what format 3 added is kept
    # Nor did it keep when each advisor entered its state (0: unknown, no time in state shown).
    for advisor in upgraded.state.advisors.values():
        assert advisor.state_since == 0
        advisor.state_since = rebuilt.state.advisors[advisor.id].state_since
    # Nor when its ended work is forgotten (``None``: when its retention ends, outbox empty).
    for interaction in upgraded.state.interactions.values():
        assert interaction.forget_at is None
        interaction.forget_at = rebuilt.state.interactions[interaction.id].forget_at
    assert upgraded.snapshot() == rebuilt.snapshot()
    assert upgraded.image() == rebuilt.image()
    later = upgraded.now + 3 * 86_400 * 1_000_000
    assert upgraded.advance(later) == rebuilt.advance(later)
