"""What a stretch of a day achieved, per channel, counted from the engine's events as they come.

A ``DayTally`` is an observer (of the kernel, or of a journal being read): from the instant it
starts it counts per channel the arrivals, the SLA outcomes (answered within the SLA or not, a
callback asked for with the wait it had, an abandon that was not short: the terms of
``figures.service_level``), the breaches, and the backlog waiting at each interval's edge. It
knows the interactions already in the engine when it starts, so work that arrived earlier and
ends later is counted where it ends, as the day's figures count it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiguillage.engine import figures
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import (
    CallbackRequested,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionResponded,
    SlaBreached,
)
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.policies import CHANNELS, Channel

__all__ = ["ChannelCount", "DayTally", "first_edge"]


def first_edge(start: Instant, interval: Instant) -> Instant:
    """The first interval edge after ``start``, edges on the clock's multiples of
    ``interval`` (half-hours fall on local half-hours in every zone a whole hour off UTC)."""
    return start - start % interval + interval


@dataclass(slots=True)
class ChannelCount:
    """One channel's counters over the stretch counted."""

    arrived: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    callbacks: int = 0
    callbacks_within: int = 0
    breaches: int = 0
    late_open: int = 0
    """Past their deadline and still unanswered."""
    backlog: list[int] = field(default_factory=list)
    """Waiting in the queue at each interval's edge, from the first edge after the start."""

    def service_level(self) -> float | None:
        """``figures.service_level`` of what was counted; ``None`` with no outcome yet."""
        return figures.service_level(
            self.within,
            self.answered,
            self.abandoned,
            self.short_abandons,
            self.late_open,
            self.callbacks_within,
            self.callbacks,
        )


class DayTally:
    """Per channel counters from ``start``, fed one event at a time (see the module)."""

    def __init__(self, engine: Engine, start: Instant, interval: Instant) -> None:
        self.channels: dict[Channel, ChannelCount] = {c: ChannelCount() for c in CHANNELS}
        self.start = start
        self._engine = engine
        self._interval = interval
        self._next_edge = first_edge(start, interval)
        state = engine.state
        self._channel_of: dict[int, tuple[Channel, Instant]] = {
            i: (x.channel, x.received_at) for i, x in state.interactions.items()
        }
        self._callbacks = {
            i for i, x in state.interactions.items() if x.callback_requested_at is not None
        }
        self._late = {
            i
            for i, x in state.interactions.items()
            if x.breached
            and x.responded_at is None
            and x.ended_at is None
            and i not in self._callbacks
        }
        for i in self._late:
            self.channels[self._channel_of[i][0]].late_open += 1

    def __call__(self, event: Event) -> None:
        if event.at >= self._next_edge:
            self.edges(event.at)
        kind = type(event)
        if kind is InteractionArrived:
            assert isinstance(event, InteractionArrived)
            self._channel_of[event.interaction_id] = (event.channel, event.received_at)
            if event.at >= self.start:
                self.channels[event.channel].arrived += 1
        elif kind is InteractionResponded:
            assert isinstance(event, InteractionResponded)
            count = self._count(event.interaction_id)
            if count is not None:
                count.answered += 1
                count.within += event.within_sla
                self._settled(event.interaction_id, count)
        elif kind is CallbackRequested:
            assert isinstance(event, CallbackRequested)
            count = self._count(event.interaction_id)
            self._callbacks.add(event.interaction_id)
            if count is not None:
                count.callbacks += 1
                count.callbacks_within += event.within_sla
                self._settled(event.interaction_id, count)
        elif kind is InteractionAbandoned:
            assert isinstance(event, InteractionAbandoned)
            count = self._count(event.interaction_id)
            if count is not None:
                if event.interaction_id in self._late:
                    self._settled(event.interaction_id, count)
                else:
                    channel, received = self._channel_of[event.interaction_id]
                    policy = self._engine.state.policies.channels.get(channel)
                    limit = policy.short_abandon_s if policy is not None else 0.0
                    short = figures.is_short_abandon((event.at - received) / SECOND, limit)
                    count.short_abandons += short
                count.abandoned += 1
        elif kind is SlaBreached:
            assert isinstance(event, SlaBreached)
            if event.interaction_id not in self._callbacks:
                count = self._count(event.interaction_id)
                if count is not None:
                    count.breaches += 1
                    count.late_open += 1
                    self._late.add(event.interaction_id)

    def _count(self, interaction_id: int) -> ChannelCount | None:
        known = self._channel_of.get(interaction_id)
        return None if known is None else self.channels[known[0]]

    def _settled(self, interaction_id: int, count: ChannelCount) -> None:
        """Late, then answered or gone: counted once, by its outcome."""
        if interaction_id in self._late:
            self._late.discard(interaction_id)
            count.late_open -= 1

    def edges(self, until: Instant) -> None:
        """Record the backlog at every interval edge up to ``until`` (the queues as they are)."""
        queues = self._engine.state.queues
        while self._next_edge <= until:
            for channel, count in self.channels.items():
                count.backlog.append(queues.waiting(channel))
            self._next_edge += self._interval
