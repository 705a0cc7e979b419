"""The daily export of the journal's head to the authority: a line appended to a file, a POST.

``HeadExporter`` runs in ``serve``'s task group when ``[reports.head_export]`` is configured.
Every day at ``at`` (the business calendar's local time), and on demand (``export``, which
``POST /v1/reports/head-export`` calls), it reads the head of the journal the daemon writes (the
position of its latest record and that record's hash), writes it as one line
(``reports.heads.head_line``, signed with ``[reports] signing_key`` when set), appends it to
``file`` (on a worker thread, fsynced) and queues it for ``url``.

The queue is delivered in order, one POST at a time, each retried after ``backoff_s``, then
twice that, up to an hour, until the receiver answers 2xx; each POST is signed as the
``webhook`` adapter signs its deliveries (``X-Aiguillage-Timestamp`` and
``X-Aiguillage-Signature``, HMAC-SHA256 with the secret ``secret_env`` names) when a secret is
configured. The instant of the last export and the lines not yet delivered are saved in the
journal's store (``head-export``), so a restart neither loses a POST nor skips a day: a daemon
that was down at ``at`` exports as soon as it serves again. A daemon that does not lead its
journal (a standby) exports nothing; the leader does.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.abc
import httpx
import msgspec
import structlog

from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.channels.webhook import signature
from aiguillage.adapters.config.reports import HeadExportSettings
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.reports.heads import append_line, head_line, last_due, next_export
from aiguillage.adapters.reports.signing import load_private_key
from aiguillage.adapters.stores.journal import GENESIS, Journal, JournalError
from aiguillage.engine.instants import SECOND

__all__ = ["STATE_NAME", "ExportState", "HeadExporter"]

log = structlog.get_logger("aiguillage.head_export")

STATE_NAME = "head-export"
"""The name the exporter's state is saved under in the journal's store."""

_MAX_BACKOFF_S = 3600.0
_RETRY_UNAVAILABLE_S = 1.0
_CHECK_EVERY_S = 60.0
"""The longest sleep before the clock is read again (a clock set forward, a suspended host)."""


class ExportState(msgspec.Struct, kw_only=True):
    """What survives a restart: when the head was last exported, and what is not delivered."""

    last_at: int = 0
    """The instant (microseconds since the epoch) of the last export; 0: none yet."""
    pending: list[str] = []
    """Lines exported and not yet accepted by ``url``, oldest first."""


class HeadExporter:
    """Export the journal's head every day at ``at``, and on demand; deliver it until accepted."""

    def __init__(self, runtime: Runtime, settings: HeadExportSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        loaded = runtime.loaded
        base = Path(loaded.source).parent
        self.file = base / settings.file if settings.file else None
        if self.file is not None and not self.file.parent.is_dir():
            raise ValueError(
                f"{loaded.source}: reports.head_export.file: {self.file.parent} is not a "
                "directory; create it, or name a file in one that exists"
            )
        self._secret = b""
        if settings.secret_env:
            secret = os.environ.get(settings.secret_env, "")
            if not secret:
                raise ValueError(
                    f"{loaded.source}: reports.head_export.secret_env: the environment variable "
                    f"{settings.secret_env} is not set; set it to the secret the authority "
                    "checks the POSTs with, or remove secret_env"
                )
            self._secret = secret.encode()
        name = loaded.settings.reports.signing_key
        self._key = (
            load_private_key(base / name, f"{loaded.source}: reports.signing_key") if name else None
        )
        self.state = ExportState()
        self._loaded = False
        self._lock = anyio.Lock()
        self._queued = anyio.Event()
        self.delivered = 0
        """POSTs accepted since the daemon started."""
        # After a rebuild or a step-down, read the state again: another leader may have
        # exported and delivered meanwhile.
        runtime.add_drop_listener(self._forget)

    def _forget(self) -> None:
        self._loaded = False

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Export at each day's ``at`` (and at start if the last one was missed); deliver."""
        task_status.started()
        async with anyio.create_task_group() as group:
            if self.settings.url:
                group.start_soon(self._deliver_forever)
            waiting = False
            while True:
                try:
                    await self._load()
                    if self.state.last_at < self._due():
                        await self.export()
                except Unavailable as exc:
                    if not waiting:  # once, not every second a standby waits
                        log.info("head export waits for the journal", reason=str(exc))
                    waiting = True
                    await anyio.sleep(_RETRY_UNAVAILABLE_S)
                    continue
                except (JournalError, OSError) as exc:
                    log.error("head export failed; retrying", error=str(exc))
                    await anyio.sleep(_CHECK_EVERY_S)
                    continue
                waiting = False
                await anyio.sleep(self._until_next())

    async def export(self) -> bytes:
        """Export the head now: append its line to ``file``, queue it for ``url``; return it.

        ``Unavailable`` when the daemon has no journal open (rebuilding, standby); ``OSError``
        when the file cannot be written."""
        async with self._lock:
            await self._load()
            position, hash = await self._head()
            now = self.runtime.clock()
            at = datetime.fromtimestamp(now / SECOND, UTC).astimezone(self.runtime.zone)
            line = head_line(position, hash, at, self._key)
            if self.file is not None:
                await anyio.to_thread.run_sync(append_line, self.file, line)
            state = ExportState(last_at=now, pending=list(self.state.pending))
            if self.settings.url:
                state.pending.append(line.decode())
            await self._save(state)
            log.info("journal head exported", position=position, hash=hash, at=at.isoformat())
            if self.settings.url:
                self._queued.set()
            return line

    def _until_next(self) -> float:
        """Seconds until the next export is due, a minute at most (the clock is read again)."""
        now = datetime.fromtimestamp(self.runtime.clock() / SECOND, UTC)
        due = next_export(now, self.settings.at, self.runtime.zone)
        return min(_CHECK_EVERY_S, max(0.0, (due - now).total_seconds()) + 0.001)

    def _due(self) -> int:
        now = datetime.fromtimestamp(self.runtime.clock() / SECOND, UTC)
        due = last_due(now, self.settings.at, self.runtime.zone)
        return int(due.timestamp()) * SECOND

    async def _head(self) -> tuple[int, str]:
        self._journal()  # Unavailable when none is open, even for an empty one
        position = self.runtime.last_seq
        if position == 0:
            return 0, GENESIS
        (record,) = await self.runtime.records_after(position - 1, 1)
        return record.seq, record.hash

    async def _load(self) -> None:
        if self._loaded:
            return
        try:
            saved = await self._journal().channel_state(STATE_NAME)
        except JournalError as exc:
            raise Unavailable(f"the journal cannot be read: {exc}") from exc
        if saved is not None:
            self.state = msgspec.json.decode(saved, type=ExportState)
        self._loaded = True
        if self.state.pending:
            self._queued.set()

    async def _save(self, state: ExportState) -> None:
        try:
            await self._journal().save_channel_state(STATE_NAME, msgspec.json.encode(state))
        except JournalError as exc:
            raise Unavailable(f"the journal cannot be written: {exc}") from exc
        self.state = state

    def _journal(self) -> Journal:
        journal = self.runtime.journal
        if journal is None or not self.runtime.ready or self.runtime.standby:
            raise self.runtime.unavailable()
        return journal

    async def _deliver_forever(self) -> None:
        async with httpx.AsyncClient(timeout=self.settings.timeout_s) as client:
            while True:
                await self._queued.wait()
                self._queued = anyio.Event()
                while self.state.pending:
                    await self._deliver(client, self.state.pending[0])

    async def _deliver(self, client: httpx.AsyncClient, line: str) -> None:
        wait = self.settings.backoff_s
        while True:
            failure = await self._post(client, line.encode())
            if failure is None:
                break
            log.warning("journal head not delivered; retrying", error=failure, retry_in_s=wait)
            await anyio.sleep(wait)
            wait = min(wait * 2, _MAX_BACKOFF_S)
        self.delivered += 1
        while True:
            try:
                async with self._lock:
                    rest = [held for held in self.state.pending if held != line]
                    await self._save(ExportState(last_at=self.state.last_at, pending=rest))
                return
            except (Unavailable, JournalError) as exc:
                # Delivered, not yet noted: keep trying to note it, so it is not sent again.
                self.state.pending = [held for held in self.state.pending if held != line]
                log.info("head delivery not yet saved", reason=str(exc))
                await anyio.sleep(_RETRY_UNAVAILABLE_S)

    async def _post(self, client: httpx.AsyncClient, body: bytes) -> str | None:
        headers = {"Content-Type": "application/json"}
        if self._secret:
            timestamp = str(int(time.time()))
            headers["X-Aiguillage-Timestamp"] = timestamp
            headers["X-Aiguillage-Signature"] = signature(self._secret, timestamp, body)
        try:
            response = await client.post(self.settings.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"the receiver answered {response.status_code}"
