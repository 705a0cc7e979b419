"""Results as data: what a run achieved, per channel and per interval, from the engine's events.

A ``Tally`` is an observer of the kernel: it consumes events as they happen and keeps counters,
per-interval rows, the advisors' busy and logged-in time, and per interaction only its channel,
arrival and wait (for the percentiles), not the events themselves. ``Tally.result()`` returns
a ``RunResult`` (``outcome.py``); tables, JSON and the HTML report are rendered elsewhere
(``adapters/``) from that flat record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiguillage.engine import figures
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import (
    AdvisorStateChanged,
    CallbackAnswered,
    CallbackMissed,
    CallbackRequested,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
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
from aiguillage.engine.instants import MINUTE, SECOND, Instant, to_datetime
from aiguillage.engine.policies import CHANNELS, Channel, Policies
from aiguillage.engine.sla import BREACH_AFTER

from .outcome import ChannelSummary, Estimate, IntervalRow, RunResult
from .told import TOLD, Told, ToldFigures

__all__ = ["FIGURES", "ChannelResult", "Tally", "estimates", "mean_interval"]


@dataclass(slots=True)
class ChannelResult:
    """What happened on one channel, as counters."""

    channel: Channel
    offered: int = 0
    answered: int = 0
    answered_within_sla: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    """Of ``abandoned``, those that waited less than the channel's ``short_abandon_s``."""
    breaches: int = 0
    late_open: int = 0
    """Past their deadline and not answered yet (at the end of the run)."""
    offers: int = 0
    waits_s: list[float] = field(default_factory=list)
    callbacks: int = 0
    """Calls whose caller asked to be called back: their outcome is known then."""
    callbacks_within: int = 0
    callbacks_reached: int = 0
    callbacks_unreached: int = 0
    callbacks_made: int = 0
    """Callbacks whose first attempt started."""
    callbacks_made_within: int = 0
    callbacks_overdue: int = 0
    """Callbacks past their deadline and never attempted yet (at the end of the run)."""

    @property
    def settled(self) -> int:
        """Interactions whose SLA outcome is known: answered, asked to be called back,
        abandoned, or late and open."""
        return self.answered + self.callbacks + self.abandoned + self.late_open

    @property
    def service_level(self) -> float:
        """``figures.service_level``; 1.0 when no work has an outcome (nothing was missed)."""
        level = figures.service_level(
            self.answered_within_sla,
            self.answered,
            self.abandoned,
            self.short_abandons,
            self.late_open,
            self.callbacks_within,
            self.callbacks,
        )
        return 1.0 if level is None else level

    @property
    def callback_service_level(self) -> float:
        """``figures.callback_service_level``; 1.0 when no callback has an outcome."""
        level = figures.callback_service_level(
            self.callbacks_made_within, self.callbacks_made, self.callbacks_overdue
        )
        return 1.0 if level is None else level

    @property
    def mean_wait_s(self) -> float:
        """``figures.mean_wait_s``; 0.0 when nothing was answered."""
        wait = figures.mean_wait_s(sum(self.waits_s), len(self.waits_s))
        return 0.0 if wait is None else wait

    @property
    def abandonment(self) -> float:
        """``figures.abandonment_rate``; 0.0 when nothing arrived."""
        rate = figures.abandonment_rate(self.abandoned, self.offered, self.short_abandons)
        return 0.0 if rate is None else rate

    def wait_percentile_s(self, share: float) -> float:
        if not self.waits_s:
            return 0.0
        ordered = sorted(self.waits_s)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(slots=True)
class _Bucket:
    arrivals: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0
    short: int = 0
    breaches: int = 0
    wait_s: float = 0.0
    waiting: int = -1
    busy_s: float = 0.0
    logged_s: float = 0.0


@dataclass(slots=True)
class _Sample:
    """An advisor as last seen: since when, staffed or not (``figures.occupancy``), busy and
    able channels."""

    at: Instant
    logged: bool
    busy: tuple[Channel, ...]
    able: tuple[Channel, ...]


class Tally:
    """Counters per channel and per interval, fed one event at a time.

    Without an engine it counts interactions only; with one it also measures occupancy (busy
    time over staffed time, per channel among the advisors able to serve it), the backlog at the
    end of each interval, and short abandons (the thresholds are the engine's policies). Every
    ratio comes from ``engine.figures``.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        start: Instant = 0,
        interval_minutes: int = 30,
        told: Told | None = None,
    ) -> None:
        self.channels: dict[Channel, ChannelResult] = {c: ChannelResult(c) for c in CHANNELS}
        self._engine = engine
        self._start = start
        self._interval = interval_minutes * MINUTE
        self._buckets: dict[Channel, list[_Bucket]] = {c: [] for c in CHANNELS}
        self._overall: list[_Bucket] = []
        self._arrivals: dict[int, tuple[Channel, Instant]] = {}
        self._late: set[int] = set()
        self._callbacks: set[int] = set()
        """Callbacks asked for: their breaches are the callback's, not the call's."""
        self._unattempted: set[int] = set()
        """Callbacks whose first attempt has not started."""
        self._overdue: set[int] = set()
        """Of those, the ones past their deadline."""
        self._holder: dict[int, str] = {}
        self._advisors: dict[str, _Sample] = {}
        self._last_channel: dict[str, Channel] = {}
        self._able: dict[str, tuple[dict[Channel, int], tuple[Channel, ...]]] = {}
        """Per advisor, its capacity map as last seen and the channels it opens."""
        self._breach_days: dict[Channel, dict[str, int]] = {c: {} for c in CHANNELS}
        self._last_bucket = -1
        self._next_edge = start
        self._told = told
        """Measures the estimated waits callers are told, when given (``told.py``)."""
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            InteractionArrived: self._arrived,
            InteractionResponded: self._responded,
            SlaBreached: self._breached,
            CallbackRequested: self._callback_requested,
            CallbackAnswered: self._callback_attempted,
            CallbackMissed: self._callback_attempted,
            InteractionAbandoned: self._abandoned,
            OfferMade: self._offered,
            OfferDeclined: self._released,
            OfferExpired: self._released,
            OfferRevoked: self._released,
            InteractionClosed: self._released,
            InteractionTransferred: self._released,
            InteractionTransferredOut: self._released,
            PrincipalAwaited: self._released,
            AdvisorStateChanged: self._state_changed,
        }

    # -- feeding --------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if event.at >= self._next_edge and self._engine is not None:
            self._close_buckets_before(event.at)
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _arrived(self, event: InteractionArrived) -> None:
        self._arrivals[event.interaction_id] = (event.channel, event.received_at)
        self.channels[event.channel].offered += 1
        self._bucket(event.channel, event.at).arrivals += 1
        told = self._told
        if told is not None and event.channel in TOLD:
            told.arrived(event.interaction_id, event.channel, event.at)

    def _responded(self, event: InteractionResponded) -> None:
        channel, received = self._arrivals[event.interaction_id]
        result = self.channels[channel]
        wait = (event.at - received) / SECOND
        result.answered += 1
        result.answered_within_sla += event.within_sla
        result.waits_s.append(wait)
        bucket = self._bucket(channel, event.at)
        bucket.answered += 1
        bucket.within += event.within_sla
        bucket.wait_s += wait
        if event.interaction_id in self._late:
            self._late.discard(event.interaction_id)
            result.late_open -= 1
        if self._told is not None:
            self._told.ended(event.interaction_id, channel, received, event.at, True)

    def _callback_requested(self, event: CallbackRequested) -> None:
        """The call has its outcome: the wait it had; the callback is measured apart."""
        result = self.channels[self._arrivals[event.interaction_id][0]]
        result.callbacks += 1
        result.callbacks_within += event.within_sla
        if event.interaction_id in self._late:  # late, then asked: counted once, as asked
            self._late.discard(event.interaction_id)
            result.late_open -= 1
        self._callbacks.add(event.interaction_id)
        self._unattempted.add(event.interaction_id)
        if self._told is not None:
            self._told.called_back(event.interaction_id)

    def _callback_attempted(self, event: CallbackAnswered | CallbackMissed) -> None:
        result = self.channels[self._arrivals[event.interaction_id][0]]
        if event.interaction_id in self._unattempted:  # its first attempt
            self._unattempted.discard(event.interaction_id)
            result.callbacks_made += 1
            result.callbacks_made_within += event.on_time
            if event.interaction_id in self._overdue:
                self._overdue.discard(event.interaction_id)
                result.callbacks_overdue -= 1
        if type(event) is CallbackAnswered:
            result.callbacks_reached += 1
        elif type(event) is CallbackMissed:
            if event.retry_at is None:
                result.callbacks_unreached += 1  # the close that follows frees the advisor
            else:
                self._released(event)

    def _breached(self, event: SlaBreached) -> None:
        if event.interaction_id in self._callbacks:
            # A callback's deadline passed unanswered: overdue when never even attempted.
            if event.interaction_id in self._unattempted:
                self._overdue.add(event.interaction_id)
                self.channels[self._arrivals[event.interaction_id][0]].callbacks_overdue += 1
            return
        channel = self._arrivals[event.interaction_id][0]
        result = self.channels[channel]
        result.breaches += 1
        result.late_open += 1
        self._late.add(event.interaction_id)
        self._bucket(channel, event.at).breaches += 1
        if self._engine is not None:
            deadline = event.due - BREACH_AFTER
            day = to_datetime(deadline, self._engine.state.calendar.zone).date().isoformat()
            days = self._breach_days[channel]
            days[day] = days.get(day, 0) + 1

    def _abandoned(self, event: InteractionAbandoned) -> None:
        channel, received = self._arrivals[event.interaction_id]
        result = self.channels[channel]
        result.abandoned += 1
        bucket = self._bucket(channel, event.at)
        bucket.abandoned += 1
        if self._told is not None:
            self._told.ended(event.interaction_id, channel, received, event.at, False)
        if event.interaction_id in self._late:  # late, then gone: counted once, as abandoned
            self._late.discard(event.interaction_id)
            result.late_open -= 1
        elif self._engine is not None:
            policy = self._engine.state.policies.channels.get(channel)
            limit = policy.short_abandon_s if policy is not None else 0.0
            if figures.is_short_abandon((event.at - received) / SECOND, limit):
                result.short_abandons += 1
                bucket.short += 1
        self._released(event)

    def _offered(self, event: OfferMade) -> None:
        self.channels[self._arrivals[event.interaction_id][0]].offers += 1
        self._holder[event.interaction_id] = event.advisor_id
        if self._engine is not None:
            self._sample(event.advisor_id, event.at)

    def _released(
        self,
        event: OfferDeclined
        | OfferExpired
        | OfferRevoked
        | InteractionClosed
        | InteractionTransferred
        | InteractionTransferredOut
        | PrincipalAwaited
        | InteractionAbandoned
        | CallbackMissed,
    ) -> None:
        """Sample the advisor who held the interaction: its load just went down."""
        if self._told is not None and type(event) is InteractionClosed:
            self._told.closed(event.interaction_id, event.at)
        advisor_id = self._holder.pop(event.interaction_id, None)
        if advisor_id is not None and self._engine is not None:
            interaction = self._engine.state.interactions.get(event.interaction_id)
            if interaction is not None:
                self._last_channel[advisor_id] = interaction.channel
            self._sample(advisor_id, event.at)

    def _state_changed(self, event: AdvisorStateChanged) -> None:
        if self._engine is not None:
            self._sample(event.advisor_id, event.at)

    def _sample(self, advisor_id: str, at: Instant) -> None:
        """Note what an advisor does from ``at`` on. Its time goes to the intervals when that
        changes: the whole stretch since the last change at once, however often it was seen."""
        assert self._engine is not None
        previous = self._advisors.get(advisor_id)
        advisor = self._engine.state.advisors.get(advisor_id)
        if advisor is None:
            if previous is not None:
                self._spread(previous, at)
            self._advisors.pop(advisor_id, None)
            return
        # After-call work is work: wrap-up counts as busy on the channel it follows.
        load = advisor.load
        if advisor.state == "wrap_up":
            wrapping = self._last_channel.get(advisor_id)
            busy = tuple([c for c in CHANNELS if load[c] or c == wrapping])
        else:
            busy = tuple([c for c in CHANNELS if load[c]])
        capacity = advisor.capacity
        able = self._able.get(advisor_id)
        # The engine replaces a profile's capacity, never changes it in place: same map, same
        # channels.
        if able is None or able[0] is not capacity:
            able = self._able[advisor_id] = (
                capacity,
                tuple([c for c in CHANNELS if capacity.get(c, 0) > 0]),
            )
        # Staffed: logged in and available, or busy; a pause with nothing in hand is not.
        logged = advisor.state != "offline" and (bool(busy) or advisor.state != "not_ready")
        if previous is not None:
            if previous.logged == logged and previous.busy == busy and previous.able == able[1]:
                return
            self._spread(previous, at)
        self._advisors[advisor_id] = _Sample(at=at, logged=logged, busy=busy, able=able[1])

    def _spread(self, sample: _Sample, until: Instant) -> None:
        """Add an advisor's busy and logged-in time from its last sample to ``until``."""
        if not sample.logged:
            return
        start = self._start
        interval = self._interval
        busy = sample.busy
        able = sample.able
        all_buckets = self._buckets
        nth = self._nth
        at = max(sample.at, start)
        while at < until:
            index = (at - start) // interval
            edge = min(until, start + (index + 1) * interval)
            seconds = (edge - at) / SECOND
            rows = self._overall
            overall = rows[index] if index < len(rows) else nth(rows, index)
            overall.logged_s += seconds
            if busy:
                overall.busy_s += seconds
            for channel in able:
                rows = all_buckets[channel]
                bucket = rows[index] if index < len(rows) else nth(rows, index)
                bucket.logged_s += seconds
                if channel in busy:
                    bucket.busy_s += seconds
            at = edge

    def _close_buckets_before(self, at: Instant) -> None:
        """Record the backlog at the end of every interval that ended before ``at``."""
        index = (at - self._start) // self._interval
        if index <= self._last_bucket:
            return
        assert self._engine is not None
        queues = self._engine.state.queues
        for ended in range(max(self._last_bucket, 0), index):
            for channel in CHANNELS:
                self._nth(self._buckets[channel], ended).waiting = queues.waiting(channel)
        self._last_bucket = index
        self._next_edge = self._start + (index + 1) * self._interval

    def _bucket(self, channel: Channel, at: Instant) -> _Bucket:
        return self._nth(self._buckets[channel], max(0, (at - self._start) // self._interval))

    @staticmethod
    def _nth(buckets: list[_Bucket], index: int) -> _Bucket:
        if index < len(buckets):
            return buckets[index]
        while len(buckets) <= index:
            buckets.append(_Bucket())
        return buckets[index]

    # -- the outcome ----------------------------------------------------------------------------

    def result(
        self,
        *,
        end: Instant,
        policies: Policies,
        deployment: str,
        seed: int,
        strategy: str,
    ) -> RunResult:
        """Close the books at ``end`` and return the run as data."""
        assert self._engine is not None, "a result needs the engine the tally followed"
        self._close_buckets_before(end)
        for sample in list(self._advisors.values()):
            self._spread(sample, end)
        calendar: BusinessCalendar = self._engine.state.calendar
        count = max(1, -(-(end - self._start) // self._interval))
        summaries = []
        series: dict[str, list[IntervalRow]] = {}
        overall_busy = sum(b.busy_s for b in self._overall)
        overall_logged = sum(b.logged_s for b in self._overall)
        for channel in CHANNELS:
            result = self.channels[channel]
            policy = policies.channels.get(channel)
            buckets = self._buckets[channel]
            busy = sum(b.busy_s for b in buckets)
            logged = sum(b.logged_s for b in buckets)
            told = self._told.figures(channel) if self._told is not None else ToldFigures()
            summaries.append(
                ChannelSummary(
                    channel=channel,
                    offered=result.offered,
                    answered=result.answered,
                    abandoned=result.abandoned,
                    short_abandons=result.short_abandons,
                    abandonment=result.abandonment,
                    answered_within_sla=result.answered_within_sla,
                    still_open=result.offered - result.settled,
                    service_level=result.service_level,
                    target_share=policy.target_share if policy else 0.0,
                    mean_wait_s=result.mean_wait_s,
                    p90_wait_s=result.wait_percentile_s(0.9),
                    breaches=result.breaches,
                    penalties_eur=result.breaches * (policy.penalty_eur if policy else 0.0),
                    occupancy=figures.occupancy(busy, logged) or 0.0,
                    estimated=told.told,
                    estimate_late_share=told.late_share,
                    estimate_mae_s=told.mae_s,
                    estimate_over_share=told.over_share,
                    callbacks_requested=result.callbacks,
                    callbacks_requested_within_sla=result.callbacks_within,
                    callbacks_reached=result.callbacks_reached,
                    callbacks_unreached=result.callbacks_unreached,
                    callbacks_open=(
                        result.callbacks - result.callbacks_reached - result.callbacks_unreached
                    ),
                    callbacks_made_within_target=result.callbacks_made_within,
                    callback_service_level=result.callback_service_level,
                )
            )
            rows = []
            waiting = 0
            for index in range(count):
                bucket = buckets[index] if index < len(buckets) else _Bucket()
                waiting = bucket.waiting if bucket.waiting >= 0 else waiting
                start = self._start + index * self._interval
                rows.append(
                    IntervalRow(
                        start=to_datetime(start, calendar.zone).isoformat(),
                        arrivals=bucket.arrivals,
                        answered=bucket.answered,
                        answered_within_sla=bucket.within,
                        abandoned=bucket.abandoned,
                        short_abandons=bucket.short,
                        breaches=bucket.breaches,
                        waiting=waiting,
                        mean_wait_s=figures.mean_wait_s(bucket.wait_s, bucket.answered) or 0.0,
                        occupancy=figures.occupancy(bucket.busy_s, bucket.logged_s) or 0.0,
                    )
                )
            series[channel] = rows
        return RunResult(
            deployment=deployment,
            start=to_datetime(self._start, calendar.zone).isoformat(),
            end=to_datetime(end, calendar.zone).isoformat(),
            timezone=calendar.policy.timezone,
            seed=seed,
            strategy=strategy,
            interval_minutes=self._interval // MINUTE,
            channels=summaries,
            series=series,
            occupancy=figures.occupancy(overall_busy, overall_logged) or 0.0,
            breaches_per_day={c: dict(sorted(d.items())) for c, d in self._breach_days.items()},
        )


FIGURES = (
    "offered",
    "answered",
    "abandoned",
    "short_abandons",
    "abandonment",
    "service_level",
    "mean_wait_s",
    "p90_wait_s",
    "breaches",
    "penalties_eur",
    "occupancy",
    "estimated",
    "estimate_late_share",
    "estimate_mae_s",
    "estimate_over_share",
    "callbacks_requested",
    "callbacks_reached",
    "callback_service_level",
)
"""The per-channel figures that replications estimate."""

# Student's t quantiles at 97.5 % for 1 to 30 degrees of freedom; 1.96 beyond.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def mean_interval(values: list[float]) -> Estimate:
    """Return the mean of independent replications and its 95 % confidence interval (Student)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean=mean, low=mean, high=mean)
    quantile = _T975[n - 2] if n <= 31 else 1.96
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = quantile * math.sqrt(variance / n)
    return Estimate(mean=mean, low=mean - half, high=mean + half)


def estimates(runs: list[RunResult]) -> dict[str, dict[str, Estimate]]:
    """Return, per channel and figure, the mean over runs and its 95 % confidence interval.

    Every figure is at least 0 and shares at most 1, so the intervals are cut there.
    """
    out: dict[str, dict[str, Estimate]] = {}
    for index, summary in enumerate(runs[0].channels):
        figures = {}
        for figure in FIGURES:
            raw = mean_interval([float(getattr(run.channels[index], figure)) for run in runs])
            top = 1.0 if figure in _SHARES else math.inf
            figures[figure] = Estimate(
                mean=raw.mean, low=max(0.0, raw.low), high=min(top, raw.high)
            )
        out[summary.channel] = figures
    return out


_SHARES = frozenset(
    {
        "service_level",
        "occupancy",
        "abandonment",
        "estimate_late_share",
        "estimate_over_share",
        "callback_service_level",
    }
)
