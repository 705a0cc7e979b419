"""The HTTP and WebSocket API (Litestar; OpenAPI at ``/schema``).

Every ``/v1`` route needs a bearer token (see ``auth``) or a browser session's cookie (see
``sessions``, ``/app/session``); ``/livez``, ``/readyz`` and ``/metrics`` do not, so that probes
and scrapers need no secret. Errors are always JSON: ``error`` (a stable
code), ``detail`` (for people) and, for bad input, ``field`` (the path of the field at fault).

Status codes::

    400 invalid_request     malformed JSON, wrong types, unknown fields, a date without offset,
                            a ``received_at`` outside the accepted window (``Rejected``), an
                            integer no store holds (``api_limits``), JSON nested too deep
    401 unauthorized        no token, or one we do not know (never minted, revoked, expired)
    403 forbidden           a role that may not do this, or an advisor acting for another
    404 not_found           no such interaction, advisor, offer or token
    409 conflict           the state refuses it (an offer already expired, a closed channel),
                            or an external id resubmitted with other content (``Conflict``)
    413 payload_too_large   a body above ``[daemon] max_body_bytes``
    415 unsupported_media_type  a body in a type the route does not read (a schedule not CSV)
    422 invalid_command     well-formed, but the engine refuses its content (an unknown motive)
    500 internal            a fault of ours, logged with its traceback; the engine serves on
                            (``CommandFailed``)
    503 unavailable         the journal is being rebuilt or cannot write, or this daemon is a
                            standby (``leader`` names the one that serves); ``Retry-After``

The OpenAPI document lists, for every ``/v1`` route, the statuses above it can answer, each with
``ErrorOut`` (``documented``, applied where the app is built, so a new route gets them too).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from copy import copy
from typing import Any

import msgspec
import structlog
from litestar import Litestar, Request, Response, get
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from aiguillage.adapters.channels.port import CommandFailed, Conflict, Rejected, Unavailable
from aiguillage.adapters.daemon.api.access import ACCESS_ROUTES
from aiguillage.adapters.daemon.api.asyncapi import asyncapi_json
from aiguillage.adapters.daemon.api.attachments import ATTACHMENT_ROUTES
from aiguillage.adapters.daemon.api.exemptions import EXEMPTION_ROUTES
from aiguillage.adapters.daemon.api.extracts import EXTRACT_ROUTES
from aiguillage.adapters.daemon.api.limits import LimitedRequest, refuse_before_handler
from aiguillage.adapters.daemon.api.messages import MESSAGE_ROUTES
from aiguillage.adapters.daemon.api.models import ErrorOut
from aiguillage.adapters.daemon.api.nowcast import NOWCAST_ROUTES
from aiguillage.adapters.daemon.api.oidc import OIDC_ROUTES, Oidc
from aiguillage.adapters.daemon.api.quality import QUALITY_ROUTES
from aiguillage.adapters.daemon.api.reports import REPORT_ROUTES
from aiguillage.adapters.daemon.api.routes import ROUTES, ticket
from aiguillage.adapters.daemon.api.schedule import SCHEDULE_ROUTES
from aiguillage.adapters.daemon.api.sessions import SESSION_ROUTES, Sessions, refresh_cookie
from aiguillage.adapters.daemon.api.subjects import SUBJECT_ROUTES
from aiguillage.adapters.daemon.api.templates import TEMPLATE_ROUTES
from aiguillage.adapters.daemon.api.tokens import TOKEN_ROUTES
from aiguillage.adapters.daemon.api.wallboard import WALLBOARD_ROUTES, wallboard_socket
from aiguillage.adapters.daemon.api.websocket import offers_socket
from aiguillage.adapters.daemon.auth import Tickets, Tokens
from aiguillage.adapters.daemon.forecast import Forecasts
from aiguillage.adapters.daemon.metrics import CONTENT_TYPE
from aiguillage.adapters.daemon.nowcast import Nowcasts
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.screens.pages import SCREEN_ROUTES
from aiguillage.adapters.daemon.supervisor import Supervisor
from aiguillage.adapters.daemon.today import Following
from aiguillage.engine.errors import (
    EngineError,
    InvalidCommand,
    Refused,
    UnknownAdvisor,
    UnknownExemption,
    UnknownInteraction,
    UnknownOffer,
    UnknownToken,
)

__all__ = ["SchemaLinks", "create_app", "documented", "error_response"]

log = structlog.get_logger("aiguillage.api")
_ENCODE = msgspec.json.Encoder()


def error_response(
    status: int,
    error: str,
    detail: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """Return the JSON error body every failure of the API has."""
    return Response(
        _ENCODE.encode(ErrorOut(error=error, detail=detail, field=field)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_command",
    429: "too_many_requests",
}


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    field = None
    detail = exc.detail
    if isinstance(exc.extra, list) and exc.extra:
        first = exc.extra[0]
        if isinstance(first, dict):
            message = str(first.get("message") or detail)
            field = _field_of(message, first.get("key"))
            detail = message + (f" (field `{field}`)" if field and field not in message else "")
    status = exc.status_code
    return error_response(
        status, _CODES.get(status, "error"), str(detail), field, dict(exc.headers or {}) or None
    )


_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`(?: - at `\$\.?([^`]*)`)?")


def _field_of(message: str, key: object) -> str | None:
    """Return the path of the field at fault, as ``customer.phone``.

    Litestar reports an unknown or missing field at the body's root as key ``data``; msgspec's
    message names the field itself, and the object it is in.
    """
    named = _NAMED_FIELD.search(message)
    if named is not None:
        parent, name = named.group(2), named.group(1)
        return f"{parent}.{name}" if parent else name
    if isinstance(key, str) and key and key != "data":
        return key
    return None


def _unavailable(request: Request[Any, Any, Any], exc: Unavailable) -> Response[bytes]:
    body = ErrorOut(error="unavailable", detail=str(exc), leader=exc.leader)
    return Response(
        _ENCODE.encode(body),
        status_code=503,
        media_type="application/json",
        headers={"Retry-After": str(exc.retry_after_s)},
    )


def _engine_error(request: Request[Any, Any, Any], exc: EngineError) -> Response[bytes]:
    if isinstance(
        exc, UnknownInteraction | UnknownAdvisor | UnknownOffer | UnknownToken | UnknownExemption
    ):
        status = 404
    elif isinstance(exc, Refused):
        status = 409
    elif isinstance(exc, InvalidCommand):
        status = 422
    else:  # pragma: no cover - every engine error is one of the above
        status = 422
    return error_response(status, exc.reason, str(exc))


def _rejected(request: Request[Any, Any, Any], exc: Rejected) -> Response[bytes]:
    return error_response(400, "invalid_request", exc.detail, exc.field)


def _conflict(request: Request[Any, Any, Any], exc: Conflict) -> Response[bytes]:
    return error_response(409, "conflict", exc.detail, exc.field)


def _command_failed(request: Request[Any, Any, Any], exc: CommandFailed) -> Response[bytes]:
    # The runtime logged the fault with its traceback; its message says what became of it.
    return error_response(500, "internal", str(exc))


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("request failed", path=request.url.path)
    return error_response(500, "internal", "an internal error; it is logged")


_ERRORS = {
    400: "invalid_request: malformed JSON, wrong types, unknown fields, a value out of bounds; "
    "`field` names the one at fault",
    401: "unauthorized: no token, or one we do not know (`WWW-Authenticate: Bearer`)",
    403: "forbidden: a role that may not do this, or an advisor acting for another",
    404: "not_found: no such interaction, advisor, offer or token",
    409: "conflict: the state refuses it, or an external id resubmitted with other content",
    413: "payload_too_large: a body above `[daemon] max_body_bytes`",
    422: "invalid_command: well-formed, but the engine refuses its content",
    500: "internal: a fault of ours, logged",
    503: "unavailable: the journal is rebuilt or cannot write, or this daemon is a standby "
    "(`leader` names the one that serves); `Retry-After`",
}


def _errors_of(handler: HTTPRouteHandler, commands: bool) -> dict[int, ResponseSpec]:
    """The error answers a ``/v1`` route can give: every route checks a token and a role, and
    may meet a fault or a journal not ready; a path names a resource (404); a body can be too
    large (413); a command can be refused by the state (409) or for its content (422)."""
    statuses = [400, 401, 403, 500, 503]
    if any("{" in path for path in handler.paths):
        statuses.append(404)
    if "data" in inspect.signature(handler.fn).parameters:
        statuses.append(413)
    if commands and handler.http_methods != {"GET"}:
        statuses += [409, 422]
    return {
        status: ResponseSpec(data_container=ErrorOut, description=_ERRORS[status])
        for status in sorted(statuses)
    }


def documented(
    handlers: Iterable[ControllerRouterHandler], *, without_commands: Iterable[object] = ()
) -> list[ControllerRouterHandler]:
    """Return ``handlers``, each ``/v1`` route a copy documenting its errors with ``ErrorOut``.

    They replace the framework's default 400 (``{status_code, detail, extra}``), which is not
    what the API answers; a route's own ``responses`` win. ``without_commands`` are the write
    routes that send the engine no command (no 409 or 422).
    """
    plain = list(without_commands)
    result: list[ControllerRouterHandler] = []
    for handler in handlers:
        if isinstance(handler, HTTPRouteHandler) and any(
            path.startswith("/v1/") for path in handler.paths
        ):
            commands = not any(handler is other for other in plain)
            handler = copy(handler)
            handler.responses = {**_errors_of(handler, commands), **(handler.responses or {})}
        result.append(handler)
    return result


class SchemaLinks(OpenAPIRenderPlugin):
    """``/schema``: a page linking the OpenAPI document, with no script fetched from elsewhere
    (the usual viewers load theirs from a CDN, and are blank offline)."""

    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = str(openapi_schema.get("info", {}).get("title", "API"))
        return (
            '<!doctype html>\n<html><head><meta charset="utf-8">'
            f"<title>{title}: OpenAPI</title></head><body>\n"
            f"<h1>{title}: OpenAPI</h1>\n<ul>\n"
            '<li><a href="/schema/openapi.json">openapi.json</a></li>\n'
            '<li><a href="/schema/openapi.yaml">openapi.yaml</a></li>\n'
            "</ul>\n<p>Every route lists the statuses it answers; every error has the body "
            "<code>{error, detail, field}</code>.</p>\n</body></html>\n"
        ).encode()


@get("/livez", include_in_schema=False, sync_to_thread=False)
def livez() -> dict[str, str]:
    """The process is alive (its event loop answers)."""
    return {"status": "alive"}


@get("/readyz", include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Ready when this daemon leads its journal, the journal is reachable and replayed.

    A load balancer health-checks this: a standby, or a daemon rebuilding, answers 503.
    ``adapters`` reports each adapter plugin; one failing does not make the daemon unready.
    """
    runtime: Runtime = request.app.state.runtime
    adapters: Supervisor | None = request.app.state.adapters
    journal = runtime.journal
    body = {
        "ready": runtime.ready,
        "role": "leader" if runtime.leading else "standby" if runtime.standby else "recovering",
        "leader": None if runtime.leading else runtime.leader,
        "epoch": journal.epoch if journal is not None and runtime.leading else None,
        # The last journal record: written, on a leader; its state is built to, on a standby.
        "last_seq": runtime.last_seq if runtime.leading else None,
        "followed_seq": runtime.followed_seq,
        "store": journal.description if journal is not None else None,
        # Server settings that put acknowledged events at risk (Redis), or "unverified" ones.
        "store_warnings": getattr(journal, "settings_report", []),
        "reason": "" if runtime.ready else runtime.unready_reason(),
        "adapters": {} if adapters is None else adapters.status(),
    }
    headers = None if runtime.ready else {"Retry-After": "2"}
    return Response(
        _ENCODE.encode(body),
        status_code=200 if runtime.ready else 503,
        media_type="application/json",
        headers=headers,
    )


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text format: queues, SLA warnings and breaches, offers, journal commits."""
    runtime: Runtime = request.app.state.runtime
    render = runtime.metrics.render
    try:
        # Rendered between batches, like every read: the gauges show only what is durable.
        body = await runtime.read(
            lambda engine: render(engine.state, runtime.clock(), ready=True, journal_ok=True)
        )
    except Unavailable:
        body = render(None, runtime.clock(), ready=False, journal_ok=False)
    return Response(body, media_type=CONTENT_TYPE)


def create_app(
    runtime: Runtime,
    tokens: Tokens,
    tickets: Tickets,
    *,
    adapters: Supervisor | None = None,
    sessions: Sessions | None = None,
    oidc: Oidc | None = None,
    debug: bool = False,
) -> Litestar:
    """Return the application serving ``runtime`` (which ``serve`` starts and stops), and
    reporting the ``adapters`` it supervises in ``/readyz``; browser ``sessions`` are signed
    with the deployment's key, idle after ``[daemon] session_idle_s`` by default; ``oidc``
    is the OpenID provider people may sign in with (none: tokens only)."""
    app = Litestar(
        route_handlers=[
            livez,
            readyz,
            metrics,
            offers_socket,
            wallboard_socket,
            *SESSION_ROUTES,
            *SCREEN_ROUTES,
            *OIDC_ROUTES,
            *documented(
                [
                    *ROUTES,
                    *MESSAGE_ROUTES,
                    *ATTACHMENT_ROUTES,
                    *TEMPLATE_ROUTES,
                    *TOKEN_ROUTES,
                    *WALLBOARD_ROUTES,
                    *NOWCAST_ROUTES,
                    *SCHEDULE_ROUTES,
                    *EXEMPTION_ROUTES,
                    *QUALITY_ROUTES,
                    *REPORT_ROUTES,
                    *ACCESS_ROUTES,
                    *EXTRACT_ROUTES,
                    *SUBJECT_ROUTES,
                ],
                without_commands=[ticket],
            ),
        ],
        exception_handlers={
            HTTPException: _http_error,
            Unavailable: _unavailable,
            EngineError: _engine_error,
            Rejected: _rejected,
            Conflict: _conflict,
            CommandFailed: _command_failed,
            Exception: _internal,
        },
        request_max_body_size=runtime.daemon.max_body_bytes,
        request_class=LimitedRequest,
        before_request=refuse_before_handler,
        before_send=[refresh_cookie],
        openapi_config=OpenAPIConfig(
            title="Aiguillage",
            version="1",
            description="Routing of calls, written complaints and social-media messages.",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer"),
                }
            ),
            security=[{"bearer": []}],
            render_plugins=[SchemaLinks(), JsonRenderPlugin(), YamlRenderPlugin()],
        ),
        debug=debug,
        logging_config=None,
    )
    app.register(asyncapi_json)  # the offers WebSocket's document, beside /schema
    app.state.runtime = runtime
    app.state.tokens = tokens
    app.state.tickets = tickets
    app.state.adapters = adapters
    app.state.following = Following()
    app.state.forecasts = Forecasts()
    app.state.nowcasts = Nowcasts(runtime, app.state.following)
    app.state.oidc = oidc
    app.state.sessions = (
        Sessions(_deployment_key(runtime), runtime.daemon.session_idle_s)
        if sessions is None
        else sessions
    )
    return app


def _deployment_key(runtime: Runtime) -> Callable[[], bytes]:
    """The deployment's secret, which sessions sign with; 503 until the runtime has read it."""

    def key() -> bytes:
        if not runtime.external_id_key:
            raise runtime.unavailable()
        return runtime.external_id_key

    return key
