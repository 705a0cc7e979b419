"""Quality: audits and mystery shoppers journaled as they are; a satisfaction recorded once."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from aiguillage.engine.audits import AuditPick, MysteryResult
from aiguillage.engine.commands import (
    Accept,
    Close,
    DrawAudit,
    ImportMystery,
    RecordSatisfaction,
    ScoreAudit,
    Submit,
)
from aiguillage.engine.errors import (
    AlreadyRated,
    IllegalTransition,
    InvalidCommand,
    UnknownInteraction,
)
from aiguillage.engine.events import AuditDrawn, SatisfactionRecorded
from aiguillage.engine.instants import HOUR, SECOND
from aiguillage.engine.snapshots import dump_state, restore_state

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, replayed

T0 = TUESDAY_10H


def handled_and_closed(engine: JournaledEngine) -> int:
    """Return the id of a call advisor A1 accepted and closed."""
    add_advisor(engine, "A1", T0)
    engine.handle(Submit(channel="voice", source="phone", external_id="c1"), T0)
    offer = next(iter(engine.state.offers.values()))
    engine.handle(Accept(advisor_id="A1", offer_id=offer.id), T0 + SECOND)
    engine.handle(Close(advisor_id="A1", interaction_id=offer.interaction_id), T0 + 60 * SECOND)
    return offer.interaction_id


def pick(interaction_id: int, advisor: str = "A1") -> AuditPick:
    return AuditPick(interaction_id=interaction_id, channel="voice", advisor_id=advisor)


def test_a_draw_is_journaled_with_its_parameters_and_picks_by_id(engine: JournaledEngine) -> None:
    command = DrawAudit(start=T0 - HOUR, end=T0, per_advisor=2, seed=9, picks=(pick(7), pick(3)))
    (event,) = engine.handle(command, T0)
    assert event == AuditDrawn(
        at=T0, start=T0 - HOUR, end=T0, per_advisor=2, seed=9, picks=(pick(3), pick(7))
    )


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"end": T0 - HOUR}, "end must be after start"),
        ({"per_advisor": 0}, "per_advisor 0 is out of range"),
        ({"picks": (pick(3), pick(3, "A2"))}, "drawn twice"),
    ],
)
def test_a_draw_that_cannot_be_is_refused(
    engine: JournaledEngine, fields: dict[str, object], words: str
) -> None:
    given: dict[str, object] = {"start": T0 - HOUR, "end": T0, "per_advisor": 2, "seed": 1}
    given.update(fields)
    with pytest.raises(InvalidCommand, match=words):
        engine.handle(DrawAudit(**given), T0)  # type: ignore[arg-type]
    assert not any(isinstance(event, AuditDrawn) for event in engine.journal)


def test_a_score_out_of_range_is_refused(engine: JournaledEngine) -> None:
    score = ScoreAudit(
        interaction_id=3, channel="voice", advisor_id="A1", scores={"tone": 3}, weighted=101.0
    )
    with pytest.raises(InvalidCommand, match="from 0 to 100"):
        engine.handle(score, T0)


def test_a_satisfaction_is_recorded_once_with_the_advisor_who_handled_it(
    engine: JournaledEngine,
) -> None:
    interaction_id = handled_and_closed(engine)
    events = engine.handle(RecordSatisfaction(interaction_id=interaction_id, score=4), T0 + HOUR)
    assert events == [
        SatisfactionRecorded(
            at=T0 + HOUR, interaction_id=interaction_id, channel="voice", advisor_id="A1", score=4
        )
    ]
    with pytest.raises(AlreadyRated, match="rated 4 already"):
        engine.handle(RecordSatisfaction(interaction_id=interaction_id, score=1), T0 + HOUR)


def test_a_satisfaction_survives_replay_and_images(engine: JournaledEngine) -> None:
    interaction_id = handled_and_closed(engine)
    engine.handle(RecordSatisfaction(interaction_id=interaction_id, score=5), T0 + HOUR)
    for rebuilt in (replayed(engine.journal).state, restore_state(dump_state(engine.state))):
        assert rebuilt.interactions[interaction_id].satisfaction == 5


def test_a_satisfaction_for_open_or_unknown_work_or_out_of_range_is_refused(
    engine: JournaledEngine,
) -> None:
    engine.handle(Submit(channel="voice", source="phone", external_id="c9"), T0)
    with pytest.raises(IllegalTransition, match="ended work only"):
        engine.handle(RecordSatisfaction(interaction_id=1, score=3), T0)
    with pytest.raises(UnknownInteraction):
        engine.handle(RecordSatisfaction(interaction_id=99, score=3), T0)
    with pytest.raises(InvalidCommand, match="from 1 to 5"):
        engine.handle(RecordSatisfaction(interaction_id=1, score=6), T0)


def test_mystery_results_with_free_text_or_a_bad_day_are_refused(engine: JournaledEngine) -> None:
    good = MysteryResult(
        day="2026-12-01", channel="voice", scenario="refund", scores={"tone": 4}, weighted=100.0
    )
    (event,) = engine.handle(ImportMystery(results=(good,)), T0)
    assert event.results == (good,)  # type: ignore[union-attr]
    for bad, words in [
        (replace(good, comment="Mme Dupont was rude"), "not a code"),
        (replace(good, day="01/12/2026"), "not a date"),
    ]:
        with pytest.raises(InvalidCommand, match=words):
            engine.handle(ImportMystery(results=(good, bad)), T0)
