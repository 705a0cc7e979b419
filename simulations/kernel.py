"""A discrete-event kernel that drives the real engine in virtual time.

The kernel keeps a heap of scheduled commands ``(instant, sequence, command)`` (the sequence
breaks ties in the order they were scheduled, as in SimPy) and asks the engine when its next
timer is due; it jumps to whichever comes first, fires the engine's timers, then hands over the
command. It never reads the wall clock and draws every random number from the generator it is
given, so the same seed gives the same run on any day.

Simulated people follow a ``Behaviour``: advisors accept an offer after a short delay, answer and
close after drawn handling times; callers hang up when their patience runs out. Their commands go
through ``Engine.handle`` like any runtime's would: what planners test is what the daemon does.
A command the engine refuses (a caller hanging up after being picked up) is counted, not fatal.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.commands import (
    Abandon,
    Accept,
    Close,
    Command,
    RecordResponse,
    SetAdvisorState,
    TransferOut,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import EngineError
from aiguillage.engine.events import (
    AdvisorStateChanged,
    Event,
    InteractionArrived,
    InteractionClosed,
    InteractionTransferred,
    InteractionTransferredOut,
    OfferAccepted,
    OfferMade,
    PrincipalAwaited,
)
from aiguillage.engine.instants import SECOND, Instant, from_datetime
from aiguillage.engine.policies import WEEKDAYS, Channel, Typology

from .scenario import HandlingTime, Team

__all__ = ["Behaviour", "Simulation", "draw_handling"]


def draw_handling(model: HandlingTime, rng: random.Random) -> float:
    """Draw a handling time from its model (lognormal or exponential), in seconds."""
    if model.distribution == "exponential":
        return rng.expovariate(1 / model.mean_s)
    if model.sd_s == 0:
        return model.mean_s
    variance = math.log1p((model.sd_s / model.mean_s) ** 2)
    return rng.lognormvariate(math.log(model.mean_s) - variance / 2, math.sqrt(variance))


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How simulated advisors and customers act."""

    handling: dict[Channel, HandlingTime] = field(
        default_factory=lambda: {
            "voice": HandlingTime(mean_s=300, sd_s=150),
            "written": HandlingTime(mean_s=900, sd_s=450),
            "social": HandlingTime(mean_s=360, sd_s=180),
        }
    )
    by_typology: dict[Typology, HandlingTime] = field(default_factory=dict)
    """Handling times of written complaints by typology, where they differ from ``handling``."""
    answer_delay_s: float = 4.0
    """Mean time an advisor takes to accept an offer (exponential)."""
    first_response_share: float = 0.7
    """For messages and complaints, the share of the handling time spent before answering."""
    patience_s: float | None = None
    """Mean patience of callers (exponential); ``None``: callers never hang up."""


class Simulation:
    """The engine, a clock that only moves forward, and a heap of commands to come."""

    def __init__(
        self,
        engine: Engine,
        rng: random.Random,
        behaviour: Behaviour | None = None,
        observers: Iterable[Callable[[Event], None]] = (),
    ) -> None:
        self.engine = engine
        self.rng = rng
        self.behaviour = behaviour or Behaviour()
        self.now: Instant = engine.now
        self.refused = 0
        """Commands the engine refused: simulated people acting on work that moved on."""
        self._observers = list(observers)
        self._heap: list[tuple[Instant, int, Command]] = []
        # What simulated people do when they see an event, by the event's type.
        self._reactions: dict[type[Any], Callable[[Any], None]] = {
            OfferMade: self._answer_offer,
            OfferAccepted: self._work,
            InteractionArrived: self._maybe_hang_up,
            InteractionClosed: self._released,
            InteractionTransferred: self._released,
            InteractionTransferredOut: self._released,
            PrincipalAwaited: self._released,
            AdvisorStateChanged: self._released,
        }
        self._sequence = 0

    def schedule(self, at: Instant, command: Command) -> None:
        """Hand a command to the engine at an instant (never before the clock)."""
        heapq.heappush(self._heap, (max(at, self.now), self._sequence, command))
        self._sequence += 1

    def run(self, until: Instant) -> None:
        """Run until ``until``: timers and commands due at or before it, in order."""
        engine = self.engine
        heap = self._heap
        while True:
            timer = engine.next_timer()
            command_at = heap[0][0] if heap else None
            if command_at is None and timer is None:
                break
            step = min(t for t in (timer, command_at) if t is not None)
            if step > until:
                break
            self.now = step
            if timer is not None and timer <= step:
                self._observe(engine.advance(step))
            if command_at is not None and command_at <= step:
                _, _, command = heapq.heappop(heap)
                if isinstance(command, Abandon) and not self._still_waiting(command):
                    continue
                try:
                    self._observe(engine.handle(command, step))
                except EngineError:
                    self.refused += 1
        self.now = max(self.now, until)

    def _still_waiting(self, hang_up: Abandon) -> bool:
        interaction = self.engine.state.interactions.get(hang_up.interaction_id)
        return interaction is not None and interaction.status in ("queued", "offered")

    def _observe(self, events: list[Event]) -> None:
        reactions = self._reactions
        observers = self._observers
        for event in events:
            for observer in observers:
                observer(event)
            react = reactions.get(type(event))
            if react is not None:
                react(event)

    def _released(self, event: Event) -> None:
        advisor_id = getattr(event, "advisor_id", None)
        if isinstance(event, AdvisorStateChanged) and event.reason != "end_of_shift":
            return
        self._maybe_log_out(advisor_id, event.at)

    def _answer_offer(self, offer: OfferMade) -> None:
        mean = self.behaviour.answer_delay_s
        delay = self.rng.expovariate(1 / mean) if mean > 0 else 0.0
        self.schedule(
            offer.at + round(delay * SECOND),
            Accept(advisor_id=offer.advisor_id, offer_id=offer.offer_id),
        )

    def _work(self, accepted: OfferAccepted) -> None:
        interaction = self.engine.state.interactions[accepted.interaction_id]
        behaviour = self.behaviour
        model = behaviour.handling[interaction.channel]
        if interaction.typology is not None:
            model = behaviour.by_typology.get(interaction.typology, model)
        handling = draw_handling(model, self.rng)
        end = accepted.at + round(handling * SECOND)
        if interaction.typology == "transfer":
            # Handed to the competent party: the hand-over is the handling (W2).
            self.schedule(
                end,
                TransferOut(
                    advisor_id=accepted.advisor_id,
                    interaction_id=interaction.id,
                    party="competent party",
                ),
            )
            return
        if interaction.responded_at is None:
            answer = accepted.at + round(handling * self.behaviour.first_response_share * SECOND)
            self.schedule(
                answer,
                RecordResponse(advisor_id=accepted.advisor_id, interaction_id=interaction.id),
            )
        self.schedule(end, Close(advisor_id=accepted.advisor_id, interaction_id=interaction.id))

    def staff(
        self,
        advisor_id: str,
        team: Team | None,
        start: Instant,
        end: Instant,
        calendar: BusinessCalendar,
    ) -> None:
        """Log an advisor in and out by its team's shifts between start and end.

        With no team the advisor works the whole run. At the end of a shift an advisor takes no
        new work (``not_ready``, reason ``end_of_shift``) and logs out once its work is done.
        """
        if team is None:
            self.schedule(start, SetAdvisorState(advisor_id=advisor_id, state="available"))
            return
        day = calendar.local_date(start) - timedelta(days=1)
        while True:
            shift_start = from_datetime(datetime.combine(day, team.start, calendar.zone))
            if shift_start >= end:
                return
            if WEEKDAYS[day.weekday()] in team.days:
                shift_end = from_datetime(datetime.combine(day, team.end, calendar.zone))
                if shift_end <= shift_start:  # a night shift ends the next day
                    shift_end = from_datetime(
                        datetime.combine(day + timedelta(days=1), team.end, calendar.zone)
                    )
                if shift_end > start:
                    self.schedule(
                        max(shift_start, start),
                        SetAdvisorState(advisor_id=advisor_id, state="available"),
                    )
                    self.schedule(
                        shift_end,
                        SetAdvisorState(
                            advisor_id=advisor_id, state="not_ready", reason="end_of_shift"
                        ),
                    )
            day += timedelta(days=1)

    def _maybe_log_out(self, advisor_id: str | None, at: Instant) -> None:
        if advisor_id is None:
            return
        advisor = self.engine.state.advisors.get(advisor_id)
        if (
            advisor is not None
            and advisor.state == "not_ready"
            and advisor.reason == "end_of_shift"
            and not advisor.holding
        ):
            self.schedule(at, SetAdvisorState(advisor_id=advisor_id, state="offline"))

    def _maybe_hang_up(self, arrived: InteractionArrived) -> None:
        patience = self.behaviour.patience_s
        if patience is None or arrived.channel != "voice":
            return
        wait = self.rng.expovariate(1 / patience)
        self.schedule(
            arrived.at + round(wait * SECOND), Abandon(interaction_id=arrived.interaction_id)
        )
