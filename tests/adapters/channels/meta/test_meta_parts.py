"""Contract tests of the Meta channel's parts: Meta's payloads read, its answers understood.

The deliveries are those of Meta's webhook documentation (``deliveries``), encoded as Meta
encodes them; the Graph API's answers are Meta's documented ones (success and error objects).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiguillage.adapters.channels import NeedsReauthorisation, SendFailed
from aiguillage.adapters.channels.meta import graph
from aiguillage.adapters.channels.meta.webhook import Malformed, Parsed, parse
from aiguillage.adapters.channels.social.credentials import Token, TokenError
from aiguillage.adapters.channels.social.pacing import Pacing
from aiguillage.adapters.channels.social.signatures import sign, verify
from tests.adapters.channels.meta import deliveries as d
from tests.adapters.channels.meta.fake_graph import APP_ID, INSTAGRAM_ID, PAGE_ID


def _parse(delivery: dict[str, Any]) -> Parsed:
    return parse(d.encoded(delivery), page_id=PAGE_ID, instagram_id=INSTAGRAM_ID)


def test_the_signature_is_over_the_raw_bytes_with_meta_s_unicode_escapes() -> None:
    body = d.encoded(d.dm("2400001", "m_1", "Mon abonnement a été débité deux fois"))
    assert b"\\u00e9t\\u00e9" in body  # as Meta sends it, escaped
    header = sign(b"secret", body)
    assert header.startswith("sha256=")
    assert len(header) == 7 + 64
    assert verify(b"secret", body, header)
    assert verify(b"secret", body, header.upper().replace("SHA256=", "sha256="))
    # The same JSON re-serialised (accents as UTF-8) is other bytes: refused.
    again = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert not verify(b"secret", again, header)
    assert not verify(b"other", body, header)
    assert not verify(b"secret", body, "")
    assert not verify(b"secret", body, header[:-1] + ("0" if header[-1] != "0" else "1"))


def test_a_private_message_is_customer_work_in_the_sender_s_thread() -> None:
    at = d.now_ms()
    parsed = _parse(d.dm("2400001", "m_abc", "Bonjour, où est mon remboursement ?", at))
    (message,) = parsed.messages
    assert (message.source, message.external_id, message.thread) == (
        "facebook",
        "m_abc",
        "dm:2400001",
    )
    assert message.received_at == at * 1000
    assert message.personal["text"] == "Bonjour, où est mon remboursement ?"
    assert message.personal["customer"] == {"id": "2400001"}
    assert message.personal["timestamp"] == at
    instagram = _parse(d.dm("1789001", "ig_m_1", "Salut", instagram=True))
    assert instagram.messages[0].source == "instagram"


def test_echoes_are_told_apart_from_customers_messages() -> None:
    parsed = _parse(d.echo("2400001", "m_echo", "Réponse", metadata="x:message:7"))
    assert parsed.messages == []
    (echo,) = parsed.echoes
    assert (echo.thread, echo.peer_id, echo.app_id, echo.metadata) == (
        "dm:2400001",
        "m_echo",
        APP_ID,
        "x:message:7",
    )


def test_comments_thread_on_their_top_level_comment() -> None:
    top = _parse(d.fb_comment("555_1", "104857600000001_555", "3100001", "Le bus 12 est en retard"))
    (message,) = top.messages
    assert (message.external_id, message.thread) == ("555_1", "comment:555_1")
    assert message.personal["kind"] == "comment"
    reply = _parse(d.fb_comment("555_2", "104857600000001_555", "3100002", "Moi aussi", "555_1"))
    assert reply.messages[0].thread == "comment:555_1"
    ig = _parse(d.ig_comment("1790001", "1780001", "Horaires ?"))
    assert ig.messages[0].thread == "comment:1790001"
    ig_reply = _parse(d.ig_comment("1790002", "1780002", "Pareil", parent="1790001"))
    assert ig_reply.messages[0].thread == "comment:1790001"
    # The Page's own comment is an echo, never customer work.
    own = _parse(d.fb_comment("555_3", "104857600000001_555", PAGE_ID, "Merci", "555_1"))
    assert own.messages == []
    assert own.echoes[0].thread == "comment:555_1"


def test_what_is_not_a_message_is_passed_over() -> None:
    receipt = d.dm("2400001", "m_1", "x")
    event = receipt["entry"][0]["messaging"][0]
    del event["message"]
    event["read"] = {"watermark": 1}
    parsed = _parse(receipt)
    assert (parsed.messages, parsed.ignored) == ([], 1)
    other_page = d.dm("2400001", "m_1", "x")
    other_page["entry"][0]["id"] = "999"
    assert _parse(other_page).messages == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b'{"object": "user", "entry": []}', "object"),
        (b'{"object": "page", "entry": {}}', "entry"),
        (
            b'{"object":"page","entry":[{"id":"104857600000001","messaging":[{"sender":{},'
            b'"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m"}}]}]}',
            "entry[0].messaging[0].sender.id",
        ),
        (
            b'{"object":"page","entry":[{"id":"104857600000001","messaging":[{"sender":'
            b'{"id":"2"},"recipient":{"id":"1"},"timestamp":"x","message":{"mid":"m"}}]}]}',
            "entry[0].messaging[0].timestamp",
        ),
    ],
)
def test_a_malformed_delivery_names_its_field(body: bytes, field: str) -> None:
    with pytest.raises(Malformed) as caught:
        parse(body, page_id=PAGE_ID, instagram_id=INSTAGRAM_ID)
    assert caught.value.field == field


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or {})


def _error(code: int, subcode: int | None = None) -> dict[str, object]:
    error: dict[str, object] = {
        "message": "m",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "A",
    }
    if subcode:
        error["error_subcode"] = subcode
    return {"error": error}


def _kind(response: httpx.Response) -> str:
    error = graph.classify(response).error
    assert error is not None
    return error.kind


def test_graph_answers_are_read_as_meta_documents_them() -> None:
    sent = graph.classify(_response(200, {"recipient_id": "1", "message_id": "m_9"}))
    assert sent == graph.Outcome(peer_id="m_9")
    assert graph.classify(_response(200, {"id": "555_9"})).peer_id == "555_9"
    token = graph.classify(_response(400, _error(190, 463))).error
    assert token is not None
    assert token.kind == "token"
    assert "190/463" in token.reason
    for code in (4, 17, 32, 613, 80007):
        assert _kind(_response(400, _error(code))) == "rate_limit", code
    usage = json.dumps({PAGE_ID: [{"type": "messenger", "estimated_time_to_regain_access": 3}]})
    limited = graph.classify(_response(400, _error(80006), {"X-Business-Use-Case-Usage": usage}))
    assert limited.error is not None
    assert limited.error.wait_s == 180.0
    assert _kind(_response(429, {})) == "rate_limit"
    assert _kind(_response(500, _error(2))) == "temporary"
    window = graph.classify(_response(400, _error(10, 2018278))).error
    assert window is not None
    assert window.kind == "permanent"
    assert _kind(_response(400, _error(551))) == "permanent"


def test_a_refused_token_holds_until_the_file_holds_another(tmp_path: Path) -> None:
    path = tmp_path / "page-token"
    path.write_text("token-1\n")
    token = Token(file=str(path), what="the Page token")
    assert token.current() == "token-1"
    error = token.refuse("token-1", "needs re-authorisation (Meta error 190/463)")
    assert isinstance(error, NeedsReauthorisation)
    with pytest.raises(NeedsReauthorisation, match="190/463"):
        token.current()
    path.write_text("token-2\n")
    assert token.current() == "token-2"
    assert token.refused == ""
    # A refusal of a token already replaced changes nothing.
    token.refuse("token-1", "late")
    assert token.current() == "token-2"
    with pytest.raises(TokenError, match="token_env or token_file"):
        Token(what="x")
    with pytest.raises(TokenError, match="AIGUILLAGE_NOT_SET_ANYWHERE"):
        Token(env="AIGUILLAGE_NOT_SET_ANYWHERE", what="x")


def test_a_rate_limit_holds_every_send_until_its_end() -> None:
    now = [1000.0]
    pacing = Pacing(clock=lambda: now[0])
    pacing.check()
    error = pacing.limited("Meta error 613: calls limit", 120)
    assert "rate_limited" in error.reason
    now[0] += 119
    with pytest.raises(SendFailed, match="rate_limited"):
        pacing.check()
    now[0] += 2
    pacing.check()
    # Without Meta's wait: one minute, then twice as long while the limits come in a row.
    pacing.limited("x")
    now[0] += 61
    pacing.check()
    pacing.limited("x")
    now[0] += 61
    with pytest.raises(SendFailed):
        pacing.check()
    now[0] += 60
    pacing.check()
    pacing.passed()
    pacing.limited("x")
    now[0] += 61
    pacing.check()


def test_the_configuration_names_what_is_wrong(tmp_path: Path) -> None:
    from tests.adapters.channels.test_plugins import problems_of

    both = (
        f'\n[adapters.meta]\npage_id = "{PAGE_ID}"\npage_token_env = "T"\npage_token_file = "f"\n'
    )
    (problem,) = problems_of(tmp_path, both)
    assert "adapters.meta" in problem
    assert "exactly one of page_token_env" in problem
    version = (
        f'\n[adapters.meta]\npage_id = "{PAGE_ID}"\npage_token_env = "T"\ngraph_version = "21"\n'
    )
    (tmp_path / "v").mkdir()
    (problem,) = problems_of(tmp_path / "v", version)
    assert "graph_version" in problem
