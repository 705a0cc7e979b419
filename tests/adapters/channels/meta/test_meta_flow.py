"""Contract tests of the Meta channel in a real daemon, against a fake Graph API on loopback.

Deliveries reach the daemon's public listener signed with the real algorithm (HMAC-SHA256 of
the app secret over the raw body, as Meta sends it: ``\\uXXXX`` escapes); the fake Graph API
(``fake_graph``) takes only the requests Meta documents and answers as Meta does, then reports
each message sent back to the webhook as an echo, as Meta does. An advisor works through the
API. Flows: the handshake; malformed, unsigned, wrongly signed, replayed and duplicated
deliveries; a Facebook message in and its answer out; an Instagram comment answered by a
reply; an answer typed in Meta Business Suite; an answer past the messaging window; the window's
urgency; the Page token expiring with ten answers waiting, then renewed; an answer Meta took
and echoed before the daemon was SIGKILLed; a comment reply Meta took before the daemon was
SIGKILLed, found among the comment's replies rather than posted again; a rate limit holding
every send.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.adapters.channels.meta import deliveries as d
from tests.adapters.channels.meta.fake_graph import (
    APP_ID,
    APP_SECRET,
    INSTAGRAM_ID,
    PAGE_ID,
    FakeGraph,
    signed,
)
from tests.adapters.daemons import ADMIN, Daemon, free_port, write_config

VERIFY_TOKEN = "verify-token-for-tests"
ADVISOR = "camille.laurent"


class Meta:
    """A daemon with the ``meta`` channel, and what Meta and an advisor do to it."""

    def __init__(self, directory: Path, fake: FakeGraph, *, urgent_before_s: int = 7200) -> None:
        self.fake = fake
        self.token_file = directory / "page-token"
        self.token_file.write_text("page-token-1\n")
        public_port = free_port()
        extra = (
            "\n[adapters.meta]\n"
            f'page_id = "{PAGE_ID}"\ninstagram_id = "{INSTAGRAM_ID}"\napp_id = "{APP_ID}"\n'
            f'page_token_file = "{self.token_file}"\ngraph_url = "{fake.url}"\n'
            f"urgent_before_s = {urgent_before_s}\nurgency_every_s = 0.2\n"
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
            "AIGUILLAGE_META_APP_SECRET": APP_SECRET,
            "AIGUILLAGE_META_VERIFY_TOKEN": VERIFY_TOKEN,
        }
        self.daemon = Daemon(directory, config, env=env)
        self.webhook = f"http://127.0.0.1:{public_port}/channels/meta/webhook"

    def post(self, delivery: dict[str, Any]) -> httpx.Response:
        body = d.encoded(delivery)
        return httpx.post(self.webhook, content=body, headers=signed(body), timeout=5)

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

    def thread(self, interaction_id: int) -> list[dict[str, Any]]:
        return list(
            self.api("GET", f"/v1/interactions/{interaction_id}/messages").json()["messages"]
        )

    def answer(self, count: int, text: Callable[[int], str], *, close: bool = True) -> list[int]:
        """The advisor answers ``count`` interactions offered to her (closing each when asked)."""
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
                if close:
                    self.api(
                        "POST",
                        f"/v1/interactions/{interaction_id}/close",
                        json={"advisor_id": ADVISOR, "reason": "answered"},
                    )
            time.sleep(0.05)
        return answered

    def answers(self, interaction_id: int) -> list[dict[str, Any]]:
        return [m for m in self.thread(interaction_id) if m["kind"] == "answer"]


def _until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.1)


@pytest.fixture
def meta(tmp_path: Path, fake_graph: FakeGraph) -> Iterator[Meta]:
    running = Meta(tmp_path, fake_graph)
    running.daemon.start()
    fake_graph.echo_to = running.webhook
    try:
        yield running
    finally:
        running.daemon.kill()


def test_the_subscription_handshake_echoes_the_challenge_only_to_the_verify_token(
    meta: Meta,
) -> None:
    ok = httpx.get(
        meta.webhook,
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = httpx.get(
        meta.webhook,
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403
    assert wrong.json()["field"] == "hub.verify_token"
    mode = httpx.get(meta.webhook, params={"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"})
    assert mode.status_code == 403
    assert mode.json()["field"] == "hub.mode"


def test_unsigned_wrongly_signed_and_malformed_deliveries_create_nothing(meta: Meta) -> None:
    body = d.encoded(d.dm("2400001", "m_1", "Bonjour"))
    unsigned = httpx.post(meta.webhook, content=body)
    assert unsigned.status_code == 401
    assert unsigned.json()["field"] == "X-Hub-Signature-256"
    wrong = httpx.post(meta.webhook, content=body, headers=signed(body, "not-the-app-secret"))
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "forbidden"
    tampered = body.replace(b"Bonjour", b"Bonsoir")
    assert httpx.post(meta.webhook, content=tampered, headers=signed(body)).status_code == 403
    event = b'{"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m_2","text":"x"}}'
    malformed = b'{"object":"page","entry":[{"id":"%s","messaging":[%s]}]}' % (
        PAGE_ID.encode(),
        event,
    )
    refused = httpx.post(meta.webhook, content=malformed, headers=signed(malformed))
    assert refused.status_code == 400
    assert refused.json()["field"] == "entry[0].messaging[0].sender"
    not_json = b"\xff{"
    assert httpx.post(meta.webhook, content=not_json, headers=signed(not_json)).status_code == 400
    assert meta.interactions() == []


def test_a_duplicated_or_replayed_delivery_is_one_message(meta: Meta) -> None:
    delivery = d.dm("2400001", "m_dup", "Mon pass Navigo a été débité deux fois")
    first = meta.post(delivery)
    assert first.status_code == 200, first.text
    assert meta.post(delivery).status_code == 200  # Meta's retry
    time.sleep(0.5)
    assert meta.post(delivery).status_code == 200  # replayed later, by anyone who kept it
    (interaction,) = meta.interactions()
    assert (interaction["source"], interaction["channel"]) == ("facebook", "social")
    customer = [m for m in meta.thread(interaction["id"]) if m["kind"] == "customer"]
    assert len(customer) == 1
    assert customer[0]["text"] == "Mon pass Navigo a été débité deux fois"


def test_each_message_keeps_as_evidence_its_own_item_not_another_customer_s(meta: Meta) -> None:
    # Meta batches: one delivery carries two customers' messages. Erasing one customer's data
    # must not leave it in the other's evidence.
    delivery = d.dm("2400001", "m_a", "Bonjour, ici Alice")
    other = d.dm("2400002", "m_b", "Bonjour, ici Bruno")
    delivery["entry"][0]["messaging"] += other["entry"][0]["messaging"]
    assert meta.post(delivery).status_code == 200
    by_text = {}
    for interaction in meta.interactions():
        kept = meta.api("GET", f"/v1/interactions/{interaction['id']}/personal-data").json()
        evidence = base64.b64decode(kept["evidence"]["bytes"])
        by_text[kept["text"]] = json.loads(evidence)
    alice, bruno = by_text["Bonjour, ici Alice"], by_text["Bonjour, ici Bruno"]
    assert (alice["sender"]["id"], alice["message"]["mid"]) == ("2400001", "m_a")
    assert (bruno["sender"]["id"], bruno["message"]["mid"]) == ("2400002", "m_b")
    assert b"Bruno" not in json.dumps(alice).encode()
    assert b"Alice" not in json.dumps(bruno).encode()


def test_a_facebook_message_in_and_its_answer_out(meta: Meta, fake_graph: FakeGraph) -> None:
    fake_graph.wrote("2400001")
    assert (
        meta.post(d.dm("2400001", "m_in_1", "Bonjour, mon bus n'est pas passé")).status_code == 200
    )
    # A second message before the answer joins the same interaction.
    assert meta.post(d.dm("2400001", "m_in_2", "Ligne 12, arrêt Gare")).status_code == 200
    (interaction,) = meta.interactions()
    (answered,) = meta.answer(1, lambda i: f"Bonjour, nous regardons cela ({i}).")
    assert answered == interaction["id"]
    (sent,) = _until(lambda: [m for m in meta.answers(answered) if m["state"] == "sent"], "sent")
    (request,) = fake_graph.sent
    assert request["recipient"] == {"id": "2400001"}
    assert request["messaging_type"] == "RESPONSE"
    assert request["message"]["text"] == f"Bonjour, nous regardons cela ({answered})."
    assert sent["peer_id"] == request["message_id"]
    # Meta's echo of our answer came back to the webhook: recognised, not a new message.
    assert _until(lambda: fake_graph.echoes, "the echo delivered") == [200]
    assert [i["id"] for i in meta.interactions()] == [answered]
    customer = [m for m in meta.thread(answered) if m["kind"] == "customer"]
    assert len(customer) == 2
    ready = meta.daemon.readyz().json()["adapters"]["meta"]
    assert ready["health"] == "ok"
    assert ready["outbox"]["waiting"] == 0


def test_an_instagram_comment_is_answered_by_a_reply(meta: Meta, fake_graph: FakeGraph) -> None:
    fake_graph.comment("17900000000000042", "instagram")
    delivery = d.ig_comment("17900000000000042", "17800000000000007", "Le métro est-il ouvert ?")
    assert meta.post(delivery).status_code == 200
    (interaction,) = meta.interactions()
    assert interaction["source"] == "instagram"
    meta.answer(1, lambda i: "Oui, jusqu'à 1 h 15.")
    _until(lambda: [m for m in meta.answers(interaction["id"]) if m["state"] == "sent"], "sent")
    (reply,) = fake_graph.sent
    assert reply["comment"] == "17900000000000042"
    assert reply["edge"] == "replies"
    assert reply["message"] == "Oui, jusqu'à 1 h 15."


def test_an_answer_typed_in_meta_business_suite_closes_the_work(meta: Meta) -> None:
    assert meta.post(d.dm("2400009", "m_bs_1", "Bonjour ?")).status_code == 200
    (interaction,) = meta.interactions()
    business_suite = "263902037430900"
    echoed = meta.post(d.echo("2400009", "m_bs_2", "Bonjour, c'est noté.", app_id=business_suite))
    assert echoed.status_code == 200
    closed = meta.api("GET", f"/v1/interactions/{interaction['id']}").json()
    assert closed["status"] == "closed"
    assert len(meta.interactions()) == 1  # the echo is no customer message


def test_an_answer_past_the_messaging_window_is_refused_clearly(
    meta: Meta, fake_graph: FakeGraph
) -> None:
    old = time.time() - 25 * 3600
    fake_graph.wrote("2400010", old)
    assert meta.post(d.dm("2400010", "m_old", "Toujours rien", int(old * 1000))).status_code == 200
    (interaction,) = meta.interactions()
    meta.answer(1, lambda i: "Désolé du délai.")
    (failed,) = _until(
        lambda: [m for m in meta.answers(interaction["id"]) if m["state"] == "failed"], "failed"
    )
    assert failed["reason"].startswith("window_closed")
    assert failed["retry_at"] is None
    assert fake_graph.sent == []  # never sent to a refusal


def test_waiting_work_whose_window_closes_soon_goes_first(meta: Meta) -> None:
    nearly = time.time() - 23 * 3600
    assert meta.post(d.dm("2400011", "m_late", "Urgent", int(nearly * 1000))).status_code == 200
    assert meta.post(d.dm("2400012", "m_fresh", "Pas urgent")).status_code == 200
    past = int((time.time() - 25 * 3600) * 1000)
    assert meta.post(d.dm("2400013", "m_past", "Trop tard", past)).status_code == 200
    by_external = {i["external_id"]: i for i in meta.interactions()}
    late, fresh = by_external["m_late"], by_external["m_fresh"]
    raised = _until(
        lambda: meta.api("GET", f"/v1/interactions/{late['id']}").json()["priority"] == 9, "raised"
    )
    assert raised
    time.sleep(0.6)  # three more looks
    for other in (fresh, by_external["m_past"]):  # in time, or already past its window
        assert meta.api("GET", f"/v1/interactions/{other['id']}").json()["priority"] != 9
    events = meta.api("GET", "/v1/events", params={"limit": 500}).json()["events"]
    (steered,) = [e["event"] for e in events if e["event"]["type"] == "interaction.reprioritised"]
    assert (steered["interaction_id"], steered["by"], steered["reason"]) == (
        late["id"],
        "channel:meta",
        "urgent",
    )


def test_a_token_expiring_with_ten_answers_waiting_sends_all_ten_once_renewed(
    meta: Meta, fake_graph: FakeGraph
) -> None:
    customers = [f"25000{n:02d}" for n in range(10)]
    for n, customer in enumerate(customers):
        fake_graph.wrote(customer)
        assert meta.post(d.dm(customer, f"m_t{n}", f"Question {n}")).status_code == 200
    assert len(meta.interactions()) == 10
    fake_graph.expire("page-token-1")
    answered = meta.answer(10, lambda i: f"Réponse {i}")
    _until(
        lambda: (
            meta.daemon.readyz().json()["adapters"]["meta"]["health"] == "needs_reauthorisation"
        ),
        "needs re-authorisation",
    )
    ready = meta.daemon.readyz().json()["adapters"]["meta"]
    assert ready["outbox"]["waiting"] == 10
    assert "190" in ready["health_detail"]
    metrics = httpx.get(meta.daemon.url + "/metrics").text
    assert 'aiguillage_channel_health{adapter="meta",health="needs_reauthorisation"} 1.0' in metrics
    time.sleep(1.5)  # retries meanwhile reach Meta no more: the refused token is held back
    assert fake_graph.sent == []
    calls = len(fake_graph.received_at)
    assert calls <= 3, calls
    # The operator renews the token: the file changes, no restart.
    fake_graph.issue("page-token-2")
    meta.token_file.write_text("page-token-2\n")
    _until(
        lambda: all([m["state"] for m in meta.answers(i)] == ["sent"] for i in answered),
        "all ten sent",
    )
    texts = sorted(m["message"]["text"] for m in fake_graph.sent)
    assert texts == sorted(f"Réponse {i}" for i in answered)
    assert all(count == 1 for count in fake_graph.by_metadata.values())
    assert len(fake_graph.by_metadata) == 10
    _until(lambda: meta.daemon.readyz().json()["adapters"]["meta"]["health"] == "ok", "ok")


def test_an_answer_meta_took_before_a_crash_is_not_sent_again(
    meta: Meta, fake_graph: FakeGraph
) -> None:
    fake_graph.wrote("2400020")
    assert meta.post(d.dm("2400020", "m_crash", "Bonjour")).status_code == 200
    fake_graph.echo_before_answer = True
    killed: list[bool] = []

    def kill_once() -> None:
        if not killed:
            killed.append(True)
            meta.daemon.kill()  # Meta took it and echoed it; the daemon never hears its answer

    fake_graph.on_take = kill_once
    (interaction_id,) = meta.answer(1, lambda i: "Nous revenons vers vous.", close=False)
    _until(lambda: killed, "the send taken")
    assert fake_graph.echoes == [200]  # the echo, with our key, was durable before the kill
    meta.daemon.start()
    (answer,) = _until(
        lambda: [m for m in meta.answers(interaction_id) if m["state"] == "sent"], "recorded"
    )
    (sent,) = fake_graph.sent
    assert answer["peer_id"] == sent["message_id"]
    assert list(fake_graph.by_metadata.values()) == [1]  # taken once: not sent again


@pytest.mark.parametrize("network", ["facebook", "instagram"])
def test_a_comment_reply_meta_took_before_a_crash_is_not_posted_again(
    meta: Meta, fake_graph: FakeGraph, network: str
) -> None:
    comment = "17900000000000077" if network == "instagram" else f"{PAGE_ID}_1_77"
    customer = "17800000000000077"
    fake_graph.comment(comment, network)
    delivery = (
        d.ig_comment(comment, customer, "Le RER B roule-t-il ?")
        if network == "instagram"
        else d.fb_comment(comment, f"{PAGE_ID}_1", customer, "Le RER B roule-t-il ?")
    )
    assert meta.post(delivery).status_code == 200
    text = "Un train sur deux."
    # A customer's reply with the very text of our answer, and more than a page of replies.
    fake_graph.reply(comment, customer, text)
    for n in range(120):
        fake_graph.reply(comment, f"178000000000001{n:02d}", f"Et le RER A ? ({n})")
    killed: list[bool] = []

    def kill_once() -> None:
        if not killed:
            killed.append(True)
            meta.daemon.kill()  # Meta took the reply; the daemon never hears its answer

    fake_graph.on_take = kill_once
    (interaction_id,) = meta.answer(1, lambda i: text, close=False)
    _until(lambda: killed, "the reply taken")
    meta.daemon.start()
    (answer,) = _until(
        lambda: [m for m in meta.answers(interaction_id) if m["state"] == "sent"], "recorded"
    )
    (sent,) = fake_graph.sent  # posted once: found among the replies after the restart
    assert answer["peer_id"] == sent["id"]
    edge = "replies" if network == "instagram" else "comments"
    looked = [q for path, q in fake_graph.requests if path == f"GET {comment}/{edge}"]
    assert looked[0]["fields"] == ("from,text" if network == "instagram" else "from,message")
    assert [q.get("after") is not None for q in looked] == [False, True]


def test_a_rate_limit_holds_every_send_for_the_time_meta_gives(
    meta: Meta, fake_graph: FakeGraph
) -> None:
    customers = ["2400030", "2400031", "2400032"]
    for n, customer in enumerate(customers):
        fake_graph.wrote(customer)
        assert meta.post(d.dm(customer, f"m_rl{n}", f"Question {n}")).status_code == 200
    fake_graph.limit_next = 1
    answered = meta.answer(3, lambda i: f"Réponse {i}")

    def failed() -> list[dict[str, Any]]:
        found = [m for i in answered for m in meta.answers(i) if m["state"] == "failed"]
        return found if len(found) == 3 else []

    for answer in _until(failed, "all three held"):
        assert answer["reason"].startswith("rate_limited"), answer
        assert answer["retry_at"] is not None  # retried later, not given up
    time.sleep(1.0)
    # One call met the limit; the others waited without calling Meta (for a minute).
    assert len(fake_graph.received_at) == 1
    assert fake_graph.sent == []
