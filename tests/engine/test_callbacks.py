"""Callbacks: a waiting caller asks to be called back, and keeps its place in the queue.

``RequestCallback`` stops the call's clock (its wait decides its SLA outcome) and gives the
work the callback's deadline; ``RecordCallbackAttempt`` reports each call made to the customer:
answered (the callback's first response), or unanswered (offered again after the retry delay,
closed after the last attempt). Each rule is checked for what it decides, what it refuses
(leaving no trace) and that its events replay to the same state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest

from aiguillage.engine.commands import (
    Abandon,
    Accept,
    Close,
    Command,
    RecordCallbackAttempt,
    RecordResponse,
    RequestCallback,
    SetPolicies,
    Submit,
    TransferOut,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import (
    CallbackRefused,
    EngineError,
    IllegalTransition,
    InvalidCommand,
    NotYourWork,
)
from aiguillage.engine.events import (
    AdvisorStateChanged,
    CallbackAnswered,
    CallbackMissed,
    CallbackRequested,
    Event,
    InteractionClosed,
    InteractionResponded,
    OfferMade,
    OfferRevoked,
    SlaBreached,
    SlaWarning,
)
from aiguillage.engine.instants import SECOND
from aiguillage.engine.policies import Policies
from aiguillage.engine.snapshots import dump_state

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, at, make_policies, replayed

E = TypeVar("E")
T0 = TUESDAY_10H
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


def with_callbacks(
    policies: Policies, target_s: int = 7200, attempts: int = 3, retry_s: int = 600
) -> Policies:
    voice = msgspec.structs.replace(
        policies.channels["voice"],
        callback_target_s=target_s,
        callback_attempts=attempts,
        callback_retry_s=retry_s,
    )
    return msgspec.structs.replace(policies, channels={**policies.channels, "voice": voice})


def floor(now: int = T0, **options: Any) -> JournaledEngine:
    """An engine whose voice channel offers callbacks (2 h, 3 attempts, 10 min apart)."""
    wrap_up_s = options.pop("wrap_up_s", 0)
    engine = JournaledEngine()
    engine.handle(
        SetPolicies(policies=with_callbacks(make_policies(wrap_up_s=wrap_up_s), **options)), now
    )
    return engine


def only(events: list[Any], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def call(engine: Engine, external_id: str, now: int) -> list[Any]:
    return engine.handle(Submit(channel="voice", source="phone", external_id=external_id), now)


def id_of(engine: Engine, external_id: str) -> int:
    return engine.state.by_external[("phone", external_id)]


def refused(
    engine: Engine, command: Command, now: int, error: type[EngineError], match: str
) -> str:
    before = engine.snapshot()
    with pytest.raises(error, match=match) as raised:
        engine.handle(command, now)
    assert engine.snapshot() == before
    return raised.value.reason


def assert_replays(engine: JournaledEngine) -> None:
    assert replayed(engine.journal).snapshot() == engine.snapshot()
    restored = Engine.from_image(engine.image())
    assert restored.snapshot() == engine.snapshot()


def callback_in_hand(engine: JournaledEngine, now: int) -> tuple[int, int]:
    """A call asks for a callback with nobody free; A1 logs in, accepts it. Return (id, when
    accepted)."""
    call(engine, "c1", now)
    engine.handle(RequestCallback(interaction_id=id_of(engine, "c1")), now + 30 * SECOND)
    add_advisor(engine, "A1", now + MINUTE)
    (offer,) = engine.state.offers.values()
    engine.handle(Accept(advisor_id="A1", offer_id=offer.id), now + MINUTE + 5 * SECOND)
    return offer.interaction_id, now + MINUTE + 5 * SECOND


# -- asking ---------------------------------------------------------------------------------------


def test_asking_stops_the_calls_clock_and_gives_the_callbacks_deadline() -> None:
    engine = floor()
    call(engine, "c1", T0)
    events = engine.handle(
        RequestCallback(interaction_id=1, number_digest="d-n"), T0 + 100 * SECOND
    )
    asked = T0 + 100 * SECOND
    assert events == [
        CallbackRequested(
            at=asked,
            interaction_id=1,
            waited=100 * SECOND,
            within_sla=True,
            deadline=asked + 2 * HOUR,
            warning_at=asked + round(0.8 * 7200) * SECOND,
            number_digest="d-n",
        )
    ]
    interaction = engine.state.interactions[1]
    assert interaction.status == "queued"
    assert interaction.callback_requested_at == asked
    assert interaction.within_sla is True
    assert interaction.responded_at is None
    assert (interaction.deadline, interaction.raw_deadline) == (asked + 2 * HOUR, T0 + 180 * SECOND)
    assert "d-n" in interaction.later_digests  # personal data, erased with the rest
    # The call's 180 s no longer run: nothing breaches then; the callback warns and breaches.
    assert only(engine.advance(T0 + 10 * MINUTE), SlaBreached) == []
    (warning,) = only(engine.advance(interaction.warning_at), SlaWarning)
    assert warning.deadline == asked + 2 * HOUR
    (breach,) = only(engine.advance(asked + 2 * HOUR + 1), SlaBreached)
    assert breach.due == asked + 2 * HOUR + 1
    assert engine.state.interactions[1].within_sla is True  # the call's, not the callback's
    assert_replays(engine)


def test_a_caller_who_waited_past_the_target_asks_for_a_callback_outside_the_sla() -> None:
    engine = floor()
    call(engine, "c1", T0)
    assert only(engine.advance(T0 + 181 * SECOND), SlaBreached)
    (asked,) = engine.handle(RequestCallback(interaction_id=1), T0 + 200 * SECOND)
    assert isinstance(asked, CallbackRequested)
    assert (asked.waited, asked.within_sla) == (200 * SECOND, False)
    interaction = engine.state.interactions[1]
    assert interaction.within_sla is False
    # The callback has its own warning and breach to come.
    assert (interaction.warned, interaction.breached) == (False, False)
    assert only(engine.advance(asked.deadline + 1), SlaBreached)
    assert_replays(engine)


def test_at_the_target_exactly_the_call_is_within_it() -> None:
    engine = floor()
    call(engine, "c1", T0)
    (asked,) = engine.handle(RequestCallback(interaction_id=1), T0 + 180 * SECOND)
    assert isinstance(asked, CallbackRequested)
    assert asked.within_sla is True


def test_a_callback_is_never_due_earlier_than_the_call_was() -> None:
    engine = floor(target_s=60)
    call(engine, "c1", T0)
    (asked,) = engine.handle(RequestCallback(interaction_id=1), T0 + 10 * SECOND)
    assert isinstance(asked, CallbackRequested)
    assert asked.deadline == T0 + 180 * SECOND


def test_a_callback_keeps_its_place_the_third_caller_is_offered_third() -> None:
    engine = floor()
    for n in (1, 2, 3):
        call(engine, f"c{n}", T0 + n * SECOND)
    engine.handle(RequestCallback(interaction_id=id_of(engine, "c3")), T0 + 10 * SECOND)
    call(engine, "c4", T0 + 20 * SECOND)  # after the request, yet behind the callback
    assert engine.state.queues.ordered("voice") == [1, 2, 3, 4]
    add_advisor(engine, "A1", T0 + MINUTE)
    offered = []
    now = T0 + MINUTE
    for _ in range(4):
        (offer,) = engine.state.offers.values()
        offered.append(offer.interaction_id)
        now += 10 * SECOND
        engine.handle(Accept(advisor_id="A1", offer_id=offer.id), now)
        engine.handle(Close(interaction_id=offer.interaction_id, advisor_id="A1"), now)
    assert offered == [1, 2, 3, 4]
    assert_replays(engine)


def test_an_offered_call_loses_its_offer_then_is_offered_again_as_a_callback() -> None:
    engine = floor()
    add_advisor(engine, "A1", T0)
    (offer,) = only(call(engine, "c1", T0), OfferMade)
    events = engine.handle(RequestCallback(interaction_id=1), T0 + 5 * SECOND)
    assert [type(e) for e in events] == [OfferRevoked, CallbackRequested, OfferMade]
    revoked, again = events[0], events[2]
    assert isinstance(revoked, OfferRevoked)
    assert revoked.offer_id == offer.offer_id
    assert isinstance(again, OfferMade)
    assert again.advisor_id == "A1"
    # Accepting a callback dials the customer: it is not its first response yet.
    accepted = engine.handle(Accept(advisor_id="A1", offer_id=again.offer_id), T0 + 8 * SECOND)
    assert only(accepted, InteractionResponded) == []
    assert engine.state.interactions[1].callback_dialled_at == T0 + 8 * SECOND
    assert_replays(engine)


# -- refused ----------------------------------------------------------------------------------


def test_no_callback_where_the_channel_offers_none() -> None:
    engine = JournaledEngine()
    engine.handle(SetPolicies(policies=make_policies()), T0)
    call(engine, "c1", T0)
    reason = refused(
        engine,
        RequestCallback(interaction_id=1),
        T0 + SECOND,
        CallbackRefused,
        "offers no callback",
    )
    assert reason == "callbacks_off"


def test_no_callback_for_written_work() -> None:
    engine = floor()
    engine.handle(Submit(channel="written", source="email", external_id="w1"), T0)
    reason = refused(
        engine, RequestCallback(interaction_id=1), T0 + SECOND, CallbackRefused, "written channel"
    )
    assert reason == "callbacks_off"


def test_no_second_callback() -> None:
    engine = floor()
    call(engine, "c1", T0)
    engine.handle(RequestCallback(interaction_id=1), T0 + SECOND)
    reason = refused(
        engine, RequestCallback(interaction_id=1), T0 + 2 * SECOND, CallbackRefused, "already"
    )
    assert reason == "already_callback"


def test_no_callback_due_after_closing_and_one_due_at_closing_is_offered() -> None:
    engine = floor(at("2026-12-01T17:00:00+01:00"))
    call(engine, "c1", at("2026-12-01T17:58:00+01:00"))
    late = at("2026-12-01T18:00:01+01:00")
    reason = refused(
        engine,
        RequestCallback(interaction_id=1),
        late,
        CallbackRefused,
        r"due at 2026-12-01T20:00:01\+01:00.*closes at 2026-12-01T20:00:00\+01:00",
    )
    assert reason == "callback_after_closing"
    (asked,) = engine.handle(RequestCallback(interaction_id=1), at("2026-12-01T18:00:00+01:00"))
    assert isinstance(asked, CallbackRequested)
    assert asked.deadline == at("2026-12-01T20:00:00+01:00")


def test_no_callback_once_the_line_has_closed() -> None:
    engine = floor(at("2026-12-01T19:59:00+01:00"), target_s=60)
    call(engine, "c1", at("2026-12-01T19:59:00+01:00"))
    reason = refused(
        engine,
        RequestCallback(interaction_id=1),
        at("2026-12-01T20:00:30+01:00"),
        CallbackRefused,
        "closed now",
    )
    assert reason == "callback_after_closing"


def test_no_callback_for_a_call_picked_up_or_ended() -> None:
    engine = floor()
    add_advisor(engine, "A1", T0)
    (offer,) = only(call(engine, "c1", T0), OfferMade)
    engine.handle(Accept(advisor_id="A1", offer_id=offer.offer_id), T0 + SECOND)
    refused(
        engine, RequestCallback(interaction_id=1), T0 + 2 * SECOND, IllegalTransition, "assigned"
    )
    call(engine, "c2", T0 + 3 * SECOND)
    engine.handle(Abandon(interaction_id=2), T0 + 4 * SECOND)
    refused(
        engine, RequestCallback(interaction_id=2), T0 + 5 * SECOND, IllegalTransition, "abandoned"
    )


def test_a_callback_cannot_be_abandoned_nor_answered_by_picking_up() -> None:
    engine = floor()
    interaction_id, accepted = callback_in_hand(engine, T0)
    reason = refused(
        engine,
        RecordResponse(advisor_id="A1", interaction_id=interaction_id),
        accepted + SECOND,
        CallbackRefused,
        "is a callback",
    )
    assert reason == "callback"
    call(engine, "c2", accepted)
    engine.handle(RequestCallback(interaction_id=id_of(engine, "c2")), accepted + SECOND)
    reason = refused(
        engine,
        Abandon(interaction_id=id_of(engine, "c2")),
        accepted + 2 * SECOND,
        CallbackRefused,
        "close it to give it up",
    )
    assert reason == "callback_abandoned"


# -- attempts ---------------------------------------------------------------------------------


def test_an_answered_attempt_is_the_callbacks_first_response() -> None:
    engine = floor()
    interaction_id, accepted = callback_in_hand(engine, T0)
    answered = accepted + 20 * SECOND
    events = engine.handle(
        RecordCallbackAttempt(interaction_id=interaction_id, advisor_id="A1", outcome="answered"),
        answered,
    )
    assert events == [
        CallbackAnswered(
            at=answered,
            interaction_id=interaction_id,
            advisor_id="A1",
            attempt=1,
            dialled_at=accepted,
            on_time=True,
        )
    ]
    interaction = engine.state.interactions[interaction_id]
    assert (interaction.status, interaction.advisor_id) == ("assigned", "A1")
    assert interaction.responded_at == answered
    assert interaction.within_sla is True  # the call's: it waited 30 s
    assert interaction.callback_attempts == 1
    # No breach comes for a callback that reached the customer, and nothing reports it twice.
    assert only(engine.advance(interaction.deadline + 1), SlaBreached) == []
    refused(
        engine,
        RecordCallbackAttempt(interaction_id=interaction_id, advisor_id="A1", outcome="answered"),
        interaction.deadline + 2,
        IllegalTransition,
        "reached the customer already",
    )
    engine.handle(Close(interaction_id=interaction_id, advisor_id="A1"), interaction.deadline + 3)
    assert engine.state.interactions[interaction_id].status == "closed"
    assert_replays(engine)


def test_an_attempt_started_after_the_callbacks_deadline_is_not_on_time() -> None:
    engine = floor(target_s=600)
    call(engine, "c1", T0)
    engine.handle(RequestCallback(interaction_id=1), T0 + 30 * SECOND)
    late = T0 + 30 * SECOND + 600 * SECOND + 1
    add_advisor(engine, "A1", late)
    (offer,) = engine.state.offers.values()
    engine.handle(Accept(advisor_id="A1", offer_id=offer.id), late)
    (answered,) = engine.handle(
        RecordCallbackAttempt(interaction_id=1, advisor_id="A1", outcome="answered"),
        late + 10 * SECOND,
    )
    assert isinstance(answered, CallbackAnswered)
    assert (answered.dialled_at, answered.on_time) == (late, False)


def test_an_unanswered_attempt_is_offered_again_only_after_the_retry_delay() -> None:
    engine = floor()
    interaction_id, accepted = callback_in_hand(engine, T0)
    missed_at = accepted + 30 * SECOND
    events = engine.handle(
        RecordCallbackAttempt(interaction_id=interaction_id, advisor_id="A1", outcome="unanswered"),
        missed_at,
    )
    retry_at = missed_at + 600 * SECOND
    assert events == [
        CallbackMissed(
            at=missed_at,
            interaction_id=interaction_id,
            advisor_id="A1",
            attempt=1,
            dialled_at=accepted,
            on_time=True,
            retry_at=retry_at,
        )
    ]
    interaction = engine.state.interactions[interaction_id]
    assert (interaction.status, interaction.advisor_id) == ("queued", None)
    assert interaction.not_before == retry_at
    assert engine.state.ready_advisors("voice") == ["A1"]  # free, and not offered it
    # Other work is offered meanwhile; the callback waits in its place, ahead of it.
    (other,) = only(call(engine, "c2", missed_at + MINUTE), OfferMade)
    assert other.interaction_id == id_of(engine, "c2")
    engine.handle(Accept(advisor_id="A1", offer_id=other.offer_id), missed_at + MINUTE)
    engine.handle(
        Close(interaction_id=other.interaction_id, advisor_id="A1"), missed_at + 2 * MINUTE
    )
    assert only(engine.journal[-2:], OfferMade) == []  # A1 free again, the callback not due
    assert engine.state.queues.ordered("voice") == [interaction_id]
    assert only(engine.advance(retry_at - 1), OfferMade) == []
    assert_replays(engine)
    (again,) = only(engine.advance(retry_at), OfferMade)
    assert (again.interaction_id, again.advisor_id) == (interaction_id, "A1")
    assert_replays(engine)


def test_the_last_unanswered_attempt_closes_the_callback() -> None:
    engine = floor(attempts=2, retry_s=300, wrap_up_s=30)
    interaction_id, accepted = callback_in_hand(engine, T0)
    first = engine.handle(
        RecordCallbackAttempt(interaction_id=interaction_id, advisor_id="A1", outcome="unanswered"),
        accepted + 30 * SECOND,
    )
    # The advisor wraps up after an attempt as after a close.
    assert [type(e) for e in first] == [CallbackMissed, AdvisorStateChanged]
    assert isinstance(first[1], AdvisorStateChanged)
    assert first[1].state == "wrap_up"
    retry_at = accepted + 330 * SECOND
    (again,) = only(engine.advance(retry_at), OfferMade)
    engine.handle(Accept(advisor_id="A1", offer_id=again.offer_id), retry_at + 5 * SECOND)
    last = retry_at + 40 * SECOND
    events = engine.handle(
        RecordCallbackAttempt(interaction_id=interaction_id, advisor_id="A1", outcome="unanswered"),
        last,
    )
    assert events == [
        CallbackMissed(
            at=last,
            interaction_id=interaction_id,
            advisor_id="A1",
            attempt=2,
            dialled_at=retry_at + 5 * SECOND,
            on_time=True,
            retry_at=None,
        ),
        InteractionClosed(
            at=last, interaction_id=interaction_id, advisor_id="A1", reason="callback_unanswered"
        ),
        AdvisorStateChanged(at=last, advisor_id="A1", state="wrap_up", until=last + 30 * SECOND),
    ]
    interaction = engine.state.interactions[interaction_id]
    assert (interaction.status, interaction.ended_at, interaction.responded_at) == (
        "closed",
        last,
        None,
    )
    assert interaction.within_sla is True  # the call's outcome stands
    assert engine.state.advisors["A1"].holding == {}
    assert_replays(engine)


def test_an_attempt_is_reported_for_the_advisor_holding_a_callback() -> None:
    engine = floor()
    interaction_id, accepted = callback_in_hand(engine, T0)
    add_advisor(engine, "A2", accepted)
    refused(
        engine,
        RecordCallbackAttempt(interaction_id=interaction_id, advisor_id="A2", outcome="answered"),
        accepted + SECOND,
        NotYourWork,
        "held by 'A1'",
    )
    (offer,) = only(call(engine, "c2", accepted + SECOND), OfferMade)
    engine.handle(Accept(advisor_id="A2", offer_id=offer.offer_id), accepted + 2 * SECOND)
    reason = refused(
        engine,
        RecordCallbackAttempt(
            interaction_id=offer.interaction_id, advisor_id="A2", outcome="unanswered"
        ),
        accepted + 3 * SECOND,
        CallbackRefused,
        "not a callback",
    )
    assert reason == "not_a_callback"
    refused(
        engine,
        RecordCallbackAttempt(interaction_id=interaction_id, advisor_id="A1", outcome="busy"),  # type: ignore[arg-type]
        accepted + 4 * SECOND,
        InvalidCommand,
        "answered, unanswered",
    )


def test_no_attempt_on_a_callback_still_waiting() -> None:
    engine = floor()
    call(engine, "c1", T0)
    engine.handle(RequestCallback(interaction_id=1), T0 + SECOND)
    add_advisor(engine, "A1", T0 + 2 * SECOND, available=False)
    refused(
        engine,
        RecordCallbackAttempt(interaction_id=1, advisor_id="A1", outcome="unanswered"),
        T0 + 3 * SECOND,
        IllegalTransition,
        "queued: it cannot be reported as a callback missed",
    )


def test_a_callback_handed_over_is_not_its_first_response() -> None:
    engine = floor()
    interaction_id, accepted = callback_in_hand(engine, T0)
    events = engine.handle(
        TransferOut(advisor_id="A1", interaction_id=interaction_id), accepted + SECOND
    )
    assert only(events, InteractionResponded) == []
    assert engine.state.interactions[interaction_id].within_sla is True


# -- snapshots --------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data"


def test_an_image_keeps_a_callback_waiting_for_its_next_attempt() -> None:
    engine = floor()
    interaction_id, accepted = callback_in_hand(engine, T0)
    engine.handle(
        RecordCallbackAttempt(interaction_id=interaction_id, advisor_id="A1", outcome="unanswered"),
        accepted + 30 * SECOND,
    )
    restored = Engine.from_image(engine.image())
    waiting = restored.state.interactions[interaction_id]
    assert (waiting.callback_requested_at, waiting.callback_attempts, waiting.not_before) == (
        T0 + 30 * SECOND,
        1,
        accepted + 630 * SECOND,
    )
    assert restored.snapshot() == engine.snapshot()
    later = accepted + 630 * SECOND
    (again,) = only(restored.advance(later), OfferMade)
    assert again.interaction_id == interaction_id
    assert engine.advance(later) == [again]


def test_an_image_of_format_4_reads_without_callbacks_as_replaying_its_journal() -> None:
    # Written by the code of format 4 (no callback fields), with the journal it came from.
    image = (DATA / "snapshot-format-4.msgpack").read_bytes()
    journal = msgspec.json.decode(
        (DATA / "snapshot-format-4.journal.json").read_bytes(), type=list[Event]
    )
    assert msgspec.msgpack.decode(image)["format"] == 4
    upgraded = Engine.from_image(image)
    rebuilt = replayed(journal)
    assert all(i.callback_requested_at is None for i in upgraded.state.interactions.values())
    assert upgraded.state.schedules  # what format 4 added is kept
    assert upgraded.snapshot() == rebuilt.snapshot()
    # The same image, but for the instant last seen: the image's, later than its last event.
    assert dump_state(upgraded.state) == dump_state(rebuilt.state)
    later = upgraded.now + 3 * 86_400 * SECOND
    assert upgraded.advance(later) == rebuilt.advance(later)
