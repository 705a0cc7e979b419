"""What a channel receives from outside, and what it answers: raw bytes, no framework's objects.

A channel that takes deliveries from a peer (a social network's webhook, a telephone system's
events, a web form) declares ``routes``: each an ``InboundRoute`` of a method, a path and an
``async`` handler. The daemon serves them on its public listener (``[daemon] public_host`` and
``public_port``), apart from the API, under ``/channels/<adapter name><path>``, with no bearer
token: the channel verifies the peer itself (a signature over the raw body, a shared secret).
The handler is given an ``Inbound``, the request as received (the body's bytes unparsed, since
a signature is computed over them), and returns an ``Answer``.

A handler that raises is answered 500 with a JSON body, and logged; a handler should answer
4xx itself to a delivery it refuses (a bad signature: 401 or 403), and 503 when it cannot take
the delivery now (the daemon is not ready), so that the peer retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import NamedTuple

import msgspec

__all__ = ["Answer", "Handler", "Inbound", "InboundRoute"]


class Inbound(NamedTuple):
    """One request to a channel's route, as received."""

    method: str
    """Upper case: ``POST``, ``GET``."""
    path: str
    """The route's path as declared (``/deliveries``), without ``/channels/<name>``."""
    query: Mapping[str, tuple[str, ...]]
    """Each query parameter's values, in order."""
    headers: Mapping[str, str]
    """Header names in lower case; a header given twice is joined with ``, `` (RFC 9110)."""
    body: bytes
    """The body's bytes as received (at most ``[daemon] max_body_bytes``)."""
    client: str
    """The peer's address (``host:port``), or the empty string when unknown."""

    def header(self, name: str, default: str = "") -> str:
        """Return a header's value, by a name in any case."""
        return self.headers.get(name.lower(), default)

    def parameter(self, name: str, default: str = "") -> str:
        """Return a query parameter's first value."""
        values = self.query.get(name)
        return values[0] if values else default


class Answer(NamedTuple):
    """What a channel's handler answers."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = {}

    @classmethod
    def json(cls, value: object, status: int = 200) -> Answer:
        """Return a JSON answer of ``value`` (anything msgspec encodes)."""
        return cls(status, msgspec.json.encode(value), "application/json")


Handler = Callable[[Inbound], Awaitable[Answer]]


class InboundRoute(NamedTuple):
    """One route a channel serves on the public listener."""

    method: str
    path: str
    """Starts with ``/``; exact (no parameters in the path: use the query or the body)."""
    handler: Handler
