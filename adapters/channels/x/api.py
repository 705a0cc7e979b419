"""The X API calls the channel makes, and what X's answers mean.

The calls (X API v2, as X's OpenAPI description gives them), with the account's user token as
``Authorization: Bearer``:

- ``POST /2/dm_conversations/with/{participant_id}/messages``, JSON ``{"text"}``: a direct
  message; X answers 201 ``{"data": {"dm_conversation_id", "dm_event_id"}}``;
- ``POST /2/tweets``, JSON ``{"text", "reply": {"in_reply_to_tweet_id"}}``: a reply post; X
  answers 201 ``{"data": {"id", "text"}}``;
- ``GET /2/users/{id}/mentions`` and ``GET /2/dm_events`` (polling mode);
- ``POST /2/webhooks/replay`` with the app's bearer token, JSON ``{"webhook_id", "from_date",
  "to_date"}`` (``yyyymmddhhmm``, UTC, up to 24 hours back): X delivers again to the webhook.

What an error means: 401, or code 89 (a token expired or revoked): re-authorisation; 429: a
rate limit, until ``x-rate-limit-reset`` (epoch seconds); 5xx: retried; anything else (403: the
customer does not take direct messages, a post deleted; 400): refused for good, the reason
shown to the advisor.
"""

from __future__ import annotations

import time
from typing import Any, Literal, NamedTuple

import httpx
import msgspec

__all__ = ["ApiError", "Outcome", "classify", "reset_in_s"]

TOKEN_CODE = 89
RATE_LIMIT_CODE = 88

Kind = Literal["token", "rate_limit", "temporary", "permanent"]


class ApiError(NamedTuple):
    kind: Kind
    reason: str
    wait_s: float | None = None


class Outcome(NamedTuple):
    """A call's result: its JSON body's ``data``, or the error."""

    data: dict[str, Any] = {}
    error: ApiError | None = None


def classify(response: httpx.Response) -> Outcome:
    """Read an X API answer."""
    try:
        body: Any = msgspec.json.decode(response.content) if response.content else {}
    except msgspec.DecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.is_success:
        data = body.get("data")
        return Outcome(data=data if isinstance(data, dict) else {})
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    codes = {e.get("code") for e in errors if isinstance(e, dict)}
    detail = str(
        body.get("detail")
        or body.get("title")
        or next((e.get("message") for e in errors if isinstance(e, dict)), "")
        or response.reason_phrase
    ).strip()
    what = f"X answered {response.status_code}: {detail}"
    if codes - {None}:
        what += f" (code {', '.join(str(c) for c in sorted(c for c in codes if c is not None))})"
    if response.status_code == 401 or TOKEN_CODE in codes:
        return Outcome(error=ApiError("token", f"needs re-authorisation ({what})"))
    if response.status_code == 429 or RATE_LIMIT_CODE in codes:
        return Outcome(error=ApiError("rate_limit", what, reset_in_s(response.headers)))
    if response.status_code >= 500:
        return Outcome(error=ApiError("temporary", what))
    return Outcome(error=ApiError("permanent", what))


def reset_in_s(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds until ``x-rate-limit-reset`` (X gives the instant, in epoch seconds), or None."""
    reset = headers.get("x-rate-limit-reset", "")
    if not reset.isdigit():
        return None
    left = int(reset) - (time.time() if now is None else now)
    return max(1.0, left)
