"""Estimated waits: recent handling times and patience from the journal, and the estimate.

``Estimates`` follows the durable journal records (a runtime listener feeds it each batch, or a
channel the records it is given, inside ``context.read``) and keeps, per channel, the handling
times of the last ``RECENT`` interactions closed: from the offer's acceptance to the close, by the
advisor who accepted it. Work released otherwise (transferred, handed over, put back to wait for
the principal, taken back by a supervisor) does not count: its time is not a whole handling. Until
a channel has one, the deployment's expected mean stands in (``[simulation.handling]`` in the
configuration, what the simulator draws from).

``estimate(engine, interaction_id, now)`` is ``engine.estimate.estimated_wait_s`` with those
times and the callers' patience learnt from their waits (the time waited by every caller over
those who hung up, over the last thousand calls; the configured ``patience_s`` until ten have
hung up): whole seconds rounded up to the minute, or ``None`` (see that module for the method
and what it assumes). Read it inside ``runtime.read`` (a channel: ``context.read``) so the
engine does not move meanwhile. It lives with the channels so that the daemon and a channel
(the Asterisk one announces the wait to queued callers) share it.

It does not read the journal back at start: it starts from the configured means, and the
closes that follow replace them (fifty calls on a busy line take an hour or so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiguillage.adapters.config.settings import Settings
from aiguillage.adapters.stores.journal import Record
from aiguillage.engine.engine import Engine
from aiguillage.engine.estimate import (
    RECENT,
    ROUND_TO_S,
    RecentHandling,
    RecentPatience,
    estimated_wait_s,
)
from aiguillage.engine.events import (
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionForgotten,
    InteractionMoved,
    InteractionResponded,
    InteractionTransferred,
    InteractionTransferredOut,
    OfferAccepted,
    PrincipalAwaited,
)
from aiguillage.engine.instants import Instant
from aiguillage.engine.policies import Channel

__all__ = ["Estimates"]

_CUT_SHORT = (
    InteractionAbandoned,
    InteractionMoved,
    InteractionTransferred,
    InteractionTransferredOut,
    PrincipalAwaited,
)
"""Events that end an advisor's hold on work without a close: no handling time to keep."""

ON_THE_LINE: tuple[Channel, ...] = ("voice",)
"""Channels whose customers wait on the line, and may hang up: their patience is learnt."""


class Estimates:
    """Recent handling times per channel, from journal records, and the waits they give."""

    def __init__(
        self,
        seeds: Mapping[Channel, float],
        patience_s: Mapping[Channel, float] | None = None,
        *,
        keep: int = RECENT,
        round_to_s: int = ROUND_TO_S,
    ) -> None:
        self.seq = 0
        """The last record fed: a record at or before it is skipped."""
        self._recent = RecentHandling(seeds, keep)
        self._patience = RecentPatience(patience_s or {})
        self._waiting: dict[int, tuple[Channel, Instant]] = {}
        """Calls on the line not answered yet: their channel and when they were received."""
        self._round_to_s = round_to_s
        self._accepted: dict[int, tuple[Channel, Instant]] = {}
        """Work being handled: its channel when accepted, and when."""

    @classmethod
    def of(cls, settings: Settings) -> Estimates:
        """Return one seeded with the configuration's expected handling times."""
        simulation = settings.simulation
        patience = simulation.patience_s
        return cls(
            {channel: model.mean_s for channel, model in simulation.handling.items()},
            {} if patience is None else dict.fromkeys(ON_THE_LINE, patience),
        )

    def feed(self, records: Sequence[Record], engine: Engine) -> None:
        """Take a batch of durable records, in journal order (each once, by ``seq``)."""
        interactions = engine.state.interactions
        for record in records:
            if record.seq <= self.seq:
                continue
            self.seq = record.seq
            event = record.event
            if isinstance(event, InteractionArrived):
                if event.channel in ON_THE_LINE:
                    self._waiting[event.interaction_id] = (event.channel, event.received_at)
            elif isinstance(event, InteractionResponded | InteractionAbandoned):
                waiting = self._waiting.pop(event.interaction_id, None)
                if waiting is not None:
                    abandoned = isinstance(event, InteractionAbandoned)
                    self._patience.add(waiting[0], waiting[1], event.at, abandoned)
            elif isinstance(event, InteractionForgotten):
                self._waiting.pop(event.interaction_id, None)
            if isinstance(event, OfferAccepted):
                interaction = interactions.get(event.interaction_id)
                if interaction is not None:
                    self._accepted[event.interaction_id] = (interaction.channel, event.at)
            elif isinstance(event, InteractionClosed):
                accepted = self._accepted.pop(event.interaction_id, None)
                if accepted is not None:
                    self._recent.add_span(accepted[0], accepted[1], event.at)
            elif isinstance(event, _CUT_SHORT):
                self._accepted.pop(event.interaction_id, None)

    def handling_s(self) -> Mapping[Channel, float]:
        """Return the mean handling time per channel now, in seconds."""
        return self._recent.means()

    def patience_s(self) -> Mapping[Channel, float]:
        """Return the callers' mean patience per channel now, in seconds."""
        return self._patience.means()

    def estimate(self, engine: Engine, interaction_id: int, now: Instant) -> int | None:
        """Return the estimated wait of an interaction in seconds, or ``None``."""
        return estimated_wait_s(
            engine.state,
            interaction_id,
            now,
            self._recent.means(),
            round_to_s=self._round_to_s,
            patience_s=self._patience.means(),
        )
