"""A supervisor's hand on the queues, and the final motive of closed work.

``Prioritise`` and ``Move`` steer waiting, offered or held work; ``SetAdvisorState.by`` takes
an advisor away with its work; ``Transfer.to_advisor`` names who gets transferred work first;
``Close.motive`` records what the work turned out to be about. Each is checked for what it
decides, what it refuses (leaving no trace), and that its events replay to the same state.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from aiguillage.engine.commands import (
    Accept,
    Close,
    Command,
    Move,
    Prioritise,
    SetAdvisorState,
    Submit,
    Transfer,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import (
    EngineError,
    IllegalTransition,
    InvalidCommand,
    Refused,
    UnknownAdvisor,
)
from aiguillage.engine.events import (
    AdvisorStateChanged,
    InteractionClosed,
    InteractionMoved,
    InteractionReprioritised,
    OfferMade,
    OfferRevoked,
)
from aiguillage.engine.instants import SECOND

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, replayed

E = TypeVar("E")
T0 = TUESDAY_10H
SOURCES = {"voice": "phone", "written": "email", "social": "x"}


def only(events: list[Any], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def submit(engine: Engine, external_id: str, now: int = T0, **fields: Any) -> list[Any]:
    fields.setdefault("channel", "written")
    fields.setdefault("source", SOURCES[fields["channel"]])
    return engine.handle(Submit(external_id=external_id, **fields), now)


def held_by(engine: Engine, advisor_id: str, external_id: str, now: int = T0) -> int:
    """Submit written work, let ``advisor_id`` (alone available) accept it; return its id."""
    (offer,) = only(submit(engine, external_id, now), OfferMade)
    assert offer.advisor_id == advisor_id
    engine.handle(Accept(advisor_id=advisor_id, offer_id=offer.offer_id), now)
    return offer.interaction_id


def refused(engine: Engine, command: Command, error: type[EngineError], match: str) -> None:
    before = engine.snapshot()
    with pytest.raises(error, match=match):
        engine.handle(command, T0 + 5 * SECOND)
    assert engine.snapshot() == before


def assert_replays(engine: JournaledEngine) -> None:
    assert replayed(engine.journal).snapshot() == engine.snapshot()


# -- prioritise ---------------------------------------------------------------------------------


def test_prioritised_work_takes_the_place_its_new_key_gives(engine: JournaledEngine) -> None:
    for name in ("m1", "m2", "m3"):
        submit(engine, name, priority=2)
    assert engine.state.queues.ordered("written") == [1, 2, 3]
    events = engine.handle(
        Prioritise(interaction_id=3, priority=7, by="token:7", reason="urgent"), T0 + SECOND
    )
    assert events == [
        InteractionReprioritised(
            at=T0 + SECOND, interaction_id=3, priority=7, previous=2, by="token:7", reason="urgent"
        )
    ]
    assert engine.state.queues.ordered("written") == [3, 1, 2]
    assert engine.state.interactions[3].deadline == engine.state.interactions[1].deadline
    add_advisor(engine, "A1", T0 + 2 * SECOND)
    assert engine.state.interactions[3].status == "offered"  # first served
    assert_replays(engine)


def test_prioritising_offered_work_revokes_the_offer_first(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0, capacity={"written": 1})
    (offer,) = only(submit(engine, "m1"), OfferMade)
    submit(engine, "m2", priority=2)
    events = engine.handle(
        Prioritise(interaction_id=1, priority=0, by="token:7", reason="rebalance"), T0 + SECOND
    )
    revoked, reprioritised, made = events
    assert isinstance(revoked, OfferRevoked)
    assert revoked.offer_id == offer.offer_id
    assert isinstance(reprioritised, InteractionReprioritised)
    # Its new, lower priority puts the other work first: the freed advisor takes that.
    assert isinstance(made, OfferMade)
    assert made.interaction_id == 2
    assert engine.state.queues.ordered("written") == [1]
    assert_replays(engine)


def test_held_or_ended_work_is_not_prioritised(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0)
    held = held_by(engine, "A1", "m1")
    refused(
        engine,
        Prioritise(interaction_id=held, priority=9, by="token:7", reason="urgent"),
        IllegalTransition,
        "is assigned: it cannot be prioritised",
    )
    engine.handle(Close(interaction_id=held, advisor_id="A1"), T0 + SECOND)
    refused(
        engine,
        Prioritise(interaction_id=held, priority=9, by="token:7", reason="urgent"),
        IllegalTransition,
        "is closed",
    )


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"priority": 10}, InvalidCommand, "out of range"),
        ({"priority": -1}, InvalidCommand, "out of range"),
        ({"by": ""}, InvalidCommand, "by must name"),
        ({"reason": ""}, InvalidCommand, "reason must give"),
    ],
)
def test_a_prioritisation_without_author_reason_or_valid_priority_is_refused(
    engine: JournaledEngine, fields: dict[str, Any], error: type[EngineError], match: str
) -> None:
    submit(engine, "m1")
    command = Prioritise(
        **{"interaction_id": 1, "priority": 5, "by": "token:7", "reason": "urgent", **fields}
    )
    refused(engine, command, error, match)


# -- move ---------------------------------------------------------------------------------------


def test_held_work_moved_goes_back_to_its_place_for_the_named_advisor(
    engine: JournaledEngine,
) -> None:
    add_advisor(engine, "A1", T0)
    first = held_by(engine, "A1", "m1")
    deadline = engine.state.interactions[first].deadline
    add_advisor(engine, "A2", T0 + SECOND)
    events = engine.handle(
        Move(interaction_id=first, to_advisor="A2", by="token:7", reason="rebalance"),
        T0 + 2 * SECOND,
    )
    moved, made = events
    assert moved == InteractionMoved(
        at=T0 + 2 * SECOND,
        interaction_id=first,
        from_advisor="A1",
        to_advisor="A2",
        channel="written",
        motive=None,
        skills={},
        by="token:7",
        reason="rebalance",
    )
    # Offered to the advisor named, not back to its holder, who is free at once (no wrap-up).
    assert isinstance(made, OfferMade)
    assert (made.advisor_id, made.rule) == ("A2", "preferred_advisor")
    interaction = engine.state.interactions[first]
    assert (interaction.deadline, interaction.transfers) == (deadline, 0)
    assert engine.state.advisors["A1"].state == "available"
    assert not engine.state.advisors["A1"].holding
    assert_replays(engine)


def test_moved_work_is_not_handed_straight_back_to_its_former_holder(
    engine: JournaledEngine,
) -> None:
    add_advisor(engine, "A1", T0)
    first = held_by(engine, "A1", "m1")
    events = engine.handle(
        Move(interaction_id=first, by="token:7", reason="rebalance"), T0 + SECOND
    )
    assert only(events, OfferMade) == []
    assert engine.state.queues.ordered("written") == [first]
    # After the re-offer delay, with nobody else, it may go to that advisor again.
    later = engine.advance(T0 + 31 * SECOND)
    assert [(o.interaction_id, o.advisor_id) for o in only(later, OfferMade)] == [(first, "A1")]
    assert_replays(engine)


def test_queued_work_moved_to_another_skill_queues_there_with_its_clock(
    engine: JournaledEngine,
) -> None:
    submit(engine, "m1", motive="refunds")
    deadline = engine.state.interactions[1].deadline
    engine.handle(
        Move(
            interaction_id=1,
            channel="social",
            motive="fines",
            by="token:7",
            reason="skill_needed",
            note_digest="sealed-note",
        ),
        T0 + SECOND,
    )
    interaction = engine.state.interactions[1]
    assert (interaction.channel, interaction.motive, interaction.skills) == (
        "social",
        "fines",
        {"fines": 2},
    )
    assert interaction.deadline == deadline
    assert interaction.later_digests == ("sealed-note",)
    assert engine.state.queues.ordered("written") == []
    assert engine.state.queues.ordered("social") == [1]
    assert_replays(engine)


def test_offered_work_moved_loses_its_offer(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "m1")
    add_advisor(engine, "A2", T0 + SECOND)
    revoked, moved, made = engine.handle(
        Move(interaction_id=1, to_advisor="A2", by="token:7", reason="vip"), T0 + 2 * SECOND
    )
    assert isinstance(revoked, OfferRevoked)
    assert revoked.advisor_id == "A1"
    assert isinstance(moved, InteractionMoved)
    assert moved.from_advisor == "A1"
    assert isinstance(made, OfferMade)
    assert made.advisor_id == "A2"
    assert_replays(engine)


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"to_advisor": "nobody"}, UnknownAdvisor, "no advisor 'nobody'"),
        ({"to_advisor": "A1"}, InvalidCommand, "already with 'A1'"),
        ({"to_advisor": "EN"}, InvalidCommand, "cannot take interaction 1"),
        ({"motive": "nothing"}, InvalidCommand, "unknown motive 'nothing'"),
        ({"skills": {"juggling": 2}}, InvalidCommand, "unknown skill 'juggling'"),
        ({"by": ""}, InvalidCommand, "by must name"),
        ({"reason": ""}, InvalidCommand, "reason must give"),
    ],
)
def test_a_move_that_cannot_be_done_is_refused_and_leaves_no_trace(
    engine: JournaledEngine, fields: dict[str, Any], error: type[EngineError], match: str
) -> None:
    add_advisor(engine, "A1", T0)
    add_advisor(engine, "EN", T0, languages=("en",), available=False)
    held_by(engine, "A1", "m1")
    command = Move(**{"interaction_id": 1, "by": "token:7", "reason": "rebalance", **fields})
    refused(engine, command, error, match)


def test_work_waiting_for_the_principal_or_ended_is_not_moved(engine: JournaledEngine) -> None:
    submit(engine, "m1")
    engine.handle(Close(interaction_id=1), T0 + SECOND)
    refused(
        engine,
        Move(interaction_id=1, by="token:7", reason="rebalance"),
        IllegalTransition,
        "is closed: it cannot be moved",
    )


# -- a supervisor sets an advisor's state -------------------------------------------------------


def test_a_supervisor_logs_out_an_advisor_and_its_work_goes_back(
    engine: JournaledEngine,
) -> None:
    add_advisor(engine, "A1", T0)
    first = held_by(engine, "A1", "m1")
    (offer,) = only(submit(engine, "m2"), OfferMade)
    deadline = engine.state.interactions[first].deadline
    events = engine.handle(
        SetAdvisorState(advisor_id="A1", state="offline", reason="", by="token:7"), T0 + SECOND
    )
    moved, revoked, changed = events
    assert isinstance(moved, InteractionMoved)
    assert (moved.interaction_id, moved.from_advisor, moved.by) == (first, "A1", "token:7")
    assert isinstance(revoked, OfferRevoked)
    assert revoked.offer_id == offer.offer_id
    assert changed == AdvisorStateChanged(
        at=T0 + SECOND, advisor_id="A1", state="offline", by="token:7"
    )
    assert engine.state.queues.ordered("written") == [first, offer.interaction_id]
    assert engine.state.interactions[first].deadline == deadline
    assert not engine.state.advisors["A1"].holding
    assert_replays(engine)


def test_a_supervisor_pausing_an_advisor_sends_its_work_to_another(
    engine: JournaledEngine,
) -> None:
    add_advisor(engine, "A1", T0)
    first = held_by(engine, "A1", "m1")
    add_advisor(engine, "A2", T0 + SECOND)
    events = engine.handle(
        SetAdvisorState(advisor_id="A1", state="not_ready", reason="meeting", by="token:7"),
        T0 + 2 * SECOND,
    )
    made = only(events, OfferMade)
    assert [(o.interaction_id, o.advisor_id) for o in made] == [(first, "A2")]
    assert engine.state.advisors["A1"].state == "not_ready"
    assert_replays(engine)


def test_an_advisor_pausing_itself_keeps_its_work_and_cannot_log_out_with_it(
    engine: JournaledEngine,
) -> None:
    add_advisor(engine, "A1", T0)
    first = held_by(engine, "A1", "m1")
    events = engine.handle(
        SetAdvisorState(advisor_id="A1", state="not_ready", reason="lunch"), T0 + SECOND
    )
    assert only(events, InteractionMoved) == []
    assert engine.state.interactions[first].status == "assigned"
    refused(
        engine,
        SetAdvisorState(advisor_id="A1", state="offline"),
        Refused,
        "close or transfer them before logging out",
    )


# -- transfer to a named advisor ----------------------------------------------------------------


def test_a_transfer_to_a_named_advisor_is_offered_to_it_first(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0)
    first = held_by(engine, "A1", "m1")
    add_advisor(engine, "A2", T0 + SECOND)
    add_advisor(engine, "A3", T0 + SECOND)
    events = engine.handle(
        Transfer(advisor_id="A1", interaction_id=first, to_advisor="A3"), T0 + 2 * SECOND
    )
    (made,) = only(events, OfferMade)
    assert (made.advisor_id, made.rule) == ("A3", "preferred_advisor")
    assert engine.state.interactions[first].transfers == 1
    assert_replays(engine)


def test_a_transfer_to_an_unknown_or_to_oneself_is_refused(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0)
    first = held_by(engine, "A1", "m1")
    refused(
        engine,
        Transfer(advisor_id="A1", interaction_id=first, to_advisor="ghost"),
        UnknownAdvisor,
        "no advisor 'ghost'",
    )
    refused(
        engine,
        Transfer(advisor_id="A1", interaction_id=first, to_advisor="A1"),
        InvalidCommand,
        "already with 'A1'",
    )


# -- close with a final motive ------------------------------------------------------------------


def test_closing_with_a_final_motive_records_it_and_the_outcome(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0, skills={"general": 3, "refunds": 3})
    (offer,) = only(submit(engine, "m1", motive="refunds"), OfferMade)
    engine.handle(Accept(advisor_id="A1", offer_id=offer.offer_id), T0)
    (closed,) = engine.handle(
        Close(interaction_id=1, advisor_id="A1", reason="answered", motive="fines"), T0 + SECOND
    )
    assert closed == InteractionClosed(
        at=T0 + SECOND, interaction_id=1, advisor_id="A1", reason="answered", motive="fines"
    )
    assert engine.state.interactions[1].motive == "fines"
    assert_replays(engine)


def test_closing_without_a_motive_keeps_the_interactions(engine: JournaledEngine) -> None:
    submit(engine, "m1", motive="refunds")
    (closed,) = engine.handle(Close(interaction_id=1, reason="duplicate"), T0 + SECOND)
    assert isinstance(closed, InteractionClosed)
    assert closed.motive == "refunds"
    assert engine.state.interactions[1].motive == "refunds"


def test_closing_with_an_unknown_motive_is_refused(engine: JournaledEngine) -> None:
    submit(engine, "m1")
    refused(engine, Close(interaction_id=1, motive="nothing"), InvalidCommand, "unknown motive")
