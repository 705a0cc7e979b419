"""The day's forecast: per channel, the arrivals the plan expects, to set beside the actual.

The plan is the deployment's ``[simulation]`` section: yearly volumes per source, shaped by the
channels' profiles, opening hours and surges. A forecast reads it exactly as the simulator does:
the same streams (``streams_of``) shaped by the same ``hourly_rates``, from the day's local
midnight. So a day expects what a simulation started at that midnight draws on average, its
rates normalised over the 365 days from there as every simulated run's are, and a channel
closed that day (the phone line on a public holiday) expects nothing.

A day runs from local midnight to the next in the calendar's zone: 23 hours when the clocks go
forward, 25 when they go back, each hour an hour of absolute time. Within an hour the expected
arrivals accrue evenly over its open part, checked in the simulator's 5-minute slots (where it
places that hour's arrivals): a line opening at 07:30 expects nothing before 07:30.

``Forecasts`` keeps each day's forecast once computed. The computation walks a year of hours
(tens of milliseconds), so it runs in a worker thread, never on the event loop, and callers
asking for a day being computed wait for that one computation.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial

import anyio

from aiguillage.adapters.config.settings import Settings
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import HOUR, MINUTE, Instant, from_datetime, to_datetime
from aiguillage.engine.policies import Channel
from aiguillage.simulations.workload import SLOT, SLOTS, hourly_rates, streams_of

__all__ = ["DayForecast", "Forecasts", "day_forecast"]


@dataclass(frozen=True, slots=True)
class _Channel:
    """One channel's day: expected arrivals per hour, before each hour, and where in each
    hour they fall (the open 5-minute slots; ``None`` for evenly over the whole hour)."""

    hourly: tuple[float, ...]
    before: tuple[float, ...]
    """Expected arrivals from midnight to the start of each hour, and to the end of the day."""
    slots: tuple[tuple[bool, ...], ...] | None


@dataclass(frozen=True, slots=True)
class DayForecast:
    """The arrivals the plan expects on one local day, per channel with a yearly volume."""

    day: date
    start: Instant
    """Local midnight."""
    end: Instant
    """The next local midnight: 23, 24 or 25 hours later."""
    _channels: dict[Channel, _Channel]

    @property
    def hours(self) -> int:
        """Hours in the day: 23 or 25 on the days the clocks change, else 24."""
        return (self.end - self.start) // HOUR

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels the plan gives traffic (a source with a yearly volume), in the
        policies' order; asking about another raises ``KeyError``."""
        return tuple(self._channels)

    def hourly(self, channel: Channel) -> tuple[float, ...]:
        """Expected arrivals in each hour of the day, from midnight."""
        return self._channels[channel].hourly

    def expected_day(self, channel: Channel) -> float:
        """Expected arrivals over the whole day."""
        return self._channels[channel].before[-1]

    def expected_by(self, channel: Channel, now: Instant) -> float:
        """Expected arrivals from local midnight to ``now``, the current hour prorated over
        its open part; 0 before the day, the whole day's after it."""
        shape = self._channels[channel]
        if now <= self.start:
            return 0.0
        if now >= self.end:
            return shape.before[-1]
        hour, within = divmod(now - self.start, HOUR)
        share = within / HOUR
        if shape.slots is not None:
            slots = shape.slots[hour]
            opened = sum(slots)
            slot, part = divmod(within, SLOT)
            done = sum(slots[:slot]) + (part / SLOT if slots[slot] else 0.0)
            share = done / opened if opened else 0.0
        return shape.before[hour] + shape.hourly[hour] * share

    def intervals(self, channel: Channel, minutes: int = 30) -> list[tuple[Instant, float]]:
        """Expected arrivals per interval of ``minutes`` from midnight, as (start, expected);
        the last interval ends at the day's end."""
        if minutes <= 0:
            raise ValueError("minutes must be positive")
        step = minutes * MINUTE
        starts = range(self.start, self.end, step)
        return [
            (at, self.expected_by(channel, at + step) - self.expected_by(channel, at))
            for at in starts
        ]


def day_forecast(settings: Settings, day: date) -> DayForecast | None:
    """Return what the configuration's plan expects on ``day``, or ``None`` without a plan
    (no source with a yearly volume in ``[simulation.volumes]``).

    Walks a year of hours per source: call it off the event loop (``Forecasts`` does).
    """
    policies = settings.policies()
    scenario = settings.simulation
    calendar = BusinessCalendar(policies.calendar)
    streams = streams_of(policies, scenario, calendar)
    if not streams:
        return None
    start = from_datetime(datetime.combine(day, time(), calendar.zone))
    end = from_datetime(datetime.combine(day + timedelta(days=1), time(), calendar.zone))
    hours = (end - start) // HOUR
    rates: dict[Channel, list[float]] = {}
    open_at = {}
    for stream in streams:
        shaped = hourly_rates(stream, start, hours, calendar, scenario.surges)
        total = rates.setdefault(stream.channel, [0.0] * hours)
        for hour, rate in enumerate(shaped.tolist()):
            total[hour] += rate
        open_at[stream.channel] = stream.open_at  # the channel's: alike for all its sources
    channels: dict[Channel, _Channel] = {}
    for channel, hourly in rates.items():
        before = [0.0]
        for rate in hourly:
            before.append(before[-1] + rate)
        is_open = open_at[channel]
        slots = (
            None
            if is_open is None
            else tuple(
                tuple(is_open(start + hour * HOUR + k * SLOT) for k in range(SLOTS))
                for hour in range(hours)
            )
        )
        channels[channel] = _Channel(tuple(hourly), tuple(before), slots)
    return DayForecast(day=day, start=start, end=end, _channels=channels)


class Forecasts:
    """Each day's forecast of one deployment, computed once (in a worker thread) and kept.

    Concurrent callers asking for the same day share its one computation; a computation that
    fails is forgotten, so the next caller tries again. The last ``keep`` days asked are kept
    (today, and yesterday for a wall open across midnight).
    """

    def __init__(self, keep: int = 3) -> None:
        self._keep = keep
        self._days: OrderedDict[date, asyncio.Future[DayForecast | None]] = OrderedDict()
        self._settings: Settings | None = None

    async def today(self, runtime: Runtime) -> DayForecast | None:
        """The forecast of the local day of the runtime's clock."""
        return await self.day(runtime, to_datetime(runtime.clock(), runtime.zone).date())

    async def day(self, runtime: Runtime, day: date) -> DayForecast | None:
        """The forecast of ``day`` by the runtime's configuration; ``None`` without a plan."""
        if runtime.settings is not self._settings:
            self._days.clear()
            self._settings = runtime.settings
        computing = self._days.get(day)
        if computing is None:
            computing = asyncio.ensure_future(
                anyio.to_thread.run_sync(partial(day_forecast, runtime.settings, day))
            )
            computing.add_done_callback(partial(self._settled, day))
            self._days[day] = computing
            while len(self._days) > self._keep:
                self._days.popitem(last=False)
        # A caller cancelled while waiting leaves the computation to the others.
        return await asyncio.shield(computing)

    def _settled(self, day: date, computing: asyncio.Future[DayForecast | None]) -> None:
        failed = computing.cancelled() or computing.exception() is not None
        if failed and self._days.get(day) is computing:
            del self._days[day]
