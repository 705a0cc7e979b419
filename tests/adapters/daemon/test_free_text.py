"""Free text and external ids stay out of the journal: sealed in the personal store, erasable.

An advisor's transfer note, the party work is handed to, and a submission's external id (an
e-mail's Message-ID names an address) reach a real daemon through the API; the journal (its
events, its views, its snapshots, on a SQLite file or a Redis stream) holds only their digests,
and once the personal data is erased nothing of them is left in the daemon's files.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.adapters.daemon.test_personal_runtime import _redis_values
from tests.adapters.daemon.test_redis_daemon import _config, _daemon
from tests.adapters.daemons import ADMIN, ADVISOR_ID, ERASURE, INTEGRATOR, Daemon
from tests.adapters.redis_server import RedisServer

PHONE = "06 98 76 54 32"
PARTY = "Maître Apolline Vasseur-Kerbrat, avocate"
ADDRESS = "apolline.vasseur@example.org"
MESSAGE_ID = f"<20270104093011.4711.{ADDRESS}>"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    started = Daemon(tmp_path).start()
    yield started
    started.kill()


def every_byte_under(directory: Path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(directory.rglob("*")) if f.is_file())


def journal_bytes(daemon: Daemon) -> bytes:
    files = [daemon.journal, daemon.journal.with_name(daemon.journal.name + "-wal")]
    return b"".join(file.read_bytes() for file in files if file.exists())


def all_events(admin: httpx.Client) -> str:
    return admin.get("/v1/events", params={"after": 0, "limit": 5000}).text


def held(daemon: Daemon, external_id: str) -> int:
    """Submit a social message and have the advisor accept it; return its id."""
    with daemon.client(ADMIN) as admin, daemon.client(INTEGRATOR) as api:
        state = admin.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
        assert state.status_code == 200, state.text
        body = {"channel": "social", "source": "x", "external_id": external_id, "text": "Bonjour"}
        created = api.post("/v1/interactions", json=body)
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 10
        while not (offers := admin.get(f"/v1/advisors/{ADVISOR_ID}").json()["offers"]):
            assert time.monotonic() < deadline, "no offer was made"
            time.sleep(0.02)
        accepted = admin.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offers[0]}/accept")
        assert accepted.status_code == 200, accepted.text
        interaction_id: int = created.json()["id"]
        return interaction_id


def test_a_phone_number_in_a_transfer_note_is_in_no_event_and_gone_once_erased(
    daemon: Daemon,
) -> None:
    interaction_id = held(daemon, "note-1")
    note = f"Rappeler Mme Vasseur au {PHONE} après 18 h"
    with daemon.client(ADMIN) as admin:
        transferred = admin.post(
            f"/v1/interactions/{interaction_id}/transfer",
            json={"advisor_id": ADVISOR_ID, "note": note},
        )
        assert transferred.status_code == 200, transferred.text
        assert PHONE not in transferred.text
        event = transferred.json()["events"][0]
        assert event["type"] == "interaction.transferred"
        assert len(event["note_digest"]) == 64
        assert PHONE not in all_events(admin)
        assert PHONE.encode() not in journal_bytes(daemon)
        personal = admin.get(f"/v1/interactions/{interaction_id}/personal-data").json()
        assert personal["notes"] == [note]
        assert personal["text"] == "Bonjour"
        erased = admin.delete(f"/v1/interactions/{interaction_id}/personal-data", params=ERASURE)
        assert erased.json()["erased"] is True
        assert admin.get(f"/v1/interactions/{interaction_id}/personal-data").status_code == 404
    assert daemon.stop() == 0
    assert PHONE.encode() not in every_byte_under(daemon.directory)


def test_the_party_work_is_handed_to_is_sealed_like_a_note(daemon: Daemon) -> None:
    interaction_id = held(daemon, "party-1")
    with daemon.client(ADMIN) as admin:
        handed = admin.post(
            f"/v1/interactions/{interaction_id}/transfer-out",
            json={"advisor_id": ADVISOR_ID, "party": PARTY},
        )
        assert handed.status_code == 200, handed.text
        assert PARTY not in handed.text
        assert PARTY not in all_events(admin)
        personal = admin.get(f"/v1/interactions/{interaction_id}/personal-data").json()
        assert personal["parties"] == [PARTY]
        assert (
            admin.delete(
                f"/v1/interactions/{interaction_id}/personal-data", params=ERASURE
            ).status_code
            == 200
        )
    assert daemon.stop() == 0
    assert PARTY.encode() not in every_byte_under(daemon.directory)


def test_an_external_id_naming_an_address_is_journaled_as_a_keyed_digest(daemon: Daemon) -> None:
    body = {"channel": "written", "source": "email", "external_id": MESSAGE_ID, "text": "Bonjour"}
    with daemon.client(INTEGRATOR) as api:
        created = api.post("/v1/interactions", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["external_id"] == MESSAGE_ID
        interaction_id = created.json()["id"]
        assert api.get(f"/v1/interactions/{interaction_id}").json()["external_id"] == MESSAGE_ID
    assert daemon.stop() == 0  # a snapshot is written at the stop: it holds the state too
    assert ADDRESS.encode() not in journal_bytes(daemon)
    daemon.start()
    with daemon.client(INTEGRATOR) as api:
        again = api.post("/v1/interactions", json=body)
        assert (again.status_code, again.json()["id"]) == (200, interaction_id)
        with daemon.client(ADMIN) as admin:
            assert ADDRESS not in all_events(admin)
            admin.delete(f"/v1/interactions/{interaction_id}/personal-data", params=ERASURE)
        # Erased: the view shows the digest, and a resubmission is still recognised by it.
        shown = api.get(f"/v1/interactions/{interaction_id}").json()["external_id"]
        assert ADDRESS not in shown
        third = api.post("/v1/interactions", json=body)
        assert (third.status_code, third.json()["id"]) == (200, interaction_id)
    assert daemon.stop() == 0
    assert ADDRESS.encode() not in every_byte_under(daemon.directory)


def test_on_redis_a_transfer_note_reaches_neither_the_stream_nor_any_key_once_erased(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    daemon = _daemon(tmp_path / "daemon", _config(tmp_path / "daemon"), redis_server).start()
    try:
        interaction_id = held(daemon, "note-redis")
        note = f"Rappeler au {PHONE}"
        client = redis.Redis.from_url(redis_server.url)
        with daemon.client(ADMIN) as admin:
            transferred = admin.post(
                f"/v1/interactions/{interaction_id}/transfer",
                json={"advisor_id": ADVISOR_ID, "note": note},
            )
            assert transferred.status_code == 200, transferred.text
            stream = b"".join(
                value
                for key in client.scan_iter(match="*:events")
                for _, fields in client.xrange(key)
                for value in fields.values()
            )
            assert stream
            assert PHONE.encode() not in stream
            assert PHONE.encode() in b"".join(_redis_values(client))  # in the personal store
            assert admin.get(f"/v1/interactions/{interaction_id}/personal-data").json()[
                "notes"
            ] == [note]
            assert admin.delete(
                f"/v1/interactions/{interaction_id}/personal-data", params=ERASURE
            ).json()["erased"]
        assert PHONE.encode() not in b"".join(_redis_values(client))
    finally:
        daemon.kill()
