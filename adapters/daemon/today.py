"""Today: the day's figures for the wallboard, per channel and per advisor, from the journal.

``Today`` follows the durable journal records (a runtime listener feeds it each batch) and keeps
what the wallboard shows since the local midnight of the deployment's zone: per channel the
work that arrived, was answered (within the SLA or not), abandoned (short abandons apart) or
breached, the work refused (a call outside opening hours), and the callbacks asked for (the
call's outcome, with the wait it had then) and what became of them, apart; per advisor the
time logged in, staffed (available or busy) and busy, as stretches of the day, so that
adherence compares them with the day's schedule. Every ratio is computed by
``engine.figures``, the one definition the simulator's report shares.

Counts go to the local day of the event: work answered today that arrived yesterday counts
today, as answered. At midnight the counts start again from zero; what advisors are doing then
carries over.

At daemon start, listeners see only what is committed from then on, not the records replayed:
register the listener first, then ``await catch_up(today, runtime)``, which reads the day's
records from the journal (a binary search finds the day's first record, then pages); records
fed meanwhile wait and are applied after, each once (by ``seq``). An advisor who had no event
at all today is taken to have been in its present state since midnight; one who had, from its
first event of the day (what it did before is not known without reading yesterday's records).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from functools import partial
from typing import Any, Protocol

import msgspec

from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.journal import Record
from aiguillage.engine import figures
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import (
    AdvisorRemoved,
    AdvisorStateChanged,
    CallbackAnswered,
    CallbackMissed,
    CallbackRequested,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionForgotten,
    InteractionMoved,
    InteractionRefused,
    InteractionResponded,
    InteractionTransferred,
    InteractionTransferredOut,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferRevoked,
    PrincipalAwaited,
    SlaBreached,
)
from aiguillage.engine.instants import SECOND, Instant, from_datetime, to_datetime
from aiguillage.engine.policies import CHANNELS, Channel
from aiguillage.engine.schedules import WORK, Shift

__all__ = ["AdvisorDay", "ChannelDay", "Following", "Today", "catch_up"]

_PAGE = 1000
"""Records read per page when catching up."""


class ChannelDay(msgspec.Struct, frozen=True, kw_only=True):
    """One channel since midnight; the ratios are ``None`` when there is nothing to divide."""

    arrived: int
    answered: int
    answered_within: int
    abandoned: int
    """Every abandon, the short ones included."""
    short_abandons: int
    breached: int
    """Deadlines passed today without an answer (whether answered later or not)."""
    service_level: float | None
    asa_s: float | None
    abandonment: float | None
    refused: int = 0
    """Submissions turned away (``interaction.refused``: a call outside opening hours), not
    counted in ``arrived``; a caller's retries of the same call count once."""
    callbacks_requested: int = 0
    """Callers who asked to be called back today: counted in ``service_level`` with the wait
    they had then, not in ``answered`` nor the waits."""
    callbacks_reached: int = 0
    callbacks_unreached: int = 0
    """Closed unanswered after their last attempt (``callback_unanswered``)."""
    callback_service_level: float | None = None
    """``figures.callback_service_level`` over the callbacks first attempted today, and those
    whose deadline passed today before any attempt."""


class AdvisorDay(msgspec.Struct, frozen=True, kw_only=True):
    """One advisor since midnight (or since its first event of the day, see the module)."""

    logged_in_s: float
    busy_s: float
    occupancy: float | None
    """Busy over staffed (available or busy) time: ``figures.occupancy``."""
    adherence: float | None
    """``figures.adherence`` against today's schedule; ``None`` without one for the advisor."""


@dataclass(slots=True)
class _Counts:
    arrived: int = 0
    answered: int = 0
    within: int = 0
    wait_s: float = 0.0
    abandoned: int = 0
    short: int = 0
    breached: int = 0
    refused: int = 0
    callbacks: int = 0
    callbacks_within: int = 0
    reached: int = 0
    unreached: int = 0
    made: int = 0
    made_within: int = 0


@dataclass(slots=True)
class _Advisor:
    """What an advisor does now, since when, and its stretches of the day so far."""

    state: str
    reason: str
    since: Instant
    holding: set[int] = field(default_factory=set)
    stretches: list[tuple[Instant, Instant, str | None, bool]] = field(default_factory=list)
    """``(start, end, activity, busy)``: activity ``work``, a pause's reason, or ``None`` when
    logged out."""

    def activity(self) -> str | None:
        """``work`` when taking or holding work, a pause's reason, ``None`` when logged out."""
        if self.state == "offline":
            return None
        if self.holding or self.state != "not_ready":
            return WORK
        return self.reason or "not_ready"

    def busy(self) -> bool:
        return bool(self.holding) or self.state == "wrap_up"

    def close(self, at: Instant) -> None:
        """End the current stretch at ``at`` (something is about to change)."""
        if at > self.since:
            self.stretches.append((self.since, at, self.activity(), self.busy()))
            self.since = at


class _Reader(Protocol):
    """What ``catch_up`` needs of a runtime."""

    clock: Callable[[], Instant]

    @property
    def last_seq(self) -> int: ...

    async def records_after(self, seq: int, limit: int) -> list[Record]: ...

    async def read(self, reader: Callable[[Engine], Any]) -> Any: ...


class Today:
    """The day's figures, fed by journal records; see the module's docstring."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.seq = 0
        """The last record fed: a record at or before it is skipped."""
        self._day_start: Instant | None = None
        self._day_end: Instant = 0
        self._counts: dict[Channel, _Counts] = {c: _Counts() for c in CHANNELS}
        self._work: dict[int, tuple[Channel, Instant]] = {}
        """Open work not answered yet: its channel at arrival and when it was received."""
        self._late: dict[int, Channel] = {}
        """Work that breached today and has no outcome yet (missed already)."""
        self._callbacks: dict[int, Channel] = {}
        """Open callbacks: their breaches are the callback's, not the call's."""
        self._unattempted: set[int] = set()
        """Callbacks whose first attempt has not started."""
        self._overdue: dict[int, Channel] = {}
        """Of those, the ones whose deadline passed today (missed already)."""
        self._holder: dict[int, str] = {}
        self._advisors: dict[str, _Advisor] = {}
        self._held: list[Record] | None = None
        """While catching up: the records fed live, applied once the journal is read."""
        self._handlers: dict[type[Any], Callable[[Any, Engine], None]] = {
            InteractionArrived: self._arrived,
            InteractionRefused: self._refused,
            InteractionResponded: self._responded,
            InteractionAbandoned: self._abandoned,
            SlaBreached: self._breached,
            CallbackRequested: self._callback_requested,
            CallbackAnswered: self._callback_attempted,
            CallbackMissed: self._callback_attempted,
            InteractionClosed: self._ended,
            InteractionTransferredOut: self._ended,
            InteractionForgotten: self._ended,
            InteractionTransferred: self._released,
            InteractionMoved: self._released,
            PrincipalAwaited: self._released,
            OfferMade: self._offered,
            OfferDeclined: self._released,
            OfferExpired: self._released,
            OfferRevoked: self._released,
            AdvisorStateChanged: self._state_changed,
            AdvisorRemoved: self._removed,
        }

    # -- feeding --------------------------------------------------------------------------------

    def feed(self, records: Sequence[Record], engine: Engine) -> None:
        """Take a batch of durable records, in journal order (each once, by ``seq``)."""
        if self._held is not None:
            self._held.extend(records)
            return
        self._feed(records, engine)

    def _feed(self, records: Sequence[Record], engine: Engine) -> None:
        handlers = self._handlers
        for record in records:
            if record.seq <= self.seq:
                continue
            self.seq = record.seq
            event: Event = record.event
            self._roll(event.at)
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event, engine)

    def _roll(self, at: Instant) -> None:
        """Start a new day when ``at`` is past the current one's end."""
        if self._day_start is not None and at < self._day_end:
            return
        start = self._midnight(at)
        self._day_start, self._day_end = start, self._next_midnight(at)
        self._counts = {c: _Counts() for c in CHANNELS}
        self._late.clear()
        self._overdue.clear()
        for advisor in self._advisors.values():
            advisor.close(max(advisor.since, start))
            advisor.stretches.clear()
            advisor.since = max(advisor.since, start)

    def _midnight(self, at: Instant) -> Instant:
        day = to_datetime(at, self.zone).date()
        return from_datetime(datetime.combine(day, time(), self.zone))

    def _next_midnight(self, at: Instant) -> Instant:
        day = to_datetime(at, self.zone).date() + timedelta(days=1)
        return from_datetime(datetime.combine(day, time(), self.zone))

    def _today(self, at: Instant) -> bool:
        return self._day_start is not None and self._day_start <= at < self._day_end

    # -- work -----------------------------------------------------------------------------------

    def _lookup(self, interaction_id: int, engine: Engine) -> tuple[Channel, Instant] | None:
        known = self._work.get(interaction_id)
        if known is not None:
            return known
        live = engine.state.interactions.get(interaction_id)
        return None if live is None else (live.channel, live.received_at)

    def _arrived(self, event: InteractionArrived, engine: Engine) -> None:
        self._work[event.interaction_id] = (event.channel, event.received_at)
        if self._today(event.at):
            self._counts[event.channel].arrived += 1

    def _refused(self, event: InteractionRefused, engine: Engine) -> None:
        if self._today(event.at):
            self._counts[event.channel].refused += 1

    def _responded(self, event: InteractionResponded, engine: Engine) -> None:
        found = self._lookup(event.interaction_id, engine)
        self._work.pop(event.interaction_id, None)
        self._late.pop(event.interaction_id, None)
        if found is None or not self._today(event.at):
            return
        counts = self._counts[found[0]]
        counts.answered += 1
        counts.within += event.within_sla
        counts.wait_s += (event.at - found[1]) / SECOND

    def _abandoned(self, event: InteractionAbandoned, engine: Engine) -> None:
        self._released(event, engine)
        found = self._work.pop(event.interaction_id, None)
        late = self._late.pop(event.interaction_id, None) is not None
        if found is None:
            live = engine.state.interactions.get(event.interaction_id)
            if live is None or live.responded_at is not None:
                return  # answered before (then sent back to a queue): no abandon for figures
            found = (live.channel, live.received_at)
        if not self._today(event.at):
            return
        counts = self._counts[found[0]]
        counts.abandoned += 1
        policy = engine.state.policies.channels.get(found[0])
        limit = policy.short_abandon_s if policy is not None else 0.0
        # An abandon after the deadline was missed already: never short.
        if not late and figures.is_short_abandon((event.at - found[1]) / SECOND, limit):
            counts.short += 1

    def _callback_requested(self, event: CallbackRequested, engine: Engine) -> None:
        """The call has its outcome: the wait it had; the callback is counted apart."""
        found = self._lookup(event.interaction_id, engine)
        self._work.pop(event.interaction_id, None)
        self._late.pop(event.interaction_id, None)
        if found is None:
            return
        self._callbacks[event.interaction_id] = found[0]
        self._unattempted.add(event.interaction_id)
        if self._today(event.at):
            counts = self._counts[found[0]]
            counts.callbacks += 1
            counts.callbacks_within += event.within_sla

    def _callback_attempted(self, event: CallbackAnswered | CallbackMissed, engine: Engine) -> None:
        channel = self._callbacks.get(event.interaction_id)
        if isinstance(event, CallbackMissed) and event.retry_at is not None:
            self._released(event, engine)  # back in the queue (a last attempt closes it)
        if channel is None or not self._today(event.at):
            return
        counts = self._counts[channel]
        if event.interaction_id in self._unattempted:
            self._unattempted.discard(event.interaction_id)
            self._overdue.pop(event.interaction_id, None)
            counts.made += 1
            counts.made_within += event.on_time
        if isinstance(event, CallbackAnswered):
            counts.reached += 1
        elif event.retry_at is None:
            counts.unreached += 1

    def _breached(self, event: SlaBreached, engine: Engine) -> None:
        channel = self._callbacks.get(event.interaction_id)
        if channel is not None:  # a callback's deadline: overdue when never attempted
            if event.interaction_id in self._unattempted and self._today(event.at):
                self._overdue[event.interaction_id] = channel
            return
        found = self._lookup(event.interaction_id, engine)
        if found is None or not self._today(event.at):
            return
        self._counts[found[0]].breached += 1
        self._late[event.interaction_id] = found[0]

    def _ended(
        self,
        event: InteractionClosed | InteractionTransferredOut | InteractionForgotten,
        engine: Engine,
    ) -> None:
        """Ended without an answer counted (closed unanswered, handed out): no outcome."""
        self._released(event, engine)
        self._work.pop(event.interaction_id, None)
        self._late.pop(event.interaction_id, None)
        self._callbacks.pop(event.interaction_id, None)
        self._unattempted.discard(event.interaction_id)
        self._overdue.pop(event.interaction_id, None)

    # -- advisors -------------------------------------------------------------------------------

    def _advisor(self, advisor_id: str, at: Instant, state: str = "available") -> _Advisor:
        advisor = self._advisors.get(advisor_id)
        if advisor is None:
            # First seen: from now on (an offer goes only to an available advisor).
            advisor = self._advisors[advisor_id] = _Advisor(state=state, reason="", since=at)
        return advisor

    def _offered(self, event: OfferMade, engine: Engine) -> None:
        advisor = self._advisor(event.advisor_id, event.at)
        advisor.close(event.at)
        advisor.holding.add(event.interaction_id)
        self._holder[event.interaction_id] = event.advisor_id

    def _released(self, event: Any, engine: Engine) -> None:
        """The advisor who held the work (offered or in hand) holds it no more."""
        advisor_id = self._holder.pop(event.interaction_id, None)
        advisor = self._advisors.get(advisor_id) if advisor_id is not None else None
        if advisor is not None and event.interaction_id in advisor.holding:
            advisor.close(event.at)
            advisor.holding.discard(event.interaction_id)

    def _state_changed(self, event: AdvisorStateChanged, engine: Engine) -> None:
        advisor = self._advisors.get(event.advisor_id)
        if advisor is None:
            self._advisors[event.advisor_id] = _Advisor(
                state=event.state, reason=event.reason, since=event.at
            )
            return
        advisor.close(event.at)
        advisor.state, advisor.reason = event.state, event.reason
        if event.state == "offline":
            advisor.holding.clear()

    def _removed(self, event: AdvisorRemoved, engine: Engine) -> None:
        self._advisors.pop(event.advisor_id, None)

    def seed_unseen(self, engine: Engine, now: Instant) -> None:
        """Take the advisors with no event today as in their present state since midnight
        (``catch_up`` calls this once the day's records are read)."""
        self._roll(now)
        start = self._day_start
        assert start is not None
        for advisor_id, live in engine.state.advisors.items():
            if advisor_id not in self._advisors:
                advisor = _Advisor(state=live.state, reason=live.reason, since=start)
                advisor.holding.update(live.holding)
                for interaction_id in live.holding:
                    self._holder[interaction_id] = advisor_id
                self._advisors[advisor_id] = advisor

    # -- reading --------------------------------------------------------------------------------

    def channel(self, channel: str, now: Instant) -> ChannelDay:
        """The channel's figures for the day of ``now``."""
        self._roll(now)
        counts = self._counts[channel]  # type: ignore[index]
        late = sum(1 for c in self._late.values() if c == channel)
        overdue = sum(1 for c in self._overdue.values() if c == channel)
        return ChannelDay(
            arrived=counts.arrived,
            answered=counts.answered,
            answered_within=counts.within,
            abandoned=counts.abandoned,
            short_abandons=counts.short,
            breached=counts.breached,
            service_level=figures.service_level(
                counts.within,
                counts.answered,
                counts.abandoned,
                counts.short,
                late,
                counts.callbacks_within,
                counts.callbacks,
            ),
            asa_s=figures.mean_wait_s(counts.wait_s, counts.answered),
            abandonment=figures.abandonment_rate(counts.abandoned, counts.arrived, counts.short),
            refused=counts.refused,
            callbacks_requested=counts.callbacks,
            callbacks_reached=counts.reached,
            callbacks_unreached=counts.unreached,
            callback_service_level=figures.callback_service_level(
                counts.made_within, counts.made, overdue
            ),
        )

    def advisor(self, advisor_id: str, now: Instant, engine: Engine) -> AdvisorDay:
        """The advisor's figures for the day of ``now``; adherence against the schedules of
        the day (and the end of yesterday's shifts that run past midnight)."""
        self._roll(now)
        advisor = self._advisors.get(advisor_id)
        stretches = list(advisor.stretches) if advisor is not None else []
        if advisor is not None and now > advisor.since:
            stretches.append((advisor.since, now, advisor.activity(), advisor.busy()))
        logged = busy = staffed = 0.0
        for start, end, activity, is_busy in stretches:
            seconds = (end - start) / SECOND
            if activity is not None:
                logged += seconds
            if activity == WORK:
                staffed += seconds
            if is_busy:
                busy += seconds
        return AdvisorDay(
            logged_in_s=logged,
            busy_s=busy,
            occupancy=figures.occupancy(busy, staffed),
            adherence=self._adherence(advisor_id, stretches, now, engine),
        )

    def _adherence(
        self,
        advisor_id: str,
        stretches: list[tuple[Instant, Instant, str | None, bool]],
        now: Instant,
        engine: Engine,
    ) -> float | None:
        assert self._day_start is not None
        start = self._day_start
        schedules = engine.state.schedules
        day = to_datetime(start, self.zone).date()
        shifts: list[Shift] = []
        found = False
        for name in ((day - timedelta(days=1)).isoformat(), day.isoformat()):
            planned = schedules.get(name)
            if planned is not None:
                found = found or name == day.isoformat()
                shifts.extend(s for s in planned if s.advisor_id == advisor_id)
        if not found:
            return None
        scheduled = kept = 0.0
        for shift in shifts:
            first, last = max(shift.start, start), min(shift.end, now)
            if last <= first:
                continue
            scheduled += (last - first) / SECOND
            for begin, end, activity, _ in stretches:
                if activity == shift.activity:
                    kept += max(0, min(end, last) - max(begin, first)) / SECOND
        if not shifts:
            return None
        return figures.adherence(kept, scheduled)


async def catch_up(today: Today, runtime: _Reader) -> None:
    """Feed ``today`` the journal's records of the day, then those fed live meanwhile.

    Register the live listener before calling this. A binary search over the journal finds the
    day's first record (a few reads), then the day's records are read a page at a time; the
    engine is read between the runtime's batches (``runtime.read``).
    """
    today._held = []
    try:
        now = runtime.clock()
        last = runtime.last_seq
        midnight = today._midnight(now)
        low, high = 1, last + 1  # the first seq whose event is at or after midnight
        while low < high:
            middle = (low + high) // 2
            found = await runtime.records_after(middle - 1, 1)
            if found and found[0].event.at >= midnight:
                high = middle
            else:
                low = middle + 1
        after = low - 1
        while True:
            page = await runtime.records_after(after, _PAGE)
            if not page:
                break
            await runtime.read(partial(_feed, today, page))
            after = page[-1].seq
        await runtime.read(lambda engine: today.seed_unseen(engine, now))
    finally:
        held, today._held = today._held or [], None
    if held:
        await runtime.read(partial(_feed, today, held))


def _feed(today: Today, records: Sequence[Record], engine: Engine) -> None:
    today._feed(records, engine)


class Following:
    """The day's figures (``Today``), following the journal from the first wall that asks,
    and started afresh after the daemon drops its engine."""

    def __init__(self) -> None:
        self._today: Today | None = None
        self._lock = asyncio.Lock()

    async def today(self, runtime: Runtime) -> Today:
        async with self._lock:
            if self._today is None:
                today = Today(runtime.zone)

                def follow(records: Sequence[Record]) -> None:
                    if runtime.engine is not None:
                        today.feed(records, runtime.engine)

                def dropped() -> None:
                    runtime.remove_listener(follow)
                    runtime.remove_drop_listener(dropped)
                    if self._today is today:
                        self._today = None

                runtime.add_listener(follow)
                runtime.add_drop_listener(dropped)
                try:
                    await catch_up(today, runtime)
                except BaseException:
                    dropped()
                    raise
                self._today = today
            return self._today
