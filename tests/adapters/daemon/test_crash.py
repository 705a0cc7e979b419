"""SIGKILL the daemon under load, restart it: nothing acknowledged is lost or duplicated.

Submitters in other processes keep posting interactions and record every acknowledgement; the
daemon is killed with SIGKILL at random moments and restarted. Afterwards every acknowledged
interaction is there with its original id and deadline, and its own personal data; no (source,
external id) has two interactions, the journal's hash chain is intact, replaying it shows no
advisor ever held two offers for one slot, and the personal-data store holds nothing the journal
does not. One kill lands, by design, between the commit of the personal data and the journal's.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from aiguillage.adapters.stores.personal import digest
from aiguillage.adapters.stores.sqlite.journal import read_file, verify_file
from aiguillage.adapters.stores.urls import personal_path_of
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import InteractionArrived
from tests.adapters.daemons import ADMIN, INTEGRATOR, Daemon, write_config

HERE = Path(__file__).resolve().parents[1]
DIGITAL = ["camille.laurent", "hugo.simon", "lea.michel"]


def _submitters(daemon: Daemon, out: Path, count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, str(HERE / "submitter.py"), daemon.url, INTEGRATOR, str(out), f"p{n}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in range(count)
    ]


def _make_available(daemon: Daemon) -> None:
    with daemon.client(ADMIN) as admin:
        for advisor_id in DIGITAL:
            response = admin.put(f"/v1/advisors/{advisor_id}/state", json={"state": "available"})
            assert response.status_code == 200, response.text


def test_sigkill_under_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    daemon = Daemon(tmp_path).start()
    acknowledged = tmp_path / "acknowledged.jsonl"
    _make_available(daemon)
    submitters = _submitters(daemon, acknowledged, 3)
    try:
        for _ in range(4):
            time.sleep(rng.uniform(0.5, 1.5))
            daemon.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            daemon.start()
        time.sleep(1.0)
    finally:
        errors = []
        for submitter in submitters:
            submitter.kill()
            errors.append(submitter.communicate()[1].decode())
    assert not any("unexpected" in error for error in errors), errors

    records = [json.loads(line) for line in acknowledged.read_text().splitlines() if line]
    assert len(records) > 100, "the load did not run"
    with daemon.client(INTEGRATOR) as api:
        for record in records:
            read = api.get(f"/v1/interactions/{record['id']}")
            assert read.status_code == 200, record
            assert read.json()["external_id"] == record["external_id"]
            assert read.json()["deadline"] == record["deadline"]
            personal = api.get(f"/v1/interactions/{record['id']}/personal-data")
            assert personal.status_code == 200, record
            assert personal.json()["text"] == f"message {record['external_id']}"
    daemon.kill()

    # One interaction per external id, whatever the retries across crashes.
    ids_by_key: dict[str, set[int]] = {}
    for record in records:
        ids_by_key.setdefault(record["external_id"], set()).add(record["id"])
    assert all(len(ids) == 1 for ids in ids_by_key.values())

    assert verify_file(daemon.journal).ok
    arrivals, engine = _replay(daemon.journal)
    assert all(count == 1 for count in arrivals.values()), "an external id arrived twice"
    for interaction in engine.state.interactions.values():
        assert arrivals[(interaction.source, interaction.external_id)] == 1
    for advisor in engine.state.advisors.values():
        for channel, load in advisor.load.items():
            assert load <= advisor.capacity.get(channel, 0), advisor
    journaled = _journaled_digests(daemon.journal)
    for interaction_id, stored_digest, salt, data in _personal_rows(daemon.journal):
        assert stored_digest in journaled.get(interaction_id, ()), "personal data not journaled"
        assert digest(salt, data) == stored_digest


def test_a_kill_between_the_personal_commit_and_the_journal_commit_serves_nothing_of_it(
    tmp_path: Path,
) -> None:
    secret = "Zéphyrine Quincampoix-Ardouin"
    personal_path = personal_path_of(tmp_path / "journal.sqlite")
    daemon = Daemon(tmp_path).start()
    try:
        with daemon.client(INTEGRATOR) as api:
            before = api.post("/v1/interactions", json=_post("before")).json()
        # The journal's write lock, held by another process: the batch's personal data is
        # committed, and its append waits for the lock; the daemon is killed meanwhile.
        blocker = sqlite3.connect(daemon.journal, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with ThreadPoolExecutor(1) as pool, daemon.client(INTEGRATOR) as api:
                first = _post("first", customer={"name": secret}, text="Bus 42")
                pending = pool.submit(api.post, "/v1/interactions", json=first)
                deadline = time.monotonic() + 10
                while secret.encode() not in _bytes_of(personal_path):
                    assert time.monotonic() < deadline, "the personal data was not committed"
                    time.sleep(0.01)
                daemon.kill()
                assert pending.exception() is not None  # never acknowledged
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        daemon.start()
        with daemon.client(INTEGRATOR) as api:
            second = api.post("/v1/interactions", json=_post("second")).json()
            assert second["id"] == before["id"] + 1  # the id the killed batch had used
            served = api.get(f"/v1/interactions/{second['id']}/personal-data")
        assert served.status_code == 200, served.text
        assert served.json() == {
            "interaction_id": second["id"],
            "external_id": "second",
            "notes": [],
            "parties": [],
            "messages": [],
        }
        assert secret.encode() not in _bytes_of(personal_path)
    finally:
        daemon.kill()


def _post(external_id: str, **personal: object) -> dict[str, object]:
    return {"channel": "social", "source": "x", "external_id": external_id, **personal}


def _bytes_of(path: Path) -> bytes:
    """The bytes of a SQLite file and of its -wal file."""
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(file.read_bytes() for file in files if file.exists())


def _journaled_digests(journal: Path) -> dict[int, set[str]]:
    """The digests of personal data each interaction's events carry."""
    digests: dict[int, set[str]] = {}
    for record in read_file(journal):
        event = record.event
        for field in ("personal_digest", "note_digest", "party_digest"):
            value = getattr(event, field, "")
            if value:
                digests.setdefault(event.interaction_id, set()).add(value)  # type: ignore[union-attr]
    return digests


def _personal_rows(journal: Path) -> list[tuple[int, str, bytes, bytes]]:
    path = personal_path_of(journal)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT interaction_id, digest, salt, data FROM sealed")
        return [(int(i), str(d), bytes(s), bytes(data)) for i, d, s, data in rows]


def _replay(journal: Path) -> tuple[Counter[tuple[str, str]], Engine]:
    """Replay the journal, checking at each offer that the advisor had a free slot for it."""
    engine = Engine()
    arrivals: Counter[tuple[str, str]] = Counter()
    for record in read_file(journal):
        event = record.event
        if isinstance(event, InteractionArrived):
            arrivals[(event.source, event.external_id)] += 1
        engine.apply(event)
        for advisor in engine.state.advisors.values():
            for channel, load in advisor.load.items():
                assert load <= advisor.capacity.get(channel, 0), (event, advisor)
    return arrivals, engine


def test_a_deadline_passed_while_down_fires_at_restart_with_its_due_instant(
    tmp_path: Path,
) -> None:
    extra = "\n"  # calls are taken at any hour here, so the test runs at night too
    config = write_config(tmp_path, extra)
    config.write_text(
        config.read_text().replace("refuse_when_closed = true", "refuse_when_closed = false")
    )
    daemon = Daemon(tmp_path, config).start()
    try:
        received = datetime.now(UTC) - timedelta(seconds=178)
        with daemon.client(INTEGRATOR) as api:
            created = api.post(
                "/v1/interactions",
                json={
                    "channel": "voice",
                    "source": "phone",
                    "external_id": "call-1",
                    "received_at": received.isoformat(),
                },
            )
        daemon.kill()  # within milliseconds of the acknowledgement, 2 s before the deadline
        assert created.status_code == 201, created.text
        deadline = datetime.fromisoformat(created.json()["deadline"])
        assert deadline > datetime.now(UTC)
        time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 1.0)
        restarted_at = datetime.now(UTC)
        daemon.start()
        with daemon.client(ADMIN) as admin:
            events = _all_events(admin)
        breaches = [e for e in events if e["type"] == "sla.breached"]
        assert len(breaches) == 1
        breach = breaches[0]
        due = datetime.fromisoformat(str(breach["due"]))
        at = datetime.fromisoformat(str(breach["at"]))
        assert abs((due - deadline).total_seconds()) < 1e-3
        assert at >= restarted_at > due
    finally:
        daemon.kill()


def _all_events(client: httpx.Client) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    after = 0
    while True:
        page = client.get("/v1/events", params={"after": after, "limit": 1000}).json()
        events.extend(row["event"] for row in page["events"])
        if page["next_after"] == after:
            return events
        after = page["next_after"]


def test_a_call_refused_before_a_kill_is_not_journaled_again_after_the_restart(
    tmp_path: Path,
) -> None:
    daemon = Daemon(tmp_path).start()
    call = {
        "channel": "voice",
        "source": "phone",
        "external_id": "call-at-night",
        "received_at": "2026-11-22T10:00:00+01:00",  # a Sunday: the line is closed
    }
    try:
        with daemon.client(INTEGRATOR) as api:
            refused = api.post("/v1/interactions", json=call)
        daemon.kill()  # no snapshot: the refusal is in the journal's tail
        assert refused.status_code == 409, refused.text
        daemon.start()
        with daemon.client(INTEGRATOR) as api:
            again = api.post("/v1/interactions", json=call)
        assert again.json() == refused.json()
        with daemon.client(ADMIN) as admin:
            events = _all_events(admin)
        assert [e["reason"] for e in events if e["type"] == "interaction.refused"] == ["closed"]
    finally:
        daemon.kill()
