"""What the daemon journals about its own availability and its channels', for the reports.

The runtime asks ``ServiceLog`` what to journal, and journals it with its batches:

- at each start, ``service.started``: whether the journal's last record was a clean stop
  (``service.stopped``) or not (a crash: a start after a crash cannot be preceded by a stop),
  and the last instant the journal knew the service alive, the latest of its last record's and
  its latest snapshot's. The service counts as down from that instant to the start;
- after ``alive_mark_s`` without any record, a liveness mark (``service.alive``), so that a
  crash in a quiet night is not dated from the last call of the evening: the outage a start
  after a crash records is at most that much longer than the real one. Marks are written only
  when nothing else was, so a busy day costs none;
- at a clean stop, ``service.stopped``;
- after the journal was lost (it could not write, a fault of ours made the engine rebuild, or
  a leader could not renew its lease and stepped down), once it writes again,
  ``journal.regained`` with the instant it was lost and why: nothing can be journaled while it
  is lost, so the outage is one record written after it. If another daemon wrote meanwhile (it
  took over), this one starts anew instead: ``service.started``, the other's records telling
  the rest;
- a channel adapter's transitions, as the supervisor sees them (its peer's health, as the
  channel reports it, or the adapter failing): ``channel.down`` as soon as it stops working,
  ``channel.up`` once it has worked ``channel_up_after_s`` without a fault, dated from when it
  came back. A flapping channel writes one of each, its flapping counted down; a transition
  that could not be journaled yet (the journal lost) waits and is journaled with the next batch.
"""

from __future__ import annotations

import msgspec

from aiguillage.engine.events import (
    ChannelDown,
    ChannelUp,
    Event,
    JournalRegained,
    ServiceAlive,
    ServiceStarted,
    ServiceStopped,
)
from aiguillage.engine.instants import SECOND, Instant

__all__ = ["ServiceLog"]

_REASON_LENGTH = 200
"""A reason journaled is cut to this many characters (an exception's message can be long)."""


class _Channel:
    __slots__ = ("down", "reason", "working_since")

    def __init__(self) -> None:
        self.down = False
        """Whether the journal says it is down (a ``channel.down`` not yet followed by up)."""
        self.working_since: Instant | None = None
        """Since when it works again without a fault, while it is journaled down."""
        self.reason = ""


class ServiceLog:
    """Decides the records about the service's availability; the runtime journals them."""

    def __init__(self, alive_mark_s: float, channel_up_after_s: float) -> None:
        self.alive_mark = round(alive_mark_s * SECOND)
        self.channel_up_after = round(channel_up_after_s * SECOND)
        self.started = False
        """Whether this process has journaled its start."""
        self.last_written: Instant | None = None
        """The instant of the last record known durable (``None``: none yet in this life)."""
        self.last_seq = 0
        """The seq of the last record this daemon wrote."""
        self.lost_at: Instant | None = None
        self.lost_reason = ""
        self._channels: dict[str, _Channel] = {}
        self._notes: list[Event] = []
        """Channel transitions waiting for the next batch."""

    # -- the service ------------------------------------------------------------------------------

    def recovered(
        self,
        now: Instant,
        last_alive: Instant,
        last: Event | None,
        last_seq: int,
        channels: tuple[str, ...],
    ) -> Event | None:
        """The record of a recovery at ``now``: the start of this process (``last``: the
        journal's last record, ``None`` when it is empty, ``last_seq`` its seq; ``last_alive``:
        the latest instant the journal and its snapshot knew; ``channels``: the adapters
        enabled), or the regain of a journal lost meanwhile."""
        if self.started and self.lost_at is not None and last_seq != self.last_seq:
            self.started = False  # another daemon wrote meanwhile: this one starts anew
        if not self.started:
            self.started = True
            self.lost_at = None
            # A start closes every channel's outage in the reports: those still down here are
            # journaled down again from now, after the start.
            self._notes = [note for note in self._notes if not isinstance(note, ChannelDown)]
            for name, channel in self._channels.items():
                if channel.down:
                    self._notes.append(
                        ChannelDown(at=now, channel=name, since=now, reason=channel.reason)
                    )
            if last is None:
                return ServiceStarted(at=now, previous="first", channels=channels)
            previous = "stopped" if isinstance(last, ServiceStopped) else "crashed"
            return ServiceStarted(
                at=now, previous=previous, last_alive=last_alive, channels=channels
            )
        if self.lost_at is None:
            return None
        regained = JournalRegained(at=now, lost_at=self.lost_at, reason=self.lost_reason)
        self.lost_at, self.lost_reason = None, ""
        return regained

    def lost(self, now: Instant, reason: str) -> None:
        """The journal (or the engine) was lost at ``now``; the first loss of an outage counts."""
        if self.lost_at is None:
            self.lost_at = now
            self.lost_reason = reason[:_REASON_LENGTH]

    def stopped(self, now: Instant) -> ServiceStopped:
        return ServiceStopped(at=now, reason="signal")

    def written(self, at: Instant, seq: int) -> None:
        """Records up to ``seq``, written at ``at``, are durable."""
        self.last_written = at if self.last_written is None else max(self.last_written, at)
        self.last_seq = seq

    # -- channels ---------------------------------------------------------------------------------

    def channel(self, name: str, working: bool, reason: str, now: Instant) -> bool:
        """Note how a channel is doing at ``now``; whether a record waits for the journal."""
        channel = self._channels.setdefault(name, _Channel())
        if not working:
            channel.working_since = None
            if not channel.down:
                channel.down, channel.reason = True, reason[:_REASON_LENGTH]
                self._notes.append(
                    ChannelDown(at=now, channel=name, since=now, reason=channel.reason)
                )
                return True
            return False
        if channel.down and channel.working_since is None:
            channel.working_since = now
        return False

    # -- what the next batch journals -------------------------------------------------------------

    def take(self, now: Instant, *, quiet: bool) -> list[Event]:
        """The records due at ``now``, dated ``now`` (the journal's instants never go back):
        channel transitions, then a liveness mark when nothing was written for long enough and
        the batch writes nothing else (``quiet``)."""
        notes = [msgspec.structs.replace(note, at=now) for note in self._notes]
        self._notes.clear()
        for name, channel in self._channels.items():
            since = channel.working_since
            if channel.down and since is not None and now - since >= self.channel_up_after:
                channel.down, channel.working_since = False, None
                notes.append(ChannelUp(at=now, channel=name, since=since))
        if quiet and not notes and self._mark_due(now):
            notes.append(ServiceAlive(at=now))
        return notes

    def put_back(self, notes: list[Event]) -> None:
        """Records taken for a batch that failed: the transitions wait for the next one."""
        kept = [note for note in notes if isinstance(note, ChannelDown | ChannelUp)]
        for note in kept:
            if isinstance(note, ChannelUp):  # journaled up or not, it is down in the journal
                channel = self._channels[note.channel]
                channel.down, channel.working_since = True, note.since
        self._notes[:0] = [note for note in kept if isinstance(note, ChannelDown)]

    def due_in(self, now: Instant) -> float | None:
        """Seconds until a record falls due (a mark, a channel up), or ``None``."""
        due: list[Instant] = []
        if self._notes:
            due.append(now)
        if self.started and self.last_written is not None:
            due.append(self.last_written + self.alive_mark)
        for channel in self._channels.values():
            if channel.down and channel.working_since is not None:
                due.append(channel.working_since + self.channel_up_after)
        if not due:
            return None
        return max(0.0, (min(due) - now) / SECOND)

    def _mark_due(self, now: Instant) -> bool:
        return (
            self.started
            and self.last_written is not None
            and now - self.last_written >= self.alive_mark
        )
