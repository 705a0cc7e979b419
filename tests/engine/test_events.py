"""Tests of the wire vocabulary: the ``Event`` and ``Command`` unions and their tags.

The tags are the wire format of the journal and the API. They are pinned here by hand, so
renaming a tag (or giving one class another's tag) breaks a test, while renaming a class does not
change what is written. The pinned lists hold distinct tags, so a duplicate breaks them too (and
msgspec refuses to build a decoder for a union with a duplicate tag).
"""

from __future__ import annotations

import json
from typing import Any, get_args

import msgspec
import pytest

from aiguillage.engine import commands, events
from aiguillage.engine.audits import AuditPick, MysteryResult
from aiguillage.engine.commands import Command
from aiguillage.engine.events import Event
from aiguillage.engine.schedules import Shift

from .conftest import TUESDAY_10H, make_policies

T0 = TUESDAY_10H
POLICIES = make_policies()
MYSTERY = MysteryResult(
    day="2026-12-02", channel="voice", scenario="refund", scores={"tone": 4}, weighted=100.0
)

EVENT_SAMPLES: dict[str, Any] = {
    "policies.set": events.PoliciesSet(at=T0, policies=POLICIES, config_digest="sha256:ab12"),
    "advisor.added": events.AdvisorAdded(
        at=T0,
        advisor_id="A1",
        name="Camille",
        skills={"refunds": 3},
        languages=("fr", "en"),
        capacity={"voice": 1, "written": 2},
    ),
    "advisor.updated": events.AdvisorUpdated(
        at=T0,
        advisor_id="A1",
        name="Camille",
        skills={"fines": 2},
        languages=("fr",),
        capacity={"social": 3},
    ),
    "advisor.removed": events.AdvisorRemoved(at=T0, advisor_id="A1"),
    "token.minted": events.TokenMinted(
        at=T0,
        token_id=4,
        digest="ab" * 32,
        role="advisor",
        advisor_id="A1",
        expires_at=T0 + 3600,
        label="poste 12",
    ),
    "token.revoked": events.TokenRevoked(at=T0, token_id=4, reason="advisor removed"),
    "advisor.state_changed": events.AdvisorStateChanged(
        at=T0 + 5,
        advisor_id="A1",
        state="wrap_up",
        reason="after call",
        until=T0 + 9,
        due=T0,
        by="token:7",
    ),
    "interaction.arrived": events.InteractionArrived(
        at=T0,
        interaction_id=1,
        channel="written",
        source="email",
        external_id="m-1",
        motive="refunds",
        language="fr",
        skills={"refunds": 3},
        priority=2,
        typology="complex",
        received_at=T0 - 10,
        deadline=T0 + 1000,
        warning_at=T0 + 800,
        personal_digest="salted",
        thread="<root@example.org>",
        follows=0,
        preferred_advisor="A1",
    ),
    "interaction.refused": events.InteractionRefused(
        at=T0,
        channel="voice",
        source="phone",
        external_id="k1:0123abcd",
        motive="refunds",
        received_at=T0 - 3,
        reason="closed",
    ),
    "service.started": events.ServiceStarted(
        at=T0, previous="crashed", last_alive=T0 - 90, channels=("mail", "webhook")
    ),
    "service.stopped": events.ServiceStopped(at=T0, reason="signal"),
    "service.alive": events.ServiceAlive(at=T0),
    "journal.regained": events.JournalRegained(at=T0, lost_at=T0 - 40, reason="disk I/O error"),
    "channel.down": events.ChannelDown(
        at=T0, channel="mail", since=T0 - 2, reason="degraded: IMAP: refused"
    ),
    "channel.up": events.ChannelUp(at=T0, channel="mail", since=T0 - 60),
    "interaction.relaxed": events.InteractionRelaxed(
        at=T0, interaction_id=1, step=2, skills={"general": 1}, due=T0 - 1
    ),
    "offer.made": events.OfferMade(
        at=T0,
        offer_id=3,
        interaction_id=1,
        advisor_id="A1",
        expires_at=T0 + 15,
        rule="idle_advisor",
        strategy="deadline",
        step=1,
        candidates=4,
        score=8.333333333333334,
    ),
    "offer.accepted": events.OfferAccepted(at=T0, offer_id=3, interaction_id=1, advisor_id="A1"),
    "offer.declined": events.OfferDeclined(
        at=T0, offer_id=3, interaction_id=1, advisor_id="A1", reason="busy"
    ),
    "offer.expired": events.OfferExpired(
        at=T0, offer_id=3, interaction_id=1, advisor_id="A1", due=T0 - 2
    ),
    "offer.revoked": events.OfferRevoked(
        at=T0, offer_id=3, interaction_id=1, advisor_id="A1", reason="advisor went offline"
    ),
    "interaction.responded": events.InteractionResponded(
        at=T0, interaction_id=1, advisor_id="A1", within_sla=False
    ),
    "interaction.transferred": events.InteractionTransferred(
        at=T0,
        interaction_id=1,
        advisor_id="A1",
        channel="social",
        motive=None,
        skills={"fines": 2},
        note_digest="salted-note",
        to_advisor="A2",
    ),
    "interaction.transferred_out": events.InteractionTransferredOut(
        at=T0, interaction_id=1, advisor_id="A1", party_digest="salted-party"
    ),
    "interaction.principal_awaited": events.PrincipalAwaited(
        at=T0, interaction_id=1, advisor_id="A1", pauses_clock=True
    ),
    "interaction.principal_answered": events.PrincipalAnswered(
        at=T0, interaction_id=1, deadline=T0 + 2000, warning_at=T0 + 1600
    ),
    "interaction.abandoned": events.InteractionAbandoned(at=T0, interaction_id=1),
    "interaction.closed": events.InteractionClosed(
        at=T0, interaction_id=1, advisor_id="A1", reason="no_answer_needed", motive="fines"
    ),
    "interaction.callback_requested": events.CallbackRequested(
        at=T0 + 200,
        interaction_id=1,
        waited=200,
        within_sla=True,
        deadline=T0 + 7200,
        warning_at=T0 + 5000,
        number_digest="salted-number",
    ),
    "interaction.callback_answered": events.CallbackAnswered(
        at=T0 + 900, interaction_id=1, advisor_id="A1", attempt=2, dialled_at=T0 + 880, on_time=True
    ),
    "interaction.callback_missed": events.CallbackMissed(
        at=T0 + 300,
        interaction_id=1,
        advisor_id="A1",
        attempt=1,
        dialled_at=T0 + 280,
        on_time=True,
        retry_at=T0 + 900,
    ),
    "interaction.reprioritised": events.InteractionReprioritised(
        at=T0, interaction_id=1, priority=8, previous=2, by="token:7", reason="urgent"
    ),
    "interaction.moved": events.InteractionMoved(
        at=T0,
        interaction_id=1,
        from_advisor="A1",
        to_advisor="A2",
        channel="written",
        motive="fines",
        skills={"fines": 2},
        by="token:7",
        reason="rebalance",
        note_digest="salted-note",
    ),
    "interaction.forgotten": events.InteractionForgotten(at=T0 + 7, interaction_id=1, due=T0),
    "sla.warning": events.SlaWarning(at=T0, interaction_id=1, deadline=T0 + 100, due=T0 - 3),
    "sla.breached": events.SlaBreached(at=T0, interaction_id=1, due=T0 - 4),
    "message.received": events.MessageReceived(
        at=T0, interaction_id=1, message_id=2, digest="salted-2", external_id="m-2", source="email"
    ),
    "message.posted": events.MessagePosted(
        at=T0,
        interaction_id=1,
        message_id=3,
        kind="answer",
        author="A1",
        digest="salted-3",
        template="refund-ok",
    ),
    "message.sent": events.MessageSent(at=T0, interaction_id=1, message_id=3, peer_id="<a@b>"),
    "message.failed": events.MessageFailed(
        at=T0, interaction_id=1, message_id=3, reason="timeout", attempts=2, retry_at=T0 + 60
    ),
    "message.bounced": events.MessageBounced(
        at=T0, interaction_id=1, message_id=3, reason="mailbox full"
    ),
    "exemption.claimed": events.ExemptionClaimed(
        at=T0,
        exemption_id=1,
        start=T0,
        end=T0 + 3600,
        channels=("voice",),
        reason="strike",
        by="token:7",
        role="supervisor",
    ),
    "audit.drawn": events.AuditDrawn(
        at=T0,
        start=T0 - 3600,
        end=T0,
        per_advisor=5,
        seed=7,
        picks=(AuditPick(interaction_id=1, channel="voice", advisor_id="A1"),),
    ),
    "audit.scored": events.AuditScored(
        at=T0, interaction_id=1, channel="voice", advisor_id="A1", scores={"tone": 3}, weighted=75.0
    ),
    "satisfaction.recorded": events.SatisfactionRecorded(
        at=T0, interaction_id=1, channel="voice", advisor_id="A1", score=4
    ),
    "mystery.imported": events.MysteryImported(at=T0, results=(MYSTERY,)),
    "exemption.decided": events.ExemptionDecided(
        at=T0, exemption_id=1, decision="accepted", reason="seen", by="token:9", role="authority"
    ),
    "schedule.set": events.ScheduleSet(
        at=T0,
        day="2026-12-02",
        shifts=(Shift(advisor_id="A1", start=T0, end=T0 + 3600, activity="lunch"),),
    ),
    "nowcast.published": events.NowcastPublished(
        at=T0 + 30,
        image_at=T0,
        image_seq=812,
        image_sha256="ab" * 32,
        seed=7,
        replications=20,
        arrived={"social": 140},
        level={"social": 1.62},
        shown={"as is": {"social": {"breaches": (6.5, 4.0, 9.0)}}},
    ),
}

COMMAND_SAMPLES: dict[str, Any] = {
    "policies.set": commands.SetPolicies(policies=POLICIES, config_digest="sha256:ab12"),
    "advisor.add": commands.AddAdvisor(
        advisor_id="A1",
        name="Camille",
        skills={"refunds": 3},
        languages=("fr",),
        capacity={"voice": 1},
    ),
    "advisor.update": commands.UpdateAdvisor(advisor_id="A1", skills={"fines": 2}),
    "advisor.remove": commands.RemoveAdvisor(advisor_id="A1"),
    "token.mint": commands.MintToken(
        digest="ab" * 32, role="advisor", advisor_id="A1", expires_at=T0 + 3600, label="poste 12"
    ),
    "token.revoke": commands.RevokeToken(token_id=4),
    "advisor.set_state": commands.SetAdvisorState(
        advisor_id="A1", state="not_ready", reason="lunch", by="token:7"
    ),
    "interaction.submit": commands.Submit(
        channel="written",
        source="webform",
        external_id="f-9",
        received_at=T0 - 60,
        motive="refunds",
        language="en",
        skills={"general": 2},
        priority=3,
        typology="simple",
        personal_digest="salted",
        thread="<root@example.org>",
    ),
    "offer.accept": commands.Accept(advisor_id="A1", offer_id=3),
    "offer.decline": commands.Decline(advisor_id="A1", offer_id=3, reason="busy"),
    "interaction.respond": commands.RecordResponse(advisor_id="A1", interaction_id=1),
    "interaction.transfer": commands.Transfer(
        advisor_id="A1",
        interaction_id=1,
        channel="voice",
        skills={"general": 1},
        note_digest="salted-note",
        to_advisor="A2",
    ),
    "interaction.transfer_out": commands.TransferOut(
        advisor_id="A1", interaction_id=1, party_digest="salted-party"
    ),
    "interaction.await_principal": commands.AwaitPrincipal(advisor_id="A1", interaction_id=1),
    "interaction.principal_answered": commands.PrincipalAnswered(interaction_id=1),
    "interaction.abandon": commands.Abandon(interaction_id=1),
    "interaction.request_callback": commands.RequestCallback(
        interaction_id=1, number_digest="salted-number"
    ),
    "interaction.callback_attempt": commands.RecordCallbackAttempt(
        interaction_id=1, advisor_id="A1", outcome="unanswered"
    ),
    "interaction.close": commands.Close(
        interaction_id=1, advisor_id=None, reason="no_answer_needed", motive="fines"
    ),
    "interaction.prioritise": commands.Prioritise(
        interaction_id=1, priority=8, by="token:7", reason="urgent"
    ),
    "interaction.move": commands.Move(
        interaction_id=1,
        to_advisor="A2",
        channel="written",
        motive="fines",
        skills={"general": 2},
        by="token:7",
        reason="rebalance",
        note_digest="salted-note",
    ),
    "message.post": commands.PostMessage(
        interaction_id=1, advisor_id="A1", kind="note", digest="salted-4", template="t"
    ),
    "message.record_delivery": commands.RecordDelivery(
        message_id=3, outcome="failed", reason="timeout", retry_at=T0 + 60
    ),
    "exemption.claim": commands.ClaimExemption(
        start=T0, end=T0 + 3600, reason="strike", by="token:7", role="supervisor"
    ),
    "audit.draw": commands.DrawAudit(
        start=T0 - 3600,
        end=T0,
        per_advisor=5,
        seed=7,
        picks=(AuditPick(interaction_id=1, channel="voice", advisor_id="A1"),),
    ),
    "audit.score": commands.ScoreAudit(
        interaction_id=1, channel="voice", advisor_id="A1", scores={"tone": 3}, weighted=75.0
    ),
    "satisfaction.record": commands.RecordSatisfaction(interaction_id=1, score=4),
    "mystery.import": commands.ImportMystery(results=(MYSTERY,)),
    "exemption.decide": commands.DecideExemption(
        exemption_id=1, decision="refused", reason="no proof", by="token:9", role="authority"
    ),
    "schedule.set": commands.SetSchedule(
        day="2026-12-02", shifts=(Shift(advisor_id="A1", start=T0, end=T0 + 3600),)
    ),
    "nowcast.publish": commands.PublishNowcast(
        image_at=T0, image_seq=812, image_sha256="ab" * 32, seed=7, replications=20
    ),
}

EVENT_JSON = msgspec.json.Decoder(Event)
EVENT_MSGPACK = msgspec.msgpack.Decoder(Event)
COMMAND_JSON = msgspec.json.Decoder(Command)
COMMAND_MSGPACK = msgspec.msgpack.Decoder(Command)


def tag_of(struct_type: type[msgspec.Struct]) -> str:
    return str(struct_type.__struct_config__.tag)


def tag_field_of(struct_type: type[msgspec.Struct]) -> str:
    return str(struct_type.__struct_config__.tag_field)


# -- events -------------------------------------------------------------------------------------


def test_the_event_tags_are_pinned() -> None:
    assert sorted(tag_of(t) for t in get_args(Event)) == [
        "advisor.added",
        "advisor.removed",
        "advisor.state_changed",
        "advisor.updated",
        "audit.drawn",
        "audit.scored",
        "channel.down",
        "channel.up",
        "exemption.claimed",
        "exemption.decided",
        "interaction.abandoned",
        "interaction.arrived",
        "interaction.callback_answered",
        "interaction.callback_missed",
        "interaction.callback_requested",
        "interaction.closed",
        "interaction.forgotten",
        "interaction.moved",
        "interaction.principal_answered",
        "interaction.principal_awaited",
        "interaction.refused",
        "interaction.relaxed",
        "interaction.reprioritised",
        "interaction.responded",
        "interaction.transferred",
        "interaction.transferred_out",
        "journal.regained",
        "message.bounced",
        "message.failed",
        "message.posted",
        "message.received",
        "message.sent",
        "mystery.imported",
        "nowcast.published",
        "offer.accepted",
        "offer.declined",
        "offer.expired",
        "offer.made",
        "offer.revoked",
        "policies.set",
        "satisfaction.recorded",
        "schedule.set",
        "service.alive",
        "service.started",
        "service.stopped",
        "sla.breached",
        "sla.warning",
        "token.minted",
        "token.revoked",
    ]


def test_every_event_type_carries_its_tag_under_type() -> None:
    assert {tag_field_of(t) for t in get_args(Event)} == {"type"}


def test_every_event_type_has_a_sample_here() -> None:
    assert {type(sample) for sample in EVENT_SAMPLES.values()} == set(get_args(Event))


@pytest.mark.parametrize("tag", sorted(EVENT_SAMPLES))
def test_an_event_is_written_with_its_tag(tag: str) -> None:
    assert json.loads(msgspec.json.encode(EVENT_SAMPLES[tag]))["type"] == tag


@pytest.mark.parametrize("tag", sorted(EVENT_SAMPLES))
def test_an_event_round_trips_through_json_as_the_event_union(tag: str) -> None:
    sample = EVENT_SAMPLES[tag]
    decoded = EVENT_JSON.decode(msgspec.json.encode(sample))
    assert (type(decoded), decoded) == (type(sample), sample)


@pytest.mark.parametrize("tag", sorted(EVENT_SAMPLES))
def test_an_event_round_trips_through_msgpack_as_the_event_union(tag: str) -> None:
    sample = EVENT_SAMPLES[tag]
    decoded = EVENT_MSGPACK.decode(msgspec.msgpack.encode(sample))
    assert (type(decoded), decoded) == (type(sample), sample)


def test_the_text_of_notes_and_parties_journaled_before_digests_is_read_past() -> None:
    transferred = EVENT_JSON.decode(
        b'{"type": "interaction.transferred", "at": 1, "interaction_id": 1, "advisor_id": "A1",'
        b' "channel": "social", "motive": null, "skills": {}, "note": "old text"}'
    )
    handed = EVENT_JSON.decode(
        b'{"type": "interaction.transferred_out", "at": 1, "interaction_id": 1,'
        b' "advisor_id": "A1", "party": "RATP"}'
    )
    assert transferred.note_digest == ""  # type: ignore[union-attr]
    assert handed.party_digest == ""  # type: ignore[union-attr]
    # Nothing that serves events (the API, the webhook) can show what it never decoded.
    assert b"old text" not in msgspec.json.encode(transferred)
    assert b"RATP" not in msgspec.json.encode(handed)


def test_a_note_or_a_party_is_written_as_its_digest_only() -> None:
    written = json.loads(msgspec.json.encode(EVENT_SAMPLES["interaction.transferred_out"]))
    assert "party" not in written
    assert written["party_digest"] == "salted-party"


def test_events_journaled_before_steering_decode_with_their_defaults() -> None:
    """A journal written before ``by``, ``to_advisor`` and the final motive were kept."""
    changed = EVENT_JSON.decode(
        b'{"type": "advisor.state_changed", "at": 1, "advisor_id": "A1", "state": "offline",'
        b' "reason": "", "until": null, "due": null}'
    )
    transferred = EVENT_JSON.decode(
        b'{"type": "interaction.transferred", "at": 1, "interaction_id": 1, "advisor_id": "A1",'
        b' "channel": "social", "motive": null, "skills": {}}'
    )
    closed = EVENT_JSON.decode(b'{"type": "interaction.closed", "at": 1, "interaction_id": 1}')
    assert changed.by == ""  # type: ignore[union-attr]
    assert transferred.to_advisor is None  # type: ignore[union-attr]
    assert closed.motive is None  # type: ignore[union-attr]


def test_an_unknown_event_type_is_refused_at_the_tag_field() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"'offer\.lost' - at `\$\.type`"):
        EVENT_JSON.decode(b'{"type": "offer.lost", "at": 0}')


# -- commands -----------------------------------------------------------------------------------


def test_the_command_tags_are_pinned() -> None:
    assert sorted(tag_of(t) for t in get_args(Command)) == [
        "advisor.add",
        "advisor.remove",
        "advisor.set_state",
        "advisor.update",
        "audit.draw",
        "audit.score",
        "exemption.claim",
        "exemption.decide",
        "interaction.abandon",
        "interaction.await_principal",
        "interaction.callback_attempt",
        "interaction.close",
        "interaction.move",
        "interaction.principal_answered",
        "interaction.prioritise",
        "interaction.request_callback",
        "interaction.respond",
        "interaction.submit",
        "interaction.transfer",
        "interaction.transfer_out",
        "message.post",
        "message.record_delivery",
        "mystery.import",
        "nowcast.publish",
        "offer.accept",
        "offer.decline",
        "policies.set",
        "satisfaction.record",
        "schedule.set",
        "token.mint",
        "token.revoke",
    ]


def test_every_command_type_carries_its_tag_under_command() -> None:
    assert {tag_field_of(t) for t in get_args(Command)} == {"command"}


def test_every_command_type_has_a_sample_here() -> None:
    assert {type(sample) for sample in COMMAND_SAMPLES.values()} == set(get_args(Command))


@pytest.mark.parametrize("tag", sorted(COMMAND_SAMPLES))
def test_a_command_is_written_with_its_tag(tag: str) -> None:
    assert json.loads(msgspec.json.encode(COMMAND_SAMPLES[tag]))["command"] == tag


@pytest.mark.parametrize("tag", sorted(COMMAND_SAMPLES))
def test_a_command_round_trips_through_json_as_the_command_union(tag: str) -> None:
    sample = COMMAND_SAMPLES[tag]
    decoded = COMMAND_JSON.decode(msgspec.json.encode(sample))
    assert (type(decoded), decoded) == (type(sample), sample)


@pytest.mark.parametrize("tag", sorted(COMMAND_SAMPLES))
def test_a_command_round_trips_through_msgpack_as_the_command_union(tag: str) -> None:
    sample = COMMAND_SAMPLES[tag]
    decoded = COMMAND_MSGPACK.decode(msgspec.msgpack.encode(sample))
    assert (type(decoded), decoded) == (type(sample), sample)


def test_a_command_without_its_tag_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"missing required field `command`"):
        COMMAND_JSON.decode(b'{"interaction_id": 1}')
