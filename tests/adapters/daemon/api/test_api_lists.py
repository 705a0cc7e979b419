"""The lists of advisors and interactions, through a real daemon: filters, pages, roles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.adapters.daemon.api.test_api import assert_error, complaint
from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    ADVISOR_ID,
    INTEGRATOR,
    SUPERVISOR,
    Daemon,
    running,
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("daemon"))


def every_page(client: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Read a list to its end, a page at a time, following ``next_after``."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        query = dict(params) if after is None else {**params, "after": after}
        page = client.get(path, params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body[key])
        after = body["next_after"]
        if after is None:
            return items
        assert body[key][-1]["id"] == after


def submitted(client: httpx.Client, **fields: object) -> dict[str, Any]:
    created = client.post("/v1/interactions", json=complaint(**fields))
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_the_advisors_list_in_id_order_with_state_load_and_capacity(daemon: Daemon) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        whole = supervisor.get("/v1/advisors", params={"limit": 1000}).json()
        paged = every_page(supervisor, "/v1/advisors", "advisors", limit=2)
    assert whole["next_after"] is None
    ids = [advisor["id"] for advisor in whole["advisors"]]
    assert len(ids) > 2
    assert ids == sorted(ids)
    assert [advisor["id"] for advisor in paged] == ids
    camille = next(advisor for advisor in paged if advisor["id"] == ADVISOR_ID)
    assert camille["state"] == "offline"
    assert camille["capacity"]["written"] > 0
    assert set(camille["load"]) >= {"written", "social"}
    assert camille["skills"]
    assert "fr" in camille["languages"]


def test_the_advisors_filter_by_state(daemon: Daemon) -> None:
    with daemon.client(ADVISOR) as advisor, daemon.client(SUPERVISOR) as supervisor:
        ready = advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
        assert ready.status_code == 200, ready.text
        available = supervisor.get("/v1/advisors", params={"state": "available"}).json()
        offline = supervisor.get("/v1/advisors", params={"state": "offline"}).json()
        advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "offline"})
    assert [a["id"] for a in available["advisors"]] == [ADVISOR_ID]
    assert offline["advisors"]
    assert ADVISOR_ID not in [a["id"] for a in offline["advisors"]]
    assert {a["state"] for a in offline["advisors"]} == {"offline"}


def test_an_advisor_lists_only_itself_and_an_integrator_not_the_roster(daemon: Daemon) -> None:
    with daemon.client(ADVISOR) as advisor:
        mine = advisor.get("/v1/advisors").json()
    assert [a["id"] for a in mine["advisors"]] == [ADVISOR_ID]
    assert mine["next_after"] is None
    with daemon.client(INTEGRATOR) as integrator:
        assert_error(integrator.get("/v1/advisors"), 403, "forbidden")
    with daemon.client(None) as anonymous:
        assert_error(anonymous.get("/v1/interactions"), 401, "unauthorized")


def test_the_interactions_list_in_pages_with_no_gap_and_no_repeat(daemon: Daemon) -> None:
    with daemon.client(INTEGRATOR) as integrator:
        made = [submitted(integrator)["id"] for _ in range(7)]
        whole = integrator.get("/v1/interactions", params={"limit": 1000}).json()
        paged = every_page(integrator, "/v1/interactions", "interactions", limit=3)
    ids = [interaction["id"] for interaction in paged]
    assert ids == sorted(set(ids))
    assert ids == [interaction["id"] for interaction in whole["interactions"]]
    assert set(made) <= set(ids)
    assert whole["next_after"] is None


def test_the_interactions_filter_by_channel_and_reception_time(daemon: Daemon) -> None:
    with daemon.client(INTEGRATOR) as integrator:
        early = submitted(integrator, received_at="2025-03-03T09:00:00+01:00")["id"]
        social = submitted(
            integrator, channel="social", source="x", received_at="2025-03-04T09:00:00+01:00"
        )["id"]
        late = submitted(integrator, received_at="2025-03-05T09:00:00+01:00")["id"]
        window = {
            "received_since": "2025-03-03T08:00:00Z",
            "received_until": "2025-03-05T08:00:00Z",
        }
        both = integrator.get("/v1/interactions", params=window).json()["interactions"]
        only_social = integrator.get(
            "/v1/interactions", params={**window, "channel": "social"}
        ).json()["interactions"]
        since = integrator.get(
            "/v1/interactions", params={"received_since": "2025-03-04T09:00:00+01:00"}
        ).json()["interactions"]
    assert [i["id"] for i in both] == [early, social]
    assert [i["id"] for i in only_social] == [social]
    since_ids = [i["id"] for i in since]
    assert social in since_ids
    assert late in since_ids
    assert early not in since_ids


def test_the_interactions_filter_by_status_and_advisor_and_an_advisor_lists_its_work(
    daemon: Daemon,
) -> None:
    message_id = "<list.1@example.org>"
    with (
        daemon.client(INTEGRATOR) as integrator,
        daemon.client(ADVISOR) as advisor,
        daemon.client(SUPERVISOR) as supervisor,
    ):
        queued = submitted(integrator)["id"]
        advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
        held = submitted(integrator, channel="social", source="x", external_id=message_id)
        assert held["status"] == "offered", held
        assert held["advisor_id"] == ADVISOR_ID
        accepted = advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{held['offer_id']}/accept")
        assert accepted.status_code == 200, accepted.text
        advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "not_ready"})

        assigned = every_page(supervisor, "/v1/interactions", "interactions", status="assigned")
        several = every_page(
            supervisor, "/v1/interactions", "interactions", status=["assigned", "queued,closed"]
        )
        by_camille = every_page(supervisor, "/v1/interactions", "interactions", advisor=ADVISOR_ID)
        own = every_page(advisor, "/v1/interactions", "interactions")
        assert_error(
            advisor.get("/v1/interactions", params={"advisor": "hugo.simon"}), 403, "forbidden"
        )

        assert advisor.post(f"/v1/interactions/{held['id']}/close").status_code == 200
        own_after = every_page(advisor, "/v1/interactions", "interactions")
        handled = every_page(
            supervisor, "/v1/interactions", "interactions", advisor=ADVISOR_ID, status="closed"
        )
        advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "offline"})

    assert [i["id"] for i in assigned] == [held["id"]]
    assert {i["status"] for i in several} <= {"assigned", "queued", "closed"}
    assert {held["id"], queued} <= {i["id"] for i in several}
    assert held["id"] in [i["id"] for i in by_camille]
    assert queued not in [i["id"] for i in by_camille]
    assert [(i["id"], i["external_id"]) for i in own] == [(held["id"], message_id)]
    assert own_after == []
    assert [(i["id"], i["handled_by"]) for i in handled] == [(held["id"], ADVISOR_ID)]


def test_the_external_id_is_listed_as_given_to_those_who_may_read_personal_data(
    daemon: Daemon,
) -> None:
    message_id = "<list.2@example.org>"
    with daemon.client(INTEGRATOR) as integrator:
        made = submitted(integrator, external_id=message_id, received_at="2024-06-03T09:00:00Z")
    for token in (INTEGRATOR, SUPERVISOR, ADMIN):
        with daemon.client(token) as client:
            listed = client.get(
                "/v1/interactions",
                params={
                    "received_since": "2024-06-03T00:00:00Z",
                    "received_until": "2024-06-04T00:00:00Z",
                },
            ).json()["interactions"]
        assert [(i["id"], i["external_id"]) for i in listed] == [(made["id"], message_id)]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/interactions", {"status": "lost"}, "status"),
        ("/v1/interactions", {"status": "queued,lost"}, "status"),
        ("/v1/interactions", {"channel": "fax"}, "channel"),
        ("/v1/interactions", {"received_since": "2026-11-23T09:00:00"}, "received_since"),
        ("/v1/interactions", {"received_until": "yesterday"}, "received_until"),
        ("/v1/interactions", {"limit": 0}, "limit"),
        ("/v1/interactions", {"limit": 1001}, "limit"),
        ("/v1/interactions", {"after": -1}, "after"),
        ("/v1/interactions", {"after": 2**63}, "after"),
        ("/v1/advisors", {"state": "lunch"}, "state"),
        ("/v1/advisors", {"limit": 5000}, "limit"),
    ],
)
def test_a_bad_filter_or_cursor_is_400_naming_it(
    daemon: Daemon, path: str, params: dict[str, Any], field: str
) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        assert_error(supervisor.get(path, params=params), 400, "invalid_request", field)


def test_an_offset_whose_plus_was_not_escaped_is_400_saying_how(daemon: Daemon) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        refused = supervisor.get("/v1/interactions?received_since=2026-11-23T09:00:00+01:00")
    assert_error(refused, 400, "invalid_request", "received_since")
    assert "%2B" in refused.json()["detail"]
