"""X's Account Activity deliveries read, and the polled endpoints' answers: customer work and
our own echoes.

A delivery is ``{"for_user_id", "direct_message_events": [...]}`` or ``{"for_user_id",
"tweet_create_events": [...]}`` (other event kinds: follows, likes, reads, typing, are passed
over). What matters becomes:

- ``Incoming``: a customer's direct message (thread ``dm:<sender's id>``, one per customer) or a
  post mentioning the account (thread ``post:<conversation id>``), external id X's event or
  post id;
- ``Echo``: what the account itself sent (a direct message from it, a post by it): one of our
  answers, or one typed in X's own app.

A body not in X's shape is a ``Malformed`` naming the field, answered 400. X's deliveries carry
posts in the v1.1 shape, without a conversation id: a post replying to one the channel knows
(a mention, or one of our replies) joins its conversation (``conversations``); any other starts
its own, under its id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from aiguillage.adapters.channels.social.intake import Incoming
from aiguillage.engine.instants import SECOND, from_seconds

__all__ = ["Echo", "Malformed", "Parsed", "dm_events", "mentions", "parse"]


class Malformed(ValueError):
    """A body not in X's shape; ``field`` names where (``direct_message_events[0].id``)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class Echo(msgspec.Struct, frozen=True, kw_only=True):
    """Something the account sent, as X reports it back."""

    thread: str
    peer_id: str
    app_id: str = ""
    at: int | None = None
    """When it was sent (microseconds), where X says (the polled direct-message events)."""


class Parsed(msgspec.Struct, kw_only=True):
    messages: list[Incoming]
    echoes: list[Echo]
    ignored: int = 0
    posts: dict[str, str] = {}
    """Each post seen (mention or ours) to its conversation: ``conversations`` to keep."""


def parse(body: bytes, *, user_id: str, conversations: Mapping[str, str]) -> Parsed:
    """Read an Account Activity delivery; ``Malformed`` when it is not X's shape."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise Malformed("body", f"not JSON ({exc})") from None
    top = _object(data, "body")
    parsed = Parsed(messages=[], echoes=[], posts={})
    if str(top.get("for_user_id", "")) != user_id:
        parsed.ignored += 1  # another account of the app: not ours to take
        return parsed
    for n, event in enumerate(_list(top.get("direct_message_events", []), "direct_message_events")):
        _dm(parsed, _object(event, f"direct_message_events[{n}]"), n, user_id)
    for n, post in enumerate(_list(top.get("tweet_create_events", []), "tweet_create_events")):
        _post(parsed, _object(post, f"tweet_create_events[{n}]"), n, user_id, conversations)
    known = {"for_user_id", "direct_message_events", "tweet_create_events", "users", "apps"}
    parsed.ignored += len(set(top) - known)
    return parsed


def _dm(parsed: Parsed, event: dict[str, Any], n: int, user_id: str) -> None:
    here = f"direct_message_events[{n}]"
    if event.get("type") != "message_create":
        parsed.ignored += 1
        return
    event_id = _text(event.get("id"), f"{here}.id")
    create = _object(event.get("message_create"), f"{here}.message_create")
    sender = _text(create.get("sender_id"), f"{here}.message_create.sender_id")
    target = _object(create.get("target"), f"{here}.message_create.target")
    recipient = _text(target.get("recipient_id"), f"{here}.message_create.target.recipient_id")
    data = _object(create.get("message_data", {}), f"{here}.message_create.message_data")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise Malformed(f"{here}.message_create.message_data.text", "must be a string")
    if sender == user_id:
        app = str(create.get("source_app_id") or "")
        parsed.echoes.append(Echo(thread=f"dm:{recipient}", peer_id=event_id, app_id=app))
        return
    stamp = event.get("created_timestamp")
    at = _milliseconds(stamp, f"{here}.created_timestamp")
    parsed.messages.append(_dm_incoming(event_id, sender, text, at, event))


def _dm_incoming(
    event_id: str, sender: str, text: str, at: int | None, item: dict[str, Any]
) -> Incoming:
    return Incoming(
        source="x",
        external_id=event_id,
        thread=f"dm:{sender}",
        received_at=at,
        personal={"customer": {"id": sender}, "text": text, "kind": "message"},
        evidence=msgspec.json.encode(item),
    )


def _post(
    parsed: Parsed, post: dict[str, Any], n: int, user_id: str, conversations: Mapping[str, str]
) -> None:
    here = f"tweet_create_events[{n}]"
    post_id = _text(post.get("id_str"), f"{here}.id_str")
    user = _object(post.get("user"), f"{here}.user")
    author = _text(user.get("id_str"), f"{here}.user.id_str")
    parent = str(post.get("in_reply_to_status_id_str") or "")
    conversation = (
        str(post.get("conversation_id_str") or "")
        or conversations.get(parent)
        or parsed.posts.get(parent)
        or post_id
    )
    parsed.posts[post_id] = conversation
    thread = f"post:{conversation}"
    if author == user_id:
        parsed.echoes.append(Echo(thread=thread, peer_id=post_id))
        return
    if "retweeted_status" in post:
        parsed.ignored += 1  # a repost of something mentioning the account: no one asks
        return
    text = post.get("extended_tweet", {}).get("full_text") or post.get("text", "")
    at = _milliseconds(post.get("timestamp_ms"), f"{here}.timestamp_ms")
    customer = {"id": author, "username": str(user.get("screen_name") or "")}
    parsed.messages.append(_post_incoming(post_id, conversation, customer, str(text), at, post))


def _post_incoming(
    post_id: str,
    conversation: str,
    customer: dict[str, str],
    text: str,
    at: int | None,
    item: dict[str, Any],
) -> Incoming:
    return Incoming(
        source="x",
        external_id=post_id,
        thread=f"post:{conversation}",
        received_at=at,
        personal={"customer": customer, "text": text, "kind": "mention", "post_id": post_id},
        evidence=msgspec.json.encode(item),
    )


# -- polling --------------------------------------------------------------------------------------


def mentions(body: bytes) -> tuple[list[Incoming], str]:
    """A page of ``GET /2/users/{id}/mentions``: its posts, oldest first, and the next page's
    token (empty at the last)."""
    top = _page(body)
    users = {
        str(u.get("id")): str(u.get("username") or "")
        for u in _list((top.get("includes") or {}).get("users", []), "includes.users")
        if isinstance(u, dict)
    }
    found: list[Incoming] = []
    for n, post in enumerate(_list(top.get("data", []), "data")):
        here = f"data[{n}]"
        post = _object(post, here)
        post_id = _text(post.get("id"), f"{here}.id")
        author = _text(post.get("author_id"), f"{here}.author_id")
        conversation = str(post.get("conversation_id") or post_id)
        customer = {"id": author, "username": users.get(author, "")}
        at = _iso(post.get("created_at"), f"{here}.created_at")
        text = str(post.get("text", ""))
        found.append(_post_incoming(post_id, conversation, customer, text, at, post))
    found.reverse()  # X lists the newest first
    return found, str((top.get("meta") or {}).get("next_token") or "")


def dm_events(body: bytes, user_id: str) -> tuple[list[Incoming | Echo], str]:
    """A page of ``GET /2/dm_events``: the customers' messages and our own (``Echo``), oldest
    first (an answer typed in X's app closes only the work before it), and the next page's
    token."""
    top = _page(body)
    found: list[Incoming | Echo] = []
    for n, event in enumerate(_list(top.get("data", []), "data")):
        here = f"data[{n}]"
        event = _object(event, here)
        if event.get("event_type") != "MessageCreate":
            continue
        event_id = _text(event.get("id"), f"{here}.id")
        sender = _text(event.get("sender_id"), f"{here}.sender_id")
        at = _iso(event.get("created_at"), f"{here}.created_at")
        if sender == user_id:
            others = [p for p in event.get("participant_ids") or [] if p != user_id]
            conversation = str(event.get("dm_conversation_id") or "")
            peer = others[0] if others else _other(conversation, user_id)
            if peer:
                found.append(Echo(thread=f"dm:{peer}", peer_id=event_id, at=at))
            continue
        found.append(_dm_incoming(event_id, sender, str(event.get("text", "")), at, event))
    found.reverse()  # X lists the newest first
    return found, str((top.get("meta") or {}).get("next_token") or "")


def _other(conversation: str, user_id: str) -> str:
    """The other participant of a one-to-one conversation id (``<id>-<id>``)."""
    ids = conversation.split("-")
    return next((i for i in ids if i != user_id), "") if len(ids) == 2 else ""


def _page(body: bytes) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise Malformed("body", f"not JSON ({exc})") from None
    return _object(data, "body")


def _milliseconds(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(field, "must be milliseconds since the epoch")
    return value * (SECOND // 1000)


def _iso(value: object, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(field, "must be an ISO 8601 instant")
    try:
        return from_seconds(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise Malformed(field, "must be an ISO 8601 instant") from None


def _object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(field, "must be an object")
    return value


def _list(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise Malformed(field, "must be a list")
    return value


def _text(value: object, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise Malformed(field, "must be a non-empty string")
    return value
