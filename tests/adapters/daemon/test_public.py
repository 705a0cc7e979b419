"""The public listener's answers, on its own: routes found, bodies limited, failures said.

The application is driven through httpx's ASGI transport (the whole flow through a real server
on loopback is ``tests/adapters/channels/test_channel_flow.py``); the routes are a real
channel's, kept by a small table standing in for the supervisor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import httpx
import pytest

from aiguillage.adapters.channels import Answer, Inbound, InboundRoute
from aiguillage.adapters.daemon.public import PublicApp
from aiguillage.adapters.daemon.supervisor import routes_by_key

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Table:
    def __init__(self, routes: Mapping[str, InboundRoute] | None) -> None:
        self.routes = routes
        self.counts: Counter[tuple[str, int]] = Counter()

    def known(self, adapter: str) -> bool:
        return adapter == "echo"

    def routes_of(self, adapter: str) -> Mapping[str, InboundRoute] | None:
        return self.routes

    def counted(self, adapter: str, status: int) -> None:
        self.counts[adapter, status] += 1


seen: list[Inbound] = []


async def echo(inbound: Inbound) -> Answer:
    seen.append(inbound)
    return Answer(201, inbound.body, "application/octet-stream", {"X-Echo": "yes"})


async def broken(inbound: Inbound) -> Answer:
    raise RuntimeError("a bug in the channel")


def client(table: Table, limit: int = 1024) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=PublicApp(table, limit))
    return httpx.AsyncClient(transport=transport, base_url="http://public")


ROUTES = routes_by_key([InboundRoute("POST", "/in", echo), InboundRoute("GET", "/boom", broken)])


async def test_a_route_gets_the_raw_body_headers_and_query_and_its_answer_goes_back() -> None:
    table = Table(ROUTES)
    body = '{"é": 1}'.encode()
    async with client(table) as http:
        answer = await http.post(
            "/channels/echo/in?a=1&a=2&b=",
            content=body,
            headers=[("X-Sig", "one"), ("x-sig", "two")],
        )
    assert (answer.status_code, answer.content, answer.headers["x-echo"]) == (201, body, "yes")
    inbound = seen[-1]
    assert (inbound.method, inbound.path, inbound.body) == ("POST", "/in", body)
    assert inbound.query == {"a": ("1", "2"), "b": ("",)}
    assert inbound.header("X-SIG") == "one, two"
    assert table.counts == Counter({("echo", 201): 1})


@pytest.mark.parametrize(
    ("method", "path", "status", "field"),
    [
        ("POST", "/channels/other/in", 404, "path"),
        ("POST", "/channels/echo/out", 404, "path"),
        ("POST", "/v1/interactions", 404, "path"),
        ("PUT", "/channels/echo/in", 405, "method"),
        ("GET", "/channels/echo/boom", 500, ""),
    ],
)
async def test_what_no_route_takes_is_refused_with_a_json_error(
    method: str, path: str, status: int, field: str
) -> None:
    async with client(Table(ROUTES)) as http:
        answer = await http.request(method, path)
    assert answer.status_code == status
    assert answer.json()["field"] == field
    assert answer.json()["detail"]
    if status == 405:
        assert answer.headers["allow"] == "POST"


async def test_a_body_over_the_limit_is_refused_before_the_channel_sees_it() -> None:
    before = len(seen)
    async with client(Table(ROUTES), limit=10) as http:
        answer = await http.post("/channels/echo/in", content=b"x" * 11)
        fits = await http.post("/channels/echo/in", content=b"x" * 10)
    assert answer.status_code == 413
    assert answer.json()["field"] == "body"
    assert fits.status_code == 201
    assert len(seen) == before + 1


async def test_a_channel_not_running_answers_503_so_that_the_peer_delivers_again() -> None:
    async with client(Table(None)) as http:
        answer = await http.post("/channels/echo/in", content=b"{}")
        health = await http.get("/healthz")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert health.status_code == 200


def test_routes_declared_twice_or_without_a_slash_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        routes_by_key([InboundRoute("POST", "/in", echo), InboundRoute("post", "/in", echo)])
    with pytest.raises(ValueError, match="/path"):
        routes_by_key([InboundRoute("POST", "in", echo)])
