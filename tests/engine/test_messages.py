"""Conversations: threads of messages, join-or-open submissions, answers and their delivery."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from aiguillage.engine.commands import (
    Accept,
    Close,
    PostMessage,
    RecordDelivery,
    SetAdvisorState,
    SetPolicies,
    Submit,
    Transfer,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import (
    IllegalTransition,
    InvalidCommand,
    NotYourWork,
    UnknownInteraction,
    UnknownMessage,
)
from aiguillage.engine.events import (
    Event,
    InteractionArrived,
    InteractionClosed,
    InteractionForgotten,
    InteractionResponded,
    MessageBounced,
    MessageFailed,
    MessagePosted,
    MessageReceived,
    MessageSent,
    OfferMade,
)
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.policies import Channel, RetentionPolicy
from aiguillage.engine.snapshots import SNAPSHOT_FORMAT, dump_state

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, make_policies, replayed

T0 = TUESDAY_10H
THREAD = "<root-1@example.org>"
SOURCES: dict[Channel, str] = {"written": "email", "social": "x", "voice": "phone"}


def mail(
    engine: Engine,
    external_id: str,
    now: Instant,
    *,
    thread: str = THREAD,
    digest: str = "",
    channel: Channel = "written",
    motive: str | None = None,
) -> list[Event]:
    command = Submit(
        channel=channel,
        source=SOURCES[channel],
        external_id=external_id,
        thread=thread,
        personal_digest=digest or f"d-{external_id}",
        motive=motive,
    )
    return engine.handle(command, now)


def offer_in(events: list[Event]) -> OfferMade:
    (offer,) = [event for event in events if isinstance(event, OfferMade)]
    return offer


def held(engine: Engine, events: list[Event], now: Instant) -> tuple[str, int]:
    """Accept the offer among the events; return its advisor and interaction."""
    offer = offer_in(events)
    engine.handle(Accept(advisor_id=offer.advisor_id, offer_id=offer.offer_id), now)
    return offer.advisor_id, offer.interaction_id


def answer(engine: Engine, advisor_id: str, interaction_id: int, now: Instant) -> int:
    """Post an answer; return its message id."""
    events = engine.handle(
        PostMessage(
            interaction_id=interaction_id, advisor_id=advisor_id, kind="answer", digest="d-ans"
        ),
        now,
    )
    posted = events[0]
    assert isinstance(posted, MessagePosted)
    return posted.message_id


def delivered(
    engine: Engine, message_id: int, outcome: str, now: Instant, **more: object
) -> list[Event]:
    return engine.handle(RecordDelivery(message_id=message_id, outcome=outcome, **more), now)  # type: ignore[arg-type]


# -- join or open -----------------------------------------------------------------------------


def test_a_thread_starts_with_the_customers_message(engine: JournaledEngine) -> None:
    events = mail(engine, "m1", T0, digest="d-first")
    arrived, received = events
    assert isinstance(arrived, InteractionArrived)
    assert arrived.thread == THREAD
    assert (arrived.follows, arrived.preferred_advisor) == (None, None)
    assert received == MessageReceived(
        at=T0, interaction_id=1, message_id=1, digest="d-first", external_id="m1", source="email"
    )
    interaction = engine.state.interactions[1]
    assert interaction.messages == [1]
    message = engine.state.messages[1]
    assert (message.kind, message.state, message.author) == ("customer", "received", None)
    assert engine.state.threads == {("email", THREAD): 1}
    # The first message's text is the submission's personal data: it is not counted twice.
    assert interaction.later_digests == ()


def test_a_submission_without_a_thread_starts_one_only_with_personal_data(
    engine: JournaledEngine,
) -> None:
    bare = engine.handle(Submit(channel="voice", source="phone", external_id="c1"), T0)
    with_text = engine.handle(
        Submit(channel="written", source="email", external_id="m1", personal_digest="d"), T0
    )
    assert [type(e) for e in bare] == [InteractionArrived]
    assert [type(e) for e in with_text] == [InteractionArrived, MessageReceived]
    assert engine.state.threads == {}


def test_a_message_of_an_open_thread_joins_its_interaction(engine: JournaledEngine) -> None:
    mail(engine, "m1", T0)
    later = T0 + 60 * SECOND
    submission = engine.submit(
        Submit(
            channel="written",
            source="email",
            external_id="m2",
            thread=THREAD,
            personal_digest="d-m2",
        ),
        later,
    )
    assert submission.events == [
        MessageReceived(
            at=later,
            interaction_id=1,
            message_id=2,
            digest="d-m2",
            external_id="m2",
            source="email",
        )
    ]
    assert (submission.created, submission.interaction.id) == (True, 1)
    assert list(engine.state.interactions) == [1]
    assert engine.state.interactions[1].messages == [1, 2]
    assert engine.state.interactions[1].later_digests == ("d-m2",)
    assert engine.state.by_external[("email", "m2")] == 1


def test_a_redelivered_message_that_joined_changes_nothing(engine: JournaledEngine) -> None:
    mail(engine, "m1", T0)
    mail(engine, "m2", T0 + SECOND)
    before = dump_state(engine.state)
    again = engine.submit(
        Submit(channel="written", source="email", external_id="m2", thread=THREAD),
        T0 + 2 * SECOND,
    )
    assert (again.events, again.created, again.interaction.id) == ([], False, 1)
    assert mail(engine, "m1", T0 + 3 * SECOND) == []
    assert dump_state(engine.state) == before


def test_a_digest_already_held_is_not_added_again(engine: JournaledEngine) -> None:
    mail(engine, "m1", T0, digest="d-same")
    mail(engine, "m2", T0, digest="d-other")
    mail(engine, "m3", T0, digest="d-other")
    mail(engine, "m4", T0, digest="d-same")
    assert engine.state.interactions[1].later_digests == ("d-other",)


def test_a_thread_is_the_sources_own(engine: JournaledEngine) -> None:
    mail(engine, "m1", T0)
    events = engine.handle(
        Submit(channel="written", source="webform", external_id="f1", thread=THREAD), T0
    )
    assert isinstance(events[0], InteractionArrived)
    assert events[0].interaction_id == 2
    assert engine.state.threads == {("email", THREAD): 1, ("webform", THREAD): 2}


def closed_by_a1(engine: JournaledEngine) -> None:
    """A1 handles and closes the thread's first interaction; A2, a better fit, comes after."""
    add_advisor(engine, "A1", T0, skills={"refunds": 3})
    advisor_id, interaction_id = held(engine, mail(engine, "m1", T0, motive="refunds"), T0)
    assert advisor_id == "A1"
    answer(engine, "A1", interaction_id, T0 + SECOND)
    engine.handle(Close(interaction_id=interaction_id, advisor_id="A1"), T0 + 2 * SECOND)
    add_advisor(engine, "A2", T0 + 3 * SECOND, skills={"refunds": 5})


def test_a_message_after_the_close_opens_a_follow_up_offered_first_to_its_advisor(
    engine: JournaledEngine,
) -> None:
    closed_by_a1(engine)
    # Without a thread, the better fit gets new work: the preference is what sends it to A1.
    control = engine.handle(
        Submit(channel="written", source="email", external_id="x", motive="refunds"),
        T0 + 3 * SECOND,
    )
    assert offer_in(control).advisor_id == "A2"
    events = mail(engine, "m2", T0 + 4 * SECOND, motive="refunds")
    arrived = events[0]
    assert isinstance(arrived, InteractionArrived)
    assert (arrived.follows, arrived.preferred_advisor) == (1, "A1")
    assert isinstance(events[1], MessageReceived)
    assert events[1].interaction_id == arrived.interaction_id
    offer = offer_in(events)
    assert (offer.advisor_id, offer.rule) == ("A1", "preferred_advisor")
    assert engine.state.threads == {("email", THREAD): arrived.interaction_id}
    follow_up = engine.state.interactions[arrived.interaction_id]
    assert (follow_up.follows, follow_up.messages) == (1, [3])


def test_a_follow_up_goes_to_others_when_its_advisor_is_not_ready(
    engine: JournaledEngine,
) -> None:
    closed_by_a1(engine)
    engine.handle(SetAdvisorState(advisor_id="A1", state="not_ready"), T0 + 4 * SECOND)
    events = mail(engine, "m2", T0 + 5 * SECOND, motive="refunds")
    assert isinstance(events[0], InteractionArrived)
    assert events[0].preferred_advisor == "A1"
    offer = offer_in(events)
    assert (offer.advisor_id, offer.rule) == ("A2", "idle_advisor")


# -- posting ----------------------------------------------------------------------------------


def test_an_answer_or_a_note_is_written_by_the_advisor_holding_the_work(
    engine: JournaledEngine,
) -> None:
    mail(engine, "m1", T0)

    def post(advisor_id: str | None, kind: str = "answer") -> list[Event]:
        command = PostMessage(interaction_id=1, advisor_id=advisor_id, kind=kind, digest="d")  # type: ignore[arg-type]
        return engine.handle(command, T0 + SECOND)

    with pytest.raises(IllegalTransition):  # queued: nobody holds it
        post("A1", "note")
    add_advisor(engine, "A1", T0 + SECOND)
    add_advisor(engine, "A2", T0 + SECOND)
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0 + SECOND)
    with pytest.raises(NotYourWork):
        post("A2", "note")
    with pytest.raises(InvalidCommand, match="advisor_id is missing"):
        post(None, "answer")
    with pytest.raises(InvalidCommand, match="the system"):
        post("A1", "acknowledgement")
    with pytest.raises(InvalidCommand, match="digest"):
        engine.handle(
            PostMessage(interaction_id=1, advisor_id="A1", kind="note", digest=""), T0 + SECOND
        )
    with pytest.raises(UnknownInteraction):
        engine.handle(
            PostMessage(interaction_id=9, advisor_id="A1", kind="note", digest="d"), T0 + SECOND
        )
    (note,) = post("A1", "note")
    assert note == MessagePosted(
        at=T0 + SECOND, interaction_id=1, message_id=2, kind="note", author="A1", digest="d"
    )
    assert engine.state.messages[2].state == "internal"
    assert engine.state.outbox == {}


def test_an_acknowledgement_is_the_systems_on_open_work_only(engine: JournaledEngine) -> None:
    mail(engine, "m1", T0)
    ack = PostMessage(interaction_id=1, advisor_id=None, kind="acknowledgement", digest="d-ack")
    (posted,) = engine.handle(ack, T0)
    assert isinstance(posted, MessagePosted)
    assert posted.author is None
    assert list(engine.state.outbox) == [posted.message_id]
    assert engine.state.interactions[1].responded_at is None  # it stops no clock
    engine.handle(Close(interaction_id=1), T0 + SECOND)
    with pytest.raises(IllegalTransition, match="closed"):
        engine.handle(ack, T0 + SECOND)


def test_an_interaction_is_acknowledged_once_whoever_asks_again(engine: JournaledEngine) -> None:
    mail(engine, "m1", T0)
    ack = PostMessage(interaction_id=1, advisor_id=None, kind="acknowledgement", digest="d-ack")
    (first,) = engine.handle(ack, T0)
    # A channel that cannot tell whether it acknowledged (it crashed) asks again: nothing new.
    again = PostMessage(interaction_id=1, advisor_id=None, kind="acknowledgement", digest="d-2")
    assert engine.handle(again, T0 + SECOND) == []
    kinds = [engine.state.messages[i].kind for i in engine.state.interactions[1].messages]
    assert kinds.count("acknowledgement") == 1
    assert isinstance(first, MessagePosted)
    assert list(engine.state.outbox) == [first.message_id]


def test_a_call_is_not_answered_in_writing(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0)
    advisor_id, interaction_id = held(
        engine, engine.handle(Submit(channel="voice", source="phone", external_id="c1"), T0), T0
    )
    with pytest.raises(InvalidCommand, match="call"):
        answer(engine, advisor_id, interaction_id, T0)
    note = PostMessage(interaction_id=interaction_id, advisor_id="A1", kind="note", digest="d")
    assert [type(e) for e in engine.handle(note, T0)] == [MessagePosted]


@pytest.mark.parametrize("channel", ["written", "social"])
def test_the_first_answer_is_the_first_response_but_not_a_note_or_an_acknowledgement(
    engine: JournaledEngine, channel: Channel
) -> None:
    add_advisor(engine, "A1", T0)
    _, interaction_id = held(engine, mail(engine, "m1", T0, channel=channel), T0)
    for kind, author in (("note", "A1"), ("acknowledgement", None)):
        command = PostMessage(
            interaction_id=interaction_id,
            advisor_id=author,
            kind=kind,
            digest="d",  # type: ignore[arg-type]
        )
        assert [type(e) for e in engine.handle(command, T0 + SECOND)] == [MessagePosted]
    assert engine.state.interactions[interaction_id].responded_at is None
    first = PostMessage(interaction_id=interaction_id, advisor_id="A1", kind="answer", digest="a")
    posted, responded = engine.handle(first, T0 + 2 * SECOND)
    assert isinstance(posted, MessagePosted)
    assert responded == InteractionResponded(
        at=T0 + 2 * SECOND, interaction_id=interaction_id, advisor_id="A1", within_sla=True
    )
    assert engine.state.interactions[interaction_id].responded_at == T0 + 2 * SECOND
    assert [type(e) for e in engine.handle(first, T0 + 3 * SECOND)] == [MessagePosted]


# -- delivery ---------------------------------------------------------------------------------


@pytest.fixture
def posted(engine: JournaledEngine) -> tuple[JournaledEngine, int]:
    add_advisor(engine, "A1", T0)
    advisor_id, interaction_id = held(engine, mail(engine, "m1", T0), T0)
    return engine, answer(engine, advisor_id, interaction_id, T0 + SECOND)


def test_a_posted_answer_waits_in_the_outbox(posted: tuple[JournaledEngine, int]) -> None:
    engine, message_id = posted
    assert list(engine.state.outbox) == [message_id]
    message = engine.state.outbox[message_id]
    assert (message.kind, message.state, message.author) == ("answer", "posted", "A1")


def test_a_failure_with_a_retry_stays_in_the_outbox_until_sent(
    posted: tuple[JournaledEngine, int],
) -> None:
    engine, message_id = posted
    now = T0 + 2 * SECOND
    retry = now + 60 * SECOND
    assert delivered(engine, message_id, "failed", now, reason="timeout", retry_at=retry) == [
        MessageFailed(
            at=now,
            interaction_id=1,
            message_id=message_id,
            reason="timeout",
            attempts=1,
            retry_at=retry,
        )
    ]
    assert engine.state.outbox[message_id].retry_at == retry
    (again,) = delivered(engine, message_id, "failed", retry, retry_at=retry + 60 * SECOND)
    assert isinstance(again, MessageFailed)
    assert again.attempts == 2
    assert message_id in engine.state.outbox
    (sent,) = delivered(engine, message_id, "sent", retry + SECOND, peer_id="<a1@ours>")
    assert sent == MessageSent(
        at=retry + SECOND, interaction_id=1, message_id=message_id, peer_id="<a1@ours>"
    )
    assert engine.state.outbox == {}
    message = engine.state.messages[message_id]
    assert (message.state, message.peer_id, message.retry_at, message.attempts) == (
        "sent",
        "<a1@ours>",
        None,
        2,
    )


def test_a_second_sent_report_changes_nothing(posted: tuple[JournaledEngine, int]) -> None:
    engine, message_id = posted
    delivered(engine, message_id, "sent", T0 + 2 * SECOND, peer_id="p")
    before = dump_state(engine.state)
    assert delivered(engine, message_id, "sent", T0 + 3 * SECOND, peer_id="p") == []
    assert dump_state(engine.state) == before


def test_a_sent_message_may_bounce_and_nothing_else(posted: tuple[JournaledEngine, int]) -> None:
    engine, message_id = posted
    with pytest.raises(IllegalTransition, match="posted: it cannot be bounced"):
        delivered(engine, message_id, "bounced", T0 + 2 * SECOND)
    delivered(engine, message_id, "sent", T0 + 2 * SECOND)
    with pytest.raises(IllegalTransition, match="sent: it cannot be failed"):
        delivered(engine, message_id, "failed", T0 + 3 * SECOND)
    assert delivered(engine, message_id, "bounced", T0 + 3 * SECOND, reason="full") == [
        MessageBounced(at=T0 + 3 * SECOND, interaction_id=1, message_id=message_id, reason="full")
    ]
    assert engine.state.messages[message_id].state == "bounced"
    assert engine.state.outbox == {}
    with pytest.raises(IllegalTransition, match="bounced: it cannot be sent"):
        delivered(engine, message_id, "sent", T0 + 4 * SECOND)


def test_a_failure_given_up_leaves_the_outbox_for_good(posted: tuple[JournaledEngine, int]) -> None:
    engine, message_id = posted
    delivered(engine, message_id, "failed", T0 + 2 * SECOND, reason="refused")
    assert engine.state.outbox == {}
    message = engine.state.messages[message_id]
    assert (message.state, message.retry_at, message.reason) == ("failed", None, "refused")
    with pytest.raises(IllegalTransition, match="given up"):
        delivered(engine, message_id, "sent", T0 + 3 * SECOND)


def test_delivery_reports_that_cannot_be_are_refused(posted: tuple[JournaledEngine, int]) -> None:
    engine, message_id = posted
    with pytest.raises(UnknownMessage) as unknown:
        delivered(engine, 99, "sent", T0 + 2 * SECOND)
    assert unknown.value.reason == "unknown_message"
    with pytest.raises(IllegalTransition, match="customer"):
        delivered(engine, 1, "sent", T0 + 2 * SECOND)
    with pytest.raises(InvalidCommand, match="retry_at"):
        delivered(engine, message_id, "sent", T0 + 2 * SECOND, retry_at=T0 + 9 * SECOND)
    assert engine.state.messages[message_id].state == "posted"


# -- close, retention, replay, snapshots -----------------------------------------------------


def test_a_close_without_an_answer_says_why(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0)
    _, interaction_id = held(engine, mail(engine, "m1", T0), T0)
    (closed,) = engine.handle(
        Close(interaction_id=interaction_id, advisor_id="A1", reason="no_answer_needed"), T0
    )
    assert closed == InteractionClosed(
        at=T0, interaction_id=interaction_id, advisor_id="A1", reason="no_answer_needed"
    )
    # Without a reason, the event is written as before there were reasons.
    plain = msgspec.json.encode(InteractionClosed(at=T0, interaction_id=1, advisor_id="A1"))
    assert b"reason" not in plain
    assert msgspec.json.decode(plain, type=Event) == InteractionClosed(
        at=T0, interaction_id=1, advisor_id="A1"
    )


def test_ended_work_is_forgotten_only_once_its_outbox_is_empty(engine: JournaledEngine) -> None:
    period = 600 * SECOND
    policies = msgspec.structs.replace(
        make_policies(), retention=RetentionPolicy(live_after_close_s=period // SECOND)
    )
    engine.handle(SetPolicies(policies=policies), T0)
    add_advisor(engine, "A1", T0)
    _, interaction_id = held(engine, mail(engine, "m1", T0), T0)
    mail(engine, "m2", T0)  # joins
    message_id = answer(engine, "A1", interaction_id, T0)
    engine.handle(Close(interaction_id=interaction_id, advisor_id="A1"), T0 + SECOND)
    assert engine.advance(T0 + SECOND + 2 * period) == []
    assert interaction_id in engine.state.interactions
    delivered(engine, message_id, "sent", T0 + 3 * period)
    (forgotten,) = engine.advance(T0 + 3 * period)
    assert isinstance(forgotten, InteractionForgotten)
    state = engine.state
    assert (state.interactions, state.messages, state.outbox, state.threads) == ({}, {}, {}, {})
    assert state.by_external == {}
    assert replayed(engine.journal).snapshot() == engine.snapshot()
    # The thread's next message opens new work, which follows nothing it still knows.
    events = mail(engine, "m3", T0 + 3 * period)
    assert isinstance(events[0], InteractionArrived)
    assert events[0].follows is None


def test_a_replay_forgets_work_that_waited_for_its_outbox_when_the_live_engine_does(
    engine: JournaledEngine,
) -> None:
    # The forget timer set at the close came due while the answer was still in the outbox:
    # the live engine dropped it, and set another once the answer left. A replay of the same
    # journal holds both timers; only the second one is in force.
    period = 600 * SECOND
    policies = msgspec.structs.replace(
        make_policies(), retention=RetentionPolicy(live_after_close_s=period // SECOND)
    )
    engine.handle(SetPolicies(policies=policies), T0)
    add_advisor(engine, "A1", T0)
    _, interaction_id = held(engine, mail(engine, "m1", T0), T0)
    message_id = answer(engine, "A1", interaction_id, T0)
    engine.handle(Close(interaction_id=interaction_id, advisor_id="A1"), T0 + SECOND)
    assert engine.advance(T0 + SECOND + 2 * period) == []
    delivered(engine, message_id, "sent", T0 + 3 * period)
    replica = replayed(engine.journal)
    live = engine.advance(T0 + 4 * period)
    assert [(type(e), e.due) for e in live] == [(InteractionForgotten, T0 + 3 * period)]
    assert replica.advance(T0 + 4 * period) == live


def test_work_ended_with_an_empty_outbox_is_forgotten_on_time(engine: JournaledEngine) -> None:
    add_advisor(engine, "A1", T0)
    _, interaction_id = held(engine, mail(engine, "m1", T0), T0)
    message_id = answer(engine, "A1", interaction_id, T0)
    delivered(engine, message_id, "sent", T0)
    engine.handle(Close(interaction_id=interaction_id, advisor_id="A1"), T0)
    retention = engine.state.policies.retention.live_after_close_s * SECOND
    assert [type(e) for e in engine.advance(T0 + retention)] == [InteractionForgotten]


def conversation(engine: JournaledEngine) -> None:
    """A history touching every message event, a follow-up and a transfer."""
    add_advisor(engine, "A1", T0)
    ack = PostMessage(interaction_id=1, advisor_id=None, kind="acknowledgement", digest="d-ack")
    _, first = held(engine, mail(engine, "m1", T0), T0)
    engine.handle(ack, T0)
    mail(engine, "m2", T0 + SECOND)
    note = PostMessage(interaction_id=first, advisor_id="A1", kind="note", digest="d-note")
    engine.handle(note, T0 + SECOND)
    sent = answer(engine, "A1", first, T0 + 2 * SECOND)
    delivered(engine, 2, "failed", T0 + 2 * SECOND, retry_at=T0 + 9 * SECOND)
    delivered(engine, sent, "sent", T0 + 3 * SECOND, peer_id="p1")
    delivered(engine, sent, "bounced", T0 + 4 * SECOND, reason="full")
    engine.handle(Close(interaction_id=first, advisor_id="A1"), T0 + 5 * SECOND)
    add_advisor(engine, "A2", T0 + 5 * SECOND, skills={"general": 5})
    events = mail(engine, "m3", T0 + 6 * SECOND)
    _, follow_up = held(engine, events, T0 + 6 * SECOND)
    answer(engine, "A1", follow_up, T0 + 7 * SECOND)
    engine.handle(
        Transfer(advisor_id="A1", interaction_id=follow_up, note_digest="d-t"), T0 + 8 * SECOND
    )


def test_the_journal_rebuilds_the_threads(engine: JournaledEngine) -> None:
    conversation(engine)
    rebuilt = replayed(engine.journal)
    assert rebuilt.snapshot() == engine.snapshot()
    state = engine.state
    assert len(state.messages) == 7
    assert sorted(state.outbox) == [2, 7]
    assert state.interactions[2].follows == 1
    assert state.threads == {("email", THREAD): 2}


def test_a_snapshot_keeps_the_threads(engine: JournaledEngine) -> None:
    conversation(engine)
    restored = Engine.from_image(engine.image())
    assert restored.snapshot() == engine.snapshot()
    assert restored.state.outbox[2] is restored.state.messages[2]
    assert msgspec.msgpack.decode(engine.image())["format"] == SNAPSHOT_FORMAT >= 3
    later = T0 + 9 * SECOND
    assert delivered(restored, 2, "sent", later) == delivered(engine, 2, "sent", later)
    assert restored.image() == engine.image()


DATA = Path(__file__).parent / "data"


def test_an_image_of_format_2_reads_as_replaying_its_journal_builds_the_state() -> None:
    # Written by the code of format 2 (no messages), with the journal it came from.
    image = (DATA / "snapshot-format-2.msgpack").read_bytes()
    journal = msgspec.json.decode(
        (DATA / "snapshot-format-2.journal.json").read_bytes(), type=list[Event]
    )
    assert msgspec.msgpack.decode(image)["format"] == 2
    upgraded = Engine.from_image(image)
    rebuilt = replayed(journal)
    state = upgraded.state
    assert (state.messages, state.outbox, state.threads, state.next_message_id) == ({}, {}, {}, 1)
    assert all(i.messages == [] for i in state.interactions.values())
    # An image written before advisors kept when they entered their state does not know it
    # (0: the screens show no time in state); the replay does. Everything else is the same.
    assert all(a.state_since == 0 for a in state.advisors.values())
    for advisor in rebuilt.state.advisors.values():
        advisor.state_since = 0
    # Nor when its ended work is forgotten (``None``: when its retention ends, outbox empty).
    assert all(i.forget_at is None for i in state.interactions.values())
    for interaction in rebuilt.state.interactions.values():
        interaction.forget_at = None
    assert upgraded.snapshot() == rebuilt.snapshot()
    later = upgraded.now + 3 * 86_400 * SECOND
    assert upgraded.advance(later) == rebuilt.advance(later)
    assert upgraded.image() == rebuilt.image()
    # The upgraded engine goes on as a new one would: a first message is numbered 1.
    events = upgraded.handle(
        Submit(channel="social", source="x", external_id="s9", thread="c1", personal_digest="d"),
        upgraded.now,
    )
    received = [e for e in events if isinstance(e, MessageReceived)]
    assert [m.message_id for m in received] == [1]
