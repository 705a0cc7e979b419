"""A discrete-event kernel that drives the real engine in virtual time.

The kernel keeps a heap of scheduled commands ``(instant, sequence, command)`` (the sequence
breaks ties in the order they were scheduled, as in SimPy), and beside it a list of commands
scheduled all at once in time order (the arrivals), read in order and merged with the heap by
the same key, so the heap holds only the work in progress. It asks the engine when its next
timer is due (only when one may come before the next command); it jumps to whichever comes
first, fires the engine's timers, then hands over the command. It never reads the wall clock
and draws every random number from the generator it is given, so the same seed gives the same
run on any day.

Simulated people follow a ``Behaviour``: advisors accept an offer after a short delay, answer and
close after drawn handling times; callers hang up when their patience runs out, unless they
took the callback offered to those told a wait past the target (``scenario.Callbacks``); a
callback's advisor dials the customer, who answers or not. Their commands go
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
    CallbackOutcome,
    Close,
    Command,
    RecordCallbackAttempt,
    RecordResponse,
    RequestCallback,
    SetAdvisorState,
    TransferOut,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import EngineError
from aiguillage.engine.events import (
    AdvisorStateChanged,
    CallbackMissed,
    Event,
    InteractionArrived,
    InteractionClosed,
    InteractionTransferred,
    InteractionTransferredOut,
    OfferAccepted,
    OfferMade,
    PrincipalAwaited,
)
from aiguillage.engine.handlers import callback_deadline
from aiguillage.engine.instants import SECOND, Instant, from_datetime
from aiguillage.engine.policies import WEEKDAYS, Channel, Typology

from .scenario import Callbacks, HandlingTime, Team

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
    callbacks: Callbacks = field(default_factory=Callbacks)
    """How callers take a callback offered, and are reached; none taken by default."""


class Simulation:
    """The engine, a clock that only moves forward, and a heap of commands to come."""

    def __init__(
        self,
        engine: Engine,
        rng: random.Random,
        behaviour: Behaviour | None = None,
        observers: Iterable[Callable[[Event], None]] = (),
        estimate: Callable[[int], int | None] | None = None,
    ) -> None:
        """``estimate``: the wait a call was told on arrival, in microseconds, or ``None`` when
        it was told none (it did not wait); callbacks are offered from it."""
        self.engine = engine
        self._estimate = estimate
        self.rng = rng
        self.behaviour = behaviour or Behaviour()
        self.now: Instant = engine.now
        self.refused = 0
        """Commands the engine refused: simulated people acting on work that moved on."""
        self._observers = list(observers)
        self._heap: list[tuple[Instant, int, Command]] = []
        self._stream: list[tuple[Instant, int, Command]] = []
        """Commands given in time order to ``schedule_all``, read from ``_stream_at`` on."""
        self._stream_at = 0
        self._running = False
        # What simulated people do when they see an event, by the event's type.
        self._reactions: dict[type[Any], Callable[[Any], None]] = {
            OfferMade: self._answer_offer,
            OfferAccepted: self._work,
            InteractionArrived: self._maybe_hang_up,
            InteractionClosed: self._released,
            InteractionTransferred: self._released,
            InteractionTransferredOut: self._released,
            PrincipalAwaited: self._released,
            CallbackMissed: self._released,
            AdvisorStateChanged: self._released,
        }
        self._sequence = 0
        self._models: dict[int, tuple[HandlingTime, int, float, float]] = {}

    def schedule(self, at: Instant, command: Command) -> None:
        """Hand a command to the engine at an instant (never before the clock)."""
        heapq.heappush(self._heap, (max(at, self.now), self._sequence, command))
        self._sequence += 1

    def schedule_all(self, commands: Iterable[tuple[Instant, Command]]) -> None:
        """Hand many commands to the engine, given in time order (an arrival process).

        The same as ``schedule`` for each in turn, cheaper: they wait in a list of their own,
        read in order, rather than in the heap, which stays as small as the work in progress.
        """
        now = self.now
        sequence = self._sequence
        batch: list[tuple[Instant, int, Command]] = []
        last = now
        for at, command in commands:
            at = max(at, now)
            if at < last:
                raise ValueError(f"commands to schedule_all must be in time order: {at} < {last}")
            batch.append((at, sequence, command))
            sequence += 1
            last = at
        self._sequence = sequence
        # One list at a time, and never swapped under a running loop: the heap takes the rest.
        if self._running or self._stream_at < len(self._stream):
            for entry in batch:
                heapq.heappush(self._heap, entry)
        else:
            self._stream, self._stream_at = batch, 0

    def run(self, until: Instant) -> None:
        """Run until ``until``: timers and commands due at or before it, in order."""
        self._running = True
        try:
            self._loop(until)
        finally:
            self._running = False
        self.now = max(self.now, until)

    def _loop(self, until: Instant) -> None:
        engine = self.engine
        handle = engine.handle
        advance = engine.advance
        next_timer = engine.next_timer
        observe = self._observe
        heap = self._heap
        heappop = heapq.heappop
        stream = self._stream
        stream_end = len(stream)
        # The engine's timers, read only to skip asking it when none is due before a command.
        timers = engine.state.timers.heap
        # The next command is the first, by (instant, sequence), of the heap and the stream.
        while True:
            position = self._stream_at
            if position < stream_end:
                entry = stream[position]
                from_heap = bool(heap) and heap[0] < entry
                if from_heap:
                    entry = heap[0]
            elif heap:
                entry = heap[0]
                from_heap = True
            else:
                timer = next_timer(until)
                if timer is None:
                    break
                self.now = timer
                observe(advance(timer))
                continue
            command_at = entry[0]
            if command_at > until:
                # Only timers can still come before ``until``.
                timer = next_timer(until)
                if timer is None:
                    break
                self.now = timer
                observe(advance(timer))
                continue
            # A timer due after the next command cannot come first: only those due by then are
            # looked at (the engine checks whether they still apply).
            timer = next_timer(command_at) if timers and timers[0][0] <= command_at else None
            if timer is not None:
                self.now = timer
                observe(advance(timer))
                if timer < command_at:
                    continue
            self.now = command_at
            if from_heap:
                heappop(heap)
            else:
                self._stream_at = position + 1
            command = entry[2]
            if type(command) is Abandon and not self._still_waiting(command):
                continue
            try:
                events = handle(command, command_at)
            except EngineError:
                self.refused += 1
                continue
            observe(events)

    def _still_waiting(self, hang_up: Abandon) -> bool:
        interaction = self.engine.state.interactions.get(hang_up.interaction_id)
        return (
            interaction is not None
            and interaction.status in ("queued", "offered")
            and interaction.callback_requested_at is None  # it hung up to be called back
        )

    def _observe(self, events: list[Event]) -> None:
        reactions = self._reactions
        observers = self._observers
        if len(observers) == 1:
            (observer,) = observers
            for event in events:
                observer(event)
                react = reactions.get(type(event))
                if react is not None:
                    react(event)
            return
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

    def _draw(self, model: HandlingTime) -> float:
        """Draw a handling time as ``draw_handling`` does, its parameters worked out once."""
        known = self._models.get(id(model))
        if known is None or known[0] is not model:
            if model.distribution == "exponential":
                known = (model, 1, 1 / model.mean_s, 0.0)
            elif model.sd_s == 0:
                known = (model, 0, model.mean_s, 0.0)
            else:
                variance = math.log1p((model.sd_s / model.mean_s) ** 2)
                known = (model, 2, math.log(model.mean_s) - variance / 2, math.sqrt(variance))
            self._models[id(model)] = known  # the model is kept, so its id stays its own
        _, kind, first, second = known
        if kind == 1:
            return self.rng.expovariate(first)
        if kind == 2:
            return self.rng.lognormvariate(first, second)
        return first

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
        if interaction.callback_requested_at is not None and interaction.responded_at is None:
            self._call_back(accepted)
            return
        model = behaviour.handling[interaction.channel]
        if interaction.typology is not None:
            model = behaviour.by_typology.get(interaction.typology, model)
        handling = self._draw(model)
        end = accepted.at + round(handling * SECOND)
        if interaction.typology == "transfer":
            # Handed to the competent party: the hand-over is the handling (W2).
            self.schedule(
                end,
                TransferOut(
                    advisor_id=accepted.advisor_id,
                    interaction_id=interaction.id,
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

    def take_over(self) -> None:
        """Make simulated people act on the work already in the engine (a run from an image).

        An offer pending is answered as any offer is; work held ends after the remaining part
        of a handling time drawn from its model: the stationary residual (the length-biased
        draw times a uniform share), so an interaction picked up at a random instant of its
        handling ends as the simulator's own would on average; a waiting caller's patience is
        exponential, so what is left of it is drawn afresh. Work waiting for the principal
        stays where it is: the simulator never answers for the principal.
        """
        now = self.now
        state = self.engine.state
        for interaction in list(state.interactions.values()):
            status = interaction.status
            if status == "offered" and interaction.offer_id is not None:
                offer = state.offers.get(interaction.offer_id)
                if offer is not None:
                    mean = self.behaviour.answer_delay_s
                    delay = self.rng.expovariate(1 / mean) if mean > 0 else 0.0
                    self.schedule(
                        now + round(delay * SECOND),
                        Accept(advisor_id=offer.advisor_id, offer_id=offer.id),
                    )
            elif status == "assigned" and interaction.advisor_id is not None:
                self._resume(interaction.id, interaction.advisor_id)
            elif status == "queued" and interaction.channel == "voice":
                patience = self.behaviour.patience_s
                if patience is not None and interaction.callback_requested_at is None:
                    wait = self.rng.expovariate(1 / patience)
                    self.schedule(
                        now + round(wait * SECOND), Abandon(interaction_id=interaction.id)
                    )
        for advisor_id in list(state.advisors):
            self._maybe_log_out(advisor_id, now)

    def _resume(self, interaction_id: int, advisor_id: str) -> None:
        interaction = self.engine.state.interactions[interaction_id]
        now = self.now
        if interaction.callback_requested_at is not None and interaction.responded_at is None:
            self._call_back(
                OfferAccepted(
                    at=now, offer_id=0, interaction_id=interaction_id, advisor_id=advisor_id
                )
            )
            return
        model = self.behaviour.handling[interaction.channel]
        if interaction.typology is not None:
            model = self.behaviour.by_typology.get(interaction.typology, model)
        left = self._remaining(model)
        end = now + round(left * SECOND)
        if interaction.typology == "transfer":
            self.schedule(end, TransferOut(advisor_id=advisor_id, interaction_id=interaction_id))
            return
        if interaction.responded_at is None:
            self.schedule(
                now + round(left * self.behaviour.first_response_share * SECOND),
                RecordResponse(advisor_id=advisor_id, interaction_id=interaction_id),
            )
        self.schedule(end, Close(advisor_id=advisor_id, interaction_id=interaction_id))

    def _remaining(self, model: HandlingTime) -> float:
        """What is left of a handling time seen at a random instant of it, in seconds."""
        if model.distribution == "exponential":
            return self.rng.expovariate(1 / model.mean_s)
        if model.sd_s == 0:
            return self.rng.random() * model.mean_s
        variance = math.log1p((model.sd_s / model.mean_s) ** 2)
        # The length-biased lognormal has its log mean moved up by the log variance.
        biased = self.rng.lognormvariate(math.log(model.mean_s) + variance / 2, math.sqrt(variance))
        return self.rng.random() * biased

    def _call_back(self, accepted: OfferAccepted) -> None:
        """The system dials the customer: answered or not after the ring, then handled."""
        callbacks = self.behaviour.callbacks
        reached = self.rng.random() < callbacks.reach
        at = accepted.at + round(callbacks.ring_s * SECOND)
        interaction_id, advisor_id = accepted.interaction_id, accepted.advisor_id
        outcome: CallbackOutcome = "answered" if reached else "unanswered"
        self.schedule(
            at,
            RecordCallbackAttempt(
                interaction_id=interaction_id, advisor_id=advisor_id, outcome=outcome
            ),
        )
        if reached:
            handling = self._draw(self.behaviour.handling["voice"])
            self.schedule(
                at + round(handling * SECOND),
                Close(advisor_id=advisor_id, interaction_id=interaction_id),
            )

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
        if arrived.channel != "voice":
            return
        patience = self.behaviour.patience_s
        if patience is not None:
            wait = self.rng.expovariate(1 / patience)
            self.schedule(
                arrived.at + round(wait * SECOND), Abandon(interaction_id=arrived.interaction_id)
            )
        self._maybe_call_back(arrived)

    def _maybe_call_back(self, arrived: InteractionArrived) -> None:
        """Offer a callback to a caller told a wait past the target, when one can be made."""
        accept = self.behaviour.callbacks.accept
        if accept == 0 or self._estimate is None:
            return
        told = self._estimate(arrived.interaction_id)
        if told is None or told <= arrived.deadline - arrived.received_at:
            return
        state = self.engine.state
        interaction = state.interactions.get(arrived.interaction_id)
        if interaction is None:
            return
        try:
            callback_deadline(state, interaction, arrived.at)
        except EngineError:
            return  # none offered: the channel offers none, or could not make it today
        if self.rng.random() < accept:
            self.schedule(arrived.at, RequestCallback(interaction_id=arrived.interaction_id))
