"""A fake YouTube Data API v3 for contract tests, held to Google's own discovery document.

It is a real HTTP server (a small ASGI application served by uvicorn in a thread, on a free
port). Every request is first validated against ``youtube.v3.json``, the discovery document
Google publishes and ``google-api-python-client`` ships: the method found by its path and HTTP
method, every query parameter one the method or the API knows, the required ones present, the
integers within their bounds, the enumerated values among the enum, each ``part`` value a
property of the method's resource; then against what the reference documentation adds (exactly
one filter of ``commentThreads.list``; ``comments.insert`` with ``snippet.parentId`` and
``snippet.textOriginal``). A request that breaks the contract is answered 400 as Google does,
and recorded in ``violations``, which the tests' fixture asserts empty.

Then it serves comments as YouTube does: ``commentThreads.list`` newest first, at most
``page_size`` (and ``maxResults``) a page with ``nextPageToken``; ``comments.list`` by
``parentId``; ``comments.insert`` a reply by the channel. It counts quota units as Google's
calculator does (list 1, insert 50) and answers 403 ``quotaExceeded`` past ``daily_quota``;
401 to a token it does not know or ``expire``d.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.resources
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from tests.adapters.daemons import free_port

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CHANNEL_ID = "UCx2Tw0a1b2c3d4e5f6g7h8i"
VIDEO_ID = "dQw4w9WgXcQ"
COSTS = {
    "youtube.commentThreads.list": 1,
    "youtube.comments.list": 1,
    "youtube.comments.insert": 50,
}
_FILTERS = ("allThreadsRelatedToChannelId", "channelId", "id", "videoId")


def discovery() -> dict[str, Any]:
    """Google's discovery document of the YouTube Data API v3, as the client library ships it."""
    document = importlib.resources.files("googleapiclient").joinpath(
        "discovery_cache/documents/youtube.v3.json"
    )
    data: dict[str, Any] = json.loads(document.read_text(encoding="utf-8"))
    return data


_DOCUMENT = discovery()


def _methods() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in _DOCUMENT["resources"].values():
        for method in resource.get("methods", {}).values():
            found[(method["httpMethod"], "/" + method["path"])] = method
    return found


_METHODS = _methods()


def rfc3339(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeYoutube:
    """See the module docstring. Thread-safe: tests call it from their own thread."""

    def __init__(self, token: str = "yt-token-1", daily_quota: int = 10_000) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = {token}
        self.expired: set[str] = set()
        self.daily_quota = daily_quota
        self.units = 0
        self.page_size = 100
        self.violations: list[str] = []
        self.calls: list[tuple[str, dict[str, str]]] = []
        """Every request valid: its method id and parameters."""
        self.comments: dict[str, dict[str, Any]] = {}
        """Every comment resource, by id; a reply's ``snippet.parentId`` names its thread."""
        self.inserted: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- what tests script ---------------------------------------------------------------------

    def comment(
        self,
        text: str,
        *,
        at: float | None = None,
        parent: str = "",
        author: str = "UCcustomer000000000000aa",
        video: str = VIDEO_ID,
    ) -> str:
        """A comment published at ``at`` (``time.time()``: now); a reply when ``parent``."""
        with self._lock:
            number = next(self._ids)
            comment_id = f"{parent}.8z{number:05d}" if parent else f"Ugz{number:05d}AaBbCcDd4AaABAg"
            snippet = {
                "channelId": CHANNEL_ID,
                "videoId": video,
                "textDisplay": text,
                "textOriginal": text,
                "authorDisplayName": f"@{author[-6:]}",
                "authorChannelId": {"value": author},
                "canRate": True,
                "viewerRating": "none",
                "likeCount": 0,
                "publishedAt": rfc3339(time.time() if at is None else at),
                "updatedAt": rfc3339(time.time() if at is None else at),
            }
            if parent:
                snippet["parentId"] = parent
            self.comments[comment_id] = {
                "kind": "youtube#comment",
                "etag": f"e{comment_id}",
                "id": comment_id,
                "snippet": snippet,
            }
            return comment_id

    def expire(self, token: str) -> None:
        with self._lock:
            self.expired.add(token)

    def method_calls(self, method: str) -> int:
        with self._lock:
            return sum(1 for m, _ in self.calls if m == method)

    # -- serving -------------------------------------------------------------------------------

    def start(self) -> FakeYoutube:
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

        self._thread = threading.Thread(target=serve, name="fake-youtube", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the fake YouTube did not start"
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
        query = parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer = self._handle(
            scope["method"], scope["path"], query, headers, b"".join(chunks)
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json; charset=UTF-8")],
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
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            found = _METHODS.get((method, path))
            if found is None:
                return self._violation(f"{method} {path}: no such method in youtube.v3.json")
            problem = _check_parameters(found, query)
            if problem:
                return self._violation(f"{found['id']}: {problem}")
            params = dict(query)
            data: dict[str, Any] = {}
            if "request" in found:
                problem, data = _check_body(found, headers, body)
                if problem:
                    return self._violation(f"{found['id']}: {problem}")
            problem = self._documented(found["id"], params, data)
            if problem:
                return self._violation(f"{found['id']}: {problem}")
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.tokens or token in self.expired:
                return _error(401, "authError", "Request had invalid authentication credentials.")
            cost = COSTS.get(found["id"], 1)
            if self.units + cost > self.daily_quota:
                return _error(
                    403,
                    "quotaExceeded",
                    "The request cannot be completed because you have exceeded your quota.",
                    "youtube.quota",
                )
            self.units += cost
            self.calls.append((found["id"], params))
            if found["id"] == "youtube.commentThreads.list":
                return self._threads(params)
            if found["id"] == "youtube.comments.list":
                return self._replies(params)
            if found["id"] == "youtube.comments.insert":
                return self._insert(data)
            return self._violation(f"{found['id']}: not served by this fake")

    def _documented(self, method: str, params: dict[str, str], data: dict[str, Any]) -> str:
        """What the reference documentation requires beyond the discovery document."""
        if method == "youtube.commentThreads.list":
            filters = [f for f in _FILTERS if f in params]
            if len(filters) != 1:
                return f"exactly one filter of {_FILTERS} is required, not {filters}"
        if method == "youtube.comments.list" and ("id" in params) == ("parentId" in params):
            return "exactly one of id or parentId is required"
        if method == "youtube.comments.insert":
            snippet = data.get("snippet") or {}
            if not snippet.get("parentId") or not snippet.get("textOriginal"):
                return "snippet.parentId and snippet.textOriginal are required"
            if set(data) - {"snippet"}:
                return f"only snippet is written, not {sorted(set(data) - {'snippet'})}"
        return ""

    def _page(self, items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        size = min(int(params.get("maxResults", "20")), self.page_size)
        start = int(params.get("pageToken") or 0)
        page = items[start : start + size]
        answer: dict[str, Any] = {
            "kind": "youtube#commentThreadListResponse",
            "etag": "x",
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
            "items": page,
        }
        if start + size < len(items):
            answer["nextPageToken"] = str(start + size)
        return answer

    def _threads(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        tops = [
            c
            for c in self.comments.values()
            if "parentId" not in c["snippet"]
            and (params.get("videoId") in (None, c["snippet"]["videoId"]))
            and (params.get("allThreadsRelatedToChannelId") in (None, CHANNEL_ID))
        ]
        tops.sort(key=lambda c: c["snippet"]["publishedAt"], reverse=True)
        threads = [
            {
                "kind": "youtube#commentThread",
                "etag": f"t{c['id']}",
                "id": c["id"],
                "snippet": {
                    "channelId": CHANNEL_ID,
                    "videoId": c["snippet"]["videoId"],
                    "topLevelComment": c,
                    "canReply": True,
                    "totalReplyCount": len(self._children(c["id"])),
                    "isPublic": True,
                },
            }
            for c in tops
        ]
        return 200, self._page(threads, params)

    def _children(self, parent: str) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["snippet"].get("parentId") == parent]

    def _replies(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parent = params["parentId"]
        if parent not in self.comments:
            return _error(404, "parentCommentNotFound", "The parent comment was not found.")
        replies = sorted(self._children(parent), key=lambda c: c["snippet"]["publishedAt"])
        answer = self._page(replies, params)
        answer["kind"] = "youtube#commentListResponse"
        return 200, answer

    def _insert(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        snippet = data["snippet"]
        parent = snippet["parentId"]
        if parent not in self.comments or "parentId" in self.comments[parent]["snippet"]:
            return _error(404, "parentCommentNotFound", "The parent comment was not found.")
        video = self.comments[parent]["snippet"]["videoId"]
        reply_id = self.comment(
            snippet["textOriginal"], parent=parent, author=CHANNEL_ID, video=video
        )
        self.inserted.append(self.comments[reply_id])
        return 200, self.comments[reply_id]

    def _violation(self, what: str) -> tuple[int, dict[str, Any]]:
        self.violations.append(what)
        return _error(400, "badRequest", what)


def _check_parameters(method: dict[str, Any], query: list[tuple[str, str]]) -> str:
    known = {**_DOCUMENT.get("parameters", {}), **method.get("parameters", {})}
    names = [name for name, _ in query]
    for name in names:
        if name not in known:
            return f"unknown parameter {name!r}"
        if names.count(name) > 1 and not known[name].get("repeated"):
            return f"parameter {name!r} given twice"
    for name, spec in method.get("parameters", {}).items():
        if spec.get("required") and name not in names:
            return f"required parameter {name!r} missing"
    for name, value in query:
        spec = known[name]
        if spec.get("type") == "integer":
            if not value.lstrip("-").isdigit():
                return f"{name}={value!r} is not an integer"
            number = int(value)
            if "minimum" in spec and number < int(spec["minimum"]):
                return f"{name}={value} is below {spec['minimum']}"
            if "maximum" in spec and number > int(spec["maximum"]):
                return f"{name}={value} is above {spec['maximum']}"
        if "enum" in spec and value not in spec["enum"]:
            return f"{name}={value!r} is not one of {spec['enum']}"
        if name == "part":
            resource = method.get("response") or method.get("request") or {}
            schema = _DOCUMENT["schemas"][resource["$ref"]]
            if "items" in schema["properties"]:  # a list: the parts are its items'
                schema = _DOCUMENT["schemas"][schema["properties"]["items"]["items"]["$ref"]]
            parts = set(schema["properties"]) - {"kind", "etag"}
            given = value.split(",")
            if not value or set(given) - parts:
                return f"part={value!r}: the parts are {sorted(parts)}"
    return ""


def _check_body(
    method: dict[str, Any], headers: dict[str, str], body: bytes
) -> tuple[str, dict[str, Any]]:
    if not headers.get("content-type", "").startswith("application/json"):
        return "the body must be JSON", {}
    try:
        data = json.loads(body)
    except ValueError:
        return "the body is not JSON", {}
    if not isinstance(data, dict):
        return "the body must be an object", {}
    problem = _check_object(data, method["request"]["$ref"], "body")
    return problem, data


def _check_object(data: dict[str, Any], schema_name: str, where: str) -> str:
    properties = _DOCUMENT["schemas"][schema_name].get("properties", {})
    for key, value in data.items():
        spec = properties.get(key)
        if spec is None:
            return f"{where}.{key} is not a property of {schema_name}"
        if "$ref" in spec and isinstance(value, dict):
            problem = _check_object(value, spec["$ref"], f"{where}.{key}")
            if problem:
                return problem
        elif spec.get("type") == "string" and not isinstance(value, str):
            return f"{where}.{key} must be a string"
    return ""


def _error(
    status: int, reason: str, message: str, domain: str = "youtube.api"
) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
