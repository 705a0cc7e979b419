"""A supervisor steers work through the API, against a real daemon: priority, move, an
advisor taken off the floor with its work, a transfer to a named advisor, a final motive.

Only supervisors and admins steer; a reason is one of ``[reasons] steer``; the journal records
the token that did it, and a move's note only as a digest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.adapters.daemon.api.test_api import assert_error, complaint
from tests.adapters.daemons import ADVISOR, ADVISOR_ID, INTEGRATOR, SUPERVISOR, Daemon, running

OTHER = "hugo.simon"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("daemon"))


def _next_of_type(socket: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = json.loads(socket.recv(timeout=10))["event"]
        if event["type"] == kind:
            return event


def of_type(answer: httpx.Response, kind: str) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["events"] if e["type"] == kind]


@pytest.mark.parametrize("path", ["priority", "move"])
@pytest.mark.parametrize("token", [ADVISOR, INTEGRATOR])
def test_only_supervisors_and_admins_steer_work(daemon: Daemon, token: str, path: str) -> None:
    with daemon.client(token) as client:
        body = {"priority": 9, "reason": "urgent"} if path == "priority" else {"reason": "vip"}
        answer = client.post(f"/v1/interactions/1/{path}", json=body)
    assert_error(answer, 403, "forbidden")


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("priority", {"priority": 12, "reason": "urgent"}, 400, "priority"),
        ("priority", {"priority": "high", "reason": "urgent"}, 400, "priority"),
        ("priority", {"priority": 5}, 400, "reason"),
        ("priority", {"priority": 5, "reason": ""}, 400, "reason"),
        ("priority", {"priority": 5, "reason": "le client a crié"}, 400, "reason"),
        ("priority", {"priority": 5, "reason": "urgent", "by": "me"}, 400, "by"),
        ("move", {}, 400, "reason"),
        ("move", {"reason": "rebalance", "channel": "fax"}, 400, "channel"),
        ("move", {"reason": "rebalance", "motive": "weather"}, 400, "motive"),
        ("move", {"reason": "rebalance", "skills": {"general": 9}}, 400, "skills[...]"),
        ("move", {"reason": "rebalance", "to_advisor": "ghost"}, 404, "to_advisor"),
        ("move", {"reason": "advisor went home"}, 400, "reason"),
    ],
)
def test_a_bad_steering_request_is_refused_naming_the_field(
    daemon: Daemon, path: str, body: dict[str, Any], status: int, field: str
) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        answer = supervisor.post(f"/v1/interactions/999999/{path}", json=body)
    error = "not_found" if status == 404 else "invalid_request"
    assert_error(answer, status, error, field)
    if field == "reason" and body.get("reason"):
        assert "urgent, vip, rebalance" in answer.json()["detail"]


def test_steering_unknown_work_is_404(daemon: Daemon) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        answer = supervisor.post(
            "/v1/interactions/999999/priority", json={"priority": 5, "reason": "urgent"}
        )
    assert_error(answer, 404, "unknown_interaction")


def test_a_close_motive_and_a_transfer_target_are_checked_by_name(daemon: Daemon) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        closed = supervisor.post("/v1/interactions/999999/close", json={"motive": "weather"})
        assert_error(closed, 400, "invalid_request", "motive")
        assert "refunds" in closed.json()["detail"]
        transferred = supervisor.post(
            "/v1/interactions/999999/transfer",
            json={"advisor_id": ADVISOR_ID, "to_advisor": "ghost"},
        )
        assert_error(transferred, 404, "not_found", "to_advisor")


def test_a_supervisor_steers_work_and_the_journal_says_who_and_why(daemon: Daemon) -> None:
    note = "Cliente très mécontente, rappeler avant midi"
    with (
        daemon.client(SUPERVISOR) as supervisor,
        daemon.client(INTEGRATOR) as integrator,
        daemon.client(ADVISOR) as advisor,
    ):
        created = integrator.post("/v1/interactions", json=complaint(channel="written"))
        assert created.status_code == 201, created.text
        work = created.json()["id"]
        path = f"/v1/interactions/{work}"

        # Waiting work gets another priority.
        (raised,) = of_type(
            supervisor.post(f"{path}/priority", json={"priority": 8, "reason": "urgent"}),
            "interaction.reprioritised",
        )
        assert (raised["priority"], raised["reason"]) == (8, "urgent")
        assert re.fullmatch(r"token:\d+", raised["by"]), raised
        assert supervisor.get(path).json()["priority"] == 8

        # The advisor takes it; the supervisor moves it to a colleague, with a note.
        (offer,) = of_type(
            advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"}),
            "offer.made",
        )
        accepted = advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer['offer_id']}/accept")
        assert accepted.status_code == 200, accepted.text
        freed = supervisor.put(f"/v1/advisors/{OTHER}/state", json={"state": "available"})
        assert freed.status_code == 200, freed.text
        ticket = advisor.post("/v1/tickets").json()["ticket"]
        with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket={ticket}") as socket:
            answer = supervisor.post(
                f"{path}/move", json={"to_advisor": OTHER, "reason": "rebalance", "note": note}
            )
            # The advisor whose work was taken is told, by whom and why.
            told = _next_of_type(socket, "interaction.moved")
            assert (told["interaction_id"], told["reason"]) == (work, "rebalance")
        (moved,) = of_type(answer, "interaction.moved")
        assert (moved["from_advisor"], moved["to_advisor"]) == (ADVISOR_ID, OTHER)
        assert moved["by"] == raised["by"]
        assert "note" not in moved
        (again,) = of_type(answer, "offer.made")
        assert (again["advisor_id"], again["rule"]) == (OTHER, "preferred_advisor")
        assert supervisor.get(f"/v1/advisors/{ADVISOR_ID}").json()["holding"] == []
        personal = supervisor.get(f"{path}/personal-data").json()
        assert personal["notes"] == [note]
        trail = supervisor.get("/v1/events", params={"limit": 5000}).text
        assert note not in trail

        # The colleague takes it; the supervisor logs the colleague out: the work goes back.
        accepted = supervisor.post(f"/v1/advisors/{OTHER}/offers/{again['offer_id']}/accept")
        assert accepted.status_code == 200, accepted.text
        held = supervisor.post(f"{path}/priority", json={"priority": 9, "reason": "vip"})
        assert_error(held, 409, "illegal_transition")
        assert "assigned" in held.json()["detail"]
        answer = supervisor.put(
            f"/v1/advisors/{OTHER}/state", json={"state": "not_ready", "reason": "meeting"}
        )
        (back,) = of_type(answer, "interaction.moved")
        assert (back["from_advisor"], back["by"], back["reason"]) == (
            OTHER,
            raised["by"],
            "meeting",
        )
        (changed,) = of_type(answer, "advisor.state_changed")
        assert (changed["state"], changed["by"]) == ("not_ready", raised["by"])
        assert supervisor.get(f"/v1/advisors/{OTHER}").json()["holding"] == []

        # An advisor setting its own state is journaled as itself.
        (own,) = of_type(
            advisor.put(
                f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "not_ready", "reason": "lunch"}
            ),
            "advisor.state_changed",
        )
        assert own["by"] == ""

        # Closed with a final motive: its outcome and what it was about, both kept.
        (closed,) = of_type(
            supervisor.post(f"{path}/close", json={"reason": "answered", "motive": "general"}),
            "interaction.closed",
        )
        assert (closed["reason"], closed["motive"]) == ("answered", "general")
        shown = supervisor.get(path).json()
        assert (shown["status"], shown["motive"]) == ("closed", "general")
