"""The conversation routes through a real daemon: threads, answers, notes, templates, closing.

The daemon runs the reference configuration with the example templates of
``docs/examples/templates``; an advisor works with its own token, as the workspace will.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.adapters.daemon.api.test_api import assert_error, complaint
from tests.adapters.daemons import (
    ADVISOR,
    ADVISOR_ID,
    ERASURE,
    INTEGRATOR,
    ROOT,
    Daemon,
    write_config,
)

TEMPLATES = ROOT / "docs" / "examples" / "templates"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    directory = tmp_path_factory.mktemp("daemon")
    shutil.copytree(TEMPLATES, directory / "templates")
    config = write_config(directory, '\n[templates]\ndir = "templates"\n')
    daemon = Daemon(directory, config).start()
    try:
        yield daemon
    finally:
        daemon.kill()


@pytest.fixture
def advisor(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(ADVISOR) as client:
        assert client.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
        yield client
        client.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "offline"})


def held(daemon: Daemon, advisor: httpx.Client, **fields: Any) -> int:
    """Submit a complaint and have the advisor accept it; return its id."""
    with daemon.client(INTEGRATOR) as api:
        created = api.post("/v1/interactions", json=complaint(**fields))
        assert created.status_code == 201, created.text
    interaction_id: int = created.json()["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = advisor.get(f"/v1/advisors/{ADVISOR_ID}").json()
        status = advisor.get(f"/v1/interactions/{interaction_id}").json()["status"]
        if status == "assigned":
            return interaction_id
        for offer in state["offers"]:
            advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer}/accept")
        time.sleep(0.05)
    raise AssertionError("the advisor was never offered the work")


def test_a_note_stops_no_clock_and_the_first_answer_does(
    daemon: Daemon, advisor: httpx.Client
) -> None:
    # Received now: three working days ahead, the answer below is within the SLA.
    now = datetime.now(UTC).isoformat()
    interaction_id = held(daemon, advisor, received_at=now)
    path = f"/v1/interactions/{interaction_id}/messages"
    note = advisor.post(
        path, json={"text": "Client déjà venu la semaine passée.", "internal": True}
    )
    assert note.status_code == 201, note.text
    assert (note.json()["message"]["kind"], note.json()["message"]["state"]) == ("note", "internal")
    assert advisor.get(f"/v1/interactions/{interaction_id}").json()["responded_at"] is None
    answer = advisor.post(path, json={"text": "Nous vous remboursons le double débit."})
    assert answer.status_code == 201, answer.text
    message = answer.json()["message"]
    assert (message["kind"], message["state"], message["author"]) == (
        "answer",
        "posted",
        ADVISOR_ID,
    )
    types = [event["type"] for event in answer.json()["events"]]
    assert types == ["message.posted", "interaction.responded"]
    read = advisor.get(f"/v1/interactions/{interaction_id}").json()
    assert read["responded_at"] == message["at"]
    assert read["within_sla"] is True
    # A second answer is not a second first response.
    again = advisor.post(path, json={"text": "Le virement part demain."})
    assert [event["type"] for event in again.json()["events"]] == ["message.posted"]
    thread = advisor.get(path).json()["messages"]
    assert [(m["kind"], m["text"]) for m in thread] == [
        ("customer", complaint()["text"]),
        ("note", "Client déjà venu la semaine passée."),
        ("answer", "Nous vous remboursons le double débit."),
        ("answer", "Le virement part demain."),
    ]
    assert advisor.post(f"/v1/interactions/{interaction_id}/close").status_code == 200


def test_an_answer_from_a_template_is_filled_in_for_its_interaction(
    daemon: Daemon, advisor: httpx.Client
) -> None:
    listed = advisor.get("/v1/templates", params={"motive": "refunds", "language": "fr"})
    assert listed.status_code == 200
    names = [t["name"] for t in listed.json()]
    assert "accuse-reception" in names
    assert "remboursement-accorde" in names
    interaction_id = held(daemon, advisor)
    posted = advisor.post(
        f"/v1/interactions/{interaction_id}/messages", json={"template": "accuse-reception"}
    )
    assert posted.status_code == 201, posted.text
    message = posted.json()["message"]
    assert message["template"] == "accuse-reception"
    text = message["text"]
    assert "Bonjour Jeanne Dupont," in text
    assert f"AIG-{interaction_id}" in text
    # Received Monday 23 November 2026 at 09:00: due the 3rd working day after, at 20:00.
    assert "26/11/2026 à 20:00" in text
    assert "{" not in text
    assert advisor.post(f"/v1/interactions/{interaction_id}/close").status_code == 200


def test_what_cannot_be_posted_is_refused_naming_the_field(
    daemon: Daemon, advisor: httpx.Client
) -> None:
    interaction_id = held(daemon, advisor)
    path = f"/v1/interactions/{interaction_id}/messages"
    assert_error(advisor.post(path, json={"text": "  "}), 400, "invalid_request", "text")
    unknown = advisor.post(path, json={"template": "nope"})
    assert_error(unknown, 400, "invalid_request", "template")
    long = advisor.post(path, json={"text": "x" * 100_001})
    assert_error(long, 400, "invalid_request", "text")
    assert_error(advisor.post(path, json={"txt": "hi"}), 400, "invalid_request")
    with daemon.client(INTEGRATOR) as api:
        assert api.post(path, json={"text": "hi"}).status_code == 403
    closed = advisor.post(f"/v1/interactions/{interaction_id}/close", json={"reason": "lunch"})
    assert_error(closed, 400, "invalid_request", "reason")
    done = advisor.post(
        f"/v1/interactions/{interaction_id}/close", json={"reason": "no_answer_needed"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["events"][0]["reason"] == "no_answer_needed"
    # Closed: nobody holds it, so nobody answers it.
    assert advisor.post(path, json={"text": "trop tard"}).status_code in (403, 409)
    assert advisor.get(path).status_code == 403  # an advisor reads only its own work's thread
    with daemon.client(INTEGRATOR) as api:
        assert len(api.get(path).json()["messages"]) == 1
    assert_error(advisor.get("/v1/interactions/999999/messages"), 404, "unknown_interaction")


def test_an_erased_text_leaves_the_thread_whole(daemon: Daemon, advisor: httpx.Client) -> None:
    interaction_id = held(daemon, advisor)
    path = f"/v1/interactions/{interaction_id}/messages"
    assert advisor.post(path, json={"text": "Voici votre réponse."}).status_code == 201
    assert advisor.post(f"/v1/interactions/{interaction_id}/close").status_code == 200
    with daemon.client() as admin:
        erased = admin.delete(f"/v1/interactions/{interaction_id}/personal-data", params=ERASURE)
        assert erased.json()["erased"] is True
        thread = admin.get(path).json()["messages"]
    assert [(m["kind"], m["text"]) for m in thread] == [("customer", None), ("answer", None)]
    assert all(m["digest"] for m in thread)
