"""``aiguillage serve``: the runtime, the API and the HTTP servers on one event loop.

One anyio task group holds the engine task (``Runtime.run``), the adapters' supervisor, uvicorn
serving the API and, when an enabled channel declares inbound routes, a second uvicorn serving
the public listener (``public``); with ``[reports.head_export]``, the daily export of the
journal's head (``head_export``). SIGTERM or SIGINT asks both servers to stop accepting and
finish the requests in flight; then the adapters stop (saving their cursors), the runtime
answers what is left in its inbox, snapshots and closes the journal, and the process exits 0.
A fatal journal error (another daemon holds it, an unknown format) stops everything with
status 1 and a message. uvloop runs the loop on Linux.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Generator
from pathlib import Path
from typing import Any

import anyio
import uvicorn

from aiguillage.adapters.config.settings import LoadedConfig
from aiguillage.adapters.daemon.api.app import create_app
from aiguillage.adapters.daemon.api.oidc import Oidc
from aiguillage.adapters.daemon.auth import Tickets, Tokens
from aiguillage.adapters.daemon.head_export import HeadExporter
from aiguillage.adapters.daemon.public import PublicApp
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.supervisor import Supervisor
from aiguillage.adapters.stores.access_log import AccessLog
from aiguillage.adapters.stores.journal import Journal
from aiguillage.adapters.stores.personal import PersonalStore
from aiguillage.adapters.stores.sqlite.access_log import SQLiteAccessLog
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore
from aiguillage.adapters.stores.urls import RedisStore, SQLiteStore

__all__ = ["build_runtime", "run_daemon", "serve"]


def build_runtime(
    loaded: LoadedConfig,
    store: SQLiteStore | RedisStore | Path,
    *,
    standby: bool = False,
    address: str = "",
) -> Runtime:
    """Return the runtime of a deployment on its store (a journal file's path: SQLite).

    ``address`` is how clients reach this daemon; a Redis journal keeps it in the leader's
    lease, so that a standby can name the leader.
    """
    if isinstance(store, Path):
        store = SQLiteStore(store)
    if isinstance(store, SQLiteStore):
        if standby:
            raise ValueError(
                "--standby needs a shared journal (--store redis://…): an SQLite journal has "
                "one daemon on one machine"
            )
        sqlite_store = store

        def sqlite_journal() -> Journal:
            return SQLiteJournal(sqlite_store.path)

        def sqlite_personal(journal: Journal) -> PersonalStore:
            return SQLitePersonalStore(sqlite_store.personal_path)

        def sqlite_access(journal: Journal) -> AccessLog:
            return SQLiteAccessLog(sqlite_store.path)

        return Runtime(loaded, sqlite_journal, sqlite_personal, access_factory=sqlite_access)

    # Imported here: redis is not loaded by a daemon on SQLite.
    from aiguillage.adapters.stores.redis.access_log import RedisAccessLog
    from aiguillage.adapters.stores.redis.journal import RedisJournal
    from aiguillage.adapters.stores.redis.personal import RedisPersonalStore

    redis_store = store
    daemon = loaded.settings.daemon

    def redis_journal() -> Journal:
        return RedisJournal(
            redis_store.url,
            domain=redis_store.domain,
            lease_s=daemon.lease_s,
            address=address,
            archive_dir=redis_store.archive_dir,
        )

    def redis_personal(journal: Journal) -> PersonalStore:
        assert isinstance(journal, RedisJournal)
        return RedisPersonalStore(journal)

    def redis_access(journal: Journal) -> AccessLog:
        assert isinstance(journal, RedisJournal)
        return RedisAccessLog(journal)

    return Runtime(
        loaded, redis_journal, redis_personal, standby=standby, access_factory=redis_access
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ours stops it and then drains the runtime."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(runtime: Runtime, host: str, port: int) -> None:
    """Serve, with the adapters enabled, until SIGTERM or SIGINT; then drain and close."""
    tokens = Tokens.serving(runtime, os.environ)
    tickets = Tickets(runtime.daemon.ticket_ttl_s)
    adapters = Supervisor(runtime)
    oidc = Oidc.configured(runtime.settings.oidc, os.environ)
    app = create_app(runtime, tokens, tickets, adapters=adapters, oidc=oidc)
    head_export = runtime.settings.reports.head_export
    exporter = None if head_export is None else HeadExporter(runtime, head_export)
    app.state.head_exporter = exporter
    server = _server(app, host, port)
    public = None
    if adapters.serves_routes:
        daemon = runtime.daemon
        public_app = PublicApp(adapters, daemon.public_max_body_bytes)
        public = _server(public_app, daemon.public_host, daemon.public_port)
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        await group.start(adapters.run)
        if exporter is not None:
            await group.start(exporter.run)

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    server.should_exit = True
                    if public is not None:
                        public.should_exit = True
                    return

        group.start_soon(stop_on_signal)
        await group.start(app.state.nowcasts.run_every)
        if public is not None:
            group.start_soon(public.serve)
        await server.serve()
        if public is not None:
            public.should_exit = True
        app.state.nowcasts.close()
        await adapters.stop()  # before the journal closes: they save their cursors in it
        await runtime.stop()
        group.cancel_scope.cancel()


def _server(app: Any, host: str, port: int) -> _Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        ws="websockets-sansio",
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return _Server(config)


def run_daemon(runtime: Runtime, host: str, port: int) -> None:
    """Run ``serve`` on uvloop when it is installed (Linux, macOS), else on plain asyncio."""
    anyio.run(serve, runtime, host, port, backend_options={"use_uvloop": True})
