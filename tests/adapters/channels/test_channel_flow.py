"""A channel from end to end, in a real daemon: a signed delivery in, an advisor's answer out.

The test channel (``signed_channel``) is installed as a plugin the way pip would (an
``entry_points.txt`` on the daemon's path). Its peer (``peer.Peer``) is a real HTTP server on
loopback, which counts every send by its idempotency key. Deliveries go to the daemon's public
listener, signed; the advisor works through the API; the outbox sends each answer to the peer.

With the daemon SIGKILLed at random points of the flow (between deliveries, between an
answer's POST and its sending, between the peer taking an answer and its record), on SQLite
and on Redis: every answer the journal holds reaches the peer, none is lost, and none is taken
twice except once more with the same key (which the peer deduplicates).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiguillage.adapters.daemon.outbox import idempotency_key
from tests.adapters.channels.peer import Peer
from tests.adapters.daemons import ADMIN, ROOT, Daemon, free_port, write_config
from tests.adapters.killer import Killer
from tests.adapters.redis_server import RedisServer

SECRET = "peer-signing-secret"
ADVISOR = "camille.laurent"


def _install_plugin(directory: Path) -> dict[str, str]:
    """Register the test channel as pip would, and return the daemon's environment for it."""
    info = directory / "plugins" / "signed_test-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: signed-test\nVersion: 0.1\n")
    entry = "signed-test = tests.adapters.channels.signed_channel:SignedChannel"
    (info / "entry_points.txt").write_text(f"[aiguillage.adapters]\n{entry}\n")
    path = f"{info.parent}:{ROOT}"
    return {"PYTHONPATH": path, "SIGNED_TEST_SECRET": SECRET}


def _config(directory: Path, peer: Peer, public_port: int, *, lease: bool = False) -> Path:
    extra = f'\n[adapters.signed]\nplugin = "signed-test"\npeer_url = "{peer.url}"\n'
    config = write_config(directory, extra)
    text = config.read_text()
    text = text.replace("\npublic_port = 8081 ", f"\npublic_port = {public_port} ", 1)
    text = text.replace("\nfirst_retry_s = 30 ", "\nfirst_retry_s = 0.2 ", 1)
    if lease:
        text = text.replace("\nlease_s = 10 ", "\nlease_s = 2 ", 1)
    assert f"public_port = {public_port}" in text
    config.write_text(text)
    return config


class Flow:
    """Drives deliveries and an advisor against a daemon that may be killed at any time.

    The kills: just after a delivery was taken (``delivered``), just after an answer's POST
    returned (``posted``: journaled, not sent yet), and when the peer has taken an answer and
    not answered yet (``taken``: sent, and not journaled as sent).
    """

    def __init__(self, daemon: Daemon, public_port: int, killer: Killer) -> None:
        self.daemon = daemon
        self.public = f"http://127.0.0.1:{public_port}"
        self.killer = killer

    def deliver(self, number: int) -> int:
        body = json.dumps(
            {
                "id": f"msg-{number}",
                "thread": f"conversation-{number}",
                "sender": f"@customer{number}",
                "text": f"Bonjour, question numéro {number}",
                "at": datetime.now(UTC).isoformat(),
            }
        ).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        answer = _retried(
            lambda: httpx.post(
                f"{self.public}/channels/signed/deliveries",
                content=body,
                headers={"X-Signature": signature, "Content-Type": "application/json"},
                timeout=5,
            ),
            accept=(202,),
        )
        self.killer.at("delivered")
        return int(answer.json()["interaction_id"])

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return _retried(
            lambda: httpx.request(
                method,
                self.daemon.url + path,
                headers={"Authorization": f"Bearer {ADMIN}"},
                timeout=5,
                **kwargs,
            ),
            accept=(200, 201, 404, 409, 422),
        )

    def answered(self, interaction_id: int) -> list[dict[str, Any]]:
        thread = self.api("GET", f"/v1/interactions/{interaction_id}/messages").json()
        return [m for m in thread["messages"] if m["kind"] == "answer"]

    def work(self, interactions: list[int], deadline: float) -> None:
        """Make the advisor answer each interaction once, and close it."""
        self.api("PUT", f"/v1/advisors/{ADVISOR}/state", json={"state": "available"})
        left = set(interactions)
        while left:
            assert time.monotonic() < deadline, f"not answered in time: {sorted(left)}"
            advisor = self.api("GET", f"/v1/advisors/{ADVISOR}").json()
            if advisor["state"] == "offline":
                self.api("PUT", f"/v1/advisors/{ADVISOR}/state", json={"state": "available"})
            for offer in advisor["offers"]:
                self.api("POST", f"/v1/advisors/{ADVISOR}/offers/{offer}/accept")
            for interaction_id in advisor["holding"]:
                if not self.answered(interaction_id):
                    text = f"Réponse à l'interaction {interaction_id}"
                    self.api(
                        "POST",
                        f"/v1/interactions/{interaction_id}/messages",
                        json={"text": text, "advisor_id": ADVISOR},
                    )
                    self.killer.at("posted")
                if self.answered(interaction_id):
                    self.api(
                        "POST",
                        f"/v1/interactions/{interaction_id}/close",
                        json={"advisor_id": ADVISOR},
                    )
                    left.discard(interaction_id)
            time.sleep(0.05)


def _retried(
    request: Callable[[], httpx.Response], accept: tuple[int, ...], timeout: float = 60.0
) -> httpx.Response:
    """Send until the daemon answers one of ``accept`` (it may be down, or restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = request()
            if response.status_code in accept:
                return response
            assert response.status_code in (503, 500), response.text
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the daemon did not come back"
        time.sleep(0.1)


def _every_answer_reaches_the_peer(
    daemon: Daemon, peer: Peer, public_port: int, *, kills: int, seed: int
) -> None:
    rng = random.Random(seed)
    points = ("delivered", "posted", "taken")
    killer = Killer(daemon, {(points[n % 3], rng.randint(1, 6)) for n in range(kills)})
    flow = Flow(daemon, public_port, killer)
    peer.on_take = lambda: killer.at("taken", restart_later=True)
    interactions = sorted({flow.deliver(number) for number in range(8)})
    assert len(interactions) == 8
    # A redelivery (the peer did not see our 202) is the same interaction.
    assert flow.deliver(3) == interactions[3]
    flow.work(interactions, time.monotonic() + 120)

    answers: dict[int, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + 60
    while True:
        answers = {i: flow.answered(i) for i in interactions}
        if all(a and all(m["state"] == "sent" for m in a) for a in answers.values()):
            break
        assert time.monotonic() < deadline, f"answers not all sent: {answers}"
        time.sleep(0.1)
    killer.join()  # every planned kill happened, and every restart
    deployment = tomllib.loads(daemon.config.read_text())["deployment"]["name"]
    keys = {idempotency_key(deployment, m["id"]): m for a in answers.values() for m in a}
    # Every journaled answer reached the peer, under its own key, and nothing else did.
    assert set(peer.sends) == set(keys)
    # Sent again only after a crash, once at most per crash while it was in flight, and always
    # with the same key: never twice by one daemon's life.
    for key, count in peer.sends.items():
        crashes = killer.crashes_since(peer.first_taken[key])
        assert count <= 1 + crashes, (key, count, crashes)
    if not kills:
        assert all(count == 1 for count in peer.sends.values()), peer.sends
    if any(point == "taken" for point, _ in killer.done):
        # Killed after the peer took an answer and before its record: sent once more.
        assert max(peer.sends.values()) >= 2, peer.sends
    for key, message in keys.items():
        assert message["peer_id"] == peer.first[key]["id"]
        interaction_id = _interaction_of(answers, message)
        assert peer.first[key]["text"] == f"Réponse à l'interaction {interaction_id}"
    # Each went to the customer who wrote, in reply to their message.
    for interaction_id, thread in answers.items():
        sent = peer.first[idempotency_key(deployment, thread[0]["id"])]
        number = interactions.index(interaction_id)
        assert (sent["to"], sent["in_reply_to"]) == (f"@customer{number}", f"msg-{number}")


def _interaction_of(answers: dict[int, list[dict[str, Any]]], message: dict[str, Any]) -> int:
    return next(i for i, thread in answers.items() if message in thread)


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer(delay_s=0.05) as running:
        yield running


def test_a_signed_delivery_becomes_work_and_its_answer_reaches_the_peer(
    tmp_path: Path, peer: Peer
) -> None:
    public_port = free_port()
    config = _config(tmp_path, peer, public_port)
    daemon = Daemon(tmp_path, config, env=_install_plugin(tmp_path)).start()
    try:
        _every_answer_reaches_the_peer(daemon, peer, public_port, kills=0, seed=0)
        ready = daemon.readyz().json()["adapters"]["signed"]
        assert ready["health"] == "ok"
        assert ready["outbox"]["waiting"] == 0
        # The bytes received and sent are kept with the personal data, as evidence.
        with daemon.client() as admin:
            kept = admin.get("/v1/interactions/1/personal-data").json()
        received = json.loads(base64.b64decode(kept["evidence"]["bytes"]))
        assert (kept["evidence"]["direction"], received["id"]) == ("in", "msg-0")
        (out,) = kept["evidence_sent"]
        assert out["direction"] == "out"
        assert json.loads(base64.b64decode(out["bytes"]))["to"] == "@customer0"
    finally:
        daemon.kill()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_random_points_loses_no_answer_and_sends_none_twice_sqlite(
    tmp_path: Path, peer: Peer, seed: int
) -> None:
    public_port = free_port()
    config = _config(tmp_path, peer, public_port)
    daemon = Daemon(tmp_path, config, env=_install_plugin(tmp_path)).start()
    try:
        _every_answer_reaches_the_peer(daemon, peer, public_port, kills=4, seed=seed)
    finally:
        daemon.kill()


def test_sigkill_at_random_points_loses_no_answer_and_sends_none_twice_redis(
    tmp_path: Path, peer: Peer, redis_server: RedisServer
) -> None:
    public_port = free_port()
    config = _config(tmp_path, peer, public_port, lease=True)
    env = _install_plugin(tmp_path)
    daemon = Daemon(tmp_path, config, store=redis_server.url, env=env).start()
    try:
        _every_answer_reaches_the_peer(daemon, peer, public_port, kills=3, seed=4)
    finally:
        daemon.kill()


def test_deliveries_with_a_bad_signature_or_body_are_refused_and_create_nothing(
    tmp_path: Path, peer: Peer
) -> None:
    public_port = free_port()
    config = _config(tmp_path, peer, public_port)
    daemon = Daemon(tmp_path, config, env=_install_plugin(tmp_path)).start()
    public = f"http://127.0.0.1:{public_port}"
    try:
        body = b'{"id": "x1", "thread": "t", "sender": "@a", "text": "hi", "at": "2026-01-01"}'
        wrong = httpx.post(
            f"{public}/channels/signed/deliveries", content=body, headers={"X-Signature": "0"}
        )
        assert wrong.status_code == 401
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        naive = httpx.post(
            f"{public}/channels/signed/deliveries",
            content=body,
            headers={"X-Signature": signature},
        )
        assert naive.status_code == 400
        assert "offset" in naive.json()["detail"]
        assert httpx.get(f"{public}/channels/signed/deliveries").status_code == 405
        assert httpx.post(f"{public}/channels/nobody/x").status_code == 404
        assert httpx.post(f"{public}/v1/interactions").status_code == 404  # not the API
        with daemon.client() as client:
            assert client.get("/v1/interactions").json()["interactions"] == []
    finally:
        daemon.kill()
