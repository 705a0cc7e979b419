"""The public listener: where channels' peers deliver, apart from the API.

A social network, a telephone system or a web form posts to the daemon from outside; the
advisors' and supervisors' API must not be exposed with it. So the routes the channels declare
(``channels.inbound``) are served by a second HTTP server, on ``[daemon] public_host`` and
``public_port``, under ``/channels/<adapter name><path>``, with no bearer token: each channel
verifies its peer (a signature over the raw body, a shared secret). It is started only when an
enabled adapter declares routes. ``GET /healthz`` answers 200 for a load balancer.

This is a plain ASGI application rather than a second Litestar app: a channel's handler gets the
body's bytes exactly as received (signatures are computed over them), and nothing parses or
decodes the request before it. A body above ``[daemon] public_max_body_bytes`` is refused with
413 before it is read whole; an unknown channel or path is 404; a known path with another
method, 405 with ``Allow``; a channel not running now (restarting after a failure), 503 with
``Retry-After``, so that the peer delivers again; a handler that raises, 500 (logged). Every
error body is JSON: ``{"error", "detail", "field"}``, as the API's are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Protocol
from urllib.parse import parse_qs

import msgspec
import structlog

from aiguillage.adapters.channels.inbound import Answer, Inbound, InboundRoute

__all__ = ["PublicApp", "Routes"]

log = structlog.get_logger("aiguillage.public")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PREFIX = "/channels/"
_ENCODE = msgspec.json.Encoder()


class Routes(Protocol):
    """Where the listener finds a channel's routes (the supervisor keeps them)."""

    def known(self, adapter: str) -> bool:
        """Whether ``adapter`` is an enabled adapter that declares routes."""
        ...

    def routes_of(self, adapter: str) -> Mapping[str, InboundRoute] | None:
        """Its routes by ``"METHOD path"``, or None while it is not running."""
        ...

    def counted(self, adapter: str, status: int) -> None:
        """Count one answer of ``adapter``'s routes (the metrics)."""
        ...


class PublicApp:
    """The ASGI application of the public listener."""

    def __init__(self, routes: Routes, max_body_bytes: int) -> None:
        self._routes = routes
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        answer, adapter = await self._answer(scope, receive)
        if adapter is not None:
            self._routes.counted(adapter, answer.status)
        headers = [
            (b"content-type", answer.content_type.encode("latin-1")),
            (b"content-length", str(len(answer.body)).encode()),
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[Answer, str | None]:
        method: str = scope["method"].upper()
        path: str = scope["path"]
        if path == "/healthz":
            return Answer.json({"status": "alive"}), None
        if not path.startswith(_PREFIX):
            return _error(404, "path", f"no route {path}; channels answer under /channels/"), None
        adapter, _, rest = path[len(_PREFIX) :].partition("/")
        if not self._routes.known(adapter):
            return _error(404, "path", f"no channel {adapter!r} is served here"), None
        routes = self._routes.routes_of(adapter)
        if routes is None:
            detail = f"channel {adapter!r} is not running now; deliver again later"
            return _error(503, "", detail, {"Retry-After": "5"}), adapter
        route = routes.get(f"{method} /{rest}")
        if route is None:
            allowed = sorted(key.split(" ", 1)[0] for key in routes if key.endswith(f" /{rest}"))
            if allowed:
                detail = f"{method} is not allowed here; use {', '.join(allowed)}"
                return _error(405, "method", detail, {"Allow": ", ".join(allowed)}), adapter
            return _error(404, "path", f"channel {adapter!r} has no route /{rest}"), adapter
        headers = _headers(scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            return _too_large(self._max_body), adapter
        body = await _body(receive, self._max_body)
        if body is None:
            return _too_large(self._max_body), adapter
        client = scope.get("client")
        inbound = Inbound(
            method=method,
            path=f"/{rest}",
            query={
                k: tuple(v)
                for k, v in parse_qs(
                    scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
                ).items()
            },
            headers=headers,
            body=body,
            client=f"{client[0]}:{client[1]}" if client else "",
        )
        try:
            answer = await route.handler(inbound)
        except Exception:
            log.exception("a channel's route failed", adapter=adapter, route=f"{method} /{rest}")
            return _error(
                500, "", "the channel failed to take this delivery; it is logged"
            ), adapter
        return answer, adapter


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def _body(receive: Receive, limit: int) -> bytes | None:
    """Read the body; None as soon as it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _error(
    status: int, field: str, detail: str, headers: Mapping[str, str] | None = None
) -> Answer:
    body = {"error": _ERRORS.get(status, "error"), "detail": detail, "field": field}
    return Answer(status, _ENCODE.encode(body), "application/json", dict(headers or {}))


def _too_large(limit: int) -> Answer:
    return _error(
        413, "body", f"the body is larger than {limit} bytes ([daemon] public_max_body_bytes)"
    )


_ERRORS = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    500: "internal",
    503: "unavailable",
}
