"""The daemon exports the journal's head to a file and to an HTTP receiver the authority keeps.

A real ``aiguillage serve`` on a real SQLite journal, its ``[reports.head_export]`` naming a
file and a receiver on loopback (``http.server`` in a thread), ``at`` a minute ago: the day's
export is due when it starts. The receiver is down at first, so the POST is retried until it
comes up, and then delivered once. A supervisor exports again on demand; a restart does not
export the day twice. Then the journal is cut short in its file, and ``aiguillage report
head-check`` refuses it, naming the head it no longer holds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.adapters.daemons import INTEGRATOR, SUPERVISOR, Daemon, free_port, write_config
from tests.adapters.redis_server import RedisServer
from tests.adapters.reports.test_verify import write_key

SECRET = "head-export-secret-for-tests"
UNWRAPPED = {"COLUMNS": "300"}
"""The daemon's messages on one line each, whatever the length of the paths they name."""


class Receiver:
    """An HTTP server on loopback that keeps every POST it receives and answers 200."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, int]:
    port = free_port()
    (tmp_path / "keys").mkdir()
    write_key(Ed25519PrivateKey.generate(), tmp_path / "keys/reports.pem", tmp_path / "op.pub")
    # A minute ago, Paris time: today's export is due as soon as the daemon serves.
    at = (datetime.now(ZoneInfo("Europe/Paris")) - timedelta(minutes=1)).strftime("%H:%M")
    extra = f"""
[reports]
signing_key = "keys/reports.pem"
[reports.head_export]
file = "authority/heads.jsonl"
url = "http://127.0.0.1:{port}/heads"
at = "{at}"
secret_env = "HEAD_EXPORT_SECRET"
backoff_s = 0.2
"""
    (tmp_path / "authority").mkdir()
    write_config(tmp_path, extra)
    return tmp_path, port


def report(place: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "report", *args],
        capture_output=True,
        text=True,
        cwd=place,
        timeout=120,
    )


def test_the_daemon_exports_its_head_daily_and_on_demand_and_a_cut_is_detected(
    place: tuple[Path, int],
) -> None:
    directory, port = place
    heads = directory / "authority/heads.jsonl"
    env = {"HEAD_EXPORT_SECRET": SECRET}
    daemon = Daemon(directory, directory / "config.toml", env=env).start()
    receiver = None
    try:
        wait_for(lambda: len(lines(heads)) == 1, "the day's export at start")
        first = lines(heads)[0]
        assert first["signature"]["algorithm"] == "Ed25519"
        with sqlite3.connect(daemon.journal) as connection:
            hash = connection.execute(
                "SELECT hash FROM events WHERE seq = ?", (first["position"],)
            ).fetchone()
        assert hash == (first["hash"],)

        # The receiver was down: the POST is retried until it comes up, then delivered once.
        time.sleep(0.5)
        receiver = Receiver(port)
        wait_for(lambda: len(receiver.received) == 1, "the export's delivery")
        headers, body = receiver.received[0]
        assert json.loads(body) == first
        assert body == heads.read_bytes().splitlines()[0]
        timestamp = headers["X-Aiguillage-Timestamp"]
        mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        assert headers["X-Aiguillage-Signature"] == f"sha256={mac.hexdigest()}"

        # Work arrives; a supervisor exports the head again, on demand.
        with daemon.client(INTEGRATOR) as api:
            created = api.post(
                "/v1/interactions",
                json={
                    "channel": "written",
                    "source": "email",
                    "external_id": "head-1",
                    "motive": "refunds",
                    "text": "Bonjour",
                },
            )
            assert created.status_code == 201, created.text
        with daemon.client(SUPERVISOR) as api:
            answered = api.post("/v1/reports/head-export")
        assert answered.status_code == 200, answered.text
        second = answered.json()
        assert second["position"] > first["position"]
        assert lines(heads) == [first, second]
        wait_for(lambda: len(receiver.received) == 2, "the second delivery")
        assert json.loads(receiver.received[1][1]) == second

        # A restart the same day does not export the day again.
        assert daemon.stop() == 0
        daemon = Daemon(directory, directory / "config.toml", env=env).start()
        with daemon.client(SUPERVISOR) as api:
            assert api.get("/readyz").status_code == 200
        time.sleep(1.0)
        assert len(lines(heads)) == 2
        assert len(receiver.received) == 2
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        if receiver is not None:
            receiver.close()

    store = f"sqlite:///{daemon.journal}"
    checked = report(
        directory, "head-check", str(heads), "--store", store, "--public-key", "op.pub"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the journal holds all 2 heads" in checked.stdout

    # The journal cut short: its records from the second head's on deleted from the file.
    with sqlite3.connect(daemon.journal) as connection:
        connection.execute("DELETE FROM events WHERE seq >= ?", (second["position"],))
    checked = report(directory, "head-check", str(heads), "--store", store)
    assert checked.returncode == 1
    assert (
        f"the first: line 2: the head exported at {second['at']} (event {second['position']}, "
        f"hash {second['hash']}): the journal ends at event {int(second['position']) - 1}: it "
        "was cut short since this head was exported"
    ) in checked.stdout


def test_on_demand_export_without_the_table_is_refused_naming_it(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path).start()
    try:
        with daemon.client(SUPERVISOR) as api:
            answered = api.post("/v1/reports/head-export")
        assert answered.status_code == 409
        assert answered.json()["field"] == "reports.head_export"
    finally:
        daemon.kill()


def test_a_missing_secret_stops_the_daemon_naming_the_setting(place: tuple[Path, int]) -> None:
    directory, _ = place
    daemon = Daemon(directory, directory / "config.toml")
    with pytest.raises(RuntimeError, match=r"reports\.head_export\.secret_env:\sthe\senvironment"):
        daemon.start(timeout=20)
    daemon.kill()


def test_a_daemon_on_redis_exports_its_head_and_head_check_reads_that_journal(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    at = (datetime.now(ZoneInfo("Europe/Paris")) - timedelta(minutes=1)).strftime("%H:%M")
    config = write_config(tmp_path, f'\n[reports.head_export]\nfile = "heads.jsonl"\nat = "{at}"\n')
    heads = tmp_path / "heads.jsonl"
    daemon = Daemon(tmp_path, config, store=redis_server.url).start()
    try:
        wait_for(lambda: len(lines(heads)) == 1, "the day's export at start")
    finally:
        assert daemon.stop() == 0
    (exported,) = lines(heads)
    assert "signature" not in exported  # no signing key configured
    printed = report(tmp_path, "head", "--store", redis_server.url)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["position"] >= exported["position"] > 0
    checked = report(tmp_path, "head-check", str(heads), "--store", redis_server.url)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # A head the journal never had at that position: named, on Redis as on SQLite.
    forged = dict(exported, hash="0" * 63 + "1")
    heads.write_text(heads.read_text() + json.dumps(forged) + "\n")
    checked = report(tmp_path, "head-check", str(heads), "--store", redis_server.url)
    assert checked.returncode == 1
    assert f"the first: line 2: the head exported at {exported['at']}" in checked.stdout
    assert "the journal up to it was rewritten" in checked.stdout


def test_a_file_in_no_directory_stops_the_daemon_naming_the_setting(tmp_path: Path) -> None:
    config = write_config(tmp_path, '\n[reports.head_export]\nfile = "nowhere/heads.jsonl"\n')
    daemon = Daemon(tmp_path, config, env=UNWRAPPED)
    with pytest.raises(RuntimeError, match=r"reports\.head_export\.file: \S*nowhere is not a "):
        daemon.start(timeout=20)
    daemon.kill()
