"""The webhook adapter in a real daemon, posting to a real HTTP receiver on loopback.

The receiver checks each request as docs/examples/webhook_receiver.py does (its ``refusal`` is
the one used here), answers 500 to every fourth request, and records what it accepted.
"""

from __future__ import annotations

import json
import runpy
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.serve import build_runtime
from aiguillage.adapters.daemon.supervisor import Supervisor
from tests.adapters.daemons import ADVISOR, ADVISOR_ID, INTEGRATOR, SUPERVISOR, Daemon, write_config

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "webhook_receiver.py"
SECRET = "a-secret-for-the-webhook-tests"
SECRET_ENV = "AIGUILLAGE_TEST_WEBHOOK_SECRET"

refusal: Callable[[bytes, str, str, bytes, float], str | None]
refusal = runpy.run_path(str(EXAMPLE))["refusal"]


class Receiver:
    """An HTTP server on loopback: verifies, fails every fourth request, and counts."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.gate = threading.Event()
        """Requests wait here until it is set (it is, unless a test clears it)."""
        self.gate.set()
        self.requests = 0
        self.in_flight = 0
        self.failed = 0
        self.refused: list[str] = []
        self.accepted: list[dict[str, Any]] = []
        """Each delivery accepted, in arrival order (repeats included)."""
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the adapter's client expects

            def do_POST(self) -> None:
                status = receiver.receive(self)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/aiguillage"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def receive(self, request: BaseHTTPRequestHandler) -> int:
        with self.lock:
            self.in_flight += 1
        try:
            return self._receive(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _receive(self, request: BaseHTTPRequestHandler) -> int:
        body = request.rfile.read(int(request.headers["Content-Length"]))
        self.gate.wait(timeout=30)
        time.sleep(self.delay_s)
        timestamp = request.headers.get("X-Aiguillage-Timestamp", "")
        signature = request.headers.get("X-Aiguillage-Signature", "")
        problem = refusal(SECRET.encode(), timestamp, signature, body, time.time())
        delivery = json.loads(body)
        with self.lock:
            if problem is None and delivery["id"] != request.headers["X-Aiguillage-Event-Id"]:
                problem = "the ids of the header and the body differ"
            if problem is not None:
                self.refused.append(problem)
                return 401
            self.requests += 1
            if self.requests % 4 == 0:
                self.failed += 1
                return 500
            self.accepted.append(delivery)
            return 204

    def ids(self) -> set[str]:
        with self.lock:
            return {delivery["id"] for delivery in self.accepted}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def webhook_daemon(directory: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Daemon:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    extra = (
        f'\n[adapters.webhook]\nurl = "{url}"\nsecret_env = "{SECRET_ENV}"\n'
        "backoff_s = 0.02\nattempts = 3\n"
    )
    return Daemon(directory, write_config(directory, extra))


def journaled(daemon: Daemon) -> list[dict[str, Any]]:
    """Every event of the journal, read back through the API."""
    rows: list[dict[str, Any]] = []
    with daemon.client(SUPERVISOR) as supervisor:
        while True:
            page = supervisor.get("/v1/events", params={"after": len(rows), "limit": 5000})
            assert page.status_code == 200, page.text
            if not page.json()["events"]:
                return rows
            rows.extend(page.json()["events"])


def wait_for(receiver: Receiver, ids: set[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ids <= receiver.ids():
        assert time.monotonic() < deadline, f"never delivered: {sorted(ids - receiver.ids())}"
        time.sleep(0.05)


def submit(daemon: Daemon, prefix: str, count: int, channel: str = "social") -> list[int]:
    source = {"social": "x", "written": "email"}[channel]
    ids = []
    with daemon.client(INTEGRATOR) as api:
        for number in range(count):
            body = {
                "channel": channel,
                "source": source,
                "external_id": f"{prefix}-{number}",
                "received_at": datetime.now(UTC).isoformat(),  # no SLA timer due yet
                "motive": "general",
                "text": "Bonjour",
            }
            created = api.post("/v1/interactions", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
    return ids


def work_through_offers(daemon: Daemon) -> int:
    """Let the advisor accept, answer and close what is offered to it; return how many."""
    with daemon.client(ADVISOR) as advisor:
        handled = 0
        for row in journaled(daemon):
            event = row["event"]
            if event["type"] == "offer.made" and event["advisor_id"] == ADVISOR_ID:
                path = f"/v1/advisors/{ADVISOR_ID}/offers/{event['offer_id']}/accept"
                assert advisor.post(path).status_code == 200
                interaction = f"/v1/interactions/{event['interaction_id']}"
                assert advisor.post(interaction + "/response").status_code == 200
                assert advisor.post(interaction + "/close").status_code == 200
                handled += 1
        return handled


def assert_in_order_per_interaction(deliveries: list[dict[str, Any]]) -> None:
    first_seen: dict[str, dict[str, Any]] = {}
    for delivery in deliveries:
        first_seen.setdefault(delivery["id"], delivery)
    last: dict[int, int] = {}
    for delivery in first_seen.values():
        interaction = delivery["event"].get("interaction_id")
        if interaction is not None:
            assert delivery["seq"] > last.get(interaction, 0), delivery
            last[interaction] = delivery["seq"]


def test_every_event_arrives_signed_at_least_once_in_order_per_interaction(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = webhook_daemon(tmp_path, receiver.url, monkeypatch).start()
    try:
        with daemon.client(ADVISOR) as advisor:
            online = advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
            assert online.status_code == 200
        submit(daemon, "post", 6)
        assert work_through_offers(daemon) >= 3
        submit(daemon, "mail", 4, channel="written")
        events = journaled(daemon)
        wait_for(receiver, {row["id"] for row in events})
        ready = httpx.get(daemon.url + "/readyz").json()
    finally:
        daemon.kill()
    assert receiver.refused == []
    assert receiver.failed > 0  # the retries were exercised
    by_id = {delivery["id"]: delivery for delivery in receiver.accepted}
    for row in events:
        assert by_id[row["id"]]["event"] == row["event"]
        assert by_id[row["id"]]["type"] == row["event"]["type"]
    assert_in_order_per_interaction(receiver.accepted)
    assert {"interaction.arrived", "offer.accepted", "interaction.closed"} <= {
        row["event"]["type"] for row in events
    }
    assert ready["adapters"]["webhook"]["state"] == "running"
    assert ready["adapters"]["webhook"]["restarts"] == 0


def test_after_a_sigkill_delivery_resumes_from_the_saved_cursor_and_skips_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(delay_s=0.01)  # slow enough to be killed mid-delivery
    receiver.gate.clear()  # the first delivery waits until every submission is in
    daemon = webhook_daemon(tmp_path, receiver.url, monkeypatch).start()
    try:
        submit(daemon, "before", 150)
        receiver.gate.set()
        deadline = time.monotonic() + 20
        while _saved_cursor(daemon.journal) < 50:
            assert time.monotonic() < deadline, "the cursor was never saved"
            time.sleep(0.02)
        daemon.kill()
        receiver.delay_s = 0.0
        while receiver.in_flight:  # a request sent before the kill may still be answered
            time.sleep(0.01)
        saved = _saved_cursor(daemon.journal)
        with closing(sqlite3.connect(daemon.journal)) as journal:
            last_journaled = journal.execute("SELECT max(seq) FROM events").fetchone()[0]
        delivered_before = len(receiver.accepted)
        assert receiver.accepted[-1]["seq"] < last_journaled, "not killed mid-delivery"
        daemon.start()
        submit(daemon, "after", 5)
        events = journaled(daemon)
        wait_for(receiver, {row["id"] for row in events})
    finally:
        daemon.kill()
        receiver.close()
    assert receiver.refused == []
    # Delivery resumed right after the durable cursor: not from the start, and skipping nothing
    # (what was delivered after the cursor was saved comes again: at least once).
    assert receiver.accepted[delivered_before]["seq"] == saved + 1
    assert_in_order_per_interaction(receiver.accepted)


def _saved_cursor(path: Path) -> int:
    with closing(sqlite3.connect(path)) as journal:
        query = "SELECT seq FROM cursors WHERE name = 'adapters.webhook'"
        row = journal.execute(query).fetchone()
    return 0 if row is None else int(row[0])


@pytest.mark.anyio
async def test_without_its_secret_the_webhook_refuses_to_start_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    extra = f'\n[adapters.webhook]\nurl = "http://127.0.0.1:9/"\nsecret_env = "{SECRET_ENV}"\n'
    runtime = build_runtime(load_config(write_config(tmp_path, extra)), tmp_path / "j.sqlite")
    adapters = Supervisor(runtime, backoff_s=0.01)
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        await group.start(adapters.run)
        with anyio.fail_after(5):
            while adapters.status()["webhook"].restarts < 1:
                await anyio.sleep(0.01)
        await adapters.stop()
        await runtime.stop()
        group.cancel_scope.cancel()
    status = adapters.status()["webhook"]
    assert status.last_error.startswith(f"WebhookError: the environment variable {SECRET_ENV}")
    assert "is unset or empty" in status.last_error


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
