"""The Graph API calls the channel makes, and what Meta's answers mean for the outbox.

Three calls, at the version pinned in the settings, with the Page access token as the
``access_token`` parameter (as Meta's documentation gives them):

- ``POST /{version}/{page-id}/messages``, JSON ``{"recipient": {"id"}, "messaging_type",
  "message": {"text", "metadata"}}`` (and ``"tag": "HUMAN_AGENT"`` with ``MESSAGE_TAG``): a
  private answer, Messenger or Instagram Direct; Meta answers ``{"recipient_id",
  "message_id"}``;
- ``POST /{version}/{comment-id}/comments`` with ``message``: a Facebook comment's reply;
- ``POST /{version}/{ig-comment-id}/replies`` with ``message``: an Instagram comment's reply;
  both answer ``{"id"}``;
- ``GET /{version}/{comment-id}/comments`` with ``fields=from,message`` (Facebook) and
  ``GET /{version}/{ig-comment-id}/replies`` with ``fields=from,text`` (Instagram), ``limit``
  and the ``after`` cursor: a comment's replies, ``{"data": [...], "paging": {"cursors":
  {"after"}, "next"}}`` (``next`` only when there are more), read by ``replies``.

An error is ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``:

- code 190 (the token expired or was revoked): ``NeedsReauthorisation``;
- HTTP 429, or codes 4, 17, 32, 613 and 80001 to 80014 (application, user, page and
  business-use-case limits): a rate limit, for the channel's ``Pacing``, with the wait
  Meta gives in ``X-Business-Use-Case-Usage`` when it does;
- codes 1 and 2, and HTTP 5xx (Meta's temporary faults), a time-out or a network error:
  retried;
- anything else (a recipient gone, code 551; outside the allowed window, code 10 subcode
  2018278; a permission missing, 200 to 299; a bad request, 100): refused for good, the reason
  shown to the advisor.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import httpx
import msgspec

__all__ = ["GraphError", "Outcome", "Replies", "classify", "regain_s", "replies"]

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TEMPORARY_CODES = frozenset({1, 2})
TOKEN_CODE = 190

Kind = Literal["token", "rate_limit", "temporary", "permanent"]


class GraphError(NamedTuple):
    """What a failed call means: its ``kind`` and the reason the advisor is shown."""

    kind: Kind
    reason: str
    wait_s: float | None = None


class Outcome(NamedTuple):
    """A call's result: Meta's id of what it took, or the error."""

    peer_id: str = ""
    error: GraphError | None = None


class Reply(NamedTuple):
    """One reply under a comment: Meta's id, its author's id, its text."""

    id: str
    author: str
    text: str


class Replies(NamedTuple):
    """A page of a comment's replies, the next page's cursor (empty at the last), or the
    error."""

    found: list[Reply] = []
    after: str = ""
    error: GraphError | None = None


def classify(response: httpx.Response) -> Outcome:
    """Read a Graph API answer to a send or a reply."""
    body = _body(response)
    if response.is_success:
        peer_id = body.get("message_id") or body.get("id") or ""
        if not isinstance(peer_id, str) or not peer_id:
            return Outcome(error=GraphError("temporary", "Meta answered without an id"))
        return Outcome(peer_id=peer_id)
    return Outcome(error=_error(response, body))


def replies(response: httpx.Response) -> Replies:
    """Read a page of a comment's replies (``message`` on Facebook, ``text`` on Instagram)."""
    body = _body(response)
    if not response.is_success:
        return Replies(error=_error(response, body))
    data = body.get("data")
    if not isinstance(data, list):
        return Replies(error=GraphError("temporary", "Meta answered without the replies"))
    found = [
        Reply(
            id=str(item.get("id") or ""),
            author=_author(item.get("from")),
            text=str(item.get("message") or item.get("text") or ""),
        )
        for item in data
        if isinstance(item, dict)
    ]
    paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
    assert isinstance(paging, dict)
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    assert isinstance(cursors, dict)
    after = cursors.get("after") if paging.get("next") else ""
    return Replies(found=found, after=after if isinstance(after, str) else "")


def _author(value: object) -> str:
    return str(value.get("id") or "") if isinstance(value, dict) else ""


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = msgspec.json.decode(response.content) if response.content else {}
    except msgspec.DecodeError:
        body = {}
    return body if isinstance(body, dict) else {}


def _error(response: httpx.Response, body: dict[str, Any]) -> GraphError:
    """What a failed call means."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(error, dict)
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = str(error.get("message") or response.reason_phrase or "").strip()
    what = f"Meta error {code}" + (f"/{subcode}" if subcode else "") + f": {message}"
    if not isinstance(code, int):
        what = f"Meta answered {response.status_code}: {message}"
    if code == TOKEN_CODE:
        return GraphError("token", f"needs re-authorisation ({what})")
    if response.status_code == 429 or code in RATE_LIMIT_CODES:
        return GraphError("rate_limit", what, regain_s(response.headers))
    if response.status_code >= 500 or code in TEMPORARY_CODES:
        return GraphError("temporary", what)
    return GraphError("permanent", what)


def regain_s(headers: httpx.Headers) -> float | None:
    """The wait Meta gives before calls are taken again, in seconds, or None."""
    retry_after = headers.get("retry-after", "")
    if retry_after.isdigit():
        return float(retry_after)
    usage = headers.get("x-business-use-case-usage", "")
    if not usage:
        return None
    try:
        data: Any = msgspec.json.decode(usage)
    except msgspec.DecodeError:
        return None
    minutes = [
        item.get("estimated_time_to_regain_access")
        for items in (data.values() if isinstance(data, dict) else [])
        if isinstance(items, list)
        for item in items
        if isinstance(item, dict)
    ]
    found = [m for m in minutes if isinstance(m, int | float) and m > 0]
    return max(found) * 60.0 if found else None
