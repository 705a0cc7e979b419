"""A fake LinkedIn REST API (Community Management API) for contract tests.

LinkedIn publishes no machine-readable contract (no OpenAPI or discovery document) for these
endpoints: this fake follows the request and response shapes of its documentation (Microsoft
Learn, "Posts API" and "Comments API", versioned REST API) and holds the channel to them:

- every request: ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` (a version this fake
  is told LinkedIn still serves, ``versions``; 426 ``NONEXISTENT_VERSION`` otherwise) and
  ``X-Restli-Protocol-Version: 2.0.0``; URNs in paths URL-encoded;
- ``GET /rest/posts?q=author&author=<organisation URN>&count&sortBy=LAST_MODIFIED``:
  ``{"elements": [{"id": "urn:li:share:…", "author", "commentary", …}], "paging"}``;
- ``GET /rest/socialActions/<post or comment URN>/comments?start&count``: ``{"elements":
  [{"actor", "commentUrn", "id", "message": {"text"}, "created": {"actor", "time"},
  "object", "parentComment"?}], "paging": {"start", "count", "total"}}``;
- ``POST /rest/socialActions/<comment URN>/comments``, JSON ``{"actor", "object", "message":
  {"text"}, "parentComment"}``: a reply; 201 with ``x-restli-id`` and the comment created;
- ``GET /rest/organizationalEntityNotifications?q=criteria&organizationalEntity=<organisation
  URN>&actions=List(SHARE_MENTION)&timeRange=(start:<ms>,end:<ms>)`` (Rest.li 2.0 syntax):
  ``{"elements": [{"action": "SHARE_MENTION", "generatedActivity", "sourcePost",
  "organizationalEntity", "lastModifiedAt"}]}``; ``GET /rest/posts/<post URN>``: the post;
- ``POST /rest/socialActions/<post URN>/comments`` without ``parentComment``: a comment on a
  post (the answer to a mention);
- errors ``{"status", "serviceErrorCode", "code", "message"}``: 401 ``EXPIRED_ACCESS_TOKEN``,
  429 past ``daily_calls`` (and while ``limited``).

Requests that break these shapes are answered 400 and recorded in ``violations``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

import uvicorn

from tests.adapters.daemons import free_port

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ORGANIZATION_ID = "2414183"
ORGANIZATION = f"urn:li:organization:{ORGANIZATION_ID}"
VERSION = "202411"


class FakeLinkedin:
    """See the module docstring. Thread-safe: tests call it from their own thread."""

    def __init__(self, token: str = "li-token-1") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = {token}
        self.expired: set[str] = set()
        self.versions = {VERSION}
        self.daily_calls = 1_000_000
        self.calls: list[tuple[str, str]] = []
        self.violations: list[str] = []
        self.posts: list[str] = []
        """The organisation's posts, most recently modified first."""
        self.comments: dict[str, dict[str, Any]] = {}
        """Every comment by URN, with the URN it is on (``_on``)."""
        self.replies: list[dict[str, Any]] = []
        self.mentions: dict[str, dict[str, Any]] = {}
        """Posts by others mentioning the organisation, by URN, with ``lastModifiedAt``."""
        self.limited = 0
        """Refuse that many next calls with 429 (a daily limit met)."""
        self._ids = itertools.count(7_000_000_000_000_000_001)
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- what tests script ---------------------------------------------------------------------

    def post(self) -> str:
        with self._lock:
            urn = f"urn:li:share:{next(self._ids)}"
            self.posts.insert(0, urn)
            return urn

    def mention(self, text: str, *, author: str = "urn:li:person:3f2E1d0C9b") -> str:
        """Someone's post mentioning the organisation."""
        with self._lock:
            urn = f"urn:li:share:{next(self._ids)}"
            now = int(time.time() * 1000)
            self.mentions[urn] = {
                "id": urn,
                "author": author,
                "commentary": text,
                "createdAt": now,
                "publishedAt": now,
                "lastModifiedAt": now,
                "lifecycleState": "PUBLISHED",
                "visibility": "PUBLIC",
            }
            return urn

    def comment(
        self,
        on: str,
        text: str,
        *,
        actor: str = "urn:li:person:8a7B6c5D4e",
        at: float | None = None,
    ) -> str:
        """A comment on a post, or a reply when ``on`` is a comment's URN."""
        with self._lock:
            number = next(self._ids)
            parent = self.comments.get(on)
            activity = parent["object"] if parent else on.replace(":share:", ":activity:")
            urn = f"urn:li:comment:({activity},{number})"
            created = {"actor": actor, "time": int((time.time() if at is None else at) * 1000)}
            element: dict[str, Any] = {
                "actor": actor,
                "commentUrn": urn,
                "$URN": urn,
                "id": str(number),
                "message": {"text": text, "attributes": []},
                "created": created,
                "lastModified": created,
                "object": activity,
                "_on": on,
            }
            if parent:
                element["parentComment"] = on
            self.comments[urn] = element
            return urn

    # -- serving -------------------------------------------------------------------------------

    def start(self) -> FakeLinkedin:
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

        self._thread = threading.Thread(target=serve, name="fake-linkedin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the fake LinkedIn did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw_path = scope.get("raw_path") or scope["path"].encode()
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode()))
        status, answer, extra = self._handle(
            scope["method"], raw_path.decode(), query, headers, b"".join(chunks)
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    def _handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        with self._lock:
            if headers.get("x-restli-protocol-version") != "2.0.0":
                return self._violation("X-Restli-Protocol-Version 2.0.0 missing")
            version = headers.get("linkedin-version", "")
            if not (len(version) == 6 and version.isdigit()):
                return self._violation(f"LinkedIn-Version {version!r} is not YYYYMM")
            if version not in self.versions:
                return _error(
                    426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"
                )
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.tokens or token in self.expired:
                return _error(
                    401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65601
                )
            if self.limited > 0 or len(self.calls) >= self.daily_calls:
                self.limited = max(0, self.limited - 1)
                return _error(
                    429,
                    "TOO_MANY_REQUESTS",
                    "Resource level throttle APPLICATION DAY limit for calls to this resource "
                    "is reached.",
                )
            self.calls.append((method, unquote(path)))
            if path == "/rest/posts" and method == "GET":
                return self._posts(query)
            if path.startswith("/rest/posts/") and method == "GET":
                post = unquote(path.removeprefix("/rest/posts/"))
                if ":" in path.removeprefix("/rest/posts/"):
                    return self._violation(f"{path}: the URN in the path is not URL-encoded")
                if post not in self.mentions:
                    return _error(404, "NOT_FOUND", f"{post} not found")
                return 200, self.mentions[post], []
            if path == "/rest/organizationalEntityNotifications" and method == "GET":
                return self._notifications(query)
            prefix, suffix = "/rest/socialActions/", "/comments"
            if path.startswith(prefix) and path.endswith(suffix):
                target = path[len(prefix) : -len(suffix)]
                if any(c in target for c in ":(),"):
                    return self._violation(f"{path}: the URN in the path is not URL-encoded")
                target = unquote(target)
                if method == "GET":
                    return self._list(target, query)
                if method == "POST":
                    return self._create(target, headers, body)
            return self._violation(f"{method} {path}: no such resource")

    def _posts(
        self, query: dict[str, str]
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        if query.get("q") != "author" or query.get("author") != ORGANIZATION:
            return self._violation(f"posts: q=author&author=<organisation URN> wanted, not {query}")
        if set(query) - {"q", "author", "count", "start", "sortBy", "viewContext"}:
            return self._violation(f"posts: unknown parameters {sorted(query)}")
        if query.get("sortBy", "LAST_MODIFIED") not in ("LAST_MODIFIED", "CREATED"):
            return self._violation(f"posts: sortBy {query.get('sortBy')!r}")
        count = int(query.get("count", "10"))
        elements = [
            {
                "id": urn,
                "author": ORGANIZATION,
                "commentary": "Info trafic",
                "lifecycleState": "PUBLISHED",
            }
            for urn in self.posts[:count]
        ]
        return (
            200,
            {
                "elements": elements,
                "paging": {"start": 0, "count": count, "total": len(self.posts)},
            },
            [],
        )

    def _notifications(
        self, query: dict[str, str]
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        if query.get("q") != "criteria" or query.get("organizationalEntity") != ORGANIZATION:
            return self._violation(f"notifications: q=criteria&organizationalEntity, not {query}")
        actions = query.get("actions", "")
        if not (actions.startswith("List(") and actions.endswith(")")):
            return self._violation(f"notifications: actions={actions!r} is not a Rest.li List")
        wanted = set(actions[5:-1].split(","))
        if wanted - {"COMMENT", "SHARE_MENTION", "ADMIN_COMMENT", "COMMENT_EDIT", "SHARE"}:
            return self._violation(f"notifications: unknown actions {sorted(wanted)}")
        match = re.fullmatch(r"\(start:(\d+),end:(\d+)\)", query.get("timeRange", ""))
        if match is None:
            return self._violation(
                f"notifications: timeRange={query.get('timeRange')!r} is not (start:…,end:…)"
            )
        start, end = int(match[1]), int(match[2])
        elements = [
            {
                "action": "SHARE_MENTION",
                "organizationalEntity": ORGANIZATION,
                "sourcePost": urn,
                "generatedActivity": urn,
                "lastModifiedAt": post["lastModifiedAt"],
            }
            for urn, post in self.mentions.items()
            if "SHARE_MENTION" in wanted and start <= post["lastModifiedAt"] <= end
        ]
        return 200, {"elements": elements, "paging": {"start": 0, "count": 10}}, []

    def _list(
        self, target: str, query: dict[str, str]
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        if set(query) - {"start", "count"}:
            return self._violation(f"comments: unknown parameters {sorted(query)}")
        if target not in self.posts and target not in self.comments and target not in self.mentions:
            return _error(404, "NOT_FOUND", f"{target} not found")
        start, count = int(query.get("start", "0")), int(query.get("count", "10"))
        if count > 100:
            return self._violation("comments: count above 100")
        on = [
            {k: v for k, v in c.items() if k != "_on"}
            for c in self.comments.values()
            if c["_on"] == target
        ]
        on.sort(key=lambda c: c["created"]["time"], reverse=True)
        page = on[start : start + count]
        return (
            200,
            {"elements": page, "paging": {"start": start, "count": count, "total": len(on)}},
            [],
        )

    def _create(
        self, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        if not headers.get("content-type", "").startswith("application/json"):
            return self._violation("create comment: the body must be JSON")
        data = json.loads(body)
        if set(data) - {"actor", "object", "message", "parentComment", "content"}:
            return self._violation(f"create comment: unknown fields {sorted(data)}")
        if data.get("actor") != ORGANIZATION:
            return self._violation(
                f"create comment: actor {data.get('actor')!r}, not the organisation"
            )
        text = (data.get("message") or {}).get("text")
        if not isinstance(text, str) or not text:
            return self._violation("create comment: message.text missing")
        if target in self.mentions or target in self.posts:
            if "parentComment" in data or data.get("object") != target:
                return self._violation("create comment: a post's comment names it as object")
            urn = self.comment(target, text, actor=ORGANIZATION)
            created = {k: v for k, v in self.comments[urn].items() if k != "_on"}
            created["object"] = target
            self.replies.append(created)
            return 201, created, [(b"x-restli-id", urn.encode())]
        parent = self.comments.get(target)
        if parent is None:
            return _error(404, "NOT_FOUND", f"{target} not found")
        if data.get("parentComment") != target or data.get("object") != parent["object"]:
            return self._violation(
                "create comment: parentComment and object must name the thread and its activity"
            )
        urn = self.comment(target, text, actor=ORGANIZATION)
        created = {k: v for k, v in self.comments[urn].items() if k != "_on"}
        self.replies.append(created)
        return 201, created, [(b"x-restli-id", urn.encode())]

    def _violation(self, what: str) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        self.violations.append(what)
        return 400, {"status": 400, "code": "ILLEGAL_ARGUMENT", "message": what}, []


def _error(
    status: int, code: str, message: str, service: int | None = None
) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service is not None:
        body["serviceErrorCode"] = service
    return status, body, []
