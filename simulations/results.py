"""Results as data: per-channel tallies computed from the engine's events.

A ``Tally`` consumes events as they happen (it is an observer of the kernel) and never keeps the
whole log, so a year of traffic costs a few counters. Reports, terminal tables and charts are
rendered elsewhere (``adapters/``) from these flat records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiguillage.engine.events import (
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionResponded,
    OfferMade,
    SlaBreached,
)
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.policies import CHANNELS, Channel

__all__ = ["ChannelResult", "Tally"]


@dataclass(slots=True)
class ChannelResult:
    """What happened on one channel."""

    channel: Channel
    offered: int = 0
    answered: int = 0
    answered_within_sla: int = 0
    abandoned: int = 0
    breaches: int = 0
    late_open: int = 0
    """Past their deadline and not answered yet (at the end of the run)."""
    offers: int = 0
    waits_s: list[float] = field(default_factory=list)

    @property
    def settled(self) -> int:
        """Interactions whose SLA outcome is known: answered, abandoned, or late and open."""
        return self.answered + self.abandoned + self.late_open

    @property
    def service_level(self) -> float:
        """Answered within the SLA over those settled (abandons count as missed).

        Interactions still open and not yet past their deadline have no outcome yet and are
        left out, so a run cut off at noon does not count this morning's complaints as missed.
        """
        return self.answered_within_sla / self.settled if self.settled else 1.0

    @property
    def mean_wait_s(self) -> float:
        return sum(self.waits_s) / len(self.waits_s) if self.waits_s else 0.0

    def wait_percentile_s(self, share: float) -> float:
        if not self.waits_s:
            return 0.0
        ordered = sorted(self.waits_s)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Tally:
    """Counts per channel, fed one event at a time."""

    def __init__(self) -> None:
        self.channels: dict[Channel, ChannelResult] = {c: ChannelResult(c) for c in CHANNELS}
        self._arrivals: dict[int, tuple[Channel, Instant]] = {}
        self._late: set[int] = set()

    def __call__(self, event: Event) -> None:
        if isinstance(event, InteractionArrived):
            self._arrivals[event.interaction_id] = (event.channel, event.received_at)
            self.channels[event.channel].offered += 1
            return
        if isinstance(event, InteractionResponded):
            channel, received = self._arrivals[event.interaction_id]
            result = self.channels[channel]
            result.answered += 1
            result.answered_within_sla += event.within_sla
            result.waits_s.append((event.at - received) / SECOND)
            if event.interaction_id in self._late:
                self._late.discard(event.interaction_id)
                result.late_open -= 1
        elif isinstance(event, InteractionAbandoned):
            self.channels[self._arrivals[event.interaction_id][0]].abandoned += 1
        elif isinstance(event, SlaBreached):
            result = self.channels[self._arrivals[event.interaction_id][0]]
            result.breaches += 1
            result.late_open += 1
            self._late.add(event.interaction_id)
        elif isinstance(event, OfferMade):
            self.channels[self._arrivals[event.interaction_id][0]].offers += 1
