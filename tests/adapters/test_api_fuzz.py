"""Malformed requests never get a 5xx, and the daemon keeps serving (hypothesis, real daemon)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .daemon import ADMIN, ADVISOR, ADVISOR_ID, INTEGRATOR, Daemon, running


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def clients(daemon: Daemon) -> Iterator[dict[str, httpx.Client]]:
    made = {name: daemon.client(token) for name, token in
            (("admin", ADMIN), ("integrator", INTEGRATOR), ("advisor", ADVISOR))}  # fmt: skip
    yield made
    for client in made.values():
        client.close()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

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


@st.composite
def mutated_submissions(draw: st.DrawFn) -> bytes:
    body = dict(VALID)
    for key in draw(
        st.lists(st.sampled_from([*VALID, "extra", "language", "typology"]), max_size=3)
    ):
        if draw(st.booleans()):
            body[key] = draw(json_values)
        else:
            body.pop(key, None)
    body["external_id"] = draw(st.text(max_size=20)) if draw(st.booleans()) else "fuzz-x"
    return json.dumps(body).encode()


bodies = (
    mutated_submissions()
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=200)
)
ROUTES = [
    ("POST", "/v1/interactions"),
    ("POST", "/v1/interactions/1/transfer"),
    ("POST", "/v1/interactions/1/close"),
    ("POST", "/v1/interactions/2/transfer-out"),
    ("PUT", f"/v1/advisors/{ADVISOR_ID}/state"),
    ("POST", f"/v1/advisors/{ADVISOR_ID}/offers/1/decline"),
    ("POST", "/v1/advisors"),
    ("PATCH", f"/v1/advisors/{ADVISOR_ID}"),
    ("GET", "/v1/events?after=-3&limit=x"),
    ("GET", "/v1/interactions/not-a-number"),
]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    role=st.sampled_from(["admin", "integrator", "advisor"]),
    body=bodies,
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded"]
    ),
)
def test_no_malformed_request_gets_a_5xx(
    clients: dict[str, httpx.Client],
    route: tuple[str, str],
    role: str,
    body: bytes,
    content_type: str,
) -> None:
    method, path = route
    response = clients[role].request(
        method, path, content=body, headers={"content-type": content_type}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()
        assert error["error"]
        assert error["detail"]


def test_the_daemon_still_serves_after_the_fuzzing(clients: dict[str, httpx.Client]) -> None:
    assert clients["admin"].get("/livez").status_code == 200
    created = clients["integrator"].post(
        "/v1/interactions", json={**VALID, "external_id": "after-fuzz"}
    )
    assert created.status_code in (200, 201)
