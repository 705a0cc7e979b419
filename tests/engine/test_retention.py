"""Retention: ended work leaves the live state after a period, so memory stays flat over a year."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from aiguillage.engine.commands import (
    Abandon,
    Accept,
    AwaitPrincipal,
    Close,
    Decline,
    PrincipalAnswered,
    SetAdvisorState,
    SetPolicies,
    Submit,
    TransferOut,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import IllegalTransition, UnknownInteraction, UnknownOffer
from aiguillage.engine.events import InteractionForgotten, OfferMade
from aiguillage.engine.instants import HOUR, SECOND
from aiguillage.engine.policies import Policies, RetentionPolicy

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, make_policies, replayed

T0 = TUESDAY_10H
PERIOD = 600 * SECOND


def keep_for(engine: Engine, seconds: int, now: int = T0) -> None:
    retention = RetentionPolicy(live_after_close_s=seconds)
    policies = msgspec.structs.replace(make_policies(), retention=retention)
    engine.handle(SetPolicies(policies=policies), now)


@pytest.fixture
def floor(engine: JournaledEngine) -> JournaledEngine:
    keep_for(engine, PERIOD // SECOND)
    add_advisor(engine, "A1", T0)
    return engine


def call(engine: Engine, external_id: str, now: int) -> int:
    submission = engine.submit(
        Submit(channel="voice", source="phone", external_id=external_id), now
    )
    return submission.interaction.id


def answered(engine: Engine, external_id: str, now: int) -> int:
    """Submit a call and let A1 pick it up at once; return its id."""
    interaction_id = call(engine, external_id, now)
    offer_id = engine.state.interactions[interaction_id].offer_id
    assert offer_id is not None
    engine.handle(Accept(advisor_id="A1", offer_id=offer_id), now)
    return interaction_id


def forgotten(events: list[Any]) -> list[InteractionForgotten]:
    return [e for e in events if isinstance(e, InteractionForgotten)]


def test_the_default_keeps_ended_work_a_day() -> None:
    assert Policies().retention.live_after_close_s == 86400


def test_a_retention_under_a_minute_is_refused_at_the_edge() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.live_after_close_s"):
        msgspec.convert({"live_after_close_s": 59}, RetentionPolicy)


def test_closed_work_stays_readable_until_the_period_ends(floor: Engine) -> None:
    interaction_id = answered(floor, "c1", T0)
    floor.handle(Close(advisor_id="A1", interaction_id=interaction_id), T0 + SECOND)
    assert forgotten(floor.advance(T0 + SECOND + PERIOD - 1)) == []
    interaction = floor.interaction(interaction_id)
    assert interaction is not None
    assert interaction.status == "closed"


def test_closed_work_is_forgotten_when_the_period_ends(floor: Engine) -> None:
    interaction_id = answered(floor, "c1", T0)
    floor.handle(Close(advisor_id="A1", interaction_id=interaction_id), T0 + SECOND)
    due = T0 + SECOND + PERIOD
    assert forgotten(floor.advance(due)) == [
        InteractionForgotten(at=due, interaction_id=interaction_id, due=due)
    ]
    assert floor.interaction(interaction_id) is None
    assert ("phone", "c1") not in floor.state.by_external


def test_forgetting_late_carries_when_it_was_due(floor: Engine) -> None:
    interaction_id = answered(floor, "c1", T0)
    floor.handle(Close(advisor_id="A1", interaction_id=interaction_id), T0)
    (event,) = forgotten(floor.advance(T0 + PERIOD + HOUR))  # the daemon was down an hour
    assert (event.at, event.due) == (T0 + PERIOD + HOUR, T0 + PERIOD)


@pytest.mark.parametrize("ending", ["abandoned", "transferred_out", "closed_in_queue"])
def test_work_that_ends_any_other_way_is_forgotten_too(floor: Engine, ending: str) -> None:
    if ending == "transferred_out":
        interaction_id = answered(floor, "c1", T0)
        floor.handle(
            TransferOut(advisor_id="A1", interaction_id=interaction_id, party_digest="sealed"), T0
        )
    else:
        floor.handle(SetAdvisorState(advisor_id="A1", state="not_ready"), T0)  # so it waits
        interaction_id = call(floor, "c1", T0)
        command = Abandon if ending == "abandoned" else Close
        floor.handle(command(interaction_id=interaction_id), T0)
    assert [e.interaction_id for e in forgotten(floor.advance(T0 + PERIOD))] == [interaction_id]


def test_open_work_is_never_forgotten(floor: Engine) -> None:
    interaction_id = answered(floor, "c1", T0)
    floor.handle(AwaitPrincipal(advisor_id="A1", interaction_id=interaction_id), T0)
    assert forgotten(floor.advance(T0 + 30 * 24 * HOUR)) == []
    floor.handle(PrincipalAnswered(interaction_id=interaction_id), T0 + 30 * 24 * HOUR)


@pytest.mark.parametrize(
    "command",
    [
        Close(interaction_id=1),
        Abandon(interaction_id=1),
        PrincipalAnswered(interaction_id=1),
        TransferOut(advisor_id="A1", interaction_id=1, party_digest="sealed"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_commands_about_forgotten_work_are_refused_as_unknown(floor: Engine, command: Any) -> None:
    interaction_id = answered(floor, "c1", T0)
    assert interaction_id == 1
    floor.handle(Close(advisor_id="A1", interaction_id=interaction_id), T0)
    floor.advance(T0 + PERIOD)
    with pytest.raises(UnknownInteraction):
        floor.handle(command, T0 + PERIOD)


def test_the_same_external_id_after_forgetting_creates_new_work(floor: Engine) -> None:
    first = answered(floor, "c1", T0)
    floor.handle(Close(advisor_id="A1", interaction_id=first), T0)
    assert call(floor, "c1", T0 + PERIOD - 1) == first  # still known: the same work
    floor.advance(T0 + PERIOD)
    again = floor.submit(Submit(channel="voice", source="phone", external_id="c1"), T0 + PERIOD)
    assert again.created
    assert again.interaction.id != first
    assert floor.state.by_external[("phone", "c1")] == again.interaction.id


def test_offers_that_ended_a_period_before_a_forgetting_are_forgotten_with_it(
    floor: Engine,
) -> None:
    hung_up = call(floor, "c0", T0)
    floor.handle(Abandon(interaction_id=hung_up), T0)  # its offer ends, "abandoned", at T0
    declined_call = call(floor, "c1", T0 + 5 * SECOND)
    declined = floor.state.interactions[declined_call].offer_id
    assert declined is not None
    floor.handle(Decline(advisor_id="A1", offer_id=declined), T0 + 5 * SECOND)
    with pytest.raises(IllegalTransition, match="no longer pending: it was declined"):
        floor.handle(Accept(advisor_id="A1", offer_id=declined), T0 + 6 * SECOND)
    # The daemon was down when c0 came due: the cutoff counts from the forgetting, not its due.
    late = T0 + PERIOD + 10 * SECOND
    (event,) = forgotten(floor.advance(late))
    assert (event.interaction_id, event.due) == (hung_up, T0 + PERIOD)
    assert declined not in floor.state.ended_offers
    with pytest.raises(UnknownOffer):
        floor.handle(Accept(advisor_id="A1", offer_id=declined), late)


def test_a_replay_forgets_the_same_work(floor: JournaledEngine) -> None:
    for n in range(3):
        interaction_id = answered(floor, f"c{n}", T0 + n * SECOND)
        floor.handle(Close(advisor_id="A1", interaction_id=interaction_id), T0 + n * SECOND)
    floor.advance(T0 + SECOND + PERIOD)
    replica = replayed(floor.journal)
    assert sorted(replica.state.interactions) == sorted(floor.state.interactions) == [3]
    assert replica.snapshot() == floor.snapshot()


def test_a_restored_engine_forgets_on_time(floor: Engine) -> None:
    interaction_id = answered(floor, "c1", T0)
    floor.handle(Close(advisor_id="A1", interaction_id=interaction_id), T0)
    restored = Engine.from_image(floor.image())
    assert restored.advance(T0 + PERIOD) == floor.advance(T0 + PERIOD)
    assert restored.interaction(interaction_id) is None


def test_memory_stays_flat_over_twenty_thousand_calls(engine: Engine) -> None:
    keep_for(engine, 60)
    add_advisor(engine, "A1", T0)
    state = engine.state
    now = T0
    for n in range(20_000):  # a call a second from 10:00: the line stays open throughout
        engine.advance(now)
        (offer,) = [
            e
            for e in engine.handle(
                Submit(channel="voice", source="phone", external_id=f"c{n}"), now
            )
            if isinstance(e, OfferMade)
        ]
        engine.handle(Accept(advisor_id="A1", offer_id=offer.offer_id), now)
        engine.handle(Close(advisor_id="A1", interaction_id=offer.interaction_id), now)
        now += SECOND
    engine.advance(now)
    assert state.next_interaction_id == 20_001
    # Ended work lives a minute; SLA timers of answered calls linger until due (3 minutes).
    assert len(state.interactions) <= 61
    assert len(state.by_external) == len(state.interactions)
    assert len(state.ended_offers) == len(state.ended_order) <= 61
    assert len(state.timers) < 1_000
    assert len(state.offers) == len(state.queues.live) == 0
    assert not state.advisors["A1"].holding
