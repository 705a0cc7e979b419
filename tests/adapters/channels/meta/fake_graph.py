"""A fake Graph API for contract tests: Meta's send and reply endpoints, and its webhook's echoes.

It is a real HTTP server (a small ASGI application served by uvicorn in a thread, on a free
port) that holds to Meta's published contract rather than to what the channel expects:

- ``POST /{version}/{page-id}/messages`` (the Send API): ``access_token`` as a parameter; a JSON
  body of ``recipient.id``, ``messaging_type`` (``RESPONSE``, ``UPDATE`` or ``MESSAGE_TAG``,
  the last with a ``tag`` Meta lists), ``message.text`` (at most 2,000 characters) and
  ``message.metadata`` (at most 1,000); answered ``{"recipient_id", "message_id"}``;
- ``POST /{version}/{comment-id}/comments`` (a Facebook comment's reply) and
  ``POST /{version}/{ig-comment-id}/replies`` (an Instagram comment's): ``message`` required,
  the comment known; answered ``{"id"}``;
- ``GET`` of the same edges: the comment's replies, oldest first (ours and those scripted with
  ``reply``), with the ``fields`` asked among those Meta documents for a Comment (Facebook:
  ``from`` with the Page's or the person's ``id`` and ``name``, ``message``) or an IG Comment
  (``from`` with ``id`` and ``username``, ``text``), ``limit`` a page (25 by default), paged by
  the ``after`` cursor of ``paging.cursors`` (``paging.next`` only when there are more);
- errors as Meta gives them, ``{"error": {"message", "type", "code", "error_subcode",
  "fbtrace_id"}}``: 190 for a token expired (``expire``) or unknown, 100 for a bad parameter,
  803 for an unknown object, 10/2018278 for an answer outside the 24-hour window without a tag.

Every request that breaks the contract (an unknown field, a version not pinned, a missing
parameter) is answered as Meta would and recorded in ``violations``, which the tests' fixture
asserts empty. With ``echo_to`` set, each message sent is reported back to that webhook URL
as Meta does (``message_echoes``: ``is_echo``, the ``app_id`` and ``metadata``), signed with
the app secret.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn

from aiguillage.adapters.channels.social.signatures import sign
from tests.adapters.daemons import free_port

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

VERSION = "v21.0"
PAGE_ID = "104857600000001"
INSTAGRAM_ID = "17841400000000002"
APP_ID = "987654321000003"
APP_SECRET = "meta-app-secret-for-tests"
_COMMENT_FIELDS = {
    "id",
    "from",
    "message",
    "created_time",
    "parent",
    "attachment",
    "can_comment",
    "comment_count",
    "is_hidden",
    "like_count",
    "message_tags",
    "permalink_url",
}
"""A Facebook Comment's fields (Graph API reference, Comment)."""
_IG_COMMENT_FIELDS = {
    "id",
    "from",
    "text",
    "timestamp",
    "username",
    "hidden",
    "like_count",
    "media",
    "parent_id",
    "replies",
    "user",
}
"""An IG Comment's fields (Instagram Graph API reference, IG Comment)."""
_MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}
_Answer = tuple[int, dict[str, Any], dict[str, Any] | None]
"""A status, its JSON body, and the echo to deliver (a message sent), if any."""
_TAGS = {"HUMAN_AGENT", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"}


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """The headers Meta sends a delivery with."""
    return {"X-Hub-Signature-256": sign(secret.encode(), body), "Content-Type": "application/json"}


class FakeGraph:
    """See the module docstring. Thread-safe: tests call it from their own thread."""

    def __init__(self, token: str = "page-token-1") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = {token}
        self.expired: set[str] = set()
        self.comments: dict[str, str] = {}
        """Known comments: id to ``facebook`` or ``instagram``."""
        self.replies: dict[str, list[dict[str, str]]] = {}
        """Each comment's replies, oldest first: ``id``, ``author``, ``text``."""
        self._cursors: dict[str, int] = {}
        self.windows: dict[str, float] = {}
        """Each recipient's latest message (``time.time()``): the Send API's 24-hour rule."""
        self.violations: list[str] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        """Every request taken: its path and its body (the parameters for a reply)."""
        self.received_at: list[float] = []
        self.sent: list[dict[str, Any]] = []
        """What Meta accepted and delivered, in order."""
        self.by_metadata: Counter[str] = Counter()
        self.refused: list[dict[str, Any]] = []
        self.echo_to: str | None = None
        self.echoes: list[int] = []
        self.limit_next = 0
        """Refuse that many next sends for the Page's rate limit (code 613), with a wait of a
        minute in ``X-Business-Use-Case-Usage``, as Meta does."""
        self.echo_before_answer = False
        """Report a message sent back to the webhook before answering its send (Meta's echo
        may outrun its answer)."""
        self.on_take: Callable[[], None] | None = None
        """Called when a message is taken, after its echo, before its answer (a test kills the
        daemon there: Meta took the message, the daemon never heard so)."""
        """The webhook's answer to each echo delivered."""
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- what tests script ---------------------------------------------------------------------

    def expire(self, token: str) -> None:
        with self._lock:
            self.expired.add(token)

    def issue(self, token: str) -> None:
        with self._lock:
            self.tokens.add(token)

    def comment(self, comment_id: str, network: str) -> None:
        with self._lock:
            self.comments[comment_id] = network

    def reply(self, comment_id: str, author: str, text: str) -> str:
        """Someone replied under a comment (a customer; the Page, from Meta Business Suite)."""
        with self._lock:
            reply_id = f"{comment_id}_{next(self._ids)}"
            self.replies.setdefault(comment_id, []).append(
                {"id": reply_id, "author": author, "text": text}
            )
            return reply_id

    def wrote(self, recipient: str, at: float | None = None) -> None:
        """A customer wrote to the Page: the 24-hour window opens from ``at``."""
        with self._lock:
            self.windows[recipient] = time.time() if at is None else at

    # -- serving -------------------------------------------------------------------------------

    def start(self) -> FakeGraph:
        config = uvicorn.Config(
            self._asgi,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)

        def serve() -> None:
            assert self._server is not None
            asyncio.run(self._server.serve())

        self._thread = threading.Thread(target=serve, name="fake-graph", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the fake Graph API did not start"
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
        query = dict(parse_qsl(scope.get("query_string", b"").decode()))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer, echo = self._handle(scope["method"], scope["path"], query, headers, body)
        if echo is not None and self.echo_to and self.echo_before_answer:
            await asyncio.to_thread(self._deliver_echo, echo)
            echo = None
        if status == 200 and scope["method"] == "POST" and self.on_take is not None:
            await asyncio.to_thread(self.on_take)
        data = json.dumps(answer).encode()
        extra = []
        if answer.get("error", {}).get("code") == 613:
            usage = {
                PAGE_ID: [
                    {
                        "type": "pages",
                        "call_count": 100,
                        "total_cputime": 12,
                        "total_time": 40,
                        "estimated_time_to_regain_access": 1,
                    }
                ]
            }
            extra.append((b"x-business-use-case-usage", json.dumps(usage).encode()))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"x-fb-trace-id", b"t"),
                    *extra,
                ],
            }
        )
        try:
            await send({"type": "http.response.body", "body": data})
        except OSError:
            return  # the daemon died before our answer
        if echo is not None and self.echo_to:
            await asyncio.to_thread(self._deliver_echo, echo)

    def _handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> _Answer:
        with self._lock:
            self.received_at.append(time.time())
            parts = path.strip("/").split("/")
            if method not in ("GET", "POST") or len(parts) != 3:
                return self._violation(f"{method} {path}: no such edge", 400, 100)
            version, node, edge = parts
            if version != VERSION:
                return self._violation(f"{path}: version {version}, not {VERSION}", 400, 2635)
            token = query.get("access_token", "")
            if not token:
                return self._violation(f"{path}: no access_token", 400, 104)
            if token in self.expired or token not in self.tokens:
                return (
                    400,
                    _error(
                        "Error validating access token: Session has expired.",
                        190,
                        463,
                        "OAuthException",
                    ),
                    None,
                )
            if self.limit_next > 0:
                self.limit_next -= 1
                return (
                    400,
                    _error("(#613) Calls to this api have exceeded the rate limit.", 613, None),
                    None,
                )
            if method == "GET" and edge in ("comments", "replies"):
                return self._read_replies(node, edge, query)
            if method == "GET":
                return self._violation(f"GET {path}: not served by the fake", 400, 100)
            if node == PAGE_ID and edge == "messages":
                return self._message(headers, body)
            if edge in ("comments", "replies"):
                return self._reply(node, edge, headers, body, query)
            return self._violation(f"{path}: unknown object or edge", 400, 803)

    def _message(self, headers: dict[str, str], body: bytes) -> _Answer:
        if not headers.get("content-type", "").startswith("application/json"):
            return self._violation("messages: the body is not JSON", 400, 100)
        try:
            data = json.loads(body)
        except ValueError:
            return self._violation("messages: the body is not JSON", 400, 100)
        self.requests.append(("messages", data))
        unknown = set(data) - {"recipient", "messaging_type", "message", "tag"}
        if unknown:
            return self._violation(f"messages: unknown fields {sorted(unknown)}", 400, 100)
        recipient = (data.get("recipient") or {}).get("id")
        kind, message = data.get("messaging_type"), data.get("message") or {}
        if not isinstance(recipient, str) or not recipient:
            return self._violation("messages: recipient.id missing", 400, 100)
        if kind not in _MESSAGING_TYPES:
            return self._violation(f"messages: messaging_type {kind!r}", 400, 100)
        if (kind == "MESSAGE_TAG") != ("tag" in data) or data.get(
            "tag", "HUMAN_AGENT"
        ) not in _TAGS:
            return self._violation("messages: tag goes with MESSAGE_TAG", 400, 100)
        if set(message) - {"text", "metadata", "attachment", "quick_replies"}:
            return self._violation(f"messages: message fields {sorted(message)}", 400, 100)
        text, metadata = message.get("text"), message.get("metadata", "")
        if not isinstance(text, str) or not text or len(text) > 2000:
            return self._violation("messages: message.text missing or too long", 400, 100)
        if not isinstance(metadata, str) or len(metadata) > 1000:
            return self._violation("messages: metadata over 1000 characters", 400, 100)
        opened = self.windows.get(recipient)
        if opened is None:
            self.refused.append(data)
            return 400, _error("No matching user found", 100, 2018001), None
        age = time.time() - opened
        limit = 7 * 86_400 if kind == "MESSAGE_TAG" else 86_400
        if age > limit:
            self.refused.append(data)
            return (
                400,
                _error("This message is sent outside of allowed window.", 10, 2018278),
                None,
            )
        mid = f"m_{next(self._ids)}"
        self.sent.append({**data, "message_id": mid})
        if metadata:
            self.by_metadata[metadata] += 1
        echo = {"recipient": recipient, "mid": mid, "text": text, "metadata": metadata}
        return 200, {"recipient_id": recipient, "message_id": mid}, echo

    def _reply(
        self, node: str, edge: str, headers: dict[str, str], body: bytes, query: dict[str, str]
    ) -> _Answer:
        fields = dict(query)
        if body:
            if headers.get("content-type", "").startswith("application/json"):
                fields.update(json.loads(body))
            else:
                fields.update(parse_qsl(body.decode()))
        fields.pop("access_token", None)
        self.requests.append((f"{node}/{edge}", fields))
        network = self.comments.get(node)
        if network is None:
            return self._violation(f"{node}/{edge}: no such comment", 400, 803)
        wanted = "replies" if network == "instagram" else "comments"
        if edge != wanted:
            return self._violation(f"{node}/{edge}: a {network} comment has no {edge}", 400, 100)
        message = fields.get("message")
        if (
            set(fields) - {"message", "attachment_url"}
            or not isinstance(message, str)
            or not message
        ):
            return self._violation(f"{node}/{edge}: message missing or unknown fields", 400, 100)
        reply_id = f"{node}_{next(self._ids)}"
        self.sent.append({"comment": node, "edge": edge, "message": message, "id": reply_id})
        author = INSTAGRAM_ID if network == "instagram" else PAGE_ID
        self.replies.setdefault(node, []).append(
            {"id": reply_id, "author": author, "text": message}
        )
        return 200, {"id": reply_id}, None

    def _read_replies(self, node: str, edge: str, query: dict[str, str]) -> _Answer:
        params = {k: v for k, v in query.items() if k != "access_token"}
        self.requests.append((f"GET {node}/{edge}", params))
        network = self.comments.get(node)
        if network is None:
            return self._violation(f"{node}/{edge}: no such comment", 400, 803)
        wanted = "replies" if network == "instagram" else "comments"
        if edge != wanted:
            return self._violation(f"{node}/{edge}: a {network} comment has no {edge}", 400, 100)
        unknown = set(params) - {"fields", "limit", "after", "before", "order", "filter"}
        if unknown:
            return self._violation(f"{node}/{edge}: unknown parameters {sorted(unknown)}", 400, 100)
        documented = _IG_COMMENT_FIELDS if network == "instagram" else _COMMENT_FIELDS
        fields = [f for f in params.get("fields", "id").split(",") if f]
        if set(fields) - documented:
            return self._violation(f"{node}/{edge}: unknown fields {fields}", 400, 100)
        limit = params.get("limit", "25")
        if not limit.isdigit() or not 0 < int(limit) <= 100:
            return self._violation(f"{node}/{edge}: limit {limit!r}", 400, 100)
        start = 0
        if "after" in params:
            if params["after"] not in self._cursors:
                return self._violation(f"{node}/{edge}: unknown cursor", 400, 100)
            start = self._cursors[params["after"]]
        every = self.replies.get(node, [])
        page = every[start : start + int(limit)]
        data = [self._reply_fields(r, network, fields) for r in page]
        answer: dict[str, Any] = {"data": data}
        if page:
            before, after = f"QVFIU{start:06d}", f"QVFIU{start + len(page):06d}"
            self._cursors[after] = start + len(page)
            answer["paging"] = {"cursors": {"before": before, "after": after}}
            if start + len(page) < len(every):
                answer["paging"]["next"] = f"{self.url}/{VERSION}/{node}/{edge}?after={after}"
        return 200, answer, None

    @staticmethod
    def _reply_fields(reply: dict[str, str], network: str, fields: list[str]) -> dict[str, Any]:
        ours = reply["author"] in (PAGE_ID, INSTAGRAM_ID)
        found: dict[str, Any] = {"id": reply["id"]}
        if "from" in fields:
            found["from"] = (
                {"id": reply["author"], "username": "reseau.transport" if ours else "client"}
                if network == "instagram"
                else {"id": reply["author"], "name": "Réseau" if ours else "Client Exemple"}
            )
        if "message" in fields:
            found["message"] = reply["text"]
        if "text" in fields:
            found["text"] = reply["text"]
        return found

    def _violation(self, what: str, status: int, code: int) -> _Answer:
        self.violations.append(what)
        return status, _error(f"(#{code}) {what}", code, None), None

    def _deliver_echo(self, echo: dict[str, Any]) -> None:
        now = int(time.time() * 1000)
        delivery = {
            "object": "page",
            "entry": [
                {
                    "id": PAGE_ID,
                    "time": now,
                    "messaging": [
                        {
                            "sender": {"id": PAGE_ID},
                            "recipient": {"id": echo["recipient"]},
                            "timestamp": now,
                            "message": {
                                "is_echo": True,
                                "app_id": int(APP_ID),
                                "metadata": echo["metadata"],
                                "mid": echo["mid"],
                                "text": echo["text"],
                            },
                        }
                    ],
                }
            ],
        }
        body = json.dumps(delivery).encode()
        assert self.echo_to is not None
        for _ in range(50):  # Meta retries a delivery not answered 200
            try:
                status = httpx.post(self.echo_to, content=body, headers=signed(body)).status_code
                with self._lock:
                    self.echoes.append(status)
                if status == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)


def _error(message: str, code: int, subcode: int | None, kind: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": kind or ("OAuthException" if code in (190, 10, 100) else "GraphMethodException"),
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}
