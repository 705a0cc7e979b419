"""What callers were told, against what they waited: the estimated wait measured in a run.

At each arrival of a call that has to wait (still queued once routing has run, as a caller who
hears an announcement), ``Told`` asks ``engine.estimate.estimated_wait_s`` for its estimate,
with the handling times and callers' patience the simulator has seen so far (the last ones,
seeded with the scenario's means: ``RecentHandling`` and ``RecentPatience``, as the daemon
keeps them), and remembers it. When the
call is answered or abandoned, the wait that followed is set against it:

- ``late_share``: the share of told callers who waited more than ``LATE_BY_S`` (60 s) beyond
  what they were told, answered or not (a caller who hung up after waiting that long did wait
  it). The aim is at most 10 %.
- ``mae_s``: the mean absolute error, and ``over_share``, the share told more than they waited,
  over answered calls only: an abandon's wait is cut short, its error is not known.

Only the channels in ``TOLD`` (voice: callers hear the estimate) are measured; estimates are
asked once per queued call, so a run is barely slower. Everything is integer microseconds until
the figures are divided out, in one order: the same seed gives the same figures in the pure and
the compiled builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiguillage.engine.engine import Engine
from aiguillage.engine.estimate import RecentHandling, RecentPatience, estimated_wait_s
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.policies import CHANNELS, Channel

__all__ = ["LATE_BY_S", "TOLD", "Told", "ToldFigures"]

TOLD: tuple[Channel, ...] = ("voice",)
"""The channels whose customers are told an estimated wait."""

LATE_BY_S = 60
"""A caller who waits more than this beyond the estimate counts as told too little."""


@dataclass(frozen=True, slots=True)
class ToldFigures:
    """One channel's estimates against the waits that followed."""

    told: int = 0
    """Waiting callers told an estimate whose call has an outcome (answered or abandoned)."""
    late_share: float = 0.0
    mae_s: float = 0.0
    over_share: float = 0.0


@dataclass(slots=True)
class _Counts:
    told: int = 0
    late: int = 0
    answered: int = 0
    error_us: int = 0
    over: int = 0


class Told:
    """Estimates given to waiting callers, and how wrong they were; see the module."""

    def __init__(
        self,
        engine: Engine,
        handling_s: Mapping[Channel, float],
        patience_s: Mapping[Channel, float] | None = None,
    ) -> None:
        self._engine = engine
        self._recent = RecentHandling(handling_s)
        self._patience = RecentPatience(patience_s or {})
        self._given: dict[int, tuple[Channel, Instant, int]] = {}
        """Interaction id -> (channel, arrival, estimate in microseconds)."""
        self._counts: dict[Channel, _Counts] = {c: _Counts() for c in CHANNELS}

    def arrived(self, interaction_id: int, channel: Channel, at: Instant) -> None:
        """Tell a call that waits its estimate (called once routing has run)."""
        if channel not in TOLD:
            return
        state = self._engine.state
        interaction = state.interactions.get(interaction_id)
        if interaction is None or interaction.status != "queued":
            return
        estimate = estimated_wait_s(
            state,
            interaction_id,
            at,
            self._recent.means(),
            patience_s=self._patience.means(),
        )
        if estimate is not None:
            self._given[interaction_id] = (channel, interaction.received_at, estimate * SECOND)

    def estimate_us(self, interaction_id: int) -> int | None:
        """Return the estimate told to a waiting caller on arrival, in microseconds, if any."""
        given = self._given.get(interaction_id)
        return None if given is None else given[2]

    def called_back(self, interaction_id: int) -> None:
        """A told caller asked to be called back: its wait was cut short by its own choice,
        so it is set against no estimate, nor taken as a caller's patience."""
        self._given.pop(interaction_id, None)

    def closed(self, interaction_id: int, at: Instant) -> None:
        """Note a handling time (pick-up to close) for the estimates to come.

        A call's first response is its pick-up, and the simulator's calls are picked up once
        (never transferred), so it runs from ``responded_at``: no event of every channel's
        acceptances needs following.
        """
        interaction = self._engine.state.interactions.get(interaction_id)
        if (
            interaction is not None
            and interaction.channel in TOLD
            and interaction.responded_at is not None
        ):
            self._recent.add_span(interaction.channel, interaction.responded_at, at)

    def ended(
        self, interaction_id: int, channel: Channel, received: Instant, at: Instant, answered: bool
    ) -> None:
        """Note a caller's wait (for the patience), and set it against its estimate if told."""
        if channel in TOLD:
            self._patience.add(channel, received, at, not answered)
        given = self._given.pop(interaction_id, None)
        if given is None:
            return
        _, received, estimate = given
        error = (at - received) - estimate
        counts = self._counts[channel]
        counts.told += 1
        counts.late += error > LATE_BY_S * SECOND
        if answered:
            counts.answered += 1
            counts.error_us += abs(error)
            counts.over += error < 0

    def figures(self, channel: Channel) -> ToldFigures:
        counts = self._counts[channel]
        if not counts.told:
            return ToldFigures()
        answered = counts.answered
        return ToldFigures(
            told=counts.told,
            late_share=counts.late / counts.told,
            mae_s=counts.error_us / answered / SECOND if answered else 0.0,
            over_share=counts.over / answered if answered else 0.0,
        )
