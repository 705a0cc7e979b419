"""Snapshots: an image restores the same state and clock, and a foreign image is refused clearly.

The hypothesis state machine (``test_engine_properties.py``) checks round trips and a restored
twin on random histories; these tests pin the rules one by one on a small floor.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from aiguillage.engine.commands import (
    Accept,
    Decline,
    RemoveAdvisor,
    SetAdvisorState,
    Submit,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import ClockWentBackwards, EngineError, SnapshotFormatError
from aiguillage.engine.events import Event, OfferMade, SlaBreached
from aiguillage.engine.instants import SECOND
from aiguillage.engine.routing import strategy_named
from aiguillage.engine.snapshots import SNAPSHOT_FORMAT, dump_state, restore_state

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, replayed

T0 = TUESDAY_10H


def call(engine: Engine, external_id: str, now: int) -> list[object]:
    return engine.handle(Submit(channel="voice", source="phone", external_id=external_id), now)


def offer_in(events: list[object]) -> OfferMade:
    (offer,) = [e for e in events if isinstance(e, OfferMade)]
    return offer


@pytest.fixture
def busy(engine: JournaledEngine) -> JournaledEngine:
    """A floor with work in every place: held, offered, declined once, queued; a removed seat."""
    add_advisor(engine, "A0", T0)
    engine.handle(SetAdvisorState(advisor_id="A0", state="offline"), T0)
    engine.handle(RemoveAdvisor(advisor_id="A0"), T0)
    add_advisor(engine, "A1", T0)
    add_advisor(engine, "A2", T0, skills={"general": 3, "refunds": 4})
    first = offer_in(call(engine, "c1", T0))
    engine.handle(Accept(advisor_id=first.advisor_id, offer_id=first.offer_id), T0 + SECOND)
    second = offer_in(call(engine, "c2", T0 + 2 * SECOND))
    engine.handle(Decline(advisor_id=second.advisor_id, offer_id=second.offer_id), T0 + 3 * SECOND)
    call(engine, "c3", T0 + 4 * SECOND)
    engine.advance(T0 + 5 * SECOND)
    return engine


def test_an_image_restores_the_same_state(busy: JournaledEngine) -> None:
    restored = Engine.from_image(busy.image())
    assert restored.snapshot() == busy.snapshot()
    assert restored.image() == busy.image()


def test_an_image_keeps_the_latest_instant_seen(busy: JournaledEngine) -> None:
    restored = Engine.from_image(busy.image())
    assert restored.now == busy.now == T0 + 5 * SECOND
    with pytest.raises(ClockWentBackwards):
        restored.advance(T0 + 4 * SECOND)


def test_a_restored_engine_decides_as_the_original(busy: JournaledEngine) -> None:
    restored = Engine.from_image(busy.image())
    later = T0 + 40 * SECOND  # the declined call may go back to its advisor; offers expire
    assert restored.advance(later) == busy.advance(later)
    assert call(restored, "c4", later) == call(busy, "c4", later)
    assert restored.snapshot() == busy.snapshot()


def test_a_removed_advisors_bit_stays_taken_after_restore(busy: JournaledEngine) -> None:
    restored = Engine.from_image(busy.image())
    assert restored.state.index == busy.state.index == {"A1": 1, "A2": 2}
    assert restored.state.bits.seats == [None, "A1", "A2"]


def test_routing_hints_are_empty_after_restore(busy: JournaledEngine) -> None:
    busy.state.pending_interactions[3] = None
    state = restore_state(dump_state(busy.state, busy.now))
    assert (state.pending_advisors, state.pending_interactions) == ({}, {})


def test_a_strategy_given_on_restore_overrides_the_named_one(busy: JournaledEngine) -> None:
    fifo = strategy_named("fifo")
    assert Engine.from_image(busy.image(), strategy=fifo).strategy is fifo


def test_an_empty_engine_round_trips() -> None:
    empty = Engine()
    assert Engine.from_image(empty.image()).snapshot() == empty.snapshot()


# -- refused images -----------------------------------------------------------------------------


def image_in_format(engine: Engine, found: int) -> bytes:
    fields = msgspec.msgpack.decode(engine.image())
    return msgspec.msgpack.encode({**fields, "format": found})


def test_an_image_from_a_newer_format_is_refused_saying_both_formats_and_what_to_do(
    busy: JournaledEngine,
) -> None:
    with pytest.raises(SnapshotFormatError) as refused:
        Engine.from_image(image_in_format(busy, SNAPSHOT_FORMAT + 1))
    message = refused.value.message
    assert f"format {SNAPSHOT_FORMAT + 1}" in message
    assert f"reads format {SNAPSHOT_FORMAT}" in message
    assert "upgrade" in message
    assert "replaying the journal from its start" in message
    assert refused.value.reason == "snapshot_format"


def test_an_image_from_an_older_format_is_refused_with_a_replay_to_do(
    busy: JournaledEngine,
) -> None:
    with pytest.raises(SnapshotFormatError) as refused:
        Engine.from_image(image_in_format(busy, 0))
    assert "format 0" in refused.value.message
    assert "replaying the journal from its start" in refused.value.message


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"not a snapshot at all",
        msgspec.msgpack.encode(42),
        msgspec.msgpack.encode({"version": 1}),
        msgspec.msgpack.encode({"format": "one"}),
    ],
    ids=["empty", "text", "an-integer", "no-format", "format-not-a-number"],
)
def test_bytes_that_are_not_an_image_are_refused_as_an_engine_error(garbage: bytes) -> None:
    with pytest.raises(EngineError) as refused:
        Engine.from_image(garbage)
    assert isinstance(refused.value, SnapshotFormatError)
    assert not isinstance(refused.value, msgspec.MsgspecError)
    assert refused.value.reason == "snapshot_unreadable"
    assert "replaying the journal from its start" in refused.value.message


def test_a_damaged_image_of_a_known_format_is_refused_with_where_it_broke(
    busy: JournaledEngine,
) -> None:
    fields = msgspec.msgpack.decode(busy.image())
    fields["next_offer_id"] = "seven"
    with pytest.raises(SnapshotFormatError) as refused:
        Engine.from_image(msgspec.msgpack.encode(fields))
    assert refused.value.reason == "snapshot_unreadable"
    assert "$.next_offer_id" in refused.value.message


def test_a_truncated_image_is_refused_as_unreadable(busy: JournaledEngine) -> None:
    with pytest.raises(SnapshotFormatError) as refused:
        Engine.from_image(busy.image()[:-10])
    assert refused.value.reason == "snapshot_unreadable"


# -- older formats ------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data"


def test_an_image_of_format_1_reads_as_replaying_its_journal_builds_the_state() -> None:
    # Written by the code of format 1 (breach timers at the deadline, no raw deadline), with
    # the journal it came from.
    image = (DATA / "snapshot-format-1.msgpack").read_bytes()
    journal = msgspec.json.decode(
        (DATA / "snapshot-format-1.journal.json").read_bytes(), type=list[Event]
    )
    assert msgspec.msgpack.decode(image)["format"] == 1
    upgraded = Engine.from_image(image)
    rebuilt = replayed(journal)
    # Three facts a format-1 image never held: when each arrival was recorded (0 for unknown),
    # the ids of advisors removed before it was taken (its roster has only empty seats), and
    # who handled work no advisor holds any more (work held now names its holder).
    assert {i.accepted_at for i in upgraded.state.interactions.values()} == {0}
    assert (upgraded.state.retired_advisors, rebuilt.state.retired_advisors) == (set(), {"A0"})
    for interaction in upgraded.state.interactions.values():
        held = interaction.status == "assigned"
        assert interaction.handled_by == (interaction.advisor_id if held else None)
        interaction.accepted_at = rebuilt.state.interactions[interaction.id].accepted_at
        interaction.handled_by = rebuilt.state.interactions[interaction.id].handled_by
    upgraded.state.retired_advisors = {"A0"}
    # Nor when each advisor entered its state (0: unknown, shown as no time in state).
    for advisor in upgraded.state.advisors.values():
        assert advisor.state_since == 0
        advisor.state_since = rebuilt.state.advisors[advisor.id].state_since
    assert upgraded.snapshot() == rebuilt.snapshot()
    assert upgraded.next_timer() == rebuilt.next_timer()
    # The breaches to come fire as this code fires them, one microsecond after the deadline.
    later = T0 + 3 * 86_400 * SECOND
    fired = upgraded.advance(later)
    assert fired == rebuilt.advance(later)
    breaches = [event for event in fired if isinstance(event, SlaBreached)]
    assert breaches
    assert all(
        breach.due == upgraded.state.interactions[breach.interaction_id].deadline + 1
        for breach in breaches
    )
    assert upgraded.image() == rebuilt.image()
