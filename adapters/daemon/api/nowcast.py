"""``GET /v1/nowcast`` and ``POST /v1/nowcast``: the rest of today, simulated from the live state.

``GET`` returns the latest nowcast (``daemon.nowcast``), made every ``[nowcast] every_minutes``;
404 before the first. ``POST`` asks for one now and answers 202 at once: it is made in the
background (after the one running, if any; none more while one asked for is still to come),
and ``GET`` shows it when its ``at`` moves on.
Supervisors and admins only, as the wall.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec

from aiguillage.adapters.daemon.api.models import ErrorOut
from aiguillage.adapters.daemon.api.routes import STAFF, caller
from aiguillage.adapters.daemon.nowcast import Nowcasts
from aiguillage.simulations.nowcast import Nowcast

__all__ = ["NOWCAST_ROUTES"]


@get(
    "/v1/nowcast",
    summary="The latest nowcast of the rest of the day",
    tags=["supervision"],
    responses={
        404: ResponseSpec(
            data_container=ErrorOut, description="not_found: no nowcast made yet (POST one)"
        )
    },
)
async def read_nowcast(request: Request[Any, Any, Any]) -> Nowcast:
    """Per channel, the service level, breaches and penalties expected by closing, with their
    90 % interval, and the same for each what-if of ``[nowcast] what_ifs``."""
    caller(request, *STAFF)
    nowcasts: Nowcasts = request.app.state.nowcasts
    if nowcasts.latest is None:
        why = f" (the last attempt failed: {nowcasts.last_error})" if nowcasts.last_error else ""
        raise NotFoundException(
            f"no nowcast made yet{why}: one is made every "
            f"{request.app.state.runtime.settings.nowcast.every_minutes} minutes; "
            "POST /v1/nowcast makes one now"
        )
    return nowcasts.latest


class NowcastAsked(msgspec.Struct, kw_only=True):
    started: bool
    """Whether this request started a nowcast (else one asked for is still to come)."""
    latest_at: str | None
    """The ``at`` of the latest nowcast: ``GET /v1/nowcast`` shows the new one once it moves."""


@post("/v1/nowcast", summary="Ask for a nowcast now", tags=["supervision"], status_code=202)
async def ask_nowcast(request: Request[Any, Any, Any]) -> NowcastAsked:
    """Simulate the rest of the day from the engine as it is now, in the background; the
    result is journaled and served by ``GET /v1/nowcast``."""
    caller(request, *STAFF)
    nowcasts: Nowcasts = request.app.state.nowcasts
    latest = nowcasts.latest
    return NowcastAsked(started=nowcasts.ask(), latest_at=None if latest is None else latest.at)


NOWCAST_ROUTES = [read_nowcast, ask_nowcast]
