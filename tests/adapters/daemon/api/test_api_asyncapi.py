"""The offers WebSocket's AsyncAPI document, served by a real daemon, against what it sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, get_args

import httpx
import jsonschema
import pytest
from websockets.sync.client import connect

from aiguillage.engine.events import Event
from tests.adapters.daemon.api.test_api import complaint
from tests.adapters.daemons import ADVISOR, ADVISOR_ID, INTEGRATOR, Daemon, running


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("daemon"))


@pytest.fixture
def api(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(INTEGRATOR) as client:
        yield client


def _document(daemon: Daemon) -> dict[str, Any]:
    answer = httpx.get(f"http://127.0.0.1:{daemon.port}/schema/asyncapi.json", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = answer.json()
    return document


def test_the_asyncapi_document_lists_every_event_an_advisor_can_receive(daemon: Daemon) -> None:
    document = _document(daemon)  # no token, like /schema
    assert document["asyncapi"] == "3.0.0"
    channel = document["channels"]["offers"]
    assert channel["address"] == "/v1/offers"
    # Every event naming an advisor or an interaction reaches the advisor concerned, but the
    # roster's token.minted; the pending offers are replayed on connection. A schedule names
    # many advisors, inside its shifts: it is nobody's in particular. A refused call never
    # became work: nobody holds it. An exemption claim is the contract's, not an advisor's; the
    # service's own comings and goings, and a nowcast shown to supervisors, name nobody. An
    # audit's draw and mystery-shopper results are the quality desk's; an advisor is told of the
    # scores of its own audited work and of its customers' ratings.
    never_pushed = {
        "nowcast.published",
        "policies.set",
        "token.minted",
        "token.revoked",
        "schedule.set",
        "interaction.refused",
        "exemption.claimed",
        "exemption.decided",
        "service.started",
        "service.stopped",
        "service.alive",
        "journal.regained",
        "channel.down",
        "channel.up",
        "audit.drawn",
        "mystery.imported",
    }
    tags = {kind.__struct_config__.tag for kind in get_args(Event)} - never_pushed
    assert set(channel["messages"]) == tags | {"offer.pending", "refusal"}
    assert set(channel["x-close-codes"]) == {"1013", "4401", "4403"}


def _is_iso_with_offset(value: object) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value).utcoffset() is not None


def _validate(document: dict[str, Any], message: dict[str, Any]) -> None:
    """Validate a message against the payload the document gives for its event's type."""
    payload = document["components"]["messages"][message["event"]["type"]]["payload"]
    schema = {**payload, "components": document["components"]}
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_is_iso_with_offset)
    jsonschema.Draft202012Validator(schema, format_checker=checker).validate(message)


def _next(socket, kind: str, interaction_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    while True:
        message: dict[str, Any] = json.loads(socket.recv(timeout=10))
        event = message["event"]
        if event["type"] == kind and event.get("interaction_id") == interaction_id:
            return message


def test_what_a_client_receives_on_the_websocket_is_what_the_document_says(
    daemon: Daemon, api: httpx.Client
) -> None:
    document = _document(daemon)
    received = []
    with daemon.client(ADVISOR) as advisor:
        assert advisor.put(
            f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"}
        ).is_success
        ticket = advisor.post("/v1/tickets").json()["ticket"]
        with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket={ticket}") as socket:
            first = api.post("/v1/interactions", json=complaint(channel="social", source="x"))
            first_id = first.json()["id"]
            received.append(live := _next(socket, "offer.made", first_id))
            offer_id = live["event"]["offer_id"]
            assert advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer_id}/accept").is_success
            received.append(_next(socket, "offer.accepted", first_id))
            assert advisor.post(f"/v1/interactions/{first_id}/response").is_success
            received.append(_next(socket, "interaction.responded", first_id))
            assert advisor.post(f"/v1/interactions/{first_id}/close").is_success
            received.append(_next(socket, "interaction.closed", first_id))
        second = api.post("/v1/interactions", json=complaint(channel="social", source="x"))
        second_id = second.json()["id"]
        ticket = advisor.post("/v1/tickets").json()["ticket"]
        with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket={ticket}") as socket:
            received.append(replayed := _next(socket, "offer.pending", second_id))
        offer_id = replayed["event"]["offer_id"]
        assert advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer_id}/decline").is_success
        assert advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "offline"}).is_success
    assert [m["event"]["type"] for m in received] == [
        "offer.made",
        "offer.accepted",
        "interaction.responded",
        "interaction.closed",
        "offer.pending",
    ]
    for message in received:
        _validate(document, message)


def test_the_document_refuses_a_message_that_strays_from_it(daemon: Daemon) -> None:
    """The validation above can fail: an instant in microseconds is not what is documented."""
    document = _document(daemon)
    message = {
        "id": None,
        "seq": None,
        "event": {
            "type": "offer.pending",
            "at": 1_795_000_000_000_000,
            "offer_id": 1,
            "interaction_id": 1,
            "advisor_id": ADVISOR_ID,
            "expires_at": "2026-11-23T09:00:30+01:00",
        },
        "interaction": None,
    }
    with pytest.raises(jsonschema.ValidationError):
        _validate(document, message)
