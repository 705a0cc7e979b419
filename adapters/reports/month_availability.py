"""A month's availability of the service and of each channel, from the journal, without I/O.

What the daemon journals about itself (``daemon.availability``) gives the outages:

- the service: from the last instant the journal knew it alive to each ``service.started``
  that follows a crash (``crashed``) or a clean stop (``stopped``: a planned stop is an outage
  too), and from ``lost_at`` to each ``journal.regained`` (``journal_lost``: the daemon
  answered 503 meanwhile);
- a channel adapter: from a ``channel.down``'s ``since`` to the next ``channel.up``'s
  ``since``, or to the service's next outage (the daemon forgets a channel's state when it
  stops, and says it again if the channel is still down); a channel is also down while the
  service is. One still down at the journal's end counts to that end.

Only opening hours count (the calendar's ``[calendar.hours]``, in force at the month's end):
the service is owed while it is open, so a crash at 03:00 is listed but costs no availability.
``availability`` is the share of the month's opening time the service, or the channel, was up:
from the service's first start (a month it began in counts from then), up to the journal's end
for a month not over. A journal with no ``service.started`` (a simulation's, or one written
before the daemon journaled its availability) has none: ``None``. The channels are those any
``service.started`` named as enabled, and any a transition names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

import msgspec

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.events import (
    ChannelDown,
    ChannelUp,
    Event,
    JournalRegained,
    ServiceStarted,
)
from aiguillage.engine.instants import SECOND, Instant, to_datetime
from aiguillage.engine.policies import Policies

__all__ = [
    "AVAILABILITY_EVENTS",
    "Availability",
    "ChannelAvailability",
    "Outage",
    "OutageLog",
    "month_availability",
]


AVAILABILITY_EVENTS: frozenset[type[Event]] = frozenset(
    {ServiceStarted, JournalRegained, ChannelDown, ChannelUp}
)
"""The events ``OutageLog`` reads (a stop is known by the start that follows it)."""


class Outage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One outage, as much of it as falls in the month.

    ``kind``: ``crashed``, ``stopped`` or ``journal_lost`` (the service), ``channel`` (one
    channel, named). ``start`` and ``end`` are the whole outage's, ISO-8601 with the zone's
    offset; ``seconds`` and ``open_seconds`` the part in the month, and in its opening hours.
    """

    kind: str
    channel: str | None = None
    start: str
    end: str
    reason: str = ""
    seconds: float
    open_seconds: float


class ChannelAvailability(msgspec.Struct, kw_only=True):
    channel: str
    down_open_s: float
    """Opening time the channel was down, the service's outages included."""
    availability: float | None


class Availability(msgspec.Struct, kw_only=True):
    open_s: float
    """The month's opening time, up to the journal's end when the month is not over."""
    down_open_s: float
    """Of it, the time the service was down."""
    availability: float | None
    """``1 - down_open_s / open_s``; ``None`` without opening time."""
    outages: list[Outage]
    """The service's outages that touch the month, in time order."""
    channels: list[ChannelAvailability]
    channel_outages: list[Outage]


@dataclass
class OutageLog:
    """The outages read from the journal so far; fed every event, in journal order."""

    service: list[tuple[Instant, Instant, str, str]] = field(default_factory=list)
    """(start, end, kind, reason) of each outage of the service."""
    channel: list[tuple[Instant, Instant, str, str]] = field(default_factory=list)
    """(start, end, channel, reason) of each ended outage of a channel."""
    down: dict[str, tuple[Instant, str]] = field(default_factory=dict)
    """The channels down now: since when, and why."""
    names: set[str] = field(default_factory=set)
    began: Instant | None = None
    """Since when the journal records the service's availability (its first start)."""

    def read(self, event: Event) -> None:
        if isinstance(event, ServiceStarted):
            if self.began is None:
                self.began = event.at if event.last_alive is None else event.last_alive
            self.names.update(event.channels)
            if event.last_alive is not None:
                self.service.append((event.last_alive, event.at, event.previous, ""))
                self._close_channels(event.last_alive)
        elif isinstance(event, JournalRegained):
            self.service.append((event.lost_at, event.at, "journal_lost", event.reason))
        elif isinstance(event, ChannelDown):
            self.names.add(event.channel)
            self.down.setdefault(event.channel, (event.since, event.reason))
        elif isinstance(event, ChannelUp):
            self.names.add(event.channel)
            opened = self.down.pop(event.channel, None)
            if opened is not None:
                self.channel.append((opened[0], event.since, event.channel, opened[1]))

    def _close_channels(self, at: Instant) -> None:
        for name, (since, reason) in self.down.items():
            self.channel.append((since, max(since, at), name, reason))
        self.down.clear()


def month_availability(
    log: OutageLog, policies: Policies, month_start: Instant, end: Instant, last_at: Instant
) -> Availability | None:
    """The availability of the month ``[month_start, end)``, judged by ``policies``' calendar,
    from the outages read up to ``last_at`` (the journal's last instant); ``None`` when the
    journal records none."""
    if log.began is None:
        return None
    calendar = BusinessCalendar(policies.calendar)
    zone = calendar.zone
    start = max(month_start, log.began)
    until = min(end, max(start, last_at))
    open_s = calendar.open_time_between(start, until) / SECOND

    def outage(a: Instant, b: Instant, kind: str, name: str | None, reason: str) -> Outage:
        low, high = max(a, start), min(b, until)
        return Outage(
            kind=kind,
            channel=name,
            start=_iso(a, zone),
            end=_iso(b, zone),
            reason=reason,
            seconds=max(0, high - low) / SECOND,
            open_seconds=calendar.open_time_between(low, high) / SECOND,
        )

    service = sorted(p for p in log.service if p[0] < until and p[1] > start)
    outages = [outage(a, b, kind, None, reason) for a, b, kind, reason in service]
    down_open_s = _open_s(calendar, [(a, b) for a, b, _, _ in service], start, until)
    still_down = [(since, last_at, name, reason) for name, (since, reason) in log.down.items()]
    channel_periods = sorted(
        p for p in [*log.channel, *still_down] if p[0] < until and p[1] > start
    )
    channel_outages = [outage(a, b, "channel", name, why) for a, b, name, why in channel_periods]
    channels = []
    for name in sorted(log.names):
        periods = [(a, b) for a, b, _, _ in service]
        periods += [(a, b) for a, b, each, _ in channel_periods if each == name]
        down = _open_s(calendar, periods, start, until)
        channels.append(
            ChannelAvailability(channel=name, down_open_s=down, availability=_share(down, open_s))
        )
    return Availability(
        open_s=open_s,
        down_open_s=down_open_s,
        availability=_share(down_open_s, open_s),
        outages=outages,
        channels=channels,
        channel_outages=channel_outages,
    )


def _open_s(
    calendar: BusinessCalendar, periods: list[tuple[Instant, Instant]], start: Instant, end: Instant
) -> float:
    """Opening seconds within ``[start, end)`` covered by the union of ``periods``."""
    total = 0
    reached = start
    for a, b in sorted(periods):
        a, b = max(a, reached), min(b, end)
        if b > a:
            total += calendar.open_time_between(a, b)
            reached = b
    return total / SECOND


def _share(down_s: float, open_s: float) -> float | None:
    return None if open_s <= 0 else 1.0 - down_s / open_s


def _iso(at: Instant, zone: tzinfo) -> str:
    return to_datetime(at).astimezone(zone).isoformat()
