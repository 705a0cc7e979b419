"""The YouTube Data API calls the channel makes, their cost, and what Google's answers mean.

Three methods of the YouTube Data API v3 (its discovery document, ``youtube.v3.json``), with
the OAuth access token as ``Authorization: Bearer``:

- ``GET /youtube/v3/commentThreads`` (``commentThreads.list``): ``part=snippet``,
  ``allThreadsRelatedToChannelId`` or ``videoId``, ``order=time``, ``maxResults=100``,
  ``textFormat=plainText``, ``pageToken``: the newest threads first; 1 unit a page;
- ``GET /youtube/v3/comments`` (``comments.list``): ``part=snippet``, ``parentId`` (a
  top-level comment), ``maxResults=100``, ``textFormat=plainText``: a thread's replies; 1 unit;
- ``POST /youtube/v3/comments?part=snippet`` (``comments.insert``), body ``{"snippet":
  {"parentId", "textOriginal"}}``: a reply; 50 units.

An error is ``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}``:
401 (the token expired or was revoked) needs re-authorisation; 403 ``quotaExceeded`` or
``dailyLimitExceeded`` ends the day's quota until its reset; 429 and 403
``rateLimitExceeded``/``userRateLimitExceeded`` are a rate limit; 5xx is retried; anything
else (a comment gone, comments disabled, a text refused) is refused for good.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, NamedTuple

import httpx
import msgspec

from aiguillage.engine.instants import Instant, from_seconds

__all__ = ["COSTS", "ApiError", "classify", "instant"]

COSTS = {"commentThreads.list": 1, "comments.list": 1, "comments.insert": 50}
"""Units each call costs, as Google's quota calculator gives them."""

Kind = Literal["token", "quota", "rate_limit", "temporary", "permanent"]

_QUOTA = frozenset({"quotaExceeded", "dailyLimitExceeded"})
_RATE = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


class ApiError(NamedTuple):
    kind: Kind
    reason: str


def classify(response: httpx.Response) -> tuple[dict[str, Any], ApiError | None]:
    """Read an answer: its JSON body, and the error it is, if any."""
    try:
        body = msgspec.json.decode(response.content) if response.content else {}
    except msgspec.DecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.is_success:
        return body, None
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(error, dict)
    details = error.get("errors")
    reasons = (
        {str(d.get("reason")) for d in details if isinstance(d, dict)}
        if isinstance(details, list)
        else set()
    )
    message = str(error.get("message") or response.reason_phrase or "").strip()
    what = f"YouTube answered {response.status_code}"
    what += f" ({', '.join(sorted(reasons))})" if reasons else ""
    what += f": {message}" if message else ""
    status = response.status_code
    if status == 401:
        return body, ApiError("token", f"needs re-authorisation ({what})")
    if reasons & _QUOTA:
        return body, ApiError("quota", f"quota_exhausted: {what}")
    if status == 429 or reasons & _RATE:
        return body, ApiError("rate_limit", what)
    if status >= 500:
        return body, ApiError("temporary", what)
    return body, ApiError("permanent", what)


def instant(value: object) -> Instant | None:
    """An RFC 3339 instant of Google's (``2026-12-05T09:30:00Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return from_seconds(parsed.timestamp())
