"""Quality: audit samples and their scores, mystery shoppers, customer satisfaction.

The adapters draw an audit's sample (the engine draws no random numbers) and weigh scores by
the grid in the configuration; the engine checks what it can without them and journals the
result. ``DrawAudit``, ``ScoreAudit`` and ``ImportMystery`` change no state: their events are
for the quality reports (``adapters/reports/month_quality.py``). ``RecordSatisfaction`` marks
its interaction rated, so that a second rating is refused.

Refusals: ``InvalidCommand`` (reason ``invalid_quality``: a period that ends before it starts,
a score or count out of range, a code that is not one); ``UnknownInteraction`` (a rating for
work the engine does not hold: never seen, or forgotten after its retention);
``IllegalTransition`` (a rating for open work); ``AlreadyRated`` (rated once already).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from .audits import MAX_PER_ADVISOR, SATISFACTION_SCORES, is_code
from .commands import DrawAudit, ImportMystery, RecordSatisfaction, ScoreAudit
from .errors import AlreadyRated, IllegalTransition, InvalidCommand, UnknownInteraction
from .events import AuditDrawn, AuditScored, Event, MysteryImported, SatisfactionRecorded
from .instants import Instant
from .policies import CHANNELS
from .states import OPEN_STATUSES

if TYPE_CHECKING:
    from .state import State

__all__ = ["QUALITY_HANDLERS"]

_REASON: Final = "invalid_quality"


def _invalid(message: str) -> InvalidCommand:
    return InvalidCommand(message, reason=_REASON)


def _weighted(value: float) -> None:
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise _invalid(f"weighted score {value} is out of range: it goes from 0 to 100")


def _scores(scores: dict[str, int]) -> None:
    if not scores:
        raise _invalid("scores must name at least one criterion")
    for criterion, score in scores.items():
        if not is_code(criterion):
            raise _invalid(f"criterion {criterion!r} is not a code (letters, digits, _ - .)")
        if score < 0:
            raise _invalid(f"criterion {criterion!r}: score {score} is negative")


def _draw(state: State, command: DrawAudit, now: Instant) -> list[Event]:
    if command.end <= command.start:
        raise _invalid("the period ends no later than it starts: end must be after start")
    if not 1 <= command.per_advisor <= MAX_PER_ADVISOR:
        raise _invalid(
            f"per_advisor {command.per_advisor} is out of range: it goes from 1 to "
            f"{MAX_PER_ADVISOR}"
        )
    ids = [pick.interaction_id for pick in command.picks]
    if len(set(ids)) != len(ids):
        raise _invalid("an interaction is drawn twice in one sample")
    for pick in command.picks:
        if pick.channel not in CHANNELS:
            raise _invalid(f"channel {pick.channel!r} is not one of {', '.join(CHANNELS)}")
    return [
        AuditDrawn(
            at=now,
            start=command.start,
            end=command.end,
            per_advisor=command.per_advisor,
            seed=command.seed,
            picks=tuple(sorted(command.picks, key=lambda pick: pick.interaction_id)),
        )
    ]


def _score(state: State, command: ScoreAudit, now: Instant) -> list[Event]:
    _scores(command.scores)
    _weighted(command.weighted)
    return [
        AuditScored(
            at=now,
            interaction_id=command.interaction_id,
            channel=command.channel,
            advisor_id=command.advisor_id,
            scores=dict(sorted(command.scores.items())),
            weighted=command.weighted,
        )
    ]


def _rate(state: State, command: RecordSatisfaction, now: Instant) -> list[Event]:
    if command.score not in SATISFACTION_SCORES:
        raise _invalid(f"satisfaction score {command.score} is out of range: it goes from 1 to 5")
    interaction = state.interactions.get(command.interaction_id)
    if interaction is None:
        raise UnknownInteraction(
            f"no interaction {command.interaction_id}: never seen, or forgotten after its "
            "retention period"
        )
    if interaction.status in OPEN_STATUSES:
        raise IllegalTransition(
            f"interaction {interaction.id} is {interaction.status}: the customer rates ended "
            "work only"
        )
    if interaction.satisfaction is not None:
        raise AlreadyRated(
            f"interaction {interaction.id} was rated {interaction.satisfaction} already: a "
            "customer's satisfaction is recorded once"
        )
    return [
        SatisfactionRecorded(
            at=now,
            interaction_id=interaction.id,
            channel=interaction.channel,
            advisor_id=interaction.handled_by,
            score=command.score,
        )
    ]


def _mystery(state: State, command: ImportMystery, now: Instant) -> list[Event]:
    if not command.results:
        raise _invalid("no mystery-shopper result to import")
    for number, result in enumerate(command.results, 1):
        where = f"result {number}"
        if result.channel not in CHANNELS:
            raise _invalid(
                f"{where}: channel {result.channel!r} is not one of {', '.join(CHANNELS)}"
            )
        try:
            date.fromisoformat(result.day)
        except ValueError:
            raise _invalid(f"{where}: day {result.day!r} is not a date (YYYY-MM-DD)") from None
        if len(result.day) != 10:
            raise _invalid(f"{where}: day {result.day!r} is not a date (YYYY-MM-DD)")
        if not is_code(result.scenario):
            raise _invalid(f"{where}: scenario {result.scenario!r} is not a code")
        if result.comment and not is_code(result.comment):
            raise _invalid(f"{where}: comment {result.comment!r} is not a code (no free text)")
        _scores(result.scores)
        _weighted(result.weighted)
    return [MysteryImported(at=now, results=command.results)]


QUALITY_HANDLERS: dict[type[Any], Callable[[State, Any, Instant], list[Event]]] = {
    DrawAudit: _draw,
    ScoreAudit: _score,
    RecordSatisfaction: _rate,
    ImportMystery: _mystery,
}
