"""``aiguillage serve``: the runtime, the API and the HTTP server on one event loop.

One anyio task group holds the engine task (``Runtime.run``) and uvicorn. SIGTERM or SIGINT
asks uvicorn to stop accepting and finish the requests in flight; then the runtime answers what
is left in its inbox, snapshots and closes the journal, and the process exits 0. A fatal journal
error (another daemon holds it, an unknown format) stops everything with status 1 and a message.
uvloop runs the loop on Linux.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Generator
from pathlib import Path

import anyio
import uvicorn

from .api import create_app
from .auth import Tickets, Tokens
from .config import LoadedConfig
from .journal import Journal
from .personal import SQLitePersonalStore
from .runtime import Runtime
from .sqlite_journal import SQLiteJournal
from .stores import personal_path_of

__all__ = ["build_runtime", "run_daemon", "serve"]


def build_runtime(loaded: LoadedConfig, journal_path: Path) -> Runtime:
    def journal() -> Journal:
        return SQLiteJournal(journal_path)

    def personal() -> SQLitePersonalStore:
        return SQLitePersonalStore(personal_path_of(journal_path))

    return Runtime(loaded, journal, personal)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ours stops it and then drains the runtime."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(runtime: Runtime, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then drain and close the journal."""
    tokens = Tokens.from_settings(runtime.settings, os.environ)
    tickets = Tickets(runtime.daemon.ticket_ttl_s)
    app = create_app(runtime, tokens, tickets)
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
    server = _Server(config)
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    server.should_exit = True
                    return

        group.start_soon(stop_on_signal)
        await server.serve()
        await runtime.stop()
        group.cancel_scope.cancel()


def run_daemon(runtime: Runtime, host: str, port: int) -> None:
    """Run ``serve`` on uvloop when it is installed (Linux, macOS), else on plain asyncio."""
    anyio.run(serve, runtime, host, port, backend_options={"use_uvloop": True})
