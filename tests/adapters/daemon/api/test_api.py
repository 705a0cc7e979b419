"""The API through a real daemon on loopback, its journal on a real file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    ADVISOR_ID,
    ERASURE,
    INTEGRATOR,
    SUPERVISOR,
    Daemon,
    running,
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("daemon"))


@pytest.fixture
def api(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(INTEGRATOR) as client:
        yield client


_counter = iter(range(1, 1_000_000))


def complaint(**fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "channel": "written",
        "source": "webform",
        "external_id": f"form-{next(_counter)}",
        "received_at": "2026-11-23T09:00:00+01:00",
        "motive": "refunds",
        "customer": {"name": "Jeanne Dupont", "email": "jeanne@example.org"},
        "subject": "Remboursement",
        "text": "Mon passe Navigo a été débité deux fois.",
    }
    body.update(fields)
    return body


def assert_error(
    response: httpx.Response, status: int, error: str, field: str | None = None
) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert body["detail"]
    if field is not None:
        assert body.get("field") == field, body


def test_a_submission_is_created_once_and_read_back(api: httpx.Client) -> None:
    body = complaint()
    created = api.post("/v1/interactions", json=body)
    assert created.status_code == 201, created.text
    interaction = created.json()
    assert interaction["status"] == "queued"
    # Received Monday 23 November 2026: the 3rd working day after is Thursday the 26th, 20:00.
    assert interaction["deadline"] == "2026-11-26T20:00:00+01:00"
    assert interaction["raw_deadline"] == interaction["deadline"]  # no wait credited
    assert datetime.fromisoformat(interaction["deadline"]).utcoffset() is not None

    again = api.post("/v1/interactions", json=body)
    assert again.status_code == 200
    assert again.json()["id"] == interaction["id"]

    read = api.get(f"/v1/interactions/{interaction['id']}")
    assert read.status_code == 200
    assert read.json()["id"] == interaction["id"]
    assert read.json()["channel"] == "written"
    assert read.json()["deadline"] == interaction["deadline"]


@pytest.mark.parametrize(
    "change",
    [
        {"channel": "social", "source": "webform"},
        {"motive": "fines"},
        {"priority": 7},
    ],
)
def test_a_resubmission_with_other_content_is_409_naming_the_key(
    api: httpx.Client, change: dict[str, object]
) -> None:
    body = complaint()
    assert api.post("/v1/interactions", json=body).status_code == 201
    assert_error(
        api.post("/v1/interactions", json={**body, **change}), 409, "conflict", "external_id"
    )
    assert api.post("/v1/interactions", json=body).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"received_at": "2026-11-23T10:00:00+01:00"},  # a relay stamping its retry anew
        {"text": "Mon passe Navigo a été débité trois fois."},
    ],
)
def test_a_retry_with_another_received_at_or_text_is_the_same_interaction(
    api: httpx.Client, change: dict[str, object]
) -> None:
    """Neither is compared: the text's digest would outlive its erasure and answer guesses."""
    body = complaint()
    created = api.post("/v1/interactions", json=body).json()
    again = api.post("/v1/interactions", json={**body, **change})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == created["id"]


def test_an_unknown_interaction_is_404_with_a_json_body(api: httpx.Client) -> None:
    assert_error(api.get("/v1/interactions/987654321"), 404, "unknown_interaction")


def test_no_token_or_a_wrong_one_is_401(daemon: Daemon) -> None:
    with daemon.client(None) as anonymous:
        assert_error(anonymous.post("/v1/interactions", json=complaint()), 401, "unauthorized")
    with daemon.client("not-a-token") as stranger:
        assert_error(stranger.get("/v1/queues"), 401, "unauthorized")


def test_a_role_that_may_not_is_403(daemon: Daemon) -> None:
    with daemon.client(ADVISOR) as advisor:
        assert_error(advisor.post("/v1/interactions", json=complaint()), 403, "forbidden")
        assert_error(advisor.get("/v1/queues"), 403, "forbidden")
        other = advisor.put("/v1/advisors/hugo.simon/state", json={"state": "available"})
        assert_error(other, 403, "forbidden")
    with daemon.client(INTEGRATOR) as integrator:
        assert_error(integrator.post("/v1/advisors", json={"id": "x"}), 403, "forbidden")


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"channel": "written", "source": ', None),
        (json.dumps(complaint(priority="high")).encode(), "priority"),
        (json.dumps(complaint(priority=12)).encode(), "priority"),
        (json.dumps(complaint(channel="fax")).encode(), "channel"),
        (json.dumps(complaint(received_at="2026-11-23T09:00:00")).encode(), "received_at"),
        (json.dumps(complaint(received_at="yesterday")).encode(), "received_at"),
        (json.dumps(complaint(prority=3)).encode(), "prority"),
        (json.dumps({k: v for k, v in complaint().items() if k != "source"}).encode(), "source"),
        (b"[1, 2, 3]", None),
    ],
)
def test_bad_input_is_400_naming_the_field(
    api: httpx.Client, content: bytes, field: str | None
) -> None:
    response = api.post(
        "/v1/interactions", content=content, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "invalid_request", field)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/interactions"), ("PUT", f"/v1/advisors/{ADVISOR_ID}/state")],
)
def test_an_empty_body_is_400_saying_so(daemon: Daemon, method: str, path: str) -> None:
    with daemon.client(ADMIN) as client:
        response = client.request(method, path, headers={"content-type": "application/json"})
    assert_error(response, 400, "invalid_request")
    assert "no body" in response.json()["detail"]


def test_a_body_over_the_limit_is_413(api: httpx.Client) -> None:
    huge = complaint(text="x" * (1024 * 1024 + 10))
    assert_error(api.post("/v1/interactions", json=huge), 413, "payload_too_large")
    assert api.get("/livez").status_code == 200


def test_an_unknown_motive_is_refused_by_the_engine(api: httpx.Client) -> None:
    assert_error(api.post("/v1/interactions", json=complaint(motive="weather")), 422, "invalid")


@pytest.mark.parametrize(
    "received_at",
    [
        "0001-01-01T00:00:00+14:00",  # a .NET "null date" with an offset
        "1970-01-01T00:00:00Z",
        "2099-01-04T09:00:00+01:00",
    ],
)
def test_a_received_at_outside_the_accepted_window_is_400_and_the_daemon_serves_on(
    daemon: Daemon, api: httpx.Client, received_at: str
) -> None:
    before = httpx.get(f"{daemon.url}/readyz").json()
    response = api.post("/v1/interactions", json=complaint(received_at=received_at))
    assert_error(response, 400, "invalid_request", "received_at")
    after = httpx.get(f"{daemon.url}/readyz").json()
    assert after["ready"]
    # Nothing of the request was written (the engine's timers may write meanwhile: an offer
    # of an earlier test expiring), and the daemon serves on.
    with daemon.client(SUPERVISOR) as supervisor:
        written = supervisor.get("/v1/events", params={"after": before["last_seq"]}).json()
    assert not [row for row in written["events"] if row["event"]["type"] == "interaction.arrived"]
    assert api.post("/v1/interactions", json=complaint()).status_code == 201


def test_a_call_outside_opening_hours_is_409_and_journaled_once_as_refused(
    daemon: Daemon, api: httpx.Client
) -> None:
    before = httpx.get(f"{daemon.url}/readyz").json()["last_seq"]
    call = {
        "channel": "voice",
        "source": "phone",
        "external_id": f"call-{next(_counter)}",
        "received_at": "2026-11-22T10:00:00+01:00",  # a Sunday: the line is closed
        "motive": "refunds",
    }
    for _ in range(3):  # the switchboard retrying the same call
        refused = api.post("/v1/interactions", json=call)
        assert_error(refused, 409, "closed")
        assert refused.json()["detail"] == (
            "the voice channel is closed at 2026-11-22T10:00:00+01:00"
        )
    # Another call refused is journaled on its own; one accepted later is unaffected.
    other = api.post("/v1/interactions", json={**call, "external_id": f"call-{next(_counter)}"})
    assert_error(other, 409, "closed")
    with daemon.client(SUPERVISOR) as supervisor:
        written = supervisor.get("/v1/events", params={"after": before}).json()["events"]
    refusals = [row["event"] for row in written if row["event"]["type"] == "interaction.refused"]
    assert len(refusals) == 2
    first = refusals[0]
    assert (first["channel"], first["source"], first["motive"], first["reason"]) == (
        "voice",
        "phone",
        "refunds",
        "closed",
    )
    assert first["received_at"] == "2026-11-22T10:00:00+01:00"
    assert datetime.fromisoformat(first["at"]).utcoffset() is not None
    # The journal keeps the external id keyed, as for work that arrived; never as given.
    assert first["external_id"] not in (call["external_id"], "")
    assert refusals[1]["external_id"] != first["external_id"]
    assert call["external_id"] not in json.dumps(written)
    assert not [row for row in written if row["event"]["type"] == "interaction.arrived"]
    with daemon.client(SUPERVISOR) as supervisor:
        metrics = supervisor.get("/metrics").text
    assert 'aiguillage_interactions_refused_total{channel="voice",reason="closed"} 2.0' in metrics


def test_an_offer_reaches_the_advisor_websocket_and_the_work_goes_through(
    daemon: Daemon, api: httpx.Client
) -> None:
    with daemon.client(ADVISOR) as advisor:
        ticket = advisor.post("/v1/tickets").json()["ticket"]
        with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket={ticket}") as socket:
            assert (
                advisor.put(
                    f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"}
                ).status_code
                == 200
            )
            created = api.post("/v1/interactions", json=complaint(channel="social", source="x"))
            assert created.status_code == 201
            interaction_id = created.json()["id"]
            offer = _next_offer(socket, interaction_id)
            assert offer["interaction"]["id"] == interaction_id
            offer_id = offer["event"]["offer_id"]
            accepted = advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer_id}/accept")
            assert accepted.status_code == 200, accepted.text
            personal = advisor.get(f"/v1/interactions/{interaction_id}/personal-data")
            assert personal.status_code == 200, personal.text
            assert personal.json()["text"] == complaint()["text"]
            assert personal.json()["customer"]["name"] == "Jeanne Dupont"
            assert advisor.post(f"/v1/interactions/{interaction_id}/response").status_code == 200
            assert advisor.post(f"/v1/interactions/{interaction_id}/close").status_code == 200
        closed = api.get(f"/v1/interactions/{interaction_id}").json()
        assert closed["status"] == "closed"
        assert closed["handled_by"] == ADVISOR_ID
        assert (
            advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "offline"}).status_code
            == 200
        )


def _is_iso_with_offset(value: object) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value).utcoffset() is not None


def test_every_instant_the_api_answers_is_iso_8601_with_an_offset(
    daemon: Daemon, api: httpx.Client
) -> None:
    """Replies to commands, the audit trail and both kinds of WebSocket message: one format,
    and the live and the replayed offers in one envelope."""
    with daemon.client(ADVISOR) as advisor:
        state = advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
        assert state.status_code == 200, state.text
        assert all(_is_iso_with_offset(event["at"]) for event in state.json()["events"])
        ticket = advisor.post("/v1/tickets").json()["ticket"]
        with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket={ticket}") as socket:
            first = api.post("/v1/interactions", json=complaint(channel="social", source="x"))
            live = _next_offer(socket, first.json()["id"])
        second = api.post("/v1/interactions", json=complaint(channel="social", source="x"))
        ticket = advisor.post("/v1/tickets").json()["ticket"]
        with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket={ticket}") as socket:
            replayed = _next_offer(socket, second.json()["id"])
        for message in (live, replayed):
            assert set(message) == {"id", "seq", "event", "interaction"}
            event = message["event"]
            assert isinstance(event, dict)
            assert _is_iso_with_offset(event["at"])
            assert _is_iso_with_offset(event["expires_at"])
        assert (live["event"]["type"], replayed["event"]["type"]) == ("offer.made", "offer.pending")  # type: ignore[index]
        for offered in (first, second):
            interaction_id = offered.json()["id"]
            offer = next(
                o
                for o in (live, replayed)
                if o["event"]["interaction_id"] == interaction_id  # type: ignore[index]
            )
            offer_id = offer["event"]["offer_id"]  # type: ignore[index]
            declined = advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer_id}/decline")
            assert declined.status_code == 200, declined.text
        advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "offline"})
    with daemon.client(SUPERVISOR) as supervisor:
        page = supervisor.get("/v1/events", params={"after": 0, "limit": 5000}).json()
    instants = [
        value
        for row in page["events"]
        for name, value in row["event"].items()
        if name in ("at", "due", "until", "expires_at", "deadline", "received_at", "warning_at")
        and value is not None
    ]
    assert instants
    assert all(_is_iso_with_offset(value) for value in instants)


def _next_offer(socket, interaction_id: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    while True:
        message = json.loads(socket.recv(timeout=10))
        event = message["event"]
        if event["type"] in ("offer.made", "offer.pending") and (
            event["interaction_id"] == interaction_id
        ):
            return message


def test_an_advisor_reads_only_the_personal_data_of_its_own_work(
    daemon: Daemon, api: httpx.Client
) -> None:
    created = api.post("/v1/interactions", json=complaint()).json()
    with daemon.client(ADVISOR) as advisor:
        refused = advisor.get(f"/v1/interactions/{created['id']}/personal-data")
        assert_error(refused, 403, "forbidden")
    assert api.get(f"/v1/interactions/{created['id']}/personal-data").status_code == 200
    with daemon.client(ADMIN) as admin:
        assert (
            admin.delete(
                f"/v1/interactions/{created['id']}/personal-data", params=ERASURE
            ).status_code
            == 200
        )
    erased = api.get(f"/v1/interactions/{created['id']}/personal-data")
    assert_error(erased, 404, "not_found")


def test_an_advisor_sees_the_external_id_as_given_only_on_its_own_work(
    daemon: Daemon, api: httpx.Client
) -> None:
    message_id = f"<{next(_counter)}.jeanne.dupont@example.org>"
    created = api.post("/v1/interactions", json=complaint(external_id=message_id)).json()
    assert created["external_id"] == message_id  # the integrator gave it
    with daemon.client(ADVISOR) as advisor:
        seen = advisor.get(f"/v1/interactions/{created['id']}").json()
    assert seen["id"] == created["id"]
    assert "jeanne" not in seen["external_id"]
    assert seen["external_id"].startswith("keyed:")
    with daemon.client(SUPERVISOR) as supervisor:
        read = supervisor.get(f"/v1/interactions/{created['id']}").json()
    assert read["external_id"] == message_id


def test_a_websocket_without_a_valid_ticket_is_refused(daemon: Daemon) -> None:
    with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket=forged") as socket:
        assert json.loads(socket.recv(timeout=5))["error"] == "unauthorized"


def test_supervisors_read_the_queues_and_the_audit_trail(daemon: Daemon, api: httpx.Client) -> None:
    api.post("/v1/interactions", json=complaint())
    with daemon.client(SUPERVISOR) as supervisor:
        queues = supervisor.get("/v1/queues")
        assert queues.status_code == 200
        written = queues.json()["channels"]["written"]
        assert written["waiting"] >= 1
        assert written["oldest_wait_s"] >= 0
        page = supervisor.get("/v1/events", params={"after": 0, "limit": 5}).json()
        assert [row["seq"] for row in page["events"]] == [1, 2, 3, 4, 5]
        assert page["events"][0]["event"]["type"] == "policies.set"
        assert page["next_after"] == 5
        more = supervisor.get("/v1/events", params={"after": 5, "limit": 2}).json()
        assert [row["seq"] for row in more["events"]] == [6, 7]


def test_the_journal_holds_a_digest_not_the_personal_data(
    daemon: Daemon, api: httpx.Client
) -> None:
    secret = "Le contrôleur m'a parlé de façon très désagréable ligne 13"
    api.post("/v1/interactions", json=complaint(text=secret))
    assert secret.encode() not in daemon.journal.read_bytes()
    wal = daemon.journal.with_name(daemon.journal.name + "-wal")
    if wal.exists():
        assert secret.encode() not in wal.read_bytes()


def test_a_pause_reason_is_one_of_the_configured_codes_or_400_naming_them(daemon: Daemon) -> None:
    with daemon.client(ADMIN) as admin:
        state = "/v1/advisors/hugo.simon/state"
        assert admin.put(state, json={"state": "available"}).status_code == 200
        free_text = admin.put(state, json={"state": "not_ready", "reason": "rdv 06 12 34 56 78"})
        assert_error(free_text, 400, "invalid_request", "reason")
        assert "break, lunch" in free_text.json()["detail"]
        paused = admin.put(state, json={"state": "not_ready", "reason": "lunch"})
        assert paused.status_code == 200, paused.text
        assert paused.json()["events"][-1]["reason"] == "lunch"
        assert admin.get("/v1/advisors/hugo.simon").json()["reason"] == "lunch"
        assert admin.put(state, json={"state": "offline"}).status_code == 200


def test_a_decline_reason_is_one_of_the_configured_codes_or_400_naming_them(
    daemon: Daemon,
) -> None:
    with daemon.client(ADMIN) as admin:
        refused = admin.post(
            "/v1/advisors/hugo.simon/offers/999999/decline", json={"reason": "déjà vu ce client"}
        )
        assert_error(refused, 400, "invalid_request", "reason")
        assert "busy" in refused.json()["detail"]


def test_admins_manage_the_roster_through_journaled_commands(daemon: Daemon) -> None:
    with daemon.client(ADMIN) as admin:
        added = admin.post(
            "/v1/advisors",
            json={
                "id": "nouveau.conseiller",
                "name": "Nouveau",
                "skills": {"general": 3},
                "languages": ["fr"],
                "capacity": {"social": 2},
            },
        )
        assert added.status_code == 201, added.text
        assert added.json()["events"][0]["type"] == "advisor.added"
        changed = admin.patch("/v1/advisors/nouveau.conseiller", json={"skills": {"general": 4}})
        assert changed.status_code == 200
        read = admin.get("/v1/advisors/nouveau.conseiller").json()
        assert read["skills"] == {"general": 4}
        assert read["capacity"]["social"] == 2
        again = admin.post("/v1/advisors", json={"id": "nouveau.conseiller"})
        assert again.status_code == 409


def test_probes_and_metrics_need_no_token(daemon: Daemon) -> None:
    with daemon.client(None) as probe:
        assert probe.get("/livez").status_code == 200
        ready = probe.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["ready"] is True
        metrics = probe.get("/metrics")
        assert metrics.status_code == 200
        assert "aiguillage_queue_waiting" in metrics.text
        assert "aiguillage_journal_commit_seconds" in metrics.text
        schema = probe.get("/schema/openapi.json")
        assert schema.status_code == 200
        assert "/v1/interactions" in schema.json()["paths"]


def test_a_clean_stop_and_a_restart_keep_everything(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path).start()
    try:
        with daemon.client(INTEGRATOR) as api:
            created = api.post("/v1/interactions", json=complaint()).json()
        assert daemon.stop() == 0
        daemon.start()
        with daemon.client(INTEGRATOR) as api:
            read = api.get(f"/v1/interactions/{created['id']}").json()
        kept = ("id", "channel", "source", "external_id", "deadline", "received_at", "status")
        assert {key: read[key] for key in kept} == {key: created[key] for key in kept}
        # Its deadline passed before the stop: the breach is on record, with the warning.
        assert read["breached"]
        assert read["warned"]
        # A stop with nothing new to snapshot is as quiet as any: no error, no traceback.
        assert daemon.stop() == 0
        levels = [json.loads(line)["level"] for line in daemon.log.read_text().splitlines()]
        assert "error" not in levels
        assert "critical" not in levels
        assert "Traceback" not in daemon.log.read_text()
    finally:
        daemon.kill()


def test_the_daemon_logs_json_lines_with_ids_and_no_personal_data(
    daemon: Daemon, api: httpx.Client
) -> None:
    created = api.post("/v1/interactions", json=complaint()).json()
    lines = [json.loads(line) for line in daemon.log.read_text().splitlines() if line.strip()]
    arrivals = [line for line in lines if line["event"] == "interaction arrived"]
    assert created["id"] in {line["interaction_id"] for line in arrivals}
    text = daemon.log.read_text()
    for personal in ("Jeanne Dupont", "jeanne@example.org", "Navigo a été débité"):
        assert personal not in text
