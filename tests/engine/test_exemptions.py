"""Exemptions: claimed by a supervisor, decided once by the authority, replayed, in images."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from aiguillage.engine.commands import ClaimExemption, DecideExemption
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import (
    AlreadyDecided,
    InvalidCommand,
    InvalidPeriod,
    UnknownExemption,
)
from aiguillage.engine.events import Event, ExemptionClaimed, ExemptionDecided
from aiguillage.engine.exemptions import Exemption
from aiguillage.engine.instants import HOUR, SECOND
from aiguillage.engine.snapshots import dump_state

from .conftest import TUESDAY_10H, JournaledEngine, replayed

T0 = TUESDAY_10H
DATA = Path(__file__).parent / "data"


def claim(**given: object) -> ClaimExemption:
    fields: dict[str, object] = {
        "start": T0 - 2 * HOUR,
        "end": T0,
        "channels": ("voice",),
        "reason": "transport strike, no advisor could reach the site",
        "by": "token:7",
        "role": "supervisor",
    }
    fields.update(given)
    return ClaimExemption(**fields)  # type: ignore[arg-type]


def decide(decision: str = "accepted", **given: object) -> DecideExemption:
    fields: dict[str, object] = {
        "exemption_id": 1,
        "decision": decision,
        "reason": "the strike is on record",
        "by": "token:9",
        "role": "authority",
    }
    fields.update(given)
    return DecideExemption(**fields)  # type: ignore[arg-type]


def test_a_claim_is_journaled_pending_with_who_and_why(engine: JournaledEngine) -> None:
    events = engine.handle(claim(channels=("written", "voice")), T0)
    assert events == [
        ExemptionClaimed(
            at=T0,
            exemption_id=1,
            start=T0 - 2 * HOUR,
            end=T0,
            channels=("voice", "written"),
            reason="transport strike, no advisor could reach the site",
            by="token:7",
            role="supervisor",
        )
    ]
    assert engine.state.exemptions == {
        1: Exemption(
            id=1,
            start=T0 - 2 * HOUR,
            end=T0,
            channels=("voice", "written"),
            reason="transport strike, no advisor could reach the site",
            claimed_by="token:7",
            claimed_role="supervisor",
            claimed_at=T0,
        )
    }
    assert engine.state.exemptions[1].status == "pending"


def test_claims_are_numbered_in_turn(engine: JournaledEngine) -> None:
    engine.handle(claim(), T0)
    (second,) = engine.handle(claim(channels=()), T0 + SECOND)
    assert isinstance(second, ExemptionClaimed)
    assert second.exemption_id == 2
    assert engine.state.exemptions[2].channels == ()


def test_the_authority_accepts_a_claim_once(engine: JournaledEngine) -> None:
    engine.handle(claim(), T0)
    events = engine.handle(decide(), T0 + HOUR)
    assert events == [
        ExemptionDecided(
            at=T0 + HOUR,
            exemption_id=1,
            decision="accepted",
            reason="the strike is on record",
            by="token:9",
            role="authority",
        )
    ]
    decided = engine.state.exemptions[1]
    assert (decided.status, decided.decided_by, decided.decided_role, decided.decided_at) == (
        "accepted",
        "token:9",
        "authority",
        T0 + HOUR,
    )
    with pytest.raises(AlreadyDecided, match="was accepted already, by token:9"):
        engine.handle(decide("refused"), T0 + 2 * HOUR)
    assert engine.state.exemptions[1] == decided


def test_a_refused_claim_is_recorded_refused(engine: JournaledEngine) -> None:
    engine.handle(claim(), T0)
    engine.handle(decide("refused", reason="no proof of the strike"), T0 + HOUR)
    assert engine.state.exemptions[1].status == "refused"
    assert engine.state.exemptions[1].decision_reason == "no proof of the strike"


@pytest.mark.parametrize("role", ["supervisor", "admin", ""])
def test_only_the_authority_decides(engine: JournaledEngine, role: str) -> None:
    engine.handle(claim(), T0)
    with pytest.raises(InvalidCommand, match="only the authority does") as refused:
        engine.handle(decide(role=role), T0 + HOUR)
    assert refused.value.reason == "authority_only"
    assert engine.state.exemptions[1].status == "pending"


def test_deciding_an_unknown_claim_is_refused(engine: JournaledEngine) -> None:
    with pytest.raises(UnknownExemption, match="no exemption claim 4"):
        engine.handle(decide(exemption_id=4), T0)


@pytest.mark.parametrize("length", [0, -HOUR])
def test_a_period_that_ends_before_it_starts_is_refused(
    engine: JournaledEngine, length: int
) -> None:
    with pytest.raises(InvalidPeriod, match="until must be after from") as refused:
        engine.handle(claim(start=T0, end=T0 + length), T0)
    assert refused.value.reason == "invalid_period"
    assert engine.state.exemptions == {}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"reason": "  "}, "reason must be given"),
        ({"reason": "x" * 1001}, "at most 1000"),
        ({"by": ""}, "by \\(who claims\\) must be given"),
        ({"channels": ("fax",)}, "channel 'fax' is not one of voice, written, social"),
        ({"channels": ("voice", "voice")}, "a channel is named twice"),
    ],
)
def test_a_claim_without_its_reason_author_or_with_an_unknown_channel_is_refused(
    engine: JournaledEngine, given: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidCommand, match=message):
        engine.handle(claim(**given), T0)
    assert engine.state.next_exemption_id == 1


def test_replay_and_snapshots_keep_the_claims(engine: JournaledEngine) -> None:
    engine.handle(claim(), T0)
    engine.handle(claim(channels=(), start=T0, end=T0 + HOUR), T0 + SECOND)
    engine.handle(decide(), T0 + 2 * SECOND)
    assert replayed(engine.journal).snapshot() == engine.snapshot()
    restored = Engine.from_image(engine.image())
    assert restored.state.exemptions == engine.state.exemptions
    assert restored.snapshot() == engine.snapshot()
    assert restored.image() == engine.image()
    (third,) = restored.handle(claim(), T0 + 3 * SECOND)
    assert isinstance(third, ExemptionClaimed)
    assert third.exemption_id == 3


def test_an_image_of_format_5_reads_without_claims_as_replaying_its_journal() -> None:
    # Written by the code of format 5 (no exemptions), with the journal it came from.
    image = (DATA / "snapshot-format-5.msgpack").read_bytes()
    journal = msgspec.json.decode(
        (DATA / "snapshot-format-5.journal.json").read_bytes(), type=list[Event]
    )
    assert msgspec.msgpack.decode(image)["format"] == 5
    upgraded = Engine.from_image(image)
    rebuilt = replayed(journal)
    assert upgraded.state.exemptions == {}
    assert upgraded.state.next_exemption_id == 1
    assert upgraded.state.schedules  # what format 4 added is kept
    assert upgraded.snapshot() == rebuilt.snapshot()
    assert dump_state(upgraded.state) == dump_state(rebuilt.state)
