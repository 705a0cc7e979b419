"""The engine's behaviour, one rule per test, on small hand-built situations."""

from __future__ import annotations

import pickle
from typing import Any, TypeVar

import msgspec
import pytest

from aiguillage.engine.commands import (
    Abandon,
    Accept,
    AwaitPrincipal,
    Close,
    Decline,
    PrincipalAnswered,
    RecordResponse,
    SetAdvisorState,
    SetPolicies,
    Submit,
    Transfer,
    TransferOut,
    UpdateAdvisor,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import (
    ChannelClosed,
    ClockWentBackwards,
    IllegalTransition,
    InvalidCommand,
    NotYourWork,
    Refused,
    UnknownInteraction,
)
from aiguillage.engine.events import (
    AdvisorStateChanged,
    InteractionArrived,
    InteractionClosed,
    InteractionRefused,
    InteractionRelaxed,
    InteractionResponded,
    OfferExpired,
    OfferMade,
    OfferRevoked,
    SlaBreached,
    SlaWarning,
)
from aiguillage.engine.instants import SECOND
from aiguillage.engine.policies import RelaxationStep
from aiguillage.engine.timers import TimerKind

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, at, make_policies, replayed

E = TypeVar("E")
T0 = TUESDAY_10H


def only(events: list[Any], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def submit(engine: Engine, external_id: str, now: int = T0, **fields: Any) -> list[Any]:
    fields.setdefault("channel", "voice")
    fields.setdefault(
        "source", {"voice": "phone", "written": "email", "social": "x"}[fields["channel"]]
    )
    return engine.handle(Submit(external_id=external_id, **fields), now)


def offer_of(events: list[Any]) -> OfferMade:
    (offer,) = only(events, OfferMade)
    return offer


# -- intake ---------------------------------------------------------------------------------


def test_an_interaction_is_offered_to_an_idle_eligible_advisor_with_the_reason(
    engine: Engine,
) -> None:
    add_advisor(engine, "A1", T0)
    offer = offer_of(submit(engine, "c1"))
    assert (offer.advisor_id, offer.rule, offer.candidates, offer.step) == (
        "A1",
        "idle_advisor",
        1,
        0,
    )
    assert offer.strategy == "deadline"
    assert offer.expires_at == T0 + 15 * SECOND


def test_submitting_the_same_source_and_external_id_twice_creates_nothing(engine: Engine) -> None:
    first = engine.submit(Submit(channel="voice", source="phone", external_id="c1", priority=4), T0)
    before = engine.snapshot()
    again = engine.submit(
        Submit(channel="voice", source="phone", external_id="c1", priority=9), T0 + SECOND
    )
    assert (first.created, again.created, again.events) == (True, False, [])
    assert again.interaction.id == first.interaction.id
    assert again.interaction.priority == 4
    assert engine.snapshot() == before


def test_a_call_outside_opening_hours_is_refused_with_reason_closed(engine: Engine) -> None:
    sunday = at("2026-12-06T10:00:00+01:00")
    before = engine.snapshot()
    with pytest.raises(ChannelClosed) as refused:
        submit(engine, "c1", now=sunday)
    assert refused.value.reason == "closed"
    assert engine.snapshot() == before


def test_a_refused_call_carries_the_event_that_records_it(engine: JournaledEngine) -> None:
    sunday = at("2026-12-06T10:00:00+01:00")
    command = Submit(
        channel="voice",
        source="phone",
        external_id="c1",
        motive="refunds",
        received_at=sunday - 2 * SECOND,
    )
    with pytest.raises(ChannelClosed) as refused:
        engine.submit(command, sunday)
    assert refused.value.event == InteractionRefused(
        at=sunday,
        channel="voice",
        source="phone",
        external_id="c1",
        motive="refunds",
        received_at=sunday - 2 * SECOND,
        reason="closed",
    )
    assert str(refused.value) == "the voice channel is closed at 2026-12-06T09:59:58+01:00"
    # Journaled, it replays as nothing: the engine that refused and its replica agree.
    engine.journal.append(refused.value.event)
    assert replayed(engine.journal).snapshot() == engine.snapshot()
    assert "c1" not in {key[1] for key in engine.state.by_external}


def test_a_refusal_crosses_a_process_boundary_with_its_event(engine: Engine) -> None:
    sunday = at("2026-12-06T10:00:00+01:00")
    with pytest.raises(ChannelClosed) as refused:
        submit(engine, "c1", now=sunday)
    copy = pickle.loads(pickle.dumps(refused.value))
    assert (str(copy), copy.reason, copy.event) == (
        str(refused.value),
        "closed",
        refused.value.event,
    )


def test_a_social_message_outside_opening_hours_is_accepted(engine: Engine) -> None:
    sunday = at("2026-12-06T10:00:00+01:00")
    (arrived,) = only(submit(engine, "s1", now=sunday, channel="social"), InteractionArrived)
    assert arrived.deadline == sunday + 4 * 3600 * SECOND


@pytest.mark.parametrize(
    ("fields", "phrase"),
    [
        ({"channel": "voice", "source": "email"}, "does not feed channel voice"),
        ({"channel": "voice", "source": "phone", "priority": 10}, "priority 10 is out of range"),
        ({"channel": "voice", "source": "phone", "language": "de"}, "unknown language 'de'"),
        ({"channel": "voice", "source": "phone", "motive": "weather"}, "unknown motive 'weather'"),
        ({"channel": "voice", "source": "phone", "typology": "simple"}, "written complaints only"),
        ({"channel": "voice", "source": "phone", "skills": {"juggling": 2}}, "unknown skill"),
    ],
)
def test_a_malformed_submission_is_invalid_and_says_why(
    engine: Engine, fields: dict[str, Any], phrase: str
) -> None:
    before = engine.snapshot()
    with pytest.raises(InvalidCommand, match=phrase):
        engine.handle(Submit(external_id="x1", **fields), T0)
    assert engine.snapshot() == before


def test_an_unconfigured_channel_is_invalid() -> None:
    with pytest.raises(InvalidCommand, match="not configured"):
        Engine().handle(Submit(channel="voice", source="phone", external_id="c1"), T0)


def test_time_never_goes_back(engine: Engine) -> None:
    with pytest.raises(ClockWentBackwards):
        engine.advance(T0 - 1)


# -- queue order and matching ---------------------------------------------------------------


def test_queue_serves_higher_priority_then_earlier_deadline_then_arrival(engine: Engine) -> None:
    submit(engine, "late-low", channel="written", priority=0)
    submit(engine, "high", channel="written", priority=5)
    submit(engine, "old-mail", channel="written", received_at=T0 - 24 * 3600 * SECOND)
    submit(engine, "low-2", channel="written")
    assert engine.state.queues.ordered("written") == [2, 3, 1, 4]
    add_advisor(engine, "A1", T0, capacity={"written": 1})
    served = []
    for _ in range(4):
        offer = next(iter(engine.state.offers.values()))
        engine.handle(Accept(advisor_id="A1", offer_id=offer.id), T0)
        engine.handle(Close(advisor_id="A1", interaction_id=offer.interaction_id), T0)
        served.append(offer.interaction_id)
    assert served == [2, 3, 1, 4]


def test_an_advisor_without_the_skill_level_or_language_is_not_offered(engine: Engine) -> None:
    add_advisor(engine, "novice", T0, skills={"general": 5, "refunds": 2})
    add_advisor(engine, "anglophone", T0, skills={"refunds": 5}, languages=("en",))
    events = submit(engine, "c1", motive="refunds")
    assert only(events, OfferMade) == []
    add_advisor(engine, "expert", T0, skills={"refunds": 3})
    assert engine.state.interactions[1].advisor_id == "expert"


def test_the_best_skill_level_wins_then_the_longest_idle(engine: Engine) -> None:
    add_advisor(engine, "good", T0, skills={"refunds": 3})
    add_advisor(engine, "best-later", T0 + 2 * SECOND, skills={"refunds": 5})
    add_advisor(engine, "best-first", T0 + 2 * SECOND, skills={"refunds": 5})
    engine.handle(SetAdvisorState(advisor_id="best-first", state="not_ready"), T0 + 3 * SECOND)
    engine.handle(SetAdvisorState(advisor_id="best-first", state="available"), T0 + 3 * SECOND)
    offer = offer_of(submit(engine, "c1", now=T0 + 4 * SECOND, motive="refunds"))
    assert (offer.advisor_id, offer.score, offer.candidates) == ("best-later", 5.0, 3)


def test_a_call_takes_the_whole_advisor_and_digital_work_runs_side_by_side(engine: Engine) -> None:
    add_advisor(engine, "A1", T0, capacity={"voice": 1, "written": 2, "social": 2})
    for n in range(3):
        submit(engine, f"s{n}", channel="social")
    submit(engine, "m1", channel="written")
    submit(engine, "c1")
    advisor = engine.state.advisors["A1"]
    assert advisor.load == {"voice": 0, "written": 1, "social": 2}
    assert engine.state.interactions[5].status == "queued"


def test_a_call_is_offered_only_to_an_advisor_holding_nothing(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    submit(engine, "s1", channel="social")
    assert engine.state.advisors["A1"].load == {"voice": 1, "written": 0, "social": 0}


def test_relaxation_lowers_the_level_after_the_wait_and_keeps_the_place() -> None:
    engine = Engine()
    steps = (RelaxationStep(after_s=60, level_drop=1), RelaxationStep(after_s=120, fallback=True))
    engine.handle(SetPolicies(policies=make_policies(voice_relaxation=steps)), T0)
    submit(engine, "c1", motive="refunds")
    submit(engine, "c2", motive="refunds")
    add_advisor(engine, "level2", T0 + 10 * SECOND, skills={"refunds": 2})
    add_advisor(engine, "generalist", T0 + 10 * SECOND, skills={"general": 1})
    events = engine.advance(T0 + 60 * SECOND)
    relaxed = only(events, InteractionRelaxed)
    assert [(r.interaction_id, r.skills) for r in relaxed] == [
        (1, {"refunds": 2}),
        (2, {"refunds": 2}),
    ]
    first = offer_of(events)
    assert (first.interaction_id, first.advisor_id, first.step) == (1, "level2", 1)
    engine.handle(Accept(advisor_id="level2", offer_id=first.offer_id), T0 + 60 * SECOND)
    events = engine.advance(T0 + 120 * SECOND)
    assert only(events, InteractionRelaxed)[0].skills == {"general": 1}
    offer = offer_of(events)
    assert (offer.interaction_id, offer.advisor_id, offer.step) == (2, "generalist", 2)


def test_a_freed_advisor_takes_the_most_urgent_work_weighted_by_penalty(engine: Engine) -> None:
    add_advisor(engine, "A1", T0, capacity={"voice": 1, "social": 1})
    submit(engine, "c0")
    submit(engine, "s1", channel="social", received_at=T0 - 3600 * SECOND)  # 50 % of 2 h, x20
    submit(engine, "c1", now=T0 + 10 * SECOND)
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0 + 10 * SECOND)
    events = engine.handle(Close(advisor_id="A1", interaction_id=1), T0 + 100 * SECOND)
    # The call has spent 90 of its 180 s (x10 = 5.0); the message ~50 % of 2 h (x20 ~ 10).
    offer = offer_of(events)
    assert (offer.interaction_id, offer.rule, offer.candidates) == (2, "freed_advisor", 2)
    assert offer.score == pytest.approx(20 * (3700 / 7200))


def test_fifo_strategy_takes_the_longest_waiting_work() -> None:
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies(strategy="fifo")), T0)
    add_advisor(engine, "A1", T0, capacity={"voice": 1, "written": 1})
    submit(engine, "c0")
    submit(engine, "m1", channel="written", received_at=T0 - 60 * SECOND)
    submit(engine, "c1", now=T0 + 1)
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0 + 1)
    engine.handle(Close(advisor_id="A1", interaction_id=1), T0 + 2)
    assert engine.state.interactions[2].status == "offered"


# -- offers -------------------------------------------------------------------------------------


def test_a_declined_offer_returns_to_its_place_and_skips_that_advisor_for_a_while(
    engine: Engine,
) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    events = engine.handle(Decline(advisor_id="A1", offer_id=1, reason="busy"), T0 + SECOND)
    assert only(events, OfferMade) == []
    assert engine.state.queues.ordered("voice") == [1]
    assert engine.next_timer() == T0 + SECOND + 30 * SECOND
    offer = offer_of(engine.advance(T0 + 31 * SECOND))
    assert offer.advisor_id == "A1"


def test_a_declined_offer_goes_to_another_advisor_at_once(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    add_advisor(engine, "A2", T0)
    events = engine.handle(Decline(advisor_id="A1", offer_id=1), T0 + SECOND)
    assert offer_of(events).advisor_id == "A2"


def test_accepting_an_expired_offer_is_refused_and_changes_nothing(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    before = engine.snapshot()
    with pytest.raises(IllegalTransition) as refused:
        engine.handle(Accept(advisor_id="A1", offer_id=1), T0 + 15 * SECOND)
    assert refused.value.reason == "offer_expired"
    assert engine.snapshot() == before
    (expired,) = only(engine.advance(T0 + 15 * SECOND), OfferExpired)
    assert expired.due == T0 + 15 * SECOND
    with pytest.raises(IllegalTransition, match="no longer pending: it was expired"):
        engine.handle(Accept(advisor_id="A1", offer_id=1), T0 + 16 * SECOND)


def test_an_advisor_accepts_only_its_own_offer(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    add_advisor(engine, "A2", T0, capacity={"written": 1})
    submit(engine, "c1")
    with pytest.raises(NotYourWork):
        engine.handle(Accept(advisor_id="A2", offer_id=1), T0)


def test_repeated_missed_offers_put_the_advisor_not_ready(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    engine.advance(T0 + 15 * SECOND)
    engine.advance(T0 + 45 * SECOND)  # re-offered after the 30 s pause
    events = engine.advance(T0 + 60 * SECOND)
    (change,) = only(events, AdvisorStateChanged)
    assert (change.state, change.reason) == ("not_ready", "missed_offers")
    assert engine.state.queues.ordered("voice") == [1]


def test_logging_out_revokes_pending_offers_and_the_work_is_queued_again(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    events = engine.handle(SetAdvisorState(advisor_id="A1", state="offline"), T0 + SECOND)
    assert [type(e) for e in events] == [OfferRevoked, AdvisorStateChanged]
    assert engine.state.queues.ordered("voice") == [1]
    with pytest.raises(IllegalTransition):
        engine.handle(Accept(advisor_id="A1", offer_id=1), T0 + SECOND)


def test_logging_out_while_holding_work_is_refused(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    with pytest.raises(Refused, match="close or transfer"):
        engine.handle(SetAdvisorState(advisor_id="A1", state="offline"), T0)


def test_a_roster_change_is_an_event_and_routing_sees_it(engine: Engine) -> None:
    add_advisor(engine, "A1", T0, skills={"general": 1})
    submit(engine, "c1", motive="fines")
    events = engine.handle(UpdateAdvisor(advisor_id="A1", skills={"fines": 4}), T0 + SECOND)
    assert offer_of(events).advisor_id == "A1"


# -- lifecycle and SLA clocks -------------------------------------------------------------------


def test_picking_up_a_call_is_its_first_response(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    events = engine.handle(Accept(advisor_id="A1", offer_id=1), T0 + 12 * SECOND)
    (responded,) = only(events, InteractionResponded)
    assert responded.within_sla
    assert engine.next_timer() is None


def test_sla_warning_and_breach_fire_with_their_due_instants(engine: Engine) -> None:
    submit(engine, "c1")
    late = T0 + 3600 * SECOND  # the runtime was down past both timers
    events = engine.advance(late)
    warning, breach = only(events, SlaWarning)[0], only(events, SlaBreached)[0]
    assert (warning.due, warning.at) == (T0 + 144 * SECOND, late)
    assert (breach.due, breach.at) == (T0 + 180 * SECOND + 1, late)


def test_the_breach_fires_one_microsecond_after_the_deadline(engine: Engine) -> None:
    submit(engine, "c1")
    deadline = engine.state.interactions[1].deadline
    assert only(engine.advance(deadline), SlaBreached) == []
    (breach,) = only(engine.advance(deadline + 1), SlaBreached)
    assert (breach.due, breach.at) == (deadline + 1, deadline + 1)


def test_a_call_picked_up_at_the_very_deadline_is_within_and_never_breached(
    engine: Engine,
) -> None:
    add_advisor(engine, "A1", T0, available=False)
    submit(engine, "c1")
    deadline = engine.state.interactions[1].deadline
    # The runtime fires the timers due, then hands over the command, at the same instant.
    assert only(engine.advance(deadline), SlaBreached) == []
    engine.handle(SetAdvisorState(advisor_id="A1", state="available"), deadline)
    (responded,) = only(
        engine.handle(Accept(advisor_id="A1", offer_id=1), deadline), InteractionResponded
    )
    assert responded.within_sla
    assert only(engine.advance(deadline + 3600 * SECOND), SlaBreached) == []
    assert not engine.state.interactions[1].breached


def test_a_complaint_answered_at_the_very_deadline_is_within_and_never_breached(
    engine: Engine,
) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "m1", channel="written")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    deadline = engine.state.interactions[1].deadline
    assert deadline == at("2026-12-04T20:00:00+01:00")
    assert only(engine.advance(deadline), SlaBreached) == []
    events = engine.handle(RecordResponse(advisor_id="A1", interaction_id=1), deadline)
    assert only(events, InteractionResponded)[0].within_sla
    assert only(engine.advance(deadline + SECOND), SlaBreached) == []


def test_the_first_answer_stops_the_clock_and_a_transfer_never_restarts_it(engine: Engine) -> None:
    add_advisor(engine, "A1", T0, capacity={"written": 1})
    submit(engine, "m1", channel="written", motive="refunds")
    add_advisor(engine, "A2", T0, skills={"refunds": 3}, capacity={"written": 1})
    engine.handle(Accept(advisor_id="A2", offer_id=1), T0)
    engine.handle(RecordResponse(advisor_id="A2", interaction_id=1), T0 + SECOND)
    with pytest.raises(IllegalTransition, match="already had its first response"):
        engine.handle(RecordResponse(advisor_id="A2", interaction_id=1), T0 + SECOND)
    engine.handle(
        Transfer(advisor_id="A2", interaction_id=1, skills={"general": 1}), T0 + 2 * SECOND
    )
    offer = next(iter(engine.state.offers.values()))
    engine.handle(Accept(advisor_id=offer.advisor_id, offer_id=offer.id), T0 + 7 * SECOND)
    interaction = engine.state.interactions[1]
    assert interaction.responded_at == T0 + SECOND
    assert interaction.within_sla
    assert (interaction.transfers, interaction.waited_after_transfer) == (1, 5 * SECOND)
    assert engine.next_timer() is None


def test_a_transfer_out_ends_the_interaction_and_counts_as_the_handling(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "m1", channel="written", typology="transfer")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    events = engine.handle(TransferOut(advisor_id="A1", interaction_id=1), T0 + 1)
    assert only(events, InteractionResponded)[0].within_sla
    assert engine.state.interactions[1].status == "transferred_out"
    assert engine.state.advisors["A1"].holding == {}


def test_the_digests_of_a_note_and_of_a_party_are_kept_in_journal_order(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "m1", channel="written")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    engine.handle(Transfer(advisor_id="A1", interaction_id=1, note_digest="note-1"), T0 + 1)
    offer = next(iter(engine.state.offers.values()))
    engine.handle(Accept(advisor_id=offer.advisor_id, offer_id=offer.id), T0 + 2)
    handed = TransferOut(advisor_id=offer.advisor_id, interaction_id=1, party_digest="party-1")
    engine.handle(handed, T0 + 3)
    assert engine.state.interactions[1].later_digests == ("note-1", "party-1")


def test_waiting_for_the_principal_leaves_the_clock_running_by_default(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "m1", channel="written", typology="complex")
    deadline = engine.state.interactions[1].deadline
    assert deadline == at("2026-12-04T20:00:00+01:00")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    engine.handle(AwaitPrincipal(advisor_id="A1", interaction_id=1), T0)
    assert engine.state.advisors["A1"].holding == {}
    (breach,) = only(engine.advance(at("2026-12-05T12:00:00+01:00")), SlaBreached)
    assert breach.due == deadline + 1
    engine.handle(PrincipalAnswered(interaction_id=1), at("2026-12-05T12:00:00+01:00"))
    interaction = engine.state.interactions[1]
    assert (interaction.deadline, interaction.raw_deadline) == (deadline, deadline)


def test_the_advisor_who_waited_for_the_principal_resumes_the_work(
    engine: JournaledEngine,
) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "m1", channel="written", typology="complex")
    add_advisor(engine, "A2", T0)  # idle since now: longer than A1 once A1 is freed
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    engine.handle(AwaitPrincipal(advisor_id="A1", interaction_id=1), T0 + SECOND)
    assert engine.state.advisors["A2"].idle_since < engine.state.advisors["A1"].idle_since
    later = T0 + 3600 * SECOND
    (offer,) = only(engine.handle(PrincipalAnswered(interaction_id=1), later), OfferMade)
    assert (offer.advisor_id, offer.rule) == ("A1", "preferred_advisor")
    assert replayed(engine.journal).snapshot() == engine.snapshot()


def credited(engine: JournaledEngine) -> JournaledEngine:
    engine.handle(SetPolicies(policies=make_policies(credit_principal_wait=True)), T0)
    return engine


def test_a_credited_wait_for_the_principal_moves_the_deadline_by_its_opening_hours(
    engine: JournaledEngine,
) -> None:
    credited(engine)
    add_advisor(engine, "A1", T0)
    submit(engine, "m1", channel="written", typology="complex")
    raw = engine.state.interactions[1].deadline
    assert raw == at("2026-12-04T20:00:00+01:00")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    engine.handle(AwaitPrincipal(advisor_id="A1", interaction_id=1), T0)
    assert only(engine.advance(at("2026-12-05T12:00:00+01:00")), SlaBreached) == []
    # Waited Tuesday 10:00 to Saturday 12:00: 10 + 13 + 13 + 13 + 5 = 54 open hours. From
    # Friday 20:00 they run 13 h on Saturday, 13 h on Monday, Tuesday and Wednesday, and 2 h on
    # Thursday from 07:00: Sunday and the nights count nothing.
    engine.handle(PrincipalAnswered(interaction_id=1), at("2026-12-05T12:00:00+01:00"))
    interaction = engine.state.interactions[1]
    assert interaction.deadline == at("2026-12-10T09:00:00+01:00")
    assert interaction.raw_deadline == raw
    assert (interaction.deadline + 1, TimerKind.SLA_BREACH, 1, 0) in engine.snapshot()["timers"]
    assert replayed(engine.journal).snapshot() == engine.snapshot()


def test_eight_open_hours_of_waiting_give_a_thursday_deadline_friday_afternoon(
    engine: JournaledEngine,
) -> None:
    credited(engine)
    add_advisor(engine, "A1", T0)
    monday = at("2026-11-30T09:00:00+01:00")
    submit(engine, "m1", channel="written", typology="complex", received_at=monday)
    assert engine.state.interactions[1].deadline == at("2026-12-03T20:00:00+01:00")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    engine.handle(AwaitPrincipal(advisor_id="A1", interaction_id=1), T0)
    engine.handle(PrincipalAnswered(interaction_id=1), T0 + 8 * 3600 * SECOND)
    # Not Friday 04:00, when nobody works: the eight hours are counted from Friday's opening.
    assert engine.state.interactions[1].deadline == at("2026-12-04T15:00:00+01:00")


def test_a_wait_that_covered_no_opening_hours_leaves_the_deadline_where_it_was(
    engine: JournaledEngine,
) -> None:
    credited(engine)
    add_advisor(engine, "A1", T0)
    submit(engine, "m1", channel="written", typology="complex")
    raw = engine.state.interactions[1].deadline
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    sunday = at("2026-12-06T10:00:00+01:00")
    engine.handle(AwaitPrincipal(advisor_id="A1", interaction_id=1), T0)
    engine.handle(PrincipalAnswered(interaction_id=1), T0)  # answered at once: nothing waited
    assert engine.state.interactions[1].deadline == raw
    offer = next(iter(engine.state.offers.values()))
    engine.handle(Accept(advisor_id="A1", offer_id=offer.id), T0)
    engine.advance(sunday)  # breached on Friday 20:00 + 1 µs
    engine.handle(AwaitPrincipal(advisor_id="A1", interaction_id=1), sunday)
    engine.handle(PrincipalAnswered(interaction_id=1), sunday + 3600 * SECOND)
    assert engine.state.interactions[1].deadline == raw


def test_a_simple_complaint_keeps_its_clock_running_while_waiting(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "m1", channel="written", typology="simple")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    engine.handle(AwaitPrincipal(advisor_id="A1", interaction_id=1), T0)
    events = engine.advance(at("2026-12-05T12:00:00+01:00"))
    assert only(events, SlaBreached)[0].due == at("2026-12-04T20:00:00+01:00") + 1


def test_a_caller_who_hangs_up_during_the_offer_frees_the_advisor(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    engine.handle(Abandon(interaction_id=1), T0 + SECOND)
    assert engine.state.interactions[1].status == "abandoned"
    assert engine.state.advisors["A1"].holding == {}
    # No offer expiry left to fire: only the forgetting of the ended call, a day later.
    assert engine.next_timer() == T0 + SECOND + 86400 * SECOND


def test_abandoning_a_call_already_picked_up_is_refused(engine: Engine) -> None:
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    with pytest.raises(IllegalTransition, match="close it"):
        engine.handle(Abandon(interaction_id=1), T0)


def test_closing_what_is_closed_is_refused(engine: Engine) -> None:
    submit(engine, "c1")
    engine.handle(Close(interaction_id=1), T0)
    before = engine.snapshot()
    with pytest.raises(IllegalTransition, match="is closed: it cannot be closed"):
        engine.handle(Close(interaction_id=1), T0)
    assert engine.snapshot() == before


def test_an_unknown_interaction_is_refused(engine: Engine) -> None:
    with pytest.raises(UnknownInteraction):
        engine.handle(Close(interaction_id=99), T0)


def test_wrap_up_follows_a_call_and_ends_by_timer() -> None:
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies(wrap_up_s=30)), T0)
    add_advisor(engine, "A1", T0)
    submit(engine, "c1")
    submit(engine, "c2")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    events = engine.handle(Close(advisor_id="A1", interaction_id=1), T0 + 60 * SECOND)
    assert only(events, AdvisorStateChanged)[0].state == "wrap_up"
    assert only(events, OfferMade) == []
    events = engine.advance(T0 + 90 * SECOND)
    assert only(events, AdvisorStateChanged)[0].due == T0 + 90 * SECOND
    assert offer_of(events).interaction_id == 2


# -- replay -------------------------------------------------------------------------------------


def test_replaying_the_events_rebuilds_the_same_state(engine: JournaledEngine) -> None:
    engine.handle(SetPolicies(policies=make_policies(wrap_up_s=5)), T0)
    add_advisor(engine, "A1", T0)
    add_advisor(engine, "A2", T0, capacity={"written": 1})
    submit(engine, "c1")
    submit(engine, "c2")
    submit(engine, "m1", channel="written", typology="complex")
    engine.handle(Decline(advisor_id="A2", offer_id=2), T0)
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0 + SECOND)
    engine.handle(Close(advisor_id="A1", interaction_id=1), T0 + 2 * SECOND)
    engine.advance(T0 + 3600 * SECOND)
    replica = replayed(engine.journal)
    assert replica.advance(engine.now) == engine.advance(engine.now)
    assert replica.snapshot() == engine.snapshot()
    assert replica.next_timer() == engine.next_timer()


# -- the idle_advisor decision ----------------------------------------------------------------

# The engine takes shortcuts that depend on how many advisors are eligible, ready or logged out
# (walking its ranking of eligible advisors, or scanning those ready): each rule of the decision
# is checked with no one else around, beside many strong advisors logged out, and beside many
# weaker advisors ready.
OTHERS = pytest.mark.parametrize("others", ["none", "strong-away", "weaker-ready"])


def add_others(
    engine: Engine, others: str, now: int, strong: dict[str, int], weaker: dict[str, int]
) -> None:
    """Add ten logged-out advisors with ``strong`` skills, or twenty ready with ``weaker`` ones."""
    if others == "strong-away":
        for n in range(10):
            add_advisor(engine, f"away-{n:02}", now, skills=strong, available=False)
    elif others == "weaker-ready":
        for n in range(20):
            add_advisor(engine, f"weaker-{n:02}", now, skills=weaker)


@OTHERS
def test_idle_advisor_goes_to_the_highest_summed_skill_score(engine: Engine, others: str) -> None:
    add_others(engine, others, T0, {"fines": 5, "general": 5}, {"fines": 2, "general": 1})
    # Scores on the skills needed (fines and general): 6, 3 (refunds is not needed), then 8.
    add_advisor(engine, "one-high", T0, skills={"fines": 5, "general": 1})
    add_advisor(engine, "unneeded", T0 + SECOND, skills={"fines": 2, "general": 1, "refunds": 5})
    add_advisor(engine, "all-round", T0 + 2 * SECOND, skills={"fines": 4, "general": 4})
    offer = offer_of(submit(engine, "c1", T0 + 3 * SECOND, motive="fines", skills={"general": 1}))
    assert (offer.advisor_id, offer.score) == ("all-round", 8.0)


@OTHERS
def test_idle_advisor_tie_on_score_goes_to_the_longest_idle(engine: Engine, others: str) -> None:
    add_others(engine, others, T0, {"refunds": 5}, {"refunds": 3})
    add_advisor(engine, "b-first", T0, skills={"refunds": 4})
    add_advisor(engine, "a-later", T0 + SECOND, skills={"refunds": 4})
    offer = offer_of(submit(engine, "c1", T0 + 2 * SECOND, motive="refunds"))
    assert offer.advisor_id == "b-first"


@OTHERS
def test_idle_advisor_tie_on_score_and_idle_time_goes_to_the_smallest_id(
    engine: Engine, others: str
) -> None:
    add_others(engine, others, T0, {"refunds": 5}, {"refunds": 3})
    add_advisor(engine, "b", T0, skills={"refunds": 4})
    add_advisor(engine, "a", T0, skills={"refunds": 4})
    offer = offer_of(submit(engine, "c1", T0 + SECOND, motive="refunds"))
    assert offer.advisor_id == "a"


@OTHERS
def test_idle_advisor_skips_the_best_advisor_who_just_declined(engine: Engine, others: str) -> None:
    add_others(engine, others, T0, {"refunds": 5}, {"refunds": 3})
    add_advisor(engine, "best", T0, skills={"refunds": 5})
    add_advisor(engine, "next", T0, skills={"refunds": 4})
    first = offer_of(submit(engine, "c1", T0, motive="refunds"))
    assert first.advisor_id == "best"
    events = engine.handle(Decline(advisor_id="best", offer_id=first.offer_id), T0 + SECOND)
    offer = offer_of(events)
    assert (offer.advisor_id, offer.score) == ("next", 4.0)


def test_idle_advisor_candidates_counts_the_idle_eligible_advisors(engine: Engine) -> None:
    add_advisor(engine, "busy", T0, skills={"refunds": 5}, capacity={"voice": 1, "written": 1})
    submit(engine, "m1", channel="written")  # offered to "busy": no call while it holds it
    voice_only = {"voice": 1}
    add_advisor(engine, "away", T0, skills={"refunds": 5}, capacity=voice_only, available=False)
    add_advisor(engine, "english", T0, skills={"refunds": 5}, languages=("en",))
    add_advisor(engine, "novice", T0, skills={"refunds": 2}, capacity=voice_only)
    for name in ("e1", "e2", "e3"):
        add_advisor(engine, name, T0, skills={"refunds": 3}, capacity=voice_only)
    offer = offer_of(submit(engine, "c1", T0 + SECOND, motive="refunds"))
    assert (offer.rule, offer.candidates) == ("idle_advisor", 3)


def test_idle_advisor_candidates_leaves_out_an_advisor_who_just_declined(
    engine: Engine,
) -> None:
    add_advisor(engine, "best", T0, skills={"refunds": 5})
    add_advisor(engine, "next", T0, skills={"refunds": 3})
    first = offer_of(submit(engine, "c1", T0, motive="refunds"))
    events = engine.handle(Decline(advisor_id="best", offer_id=first.offer_id), T0 + SECOND)
    assert offer_of(events).candidates == 1


def test_a_strategy_given_to_the_engine_is_named_in_the_offer() -> None:
    from aiguillage.engine.routing import STRATEGIES

    engine = Engine(strategy=STRATEGIES["fifo"])
    engine.handle(SetPolicies(policies=make_policies(strategy="deadline")), T0)
    add_advisor(engine, "A1", T0)
    offer = offer_of(submit(engine, "c1"))
    assert offer.strategy == "fifo"


def test_policies_naming_an_unknown_strategy_are_invalid(engine: Engine) -> None:
    policies = make_policies(strategy="coin-toss")
    with pytest.raises(InvalidCommand, match="unknown routing strategy 'coin-toss'"):
        engine.handle(SetPolicies(policies=policies), T0)


def test_policies_dropping_a_channel_with_open_work_are_refused(engine: Engine) -> None:
    submit(engine, "s1", channel="social")
    policies = make_policies()
    without_social = msgspec.structs.replace(
        policies, channels={c: p for c, p in policies.channels.items() if c != "social"}
    )
    before = engine.snapshot()
    with pytest.raises(Refused, match="social still have open interactions"):
        engine.handle(SetPolicies(policies=without_social), T0)
    assert engine.snapshot() == before


# -- found in review ----------------------------------------------------------------------------


def test_lowering_capacity_below_held_work_is_refused_even_by_leaving_a_channel_out(
    engine: Engine,
) -> None:
    add_advisor(engine, "A1", T0, capacity={"written": 2})
    submit(engine, "m1", channel="written")
    before = engine.snapshot()
    with pytest.raises(Refused, match="holds 1 written interactions") as refused:
        engine.handle(UpdateAdvisor(advisor_id="A1", capacity={"social": 3}), T0)
    assert refused.value.reason == "holds_work"
    assert engine.snapshot() == before


def test_wrap_up_withdraws_the_offers_pending_for_the_advisor() -> None:
    engine = Engine()
    policies = make_policies()
    written = msgspec.structs.replace(policies.channels["written"], wrap_up_s=60)
    channels = {**policies.channels, "written": written}
    engine.handle(SetPolicies(policies=msgspec.structs.replace(policies, channels=channels)), T0)
    add_advisor(engine, "A1", T0, capacity={"written": 2})
    submit(engine, "m1", channel="written")
    engine.handle(Accept(advisor_id="A1", offer_id=1), T0)
    submit(engine, "m2", channel="written")  # offer 2, pending
    events = engine.handle(Close(advisor_id="A1", interaction_id=1), T0 + SECOND)
    assert [type(e) for e in events] == [InteractionClosed, OfferRevoked, AdvisorStateChanged]
    assert engine.state.queues.ordered("written") == [2]
    with pytest.raises(IllegalTransition, match="it was revoked"):
        engine.handle(Accept(advisor_id="A1", offer_id=2), T0 + 2 * SECOND)


def test_the_principals_answer_restores_the_submitted_requirement() -> None:
    engine = Engine()
    policies = make_policies()
    steps = (RelaxationStep(after_s=60, fallback=True),)
    written = msgspec.structs.replace(policies.channels["written"], relaxation=steps)
    channels = {**policies.channels, "written": written}
    engine.handle(SetPolicies(policies=msgspec.structs.replace(policies, channels=channels)), T0)
    submit(engine, "m1", channel="written", motive="refunds", typology="complex")
    engine.advance(T0 + 60 * SECOND)
    assert engine.state.interactions[1].need == {"general": 1}
    add_advisor(engine, "generalist", T0 + 61 * SECOND, skills={"general": 2})
    engine.handle(Accept(advisor_id="generalist", offer_id=1), T0 + 61 * SECOND)
    engine.handle(AwaitPrincipal(advisor_id="generalist", interaction_id=1), T0 + 62 * SECOND)
    engine.handle(PrincipalAnswered(interaction_id=1), T0 + 3600 * SECOND)
    interaction = engine.state.interactions[1]
    assert (interaction.need, interaction.relax_step) == ({"refunds": 3}, 0)
    assert interaction.status == "queued"


def test_work_returned_at_once_goes_to_idle_advisors_in_priority_order(engine: Engine) -> None:
    add_advisor(engine, "A1", T0, capacity={"social": 2})
    submit(engine, "low", channel="social", priority=0)
    submit(engine, "high", channel="social", priority=9)
    add_advisor(engine, "A2", T0, capacity={"social": 1})
    events = engine.handle(SetAdvisorState(advisor_id="A1", state="not_ready"), T0 + SECOND)
    offer = offer_of(events)
    assert (offer.interaction_id, offer.advisor_id) == (2, "A2")
    assert engine.state.queues.ordered("social") == [1]


def test_an_advisor_cannot_close_work_it_does_not_hold(engine: Engine) -> None:
    add_advisor(engine, "A1", T0, capacity={"written": 1})
    submit(engine, "m1", channel="written")
    submit(engine, "m2", channel="written")
    with pytest.raises(NotYourWork, match="held by nobody, not by 'A1'"):
        engine.handle(Close(advisor_id="A1", interaction_id=2), T0)


def test_policies_with_an_unknown_time_zone_are_invalid_and_change_nothing(
    engine: Engine,
) -> None:
    policies = make_policies()
    calendar = msgspec.structs.replace(policies.calendar, timezone="Europe/Atlantis")
    before = engine.snapshot()
    with pytest.raises(InvalidCommand, match="Europe/Atlantis"):
        engine.handle(
            SetPolicies(policies=msgspec.structs.replace(policies, calendar=calendar)), T0
        )
    assert engine.snapshot() == before


def test_a_declined_offer_goes_back_ahead_of_later_arrivals(engine: Engine) -> None:
    add_advisor(engine, "A1", T0, capacity={"written": 1})
    submit(engine, "m1", channel="written")
    submit(engine, "m2", channel="written")
    submit(engine, "m3", channel="written")
    engine.handle(Decline(advisor_id="A1", offer_id=1), T0 + SECOND)
    assert engine.state.queues.ordered("written") == [1, 3]
    offer = next(iter(engine.state.offers.values()))
    assert offer.interaction_id == 2  # A1 may not take 1 again yet: the next in line


def test_next_timer_until_looks_no_further_than_asked(engine: Engine) -> None:
    submit(engine, "late", channel="written", source="email")
    due = engine.next_timer()
    assert due is not None
    assert engine.next_timer(until=due - 1) is None
    assert engine.next_timer(until=due) == due
    assert engine.next_timer() == due  # asking with a limit drops nothing that applies


def test_the_service_availability_events_replay_as_nothing(engine: JournaledEngine) -> None:
    from aiguillage.engine import events

    submit(engine, "c1")
    before = engine.snapshot()
    noted = [
        events.ServiceStarted(at=T0 + 1, previous="crashed", last_alive=T0 - 5 * SECOND),
        events.ServiceAlive(at=T0 + 2),
        events.JournalRegained(at=T0 + 3, lost_at=T0 + 2, reason="disk I/O error"),
        events.ChannelDown(at=T0 + 4, channel="mail", since=T0 + 4, reason="degraded"),
        events.ChannelUp(at=T0 + 5, channel="mail", since=T0 + 5),
        events.ServiceStopped(at=T0 + 6, reason="signal"),
    ]
    for event in noted:
        engine.apply(event)
        engine.journal.append(event)
    assert engine.snapshot() == before
    assert replayed(engine.journal).snapshot() == engine.snapshot()
