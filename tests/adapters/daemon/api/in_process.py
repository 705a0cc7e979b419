"""A runtime and its API in this process, served by uvicorn on loopback: for the tests that
move the runtime's clock (token expiry, idle sessions), which a daemon subprocess cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn

from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.serve import _Server
from tests.adapters.daemons import free_port

__all__ = ["serving_app"]


@asynccontextmanager
async def serving_app(runtime: Runtime, app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Run the runtime and serve ``app`` (on ``port``, or a free one); yield its base URL once
    both are ready."""
    port = port or free_port()
    server = _Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    stopped = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            stopped.set()

    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        group.start_soon(serve)
        while not (runtime.ready and server.started):
            await anyio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True
        await stopped.wait()
        await runtime.stop()
        group.cancel_scope.cancel()
