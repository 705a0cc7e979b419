"""What the API refuses before a handler runs: no body, numbers no store can hold, JSON nested
too deep.

Each answers 400 with the JSON error body, instead of failing deep inside (a 500) or saying
something only the framework understands:

- a route that needs a body, sent none, says so (the framework would name its own ``data``);

- an integer path or query parameter outside ``STORED_INTEGERS``, the signed 64-bit range that
  SQLite's INTEGER and Redis's stream ids hold (``/v1/interactions/9223372036854775808``), names
  the parameter in ``field``; every route is covered, whatever its parameters are called;
- a JSON body nested more than ``MAX_DEPTH`` arrays and objects deep, which the decoder would
  meet as a recursion error, and the personal-data store after it, names the body's top-level
  field it is under (no real interaction nests past a few levels).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException
from litestar.params import ParameterKwarg
from litestar.typing import FieldDefinition

from aiguillage.adapters.daemon.api.routes import InvalidField

__all__ = ["MAX_DEPTH", "STORED_INTEGERS", "LimitedRequest", "refuse_before_handler"]

STORED_INTEGERS = range(-(2**63), 2**63)
"""What a store holds: SQLite's INTEGER and Redis's stream ids are 64-bit."""

MAX_DEPTH = 32
"""Arrays and objects within each other in a JSON body, the body itself counted."""


async def refuse_before_handler(request: Request[Any, Any, Any]) -> None:
    """Refuse (400) a missing body a route needs, and an integer no store can hold."""
    parameters = request.route_handler.parsed_fn_signature.parameters
    data = parameters.get("data")
    if data is not None and not data.is_optional and not (await request.body()).strip():
        raise ClientException(
            "the request has no body: send a JSON object with this route's fields "
            "(described at /schema)"
        )
    _refuse_out_of_range(request, parameters)


def _refuse_out_of_range(
    request: Request[Any, Any, Any], parameters: Mapping[str, FieldDefinition]
) -> None:
    """Refuse, as a 400 naming it, an integer path or query parameter no store can hold."""
    for name, value in request.path_params.items():
        if isinstance(value, int) and value not in STORED_INTEGERS:
            raise InvalidField(name, _out_of_range(name, _shown(str(value))))
    for name, field in parameters.items():
        key = _query_key(name, field)
        if key is None or name in request.path_params or not _is_integer(field):
            continue
        for raw in request.query_params.getall(key, []):
            try:
                number = int(raw)
            except ValueError:  # not a number, or past what Python parses: validation says so
                continue
            if number not in STORED_INTEGERS:
                raise InvalidField(key, _out_of_range(key, _shown(raw.strip())))


class LimitedRequest(Request[Any, Any, Any]):
    """A request whose JSON body is refused (400) when nested past ``MAX_DEPTH``."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise ClientException(
                f"the JSON body is nested too deep to be read; at most {MAX_DEPTH} levels of "
                "arrays and objects within each other are accepted"
            ) from None
        under = _too_deep(value, MAX_DEPTH)
        if under is not None:
            detail = (
                f"the JSON body is nested more than {MAX_DEPTH} levels deep (arrays and objects "
                "within each other); send a flatter body"
            )
            if under:
                raise InvalidField(under, f"{detail} (under `{under}`)")
            raise ClientException(detail)
        return value


def _too_deep(value: Any, limit: int) -> str | None:
    """Return the top-level key under which ``value`` nests past ``limit`` ("" for the body
    itself), or None; walked without recursion, however deep it goes."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, top = stack.pop()
        if isinstance(node, dict):
            children: Any = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        if depth > limit:
            return top
        for key, child in children:
            under = top if depth > 1 else key if isinstance(key, str) else ""
            stack.append((child, depth + 1, under))
    return None


def _query_key(name: str, field: FieldDefinition) -> str | None:
    """Return the query key of a handler's parameter; None for a header or a cookie."""
    kwarg = field.kwarg_definition
    if isinstance(kwarg, ParameterKwarg):
        if kwarg.header or kwarg.cookie:
            return None
        return kwarg.query or name
    return name


def _is_integer(field: FieldDefinition) -> bool:
    annotation = field.annotation
    return annotation is int or (field.is_optional and int in typing.get_args(annotation))


def _shown(numeral: str) -> str:
    return numeral if len(numeral) <= 30 else f"{numeral[:12]}… ({len(numeral)} characters)"


def _out_of_range(name: str, shown: str) -> str:
    return (
        f"`{name}` {shown} is out of range: integers here are from {STORED_INTEGERS.start} to "
        f"{STORED_INTEGERS.stop - 1}"
    )
