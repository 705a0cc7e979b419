"""Contract tests of the fake ARI itself: it holds requests and events to Asterisk's contract,
and it answers as Asterisk's own test cases say Asterisk does.

What the fake gets wrong, every contract test of the channel would get wrong too: these tests
check it against the Swagger files and the testsuite's sequences, never against the adapter.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.adapters.channels.asterisk.contract import contract
from tests.adapters.channels.asterisk.fake_ari import FakeAri, StasisFailed


def client(fake: FakeAri) -> httpx.Client:
    return httpx.Client(base_url=fake.url + "/ari", auth=(fake.username, fake.password), timeout=5)


def events(fake: FakeAri, app: str = "testsuite") -> ClientConnection:
    key = f"{fake.username}:{fake.password}"
    socket = connect(f"ws://127.0.0.1:{fake.port}/ari/events?app={app}&api_key={key}")
    deadline = time.monotonic() + 5
    while not fake.connected(app):
        assert time.monotonic() < deadline, "the fake never saw the WebSocket"
        time.sleep(0.02)
    return socket


def next_events(socket: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(socket.recv(timeout=5)) for _ in range(count)]


def test_an_unknown_route_or_parameter_is_a_violation(fake_ari: FakeAri) -> None:
    with client(fake_ari) as ari:
        assert ari.post("/channels/nope/answr").status_code == 404
        unknown = {"endpoint": "PJSIP/1", "ringtone": "x"}
        assert ari.post("/channels", params=unknown).status_code == 400
        assert ari.delete("/channels/x", params={"reason": "bored"}).status_code == 400
        assert ari.post("/channels").status_code == 400  # endpoint is required
    assert fake_ari.violations == [
        "unknown route: POST /channels/nope/answr",
        "POST /channels: unknown query parameter 'ringtone'",
        "DELETE /channels/{channelId} reason: bored not among ['normal', 'busy', 'congestion', "
        "'no_answer', 'timeout', 'rejected', 'unallocated', 'normal_unspecified', "
        "'number_incomplete', 'codec_mismatch', 'interworking', 'failure', 'answered_elsewhere']",
        "POST /channels: required query parameter 'endpoint' missing",
    ]
    fake_ari.violations.clear()  # expected here: the fixture checks none is left


def test_credentials_are_required(fake_ari: FakeAri) -> None:
    with httpx.Client(base_url=fake_ari.url + "/ari") as anonymous:
        assert anonymous.get("/channels").status_code == 401


def test_the_event_validator_refuses_a_malformed_event() -> None:
    problems = contract().check_event(
        {"type": "StasisStart", "application": "a", "timestamp": "t", "channel": {"id": 3}}
    )
    assert "StasisStart: StasisStart.args is required" in problems
    assert any("channel.id: string expected" in p for p in problems)
    assert any("Channel.caller is required" in p for p in problems)
    assert contract().check_event({"type": "Nonsense"}) == ["unknown event type 'Nonsense'"]


def test_originate_with_id_replays_the_testsuite_sequence(fake_ari: FakeAri) -> None:
    """``rest_api/channels/originate_with_id/test-config.yaml``, iteration 4: a channel
    originated into ``testsuite`` with ``channelId`` ``MyStasisId`` gets ``StasisStart`` and one
    ``ChannelStateChange``; deleting it gives ``ChannelHangupRequest``, ``StasisEnd`` and
    ``ChannelDestroyed``. ``originate_duplicate_id``: the same id again is 409."""
    with events(fake_ari) as socket, client(fake_ari) as ari:
        made = ari.post(
            "/channels/MyStasisId", params={"endpoint": "Local/four@default", "app": "testsuite"}
        )
        assert made.status_code == 200
        assert made.json()["id"] == "MyStasisId"
        again = ari.post(
            "/channels", params={"endpoint": "Local/echo@default", "channelId": "MyStasisId"}
        )
        assert again.status_code == 409
        fake_ari.answer("Local/four@default")
        assert ari.delete("/channels/MyStasisId").status_code == 204
        got = next_events(socket, 6)
    assert [e["type"] for e in got] == [
        "ChannelCreated",
        "ChannelStateChange",
        "StasisStart",
        "ChannelHangupRequest",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    assert {e["channel"]["id"] for e in got} == {"MyStasisId"}
    assert all(e["application"] == "testsuite" for e in got)
    assert [e["type"] for e in got].count("ChannelStateChange") == 1  # count: 1 in the yaml
    assert all(contract().check_event(e) == [] for e in got)


def test_a_call_is_held_bridged_played_to_and_hung_up(fake_ari: FakeAri) -> None:
    with events(fake_ari, "aiguillage") as socket, client(fake_ari) as ari:
        caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
        (start,) = next_events(socket, 1)
        assert start["type"] == "StasisStart"
        assert start["args"] == []
        assert start["channel"]["caller"]["number"] == "0612345678"
        assert start["channel"]["dialplan"]["exten"] == "3975"
        assert ari.post(f"/channels/{caller}/answer").status_code == 204
        assert ari.post("/bridges/hold", params={"type": "holding"}).status_code == 200
        assert ari.post("/bridges/hold", params={"type": "holding"}).status_code == 409
        assert ari.post("/bridges/hold/moh", params={"mohClass": "default"}).status_code == 204
        added = ari.post("/bridges/hold/addChannel", params={"channel": caller})
        assert added.status_code == 204
        played = ari.post(f"/channels/{caller}/play", params={"media": "sound:closed"})
        assert played.status_code == 201
        assert [c["id"] for c in ari.get("/channels").json()] == [caller]
        assert [b["id"] for b in ari.get("/bridges").json()] == ["hold"]
        got = next_events(socket, 4)
        fake_ari.hang_up(caller)
        got += next_events(socket, 4)
    assert [e["type"] for e in got] == [
        "ChannelStateChange",
        "ChannelEnteredBridge",
        "PlaybackStarted",
        "PlaybackFinished",
        "ChannelHangupRequest",
        "ChannelLeftBridge",
        "StasisEnd",
        "ChannelDestroyed",
    ]


def test_a_dropped_websocket_loses_what_happens_meanwhile(fake_ari: FakeAri) -> None:
    with events(fake_ari, "aiguillage") as socket:
        fake_ari.drop_websocket()
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
    # An application no WebSocket holds is not active: Stasis() fails in the dialplan.
    with pytest.raises(StasisFailed):
        fake_ari.incoming_call(caller="0611111111", app="aiguillage")
    assert fake_ari.failed == [("0611111111", "3975")]


def test_a_phone_that_rings_out_never_enters_the_application(fake_ari: FakeAri) -> None:
    """An originated channel not answered ends with cause 19 and no ``StasisStart`` nor
    ``StasisEnd``: it never was in the application."""
    with events(fake_ari) as socket, client(fake_ari) as ari:
        made = ari.post("/channels/ring-out", params={"endpoint": "PJSIP/1001", "app": "testsuite"})
        assert made.status_code == 200
        assert fake_ari.ringing("PJSIP/1001") == ["ring-out"]
        assert fake_ari.no_answer("PJSIP/1001") == "ring-out"
        got = next_events(socket, 3)
    assert [e["type"] for e in got] == [
        "ChannelCreated",
        "ChannelHangupRequest",
        "ChannelDestroyed",
    ]
    assert (got[2]["cause"], got[2]["cause_txt"]) == (19, "No answer")
    assert "ring-out" not in fake_ari.channels


def test_each_request_is_timed_as_it_arrives(fake_ari: FakeAri) -> None:
    """The instants benchmarks time the adapter by: one per request, in order, as received."""
    before = time.time()
    with client(fake_ari) as ari:
        assert ari.get("/channels").status_code == 200
        between = time.time()
        assert ari.get("/bridges").status_code == 200
    after = time.time()
    assert [r[1] for r in fake_ari.requests] == ["/ari/channels", "/ari/bridges"]
    first, second = fake_ari.received_at
    assert before <= first <= between <= second <= after
