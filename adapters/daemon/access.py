"""Record who reads personal data, once per reader, interaction and session, before it is shown.

The runtime calls ``read`` each time it opens an interaction's personal data for a request,
and shows nothing until the entry is durable in the access log (``stores.access_log``). Only
people are recorded (actors of kind ``token``, ``admin``, ``session``, ``command``): what the
channels and the daemon read to do their work is not. The session is the browser session's id
when signed in by cookie; for a bearer token, the day in the deployment's time zone, so a
script reading an interaction all day long is recorded once that day.

Reads already recorded are remembered in memory (the most recent ``REMEMBERED``): a session
reading the same interaction again is not recorded again. That memory is lost when the daemon
restarts (or a standby takes over): the next read is then recorded once more.

Reads arriving while an append is under way wait for the next one and share it, so a burst of
readers pays one durable write, not one each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Callable
from zoneinfo import ZoneInfo

from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.stores.access_log import PEOPLE, AccessEntry, AccessLog, Kind, via
from aiguillage.adapters.stores.actors import Actor, acting
from aiguillage.adapters.stores.journal import JournalError
from aiguillage.engine.instants import Instant

__all__ = ["REMEMBERED", "AccessRecorder"]

REMEMBERED = 100_000
"""Reads remembered as recorded: past this, the oldest are forgotten (and recorded again)."""

_Key = tuple[Actor, int, str]


class AccessRecorder:
    """Write the access log's entries for the runtime, batched, deduplicated for reads."""

    def __init__(self, clock: Callable[[], Instant], zone: ZoneInfo, *, kept: bool) -> None:
        self.kept = kept
        """Whether this daemon keeps an access log at all (a runtime in a test may not)."""
        self.log: AccessLog | None = None
        """The open access log, beside the open journal (``None`` while there is none)."""
        self._clock = clock
        self._zone = zone
        self._recorded: OrderedDict[_Key, None] = OrderedDict()
        self._waiting: list[tuple[AccessEntry, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def read(self, interaction_id: int) -> None:
        """Record that the actor of this request reads an interaction's personal data, unless
        this actor already did in this session; ``Unavailable`` if it cannot be recorded."""
        actor = acting.get()
        if not self.kept or actor is None or actor.kind not in PEOPLE:
            return
        now = self._clock()
        reached = via.get()
        route = reached.route if reached is not None else ""
        session = reached.session if reached is not None and reached.session else self._day(now)
        key = (actor, interaction_id, session)
        if key in self._recorded:
            self._recorded.move_to_end(key)
            return
        await self._write(AccessEntry(now, actor, interaction_id, route, session))
        self._recorded[key] = None
        if len(self._recorded) > REMEMBERED:
            self._recorded.popitem(last=False)

    async def erasure(self, interaction_id: int, reason: str) -> None:
        """Record that the actor of this request erased an interaction's personal data."""
        if not self.kept:
            return
        actor = acting.get() or Actor("unknown")
        now = self._clock()
        reached = via.get()
        route = reached.route if reached is not None else ""
        session = reached.session if reached is not None and reached.session else self._day(now)
        entry = AccessEntry(now, actor, interaction_id, route, session, "erasure", reason)
        await self._write(entry)

    async def request(
        self,
        kind: Kind,
        *,
        filter: str = "",
        rows: int = 0,
        personal: bool = False,
        subject: str = "",
        reason: str = "",
    ) -> None:
        """Record a request about many interactions at once: an extract (``filter``, ``rows``,
        ``personal``) or a data subject's (``subject``: the address's keyed digest)."""
        if not self.kept:
            return
        actor = acting.get() or Actor("unknown")
        now = self._clock()
        reached = via.get()
        route = reached.route if reached is not None else ""
        session = reached.session if reached is not None and reached.session else self._day(now)
        entry = AccessEntry(
            now,
            actor,
            0,
            route,
            session,
            kind,
            reason,
            filter=filter,
            rows=rows,
            personal=personal,
            subject=subject,
        )
        await self._write(entry)

    def forget(self) -> None:
        """Forget which reads were recorded (the log was replaced by another's)."""
        self._recorded.clear()

    def _day(self, now: Instant) -> str:
        return dt.datetime.fromtimestamp(now / 1_000_000, self._zone).date().isoformat()

    async def _write(self, entry: AccessEntry) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entry, future))
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._drain())
        await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                error: BaseException | None = None
                log = self.log
                if log is None:
                    error = Unavailable("the access log is not open: personal data is not shown")
                else:
                    try:
                        await log.append([entry for entry, _ in batch])
                    except JournalError as exc:
                        error = Unavailable(
                            f"the access log cannot be written ({exc}): personal data is not "
                            "shown unrecorded"
                        )
                    except Exception as exc:  # a fault of ours: the readers fail, not the loop
                        error = exc
                for _, future in batch:
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:
            self._writing = None
