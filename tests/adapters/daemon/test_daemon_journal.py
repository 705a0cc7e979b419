"""The daemon and its journal: fail-stop on write failures, one writer, erasure, verification."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from tests.adapters.daemons import ADMIN, INTEGRATOR, Daemon, write_config


def _complaint(external_id: str, text: str = "Bonjour") -> dict[str, object]:
    return {
        "channel": "written",
        "source": "email",
        "external_id": external_id,
        "motive": "refunds",
        "customer": {"name": "Jeanne Dupont", "phone": "+33 6 12 34 56 78"},
        "text": text,
    }


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command's answer, each message on one line whatever the length of the paths it names."""
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, COLUMNS="300"),
        timeout=60,
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Daemon:
    started = Daemon(tmp_path).start()
    yield started  # type: ignore[misc]
    started.kill()


def test_a_journal_that_cannot_write_gets_503_and_the_daemon_rebuilds(daemon: Daemon) -> None:
    with daemon.client(INTEGRATOR) as api:
        before = api.post("/v1/interactions", json=_complaint("before")).json()
        # Another process takes SQLite's write lock and keeps it past the busy time-out.
        blocker = sqlite3.connect(daemon.journal, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            refused = api.post("/v1/interactions", json=_complaint("during"))
            assert refused.status_code == 503
            assert refused.headers["retry-after"]
            assert refused.json()["error"] == "unavailable"
            assert api.get("/readyz").status_code == 503
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        deadline = time.monotonic() + 30
        while api.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the daemon did not rebuild"
            time.sleep(0.1)
        # What was refused was never acknowledged, so the retry creates it; what was there stays.
        retried = api.post("/v1/interactions", json=_complaint("during"))
        assert retried.status_code == 201
        assert api.get(f"/v1/interactions/{before['id']}").json()["id"] == before["id"]
        assert retried.json()["id"] != before["id"]


def test_a_second_daemon_on_the_same_journal_is_refused(daemon: Daemon) -> None:
    result = _cli(
        "serve",
        "--config", str(daemon.config),
        "--store", f"sqlite:///{daemon.journal}",
        "--port", "0",
        cwd=daemon.directory,
    )  # fmt: skip
    assert result.returncode == 1
    assert "journal.sqlite" in result.stderr
    assert str(daemon.process.pid) in result.stderr  # type: ignore[union-attr]


def test_erasure_leaves_no_byte_of_the_text_and_the_chain_still_verifies(daemon: Daemon) -> None:
    secret = "Réclamation confidentielle numéro 88-Zeta-Omicron"
    with daemon.client(INTEGRATOR) as api:
        first = api.post("/v1/interactions", json=_complaint("erase-1", secret)).json()
        second = api.post("/v1/interactions", json=_complaint("erase-2", secret + " bis")).json()
    with daemon.client(ADMIN) as admin:
        erased = admin.delete(
            f"/v1/interactions/{first['id']}/personal-data", params={"reason": "subject_request"}
        )
        assert erased.json() == {
            "interaction_id": first["id"],
            "erased": True,
            "reason": "subject_request",
        }
    store = f"sqlite:///{daemon.journal}"
    by_cli = _cli("erase", str(second["id"]), "--reason", "retention", "--config",
                  str(daemon.config), "--store", store, cwd=daemon.directory)  # fmt: skip
    assert by_cli.returncode == 0, by_cli.stderr
    assert "erased" in by_cli.stdout
    assert daemon.stop() == 0
    for path in daemon.directory.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
            assert b"Jeanne Dupont" not in path.read_bytes(), path
    verified = _cli("replay", "--verify", "--config", str(daemon.config), "--store", store,
                    cwd=daemon.directory)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout


def test_replay_verify_names_the_first_tampered_event(daemon: Daemon) -> None:
    with daemon.client(INTEGRATOR) as api:
        api.post("/v1/interactions", json=_complaint("tamper-1"))
    assert daemon.stop() == 0
    with sqlite3.connect(daemon.journal) as connection:
        last_arrival = "SELECT max(seq) FROM events WHERE type = 'interaction.arrived'"
        (seq,) = connection.execute(last_arrival).fetchone()
        connection.execute(
            "UPDATE events SET body = replace(body, 'refunds', 'fines') WHERE seq = ?", (seq,)
        )
    store = f"sqlite:///{daemon.journal}"
    verified = _cli("replay", "--verify", "--config", str(daemon.config), "--store", store,
                    cwd=daemon.directory)  # fmt: skip
    assert verified.returncode == 1
    assert f"event {seq}" in verified.stdout


def moved_deadline(image: bytes, interaction_id: int, days: int = 30) -> bytes:
    """Return an engine image with one interaction's deadline moved, re-encoded as it was."""
    decoded = msgspec.msgpack.decode(image)
    (interaction,) = [i for i in decoded["interactions"] if i["id"] == interaction_id]
    interaction["deadline"] += days * 86_400 * 1_000_000
    return msgspec.msgpack.encode(decoded)


def test_a_snapshot_changed_on_disk_is_refused_at_restart_and_named_by_verify(
    daemon: Daemon,
) -> None:
    with daemon.client(INTEGRATOR) as api:
        created = api.post("/v1/interactions", json=_complaint("sealed-1")).json()
    assert daemon.stop() == 0  # a clean stop writes a snapshot
    with sqlite3.connect(daemon.journal) as connection:
        seq, image = connection.execute(
            "SELECT seq, image FROM snapshots ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        altered = moved_deadline(image, created["id"])
        connection.execute("UPDATE snapshots SET image = ? WHERE seq = ?", (altered, seq))
    daemon.start()
    with daemon.client(INTEGRATOR) as api:
        served = api.get(f"/v1/interactions/{created['id']}").json()
    assert served["deadline"] == created["deadline"]
    refused = [
        json.loads(line)
        for line in daemon.log.read_text().splitlines()
        if line.startswith("{") and "snapshot refused" in line
    ]
    assert [(line["level"], line["seq"]) for line in refused] == [("error", seq)]
    store = f"sqlite:///{daemon.journal}"
    verified = _cli("replay", "--verify", "--config", str(daemon.config), "--store", store,
                    cwd=daemon.directory)  # fmt: skip
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert f"snapshot {seq}: its image" in verified.stdout


def test_a_restart_replays_the_tail_after_the_latest_snapshot(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("snapshot_every = 20000", "snapshot_every = 100"))
    daemon = Daemon(tmp_path, config).start()
    try:
        with daemon.client(INTEGRATOR) as api:
            ids = [
                api.post("/v1/interactions", json=_complaint(f"snap-{n}")).json()["id"]
                for n in range(75)
            ]
        daemon.kill()  # no snapshot at shutdown: the one taken on the way must serve
        daemon.start()
        starts = [
            json.loads(line)
            for line in daemon.log.read_text().splitlines()
            if line.startswith("{") and "journal replayed" in line
        ]
        assert len(starts) == 2
        assert starts[-1]["snapshot_seq"] >= 100
        assert starts[-1]["replayed"] < 100
        with daemon.client(INTEGRATOR) as api:
            assert api.get(f"/v1/interactions/{ids[-1]}").json()["external_id"] == "snap-74"
            assert api.get(f"/v1/interactions/{ids[0]}").json()["external_id"] == "snap-0"
    finally:
        daemon.kill()
