"""The wall's data through a real daemon: ``GET /v1/wallboard`` and its live WebSocket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.adapters.daemons import (
    ADVISOR,
    ADVISOR_ID,
    INTEGRATOR,
    SUPERVISOR,
    Daemon,
    running,
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("wallboard"))


def _social(daemon: Daemon, external_id: str, **fields: Any) -> int:
    body = {
        "channel": "social",
        "source": "x",
        "external_id": external_id,
        "motive": "refunds",
        "text": "Bonjour",
        **fields,
    }
    with daemon.client(INTEGRATOR) as client:
        response = client.post("/v1/interactions", json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


def _socket(daemon: Daemon, token: str) -> ClientConnection:
    with daemon.client(token) as client:
        ticket = client.post("/v1/tickets").json()["ticket"]
    return connect(f"ws://127.0.0.1:{daemon.port}/v1/wallboard/live?ticket={ticket}")


def _next(socket: ClientConnection, until: Any) -> dict[str, Any]:
    """Read the wall's messages until one satisfies ``until`` (five seconds at most)."""
    for _ in range(200):
        board: dict[str, Any] = json.loads(socket.recv(timeout=5))
        if until(board):
            return board
    raise AssertionError("the wall never showed the change")


def test_the_wall_counts_the_queue_and_names_who_holds_what(daemon: Daemon) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        before = supervisor.get("/v1/wallboard").json()
        first = _social(daemon, "wall-1")
        board = supervisor.get("/v1/wallboard").json()
    social = board["channels"]["social"]
    assert social["waiting"] == before["channels"]["social"]["waiting"] + 1
    assert social["oldest_since"] is not None
    assert social["target_share"] == 0.9
    # The reference deployment has a plan: today's expected social messages, by now and all day.
    assert 0 <= social["expected_by_now"] <= social["expected_today"]
    assert social["expected_today"] > 100  # 120,000 a year
    assert board["channels"]["voice"]["expected_today"] >= 0
    # The reference deployment has a plan: today's expected social messages, by now and all day.
    assert 0 <= social["expected_by_now"] <= social["expected_today"]
    assert social["expected_today"] > 100  # 120,000 a year
    assert board["channels"]["voice"]["expected_today"] >= 0
    assert board["seq"] > before["seq"]
    assert board["health"]["ready"] is True
    assert board["health"]["role"] == "leader"
    advisors = {advisor["id"]: advisor for advisor in board["advisors"]}
    assert advisors[ADVISOR_ID]["state"] == "offline"
    assert advisors[ADVISOR_ID]["capacity"] == {"voice": 0, "written": 2, "social": 3}

    with daemon.client(ADVISOR) as advisor:
        assert (
            advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"}).status_code
            == 200
        )
    with daemon.client(SUPERVISOR) as supervisor:
        board = supervisor.get("/v1/wallboard").json()
    camille = next(a for a in board["advisors"] if a["id"] == ADVISOR_ID)
    assert camille["state"] == "available"
    assert camille["since"] is not None
    assert first in camille["holding"]
    assert camille["load"] == {"social": 1}
    assert board["channels"]["social"]["offered"] >= 1


def test_the_live_wall_is_pushed_after_each_change_with_its_seq(daemon: Daemon) -> None:
    with _socket(daemon, SUPERVISOR) as socket:
        first = json.loads(socket.recv(timeout=5))
        arrived = _social(daemon, "wall-live-1", motive="general")
        board = _next(
            socket,
            lambda b: (
                any(arrived in a["holding"] for a in b["advisors"])
                or b["channels"]["social"]["waiting"] > first["channels"]["social"]["waiting"]
            ),
        )
        assert board["seq"] > first["seq"]


def test_the_wall_is_for_supervisors_and_admins_only(daemon: Daemon) -> None:
    for token in (ADVISOR, INTEGRATOR):
        with daemon.client(token) as client:
            response = client.get("/v1/wallboard")
            assert response.status_code == 403, response.text
            assert response.json()["error"] == "forbidden"
        with _socket(daemon, token) as socket:
            assert json.loads(socket.recv(timeout=5))["error"] == "forbidden"
    assert httpx.get(daemon.url + "/v1/wallboard").status_code == 401
    with connect(f"ws://127.0.0.1:{daemon.port}/v1/wallboard/live?ticket=forged") as socket:
        assert json.loads(socket.recv(timeout=5))["error"] == "unauthorized"
