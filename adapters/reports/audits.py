"""Audit samples from the journal: which closed work may be drawn, the draw, and the audits so far.

``closed_between(records, start, end)`` lists the interactions closed in ``[start, end)`` by an
advisor (``interaction.closed`` with its advisor), with their channel. ``draw(candidates,
per_advisor, seed)`` picks at most ``per_advisor`` of them per advisor and channel: each group is
drawn by its own generator, seeded with the seed, the advisor and the channel, from the group's
ids in order, so the same seed over the same journal draws the same sample, whatever else the
journal holds. ``Audits`` follows the journal's ``audit.drawn`` and ``audit.scored`` events and
keeps each drawn interaction with its latest scores.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable

import msgspec

from aiguillage.adapters.stores.journal import Record
from aiguillage.engine.audits import AuditPick
from aiguillage.engine.events import AuditDrawn, AuditScored, InteractionArrived, InteractionClosed
from aiguillage.engine.instants import Instant

__all__ = ["AUDIT_EVENTS", "Audit", "Audits", "closed_between", "draw"]

AUDIT_EVENTS = (AuditDrawn, AuditScored)


def closed_between(records: Iterable[Record], start: Instant, end: Instant) -> list[AuditPick]:
    """Return the interactions an advisor closed in ``[start, end)``, by id."""
    channels: dict[int, str] = {}
    closed: list[AuditPick] = []
    for record in records:
        event = record.event
        if isinstance(event, InteractionArrived):
            channels[event.interaction_id] = event.channel
        elif isinstance(event, InteractionClosed):
            channel = channels.get(event.interaction_id)
            if event.advisor_id and channel is not None and start <= event.at < end:
                closed.append(
                    AuditPick(
                        interaction_id=event.interaction_id,
                        channel=channel,  # type: ignore[arg-type]
                        advisor_id=event.advisor_id,
                    )
                )
    return sorted(closed, key=lambda pick: pick.interaction_id)


def draw(candidates: Iterable[AuditPick], per_advisor: int, seed: int) -> tuple[AuditPick, ...]:
    """Return at most ``per_advisor`` candidates per advisor and channel, drawn with ``seed``."""
    groups: dict[tuple[str, str], list[AuditPick]] = defaultdict(list)
    for pick in candidates:
        groups[(pick.advisor_id, pick.channel)].append(pick)
    drawn: list[AuditPick] = []
    for (advisor, channel), picks in sorted(groups.items()):
        picks.sort(key=lambda pick: pick.interaction_id)
        # A string seed is hashed with SHA-512: the same on every machine and Python run.
        generator = random.Random(f"{seed}/{advisor}/{channel}")
        drawn += generator.sample(picks, min(per_advisor, len(picks)))
    return tuple(sorted(drawn, key=lambda pick: pick.interaction_id))


class Audit(msgspec.Struct, kw_only=True):
    """One drawn interaction, and its latest scores if it was scored."""

    interaction_id: int
    channel: str
    advisor_id: str
    sample_seq: int
    """The journal record that drew it: its sample."""
    drawn_at: Instant
    scores: dict[str, int] | None = None
    weighted: float | None = None
    scored_at: Instant | None = None
    scored_by: str = ""


class Audits:
    """Every interaction drawn for an audit so far, by id, with its latest scores."""

    def __init__(self) -> None:
        self.drawn: dict[int, Audit] = {}
        self.samples: list[tuple[int, AuditDrawn]] = []
        """``(record seq, the draw)``, in journal order."""

    def read(self, record: Record) -> None:
        event = record.event
        if isinstance(event, AuditDrawn):
            self.samples.append((record.seq, event))
            for pick in event.picks:
                # Drawn again by a later sample: its scores stand, if any.
                if pick.interaction_id not in self.drawn:
                    self.drawn[pick.interaction_id] = Audit(
                        interaction_id=pick.interaction_id,
                        channel=pick.channel,
                        advisor_id=pick.advisor_id,
                        sample_seq=record.seq,
                        drawn_at=event.at,
                    )
        elif isinstance(event, AuditScored):
            audit = self.drawn.get(event.interaction_id)
            if audit is not None:
                audit.scores = dict(event.scores)
                audit.weighted = event.weighted
                audit.scored_at = event.at
                by = record.by
                audit.scored_by = "" if by is None else f"{by.kind}:{by.id}".rstrip(":")

    def feed(self, records: Iterable[Record]) -> None:
        for record in records:
            self.read(record)
