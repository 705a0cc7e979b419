"""The outbox: each answer journaled before it leaves, sent by its channel, its outcome journaled.

An advisor's answer (``POST /v1/interactions/{id}/messages``) is made durable in three steps,
each before the next: its text in the personal-data store, then ``message.posted`` in the
journal (the runtime's batch does both, in that order), and only then does it leave: the
outbox of the channel that serves the interaction's source calls the channel's ``send``, and
journals ``message.sent`` with the peer's id, or ``message.failed`` with the peer's reason.

What to send is read from the engine's state (``state.outbox``: the answers posted and not yet
sent, and the failed ones whose retry is due), never from an event cursor: a cursor saved in
batches would replay up to a hundred events after a crash, and send each of their answers
again. Just before sending, the message is looked up once more; a message already journaled as
sent is not sent. What is left is a send that the peer took and whose record a crash lost: it
is sent once more after the restart, with the same idempotency key
(``<deployment>:message:<id>``), which the channel hands to a peer that deduplicates on it.

A failure is retried after ``[outbox] first_retry_s``, then twice as long each time up to
``max_retry_s``; an answer still not sent ``give_up_after_s`` after it was posted, or refused
for good by the peer (``SendFailed(permanent=True)``), fails for good: journaled with no retry,
shown on the interaction and to the advisor, counted in ``/readyz`` and the metrics
(``aiguillage_messages_total{channel,outcome}``). A channel that raises anything other than
``SendFailed`` from ``send`` has a bug: the message is failed and retried the same way, and
the error is logged with its traceback.
"""

from __future__ import annotations

import base64
import math
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import anyio
import msgspec
import structlog

from aiguillage.adapters.channels.outgoing import NeedsReauthorisation, Outgoing, SendFailed, Sent
from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.channels.protocol import AdapterContext
from aiguillage.adapters.config.settings import OutboxSettings
from aiguillage.adapters.daemon import conversations
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.actors import Actor, acting_as
from aiguillage.adapters.stores.journal import Record
from aiguillage.engine.commands import RecordDelivery
from aiguillage.engine.engine import Engine
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.messages import Message

__all__ = ["Outbox", "OutboxStatus", "idempotency_key"]

log = structlog.get_logger("aiguillage.outbox")

Send = Callable[[Outgoing], Awaitable[Sent]]

_IDLE_S = 5.0
"""With nothing due, the outbox looks again this often anyway (a wake missed, a retry due)."""
_RETRY_S = 0.5
"""How often it looks again while the daemon is not ready."""


def idempotency_key(deployment: str, message_id: int) -> str:
    """Return the key a message is sent with: the same at every attempt, ASCII only (the
    deployment's name without its accents, other characters as ``-``)."""
    plain = unicodedata.normalize("NFKD", deployment).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", plain).strip("-").lower() or "aiguillage"
    return f"{slug}:message:{message_id}"


class OutboxStatus(msgspec.Struct, kw_only=True):
    """A channel's outbox, for ``/readyz``."""

    waiting: int = 0
    """Answers posted and not sent yet (first attempt or a retry to come)."""
    failing: int = 0
    """Of those, the ones that failed at least once."""
    sent: int = 0
    failed_for_good: int = 0
    """Since the daemon started."""
    last_error: str = ""


class _Due(msgspec.Struct, frozen=True):
    due: list[int]
    waiting: int
    failing: int
    next_at: Instant | None


class Outbox:
    """Sends one channel's answers, as the module docstring says."""

    def __init__(
        self, runtime: Runtime, name: str, settings: OutboxSettings, *, idle_s: float = _IDLE_S
    ) -> None:
        self.name = name
        self._idle_s = idle_s
        self.sources: frozenset[str] = frozenset()
        self._runtime = runtime
        self._settings = settings
        self._status = OutboxStatus()
        self._wake = anyio.Event()
        self._deployment = runtime.settings.deployment.name

    def status(self) -> OutboxStatus:
        return self._status

    async def run(self, send: Send, context: AdapterContext[Any]) -> None:
        """Send what is due, then wait for a commit or the next retry; until cancelled."""
        runtime = self._runtime
        runtime.add_listener(self._on_commit)
        try:
            while True:
                self._wake = anyio.Event()
                if not runtime.ready:
                    await anyio.sleep(_RETRY_S)
                    continue
                try:
                    found = await runtime.read(partial(self._due, now=runtime.clock()))
                except Unavailable:
                    continue
                self._status.waiting, self._status.failing = found.waiting, found.failing
                for message_id in found.due:
                    await self._deliver(message_id, send, context)
                if found.due:
                    continue  # sending took time: look again before sleeping
                wait = self._idle_s
                if found.next_at is not None:
                    wait = min(wait, max(0.0, (found.next_at - runtime.clock()) / SECOND))
                with anyio.move_on_after(wait):
                    await self._wake.wait()
        finally:
            runtime.remove_listener(self._on_commit)

    def _on_commit(self, records: Sequence[Record]) -> None:
        self._wake.set()

    def _due(self, engine: Engine, now: Instant) -> _Due:
        state, sources = engine.state, self.sources
        due, waiting, failing, next_at = [], 0, 0, None
        for message in state.outbox.values():
            interaction = state.interactions.get(message.interaction_id)
            if interaction is None or interaction.source not in sources:
                continue
            waiting += 1
            if message.retry_at is None:
                due.append(message.id)
                continue
            failing += 1
            if message.retry_at <= now:
                due.append(message.id)
            elif next_at is None or message.retry_at < next_at:
                next_at = message.retry_at
        due.sort()
        return _Due(due, waiting, failing, next_at)

    async def _deliver(self, message_id: int, send: Send, context: AdapterContext[Any]) -> None:
        runtime = self._runtime
        try:
            key = idempotency_key(self._deployment, message_id)
            prepared = await conversations.outgoing(runtime, message_id, key)
        except Unavailable:
            return
        if prepared is None:
            return  # sent meanwhile, or no longer held: nothing to do
        outgoing, message = prepared
        try:
            sent = await send(outgoing)
        except SendFailed as exc:
            if isinstance(exc, NeedsReauthorisation):
                context.report("needs_reauthorisation", exc.reason)
            await self._failed(message, exc.reason, permanent=exc.permanent)
            return
        except Exception as exc:  # a channel's bug must not stop the others' sending
            log.exception("a channel's send raised", adapter=self.name, message_id=message_id)
            await self._failed(message, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        if context.health == "needs_reauthorisation":
            context.report("ok")
        peer_id = sent.peer_id if isinstance(sent, Sent) else ""
        evidence = sent.evidence if isinstance(sent, Sent) else b""
        command = RecordDelivery(message_id=message_id, outcome="sent", peer_id=peer_id)
        kept = None
        if evidence:
            raw = base64.b64encode(evidence).decode()
            kept = {"evidence": {"message_id": message_id, "direction": "out", "bytes": raw}}
        await self._record(command, kept)
        self._status.sent += 1

    async def _failed(self, message: Message, reason: str, *, permanent: bool) -> None:
        settings, now = self._settings, self._runtime.clock()
        attempts = message.attempts + 1
        delay = min(settings.first_retry_s * 2 ** min(attempts - 1, 30), settings.max_retry_s)
        retry_at: Instant | None = now + math.ceil(delay * SECOND)
        if permanent or now - message.at >= settings.give_up_after_s * SECOND:
            retry_at = None
            self._status.failed_for_good += 1
        self._status.last_error = reason
        log.warning(
            "an answer was not sent",
            adapter=self.name,
            message_id=message.id,
            reason=reason,
            attempts=attempts,
            retry=retry_at is not None,
        )
        command = RecordDelivery(
            message_id=message.id, outcome="failed", reason=reason[:500], retry_at=retry_at
        )
        await self._record(command)

    async def _record(
        self, command: RecordDelivery, evidence: dict[str, Any] | None = None
    ) -> None:
        """Journal an outcome; while the daemon cannot, the message stays due and is sent
        again later with the same key (at most once more, as for a crash)."""
        try:
            with acting_as(Actor("channel", self.name)):
                await self._runtime.execute(command, evidence)
        except Unavailable as exc:
            log.warning("an outcome could not be journaled now", adapter=self.name, error=str(exc))
