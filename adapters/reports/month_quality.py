"""A month's quality figures: audits drawn and scored, mystery shoppers, customer satisfaction.

``QualityReader`` follows the journal's quality events (fed by the month's reader, in journal
order); ``month_quality`` summarises them for one month ``[start, end)``:

- audits: the interactions drawn during the month, and those scored during it (an interaction
  scored again counts once, with its latest scores); the mean weighted score (0 to 100) per
  channel and per advisor and channel;
- mystery shoppers: the results of visits whose day falls in the month, per channel (count,
  mean weighted score) and each visit (day, channel, scenario, weighted score, comment code);
- satisfaction: the ratings recorded during the month, per channel: how many, their mean (1 to
  5) and the share of 4 or 5.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, tzinfo

import msgspec

from aiguillage.engine.audits import MysteryResult
from aiguillage.engine.events import (
    AuditDrawn,
    AuditScored,
    MysteryImported,
    SatisfactionRecorded,
)
from aiguillage.engine.instants import Instant, to_datetime
from aiguillage.engine.policies import CHANNELS

__all__ = [
    "QUALITY_EVENTS",
    "AuditRow",
    "MonthQuality",
    "MysteryRow",
    "QualityReader",
    "SatisfactionRow",
    "month_quality",
]

QUALITY_EVENTS = (AuditDrawn, AuditScored, MysteryImported, SatisfactionRecorded)

_ORDER: dict[str, int] = {name: index for index, name in enumerate(CHANNELS)}


class AuditRow(msgspec.Struct, kw_only=True):
    """Audits scored in the month for one channel, or one advisor on one channel."""

    channel: str
    advisor_id: str | None = None
    scored: int = 0
    mean_weighted: float | None = None
    """The mean weighted score, 0 to 100; ``None`` when none was scored."""


class MysteryRow(msgspec.Struct, kw_only=True):
    """Mystery-shopper visits in the month on one channel."""

    channel: str
    visits: int = 0
    mean_weighted: float | None = None


class SatisfactionRow(msgspec.Struct, kw_only=True):
    """Customer ratings recorded in the month on one channel."""

    channel: str
    count: int = 0
    mean: float | None = None
    """1 to 5; ``None`` when none was recorded."""
    satisfied_share: float | None = None
    """The share of ratings of 4 or 5."""


class MonthQuality(msgspec.Struct, kw_only=True):
    """The month's quality figures (see the module docstring)."""

    audits_drawn: int = 0
    audits_scored: int = 0
    audits: list[AuditRow] = []
    """Per channel."""
    audits_by_advisor: list[AuditRow] = []
    """Per advisor and channel, by advisor."""
    mystery: list[MysteryRow] = []
    mystery_visits: list[MysteryResult] = []
    """By day, in the order imported."""
    satisfaction: list[SatisfactionRow] = []


class QualityReader:
    """The quality events read so far: draws, latest scores, mystery results, ratings."""

    def __init__(self) -> None:
        self.drawn: list[tuple[Instant, int]] = []
        """``(when drawn, interaction id)``; an interaction drawn again counts again."""
        self.scores: dict[int, AuditScored] = {}
        """The latest scoring of each interaction."""
        self.mystery: list[MysteryResult] = []
        self.ratings: list[SatisfactionRecorded] = []

    def read(self, event: object) -> None:
        if isinstance(event, AuditDrawn):
            self.drawn += [(event.at, pick.interaction_id) for pick in event.picks]
        elif isinstance(event, AuditScored):
            self.scores[event.interaction_id] = event
        elif isinstance(event, MysteryImported):
            self.mystery += event.results
        elif isinstance(event, SatisfactionRecorded):
            self.ratings.append(event)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def month_quality(
    reader: QualityReader, start: Instant, end: Instant, zone: tzinfo
) -> MonthQuality:
    """Return the quality figures of the month ``[start, end)`` (``zone``: for mystery days)."""
    scored = [s for s in reader.scores.values() if start <= s.at < end]
    by_channel: dict[str, list[float]] = defaultdict(list)
    by_advisor: dict[tuple[str, str], list[float]] = defaultdict(list)
    for scoring in scored:
        by_channel[scoring.channel].append(scoring.weighted)
        by_advisor[(scoring.advisor_id, scoring.channel)].append(scoring.weighted)
    first = to_datetime(start, zone).date()
    last = to_datetime(end - 1, zone).date()
    visits = [r for r in reader.mystery if first <= _day(r.day) <= last]
    visits.sort(key=lambda r: r.day)
    mystery: dict[str, list[float]] = defaultdict(list)
    for visit in visits:
        mystery[visit.channel].append(visit.weighted)
    ratings: dict[str, list[int]] = defaultdict(list)
    for rating in reader.ratings:
        if start <= rating.at < end:
            ratings[rating.channel].append(rating.score)
    return MonthQuality(
        audits_drawn=sum(1 for at, _ in reader.drawn if start <= at < end),
        audits_scored=len(scored),
        audits=[
            AuditRow(channel=channel, scored=len(values), mean_weighted=_mean(values))
            for channel, values in sorted(by_channel.items(), key=_channel_key)
        ],
        audits_by_advisor=[
            AuditRow(
                channel=channel, advisor_id=advisor, scored=len(values), mean_weighted=_mean(values)
            )
            for (advisor, channel), values in sorted(
                by_advisor.items(), key=lambda item: (item[0][0], _ORDER.get(item[0][1], 9))
            )
        ],
        mystery=[
            MysteryRow(channel=channel, visits=len(values), mean_weighted=_mean(values))
            for channel, values in sorted(mystery.items(), key=_channel_key)
        ],
        mystery_visits=visits,
        satisfaction=[
            SatisfactionRow(
                channel=channel,
                count=len(scores),
                mean=_mean([float(score) for score in scores]),
                satisfied_share=round(sum(1 for s in scores if s >= 4) / len(scores), 4),
            )
            for channel, scores in sorted(ratings.items(), key=_channel_key)
        ],
    )


def _channel_key(item: tuple[str, object]) -> int:
    return _ORDER.get(item[0], 9)


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()
