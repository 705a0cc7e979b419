"""Run the enabled adapters beside the engine; restart a failing one; never let one stop the rest.

``serve`` starts one ``Supervisor`` in its task group, next to the runtime. The supervisor
gives each enabled adapter (see ``plugins``) a task of its own, builds it with a fresh
``AdapterContext`` and awaits its ``run``. An adapter that raises, or returns, has failed: the
supervisor logs why, saves its cursor, waits (1 s, doubling up to 60 s; back to 1 s once it has
run a minute without failing) and starts it again, from its cursor. Its exceptions stay here:
the engine, the API and the other adapters go on. Cancellation (``stop``, the daemon's
shutdown) is the one thing that passes through.

``status()`` is what ``/readyz`` shows under ``adapters``; the metrics
``aiguillage_adapter_up{adapter}`` and ``aiguillage_adapter_restarts_total{adapter}`` follow
the same states. A failing adapter never makes the daemon unready: it is reported.

A channel (``channels.protocol.Channel``) gets more in the same task: while it runs, its
``routes()`` are served by the public listener (``public``), which finds them here, and when it
sends, its outbox (``outbox``) runs beside it, so that a channel that fails stops sending too
and starts again with it. Its health, as it reports it (``context.report``) or as its sends
show it, is in ``status()`` and in ``aiguillage_channel_health{adapter,health}``; a polling
channel's daily quota, as it reports it, in ``status()`` and in
``aiguillage_channel_quota_left{adapter}``.

Each adapter's transitions between working (running, its peer ``ok``) and not (failing, or its
peer ``degraded`` or refusing its credentials) go to the runtime, which journals them
(``channel.down``, ``channel.up``) for the availability the authority's report gives.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal, get_args

import anyio
import anyio.abc
import msgspec
import structlog

from aiguillage.adapters.channels.inbound import InboundRoute
from aiguillage.adapters.channels.protocol import AdapterContext, Health, subscriptions
from aiguillage.adapters.config.errors import ConfigError, Problem
from aiguillage.adapters.config.locations import dotted
from aiguillage.adapters.config.plugins import EnabledAdapter, configured_adapters
from aiguillage.adapters.daemon.outbox import Outbox, OutboxStatus
from aiguillage.adapters.daemon.runtime import Runtime

__all__ = ["AdapterStatus", "Supervisor"]

log = structlog.get_logger("aiguillage.adapters")


class AdapterStatus(msgspec.Struct, kw_only=True):
    """How one adapter is doing, for ``/readyz``."""

    plugin: str
    state: Literal["running", "backing-off"] = "running"
    restarts: int = 0
    """Starts after a failure, since the daemon started."""
    last_error: str = ""
    """Why it failed last (kept after a restart, for the operator's eyes)."""
    position: int = 0
    """The seq of the last event it has dealt with."""
    health: Health = "ok"
    """How its peer is doing, as the channel reports it (or its sends show it)."""
    health_detail: str = ""
    outbox: OutboxStatus | None = None
    """For a channel that sends: its outbox (waiting, failing, given up)."""
    quota: dict[str, int | float] | None = None
    """For a channel that polls within a daily quota: the units left, and for what."""


class Supervisor:
    """Starts the enabled adapters, restarts those that fail, and reports how they are."""

    def __init__(
        self,
        runtime: Runtime,
        adapters: Sequence[EnabledAdapter] | None = None,
        *,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        steady_s: float = 60.0,
        outbox_idle_s: float = 5.0,
    ) -> None:
        """Supervise ``adapters``, by default those enabled in the runtime's configuration.

        ``ConfigError`` when the configuration names an adapter that cannot be loaded now
        (``load_config`` checked it, but packages may have changed since).
        """
        if adapters is None:
            adapters = _enabled(runtime)
        self.adapters = list(adapters)
        self._runtime = runtime
        self._backoff_s, self._max_backoff_s, self._steady_s = backoff_s, max_backoff_s, steady_s
        self._outbox_idle_s = outbox_idle_s
        """How often an outbox with nothing due looks again anyway (a retry's time come)."""
        self._status = {a.name: AdapterStatus(plugin=a.plugin) for a in self.adapters}
        self._contexts: dict[str, AdapterContext[msgspec.Struct]] = {}
        self._routes: dict[str, dict[str, InboundRoute] | None] = {
            a.name: None for a in self.adapters if hasattr(a.factory, "routes")
        }
        self._outboxes: dict[str, Outbox] = {}
        self._scope: anyio.CancelScope | None = None
        self._stopped = anyio.Event()
        metrics = runtime.metrics
        for adapter in self.adapters:
            # Every series exists from the start, so that alerts see the first change.
            metrics.adapter_up.labels(adapter=adapter.name).set(0)
            metrics.adapter_restarts.labels(adapter=adapter.name)

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run every adapter until ``stop`` or cancellation."""
        try:
            async with anyio.create_task_group() as group:
                self._scope = group.cancel_scope
                for adapter in self.adapters:
                    group.start_soon(self._keep_running, adapter, name=f"adapter {adapter.name}")
                task_status.started()
        finally:
            self._stopped.set()

    async def stop(self) -> None:
        """Cancel the adapters and wait until each has saved its cursor."""
        if self._scope is None:
            return
        self._scope.cancel()
        await self._stopped.wait()

    def status(self) -> dict[str, AdapterStatus]:
        """Each adapter's state, restarts, last error and position, by name."""
        for name, context in self._contexts.items():
            status = self._status[name]
            status.position = context.position
            status.health, status.health_detail = context.health, context.health_detail
            status.quota = context.quota
            outbox = self._outboxes.get(name)
            status.outbox = None if outbox is None else outbox.status()
        return self._status

    def _quota(self, name: str, quota: dict[str, int | float]) -> None:
        self._runtime.metrics.channel_quota_left.labels(adapter=name).set(quota.get("left", 0))

    def _health(self, name: str, health: Health) -> None:
        gauge = self._runtime.metrics.channel_health
        for each in get_args(Health):
            gauge.labels(adapter=name, health=each).set(1 if each == health else 0)
        context = self._contexts.get(name)
        detail = "" if context is None else context.health_detail
        reason = health if not detail else f"{health}: {detail}"
        self._runtime.channel_working(name, health == "ok", reason)

    @property
    def serves_routes(self) -> bool:
        """Whether an enabled adapter declares inbound routes (the public listener is needed)."""
        return bool(self._routes)

    def known(self, adapter: str) -> bool:
        return adapter in self._routes

    def routes_of(self, adapter: str) -> dict[str, InboundRoute] | None:
        return self._routes.get(adapter)

    def counted(self, adapter: str, status: int) -> None:
        self._runtime.metrics.channel_requests.labels(adapter=adapter, status=str(status)).inc()

    def _retained(self, settings: msgspec.Struct) -> msgspec.Struct:
        """An adapter's settings with ``[retention] recordings_days``, when set, as its
        ``recording_retention_days`` (a call channel's daily deletion of its recordings)."""
        days = self._runtime.settings.retention_days().recordings
        if days is None or not hasattr(settings, "recording_retention_days"):
            return settings
        return msgspec.structs.replace(settings, recording_retention_days=days)

    async def _keep_running(self, adapter: EnabledAdapter) -> None:
        status = self._status[adapter.name]
        up = self._runtime.metrics.adapter_up.labels(adapter=adapter.name)
        restarts = self._runtime.metrics.adapter_restarts.labels(adapter=adapter.name)
        backoff = self._backoff_s
        while True:
            context: AdapterContext[msgspec.Struct] = AdapterContext(
                self._runtime, adapter.name, self._retained(adapter.settings)
            )
            self._contexts[adapter.name] = context
            context.on_health = partial(self._health, adapter.name)
            context.on_quota = partial(self._quota, adapter.name)
            self._health(adapter.name, "ok")
            status.state = "running"
            up.set(1)
            started = time.monotonic()
            failure: Exception | None = None
            try:
                instance = adapter.factory(context)
                context.subscribes = subscriptions(instance)
                await self._run(adapter.name, instance, context)
            except Exception as exc:  # an adapter's failure must not reach the engine
                failure = _first(exc)
            finally:
                if adapter.name in self._routes:
                    self._routes[adapter.name] = None
                await context.close()
            if time.monotonic() - started >= self._steady_s:
                backoff = self._backoff_s
            error = (
                "its run() returned; an adapter runs until it is cancelled"
                if failure is None
                else _describe(failure)
            )
            status.state, status.last_error = "backing-off", error
            up.set(0)
            self._runtime.channel_working(adapter.name, False, f"failed: {error}")
            log.error(
                "adapter failed; it restarts later",
                adapter=adapter.name,
                error=error,
                restart_in_s=backoff,
                exc_info=failure,
            )
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)
            status.restarts += 1
            restarts.inc()

    async def _run(self, name: str, instance: Any, context: AdapterContext[msgspec.Struct]) -> None:
        """Run an adapter, serve its routes and run its outbox, until one of them fails."""
        if name in self._routes:
            self._routes[name] = routes_by_key(instance.routes())
        send = getattr(instance, "send", None)
        if send is None:
            await instance.run()
            return
        outbox = self._outboxes.get(name)
        if outbox is None:
            outbox = self._outboxes[name] = Outbox(
                self._runtime, name, self._runtime.settings.outbox, idle_s=self._outbox_idle_s
            )
        configured = frozenset(
            source
            for policy in self._runtime.settings.channels.values()
            for source in policy.sources
        )
        sources = channel_sources(instance, configured)
        claimed = {s for other, box in self._outboxes.items() if other != name for s in box.sources}
        if sources & claimed:
            raise ValueError(
                f"`sources` {sorted(sources & claimed)} are already sent by another channel"
            )
        outbox.sources = sources
        async with anyio.create_task_group() as group:

            async def run_then_stop() -> None:
                await instance.run()
                group.cancel_scope.cancel()  # returning is a failure: the caller says so

            group.start_soon(run_then_stop)
            group.start_soon(outbox.run, send, context)


def routes_by_key(routes: Sequence[InboundRoute]) -> dict[str, InboundRoute]:
    """Index a channel's routes by ``"METHOD /path"``; ``ValueError`` on a bad or twice
    declared one."""
    indexed: dict[str, InboundRoute] = {}
    for route in routes:
        if not isinstance(route, InboundRoute) or not route.path.startswith("/"):
            raise ValueError(f"`routes()` gives {route!r}: give InboundRoute(method, '/path', h)")
        key = f"{route.method.upper()} {route.path}"
        if key in indexed:
            raise ValueError(f"`routes()` declares {key} twice")
        indexed[key] = route
    return indexed


def channel_sources(instance: Any, configured: frozenset[str]) -> frozenset[str]:
    """Return the sources a sending channel serves; ``ValueError`` when it names none, or one
    that no configured channel takes."""
    sources = getattr(instance, "sources", None)
    if not isinstance(sources, frozenset) or not sources:
        raise ValueError("a channel with `send` must set `sources`, a frozenset of source names")
    unknown = sorted(sources - configured)
    if unknown:
        raise ValueError(
            f"`sources` names {', '.join(unknown)}, which no channel of config.toml takes "
            f"(its sources: {', '.join(sorted(configured))})"
        )
    return sources


def _first(exc: Exception) -> Exception:
    """The first error of a group that has only one (the outbox's task group), else itself."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _enabled(runtime: Runtime) -> list[EnabledAdapter]:
    adapters, problems = configured_adapters(runtime.settings.adapters)
    if problems:
        source = runtime.loaded.source
        raise ConfigError(
            [Problem(source, None, dotted(key), message, fix) for key, message, fix in problems]
        )
    return adapters


def _describe(exc: BaseException) -> str:
    """Say what failed: the first error inside a group, its type and its message."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
