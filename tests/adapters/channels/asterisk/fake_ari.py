"""A fake Asterisk for contract tests: ARI's REST routes and its event WebSocket, on loopback.

It is a real HTTP and WebSocket server (a small ASGI application served by uvicorn in a thread,
on a free port), and it holds to Asterisk's published contract rather than to what the adapter
expects:

- every request is checked against the Swagger files (``contract.Contract``): its route,
  method and query parameters, the required ones, ``allowableValues``; whatever breaks the
  contract is answered as Asterisk would (404, 400) and recorded in ``violations``, which the
  tests' fixture asserts empty;
- every event it sends is checked against ``events.json``'s models, and a malformed one is a
  violation too;
- its behaviour follows Asterisk's own ARI test cases (``asterisk-testsuite/rest_api``):
  an originate with an id already used answers 409 (``channels/originate_duplicate_id``), as
  does a bridge created twice (``bridges.json``'s ``createWithId``); an originated channel
  in an application is told ``ChannelCreated``, and when answered ``ChannelStateChange`` and
  ``StasisStart``; a hang-up sends ``ChannelHangupRequest``, ``StasisEnd`` and
  ``ChannelDestroyed`` (``channels/originate_with_id``); ``addChannel`` sends
  ``ChannelEnteredBridge``, a playback ``PlaybackStarted`` then ``PlaybackFinished``
  (``channels/playback``), at once when it is stopped (``DELETE /playbacks/{id}``; 404 once it
  is over); ``POST /bridges/{id}/record`` sends ``RecordingStarted``, and the bridge's end
  ``RecordingFinished`` (``bridges/bridge_record``); a name recorded already is refused (409)
  unless ``ifExists`` says otherwise (``recording/file_conflicts``). The stored recordings
  (``stored``) are what ``/recordings/stored`` lists and deletes: ``StoredRecording`` has a
  name and a format, no date (``recording/stored``).

Tests script the callers: ``incoming_call`` (a call entering the application; while no
WebSocket holds it, ``Stasis()`` fails, as Asterisk's does for an inactive application),
``answer``/``no_answer`` (an advisor's phone ringing), ``press`` (a key), ``hang_up``,
``drop_websocket``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from tests.adapters.channels.asterisk.contract import Contract, contract
from tests.adapters.daemons import free_port

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PLAYBACK_S = 0.2
"""How long a sound lasts in the fake (``playback_s``, which a test may change)."""

_CAUSES = {16: "Normal Clearing", 19: "No answer", 17: "User busy"}


class StasisFailed(Exception):
    """``Stasis()`` failed in the dialplan: the application is not active."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class FakeAri:
    """See the module docstring. Thread-safe: tests call it from their own thread."""

    def __init__(self, username: str = "aiguillage", password: str = "ari-secret") -> None:
        self.contract: Contract = contract()
        self.username, self.password = username, password
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.violations: list[str] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.received_at: list[float] = []
        """``time.time()`` of each of ``requests``, index for index (what benchmarks time)."""
        self.sent: list[dict[str, Any]] = []
        """Every event sent on a WebSocket, in order."""
        self.channels: dict[str, dict[str, Any]] = {}
        self.bridges: dict[str, dict[str, Any]] = {}
        self.moh: dict[str, str] = {}
        self.failed: list[tuple[str, str]] = []
        """Calls whose ``Stasis()`` failed (caller, dialled): the dialplan's fallback took them."""
        self.variables: dict[str, dict[str, str]] = {}
        self._sip_headers: dict[str, dict[str, str]] = {}
        """Channel id → the SIP headers it came with (lower-cased names)."""
        self.stopped: list[str] = []
        self.continued: dict[str, dict[str, str]] = {}
        """Channel id → where ``continue`` sent it on in the dialplan (its query)."""
        self.stored: dict[str, str] = {}
        """The stored recordings: name → format (a test may add old ones)."""
        self.recording: dict[str, str] = {}
        """Bridge id → the name of the recording of it in progress."""
        """The playbacks stopped before their end."""
        self.playback_s = PLAYBACK_S
        self._apps: dict[str, asyncio.Queue[dict[str, Any] | None]] = {}
        self._stasis: dict[str, str] = {}
        """Channel id → the application it is in (or subscribed to, when originated)."""
        self._in_bridge: dict[str, str] = {}
        self._endpoint: dict[str, str] = {}
        self._playing: dict[str, Callable[[], None]] = {}
        """Playback id → what ends it (its ``PlaybackFinished``), while it plays."""
        self._numbers = itertools.count(1)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> FakeAri:
        config = uvicorn.Config(
            self._asgi,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            ready.set()
            assert self._server is not None
            loop.run_until_complete(self._server.serve())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-ari", daemon=True)
        self._thread.start()
        ready.wait(5)
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the fake ARI did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self.drop_websocket()
        if self._thread is not None:
            self._thread.join(10)

    # -- what tests script ---------------------------------------------------------------------

    def incoming_call(
        self,
        caller: str = "0612345678",
        dialed: str = "3975",
        app: str = "",
        *,
        lost_in_flight: bool = False,
        headers: dict[str, str] | None = None,
        created: datetime | None = None,
    ) -> str:
        """A call from ``caller`` to ``dialed`` enters the Stasis application; its channel id.

        ``StasisFailed`` when the application is not active (no WebSocket holds it): Asterisk's
        ``Stasis()`` then fails at once and the dialplan goes on (``STASISSTATUS=FAILED``).
        ``lost_in_flight``: the channel enters the application, but its ``StasisStart`` is lost
        with a WebSocket that broke as it was sent. ``headers``: the SIP headers of its INVITE,
        which ``PJSIP_HEADER(read,<name>)`` reads (names case-insensitive, as in SIP).
        ``created``: the channel's ``creationtime`` (now by default), in its own offset as
        Asterisk writes it in the server's zone.
        """
        with self._lock:
            app = app or self._only_app()
            if app not in self._apps:
                self.failed.append((caller, dialed))
                raise StasisFailed(f"Stasis({app}): the application is not registered")
            number = next(self._numbers)
            channel_id = f"{int(time.time())}.{number}"
            self.channels[channel_id] = self._channel(
                channel_id,
                f"PJSIP/trunk-{number:08x}",
                "Ring",
                caller=caller,
                context="from-trunk",
                exten=dialed,
                app_data=app,
            )
            if created is not None:
                stamp = created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + created.strftime("%z")
                self.channels[channel_id]["creationtime"] = stamp
            self._stasis[channel_id] = app
            self._sip_headers[channel_id] = {k.lower(): v for k, v in (headers or {}).items()}
            if not lost_in_flight:
                self._emit(app, "StasisStart", args=[], channel=self.channels[channel_id])
        return channel_id

    def ringing(self, endpoint: str) -> list[str]:
        """The channels ringing at ``endpoint`` (originated, not answered yet)."""
        with self._lock:
            return [
                c
                for c, e in self._endpoint.items()
                if e == endpoint and self.channels.get(c, {}).get("state") == "Ringing"
            ]

    def answer(self, endpoint: str) -> str:
        """The phone at ``endpoint`` picks up the call ringing there; its channel id."""
        with self._lock:
            (channel_id,) = self.ringing(endpoint)
            channel = self.channels[channel_id]
            channel["state"] = "Up"
            app = self._stasis.get(channel_id)
            if app:
                self._emit(app, "ChannelStateChange", channel=channel)
                self._emit(app, "StasisStart", args=channel.pop("_args"), channel=channel)
        return channel_id

    def no_answer(self, endpoint: str) -> str:
        """The phone at ``endpoint`` rings out: its channel ends, cause 19 (no answer)."""
        with self._lock:
            (channel_id,) = self.ringing(endpoint)
            self._hang_up(channel_id, cause=19)
        return channel_id

    def hang_up(self, channel_id: str) -> None:
        """The party on ``channel_id`` hangs up."""
        with self._lock:
            self._hang_up(channel_id, cause=16)

    def press(self, channel_id: str, digit: str) -> None:
        """The caller on ``channel_id`` presses a key (``ChannelDtmfReceived``, sent as the
        key is released)."""
        with self._lock:
            app = self._stasis[channel_id]
            channel = self.channels[channel_id]
            self._emit(app, "ChannelDtmfReceived", digit=digit, duration_ms=120, channel=channel)

    def drop_websocket(self) -> None:
        """Close every event WebSocket, as a network failure or a restart would."""
        with self._lock:
            for app in list(self._apps):
                self._push(app, None)
                del self._apps[app]  # from now on, its events are lost

    def connected(self, app: str) -> bool:
        with self._lock:
            return app in self._apps

    def events_of(self, channel_id: str) -> list[str]:
        """The types of the events sent about ``channel_id``, in order."""
        return [
            e["type"]
            for e in list(self.sent)
            if (e.get("channel") or {}).get("id") == channel_id
            or (e.get("playback") or {}).get("target_uri") == f"channel:{channel_id}"
        ]

    # -- the state's changes ------------------------------------------------------------------

    def _only_app(self) -> str:
        deadline = time.monotonic() + 10
        while not self._apps:
            assert time.monotonic() < deadline, "no application is connected to the fake ARI"
            self._lock.release()
            time.sleep(0.02)
            self._lock.acquire()
        (app,) = self._apps
        return app

    def _channel(
        self,
        channel_id: str,
        name: str,
        state: str,
        *,
        caller: str = "",
        context: str = "default",
        exten: str = "s",
        app_data: str = "",
    ) -> dict[str, Any]:
        return {
            "id": channel_id,
            "protocol_id": "",
            "name": name,
            "state": state,
            "caller": {"name": "", "number": caller},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": context,
                "exten": exten,
                "priority": 1,
                "app_name": "Stasis" if app_data else "",
                "app_data": app_data,
            },
            "creationtime": _now(),
            "language": "fr",
        }

    def _hang_up(self, channel_id: str, *, cause: int) -> None:
        channel = self.channels.get(channel_id)
        if channel is None:
            return
        app = self._stasis.get(channel_id)
        in_stasis = "_args" not in channel
        if app:
            self._emit(app, "ChannelHangupRequest", cause=cause, channel=channel)
        bridge_id = self._in_bridge.pop(channel_id, None)
        if bridge_id is not None:
            bridge = self.bridges[bridge_id]
            bridge["channels"].remove(channel_id)
            if app:
                self._emit(app, "ChannelLeftBridge", bridge=bridge, channel=channel)
        if app and in_stasis:
            self._emit(app, "StasisEnd", channel=channel)
        if app:
            self._emit(
                app, "ChannelDestroyed", cause=cause, cause_txt=_CAUSES[cause], channel=channel
            )
        del self.channels[channel_id]
        self._sip_headers.pop(channel_id, None)
        self._stasis.pop(channel_id, None)
        self._endpoint.pop(channel_id, None)

    def _emit(self, app: str, kind: str, **fields: Any) -> None:
        fields = {k: _public(v) for k, v in fields.items()}
        event = {"type": kind, "application": app, "timestamp": _now(), **fields}
        event["asterisk_id"] = "02:42:ac:11:00:02"
        for problem in self.contract.check_event(event):
            self.violations.append(f"event sent: {problem}")
        if app in self._apps:  # ARI keeps nothing for an application not connected
            self.sent.append(event)
            self._push(app, event)

    def _push(self, app: str, event: dict[str, Any] | None) -> None:
        queue, loop = self._apps.get(app), self._loop
        if queue is not None and loop is not None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

    # -- ASGI ----------------------------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True))
        if scope["type"] == "websocket":
            await self._websocket(path, query, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, answer = self._http(scope["method"], path, query, dict(scope["headers"]), body)
        payload = b"" if answer is None else json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json")] if payload else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _authorised(self, query: dict[str, str], headers: dict[bytes, bytes]) -> bool:
        expected = f"{self.username}:{self.password}"
        given = query.pop("api_key", None)
        if given is not None:
            return given == expected
        basic = headers.get(b"authorization", b"").decode()
        if basic.startswith("Basic "):
            return base64.b64decode(basic[6:]).decode() == expected
        return False

    async def _websocket(
        self, path: str, query: dict[str, str], receive: Receive, send: Send
    ) -> None:
        await receive()  # websocket.connect
        self.received_at.append(time.time())
        self.requests.append(("GET", path, dict(query)))
        if not self._authorised(query, {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        problems = [] if path == "/ari/events" else [f"unknown WebSocket route {path}"]
        if not problems:
            problems = self.contract.check_request("GET", "/events", query)[2]
        if problems:
            self.violations += problems
            await send({"type": "websocket.close", "code": 1008})
            return
        app = query["app"]
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        with self._lock:
            if app in self._apps:
                self._emit(app, "ApplicationReplaced")
                self._push(app, None)
            self._apps[app] = queue
        await send({"type": "websocket.accept"})

        async def read() -> None:
            while (await receive())["type"] != "websocket.disconnect":
                pass

        reader = asyncio.create_task(read())
        try:
            while True:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                if event is None:
                    await send({"type": "websocket.close", "code": 1001})
                    break
                await send({"type": "websocket.send", "text": json.dumps(event)})
        finally:
            reader.cancel()
            with self._lock:
                if self._apps.get(app) is queue:
                    del self._apps[app]

    def _http(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[bytes, bytes],
        body: bytes,
    ) -> tuple[int, Any]:
        if not self._authorised(query, headers):
            return 401, {"message": "Authentication required"}
        self.received_at.append(time.time())
        self.requests.append((method, path, dict(query)))
        if not path.startswith("/ari/"):
            self.violations.append(f"unknown route: {method} {path}")
            return 404, {"message": "Resource not found"}
        op, values, problems = self.contract.check_request(method, path[4:], query)
        has_body = op is not None and any(p["paramType"] == "body" for p in op.parameters.values())
        if body.strip() and op is not None and not has_body:
            problems.append(f"{method} {op.path}: a body where the contract has none")
        if problems:
            self.violations += problems
            return (404 if op is None else 400), {"message": "; ".join(problems)}
        assert op is not None
        resource = op.path.split("/")[1]
        handler = getattr(self, f"_{resource}_{op.nickname}", None)
        if handler is None:
            self.violations.append(f"the fake does not serve {method} {op.path}")
            return 501, {"message": "not served by the fake"}
        with self._lock:
            result: tuple[int, Any] = handler(**values, **query)
            return result

    # -- channels ------------------------------------------------------------------------------

    def _channels_list(self) -> tuple[int, Any]:
        return 200, [_public(c) for c in self.channels.values()]

    def _channels_get(self, channelId: str) -> tuple[int, Any]:
        channel = self.channels.get(channelId)
        return (200, _public(channel)) if channel else (404, {"message": "Channel not found"})

    def _channels_originate(self, **query: str) -> tuple[int, Any]:
        return self._originate(**query)

    def _channels_originateWithId(self, channelId: str, **query: str) -> tuple[int, Any]:
        return self._originate(channelId=channelId, **query)

    def _originate(
        self, *, endpoint: str, channelId: str = "", app: str = "", appArgs: str = "", **rest: str
    ) -> tuple[int, Any]:
        if "/" not in endpoint:
            return 400, {"message": "Endpoint must be in the format technology/resource"}
        number = next(self._numbers)
        channel_id = channelId or f"{int(time.time())}.{number}"
        if channel_id in self.channels:  # channels/originate_duplicate_id
            return 409, {"message": "Channel with given unique ID already exists"}
        channel = self._channel(
            channel_id, f"{endpoint}-{number:08x}", "Ringing", caller=rest.get("callerId", "")
        )
        channel["_args"] = appArgs.split(",") if appArgs else []
        self.channels[channel_id] = channel
        self._endpoint[channel_id] = endpoint
        if app:
            self._stasis[channel_id] = app
            self._emit(app, "ChannelCreated", channel=channel)
        return 200, _public(channel)

    def _channels_hangup(self, channelId: str, **_: str) -> tuple[int, Any]:
        if channelId not in self.channels:
            return 404, {"message": "Channel not found"}
        self._hang_up(channelId, cause=16)
        return 204, None

    def _in_stasis(self, channel_id: str) -> tuple[int, Any] | None:
        channel = self.channels.get(channel_id)
        if channel is None:
            return 404, {"message": "Channel not found"}
        if channel_id not in self._stasis or "_args" in channel:
            return 409, {"message": "Channel not in Stasis application"}
        return None

    def _channels_answer(self, channelId: str) -> tuple[int, Any]:
        refused = self._in_stasis(channelId)
        if refused:
            return refused
        channel = self.channels[channelId]
        if channel["state"] != "Up":
            channel["state"] = "Up"
            self._emit(self._stasis[channelId], "ChannelStateChange", channel=channel)
        return 204, None

    def _channels_ring(self, channelId: str) -> tuple[int, Any]:
        return self._in_stasis(channelId) or (204, None)

    def _channels_continueInDialplan(self, channelId: str, **query: str) -> tuple[int, Any]:
        """The channel leaves the application for the dialplan (``Stasis()`` returns): where
        it goes is kept in ``continued``; it runs no application the fake knows of."""
        refused = self._in_stasis(channelId)
        if refused:
            return refused
        app = self._stasis.pop(channelId)
        channel = self.channels[channelId]
        self.continued[channelId] = dict(query)
        self._emit(app, "StasisEnd", channel=channel)
        dialplan = channel["dialplan"]
        dialplan["priority"] += 1
        dialplan["app_name"], dialplan["app_data"] = "Queue", "plateau"
        return 204, None

    def _channels_setChannelVar(
        self, channelId: str, variable: str, value: str = "", **_: str
    ) -> tuple[int, Any]:
        refused = self._in_stasis(channelId)
        if refused:
            return refused
        self.variables.setdefault(channelId, {})[variable] = value
        channel = self.channels[channelId]
        app = self._stasis[channelId]
        self._emit(app, "ChannelVarset", variable=variable, value=value, channel=channel)
        return 204, None

    def _channels_getChannelVar(self, channelId: str, variable: str) -> tuple[int, Any]:
        refused = self._in_stasis(channelId)
        if refused:
            return refused
        header = re.fullmatch(r"PJSIP_HEADER\(read,([^,)]+)(?:,\d+)?\)", variable)
        if header:  # a dialplan function: the INVITE's header, when it had one
            found = self._sip_headers.get(channelId, {}).get(header[1].lower())
        else:
            found = self.variables.get(channelId, {}).get(variable)
        if found is None:
            return 404, {"message": "Provided variable was not found"}
        return 200, {"value": found}

    def _channels_play(self, channelId: str, media: str, **query: str) -> tuple[int, Any]:
        refused = self._in_stasis(channelId)
        if refused:
            return refused
        playback = {
            "id": query.get("playbackId") or f"playback-{next(self._numbers)}",
            "media_uri": media,
            "target_uri": f"channel:{channelId}",
            "language": query.get("lang", "fr"),
            "state": "queued",
        }
        app = self._stasis[channelId]
        self._emit(app, "PlaybackStarted", playback={**playback, "state": "playing"})
        playback_id = playback["id"]

        def finished() -> None:
            with self._lock:
                if self._playing.pop(playback_id, None) is not None:
                    self._emit(app, "PlaybackFinished", playback={**playback, "state": "done"})

        assert self._loop is not None
        self._playing[playback_id] = finished
        self._loop.call_later(self.playback_s, finished)
        return 201, playback

    def _channels_playWithId(
        self, channelId: str, playbackId: str, media: str, **query: str
    ) -> tuple[int, Any]:
        return self._channels_play(channelId, media, playbackId=playbackId, **query)

    # -- playbacks -----------------------------------------------------------------------------

    def _playbacks_stop(self, playbackId: str) -> tuple[int, Any]:
        """A playback stopped before its end finishes at once (``playbacks/stop``); one over
        already, or unknown, is 404 (``playbacks.json``)."""
        finished = self._playing.get(playbackId)
        if finished is None:
            return 404, {"message": "Playback not found"}
        self.stopped.append(playbackId)
        finished()
        return 204, None

    # -- bridges -------------------------------------------------------------------------------

    def _bridges_create(self, **query: str) -> tuple[int, Any]:
        return self._create(query.pop("bridgeId", ""), **query)

    def _bridges_createWithId(self, bridgeId: str, **query: str) -> tuple[int, Any]:
        return self._create(bridgeId, **query)

    def _create(self, bridge_id: str, *, type: str = "mixing", name: str = "") -> tuple[int, Any]:
        bridge_id = bridge_id or f"bridge-{next(self._numbers)}"
        if bridge_id in self.bridges:
            return 409, {"message": "Bridge with the same bridgeId already exists"}
        self.bridges[bridge_id] = {
            "id": bridge_id,
            "technology": "holding_bridge" if "holding" in type else "simple_bridge",
            "bridge_type": "holding" if "holding" in type else "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": name,
            "channels": [],
            "creationtime": _now(),
        }
        return 200, self.bridges[bridge_id]

    def _bridges_list(self) -> tuple[int, Any]:
        return 200, list(self.bridges.values())

    def _bridges_get(self, bridgeId: str) -> tuple[int, Any]:
        bridge = self.bridges.get(bridgeId)
        return (200, bridge) if bridge else (404, {"message": "Bridge not found"})

    def _bridges_destroy(self, bridgeId: str) -> tuple[int, Any]:
        bridge = self.bridges.pop(bridgeId, None)
        if bridge is None:
            return 404, {"message": "Bridge not found"}
        for channel_id in list(bridge["channels"]):
            self._in_bridge.pop(channel_id, None)
            bridge["channels"].remove(channel_id)
            app = self._stasis.get(channel_id)
            if app:
                channel = self.channels[channel_id]
                self._emit(app, "ChannelLeftBridge", bridge=bridge, channel=channel)
        self.moh.pop(bridgeId, None)
        self._recording_done(bridgeId, bridge)
        return 204, None

    def _bridges_record(
        self, bridgeId: str, name: str, format: str, ifExists: str = "fail", **_: str
    ) -> tuple[int, Any]:
        bridge = self.bridges.get(bridgeId)
        if bridge is None:
            return 404, {"message": "Bridge not found"}
        if bridgeId in self.recording:
            return 409, {"message": "Bridge is already being recorded"}
        if name in self.stored and ifExists == "fail":
            return 409, {"message": "Recording with the same name already exists"}
        if format not in ("wav", "gsm", "ulaw", "alaw", "sln", "g722"):
            return 422, {"message": f"Unrecognized format: {format}"}
        self.stored[name] = format
        self.recording[bridgeId] = name
        live = self._live(bridgeId, "recording")
        for app in {self._stasis[c] for c in bridge["channels"] if c in self._stasis}:
            self._emit(app, "RecordingStarted", recording=live)
        return 201, live

    def _live(self, bridge_id: str, state: str) -> dict[str, Any]:
        name = self.recording[bridge_id]
        target = f"bridge:{bridge_id}"
        return {"name": name, "format": self.stored[name], "target_uri": target, "state": state}

    def _recording_done(self, bridge_id: str, bridge: dict[str, Any]) -> None:
        if bridge_id not in self.recording:
            return
        live = self._live(bridge_id, "done")
        del self.recording[bridge_id]
        for app in set(self._apps):
            self._emit(app, "RecordingFinished", recording=live)

    # -- recordings ----------------------------------------------------------------------------

    def _recordings_listStored(self) -> tuple[int, Any]:
        return 200, [{"name": n, "format": f} for n, f in self.stored.items()]

    def _recordings_deleteStored(self, recordingName: str) -> tuple[int, Any]:
        if recordingName not in self.stored:
            return 404, {"message": "Recording not found"}
        del self.stored[recordingName]
        return 204, None

    def _bridges_addChannel(self, bridgeId: str, channel: str, **_: str) -> tuple[int, Any]:
        bridge = self.bridges.get(bridgeId)
        if bridge is None:
            return 404, {"message": "Bridge not found"}
        ids = channel.split(",")
        if any(c not in self.channels for c in ids):
            return 400, {"message": "Channel not found"}
        if any(self._in_stasis(c) for c in ids):
            return 422, {"message": "Channel not in Stasis application"}
        for channel_id in ids:
            before = self._in_bridge.get(channel_id)
            if before == bridgeId:
                continue
            app = self._stasis[channel_id]
            if before is not None:  # Asterisk moves a bridged channel to the new bridge
                self._bridges_removeChannel(before, channel_id)
            bridge["channels"].append(channel_id)
            self._in_bridge[channel_id] = bridgeId
            channel_ = self.channels[channel_id]
            self._emit(app, "ChannelEnteredBridge", bridge=bridge, channel=channel_)
        return 204, None

    def _bridges_removeChannel(self, bridgeId: str, channel: str) -> tuple[int, Any]:
        bridge = self.bridges.get(bridgeId)
        if bridge is None:
            return 404, {"message": "Bridge not found"}
        ids = channel.split(",")
        if any(c not in self.channels for c in ids):
            return 400, {"message": "Channel not found"}
        if any(self._in_bridge.get(c) != bridgeId for c in ids):
            return 422, {"message": "Channel not in this bridge"}
        for channel_id in ids:
            bridge["channels"].remove(channel_id)
            del self._in_bridge[channel_id]
            app = self._stasis[channel_id]
            self._emit(app, "ChannelLeftBridge", bridge=bridge, channel=self.channels[channel_id])
        return 204, None

    def _bridges_startMoh(self, bridgeId: str, mohClass: str = "default") -> tuple[int, Any]:
        if bridgeId not in self.bridges:
            return 404, {"message": "Bridge not found"}
        self.moh[bridgeId] = mohClass
        return 204, None

    # -- applications --------------------------------------------------------------------------

    def _applications_list(self) -> tuple[int, Any]:
        return 200, [
            {
                "name": app,
                "channel_ids": [c for c, a in self._stasis.items() if a == app],
                "bridge_ids": list(self.bridges),
                "endpoint_ids": [],
                "device_names": [],
                "events_allowed": [],
                "events_disallowed": [],
            }
            for app in self._apps
        ]


def _public(value: Any) -> Any:
    """A copy without the fake's own keys (``_args``)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    return value
