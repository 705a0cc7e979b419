"""Contract tests of the X channel's parts: Account Activity's payloads and the API's answers
read as X documents them, and the requests the channel builds valid against X's OpenAPI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from aiguillage.adapters.channels.social.signatures import sign, verify
from aiguillage.adapters.channels.x import api
from aiguillage.adapters.channels.x.webhook import Malformed, dm_events, mentions, parse
from tests.adapters.channels.x.fake_x import USER_ID, Contract
from tests.adapters.channels.x.test_x_flow import dm, tweet

CUSTOMER = "1400000000000000042"


def _body(delivery: object) -> bytes:
    return json.dumps(delivery, separators=(",", ":")).encode()


def test_the_signature_is_x_s_base64_hmac_over_the_raw_body() -> None:
    body = _body(dm("1", CUSTOMER, "Réponse attendue"))
    expected = base64.b64encode(hmac.new(b"secret", body, hashlib.sha256).digest()).decode()
    header = sign(b"secret", body, "base64")
    assert header == "sha256=" + expected
    assert verify(b"secret", body, header, "base64")
    assert not verify(b"secret", body + b" ", header, "base64")
    assert not verify(b"other", body, header, "base64")
    assert not verify(b"secret", body, "sha256=" + hashlib.sha256(body).hexdigest(), "base64")


def test_direct_messages_and_mentions_are_customer_work_and_ours_are_echoes() -> None:
    parsed = parse(_body(dm("11", CUSTOMER, "Bonjour")), user_id=USER_ID, conversations={})
    (message,) = parsed.messages
    assert (message.source, message.external_id, message.thread) == ("x", "11", f"dm:{CUSTOMER}")
    assert message.personal == {"customer": {"id": CUSTOMER}, "text": "Bonjour", "kind": "message"}
    ours = parse(
        _body(dm("12", USER_ID, "Réponse", recipient=CUSTOMER, app="7")),
        user_id=USER_ID,
        conversations={},
    )
    assert ours.messages == []
    assert (ours.echoes[0].thread, ours.echoes[0].peer_id, ours.echoes[0].app_id) == (
        f"dm:{CUSTOMER}",
        "12",
        "7",
    )
    post = parse(_body(tweet("21", CUSTOMER, "@acme ?")), user_id=USER_ID, conversations={})
    assert (post.messages[0].thread, post.posts) == ("post:21", {"21": "21"})
    follow = parse(
        _body(tweet("23", CUSTOMER, "@acme encore", in_reply_to="22")),
        user_id=USER_ID,
        conversations={"22": "21"},
    )
    assert follow.messages[0].thread == "post:21"
    other = dm("13", CUSTOMER, "x")
    other["for_user_id"] = "999"
    assert parse(_body(other), user_id=USER_ID, conversations={}).messages == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[1", "body"),
        (b"[]", "body"),
        (
            _body({"for_user_id": USER_ID, "direct_message_events": {}}),
            "direct_message_events",
        ),
        (
            _body(
                {
                    "for_user_id": USER_ID,
                    "direct_message_events": [
                        {"type": "message_create", "id": "1", "message_create": {"target": {}}}
                    ],
                }
            ),
            "direct_message_events[0].message_create.sender_id",
        ),
        (
            _body({"for_user_id": USER_ID, "tweet_create_events": [{"id_str": "1"}]}),
            "tweet_create_events[0].user",
        ),
    ],
)
def test_a_malformed_delivery_names_its_field(body: bytes, field: str) -> None:
    with pytest.raises(Malformed) as caught:
        parse(body, user_id=USER_ID, conversations={})
    assert caught.value.field == field


def test_polled_pages_are_read_oldest_first() -> None:
    page = {
        "data": [
            {"id": "31", "text": "b", "author_id": CUSTOMER, "conversation_id": "30"},
            {"id": "30", "text": "a", "author_id": CUSTOMER, "created_at": "2026-12-05T01:00:00Z"},
        ],
        "meta": {"result_count": 2, "next_token": "abc"},
    }
    found, next_token = mentions(_body(page))
    assert [m.external_id for m in found] == ["30", "31"]
    assert [m.thread for m in found] == ["post:30", "post:30"]
    assert next_token == "abc"
    events = {
        "data": [
            {
                "id": "42",
                "event_type": "MessageCreate",
                "text": "r",
                "sender_id": USER_ID,
                "dm_conversation_id": f"{CUSTOMER}-{USER_ID}",
            },
            {"id": "41", "event_type": "MessageCreate", "text": "q", "sender_id": CUSTOMER},
            {"id": "40", "event_type": "ParticipantsJoin"},
        ]
    }
    found, _ = dm_events(_body(events), USER_ID)
    assert [(type(e).__name__, e.thread) for e in found] == [
        ("Incoming", f"dm:{CUSTOMER}"),
        ("Echo", f"dm:{CUSTOMER}"),
    ]  # oldest first: the customer's question, then our answer


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or {})


def test_x_s_errors_are_read_as_x_documents_them() -> None:
    sent = api.classify(_response(201, {"data": {"dm_conversation_id": "1-2", "dm_event_id": "9"}}))
    assert sent.data["dm_event_id"] == "9"
    unauthorised = api.classify(_response(401, {"title": "Unauthorized", "status": 401}))
    assert unauthorised.error is not None
    assert unauthorised.error.kind == "token"
    expired = api.classify(
        _response(400, {"errors": [{"code": 89, "message": "Invalid or expired token."}]})
    )
    assert expired.error is not None
    assert (expired.error.kind, "code 89" in expired.error.reason) == ("token", True)
    limited = api.classify(
        _response(429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": "1000120"})
    )
    assert limited.error is not None
    assert limited.error.kind == "rate_limit"
    assert api.reset_in_s(httpx.Headers({"x-rate-limit-reset": "1000120"}), now=1000000.0) == 120
    assert api.reset_in_s(httpx.Headers({})) is None
    refused = api.classify(_response(403, {"detail": "You cannot send messages to this user."}))
    assert refused.error is not None
    assert refused.error.kind == "permanent"
    assert "cannot send messages" in refused.error.reason
    assert api.classify(_response(503, {})).error.kind == "temporary"  # type: ignore[union-attr]


def test_the_contract_check_refuses_what_x_s_openapi_refuses() -> None:
    contract = Contract()
    ok = contract.check("POST", "/2/dm_conversations/with/123/messages", [], b'{"text":"a"}')
    assert ok == ("createDirectMessagesByParticipantId", [])
    _, empty = contract.check("POST", "/2/dm_conversations/with/123/messages", [], b'{"text":""}')
    assert empty
    _, participant = contract.check("POST", "/2/dm_conversations/with/abc/messages", [], b"{}")
    assert len(participant) >= 2  # a participant id not numeric, and no text
    _, reply = contract.check("POST", "/2/tweets", [], b'{"text":"a","reply":{}}')
    assert any("in_reply_to_tweet_id" in p for p in reply)
    _, unknown = contract.check("GET", "/2/dm_events", [("since_id", "1")], None)
    assert unknown == ["/2/dm_events: unknown parameter since_id"]
    _, nowhere = contract.check("POST", "/2/nowhere", [], None)
    assert nowhere


def test_the_configuration_names_what_is_wrong(tmp_path: Path) -> None:
    from tests.adapters.channels.test_plugins import problems_of

    (problem,) = problems_of(tmp_path, f'\n[adapters.x]\nuser_id = "{USER_ID}"\n')
    assert "adapters.x" in problem
    assert "exactly one of user_token_env" in problem
    (tmp_path / "r").mkdir()
    replay = f'\n[adapters.x]\nuser_id = "{USER_ID}"\nuser_token_env = "T"\nwebhook_id = "1"\n'
    (problem,) = problems_of(tmp_path / "r", replay)
    assert "bearer_token_env" in problem
    (tmp_path / "m").mkdir()
    mode = f'\n[adapters.x]\nuser_id = "{USER_ID}"\nuser_token_env = "T"\nmode = "stream"\n'
    (problem,) = problems_of(tmp_path / "m", mode)
    assert "mode" in problem
