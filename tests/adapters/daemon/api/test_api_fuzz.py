"""No request gets a 5xx, on any route, and the daemon keeps serving (hypothesis, real daemon).

Every route of the app the daemon builds is fuzzed (the list is read from that app, so a new
route is fuzzed without being named here), with every method it answers. Requests vary in type
and in range and size: path and query integers past 64 bits, negative, with thousands of digits,
or not numbers at all; long and unicode path segments; bodies of wrong types, out-of-range
values, strings up to and past ``max_body_bytes``, JSON nested from 31 to 100,000 levels, empty
ones. Derandomized, with a bounded number of examples per route: the same run every time.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.exceptions import LitestarDeprecationWarning
from litestar.routes import HTTPRoute

from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.api.app import create_app
from aiguillage.adapters.daemon.auth import Tickets, Tokens
from aiguillage.adapters.daemon.serve import build_runtime
from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    INTEGRATOR,
    SUPERVISOR,
    Daemon,
    running,
    write_config,
)


class Route(NamedTuple):
    method: str
    path: str
    """The template, as Litestar has it: ``/v1/interactions/{interaction_id:int}``."""
    query: dict[str, type]
    """The handler's query parameters and their types."""


_NOT_QUERY = {"request", "data", "scope", "socket", "state", "headers", "cookies", "query", "body"}


def _routes() -> list[Route]:
    """Every (method, path) the daemon's app answers, read from the app ``serve`` builds."""
    with tempfile.TemporaryDirectory() as directory:
        loaded = load_config(write_config(Path(directory)))
        runtime = build_runtime(loaded, Path(directory) / "journal.sqlite")  # opens nothing
        with warnings.catch_warnings():
            # What Litestar says of the handlers at every start (a body marker it will want in
            # its 3.0) is the daemon's log's business, not a failure of this listing.
            warnings.simplefilter("ignore", LitestarDeprecationWarning)
            app = create_app(runtime, Tokens.serving(runtime, {}), Tickets(60))
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):  # the offers WebSocket: fuzzed as a plain GET
            found.append(Route("GET", route.path, {}))
            continue
        for method, (handler, _) in route.route_handler_map.items():
            parameters = handler.parsed_fn_signature.parameters
            query = {
                name: field.annotation
                for name, field in parameters.items()
                if name not in _NOT_QUERY and name not in route.path_parameters
            }
            found.append(Route(method, route.path, query))
    return sorted(found)


ROUTES = _routes()

VALID: dict[str, Any] = {
    "channel": "social",
    "source": "x",
    "external_id": "fuzz",
    "received_at": "2026-11-23T09:00:00+01:00",
    "motive": "general",
    "priority": 3,
    "customer": {"name": "A"},
    "text": "t",
}

EDGE_INTEGERS = [
    0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64,
    10**22, -(10**22), 10**300,
]  # fmt: skip
integers = st.sampled_from(EDGE_INTEGERS) | st.integers(min_value=-(10**30), max_value=10**30)
numerals = (
    integers.map(str)
    | st.sampled_from(
        ["9" * 4301, "-0", "+7", "007", "1_000", "1e3", "0x1F", "\uff11\uff12", " 3", ""]
    )
    | st.text(max_size=12)
)
"""What a client may send where a number is expected."""


def _quoted(text: str) -> str:
    """Percent-encode a path segment, as a client does."""
    return quote(text, safe="")


segments = (
    st.text(max_size=40)
    | st.sampled_from(["camille.laurent", "é" * 3000, "x" * 8000, "..", "%", "~"])
).map(_quoted)
"""A path segment where a string is expected."""

json_values = st.recursive(
    st.none()
    | st.booleans()
    | integers
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def nested(depth: int, kind: str) -> str:
    """JSON nested ``depth`` levels: arrays, objects, or a submission whose customer nests."""
    if kind == "arrays":
        return "[" * depth + "]" * depth
    inner = '{"a":' * depth + "1" + "}" * depth
    return (
        inner
        if kind == "objects"
        else json.dumps({**VALID, "customer": None}).replace(
            '"customer": null', f'"customer": {inner}'
        )
    )


EDGE_DATES = [
    "0001-01-01T00:00:00+14:00",  # a .NET "null date" with an offset
    "0001-01-01T00:00:00-14:00",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999-14:00",
    "9999-12-31T23:59:59+14:00",
    "2026-02-29T09:00:00+01:00",  # no such day
    "2026-11-23T09:00:00+25:00",  # no such offset
]
datetimes = st.sampled_from(EDGE_DATES) | st.datetimes(timezones=st.timezones()).map(
    lambda moment: moment.isoformat()
)
"""What a client may send where a datetime with an offset is expected."""


@st.composite
def mutated_submissions(draw: st.DrawFn) -> bytes:
    body = dict(VALID)
    for key in draw(
        st.lists(st.sampled_from([*VALID, "extra", "language", "typology", "skills"]), max_size=3)
    ):
        if draw(st.booleans()):
            body[key] = draw(datetimes if key == "received_at" else json_values)
        else:
            body.pop(key, None)
    body["external_id"] = draw(st.text(max_size=20)) if draw(st.booleans()) else "fuzz-x"
    return json.dumps(body).encode()


@st.composite
def sized(draw: st.DrawFn, limit: int) -> bytes:
    """A submission whose text brings the body to about ``limit`` bytes, or past it."""
    target = limit + draw(st.sampled_from([-64, -1, 0, 1, 3 * limit]))
    char = draw(st.sampled_from(["x", "é", "😀"]))
    frame = json.dumps({**VALID, "text": ""}, ensure_ascii=False).encode()
    count = max(0, target - len(frame)) // len(char.encode())
    return json.dumps({**VALID, "text": char * count}, ensure_ascii=False).encode()


def bodies(limit: int) -> st.SearchStrategy[bytes]:
    return (
        mutated_submissions()
        | json_values.map(lambda value: json.dumps(value).encode())
        | st.builds(
            nested,
            st.sampled_from([31, 32, 33, 500, 1000, 5000, 100_000]),
            st.sampled_from(["arrays", "objects", "customer"]),
        ).map(str.encode)
        | sized(limit)
        | st.just(b"")
        | st.binary(max_size=200)
    )


_PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


@st.composite
def targets(draw: st.DrawFn, route: Route) -> str:
    """The route's path with its parameters filled, and a query string."""
    path = _PARAMETER.sub(
        lambda match: draw(numerals.map(_quoted) if match[2] == "int" else segments), route.path
    )
    names = [*route.query, *draw(st.lists(st.text(min_size=1, max_size=8), max_size=2))]
    query = {
        name: draw(numerals if route.query.get(name) is int else st.text(max_size=20))
        for name in names
        if draw(st.booleans())
    }
    return f"{path}?{urlencode(query)}" if query else path


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def clients(daemon: Daemon) -> Iterator[dict[str, httpx.Client]]:
    tokens = {"admin": ADMIN, "supervisor": SUPERVISOR, "integrator": INTEGRATOR,
              "advisor": ADVISOR, "nobody": None}  # fmt: skip
    made = {name: daemon.client(token) for name, token in tokens.items()}
    yield made
    for client in made.values():
        client.close()


@pytest.fixture(scope="module")
def limit(daemon: Daemon) -> int:
    return load_config(daemon.config).settings.daemon.max_body_bytes


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_no_request_gets_a_5xx(route: Route, clients: dict[str, httpx.Client], limit: int) -> None:
    @settings(
        max_examples=20,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        target=targets(route),
        role=st.sampled_from(sorted(clients)),
        body=bodies(limit),
        content_type=st.sampled_from(
            ["application/json", "text/plain", "application/x-www-form-urlencoded"]
        ),
    )
    def requested(target: str, role: str, body: bytes, content_type: str) -> None:
        response = clients[role].request(
            route.method, target, content=body, headers={"content-type": content_type}
        )
        assert response.status_code < 500, (route.method, target[:200], response.text)
        # The documentation's pages are for a browser: Litestar answers an unknown one in HTML.
        if response.status_code >= 400 and not route.path.startswith("/schema/"):
            error = response.json()
            assert error["error"]
            assert error["detail"]

    requested()


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ("/v1/interactions/9223372036854775808", "interaction_id"),
        ("/v1/interactions/-9223372036854775809/close", "interaction_id"),
        ("/v1/advisors/camille.laurent/offers/18446744073709551616/accept", "offer_id"),
        ("/v1/events?after=99999999999999999999999", "after"),
        ("/v1/events?after=9223372036854775808", "after"),
    ],
)
def test_an_integer_no_store_holds_is_400_naming_it(
    clients: dict[str, httpx.Client], target: str, field: str
) -> None:
    method = "GET" if "/close" not in target and "/accept" not in target else "POST"
    response = clients["admin"].request(method, target)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert "out of range" in response.json()["detail"]


@pytest.mark.parametrize("kind", ["arrays", "objects", "customer"])
@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_json_nested_too_deep_is_400_saying_so(
    clients: dict[str, httpx.Client], depth: int, kind: str
) -> None:
    response = clients["integrator"].post(
        "/v1/interactions",
        content=nested(depth, kind),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "nested" in response.json()["detail"]
    if kind == "customer" and depth < 1000:
        assert response.json()["field"] == "customer"


def test_json_nested_32_levels_is_read(clients: dict[str, httpx.Client]) -> None:
    body = nested(30, "customer").replace('"external_id": "fuzz"', '"external_id": "deep-30"')
    response = clients["integrator"].post(
        "/v1/interactions", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text


def test_the_daemon_still_serves_after_the_fuzzing(clients: dict[str, httpx.Client]) -> None:
    assert clients["admin"].get("/livez").status_code == 200
    created = clients["integrator"].post(
        "/v1/interactions", json={**VALID, "external_id": "after-fuzz"}
    )
    assert created.status_code in (200, 201)
