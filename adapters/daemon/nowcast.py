"""The daemon's nowcast: the rest of today simulated from the live engine, in a worker process.

Every ``[nowcast] every_minutes``, and when a supervisor asks (``POST /v1/nowcast``),
``Nowcasts`` takes the engine's image between batches (all it shows is durable), the day's
figures so far (``daemon.today``), and hands the simulation (``simulations.nowcast``) to one
worker process (started with ``spawn``, at a lower priority): the event loop only waits for
the answer, so offers keep flowing while it runs. The result is kept for ``GET /v1/nowcast``
and the wall, and journaled as ``nowcast.published``: what it was made from (the image's
instant, record and digest, the seed, the arrivals so far and the level applied) and what it
showed, per variant and channel, as ``[mean, low, high]``. One nowcast runs at a time; a
request (``ask``) starts one in the background, or none while one asked for is still to come.

``request_of`` builds the simulator's request from a configuration and an image: the CLI's
``aiguillage nowcast`` uses it on a journal replayed up to an instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import anyio
import msgspec
import structlog

from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.config.settings import Settings
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.today import Following
from aiguillage.adapters.reports.penalties import rules_of
from aiguillage.engine.commands import PublishNowcast
from aiguillage.engine.engine import Engine
from aiguillage.engine.instants import Instant
from aiguillage.engine.policies import CHANNELS, Channel
from aiguillage.simulations.nowcast import Nowcast, NowcastRequest, SoFar, nowcast

__all__ = ["NowcastTooLong", "Nowcasts", "publish_command", "request_of", "work"]

log = structlog.get_logger("aiguillage.nowcast")

_REQUEST = msgspec.msgpack.Decoder(NowcastRequest)
_ENCODER = msgspec.msgpack.Encoder()


def work(request: bytes) -> bytes:
    """Run one nowcast (in the worker process): a request in, a ``Nowcast`` out, as msgpack."""
    return _ENCODER.encode(nowcast(_REQUEST.decode(request)))


def _start_worker(daemon: int) -> None:
    """The worker yields the processor to the daemon's event loop, and ends with the daemon: a
    daemon killed (SIGKILL, the OOM killer) leaves no worker behind for each restart."""
    with contextlib.suppress(OSError):  # not allowed here: run at the daemon's priority
        os.nice(10)
    threading.Thread(target=_end_with, args=(daemon,), daemon=True, name="parent").start()


def _end_with(daemon: int) -> None:
    while os.getppid() == daemon:
        time.sleep(1.0)
    os._exit(0)


def request_of(
    settings: Settings,
    image: bytes,
    now: Instant,
    so_far: Mapping[Channel, SoFar],
    *,
    seed: int,
    replications: int | None = None,
) -> NowcastRequest:
    """The simulator's request for a deployment's engine image at ``now``."""
    policies = settings.policies()
    if settings.penalties is not None:
        rules = rules_of(settings.penalties, policies).channels
        breach_eur = {c: rules[c].breach_cents / 100 for c in policies.channels if c in rules}
    else:
        breach_eur = {c: p.penalty_eur for c, p in policies.channels.items()}
    return NowcastRequest(
        image=image,
        now=now,
        scenario=settings.simulation,
        teams={a.id: a.team for a in settings.advisors if a.team is not None},
        breach_eur=breach_eur,
        so_far=dict(so_far),
        replications=settings.nowcast.replications if replications is None else replications,
        seed=seed,
        what_ifs=settings.nowcast.what_ifs,
    )


def publish_command(result: Nowcast, image: bytes, image_at: Instant, seq: int) -> PublishNowcast:
    """The record of what a nowcast showed, for the journal (kept small: figures only)."""
    shown: dict[str, dict[str, dict[str, tuple[float, float, float]]]] = {}
    for variant in result.variants:
        channels: dict[str, dict[str, tuple[float, float, float]]] = {}
        for line in variant.channels:
            figures = {
                "breaches": (line.breaches.mean, line.breaches.low, line.breaches.high),
                "penalties_eur": (
                    line.penalties_eur.mean,
                    line.penalties_eur.low,
                    line.penalties_eur.high,
                ),
            }
            if line.service_level is not None:
                level = line.service_level
                figures["service_level"] = (level.mean, level.low, level.high)
            channels[line.channel] = figures
        shown[variant.what_if] = channels
    return PublishNowcast(
        image_at=image_at,
        image_seq=seq,
        image_sha256=hashlib.sha256(image).hexdigest(),
        seed=result.seed,
        replications=result.replications,
        arrived=dict(result.arrived),
        level=dict(result.level),
        shown=shown,
    )


class NowcastTooLong(Exception):
    """A nowcast ran past ``[nowcast] timeout_s``: its worker was killed."""


class Nowcasts:
    """The latest nowcast, made every few minutes and on demand (see the module)."""

    def __init__(self, runtime: Runtime, following: Following) -> None:
        self._runtime = runtime
        self._following = following
        self._executor: ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self.latest: Nowcast | None = None
        self.latest_seq: int | None = None
        """The journal record the latest nowcast's image reflected."""
        self.last_error = ""
        self._asked: asyncio.Task[None] | None = None

    def ask(self) -> bool:
        """Start a nowcast in the background unless one asked for is still to come; return
        whether this call started one (a burst of requests makes one nowcast, not a queue)."""
        if self._asked is not None and not self._asked.done():
            return False
        self._asked = asyncio.get_running_loop().create_task(self._guarded())
        return True

    async def _guarded(self) -> None:
        try:
            await self.make()
        except (Unavailable, NowcastTooLong) as exc:
            self.last_error = str(exc)
            log.warning("no nowcast", reason=str(exc))
        except Exception as exc:  # a nowcast that fails leaves the daemon serving
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("nowcast failed")

    async def run_every(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Make a nowcast every ``[nowcast] every_minutes``, the first that long after start
        (a restart does not spend a worker's time before anyone looks; ``ask`` makes one)."""
        task_status.started()
        every = self._runtime.settings.nowcast.every_minutes * 60
        while True:
            await anyio.sleep(every)
            if self._runtime.ready and self._runtime.leading:
                await self._guarded()

    async def make(self) -> Nowcast:
        """Make a nowcast now (after the one running, if any), keep it and journal it."""
        async with self._lock:
            runtime = self._runtime
            today = await self._following.today(runtime)

            def take(engine: Engine) -> tuple[bytes, Instant, int]:
                return engine.image(), engine.now, runtime.last_seq

            image, image_at, seq = await runtime.read(take)
            now = max(runtime.clock(), image_at)
            so_far = {}
            for channel in CHANNELS:
                day = today.channel(channel, now)
                so_far[channel] = SoFar(
                    arrived=day.arrived,
                    answered=day.answered,
                    within=day.answered_within,
                    abandoned=day.abandoned,
                    short_abandons=day.short_abandons,
                    breaches=day.breached,
                )
            request = request_of(runtime.settings, image, now, so_far, seed=seq)
            loop = asyncio.get_running_loop()
            limit = runtime.settings.nowcast.timeout_s
            working = loop.run_in_executor(self._pool(), work, msgspec.msgpack.encode(request))
            try:
                answer = await asyncio.wait_for(working, limit)
            except TimeoutError:
                self._stop_worker()
                raise NowcastTooLong(
                    f"the nowcast took more than {limit:g} s ([nowcast] timeout_s) and was "
                    "abandoned: fewer replications or what-ifs make it shorter"
                ) from None
            except BrokenProcessPool:
                # The worker died (out of memory, killed): the next nowcast starts a new one.
                self._stop_worker()
                raise
            result = msgspec.msgpack.decode(answer, type=Nowcast)
            # Served only once it is journaled: nothing goes out that the journal does not hold.
            await runtime.execute(publish_command(result, image, image_at, seq))
            self.latest, self.latest_seq, self.last_error = result, seq, ""
            log.info("nowcast made", seq=seq, replications=result.replications)
            return result

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._executor

    def close(self) -> None:
        """Stop the worker process (a nowcast under way is abandoned)."""
        if self._asked is not None:
            self._asked.cancel()
        self._stop_worker()

    def _stop_worker(self) -> None:
        """Kill the worker: a nowcast under way is abandoned, and the daemon's exit does not
        wait for it (the executor's exit handler would join it)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        workers = list(getattr(executor, "_processes", {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.kill()
