"""The messaging window: how long after a customer's message a platform lets us answer it.

Meta lets a Page answer a private message within 24 hours of the customer's latest one
(``messaging_type: RESPONSE``), and within seven days with the ``HUMAN_AGENT`` tag where Meta
approved the app for it; after that the answer is refused. So the window is kept on the
interaction, from what the journal and the personal-data store already hold (the instant of
each customer message), with no second record to drift: ``closes_at`` for the channel's send,
which refuses an answer past it clearly (``window_closed``) rather than sending it to a refusal,
and ``Urgency`` for routing.

``Urgency`` looks at the channel's waiting work every ``every_s`` and gives the interactions
whose window closes within ``before_s`` the priority ``priority`` (``Prioritise``, journaled
with ``by`` and a ``[reasons] steer`` code), so that a message received on a Saturday evening
goes ahead of the queue rather than outlive its window for want of a Sunday shift. Only work
that waits (queued, or offered: the offer is withdrawn and made again in the new order) can be
given a priority; work an advisor holds is already being answered. Raising a priority twice
changes nothing, so a restart, or two looks, prioritise each interaction once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio

from aiguillage.adapters.channels.port import CommandFailed, Rejected, Unavailable
from aiguillage.adapters.channels.protocol import AdapterContext
from aiguillage.engine.commands import Prioritise
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import EngineError
from aiguillage.engine.instants import SECOND, Instant

__all__ = ["Urgency", "closes_at"]


def closes_at(last_customer_at: Instant, window_s: int) -> Instant:
    """Return when the window opened by the customer's latest message closes."""
    return last_customer_at + window_s * SECOND


class Urgency:
    """Raise the priority of waiting work whose window is about to close."""

    def __init__(
        self,
        context: AdapterContext[Any],
        *,
        sources: Iterable[str],
        windowed: Callable[[str], bool],
        window_s: int,
        before_s: int,
        priority: int,
        reason: str,
        by: str,
        clock: Callable[[], Instant],
        every_s: float = 60.0,
    ) -> None:
        self._context = context
        self._sources = frozenset(sources)
        self._windowed = windowed
        """Whether a thread has a window (a private conversation; a public comment has none)."""
        self._window_s, self._before_s = window_s, before_s
        self._priority, self._reason, self._by = priority, reason, by
        self._clock = clock
        self._every_s = every_s

    def due(self, engine: Engine, now: Instant) -> list[int]:
        """Return the waiting work, of these sources, whose window is open and closes within
        ``before_s``."""
        state, found = engine.state, []
        horizon = now + self._before_s * SECOND
        for interaction in state.interactions.values():
            if (
                interaction.source not in self._sources
                or interaction.status not in ("queued", "offered")
                or interaction.priority >= self._priority
                or interaction.responded_at is not None
                or not self._windowed(interaction.thread)
            ):
                continue
            # The first message is the interaction's own, received when the platform says;
            # those that joined it later are dated by their arrival.
            customer = [
                state.messages[i].at
                for i in interaction.messages
                if i in state.messages and state.messages[i].kind == "customer"
            ]
            latest = max([interaction.received_at, *customer[1:]])
            # Closing soon; one already closed cannot be answered there any more: it does not
            # take the place of work that still can.
            if now < closes_at(latest, self._window_s) <= horizon:
                found.append(interaction.id)
        return sorted(found)

    async def once(self) -> list[int]:
        """Prioritise what is due now; return the interactions prioritised."""
        now = self._clock()
        due = await self._context.read(lambda engine: self.due(engine, now))
        done = []
        for interaction_id in due:
            command = Prioritise(
                interaction_id=interaction_id,
                priority=self._priority,
                by=self._by,
                reason=self._reason,
            )
            try:
                await self._context.execute(command)
            except EngineError as exc:  # taken by an advisor meanwhile: nothing to raise
                self._context.log.info(
                    "window urgency not applied", interaction_id=interaction_id, error=str(exc)
                )
                continue
            done.append(interaction_id)
            self._context.log.info(
                "the messaging window closes soon: work prioritised",
                interaction_id=interaction_id,
                priority=self._priority,
            )
        return done

    async def run(self) -> None:
        """Look every ``every_s`` until cancelled."""
        while True:
            try:
                await self.once()
            except (Unavailable, CommandFailed, Rejected) as exc:
                self._context.log.warning("window urgency not checked now", error=str(exc))
            await anyio.sleep(self._every_s)
