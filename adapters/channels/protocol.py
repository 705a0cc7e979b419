"""The channel protocol: what an adapter plugin is, and what the daemon gives it.

An adapter connects the daemon to something outside it (telephony, a social network, mail, a
web form, a CRM). It is a class registered in the ``aiguillage.adapters`` entry-point group of
its distribution; the built-in ones register there too, so a third-party adapter is their
peer::

    [project.entry-points."aiguillage.adapters"]
    webhook = "aiguillage.adapters.channels.webhook:WebhookAdapter"

It is enabled by name in ``config.toml``, with its own settings in the same table::

    [adapters.webhook]               # the adapter registered as `webhook`
    url = "https://crm.example/hooks/aiguillage"
    secret_env = "AIGUILLAGE_WEBHOOK_SECRET"

    [adapters.warehouse]             # a second one of the same kind, under its own name
    plugin = "webhook"
    enabled = false                  # kept in the file, not started (true when left out)
    url = "https://dwh.example/ingest"
    secret_env = "AIGUILLAGE_WAREHOUSE_SECRET"

``config.plugins`` finds the classes and checks every table against the class's ``Settings``
(a msgspec ``Struct``), with the file's line and key and what to do.

The protocol (``Adapter``) is small: ``Settings``; ``subscribes``, the event types it wants (empty:
all); ``__init__(context)``; ``async run()``, which runs until cancelled (raising, or returning, is
a failure). The ``AdapterContext`` gives it its name, its settings, a logger, the durable events
after its cursor, ``done(seq)`` to move the cursor, ``submit``/``execute`` to send commands,
``read`` to compute from the engine's state, ``personal`` to read the personal data an
event's digest names, ``on_erased`` to hear of erasures, ``report`` to say how its peer is
doing and ``report_quota`` how much of its peer's daily quota is left. The daemon's
``supervisor`` starts, restarts and reports the adapters.

A channel is an adapter that also talks with customers (``Channel``); each part is optional:

- ``routes()``: the inbound HTTP routes it serves on the daemon's public listener (``inbound``),
  where its peer delivers messages and events; it verifies the peer itself;
- ``sources`` and ``async send(outgoing)``: it sends the answers the daemon's outbox holds for
  the interactions of those sources (``outgoing``), at least once, with an idempotency key;
- ``context.state(MyState)``: its own durable state (a mailbox's UID and UIDVALIDITY,
  a network's page token), kept in the journal and written only by the daemon that leads it.

Delivery of events is at least once: the cursor (``adapters.<name>`` in the journal's cursors)
is saved in batches, at most ``_SAVE_EVERY`` events or ``_SAVE_AFTER_S`` behind what was done,
and exactly when caught up or stopped; after a crash the events since the last save come again.
Events come in journal order, and only once the journal holds them (write-ahead), only from
the daemon that leads the journal: on a standby, ``events`` waits until it takes over, and
then resumes from the cursor the journal holds.

This module imports nothing of the daemon: it is written against ``port.Port``, which the
daemon's runtime implements.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    get_args,
)
from zoneinfo import ZoneInfo

import anyio
import msgspec
import structlog

from aiguillage.adapters.channels.inbound import InboundRoute
from aiguillage.adapters.channels.outgoing import Outgoing, Sent
from aiguillage.adapters.channels.port import CursorStore, Port, Receipt, Unavailable
from aiguillage.adapters.channels.state import ChannelState
from aiguillage.adapters.config.settings import Settings
from aiguillage.adapters.stores.actors import Actor, acting_as
from aiguillage.adapters.stores.journal import JournalError, Record, event_type
from aiguillage.engine.commands import Command, PostMessage, RecordDelivery, Submit
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event

__all__ = [
    "EVENT_TYPES",
    "Adapter",
    "AdapterContext",
    "Channel",
    "EventType",
    "Health",
    "subscriptions",
]

EVENT_TYPES: tuple[str, ...] = tuple(str(t.__struct_config__.tag) for t in get_args(Event))
"""Every event's wire tag (``interaction.arrived``…): what ``subscribes`` may name."""

if TYPE_CHECKING:
    EventType = str
else:
    # A Literal of the tags, so that a misspelt one in config.toml is named with the right one.
    EventType = Literal[EVENT_TYPES]

S = TypeVar("S", bound=msgspec.Struct)
T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R")

_PAGE = 256
"""Records read from the journal at once."""
_IDLE_S = 1.0
"""Caught up, an adapter is woken by each commit; this often anyway, should a wake be missed."""
_RETRY_S = 0.5
"""How often an adapter looks again while the runtime is not ready (rebuilding, standby)."""
_SAVE_EVERY = 100
_SAVE_AFTER_S = 1.0
"""The cursor is saved when it is this many events, or seconds, ahead of the saved one."""


class Adapter(Protocol):
    """What an adapter class is: see the module docstring and ``docs/adapters.md``."""

    Settings: ClassVar[type[msgspec.Struct]]
    """The settings of its ``[adapters.<name>]`` table (``enabled`` and ``plugin`` aside)."""
    subscribes: frozenset[str]
    """The event types (wire tags) it is given; empty: all. A class attribute, or set by
    ``__init__`` from the settings."""

    def __init__(self, context: AdapterContext[Any]) -> None: ...

    async def run(self) -> None:
        """Work until cancelled; raise when it cannot (it is then restarted, with back-off)."""
        ...


class Channel(Adapter, Protocol):
    """An adapter that receives from customers' side and sends answers back (each optional).

    A class may define ``routes`` without ``send`` (a web form whose answers leave by mail),
    or ``send`` without ``routes`` (a mailbox it polls itself).
    """

    sources: frozenset[str]
    """The sources whose interactions' answers it sends (a class attribute, or set by
    ``__init__`` from the settings). Two channels may not send for the same source."""

    def routes(self) -> Sequence[InboundRoute]:
        """The routes it serves on the public listener, under ``/channels/<name>``."""
        ...

    async def send(self, outgoing: Outgoing) -> Sent:
        """Send one message; raise ``SendFailed`` (or ``NeedsReauthorisation``) when the peer
        does not take it. Called again after a crash for a message sent but not yet
        journaled as sent: pass ``outgoing.idempotency_key`` to the peer."""
        ...


Health = Literal["ok", "degraded", "needs_reauthorisation"]
"""How a channel's peer is doing, as the channel reports it: ``degraded`` when it answers
badly or slowly, ``needs_reauthorisation`` when it refuses the channel's credentials."""


class AdapterContext(Generic[S]):
    """What an adapter is given: its name and settings, a logger, events, and commands.

    One context per start of an adapter; the supervisor closes it when the adapter stops,
    which saves the cursor.
    """

    def __init__(self, runtime: Port, name: str, settings: S) -> None:
        self.name = name
        self.settings = settings
        self.log = structlog.get_logger("aiguillage.adapters").bind(adapter=name)
        self.subscribes: frozenset[str] = frozenset()
        """Set by the supervisor from the adapter's ``subscribes`` once it is built."""
        self.cursor_name = f"adapters.{name}"
        self._runtime = runtime
        self._life: float | None = None
        """The runtime's ``recovered_at`` when the cursor was read: a rebuild (a journal
        failure, a step-down) changes it, and the events are then read again from the cursor
        the journal holds."""
        self._read = self._yielded = self._done = self._saved = 0
        self._saved_at = time.monotonic()
        self._wake = anyio.Event()
        self.health: Health = "ok"
        self.health_detail = ""
        self.on_health: Callable[[Health], None] | None = None
        """Set by the supervisor: told each health the channel reports (the metrics)."""
        self.quota: dict[str, int | float] | None = None
        """A polling channel's daily quota, as it reports it (``report_quota``)."""
        self.on_quota: Callable[[dict[str, int | float]], None] | None = None
        """Set by the supervisor: told each quota the channel reports (the metrics)."""
        runtime.add_listener(self._on_commit)
        self._erasure_listeners: list[Callable[[int], None]] = []

    @property
    def ready(self) -> bool:
        """Whether the daemon takes commands now (it leads the journal and is not rebuilding):
        an inbound handler answers 503 when it is not, so that its peer delivers again."""
        return self._runtime.ready

    def report(self, health: Health, detail: str = "") -> None:
        """Say how the channel's peer is doing; ``/readyz`` and the metrics show it.

        The daemon sets ``needs_reauthorisation`` itself when ``send`` raises
        ``NeedsReauthorisation``, and ``ok`` again when a send succeeds.
        """
        if (health, detail) != (self.health, self.health_detail):
            self.log.info("channel health", health=health, detail=detail)
        self.health, self.health_detail = health, detail
        if self.on_health is not None:
            self.on_health(health)

    def report_quota(self, quota: dict[str, int | float]) -> None:
        """Say how much of its peer's daily quota the channel has left (``left``, ``daily``,
        ``reserved_for_answers``…: ``social.polling.Quota.status``); ``/readyz`` and the
        metrics show it."""
        self.quota = dict(quota)
        if self.on_quota is not None:
            self.on_quota(self.quota)

    @property
    def zone(self) -> ZoneInfo:
        """The deployment calendar's time zone, in which the API shows instants."""
        return self._runtime.zone

    @property
    def position(self) -> int:
        """The seq every event up to which is dealt with (saved or about to be)."""
        return self._done

    async def events(self) -> AsyncIterator[Record]:
        """Yield the durable records after the cursor, in seq order, of the types subscribed.

        Waits, without end, for new ones when caught up, and for the runtime while it is not
        ready. Call ``done(record.seq)`` once a record is dealt with.
        """
        runtime = self._runtime
        while True:
            if not runtime.ready or runtime.recovered_at != self._life:
                await self._resume()
            life = self._life
            self._wake = anyio.Event()
            try:
                page = await runtime.records_after(self._read, _PAGE)
            except Unavailable:
                await anyio.sleep(_RETRY_S)
                continue
            if not page:
                await self._save()
                with anyio.move_on_after(_IDLE_S):
                    await self._wake.wait()
                continue
            for record in page:
                if runtime.recovered_at != life:
                    break  # rebuilt meanwhile: read again from the cursor the journal holds
                self._read = record.seq
                if not self.subscribes or event_type(record.event) in self.subscribes:
                    self._yielded = record.seq
                    yield record
                elif self._done >= self._yielded:
                    self._done = record.seq  # nothing before it is pending: pass over it

    async def done(self, seq: int) -> None:
        """Mark every record up to ``seq`` dealt with; the cursor is saved in batches."""
        if self._runtime.recovered_at != self._life or not self._done < seq <= self._read:
            return  # read before a rebuild (it comes again), or not read yet, or behind
        self._done = seq
        if seq - self._saved >= _SAVE_EVERY or time.monotonic() - self._saved_at >= _SAVE_AFTER_S:
            await self._save()

    async def submit(
        self, command: Submit, personal: dict[str, Any] | None = None, *, raw: bytes = b""
    ) -> Receipt:
        """Submit an interaction, or a message of its thread; ``Unavailable`` when not ready.

        ``raw``: the bytes received from the peer (the whole mail, the webhook's body), kept
        with the message's personal data as the evidence a dispute needs (erasable, and
        purged with it), shown base64-encoded under ``evidence``.
        """
        if raw:
            evidence = {"direction": "in", "bytes": base64.b64encode(raw).decode()}
            personal = {**(personal or {}), "evidence": evidence}
        with acting_as(self.actor):
            return await self._runtime.submit(command, personal)

    async def execute(
        self, command: Command, personal: dict[str, Any] | None = None
    ) -> list[Event]:
        """Run a command (see ``Runtime.execute``); ``Unavailable`` when not ready."""
        with acting_as(self.actor):
            return await self._runtime.execute(command, personal)

    @property
    def actor(self) -> Actor:
        """Who the journal says did what this adapter does: the channel, by its name."""
        return Actor("channel", self.name)

    @property
    def daemon_settings(self) -> Settings:
        """The daemon's whole configuration (``config.toml`` as loaded), to read."""
        return self._runtime.settings

    async def read(self, reader: Callable[[Engine], R]) -> R:
        """Run ``reader`` on the engine's state between batches, when all it shows is durable
        (an estimated wait: ``estimates.Estimates``); ``Unavailable`` when not ready. It must
        only read, and quickly: the engine waits for it."""
        return await self._runtime.read(reader)

    async def personal(self, interaction_id: int, digest: str) -> dict[str, Any] | None:
        """Return the piece of an interaction's personal data an event's digest names (the
        ``party`` of ``interaction.transferred_out``, the ``note`` of a transfer); ``None``
        when erased or never kept. ``Unavailable`` when not ready."""
        if not digest:
            return None
        return (await self._runtime.pieces(interaction_id)).get(digest)

    async def erased(self, interaction_id: int) -> bool:
        """Return whether an interaction's personal data was erased, wherever that was done
        (the API, ``aiguillage erase``, another daemon, while the adapter was not running).
        ``Unavailable`` when not ready."""
        return await self._runtime.erased(interaction_id)

    def on_erased(self, listener: Callable[[int], None]) -> None:
        """Call ``listener`` with the id of each interaction whose personal data is erased
        while the adapter runs, so that it erases what it keeps of it elsewhere (a call's
        recording). It must not block: note the id, and act on it in the adapter's own task."""
        self._erasure_listeners.append(listener)
        self._runtime.add_erasure_listener(listener)

    def state(self, type_: type[T]) -> ChannelState[T]:
        """Return the channel's durable state, of the msgspec ``Struct`` type ``type_``: kept
        in the journal under the adapter's name, written only by the daemon that leads it.
        ``Unavailable`` from ``get``/``put`` while the daemon has no journal open."""
        return ChannelState(_Journaled(self._runtime), f"channels.{self.name}", type_)

    async def acknowledge(self, interaction_id: int, text: str) -> None:
        """Tell the customer their message was received: an acknowledgement in the thread,
        sent by the channel's outbox like an answer, which stops no clock."""
        command = PostMessage(
            interaction_id=interaction_id, advisor_id=None, kind="acknowledgement", digest=""
        )
        await self.execute(command, {"message": text})

    async def bounced(self, message_id: int, reason: str) -> None:
        """Record that a message sent came back undelivered (a mail's delivery status
        notification): the advisor who wrote it is told, and it counts in the metrics."""
        command = RecordDelivery(message_id=message_id, outcome="bounced", reason=reason[:500])
        await self.execute(command, None)

    async def close(self) -> None:
        """Stop listening and save the cursor (for two seconds at most)."""
        self._runtime.remove_listener(self._on_commit)
        for listener in self._erasure_listeners:
            self._runtime.remove_erasure_listener(listener)
        with anyio.move_on_after(2, shield=True):
            await self._save()

    def _on_commit(self, records: Sequence[Record]) -> None:
        self._wake.set()

    async def _resume(self) -> None:
        """Wait until the runtime is ready, then read on from the cursor its journal holds."""
        runtime = self._runtime
        while True:
            journal, life = runtime.journal, runtime.recovered_at
            if runtime.ready and journal is not None:
                try:
                    cursor = await journal.cursor(self.cursor_name)
                except JournalError as exc:
                    self.log.warning("cursor not readable; retrying", error=str(exc))
                else:
                    if runtime.ready and runtime.recovered_at == life:
                        break
            await anyio.sleep(_RETRY_S)
        self._life = life
        self._read = self._yielded = self._done = self._saved = cursor
        self._saved_at = time.monotonic()
        self.log.info("reading events", after=cursor)

    async def _save(self) -> None:
        runtime, seq = self._runtime, self._done
        journal = runtime.journal
        if seq == self._saved or journal is None or not runtime.ready:
            return
        if runtime.recovered_at != self._life:
            return
        self._saved_at = time.monotonic()
        try:
            await journal.save_cursor(self.cursor_name, seq)
        except JournalError as exc:
            self.log.warning("cursor not saved; retrying later", seq=seq, error=str(exc))
            return
        self._saved = seq


class _Journaled:
    """The journal the daemon has open now (it changes at a rebuild or a takeover)."""

    def __init__(self, runtime: Port) -> None:
        self._runtime = runtime

    def _journal(self) -> CursorStore:
        journal = self._runtime.journal
        if journal is None or not self._runtime.ready:
            raise Unavailable("the daemon has no journal open now; retry")
        return journal

    async def channel_state(self, name: str) -> bytes | None:
        return await self._journal().channel_state(name)

    async def save_channel_state(self, name: str, state: bytes) -> None:
        await self._journal().save_channel_state(name, state)


def subscriptions(adapter: Adapter) -> frozenset[str]:
    """Return the event types an adapter subscribes to; ``ValueError`` naming unknown ones."""
    wanted = frozenset(adapter.subscribes)
    unknown = sorted(wanted - set(EVENT_TYPES))
    if unknown:
        raise ValueError(
            f"`subscribes` names unknown event types: {', '.join(unknown)}; "
            "use those of aiguillage.adapters.channels.protocol.EVENT_TYPES"
        )
    return wanted
