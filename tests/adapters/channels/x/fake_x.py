"""A fake X API for contract tests, every request held to X's own OpenAPI description (v2).

A real HTTP server on loopback (uvicorn in a thread). Each request is matched to an operation
of ``x-api/openapi.json`` (the contract files beside the repository): its path template, its
method, its parameters (required ones present, each value valid against its schema, none
unknown) and its JSON body against the operation's request schema (``jsonschema``). A request
that does not validate is answered 400 as X does and recorded in ``violations``, which the
fixture asserts empty. Served: the direct message and reply posts the channel sends (201, X's
shapes), the mentions and direct-message events it polls (newest first, ``since_id`` and
``start_time`` for mentions, in pages of ``max_results`` with X's ``meta.next_token`` and
``pagination_token``), the webhook replay job; 401 for a token not issued, and a scripted 429 with
``x-rate-limit-reset``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
import uvicorn

from aiguillage.adapters.channels.social.signatures import sign
from tests.adapters.daemons import free_port

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

USER_ID = "1500000000000000001"
APP_ID = "29000001"
WEBHOOK_ID = "1600000000000000001"
CONSUMER_SECRET = "x-consumer-secret-for-tests"
_CONTRACTS = Path(
    os.environ.get("AIGUILLAGE_CONTRACTS")
    or Path(__file__).resolve().parents[4] / ".." / "shared" / "contracts"
)
OPENAPI = _CONTRACTS / "x-api" / "openapi.json"


def signed(body: bytes, secret: str = CONSUMER_SECRET) -> dict[str, str]:
    """The headers X sends a delivery with."""
    return {
        "x-twitter-webhooks-signature": sign(secret.encode(), body, "base64"),
        "Content-Type": "application/json",
    }


class Contract:
    """X's OpenAPI document: which operation a request is, and whether it validates."""

    def __init__(self, path: Path = OPENAPI) -> None:
        self.document = json.loads(path.read_text())
        self._routes = []
        for template, item in self.document["paths"].items():
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            self._routes.append((re.compile(f"^{pattern}$"), template, item))

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def _validate(self, schema: dict[str, Any], value: object, what: str) -> list[str]:
        root = {**schema, "components": self.document["components"]}
        validator = jsonschema.Draft7Validator(root)
        return [f"{what}: {e.message}" for e in validator.iter_errors(value)]

    def check(
        self, method: str, path: str, query: list[tuple[str, str]], body: bytes | None
    ) -> tuple[str, list[str]]:
        """The operation's id and what breaks the contract (empty: the request is valid)."""
        for pattern, template, item in self._routes:
            matched = pattern.match(path)
            if matched is None or method.lower() not in item:
                continue
            if any(p.match(path) for p, t, _ in self._routes if t != template and "{" not in t):
                continue  # a literal path wins over a template
            operation = item[method.lower()]
            problems: list[str] = []
            given = dict(query)
            if len(given) != len(query):
                problems.append(f"{template}: a parameter repeated")
            parameters = [self._resolve(p) for p in operation.get("parameters", [])]
            names = {p["name"] for p in parameters if p["in"] == "query"}
            problems += [f"{template}: unknown parameter {n}" for n in sorted(set(given) - names)]
            for parameter in parameters:
                name, where = parameter["name"], parameter["in"]
                value: Any = matched.group(name) if where == "path" else given.get(name)
                if value is None:
                    if parameter.get("required"):
                        problems.append(f"{template}: parameter {name} missing")
                    continue
                schema = self._resolve(parameter.get("schema", {}))
                problems += self._validate(schema, _typed(value, schema), f"{template} {name}")
            request = operation.get("requestBody")
            if request is not None:
                schema = request["content"].get("application/json", {}).get("schema")
                try:
                    data = json.loads(body or b"")
                except ValueError:
                    problems.append(f"{template}: the body is not JSON")
                else:
                    problems += self._validate(schema, data, f"{template} body")
            elif body:
                problems.append(f"{template}: a body where none is taken")
            return operation["operationId"], problems
        return "", [f"{method} {path}: no such operation in X's OpenAPI description"]


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """A query value as the schema types it (arrays: comma-separated, ``explode: false``)."""
    kind = schema.get("type")
    if kind == "array":
        return value.split(",")
    if kind == "integer":
        return int(value) if value.lstrip("-").isdigit() else value
    return value


class FakeX:
    """See the module docstring. Thread-safe: tests script it from their own thread."""

    def __init__(self, token: str = "user-token-1", bearer: str = "app-bearer-1") -> None:
        self.contract = Contract()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = {token}
        self.bearers = {bearer}
        self.violations: list[str] = []
        self.calls: list[str] = []
        """The operation id of every request, in order."""
        self.sent: list[dict[str, Any]] = []
        self.mentions: list[dict[str, Any]] = []
        self.dm_events: list[dict[str, Any]] = []
        self.replays: list[dict[str, Any]] = []
        self.polled_since: list[str] = []
        self.pages: list[tuple[str, dict[str, str]]] = []
        """Each page read of the mentions and direct-message events: (operation, query)."""
        self._tokens: dict[str, tuple[str, int]] = {}
        self.limit_next = 0
        self._ids = itertools.count(1_700_000_000_000_000_001)
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def next_id(self) -> str:
        with self._lock:
            return str(next(self._ids))

    def mention(
        self, author: str, text: str, conversation: str = "", at: datetime | None = None
    ) -> str:
        """A post mentioning the account (made now, or ``at``), for the mentions endpoint; its
        id. Posts are made in time order: X's ids grow with time."""
        post_id = self.next_id()
        with self._lock:
            self.mentions.insert(
                0,
                {
                    "id": post_id,
                    "text": text,
                    "author_id": author,
                    "conversation_id": conversation or post_id,
                    "created_at": _iso(at),
                    "edit_history_tweet_ids": [post_id],
                },
            )
        return post_id

    def direct(self, sender: str, text: str, at: datetime | None = None) -> str:
        """A direct message to the account (sent now, or ``at``); its event id."""
        event_id = self.next_id()
        with self._lock:
            self.dm_events.insert(
                0,
                {
                    "id": event_id,
                    "event_type": "MessageCreate",
                    "text": text,
                    "sender_id": sender,
                    "dm_conversation_id": f"{min(sender, USER_ID)}-{max(sender, USER_ID)}",
                    "created_at": _iso(at),
                },
            )
        return event_id

    def _page(
        self, operation: str, found: list[dict[str, Any]], params: dict[str, str]
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        """One page of ``found`` (newest first) as X pages it: ``max_results`` items from the
        ``pagination_token`` given (an opaque token X issued), ``meta.next_token`` when more."""
        self.pages.append((operation, dict(params)))
        size = int(params.get("max_results", "10" if operation == "getUsersMentions" else "100"))
        offset = 0
        token = params.get("pagination_token")
        if token is not None:
            issued = self._tokens.get(token)
            if issued is None or issued[0] != operation:
                self.violations.append(f"{operation}: pagination_token {token!r} not issued")
                return 400, _problem("Invalid Request", "pagination_token"), []
            offset = issued[1]
        data = found[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta |= {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        if offset + size < len(found):
            next_token = f"7140dibdnow9c7btw{next(self._ids):x}"
            self._tokens[next_token] = (operation, offset + size)
            meta["next_token"] = next_token
        return 200, ({"data": data, "meta": meta} if data else {"meta": meta}), []

    # -- serving -------------------------------------------------------------------------------

    def start(self) -> FakeX:
        config = uvicorn.Config(
            self._asgi,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve()),  # type: ignore[union-attr]
            name="fake-x",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the fake X API did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        query = parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer, extra = self._handle(scope["method"], scope["path"], query, headers, body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    def _handle(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        with self._lock:
            operation, problems = self.contract.check(method, path, query, body or None)
            self.calls.append(operation or f"{method} {path}")
            if problems:
                self.violations += problems
                return 400, _problem("Invalid Request", "; ".join(problems)), []
            if body and not headers.get("content-type", "").startswith("application/json"):
                self.violations.append(f"{path}: the body is not sent as application/json")
                return 400, _problem("Invalid Request", "content type"), []
            token = headers.get("authorization", "").removeprefix("Bearer ")
            known = self.bearers if operation == "createWebhookReplayJob" else self.tokens
            if token not in known:
                return (
                    401,
                    {
                        "title": "Unauthorized",
                        "type": "about:blank",
                        "status": 401,
                        "detail": "Unauthorized",
                    },
                    [],
                )
            if self.limit_next > 0:
                self.limit_next -= 1
                reset = str(int(time.time()) + 120).encode()
                return (
                    429,
                    {
                        "title": "Too Many Requests",
                        "detail": "Too Many Requests",
                        "type": "about:blank",
                        "status": 429,
                    },
                    [
                        (b"x-rate-limit-limit", b"200"),
                        (b"x-rate-limit-remaining", b"0"),
                        (b"x-rate-limit-reset", reset),
                    ],
                )
            data = json.loads(body) if body else {}
            params = dict(query)
            if operation == "createDirectMessagesByParticipantId":
                participant = path.split("/")[4]
                event_id = str(next(self._ids))
                self.sent.append({"dm_to": participant, "text": data["text"], "id": event_id})
                self.dm_events.insert(  # X lists what the account sends among its events
                    0,
                    {
                        "id": event_id,
                        "event_type": "MessageCreate",
                        "text": data["text"],
                        "sender_id": USER_ID,
                        "dm_conversation_id": f"{min(participant, USER_ID)}-"
                        f"{max(participant, USER_ID)}",
                        "created_at": _now_iso(),
                    },
                )
                conversation = f"{min(participant, USER_ID)}-{max(participant, USER_ID)}"
                return (
                    201,
                    {"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}},
                    [],
                )
            if operation == "createPosts":
                post_id = str(next(self._ids))
                reply = data.get("reply", {}).get("in_reply_to_tweet_id")
                self.sent.append({"reply_to": reply, "text": data["text"], "id": post_id})
                return 201, {"data": {"id": post_id, "text": data["text"]}}, []
            if operation == "getUsersMentions":
                since = params.get("since_id", "")
                self.polled_since.append(since)
                start = params.get("start_time", "")
                found = [
                    m
                    for m in self.mentions
                    if (not since or int(m["id"]) > int(since))
                    and (not start or _instant(m["created_at"]) >= _instant(start))
                ]
                return self._page(operation, found, params)
            if operation == "getDirectMessagesEvents":
                return self._page(operation, list(self.dm_events), params)
            if operation == "createWebhookReplayJob":
                self.replays.append(data)
                return 200, {"data": {"job_id": "1", "created_at": _now_iso()}}, []
            self.violations.append(f"{operation}: not served by the fake")
            return 404, _problem("Not Found", operation), []


def _now_iso() -> str:
    return _iso(None)


def _iso(at: datetime | None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _problem(title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": 400}
