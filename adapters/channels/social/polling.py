"""Polling a network that has no webhook for us: what was already seen, and the day's quota.

YouTube's comments and LinkedIn's organisation comments are polled. A page token pages a
snapshot of the newest items, not the changes since the last look, so each source keeps a
**high-water mark** (``Mark``): the latest publication instant taken, and the ids taken at
or near it. An item is new when it was published after the mark, or within ``overlap`` before
it and not among the ids seen (items published in the same second, or made visible late by
the platform, are not missed; none is taken twice). The marks live in the channel's durable
state and stay small: only the ids near the mark are kept. They move only once what was found
is durable (the daemon answered the submission), so a daemon killed in between finds the
same items again, and the engine's ``(source, external_id)`` key takes each once.

A **daily quota** (``Quota``): the platform counts units a day (YouTube: 10,000; a list costs
1, an answer 50) and resets at a time it gives (YouTube: midnight, Pacific time). Polls may
spend all but ``reserve`` units, which only answers spend: a busy day's polls never leave the
advisors unable to answer. The units spent are kept in the durable state with the day they
count for, so a restart does not forget them. When the platform says the quota is exhausted
anyway (another client of the same project), nothing more is spent until its reset.

Polls are **spread over the day** (``spread_s``): after a poll costing ``c`` units, the next
waits ``c`` times the seconds left until the reset over the poll units left, so the budget
lasts the day rather than being spent by morning; ``poll_every_s`` in a channel's settings
fixes the interval instead (the quota still holds).

``Quota.status`` is what the channel reports (``AdapterContext.report_quota``): ``/readyz``
shows it under the adapter, the metrics as ``aiguillage_channel_quota_left{adapter}``.

What a poll **found** (``Found``) is taken in publication order (``take_found``): a customer's
comment is submitted (``social.intake``); one by the account itself that is not one of our
answers was typed in the platform's own tools and closes its thread's open interaction
(``social.elsewhere``), so a customer's comment after it opens the next.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import msgspec

from aiguillage.adapters.channels.outgoing import NeedsReauthorisation
from aiguillage.adapters.channels.port import CommandFailed, Unavailable
from aiguillage.adapters.channels.protocol import AdapterContext
from aiguillage.adapters.channels.social import intake
from aiguillage.adapters.channels.social.elsewhere import close_answered_elsewhere

__all__ = ["Found", "Mark", "Quota", "QuotaState", "poll_forever", "spread_s", "take_found"]

_KEPT_IDS = 200
"""Ids kept near a mark: more than a source publishes within ``overlap`` of its latest."""


class Mark(msgspec.Struct, kw_only=True):
    """One source's high-water mark: the latest publication instant taken (microseconds since
    the epoch, 0: none yet) and the ids taken within the overlap before it."""

    at: int = 0
    seen: list[str] = []

    def new(self, item_id: str, published: int, overlap: int) -> bool:
        """Whether an item is still to be taken."""
        if published > self.at:
            return True
        return published > self.at - overlap and item_id not in self.seen

    def older(self, published: int, overlap: int) -> bool:
        """Whether an item (and every older one) is behind the mark: the paging may stop."""
        return published <= self.at - overlap

    def took(self, items: Iterable[tuple[str, int]], overlap: int) -> None:
        """Move the mark past items taken (their id and publication instant)."""
        items = list(items)
        if not items:
            return
        self.at = max(self.at, *(published for _, published in items))
        near = {i: p for i, p in items if p > self.at - overlap}
        kept = [i for i in self.seen if i not in near] + sorted(near, key=near.__getitem__)
        self.seen = kept[-_KEPT_IDS:]


class QuotaState(msgspec.Struct, kw_only=True):
    """What a quota keeps durably: the day counted (the platform's date) and its spending."""

    day: str = ""
    used: int = 0
    exhausted: bool = False
    """The platform said the quota is exhausted for ``day``."""


class Quota:
    """One channel's daily quota (see the module docstring)."""

    def __init__(
        self,
        daily: int,
        reserve: int,
        *,
        zone: ZoneInfo,
        clock: Callable[[], float] = time.time,
        state: QuotaState | None = None,
    ) -> None:
        if not 0 <= reserve < daily:
            raise ValueError("the units reserved for answers must be fewer than the day's")
        self.daily, self.reserve, self.zone, self._clock = daily, reserve, zone, clock
        self.state = state if state is not None else QuotaState()
        self._roll()

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self._clock(), self.zone).date().isoformat()

    def _roll(self) -> None:
        today = self._today()
        if self.state.day != today:
            self.state = QuotaState(day=today)

    @property
    def left(self) -> int:
        self._roll()
        return 0 if self.state.exhausted else max(0, self.daily - self.state.used)

    @property
    def left_for_polls(self) -> int:
        return max(0, self.left - self.reserve)

    def resets_in_s(self) -> float:
        """Seconds until the platform's next midnight (its time zone)."""
        now = dt.datetime.fromtimestamp(self._clock(), self.zone)
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), self.zone)
        return max(1.0, midnight.timestamp() - now.timestamp())

    def can_poll(self, cost: int) -> bool:
        return cost <= self.left_for_polls

    def can_answer(self, cost: int) -> bool:
        return cost <= self.left

    def spend(self, cost: int) -> None:
        self._roll()
        self.state.used += cost

    def exhausted(self) -> None:
        """The platform refused a call for its quota: nothing more until its reset."""
        self._roll()
        self.state.exhausted = True

    def status(self) -> dict[str, int | float]:
        left = self.left
        return {
            "daily": self.daily,
            "left": left,
            "left_for_polls": max(0, left - self.reserve),
            "reserved_for_answers": self.reserve,
            "resets_in_s": round(self.resets_in_s()),
        }


def spread_s(
    quota: Quota, cost: int, *, fixed_s: float | None = None, least_s: float = 1.0
) -> float:
    """How long to wait before the next poll, after one that cost ``cost`` units."""
    if quota.left_for_polls <= 0:
        return quota.resets_in_s()
    if fixed_s is not None:
        return fixed_s
    return max(least_s, quota.resets_in_s() * max(1, cost) / quota.left_for_polls)


async def poll_forever(
    poll: Callable[[], Awaitable[int]],
    report: Callable[[], None],
    quota: Quota,
    *,
    fixed_s: float | None,
    least_s: float,
    wait_s: float = 5.0,
) -> None:
    """Poll, report, and wait as ``spread_s`` says, for ever; ``wait_s`` while the daemon
    cannot write (``Unavailable``) or the token is refused (``NeedsReauthorisation``)."""
    while True:
        try:
            cost = await poll()
        except (Unavailable, NeedsReauthorisation):
            await anyio.sleep(wait_s)
            continue
        report()
        await anyio.sleep(spread_s(quota, cost, fixed_s=fixed_s, least_s=least_s))


class Found(msgspec.Struct, kw_only=True):
    """A comment a poll found: ``message`` as a customer's would be submitted, ``published``
    its instant (what the source's mark moves by), and whether the account itself wrote it."""

    message: intake.Incoming
    published: int
    ours: bool = False
    """By the account itself: one of our answers, or one typed in the platform's tools."""


async def take_found(
    context: AdapterContext[Any],
    found: Sequence[Found],
    *,
    motive: str,
    language: str,
    answered_elsewhere_reason: str,
) -> bool:
    """Take what a poll found, oldest first: submit the customers' comments, close what the
    account's own answered; return whether all of it is durable (else the mark stays, and the
    next poll finds it again)."""
    for each in sorted(found, key=lambda f: f.published):
        if each.ours:
            try:
                await close_answered_elsewhere(
                    context,
                    source=each.message.source,
                    thread=each.message.thread,
                    peer_id=each.message.external_id,
                    reason=answered_elsewhere_reason,
                    at=each.published,
                )
            except (Unavailable, CommandFailed):
                return False
            continue
        answer, _ = await intake.take(context, [each.message], motive=motive, language=language)
        if answer.status != 200:
            return False
    return True
