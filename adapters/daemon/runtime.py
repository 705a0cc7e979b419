"""The daemon's heart: one task owns the engine, and nothing leaves before the journal has it.

Requests put jobs (a command, with its personal data: a submission's customer, subject, text
and external id, a transfer's note, the party work is handed to) in an inbox and wait. The
engine task takes every job waiting at once, as one batch: it fires the timers that are due,
seals each job's personal data (the command carries its digest, and a submission's external id
becomes a keyed digest: see ``personal``), hands each command to the engine, writes the
personal data to its side store, appends the batch's events to the journal in one transaction
(one fsync for the whole batch: group commit), and only then answers the requests, pushes
offers to advisors and feeds the metrics. While a batch is being written, new requests gather
for the next one, so a slow disk makes batches larger instead of making throughput collapse to
one fsync per request.

Personal data is shown only under a digest the journal holds for the interaction, its live
state's or the view the journal kept of it: what a batch stored before its append failed (or
before the daemon died) is never served, and the next recovery removes it. A person's read of it is
written to the access log, durably, before it is returned (``daemon.access``).

A submission a closed channel refuses is journaled too (``interaction.refused``, with the external
id keyed as an arrival's), then refused to its caller as before (``ChannelClosed``). A peer
retrying the same call must not fill the journal: a key already refused in the idempotency
window is refused again without a new record. The keys refused are held in memory, seeded at
start from the records replayed since the snapshot: after a restart, a retry of a call refused
before the snapshot is journaled once more, once per start at most.

Reads (an interaction, the queues) run between batches, on the state the journal already holds,
so nobody is ever shown what could still be lost.

Fail-stop: when the journal or the side store cannot write, every request waiting is answered
``Unavailable`` (the API says 503 with ``Retry-After``), the engine is thrown away, and the task
reopens the journal with back-off and rebuilds the engine from the latest snapshot and the tail
before it serves again. The engine never runs ahead of its log.

The service's availability is journaled with the batches (``availability``): its start (and
what the journal knew of the gap before it), its clean stop, a liveness mark when nothing else
was written for a while, a journal regained after it was lost (with the period), and the
channels' transitions the supervisor reports (``channel_working``).

Leadership: one journal has one writer. SQLite's lock is held for the process's life; a Redis
journal is led under a lease that the engine task renews every third of its length, and every
write is fenced by the leader's epoch. A daemon started with ``standby`` follows the journal
while it waits: a state of its own, built once from the latest snapshot and the tail, then fed
the new records every tenth of a lease. When the lease lapses it takes over: it opens the
journal (which gives it a higher epoch), replays only what it had not yet read, and serves. A
leader that cannot renew its lease, or finds its epoch overtaken (``JournalFenced``), steps
down before the lease lapses, drops its state, and carries on as a standby; it never writes
again under its old epoch. Meanwhile ``/readyz`` and
``/v1`` answer 503 naming the leader.

A fault of ours is contained where it can be. An exception raised while a command is decided,
before any of its events is applied, fails that request alone (``CommandFailed``, logged with
its traceback) and the engine serves on. One raised while events are applied (``ApplyFailed``)
may have left the state half-changed: the engine is dropped and rebuilt, as for the journal, and
the command is set aside (quarantined): the same command again is refused at once, so that a
client retrying it cannot keep the daemon rebuilding.

Exceptions::

    Unavailable          the journal is being rebuilt or cannot write, or this daemon is a
                         standby (``leader`` says where to go): try again later
    Rejected             a value outside what the daemon accepts (``field`` names it), refused
                         before the engine sees it
    CommandFailed        the command met a fault of ours (logged), or is quarantined after one
    JournalLocked        (from the journal) another daemon holds it: fatal at start
                         (a Redis journal's lease is waited for, once, for its length)
    JournalFormatError   (from the journal) written by another version: fatal at start
    JournalCorrupt       (from the journal) its hash chain is broken: fatal; restore a backup
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
import msgspec
import structlog

from aiguillage.adapters.channels.port import (
    CommandFailed,
    Conflict,
    Receipt,
    Rejected,
    Unavailable,
)
from aiguillage.adapters.config.retention import deprecations
from aiguillage.adapters.config.settings import LoadedConfig
from aiguillage.adapters.daemon.access import AccessRecorder
from aiguillage.adapters.daemon.auth import import_configured
from aiguillage.adapters.daemon.availability import ServiceLog
from aiguillage.adapters.daemon.metrics import Metrics
from aiguillage.adapters.stores.access_log import AccessLog
from aiguillage.adapters.stores.actors import DAEMON, Actor, acting
from aiguillage.adapters.stores.journal import (
    GENESIS,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalFenced,
    JournalFormatError,
    JournalLocked,
    JournalUnavailable,
    Record,
    Recovery,
    event_type,
)
from aiguillage.adapters.stores.journal import InteractionView as StoredView
from aiguillage.adapters.stores.personal import PersonalStore, Sealed, opened_by_digest
from aiguillage.adapters.stores.retention import retention_pass
from aiguillage.adapters.stores.sealing import (
    check_key,
    discard_unjournaled,
    seal_free_text,
    seal_submission,
    shown,
)
from aiguillage.adapters.stores.views import (
    InteractionOut,
    KeptView,
    iso,
    kept_view_of,
    personal_digests,
    view_of,
)
from aiguillage.engine.commands import (
    Close,
    Command,
    Decline,
    Move,
    Prioritise,
    SetAdvisorState,
    SetPolicies,
    Submit,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import (
    ApplyFailed,
    ChannelClosed,
    EngineError,
    SnapshotFormatError,
)
from aiguillage.engine.events import (
    Event,
    InteractionArrived,
    InteractionRefused,
    MessageReceived,
    OfferAccepted,
    ServiceAlive,
    SlaBreached,
    SlaWarning,
)
from aiguillage.engine.instants import SECOND, Instant

__all__ = ["Runtime", "wall_clock"]

T = TypeVar("T")
log = structlog.get_logger("aiguillage.runtime")

_BATCH_LIMIT = 1024
"""Jobs per batch at most, so one batch's latency stays bounded under a flood."""
_DAY = 86_400 * SECOND
_SNAPSHOT_SPACING_S = 60.0
"""Snapshots at most once a minute: under a flood, ``snapshot_every`` events come in seconds,
and each snapshot stops the engine task while it is built."""
_ENCODE = msgspec.json.Encoder()
_QUARANTINE_SIZE = 1024
"""Commands set aside after a fault, at most (the oldest leave first)."""


def wall_clock() -> Instant:
    """Return the current instant: microseconds since the Unix epoch."""
    return time.time_ns() // 1000


class _Reopen(Exception):
    """Recovery must open the journal again (passing over a snapshot it could not read)."""


class _StepDown(Exception):
    """The leader could not renew its lease in time: it stops writing before the lease lapses."""


class _Followed:
    """A standby's state: the engine built from the journal up to record ``seq``."""

    __slots__ = ("engine", "hash", "image_seq", "seq")

    def __init__(self, engine: Engine, seq: int, hash: str, image_seq: int) -> None:
        self.engine = engine
        self.seq = seq
        self.hash = hash
        self.image_seq = image_seq
        """The snapshot it started from (the latest it knows of)."""

    @classmethod
    def build(cls, recovery: Recovery, followed: _Followed | None) -> _Followed:
        """Apply a recovery: on ``followed`` when it resumes it, else on a new engine."""
        if followed is not None and recovery.image is None and recovery.image_seq == followed.seq:
            engine, image_seq = followed.engine, followed.image_seq
        else:
            image = recovery.image
            engine = Engine() if image is None else Engine.from_image(image)
            image_seq = recovery.image_seq
        for record in recovery.records:
            engine.apply(record.event)
        return cls(engine, recovery.last_seq, recovery.last_hash, image_seq)


class _Job:
    __slots__ = ("actor", "command", "future", "personal")

    def __init__(
        self,
        command: Command,
        personal: dict[str, Any] | None,
        future: asyncio.Future[Any],
        actor: Actor | None,
    ) -> None:
        self.command = command
        self.personal = personal
        self.future = future
        self.actor = actor
        """Who asked (``actors.acting`` where it was enqueued, else the daemon), journaled with
        its events."""


Listener = Callable[[Sequence[Record]], None]


class Runtime:
    """Owns the engine of one routing domain, its journal and its personal-data store."""

    def __init__(
        self,
        loaded: LoadedConfig,
        journal_factory: Callable[[], Journal],
        personal_factory: Callable[[Journal], PersonalStore],
        *,
        clock: Callable[[], Instant] = wall_clock,
        metrics: Metrics | None = None,
        standby: bool = False,
        access_factory: Callable[[Journal], AccessLog] | None = None,
    ) -> None:
        self.loaded = loaded
        self.settings = loaded.settings
        self.daemon = loaded.settings.daemon
        self._journal_factory = journal_factory
        self._personal_factory = personal_factory
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.zone = _zone_of(loaded)
        for notice in deprecations(loaded.source, loaded.settings.daemon):
            log.warning(notice)
        self._access_factory = access_factory
        self.access = AccessRecorder(clock, self.zone, kept=access_factory is not None)
        """Who read whose personal data (``daemon.access``), with ``access_factory``'s log."""
        self.engine: Engine | None = None
        self.journal: Journal | None = None
        self.personal: PersonalStore | None = None
        self.ready = False
        self.recovered_at: float | None = None
        self.last_error = ""
        self.standby = standby
        """Wait for the journal's lease as long as it takes (else once, for its length)."""
        self.leading = False
        self.leader: str | None = None
        """Where the daemon leading the journal is, when it is not this one (for 503s)."""
        self.followed_seq: int | None = None
        self._follow_error = ""
        """On a standby, the last record of the journal its own state is built to."""
        self._renewed = 0.0
        """When the lease was last taken or renewed (monotonic seconds, before the call)."""
        self._retry_at = 0.0
        """After a failed renewal: not before this."""
        self._drop_listeners: list[Callable[[], None]] = []
        self._inbox: list[_Job] = []
        self._reads: list[tuple[Callable[[Engine], Any], asyncio.Future[Any]]] = []
        self._wake = anyio.Event()
        self._in_flight = False
        self._stopping = False
        self._serving = False
        self._served = anyio.Event()
        """Set when the engine task leaves ``_serve``: a stop snapshots and closes after it."""
        self._last_seq = 0
        self._image_seq = 0
        self._keys: OrderedDict[tuple[str, str], tuple[int, Instant]] = OrderedDict()
        """(source, external_id as journaled) -> (interaction id, when the daemon accepted it)
        for the idempotency window, beyond the engine's live state; in the order they were
        accepted, so the expired ones are at the front."""
        self._refused: OrderedDict[tuple[str, str], Instant] = OrderedDict()
        """(source, external_id as journaled) -> when its refusal was journaled, for the
        idempotency window: the same key refused again is not journaled again. In the order
        they were refused, so the expired ones are at the front."""
        self._external_id_key = b""
        """The deployment's key for external ids, from the personal-data store."""
        self._recent_waits: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=50))
        self._listeners: list[Listener] = []
        self._erasure_listeners: list[Callable[[int], None]] = []
        self._quarantine: OrderedDict[str, None] = OrderedDict()
        """Fingerprints of commands whose events failed to apply (see ``_fingerprint``)."""
        self._fingerprint_key = secrets.token_bytes(32)
        self._unreadable: frozenset[int] = frozenset()
        """Snapshots (by seq) whose image this engine refused: recovery passes them over."""
        self._housekept: Instant | None = None
        """When housekeeping last ran, on the runtime's clock (``None``: not yet)."""
        self._retained: Instant | None = None
        """When the last retention pass completed, on the runtime's clock."""
        self._retaining = False
        """A retention pass is under way in the background."""
        self._imaged_at = -math.inf
        """When the last snapshot was taken (monotonic seconds; the first is never held back, even
        on a machine booted less than a minute ago)."""
        self._saving: asyncio.Task[None] | None = None
        """The snapshot being written in the background, if any."""
        self.service = ServiceLog(self.daemon.alive_mark_s, self.daemon.channel_up_after_s)
        """What the service journals about its own availability and its channels'."""

    # -- what the API calls ---------------------------------------------------------------------

    async def submit(self, command: Submit, personal: dict[str, Any] | None) -> Receipt:
        """Submit an interaction; return it once durable (or the one already known).

        A new one's ``received_at`` must lie within ``[now - backfill_days, now + max_skew_s]``
        on this daemon's clock, else ``Rejected``; a value ahead of the clock within the skew
        is taken as now (a sender's clock a second ahead must not stall an adapter). A retry of
        one already accepted is recognised first, whatever its ``received_at``; one with other
        content (see ``sealing.content_digest``) is a ``Conflict``.
        """
        result: Receipt | _Known = await self._enqueue(command, personal)
        if isinstance(result, Receipt):
            return result
        stored = await self._resubmitted(result)
        return Receipt(msgspec.structs.replace(stored, external_id=command.external_id), False)

    async def _resubmitted(self, known: _Known) -> InteractionOut:
        """Return the journal's view of work known in the idempotency window but gone from the
        live state, once the resubmission's content is checked against it."""
        body = await self.stored_body(known.interaction_id)
        if body is None:  # pragma: no cover - the journal wrote it with the arrival
            raise Unavailable("the interaction's record is not readable now")
        kept = msgspec.json.decode(body, type=KeptView)
        if kept.external_id == known.external_id:  # not a message that joined it later
            _same_content(known.source, kept.content_digest, known.content_digest)
        return msgspec.json.decode(body, type=InteractionOut)

    def _admitted(self, command: Submit, now: Instant) -> Submit:
        """Return the command with ``received_at`` checked against the accepted window."""
        received = command.received_at
        if received is None:
            return command
        skew = self.daemon.max_skew_s
        backfill = self.daemon.backfill_days
        if received > now + skew * SECOND:
            raise Rejected(
                "received_at",
                f"is {(received - now) / SECOND:.0f} s ahead of this daemon's clock "
                f"({iso(now, self.zone)}); at most {skew} s is accepted ([daemon] max_skew_s)",
            )
        if received < now - backfill * _DAY:
            raise Rejected(
                "received_at",
                f"is more than {backfill} days before now ({iso(now, self.zone)}); older work is "
                "not accepted ([daemon] backfill_days)",
            )
        if received > now:
            return msgspec.structs.replace(command, received_at=None)  # the batch's instant
        return command

    async def interaction(
        self, interaction_id: int, *, reveal: bool = True
    ) -> InteractionOut | None:
        """Return the API's view of an interaction (live, else the journal's), or ``None``.

        Its external id is the one given, while the personal-data store holds it and the
        reader may see personal data (``reveal``); else the keyed digest the journal holds.
        """
        zone = self.zone

        def live(engine: Engine) -> tuple[InteractionOut, tuple[str, ...]] | None:
            found = engine.state.interactions.get(interaction_id)
            return None if found is None else (view_of(found, zone), personal_digests(found))

        found = await self.read(live)
        if found is None:
            kept = await self._kept_view(interaction_id)
            if kept is None:
                return None
            view = msgspec.convert(msgspec.structs.asdict(kept), InteractionOut)
            found = (view, kept.personal_digests or ())
        view, digests = found
        return await self.revealed(view, digests) if reveal else view

    async def revealed(self, view: InteractionOut, digests: Sequence[str]) -> InteractionOut:
        """Return a view with the external id as given, while the personal-data store holds
        it under one of the ``digests`` the journal holds; else the view as it is."""
        for piece in await self._opened(view.id, digests):
            if "external_id" in piece:
                return msgspec.structs.replace(view, external_id=piece["external_id"])
        return view

    async def execute(
        self, command: Command, personal: dict[str, Any] | None = None
    ) -> list[Event]:
        """Handle one command; return its events once durable, or raise the engine's error.

        ``personal``: the free text of a transfer (``{"note": …}``) or of a hand-over
        (``{"party": …}``), sealed in the personal-data store; the event carries its digest.
        """
        result: list[Event] | _Known = await self._enqueue(command, personal)
        if isinstance(result, _Known):
            await self._resubmitted(result)
            return []
        return result

    async def read(self, reader: Callable[[Engine], T]) -> T:
        """Run ``reader`` on the engine between batches, when all it shows is durable."""
        if not self.ready or self.engine is None:
            raise self.unavailable()
        if not self._in_flight:
            return reader(self.engine)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._reads.append((reader, future))
        return await future

    async def stored_view(self, interaction_id: int) -> InteractionOut | None:
        """Return the view the journal holds of an interaction (live or not), or ``None``."""
        body = await self.stored_body(interaction_id)
        return None if body is None else msgspec.json.decode(body, type=InteractionOut)

    async def stored_body(self, interaction_id: int) -> bytes | None:
        journal = self._journal_or_unavailable()
        try:
            return await journal.view(interaction_id)
        except JournalUnavailable as exc:
            raise Unavailable(f"the journal cannot be read: {exc}") from exc

    async def records_after(self, seq: int, limit: int) -> list[Record]:
        journal = self._journal_or_unavailable()
        try:
            return await journal.records_after(seq, limit)
        except JournalUnavailable as exc:
            raise Unavailable(f"the journal cannot be read: {exc}") from exc

    async def erase(self, interaction_id: int, reason: str = "") -> bool:
        """Erase an interaction's personal data; ``False`` when there was none. The request
        is recorded in the access log (who, and ``reason``) first: nothing is erased that the
        log does not show (a log that cannot be written answers 503, and the data stays)."""
        personal = self.personal
        if personal is None or not self.ready:
            raise self.unavailable()
        await self.access.erasure(interaction_id, reason)
        try:
            erased = await personal.erase(interaction_id)
        except JournalUnavailable as exc:
            raise Unavailable(f"the personal-data store cannot be written: {exc}") from exc
        log.info("personal data erased", interaction_id=interaction_id, found=erased)
        for listener in list(self._erasure_listeners):
            try:  # what a channel keeps elsewhere (a call's recording) goes too
                listener(interaction_id)
            except Exception:  # a listener's bug must not fail the erasure done
                log.exception("an erasure listener failed", interaction_id=interaction_id)
        return erased

    async def personal_data(self, interaction_id: int) -> dict[str, Any] | None:
        """Return an interaction's personal data, or ``None`` (never given, or erased).

        The submission's (``external_id``, ``customer``, ``subject``, ``text``), then
        ``notes`` and ``parties`` in the order they were added; only what the journal holds
        the digest of, for this interaction.
        """
        pieces = await self._opened(interaction_id, await self._journaled(interaction_id))
        return shown(pieces) if pieces else None

    async def _journaled(self, interaction_id: int) -> tuple[str, ...]:
        """The digests of an interaction's personal data the journal holds."""

        def live(engine: Engine) -> tuple[str, ...] | None:
            found = engine.state.interactions.get(interaction_id)
            return None if found is None else personal_digests(found)

        digests = await self.read(live)
        if digests is not None:
            return digests
        kept = await self._kept_view(interaction_id)
        return () if kept is None else kept.personal_digests or ()

    async def _kept_view(self, interaction_id: int) -> KeptView | None:
        body = await self.stored_body(interaction_id)
        if body is None:
            return None
        kept = msgspec.json.decode(body, type=KeptView)
        if kept.personal_digests is None:
            log.warning(
                "the journal's view of this interaction was written before views kept the "
                "digests of personal data: its personal data is not served",
                interaction_id=interaction_id,
            )
        return kept

    async def _opened(self, interaction_id: int, journaled: Sequence[str]) -> list[dict[str, Any]]:
        """The pieces of an interaction's personal data whose digest the journal holds."""
        return list((await self._opened_by_digest(interaction_id, journaled)).values())

    async def pieces(self, interaction_id: int) -> dict[str, dict[str, Any]]:
        """Return an interaction's personal data by digest (a submission, a message's text, a
        note), only what the journal holds the digest of for this interaction."""
        return await self._opened_by_digest(interaction_id, await self._journaled(interaction_id))

    async def erased(self, interaction_id: int) -> bool:
        """Return whether an interaction's personal data was erased: the journal holds digests
        of it, and the personal-data store nothing (erased through the API, by ``aiguillage
        erase`` or by another daemon). ``False`` for an interaction the journal does not know."""
        journaled = await self._journaled(interaction_id)
        opened = await self._opened_by_digest(interaction_id, journaled, recorded=False)
        return bool(journaled) and not opened

    async def _opened_by_digest(
        self, interaction_id: int, journaled: Sequence[str], *, recorded: bool = True
    ) -> dict[str, dict[str, Any]]:
        """Every read of personal data comes here: a person's is recorded (``recorded``) in
        the access log before anything is returned."""
        personal = self.personal
        if personal is None or not self.ready:
            raise self.unavailable()
        try:
            pieces = await personal.get(interaction_id)
        except JournalUnavailable as exc:
            raise Unavailable(f"the personal-data store cannot be read: {exc}") from exc
        shown = opened_by_digest(pieces, journaled)
        if len(shown) < len(pieces):
            log.warning(
                "personal data stored under this interaction's id that the journal does not "
                "hold for it: not served",
                interaction_id=interaction_id,
                pieces=len(pieces) - len(shown),
            )
        if shown and recorded:
            await self.access.read(interaction_id)
        return shown

    @property
    def last_seq(self) -> int:
        """The last record the journal holds (that this daemon wrote or replayed)."""
        return self._last_seq

    def recent_waits(self, channel: str) -> Sequence[float]:
        """The waits, in seconds, of the last interactions of a channel an advisor accepted."""
        return self._recent_waits[channel]

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with each batch of durable records, after the journal has them."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_erasure_listener(self, listener: Callable[[int], None]) -> None:
        """Call ``listener`` with the id of each interaction whose personal data is erased."""
        self._erasure_listeners.append(listener)

    def remove_erasure_listener(self, listener: Callable[[int], None]) -> None:
        if listener in self._erasure_listeners:
            self._erasure_listeners.remove(listener)

    def add_drop_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when the engine is dropped (a failure, a step-down, a stop)."""
        self._drop_listeners.append(listener)

    def remove_drop_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._drop_listeners:
            self._drop_listeners.remove(listener)

    def channel_working(self, name: str, working: bool, reason: str = "") -> None:
        """Say whether a channel adapter works now (the supervisor does, at each change seen);
        its transitions are journaled (``channel.down`` at once, ``channel.up`` once steady)."""
        if self.service.channel(name, working, reason, self.clock()) or working:
            self._wake.set()  # the engine task journals it, or looks again when it is due

    # -- the engine task ------------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Recover, then serve batches until cancelled; rebuild whenever the journal fails."""
        task_status.started()
        backoff = 0.1
        while True:
            try:
                await self._recover()
                backoff = 0.1
                await self._serve()
                return
            except (JournalLocked, JournalFormatError, JournalCorrupt):
                await self._drop("fatal journal error")
                raise
            except _Reopen:
                await self._drop("reopening the journal, passing over an unreadable snapshot")
            except (JournalFenced, _StepDown) as exc:
                log.warning(
                    "stepping down: this daemon no longer leads its journal", error=str(exc)
                )
                self.service.lost(self.clock(), f"stepped down ({exc})")
                await self._drop(f"stepped down ({exc})")
                self.standby = True
            except Exception as exc:
                if self._stopping:
                    # A stop closed the stores under a recovery or a batch: nothing is wrong.
                    log.info("stopped while recovering", detail=str(exc))
                    return
                if isinstance(exc, JournalUnavailable):
                    self.last_error = str(exc)
                    self.service.lost(self.clock(), str(exc))
                    log.error("journal unavailable; rebuilding from it", error=str(exc))
                    await self._drop(str(exc))
                else:
                    self.service.lost(self.clock(), "an internal error (logged)")
                    # A fault of ours may have left the engine half-changed: fail-stop, as for
                    # the journal, and rebuild from what the journal holds.
                    log.exception("engine task failed; rebuilding from the journal")
                    # Said in 503s and /readyz: the exception is in the log, not there.
                    await self._drop("an internal error (logged)")
                await anyio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def stop(self) -> None:
        """Answer what is in the inbox, snapshot, and close the journal (a clean shutdown).

        The engine task answers what is waiting and leaves its loop first; only then is the
        engine snapshotted and dropped, so the task never finds it gone under its feet.
        """
        self._stopping = True
        self._wake.set()
        if self._serving:
            with anyio.move_on_after(10):
                await self._served.wait()
        if self.ready and self.engine is not None and self.journal is not None:
            stopped = self.service.stopped(max(self.clock(), self.engine.now))
            try:
                self.engine.apply(stopped)
                await self._commit([stopped], [], [DAEMON])
            except JournalError as exc:
                log.error("the stop could not be journaled", error=str(exc))
            await self._snapshot(force=True)
        await self._drop("stopped")

    async def _recover(self) -> None:
        journal, recovery, followed = await self._lead()
        started = time.perf_counter()
        personal = self._personal_factory(journal)
        self.journal, self.personal = journal, personal
        await personal.open()
        if self._access_factory is not None:
            self.access.log = self._access_factory(journal)
            await self.access.log.open()
        self._external_id_key = await personal.external_id_key()
        # Off the event loop, which meanwhile answers /livez and /readyz: decoding a snapshot of
        # tens of MB and replaying its tail take seconds.
        try:
            state = await anyio.to_thread.run_sync(_Followed.build, recovery, followed)
        except SnapshotFormatError as exc:
            # An image of a format this engine does not read: rebuild without it, from an older
            # snapshot or the journal's start (the next snapshot is written in today's format).
            self._unreadable |= {recovery.image_seq}
            log.warning(
                "snapshot unreadable by this version; rebuilding without it",
                seq=recovery.image_seq,
                error=str(exc),
            )
            raise _Reopen from exc
        engine = state.engine
        self._last_seq = recovery.last_seq
        self._image_seq = state.image_seq
        self.engine = engine
        await discard_unjournaled(personal, engine)
        now = max(self.clock(), engine.now)
        window = now - self.daemon.idempotency_days * _DAY
        self._keys = OrderedDict(
            ((source, external_id), (interaction_id, accepted_at))
            for source, external_id, interaction_id, accepted_at in await journal.recent_keys(
                window
            )
        )
        check_key(self._keys, self._external_id_key)
        self._refused = OrderedDict(
            ((record.event.source, record.event.external_id), record.event.at)
            for record in recovery.records
            if isinstance(record.event, InteractionRefused) and record.event.at >= window
        )
        # Seed an empty journal from the config; journal policies that changed since.
        commands: list[Command] = []
        if recovery.last_seq == 0:
            commands = list(self.loaded.seed_commands())
        elif engine.state.config_digest != self.loaded.digest:
            commands = [
                SetPolicies(policies=self.settings.policies(), config_digest=self.loaded.digest)
            ]
            log.info(
                "configuration changed: journaling its policies",
                config=self.loaded.source,
                digest=self.loaded.digest,
            )
        # What the journal knew last, before anything is written now: the start's gap.
        last_alive = engine.now
        channels = tuple(
            name
            for name, table in self.settings.adapters.items()
            if table.get("enabled", True) is True
        )
        last = await self._last_event(journal, recovery)
        noted = self.service.recovered(now, last_alive, last, recovery.last_seq, channels)
        # Timers that fell due while the daemon was down fire now, each with its due instant.
        events = engine.advance(now)
        for command in commands:
            events.extend(engine.handle(command, now))
        events.extend(import_configured(engine, self.settings.tokens, now))
        if noted is not None:  # after the seed: a journal's first record is its policies
            engine.apply(noted)
            events.append(noted)
        if events:
            await self._commit(events, [], [DAEMON] * len(events))
        self.ready = True
        self.leading, self.leader = True, None
        self.metrics.leader.set(1)
        self.metrics.epoch.set(journal.epoch)
        self.recovered_at = time.monotonic()
        _settle_memory()
        self.last_error = ""
        log.info(
            "journal replayed; serving",
            store=journal.description,
            snapshot_seq=state.image_seq,
            resumed_followed_state=followed is not None and state.engine is followed.engine,
            replayed=len(recovery.records),
            fired_at_start=len(events),
            last_seq=self._last_seq,
            seconds=round(time.perf_counter() - started, 3),
            epoch=journal.epoch,
        )

    async def _last_event(self, journal: Journal, recovery: Recovery) -> Event | None:
        """The journal's last record's event (``None``: the journal is empty); a liveness mark
        stands in for one that cannot be read (archived out of reach): not a clean stop."""
        if recovery.records:
            return recovery.records[-1].event
        if recovery.last_seq == 0:
            return None
        try:
            last = await journal.records_after(recovery.last_seq - 1, 1)
        except JournalError as exc:
            log.warning("the journal's last record cannot be read", error=str(exc))
            last = []
        return last[0].event if last else ServiceAlive(at=0)

    async def _lead(self) -> tuple[Journal, Recovery, _Followed | None]:
        """Open the journal as its writer; on a leased journal held by another, wait for it.

        A standby waits as long as it takes, following the journal meanwhile; it returns the
        state it followed with the recovery, which resumes it when the store allows. Any other
        daemon waits once, for one lease: the holder may be this daemon's previous life
        (killed, its lease not yet lapsed); if the lease is still held after that, another
        daemon is alive and leading, which is fatal.
        """
        waited_since = time.monotonic()
        announced = None
        follower: Journal | None = None
        followed: _Followed | None = None
        try:
            while True:
                if self._stopping:
                    await anyio.sleep_forever()  # stopping: take no lease, wait to be cancelled
                journal = self._journal_factory()
                self.journal = journal
                opening = time.monotonic()
                try:
                    if followed is None:
                        recovery = await journal.open(unreadable=self._unreadable)
                    else:
                        recovery = await journal.open(
                            resume_after=followed.seq,
                            resume_hash=followed.hash,
                            unreadable=self._unreadable,
                        )
                    self._renewed = opening  # the lease runs from before the call that took it
                    return journal, recovery, followed
                except JournalUnavailable as exc:
                    if not self.standby:
                        raise
                    # A standby waits the outage out where it is, keeping the state it followed
                    # (leaving here would throw it away and rebuild it from the snapshot).
                    self.journal = None
                    if self.last_error != str(exc):
                        log.warning("journal unavailable; the standby waits", error=str(exc))
                    self.last_error = str(exc)
                    await anyio.sleep(max(0.05, (journal.lease_s or 1.0) / 10))
                    continue
                except JournalLocked as exc:
                    lease = journal.lease_s
                    leader = await _leader_of(journal)
                    await journal.close()
                    self.journal = None
                    if lease is None:
                        raise
                    if not self.standby and time.monotonic() - waited_since > 1.5 * lease:
                        raise
                    self.leader, self.last_error = leader, ""
                    if announced != leader:
                        announced = leader
                        log.info(
                            "waiting for the journal's lease",
                            leader=leader or "unknown",
                            standby=self.standby,
                            detail=str(exc),
                        )
                if self.standby:
                    follower = follower or self._journal_factory()
                    followed = await self._follow(follower, followed)
                    self.followed_seq = None if followed is None else followed.seq
                await anyio.sleep(max(0.05, (lease or 1.0) / 10))
        finally:
            self.followed_seq = None
            if follower is not None:
                await follower.close()

    async def _follow(self, follower: Journal, followed: _Followed | None) -> _Followed | None:
        """Bring a standby's state up to the journal's end; ``None`` to start again from scratch.

        A store that cannot be read now leaves the state as it is, for the next poll. A chain
        break, an empty domain or an unreadable snapshot drop it: the next poll rebuilds it, and
        if the journal is really damaged, taking over (``open``) says so.
        """
        after, after_hash = (0, GENESIS) if followed is None else (followed.seq, followed.hash)
        try:
            recovery = await follower.follow(after, after_hash, self._unreadable)
            try:
                state = await anyio.to_thread.run_sync(_Followed.build, recovery, followed)
            except SnapshotFormatError:
                self._unreadable |= {recovery.image_seq}  # the next poll passes it over
                raise
        except JournalUnavailable as exc:
            log.debug("cannot follow the journal now", error=str(exc))
            return followed
        except (JournalError, EngineError, msgspec.DecodeError) as exc:
            # Said once per cause, not at every poll (a journal of a newer format stays so).
            if self._follow_error != str(exc):
                log.info("following the journal from scratch", error=str(exc))
            self._follow_error = str(exc)
            return None
        self._follow_error = ""
        return state

    async def _serve(self) -> None:
        self._serving, self._served = True, anyio.Event()
        try:
            await self._serve_batches()
        finally:
            self._serving = False
            self._served.set()

    async def _serve_batches(self) -> None:
        while True:
            if not self._inbox:
                if self._stopping:
                    return
                due = self.engine.next_timer() if self.engine is not None else None
                now = self.clock()
                delay = None if due is None else max(0.0, (due - now) / SECOND)
                noted_in = self.service.due_in(now)
                if noted_in is not None:
                    delay = noted_in if delay is None else min(delay, noted_in)
                renew_in = self._renew_in()
                if renew_in is not None:
                    delay = renew_in if delay is None else min(delay, renew_in)
                with anyio.move_on_after(delay):
                    await self._wake.wait()
                self._wake = anyio.Event()
                if self._stopping and not self._inbox:
                    return
            if self._renew_in() == 0.0:
                await self._renew()
            # One turn of the event loop first: requests whose bytes have already arrived are
            # parsed and join this batch, so a batch (and its fsync) serves more of them.
            await asyncio.sleep(0)
            jobs = self._inbox[:_BATCH_LIMIT]
            del self._inbox[:_BATCH_LIMIT]
            await self._batch(jobs)
            await self._snapshot()
            self._housekeep()

    def _renew_in(self) -> float | None:
        """Seconds until the lease is due for renewal (a third of it), or None: no lease."""
        journal = self.journal
        lease = None if journal is None else journal.lease_s
        if lease is None:
            return None
        due = max(self._renewed + lease / 3, self._retry_at)
        return max(0.0, due - time.monotonic())

    async def _renew(self) -> None:
        journal = self.journal
        assert journal is not None
        lease = journal.lease_s
        assert lease is not None
        started = time.monotonic()
        try:
            await journal.renew()
        except JournalUnavailable as exc:
            # Two thirds of the lease gone without a renewal: step down while it still holds,
            # so that nobody takes over while this daemon could still believe it leads.
            if time.monotonic() - self._renewed >= 2 * lease / 3:
                raise _StepDown(f"the lease could not be renewed: {exc}") from exc
            log.warning("lease renewal failed; retrying", error=str(exc))
            self._retry_at = started + min(1.0, lease / 10)  # soon, without spinning
            return
        self._renewed = started

    async def _batch(self, jobs: list[_Job]) -> None:
        engine = self.engine
        assert engine is not None
        self._in_flight = True
        notes: list[Event] = []
        try:
            now = max(self.clock(), engine.now)
            events = engine.advance(now)
            notes = self.service.take(now, quiet=not events and not jobs)
            for note in notes:
                engine.apply(note)
            events.extend(notes)
            by: list[Actor | None] = [DAEMON] * len(events)
            answers: list[Any] = []
            pieces: list[Sealed] = []
            for job in jobs:
                try:
                    answers.append(self._handle(engine, job, now, events, pieces))
                except (EngineError, Rejected, Conflict) as exc:
                    answers.append(exc)
                except ApplyFailed:
                    self._set_aside(job)
                    raise
                except Exception:
                    # Raised while the command was decided: nothing of it was applied, the
                    # engine is whole; this request alone fails.
                    log.exception("a command failed; the engine is unchanged", command=_kind(job))
                    answers.append(CommandFailed("an internal error; it is logged"))
                by.extend([job.actor] * (len(events) - len(by)))
            await self._commit(events, pieces, by)
        except Exception as exc:
            self.service.put_back(notes)
            if isinstance(exc, JournalUnavailable):
                error = Unavailable(f"the journal cannot write: {exc}")
            elif isinstance(exc, JournalFenced):
                error = Unavailable(
                    "this daemon no longer leads the journal (another took over); nothing was "
                    "written: retry, through the load balancer"
                )
            else:
                error = Unavailable("an internal error; the engine is rebuilt from its journal")
            for job in jobs:
                _settle(job.future, error)
            raise
        finally:
            self._in_flight = False
        for job, answer in zip(jobs, answers, strict=True):
            if isinstance(answer, Exception):
                _settle(job.future, answer)
            elif not job.future.done():
                job.future.set_result(answer)
        reads, self._reads = self._reads, []
        for reader, future in reads:
            try:
                future.set_result(reader(engine))
            except Exception as exc:  # a reader's bug must not take the engine task down
                _settle(future, exc)

    def _handle(
        self,
        engine: Engine,
        job: _Job,
        now: Instant,
        events: list[Event],
        pieces: list[Sealed],
    ) -> Any:
        command = job.command
        if not isinstance(command, Submit):
            if isinstance(command, _REASONED) and command.reason:
                self._check_reason(command)
            command, piece = seal_free_text(command, job.personal, now, engine)
            handled = engine.handle(command, now)
            events.extend(handled)
            if piece is not None:
                pieces.append(piece)
            return handled
        given = command.external_id

        def known(key: tuple[str, str]) -> bool:
            return key in engine.state.by_external or key in self._keys

        command, piece = seal_submission(command, job.personal, self._external_id_key, known, now)
        key = (command.source, command.external_id)
        known_id = self._keys.get(key)
        if known_id is not None and known_id[0] not in engine.state.interactions:
            # Gone from the live state: the journal's view is read after the batch.
            return _Known(known_id[0], command.source, command.content_digest, command.external_id)
        live = engine.state.by_external.get(key)
        if live is None:
            command = self._admitted(command, now)  # new work: its received_at is checked
        else:
            held = engine.state.interactions[live]
            if held.external_id == command.external_id:  # not a message that joined it later
                _same_content(command.source, held.content_digest, command.content_digest)
        try:
            submission = engine.submit(command, now)
        except ChannelClosed as closed:
            self._journal_refusal(closed.event, events)
            raise
        events.extend(submission.events)
        if submission.events:  # new work, or a message that joined its thread's open one
            pieces.append(piece._replace(interaction_id=submission.interaction.id))
        view = view_of(submission.interaction, self.zone)
        return Receipt(msgspec.structs.replace(view, external_id=given), submission.created)

    def _journal_refusal(self, refused: InteractionRefused, events: list[Event]) -> None:
        """Journal a refused submission with the batch, unless its key was already refused in
        the idempotency window (a peer retrying it). The key is taken at once, so a retry in
        the same batch is not journaled twice; a batch that fails to commit drops the engine,
        and recovery seeds the keys again from what the journal holds."""
        key = (refused.source, refused.external_id)
        if key in self._refused:
            return
        self._refused[key] = refused.at
        events.append(refused)

    def _check_reason(self, command: SetAdvisorState | Decline | Close | Prioritise | Move) -> None:
        """Refuse a reason that is not one of the configured codes (``Rejected``): free text
        would reach the journal, which keeps it for good."""
        kind, what = _REASON_KINDS[type(command)]
        codes: tuple[str, ...] = getattr(self.settings.reasons, kind)
        if command.reason not in codes:
            raise Rejected(
                "reason",
                f"a {what} reason is one of the codes configured in [reasons] {kind}: "
                f"{', '.join(codes)}; free text is never journaled",
            )

    def _set_aside(self, job: _Job) -> None:
        """Quarantine a command whose events failed to apply, and answer it (500)."""
        fingerprint = self._fingerprint(job.command, job.personal)
        self._quarantine[fingerprint] = None
        while len(self._quarantine) > _QUARANTINE_SIZE:
            self._quarantine.popitem(last=False)
        log.error(
            "a command failed while its events were applied; it is set aside, and the engine "
            "is rebuilt from the journal",
            command=_kind(job),
            fingerprint=fingerprint,
            exc_info=True,
        )
        _settle(
            job.future,
            CommandFailed(
                "this request met an internal error (logged) and is set aside: the same "
                "request again is refused"
            ),
        )

    async def _commit(
        self, events: list[Event], pieces: list[Sealed], by: list[Actor | None]
    ) -> None:
        if not events:
            return
        journal, personal, engine = self.journal, self.personal, self.engine
        assert journal is not None
        assert personal is not None
        assert engine is not None
        started = time.perf_counter()
        if pieces:
            await personal.put_many(pieces)
        views = self._views(engine, events)
        first = self._last_seq + 1
        self._last_seq = await journal.append(events, views, by)
        self.service.written(events[-1].at, self._last_seq)
        self.metrics.observe_commit(time.perf_counter() - started, len(events))
        epoch = journal.epoch
        records = [
            Record(seq=first + offset, event=event, hash="", epoch=epoch, by=actor)
            for offset, (event, actor) in enumerate(zip(events, by, strict=True))
        ]
        self._after_commit(engine, records)

    def _views(self, engine: Engine, events: list[Event]) -> list[StoredView]:
        touched: dict[int, None] = {}
        for event in events:
            interaction_id = getattr(event, "interaction_id", None)
            if interaction_id is not None:
                touched[interaction_id] = None
        views = []
        interactions = engine.state.interactions
        for interaction_id in touched:
            interaction = interactions.get(interaction_id)
            if interaction is None:
                continue  # it left the live state; its last view stays in the journal
            views.append(
                StoredView(
                    id=interaction.id,
                    source=interaction.source,
                    external_id=interaction.external_id,
                    # Images older than the field hold 0: their arrival is at latest this.
                    accepted_at=interaction.accepted_at or interaction.received_at,
                    body=_ENCODE.encode(
                        kept_view_of(interaction, self.zone, engine.state.messages)
                    ),
                )
            )
        return views

    def _after_commit(self, engine: Engine, records: list[Record]) -> None:
        interactions = engine.state.interactions

        def channel_of(interaction_id: int) -> str | None:
            interaction = interactions.get(interaction_id)
            return None if interaction is None else interaction.channel

        events = [record.event for record in records]
        self.metrics.observe(events, channel_of)
        logger = logging.getLogger("aiguillage.runtime")
        debug = logger.isEnabledFor(logging.DEBUG)
        info = logger.isEnabledFor(logging.INFO)
        for record, event in zip(records, events, strict=True):
            if debug:
                log.debug(
                    event_type(event),
                    seq=record.seq,
                    interaction_id=getattr(event, "interaction_id", None),
                    advisor_id=getattr(event, "advisor_id", None),
                )
            if isinstance(event, MessageReceived):
                # A message that joined its thread: a redelivery is known by its key too.
                key = (event.source, event.external_id)
                self._keys.setdefault(key, (event.interaction_id, event.at))
            elif isinstance(event, InteractionArrived):
                key = (event.source, event.external_id)
                self._keys[key] = (event.interaction_id, event.at)
                if info:
                    log.info(
                        "interaction arrived",
                        interaction_id=event.interaction_id,
                        channel=event.channel,
                        source=event.source,
                        seq=record.seq,
                    )
            elif isinstance(event, InteractionRefused):
                if info:
                    log.info(
                        "interaction refused",
                        channel=event.channel,
                        source=event.source,
                        reason=event.reason,
                        seq=record.seq,
                    )
            elif isinstance(event, OfferAccepted):
                interaction = interactions.get(event.interaction_id)
                if interaction is not None:
                    wait = (event.at - interaction.received_at) / SECOND
                    self._recent_waits[interaction.channel].append(wait)
            elif isinstance(event, SlaBreached | SlaWarning):
                log.warning(
                    event_type(event),
                    interaction_id=event.interaction_id,
                    due=iso(event.due, self.zone),
                    seq=record.seq,
                )
        for listener in self._listeners:
            try:
                listener(records)
            except Exception:  # a listener's bug must not take the engine task down
                log.exception("event listener failed")

    async def _snapshot(self, *, force: bool = False) -> None:
        engine, journal = self.engine, self.journal
        assert engine is not None
        assert journal is not None
        if self._last_seq == self._image_seq:
            return
        if not force and (
            self._last_seq - self._image_seq < self.daemon.snapshot_every
            or time.monotonic() - self._imaged_at < _SNAPSHOT_SPACING_S
        ):
            return
        saving = self._saving
        if saving is not None and not saving.done():
            if not force:
                return  # the previous one is still being written
            await asyncio.wait([saving])
        seq = self._last_seq
        self._image_seq = seq
        self._imaged_at = time.monotonic()
        image = engine.image()
        _settle_memory()
        if force:
            await self._save(journal, seq, image)
            return
        # Written while batches go on: a snapshot of tens of MB takes a store hundreds of ms,
        # and the image, built above between batches, no longer depends on the engine.
        self._saving = asyncio.get_running_loop().create_task(self._save(journal, seq, image))

    async def _save(self, journal: Journal, seq: int, image: bytes) -> None:
        """Write a snapshot; a failure is logged: restarts then replay a longer tail."""
        try:
            await journal.save_snapshot(seq, image)
        except JournalError as exc:
            log.warning("snapshot not saved", seq=seq, error=str(exc))
            return
        self._unreadable -= {seq}  # an image this version wrote, readable whatever was there
        log.info("snapshot saved", seq=seq, bytes=len(image))

    def _housekeep(self) -> None:
        """Once an hour: forget idempotency keys past their window; once a day, apply
        ``[retention]`` (``_retain``).

        The hour is read on the runtime's clock, the one deadlines are on, and the first batch
        after a start runs it.
        """
        now = self.clock()
        if self._housekept is not None and now - self._housekept < 3600 * SECOND:
            return
        self._housekept = now
        horizon = now - self.daemon.idempotency_days * _DAY
        keys = self._keys
        while keys:
            _, (_, at) = next(iter(keys.items()))
            if at >= horizon:
                break
            keys.popitem(last=False)
        refused = self._refused
        while refused and next(iter(refused.values())) < horizon:
            refused.popitem(last=False)
        if (self._retained is None or now - self._retained >= _DAY) and not self._retaining:
            self._retaining = True
            self._background(self._retain(now), "retention")

    async def _retain(self, now: Instant) -> None:
        """Apply ``[retention]`` to the personal-data store and the access log (once a day,
        counted from the last pass that completed: a failed one is tried again at the next
        housekeeping), logging and counting what each category removed; the pieces of work not
        closed yet are kept (``stores.retention``)."""
        try:
            open_work = await self.read(
                lambda engine: frozenset(
                    number
                    for number, interaction in engine.state.interactions.items()
                    if interaction.status != "closed"
                )
            )
            removals = await retention_pass(
                self.settings.retention_days(),
                now,
                self.personal,
                self.access.log,
                open_work=open_work,
            )
            self._retained = now
        finally:
            self._retaining = False
        for removal in removals:
            self.metrics.retention_removed.labels(category=removal.category).inc(removal.removed)
        log.info(
            "retention applied",
            **{r.category: r.removed for r in removals},
            before={r.category: iso(r.before, self.zone) for r in removals},
        )

    def _background(self, work: Any, what: str) -> None:
        async def guarded() -> None:
            try:
                purged = await work
                if purged:
                    log.info(f"{what}: purged", records=purged)
            except JournalError as exc:
                log.warning(f"{what} failed", error=str(exc))

        asyncio.get_running_loop().create_task(guarded())

    async def _drop(self, reason: str) -> None:
        self.ready = self.leading = False
        # What the access log had recorded may not be in the log this daemon opens next (a
        # failover that lost its last entries): record each read once more after a rebuild.
        self.access.forget()
        self.metrics.leader.set(0)
        gc.unfreeze()  # the engine thrown away has cycles (its appliers): let them be collected
        self.engine = None
        self.last_error = reason
        error = Unavailable(f"the engine is being rebuilt from its journal ({reason})")
        inbox, self._inbox = self._inbox, []
        for job in inbox:
            _settle(job.future, error)
        reads, self._reads = self._reads, []
        for _, future in reads:
            _settle(future, error)
        saving, self._saving = self._saving, None
        if saving is not None and not saving.done():
            saving.cancel()  # it writes to a store about to be closed
            await asyncio.wait([saving])
        for listener in list(self._drop_listeners):
            try:
                listener()
            except Exception:  # a listener's bug must not stop the drop
                log.exception("drop listener failed")
        access_log, self.access.log = self.access.log, None
        for store in (self.journal, self.personal, access_log):
            if store is not None:
                try:
                    await store.close()
                except Exception as exc:  # closing a broken store may fail; it is dropped anyway
                    log.warning("closing a store failed", error=str(exc))
        self.journal = self.personal = None

    # -- helpers --------------------------------------------------------------------------------

    def _fingerprint(self, command: Command, personal: dict[str, Any] | None) -> str:
        """Name a command as given (with its free text) by an HMAC under this process's key.

        Keyed, since a plain digest in the log would let whoever reads it confirm a guessed
        external id or note; the quarantine lives as long as the process, and so does the key.
        """
        mac = hmac.new(self._fingerprint_key, _ENCODE.encode(command), hashlib.sha256)
        mac.update(_ENCODE.encode(personal))
        return mac.hexdigest()

    async def _enqueue(self, command: Command, personal: dict[str, Any] | None) -> Any:
        if not self.ready or self._stopping:
            raise self.unavailable()
        if self._quarantine and self._fingerprint(command, personal) in self._quarantine:
            raise CommandFailed(
                "this request met an internal error before (logged) and is set aside; "
                "it is refused until the daemon restarts"
            )
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # Work the daemon starts of its own accord (a nowcast, housekeeping) runs outside any
        # request or adapter: it is the daemon's.
        self._inbox.append(_Job(command, personal, future, acting.get() or DAEMON))
        self._wake.set()
        return await future

    def _journal_or_unavailable(self) -> Journal:
        if self.journal is None or not self.ready:
            raise self.unavailable()
        return self.journal

    @property
    def external_id_key(self) -> bytes:
        """The deployment's secret key, from the personal-data store: ``b""`` until the first
        recovery. Browser sessions derive their signing key from it (``api.sessions``)."""
        return self._external_id_key

    def unavailable(self) -> Unavailable:
        """The error to answer with while not ready: why, and where the leader is, if known."""
        return Unavailable(self.unready_reason(), leader=None if self.leading else self.leader)

    def unready_reason(self) -> str:
        """Why the runtime answers nothing now, for a 503's body and ``/readyz``."""
        if self._stopping:
            return "the daemon is shutting down"
        if not self.leading and self.leader is not None:
            return f"this daemon is a standby; the leader is at {self.leader}"
        if not self.leading and self.standby:
            return "this daemon is a standby, waiting for the leader's lease to lapse"
        if self.last_error:
            return f"the journal is unavailable ({self.last_error}); rebuilding"
        return "the journal is being replayed"


async def _leader_of(journal: Journal) -> str | None:
    """Return who holds a journal, or None when it cannot be told now."""
    try:
        return await journal.leader()
    except JournalError:
        return None


def _settle_memory() -> None:
    """Move what is alive now out of the cycle collector's sight (``gc.freeze``).

    The engine's state is large and long-lived, and mostly free of cycles; a full collection
    walking it stops the event loop for 100 ms or more at a few tens of thousands of
    interactions, which is the 99th percentile of the API's latency. Frozen objects are still
    freed by reference counting when they die; only cyclic garbage among them waits for the
    next ``gc.unfreeze()`` (when the engine is dropped). Called after recovery and snapshots,
    moments when what is alive is, by and large, the state.
    """
    gc.freeze()


class _Known(NamedTuple):
    """A resubmission of work the idempotency window knows but the live state no longer holds."""

    interaction_id: int
    source: str
    content_digest: str
    external_id: str
    """As the journal holds it (keyed): a later message of the interaction's thread has its
    own, and only the submission's is compared for content."""


def _same_content(source: str, held: str, given: str) -> None:
    """Refuse a resubmission whose content differs from the first (``Conflict``).

    Work submitted before contents were digested holds none: its resubmissions are taken as the
    same, as they were then.
    """
    if held and held != given:
        raise Conflict(
            "external_id",
            f"this external_id was already submitted from source {source!r} with other "
            "content (channel, received_at, motive, language, skills, priority, typology or "
            "personal data): send the same content again, or use a new external_id",
        )


def _kind(job: _Job) -> str:
    """Name a job's command for the log (its type, never its content)."""
    return type(job.command).__name__


_REASON_KINDS: dict[type[Any], tuple[str, str]] = {
    SetAdvisorState: ("not_ready", "pause"),
    Decline: ("decline", "decline"),
    Close: ("close", "close"),
    Prioritise: ("steer", "steering"),
    Move: ("steer", "steering"),
}
"""The ``[reasons]`` list each command's reason is checked against, and what it is called."""
_REASONED = SetAdvisorState | Decline | Close | Prioritise | Move


def _settle(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _zone_of(loaded: LoadedConfig) -> ZoneInfo:
    return ZoneInfo(loaded.settings.calendar.timezone)
