"""A webhook's delivery made durable work, then acknowledged: what a platform's retry needs.

Platforms retry a delivery that is not answered 2xx quickly (Meta within seconds, X within
three) and disable a webhook that stays slow. So a delivery is answered as soon as it is
durable, and only then: each customer message it carries is submitted at once (threads side by
side, so that the daemon's batch writes them with one fsync; each thread's in order), with its
own item of the delivery kept as its evidence in the erasable personal-data store (it is
personal data: never in the journal's chain). Not the whole body: one delivery carries several
customers' messages, and erasing one customer's data must not leave it in another's evidence.
The answer, 200, follows the journal's commit; the routing, the offers and the answers follow
from the journal. A daemon that cannot write (rebuilding, a standby) answers 503 with ``Retry-
After``, and the platform delivers again.

Each message is deduplicated atomically by the engine on ``(source, external_id)``, the
platform's message id: a delivery repeated, replayed or raced by its retry creates nothing
twice, and is answered 200 like the first. A message the daemon refuses for good (older than
``[daemon] backfill_days``, an id reused for other content) is logged and counted, and the
delivery is still answered 200: a retry would be refused again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import msgspec

from aiguillage.adapters.channels.inbound import Answer
from aiguillage.adapters.channels.port import (
    CommandFailed,
    Conflict,
    Receipt,
    Rejected,
    Unavailable,
)
from aiguillage.adapters.channels.protocol import AdapterContext
from aiguillage.engine.commands import Submit
from aiguillage.engine.errors import EngineError

__all__ = ["Incoming", "Taken", "take"]


class Incoming(msgspec.Struct, frozen=True, kw_only=True):
    """One customer message of a delivery, ready to submit."""

    source: str
    """The network: ``facebook``, ``instagram``, ``x``…"""
    external_id: str
    """The platform's id of the message or comment: the deduplication key."""
    thread: str
    """The conversation it belongs to (``Submit.thread``)."""
    received_at: int | None
    """The platform's instant of the message (microseconds), or None: now."""
    personal: dict[str, Any]
    """Its personal data: the customer, the text, the platform's ids."""
    evidence: bytes
    """Its own item of the delivery (Meta's ``messaging`` event or ``changes`` item), as JSON:
    what the platform said of this message and of no other customer's."""


class Taken(msgspec.Struct, kw_only=True):
    """What became of a delivery's messages: the interaction of each one taken, by external
    id, and those refused for good."""

    interactions: dict[str, int] = {}
    created: int = 0
    refused: dict[str, str] = {}


async def take(
    context: AdapterContext[Any],
    messages: Sequence[Incoming],
    *,
    motive: str,
    language: str,
) -> tuple[Answer, Taken]:
    """Submit every message of a delivery concurrently; return the answer owed to the platform
    (200 once all are durable, 503 when the daemon cannot take them now, 500 after a fault of
    ours) and what was taken."""
    taken = Taken(interactions={}, refused={})
    if not messages:
        return Answer.json({"taken": 0}), taken
    if not context.ready:
        return _unavailable(2), taken
    failures: list[BaseException] = []

    async def one(message: Incoming) -> None:
        command = Submit(
            channel="social",
            source=message.source,
            external_id=message.external_id,
            thread=message.thread,
            received_at=message.received_at,
            motive=motive,
            language=language,
        )
        try:
            receipt: Receipt = await context.submit(command, message.personal, raw=message.evidence)
        except (Rejected, Conflict, EngineError) as exc:
            detail = getattr(exc, "detail", "") or str(exc)
            taken.refused[message.external_id] = detail
            context.log.warning(
                "a message the daemon refuses was dropped",
                source=message.source,
                error=type(exc).__name__,
                detail=detail,
            )
            return
        except (Unavailable, CommandFailed) as exc:
            failures.append(exc)
            return
        taken.interactions[message.external_id] = receipt.interaction.id
        taken.created += receipt.created

    async def in_order(thread: list[Incoming]) -> None:
        for message in thread:
            await one(message)

    # Threads side by side; within a thread, in the platform's order (the first opens the
    # interaction, the next join it).
    threads: dict[tuple[str, str], list[Incoming]] = {}
    for message in messages:
        threads.setdefault((message.source, message.thread), []).append(message)
    async with anyio.create_task_group() as group:
        for thread in threads.values():
            group.start_soon(in_order, thread)
    unavailable = [f for f in failures if isinstance(f, Unavailable)]
    if unavailable:
        return _unavailable(max(1, unavailable[0].retry_after_s)), taken
    if failures:
        return Answer.json({"error": "internal", "detail": "retry the delivery"}, 500), taken
    body = {"taken": len(taken.interactions), "refused": len(taken.refused)}
    return Answer.json(body), taken


def _unavailable(retry_after_s: int) -> Answer:
    answer = Answer.json({"error": "unavailable", "detail": "not ready; deliver again"}, 503)
    return answer._replace(headers={"Retry-After": str(retry_after_s)})
