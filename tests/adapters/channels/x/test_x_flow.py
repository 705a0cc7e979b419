"""Contract tests of the X channel in a real daemon, against a fake X API on loopback.

Deliveries reach the daemon's public listener in Account Activity's shape, signed with the real
algorithm (base64 HMAC-SHA256 of the consumer secret over the raw body); every request the
channel makes is validated against X's OpenAPI description by the fake (``fake_x``). Flows: the
CRC check; a direct message in and the answer out, its echo recognised; a mention answered by a
reply; a direct message during a CRC re-check; unsigned, wrongly signed, malformed and
duplicated deliveries; the user token refused; a rate limit; polling mode taking a mention;
the replay asked at a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.adapters.channels.x.fake_x import (
    APP_ID,
    CONSUMER_SECRET,
    USER_ID,
    WEBHOOK_ID,
    FakeX,
    signed,
)
from tests.adapters.daemons import ADMIN, Daemon, free_port, write_config

ADVISOR = "camille.laurent"
CUSTOMER = "1400000000000000042"


class X:
    """A daemon with the ``x`` channel, and what X and an advisor do to it."""

    def __init__(self, directory: Path, fake: FakeX, *, mode: str = "webhook") -> None:
        self.fake = fake
        self.token_file = directory / "x-user-token"
        self.token_file.write_text("user-token-1\n")
        public_port = free_port()
        extra = (
            f'\n[adapters.x]\nuser_id = "{USER_ID}"\napp_id = "{APP_ID}"\nmode = "{mode}"\n'
            f'user_token_file = "{self.token_file}"\napi_url = "{fake.url}"\n'
            f'poll_every_s = 0.3\nwebhook_id = "{WEBHOOK_ID}"\n'
            'bearer_token_env = "AIGUILLAGE_X_BEARER"\n'
        )
        config = write_config(directory, extra)
        text = config.read_text()
        for old, new in (
            ("\npublic_port = 8081 ", f"\npublic_port = {public_port} "),
            ("\nfirst_retry_s = 30 ", "\nfirst_retry_s = 0.2 "),
            ("\nmax_retry_s = 1800 ", "\nmax_retry_s = 1 "),
        ):
            assert old in text
            text = text.replace(old, new, 1)
        config.write_text(text)
        env = {
            "AIGUILLAGE_X_CONSUMER_SECRET": CONSUMER_SECRET,
            "AIGUILLAGE_X_BEARER": "app-bearer-1",
        }
        self.daemon = Daemon(directory, config, env=env)
        self.webhook = f"http://127.0.0.1:{public_port}/channels/x/webhook"

    def post(
        self, delivery: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = json.dumps(delivery, separators=(",", ":")).encode()
        return httpx.post(self.webhook, content=body, headers=headers or signed(body), timeout=5)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(
            method,
            self.daemon.url + path,
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=5,
            **kwargs,
        )
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response

    def interactions(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/v1/interactions").json()["interactions"])

    def answers(self, interaction_id: int) -> list[dict[str, Any]]:
        messages = self.api("GET", f"/v1/interactions/{interaction_id}/messages").json()
        return [m for m in messages["messages"] if m["kind"] == "answer"]

    def answer(self, count: int, text: Callable[[int], str]) -> list[int]:
        self.api("PUT", f"/v1/advisors/{ADVISOR}/state", json={"state": "available"})
        answered: list[int] = []
        deadline = time.monotonic() + 60
        while len(answered) < count:
            assert time.monotonic() < deadline, f"only {answered} answered"
            advisor = self.api("GET", f"/v1/advisors/{ADVISOR}").json()
            for offer in advisor["offers"]:
                self.api("POST", f"/v1/advisors/{ADVISOR}/offers/{offer}/accept")
            for interaction_id in advisor["holding"]:
                if interaction_id in answered:
                    continue
                self.api(
                    "POST",
                    f"/v1/interactions/{interaction_id}/messages",
                    json={"text": text(interaction_id), "advisor_id": ADVISOR},
                )
                answered.append(interaction_id)
                self.api(
                    "POST",
                    f"/v1/interactions/{interaction_id}/close",
                    json={"advisor_id": ADVISOR, "reason": "answered"},
                )
            time.sleep(0.05)
        return answered


def _until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.1)


def dm(event_id: str, sender: str, text: str, recipient: str = USER_ID, app: str = "") -> dict:
    """A direct message as Account Activity delivers it."""
    create: dict[str, Any] = {
        "target": {"recipient_id": recipient},
        "sender_id": sender,
        "message_data": {"text": text, "entities": {"hashtags": [], "urls": []}},
    }
    if app:
        create["source_app_id"] = app
    return {
        "for_user_id": USER_ID,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": event_id,
                "created_timestamp": str(int(time.time() * 1000)),
                "message_create": create,
            }
        ],
    }


def tweet(post_id: str, author: str, text: str, in_reply_to: str = "") -> dict:
    """A post as Account Activity delivers it (v1.1 shape)."""
    return {
        "for_user_id": USER_ID,
        "tweet_create_events": [
            {
                "created_at": "Sat Dec 05 02:00:00 +0000 2026",
                "id_str": post_id,
                "text": text,
                "in_reply_to_status_id_str": in_reply_to or None,
                "user": {"id_str": author, "screen_name": "client_exemple"},
                "timestamp_ms": str(int(time.time() * 1000)),
            }
        ],
    }


@pytest.fixture
def x(tmp_path: Path, fake_x: FakeX) -> Iterator[X]:
    running = X(tmp_path, fake_x)
    running.daemon.start()
    try:
        yield running
    finally:
        running.daemon.stop()


def test_the_crc_check_answers_x_s_formula(x: X) -> None:
    response = httpx.get(x.webhook, params={"crc_token": "challenge-123"}, timeout=5)
    assert response.status_code == 200
    digest = hmac.new(CONSUMER_SECRET.encode(), b"challenge-123", hashlib.sha256).digest()
    assert response.json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}
    missing = httpx.get(x.webhook, timeout=5)
    assert missing.status_code == 400
    assert missing.json()["field"] == "crc_token"


def test_a_direct_message_in_and_the_answer_out(x: X, fake_x: FakeX) -> None:
    assert x.post(dm("1800000000000000001", CUSTOMER, "Ma carte est bloquée")).status_code == 200
    (interaction,) = x.interactions()
    assert (interaction["channel"], interaction["source"]) == ("social", "x")
    assert interaction["external_id"] == "1800000000000000001"
    (answered,) = x.answer(1, lambda i: "Nous la débloquons.")
    (answer,) = _until(lambda: [m for m in x.answers(answered) if m["state"] == "sent"], "sent")
    (sent,) = fake_x.sent
    assert (sent["dm_to"], sent["text"]) == (CUSTOMER, "Nous la débloquons.")
    assert answer["peer_id"] == sent["id"]
    assert fake_x.calls[-1] == "createDirectMessagesByParticipantId"
    # X echoes our message: ours (our app), not a new one.
    echo = dm(sent["id"], USER_ID, "Nous la débloquons.", recipient=CUSTOMER, app=APP_ID)
    assert x.post(echo).status_code == 200
    assert len(x.interactions()) == 1


def test_a_mention_is_answered_by_a_reply_in_its_conversation(x: X, fake_x: FakeX) -> None:
    assert (
        x.post(tweet("1800000000000000010", CUSTOMER, "@acme le site est en panne")).status_code
        == 200
    )
    (interaction,) = x.interactions()
    x.answer(1, lambda i: "Nous regardons.")
    _until(lambda: fake_x.sent, "replied")
    (sent,) = fake_x.sent
    assert (sent["reply_to"], sent["text"]) == ("1800000000000000010", "Nous regardons.")
    # Our reply echoed: not new work. The customer answers it: the same conversation.
    assert (
        x.post(tweet(sent["id"], USER_ID, "Nous regardons.", "1800000000000000010")).status_code
        == 200
    )
    again = tweet("1800000000000000011", CUSTOMER, "@acme toujours en panne", sent["id"])
    assert x.post(again).status_code == 200
    found = x.interactions()
    assert len(found) == 2
    threads = {i["external_id"]: i for i in found}
    second = threads["1800000000000000011"]
    assert second["id"] != interaction["id"]
    events = x.api("GET", "/v1/events", params={"limit": 500}).json()["events"]
    (arrived,) = [
        e["event"]
        for e in events
        if e["event"]["type"] == "interaction.arrived"
        and e["event"]["interaction_id"] == second["id"]
    ]
    assert arrived["follows"] == interaction["id"]  # the same conversation, its next turn


def test_a_direct_message_arriving_during_a_crc_re_check(x: X) -> None:
    answers: list[int] = []

    def crc() -> None:
        for n in range(20):
            response = httpx.get(x.webhook, params={"crc_token": f"t{n}"}, timeout=5)
            answers.append(response.status_code)

    checking = threading.Thread(target=crc)
    checking.start()
    assert x.post(dm("1800000000000000020", CUSTOMER, "Bonjour")).status_code == 200
    checking.join()
    assert answers == [200] * 20
    (interaction,) = x.interactions()
    assert interaction["external_id"] == "1800000000000000020"


def test_unsigned_wrongly_signed_malformed_and_repeated_deliveries(x: X) -> None:
    delivery = dm("1800000000000000030", CUSTOMER, "Bonjour")
    body = json.dumps(delivery).encode()
    unsigned = httpx.post(x.webhook, content=body, timeout=5)
    assert unsigned.status_code == 401
    assert unsigned.json()["field"] == "x-twitter-webhooks-signature"
    wrong = x.post(delivery, headers=signed(body, "another-secret"))
    assert wrong.status_code == 403
    bad = {"for_user_id": USER_ID, "direct_message_events": [{"type": "message_create"}]}
    malformed = x.post(bad)
    assert malformed.status_code == 400
    assert malformed.json()["field"] == "direct_message_events[0].id"
    assert x.interactions() == []
    for _ in range(3):  # X delivers again
        assert x.post(delivery).status_code == 200
    assert len(x.interactions()) == 1


def test_a_refused_token_and_a_rate_limit(x: X, fake_x: FakeX) -> None:
    fake_x.tokens.clear()
    assert x.post(dm("1800000000000000040", CUSTOMER, "Bonjour")).status_code == 200
    (answered,) = x.answer(1, lambda i: "Réponse")
    _until(
        lambda: x.daemon.readyz().json()["adapters"]["x"]["health"] == "needs_reauthorisation",
        "needs re-authorisation",
    )
    assert fake_x.sent == []
    fake_x.tokens.add("user-token-2")
    fake_x.limit_next = 1
    x.token_file.write_text("user-token-2\n")
    (failed,) = _until(
        lambda: [m for m in x.answers(answered) if "rate_limited" in (m.get("reason") or "")],
        "rate limited",
    )
    assert failed["retry_at"] is not None
    assert fake_x.sent == []  # held for the two minutes X gave


def test_polling_mode_takes_a_mention_and_answers_it(tmp_path: Path, fake_x: FakeX) -> None:
    polling = X(tmp_path, fake_x, mode="polling")
    polling.daemon.start()
    try:
        post_id = fake_x.mention(CUSTOMER, "@acme où est mon colis ?")
        event_id = fake_x.direct(CUSTOMER, "Et en privé ?")
        found = _until(
            lambda: len(polling.interactions()) == 2 and polling.interactions(), "polled"
        )
        assert {i["external_id"] for i in found} == {post_id, event_id}
        _until(lambda: post_id in fake_x.polled_since, "since_id moves on")
        polling.answer(2, lambda i: "Voici.")
        _until(lambda: len(fake_x.sent) == 2, "both answered")
        assert {s.get("reply_to") for s in fake_x.sent} == {post_id, None}
        time.sleep(1.0)  # more polls: nothing taken twice
        assert len(polling.interactions()) == 2
        assert httpx.get(polling.webhook, timeout=5).status_code == 404
    finally:
        polling.daemon.stop()


def test_the_first_poll_pages_back_to_the_look_back_bound(tmp_path: Path, fake_x: FakeX) -> None:
    now = datetime.now(UTC)
    # A mention and a direct message each minute for 250 minutes (pages of 100), oldest first
    # as X's ids grow with time; the first poll looks back three hours.
    within: set[str] = set()
    for minutes in range(250, 0, -1):
        at = now - timedelta(minutes=minutes, seconds=30)
        made = {
            fake_x.mention(f"14000000000{minutes:08d}", f"@acme n°{minutes}", at=at),
            fake_x.direct(f"14100000000{minutes:08d}", f"Bonjour n°{minutes}", at=at),
        }
        if minutes < 180:
            within |= made
    polling = X(tmp_path, fake_x, mode="polling")
    config = polling.daemon.config
    config.write_text(
        config.read_text().replace(
            "poll_every_s = 0.3\n", "poll_every_s = 0.3\nfirst_look_back_s = 10800\n", 1
        )
    )
    polling.daemon.start()
    try:

        def taken() -> set[str]:
            page = polling.api("GET", "/v1/interactions", params={"limit": 1000}).json()
            return {i["external_id"] for i in page["interactions"]}

        _until(lambda: len(taken()) >= len(within), "the first poll taken", timeout=60)
        time.sleep(1.0)  # more polls: nothing older, nothing twice
        assert taken() == within
    finally:
        polling.daemon.stop()
    first = [params for operation, params in fake_x.pages if "since_id" not in params]
    mention_pages = [p for p in first if "start_time" in p]
    assert len(mention_pages) == 2  # 179 mentions since start_time, 100 a page
    assert "pagination_token" not in mention_pages[0]
    assert mention_pages[1]["pagination_token"]
    start = datetime.fromisoformat(mention_pages[0]["start_time"])
    assert now - timedelta(hours=3, seconds=1) <= start <= datetime.now(UTC) - timedelta(hours=3)
    dm_pages = [p for p in first if "event_types" in p][:3]
    # The third page is a later poll's: the first stopped at the page reaching the bound.
    assert ["pagination_token" in p for p in dm_pages] == [False, True, False]


def test_a_restart_asks_x_to_replay_what_it_missed(x: X, fake_x: FakeX) -> None:
    assert fake_x.replays == []  # the first start: nothing was missed

    def seen_alive() -> bool:  # the channel's mark, saved once it runs: the replay starts there
        with sqlite3.connect(x.daemon.journal) as db:
            found = db.execute(
                "SELECT state FROM channel_states WHERE name = 'channels.x'"
            ).fetchone()
        return found is not None and json.loads(found[0]).get("alive_at", 0) > 0

    _until(seen_alive, "the daemon seen alive")
    x.daemon.stop()
    x.daemon.start()
    (replay,) = _until(lambda: fake_x.replays, "replay asked")
    assert replay["webhook_id"] == WEBHOOK_ID
    assert replay["from_date"] <= replay["to_date"]


def test_an_answer_typed_in_x_s_app_stops_the_clock(x: X, fake_x: FakeX) -> None:
    assert x.post(dm("1800000000000000050", CUSTOMER, "Bonjour ?")).status_code == 200
    (interaction,) = x.interactions()
    typed = dm("1800000000000000051", USER_ID, "Répondu depuis l'app", CUSTOMER, app="3033300")
    assert x.post(typed).status_code == 200
    closed = _until(
        lambda: x.api("GET", f"/v1/interactions/{interaction['id']}").json()["status"] == "closed",
        "closed",
    )
    assert closed
    assert fake_x.sent == []
    assert len(x.interactions()) == 1  # the echo is no new work


def test_polling_with_a_refused_token_waits_for_a_new_one(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.tokens.clear()
    polling = X(tmp_path, fake_x, mode="polling")
    polling.daemon.start()
    try:
        post_id = fake_x.mention(CUSTOMER, "@acme allô ?")
        _until(
            lambda: (
                polling.daemon.readyz().json()["adapters"]["x"]["health"] == "needs_reauthorisation"
            ),
            "needs re-authorisation",
        )
        calls = len(fake_x.calls)
        time.sleep(1.0)  # polls meanwhile call X no more with the refused token
        assert len(fake_x.calls) == calls
        fake_x.tokens.add("user-token-2")
        polling.token_file.write_text("user-token-2\n")
        (found,) = _until(polling.interactions, "polled")
        assert found["external_id"] == post_id
        _until(lambda: polling.daemon.readyz().json()["adapters"]["x"]["health"] == "ok", "ok")
    finally:
        polling.daemon.stop()
