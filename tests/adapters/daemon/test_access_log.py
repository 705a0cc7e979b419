"""Who read whose personal data: the access log of a real daemon, read through the API and
verified by ``aiguillage replay --verify``.

Real daemons in subprocesses (``daemons.py``), on a SQLite journal and on a real
``redis-server``; browser sessions through a client that keeps cookies, as a page does.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.adapters.daemon.api.test_api import assert_error, complaint
from tests.adapters.daemon.api.test_sessions import browser, sign_in
from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    ERASURE,
    INTEGRATOR,
    SUPERVISOR,
    Daemon,
    running,
)
from tests.adapters.redis_server import RedisServer

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("access"))


@contextmanager
def own_daemon(directory: Path) -> Iterator[Daemon]:
    """A daemon of the test's own, for what changes its journal file."""
    yield from running(directory)


def submitted(daemon: Daemon) -> int:
    with daemon.client(INTEGRATOR) as api:
        created = api.post("/v1/interactions", json=complaint())
        assert created.status_code == 201, created.text
        interaction_id: int = created.json()["id"]
        return interaction_id


def access_log(daemon: Daemon, interaction_id: int, token: str = ADMIN) -> list[dict[str, Any]]:
    with daemon.client(token) as auditor:
        page = auditor.get("/v1/access-log", params={"interaction": interaction_id})
        assert page.status_code == 200, page.text
        entries: list[dict[str, Any]] = page.json()["entries"]
        return entries


def mint(daemon: Daemon, role: str) -> str:
    with daemon.client(ADMIN) as admin:
        minted = admin.post("/v1/tokens", json={"role": role, "label": f"a {role}"})
        assert minted.status_code == 201, minted.text
        token: str = minted.json()["token"]
        return token


def replay_verify(daemon: Daemon) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "replay", "--verify",
         "--config", str(daemon.config), "--store", daemon.store],
        capture_output=True, text=True, cwd=daemon.directory, timeout=60,
    )  # fmt: skip


def test_a_token_reading_personal_data_twice_is_recorded_once_with_its_route_and_day(
    daemon: Daemon,
) -> None:
    interaction_id = submitted(daemon)
    path = f"/v1/interactions/{interaction_id}/personal-data"
    with daemon.client(SUPERVISOR) as supervisor:
        for _ in range(2):
            read = supervisor.get(path)
            assert read.status_code == 200, read.text
        assert supervisor.get(f"/v1/interactions/{interaction_id}").status_code == 200
    entries = access_log(daemon, interaction_id)
    assert len(entries) == 1, entries
    (entry,) = entries
    assert entry["by"]["kind"] == "token"
    assert entry["by"]["role"] == "supervisor"
    assert entry["route"] == f"GET {path}"
    assert entry["kind"] == "read"
    assert entry["session"] == datetime.now(PARIS).date().isoformat()
    assert entry["interaction_id"] == interaction_id
    assert "Jeanne" not in str(entries)  # who read, never what


def test_another_token_reading_the_same_interaction_is_another_entry(daemon: Daemon) -> None:
    interaction_id = submitted(daemon)
    other = mint(daemon, "supervisor")
    for token in (SUPERVISOR, other, other):
        with daemon.client(token) as reader:
            read = reader.get(f"/v1/interactions/{interaction_id}/personal-data")
            assert read.status_code == 200, read.text
    entries = access_log(daemon, interaction_id)
    assert len(entries) == 2
    assert entries[0]["by"] != entries[1]["by"]
    assert entries[1]["by"]["kind"] == "token"


def test_the_work_s_view_with_its_external_id_is_a_read_too(daemon: Daemon) -> None:
    interaction_id = submitted(daemon)
    with daemon.client(ADMIN) as admin:
        assert admin.get(f"/v1/interactions/{interaction_id}").status_code == 200
    (entry,) = access_log(daemon, interaction_id)
    assert entry["route"] == f"GET /v1/interactions/{interaction_id}"
    assert entry["by"]["kind"] == "admin"


def test_a_browser_session_is_recorded_once_per_session_by_its_id(daemon: Daemon) -> None:
    interaction_id = submitted(daemon)
    token = mint(daemon, "supervisor")
    sessions = []
    for _ in range(2):
        with browser(daemon.url) as page:
            sign_in(page, token)
            for _ in range(2):
                read = page.get(f"/v1/interactions/{interaction_id}/personal-data")
                assert read.status_code == 200, read.text
        sessions.append(access_log(daemon, interaction_id)[-1]["session"])
    entries = access_log(daemon, interaction_id)
    assert len(entries) == 2  # one per session, not per read
    assert sessions[0] != sessions[1]
    today = datetime.now(PARIS).date().isoformat()
    assert today not in sessions
    assert all(len(sid) >= 16 for sid in sessions)


def test_an_erasure_is_recorded_with_who_asked_and_why(daemon: Daemon) -> None:
    interaction_id = submitted(daemon)
    path = f"/v1/interactions/{interaction_id}/personal-data"
    with daemon.client(ADMIN) as admin:
        missing = admin.delete(path)
        assert_error(missing, 400, "invalid_request", "reason")
        unknown = admin.delete(path, params={"reason": "because"})
        assert_error(unknown, 400, "invalid_request", "reason")
        assert "subject_request" in unknown.json()["detail"]
        assert admin.get(path).status_code == 200  # nothing erased by the refusals
        erased = admin.delete(path, params=ERASURE)
        assert erased.json()["erased"] is True
    entries = access_log(daemon, interaction_id)
    assert [e["kind"] for e in entries] == ["read", "erasure"]
    assert entries[1]["reason"] == "subject_request"
    assert entries[1]["by"]["kind"] == "admin"
    assert entries[1]["route"] == f"DELETE {path}"


def test_auditors_read_the_log_and_advisors_are_refused(daemon: Daemon) -> None:
    interaction_id = submitted(daemon)
    with daemon.client(ADMIN) as admin:
        admin.get(f"/v1/interactions/{interaction_id}/personal-data")
    authority = mint(daemon, "authority")
    assert len(access_log(daemon, interaction_id, authority)) == 1
    assert len(access_log(daemon, interaction_id, SUPERVISOR)) == 1
    for token in (ADVISOR, INTEGRATOR):
        with daemon.client(token) as refused:
            assert refused.get("/v1/access-log").status_code == 403
    with daemon.client(ADMIN) as admin:
        first = admin.get("/v1/access-log", params={"limit": 1}).json()
        after = admin.get("/v1/access-log", params={"after": first["next_after"]}).json()
    assert after["entries"][0]["seq"] == first["entries"][0]["seq"] + 1


def test_the_chain_verifies_and_a_changed_entry_in_the_file_is_found(tmp_path: Path) -> None:
    with own_daemon(tmp_path) as daemon:
        interaction_id = submitted(daemon)
        with daemon.client(ADMIN) as admin:
            admin.get(f"/v1/interactions/{interaction_id}/personal-data")
        with daemon.client(SUPERVISOR) as supervisor:
            supervisor.get(f"/v1/interactions/{interaction_id}/personal-data")
        intact = replay_verify(daemon)
        assert intact.returncode == 0, intact.stdout + intact.stderr
        assert "access log, 2 entries, hash chain intact" in intact.stdout
    with sqlite3.connect(daemon.journal) as raw:  # someone hides who read it
        raw.execute(
            "UPDATE access_log SET body = replace(body, 'supervisor', 'advisor') WHERE seq = 2"
        )
    broken = replay_verify(daemon)
    assert broken.returncode == 1
    assert "access log BROKEN" in broken.stdout
    assert "access entry 2" in broken.stdout


def test_the_erase_command_is_recorded_as_a_command_with_its_reason(tmp_path: Path) -> None:
    with own_daemon(tmp_path) as daemon:
        interaction_id = submitted(daemon)
        erased = subprocess.run(
            [sys.executable, "-m", "aiguillage.adapters.cli.main", "erase", str(interaction_id),
             "--reason", "retention", "--config", str(daemon.config), "--store", daemon.store],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
        )  # fmt: skip
        assert erased.returncode == 0, erased.stderr
        (entry,) = access_log(daemon, interaction_id)
        assert entry["kind"] == "erasure"
        assert entry["reason"] == "retention"
        assert entry["by"]["kind"] == "command"
        assert entry["by"]["id"].startswith("erase by ")
        refused = subprocess.run(
            [sys.executable, "-m", "aiguillage.adapters.cli.main", "erase", str(interaction_id),
             "--reason", "whim", "--config", str(daemon.config), "--store", daemon.store],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
        )  # fmt: skip
        assert refused.returncode == 2
        assert "[reasons] erase" in refused.stderr
        assert replay_verify(daemon).returncode == 0


def test_on_redis_reads_are_recorded_by_the_leader_and_verified(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    daemon = Daemon(tmp_path, store=redis_server.url).start()
    try:
        interaction_id = submitted(daemon)
        for token in (SUPERVISOR, SUPERVISOR, ADMIN):
            with daemon.client(token) as reader:
                read = reader.get(f"/v1/interactions/{interaction_id}/personal-data")
                assert read.status_code == 200, read.text
        entries = access_log(daemon, interaction_id)
        assert [e["seq"] for e in entries] == [1, 2]
        verified = replay_verify(daemon)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "access log, 2 entries, hash chain intact" in verified.stdout
    finally:
        assert daemon.stop() == 0


def test_on_redis_the_erase_command_erases_beside_the_leader_and_is_recorded(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    daemon = Daemon(tmp_path, store=redis_server.url).start()
    try:
        interaction_id = submitted(daemon)
        erased = subprocess.run(
            [sys.executable, "-m", "aiguillage.adapters.cli.main", "erase", str(interaction_id),
             "--reason", "retention", "--config", str(daemon.config), "--store", daemon.store],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
        )  # fmt: skip
        assert erased.returncode == 0, erased.stderr
        assert erased.stdout == f"interaction {interaction_id}: personal data erased\n"
        with daemon.client(ADMIN) as admin:
            gone = admin.get(f"/v1/interactions/{interaction_id}/personal-data")
            assert gone.status_code == 404, gone.text
        (entry,) = access_log(daemon, interaction_id)
        assert (entry["kind"], entry["reason"], entry["by"]["kind"]) == (
            "erasure",
            "retention",
            "command",
        )
        assert replay_verify(daemon).returncode == 0
    finally:
        assert daemon.stop() == 0


def test_a_read_is_refused_when_the_access_log_cannot_be_written(tmp_path: Path) -> None:
    with own_daemon(tmp_path) as daemon:
        interaction_id = submitted(daemon)
        # Another writer holds the file's write lock past the busy timeout: the entry cannot
        # be made durable, so the data is not shown.
        blocker = sqlite3.connect(daemon.journal, timeout=1, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with httpx.Client(base_url=daemon.url, timeout=30) as admin:
                admin.headers["Authorization"] = f"Bearer {ADMIN}"
                refused = admin.get(f"/v1/interactions/{interaction_id}/personal-data")
                assert refused.status_code == 503, refused.text
                assert "Jeanne" not in refused.text
                # Nor is anything erased that the log cannot show.
                erasing = admin.delete(
                    f"/v1/interactions/{interaction_id}/personal-data", params=ERASURE
                )
                assert erasing.status_code == 503, erasing.text
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        with daemon.client(ADMIN) as admin:  # once the daemon serves again (it may rebuild)
            deadline = time.monotonic() + 30
            kept = admin.get(f"/v1/interactions/{interaction_id}/personal-data")
            while kept.status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.2)
                kept = admin.get(f"/v1/interactions/{interaction_id}/personal-data")
        assert kept.status_code == 200, kept.text
        assert "Jeanne" in kept.text


def test_a_list_showing_external_ids_records_each_interaction_once(daemon: Daemon) -> None:
    ids = {submitted(daemon) for _ in range(3)}
    reader = mint(daemon, "supervisor")
    with daemon.client(reader) as supervisor:
        for _ in range(2):
            listed = supervisor.get("/v1/interactions", params={"limit": 1000})
            assert listed.status_code == 200, listed.text
    for interaction_id in ids:
        entries = [
            e for e in access_log(daemon, interaction_id) if e["route"] == "GET /v1/interactions"
        ]
        assert len(entries) == 1, entries
