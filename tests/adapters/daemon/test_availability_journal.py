"""A real daemon journals its starts, stops, crashes, journal losses and channel outages.

``aiguillage serve`` runs in a subprocess on a real SQLite journal; it is killed with SIGKILL,
stopped with SIGTERM, its journal locked by another process, its webhook's receiver made to
refuse; the journal is then read back as the reports read it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aiguillage.adapters.stores.journal import event_type
from aiguillage.adapters.stores.sqlite.journal import read_file
from aiguillage.engine.events import (
    ChannelDown,
    ChannelUp,
    Event,
    JournalRegained,
    ServiceAlive,
    ServiceStarted,
    ServiceStopped,
)
from aiguillage.engine.instants import SECOND, from_datetime, to_datetime
from tests.adapters.daemon.test_redis_daemon import _config as redis_config
from tests.adapters.daemon.test_redis_daemon import _daemon as redis_daemon
from tests.adapters.daemon.test_redis_daemon import _events as redis_events
from tests.adapters.daemon.test_redis_daemon import _until as until
from tests.adapters.daemons import INTEGRATOR, Daemon, write_config
from tests.adapters.redis_server import RedisServer

SECRET_ENV = "AIGUILLAGE_TEST_WEBHOOK_SECRET"
PARIS = ZoneInfo("Europe/Paris")


def _config(directory: Path, extra: str = "") -> Path:
    path = write_config(directory, extra)
    text = path.read_text()
    for key, value in (("alive_mark_s", "1"), ("channel_up_after_s", "0.5")):
        line = next(line for line in text.splitlines() if line.startswith(f"{key} = "))
        text = text.replace(line, f"{key} = {value}", 1)
    path.write_text(text)
    return path


def _events(journal: Path) -> list[Event]:
    return [record.event for record in read_file(journal)]


def _now() -> int:
    return time.time_ns() // 1000


def test_a_crash_and_a_clean_stop_are_journaled_with_the_gap_each_left(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, _config(tmp_path)).start()
    try:
        time.sleep(2.5)  # quiet: liveness marks, one a second
        killed_at = _now()
        daemon.kill()
        restarted_before = _now()
        daemon.start()
        assert daemon.stop() == 0
        stopped_at = _now()
        daemon.start()
    finally:
        daemon.kill()
    events = _events(daemon.journal)
    starts = [(i, e) for i, e in enumerate(events) if isinstance(e, ServiceStarted)]
    assert [e.previous for _, e in starts] == ["first", "crashed", "stopped"]
    (_, first), (crash_index, crash), (stop_index, after_stop) = starts
    assert first.last_alive is None
    # The crash: nothing said the daemon stopped; its gap runs from the last record written,
    # a liveness mark of the quiet seconds before the kill.
    before_crash = events[crash_index - 1]
    assert isinstance(before_crash, ServiceAlive)
    assert crash.last_alive == before_crash.at
    assert killed_at - 1.5 * SECOND < before_crash.at <= killed_at
    assert crash.at >= restarted_before
    assert sum(isinstance(e, ServiceAlive) for e in events[:crash_index]) >= 2
    # The clean stop: its record is the last before the next start, which names it.
    stopped = events[stop_index - 1]
    assert isinstance(stopped, ServiceStopped)
    assert stopped.reason == "signal"
    assert stopped.at <= stopped_at
    assert after_stop.last_alive == stopped.at
    assert after_stop.at >= stopped.at
    # The month's report lists both outages, as the journal dates them.
    month = to_datetime(crash.at, PARIS).strftime("%Y-%m")
    done = subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "report", "month", "--month",
         month, "--format", "json", "--store", f"sqlite:///{daemon.journal}",
         "--config", str(daemon.config)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outages = json.loads(done.stdout)["month"]["availability"]["outages"]
    expected = [(crash, "crashed"), (after_stop, "stopped")]
    if to_datetime(after_stop.at, PARIS).strftime("%Y-%m") != month:
        expected = expected[:1]  # a month ended between the two: the stop is the next one's
    assert [(o["kind"], o["start"], o["end"]) for o in outages] == [
        (kind, _iso(start.last_alive), _iso(start.at)) for start, kind in expected
    ]


def _iso(at: int | None) -> str:
    assert at is not None
    return to_datetime(at, PARIS).isoformat()


def test_a_journal_locked_by_another_process_is_journaled_as_lost_then_regained(
    tmp_path: Path,
) -> None:
    daemon = Daemon(tmp_path, _config(tmp_path)).start()
    try:
        blocker = sqlite3.connect(daemon.journal, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        locked_at = _now()
        try:
            with ThreadPoolExecutor(1) as pool, daemon.client(INTEGRATOR) as api:
                post = {"channel": "social", "source": "x", "external_id": "during-the-outage"}
                pending = pool.submit(api.post, "/v1/interactions", json=post)
                answer = pending.result(timeout=30)
            assert answer.status_code == 503, answer.text
            released_at = _now()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        deadline = time.monotonic() + 30
        while daemon.readyz().status_code != 200:
            assert time.monotonic() < deadline, "the daemon did not recover"
            time.sleep(0.05)
    finally:
        daemon.kill()
    regained = [e for e in _events(daemon.journal) if isinstance(e, JournalRegained)]
    assert len(regained) == 1
    (record,) = regained
    assert locked_at < record.lost_at <= released_at
    assert record.at >= released_at
    assert "lock" in record.reason or "busy" in record.reason, record.reason


class _Receiver:
    """A webhook receiver on loopback that refuses (503) while ``refusing`` is set."""

    def __init__(self) -> None:
        self.refusing = threading.Event()
        self.accepted = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                refusing = receiver.refusing.is_set()
                if not refusing:
                    receiver.accepted += 1
                self.send_response(503 if refusing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _backing_off_after(daemon: Daemon, *, restarts: int) -> bool:
    status = daemon.readyz().json()["adapters"]["webhook"]
    return bool(status["restarts"] >= restarts and status["state"] == "backing-off")


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    receiver = _Receiver()
    yield receiver
    receiver.close()


def test_a_webhook_peer_refusing_is_journaled_once_down_and_once_up(
    tmp_path: Path, receiver: _Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "a-secret-for-the-availability-tests")
    extra = (
        f'\n[adapters.webhook]\nurl = "{receiver.url}"\nsecret_env = "{SECRET_ENV}"\n'
        "backoff_s = 0.02\nattempts = 2\n"
    )
    receiver.refusing.set()
    daemon = Daemon(tmp_path, _config(tmp_path, extra)).start()
    try:
        deadline = time.monotonic() + 30
        # It fails, is restarted, and fails again: each failure a fault, one transition. The
        # peer comes back while the adapter waits to be restarted (2 s after its 2nd restart).
        while not _backing_off_after(daemon, restarts=2):
            assert time.monotonic() < deadline, daemon.readyz().text
            time.sleep(0.05)
        came_back = _now()
        receiver.refusing.clear()
        while not any(isinstance(e, ChannelUp) for e in _events(daemon.journal)):
            assert time.monotonic() < deadline, "the channel was not journaled up again"
            time.sleep(0.1)
    finally:
        daemon.kill()
    transitions = [e for e in _events(daemon.journal) if isinstance(e, ChannelDown | ChannelUp)]
    assert [(event_type(e), e.channel) for e in transitions] == [
        ("channel.down", "webhook"),
        ("channel.up", "webhook"),
    ]
    down, up = transitions
    (started,) = [e for e in _events(daemon.journal) if isinstance(e, ServiceStarted)]
    assert started.channels == ("webhook",)
    assert isinstance(down, ChannelDown)
    assert down.reason.startswith("failed: WebhookError"), down.reason
    assert down.since < came_back <= up.since
    assert up.at - up.since >= SECOND // 2  # journaled once it had worked that long
    assert receiver.accepted > 0


def test_on_redis_a_clean_stop_and_a_redis_outage_are_journaled(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = redis_config(tmp_path / "daemon")
    daemon = redis_daemon(tmp_path / "daemon", config, redis_server).start()
    try:
        assert daemon.stop() == 0  # a snapshot at the stop: the stop is read back past it
        daemon.start()
        redis_server.kill()
        killed_at = _now()
        until("the daemon says it is not ready", lambda: daemon.readyz().status_code == 503)
        redis_server.restart()
        until("the daemon serves again", lambda: daemon.readyz().status_code == 200)
        back_at = _now()
        rows = redis_events(daemon)
    finally:
        daemon.kill()
    events = [row["event"] for row in rows]
    starts = [e for e in events if e["type"] == "service.started"]
    (stopped,) = [e for e in events if e["type"] == "service.stopped"]
    assert [e["previous"] for e in starts] == ["first", "stopped"]
    assert starts[1]["last_alive"] == stopped["at"]
    # Redis gone: the leader could not write nor renew its lease; once it leads again, nobody
    # else having written, the outage is one record, from when it was lost.
    (regained,) = [e for e in events if e["type"] == "journal.regained"]
    lost_at = from_datetime(datetime.fromisoformat(regained["lost_at"]))
    assert killed_at < lost_at < back_at
    assert from_datetime(datetime.fromisoformat(regained["at"])) <= back_at
