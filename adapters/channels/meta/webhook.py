"""Meta's webhook deliveries read: customer messages and comments, and our echoes.

A delivery is ``{"object": "page" | "instagram", "entry": [...]}``; each entry carries either
``messaging`` (Messenger, Instagram Direct: a message, or the echo of a message the Page sent,
``is_echo`` with the ``app_id`` that sent it) or ``changes`` (a Page's ``feed``, item
``comment``; an Instagram account's ``comments``). What matters becomes:

- ``Incoming``: a customer's message or comment, with its thread: ``dm:<sender's id>`` for a
  private conversation (the Page-scoped or Instagram-scoped id: one thread per customer), and
  ``comment:<id of the top-level comment>`` for a comment and the replies under it;
- ``Echo``: something the Page itself sent: one of our answers (the idempotency key in its
  ``metadata``, or our ``app_id``), or one typed in Meta's own tools.

Everything else (deliveries and reads receipts, reactions, postbacks, edits and removals of
comments, posts) is counted and passed over. A body that is not Meta's shape is a
``Malformed`` naming the field, answered 400.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from aiguillage.adapters.channels.social.intake import Incoming
from aiguillage.engine.instants import SECOND, from_seconds

__all__ = ["Echo", "Malformed", "Parsed", "parse", "windowed"]

Source = Literal["facebook", "instagram"]


class Malformed(ValueError):
    """A delivery not in Meta's shape; ``field`` names where (``entry[0].messaging``)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class Echo(msgspec.Struct, frozen=True, kw_only=True):
    """Something the Page (or the Instagram account) sent, as Meta reports it back."""

    source: Source
    thread: str
    peer_id: str
    """Meta's id of what was sent (a message's ``mid``, a comment's id)."""
    app_id: str = ""
    metadata: str = ""
    """What the sender attached to a message (ours: the outbox's idempotency key)."""


class Parsed(msgspec.Struct, kw_only=True):
    messages: list[Incoming]
    echoes: list[Echo]
    ignored: int = 0


def windowed(thread: str) -> bool:
    """Whether a thread is a private conversation (a messaging window applies)."""
    return thread.startswith("dm:")


def parse(body: bytes, *, page_id: str, instagram_id: str | None) -> Parsed:
    """Read a delivery's body; ``Malformed`` when it is not Meta's shape."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise Malformed("body", f"not JSON ({exc})") from None
    top = _object(data, "body")
    kind = top.get("object")
    if kind not in ("page", "instagram"):
        raise Malformed("object", f'is {kind!r}; Meta sends "page" or "instagram"')
    source: Source = "facebook" if kind == "page" else "instagram"
    ours = page_id if source == "facebook" else instagram_id
    parsed = Parsed(messages=[], echoes=[])
    for n, entry in enumerate(_list(top.get("entry"), "entry")):
        where = f"entry[{n}]"
        entry = _object(entry, where)
        if ours is None or str(entry.get("id", "")) != ours:
            # A delivery for a Page or account this channel does not serve (an app shared by
            # several): not ours to take.
            parsed.ignored += 1
            continue
        entry_time = entry.get("time")
        for m, event in enumerate(_list(entry.get("messaging", []), f"{where}.messaging")):
            _messaging(parsed, source, _object(event, f"{where}.messaging[{m}]"), where, m)
        for c, change in enumerate(_list(entry.get("changes", []), f"{where}.changes")):
            _change(parsed, source, ours, _object(change, f"{where}.changes[{c}]"), entry_time)
    return parsed


def _messaging(parsed: Parsed, source: Source, event: dict[str, Any], where: str, m: int) -> None:
    here = f"{where}.messaging[{m}]"
    message = event.get("message")
    if message is None:
        parsed.ignored += 1  # a delivery or read receipt, a reaction, a postback
        return
    message = _object(message, f"{here}.message")
    mid = _text(message.get("mid"), f"{here}.message.mid")
    sender = _text(_object(event.get("sender"), f"{here}.sender").get("id"), f"{here}.sender.id")
    recipient = _text(
        _object(event.get("recipient"), f"{here}.recipient").get("id"), f"{here}.recipient.id"
    )
    if message.get("is_echo"):
        parsed.echoes.append(
            Echo(
                source=source,
                thread=f"dm:{recipient}",
                peer_id=mid,
                app_id=str(message.get("app_id") or ""),
                metadata=str(message.get("metadata") or ""),
            )
        )
        return
    if message.get("is_deleted"):
        parsed.ignored += 1
        return
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise Malformed(f"{here}.timestamp", "must be an integer (milliseconds)")
    attachments = [
        {"type": str(a.get("type", "")), "url": str((a.get("payload") or {}).get("url", ""))}
        for a in _list(message.get("attachments", []), f"{here}.message.attachments")
        if isinstance(a, dict)
    ]
    text = message.get("text", "")
    if not isinstance(text, str):
        raise Malformed(f"{here}.message.text", "must be a string")
    personal: dict[str, Any] = {
        "customer": {"id": sender},
        "text": text,
        "kind": "message",
        "timestamp": timestamp,
    }
    if attachments:
        personal["attachments"] = attachments
    reply_to = message.get("reply_to")
    if isinstance(reply_to, dict) and reply_to.get("mid"):
        personal["reply_to"] = str(reply_to["mid"])
    parsed.messages.append(
        Incoming(
            source=source,
            external_id=mid,
            thread=f"dm:{sender}",
            received_at=timestamp * (SECOND // 1000),
            personal=personal,
            evidence=msgspec.json.encode(event),
        )
    )


def _change(
    parsed: Parsed, source: Source, ours: str, change: dict[str, Any], entry_time: object
) -> None:
    field = change.get("field")
    value = change.get("value")
    if source == "facebook" and field == "feed":
        value = _object(value, "changes.value")
        if value.get("item") != "comment" or value.get("verb") != "add":
            parsed.ignored += 1  # a post, a reaction, an edit or a removal
            return
        comment_id = _text(value.get("comment_id"), "changes.value.comment_id")
        post_id = _text(value.get("post_id"), "changes.value.post_id")
        parent = str(value.get("parent_id") or post_id)
        top = comment_id if parent == post_id else parent
        author = _object(value.get("from"), "changes.value.from")
        author_id = _text(author.get("id"), "changes.value.from.id")
        text = str(value.get("message") or "")
        created = value.get("created_time")
        at = _instant(created if created is not None else entry_time)
        customer = {"id": author_id, "name": str(author.get("name") or "")}
        extra = {"post_id": post_id}
    elif source == "instagram" and field == "comments":
        value = _object(value, "changes.value")
        comment_id = _text(value.get("id"), "changes.value.id")
        parent = str(value.get("parent_id") or "")
        top = parent or comment_id
        author = _object(value.get("from"), "changes.value.from")
        author_id = _text(author.get("id"), "changes.value.from.id")
        text = str(value.get("text") or "")
        at = _instant(entry_time)
        customer = {"id": author_id, "username": str(author.get("username") or "")}
        media = value.get("media")
        extra = {"media_id": str(media.get("id", ""))} if isinstance(media, dict) else {}
    else:
        parsed.ignored += 1
        return
    thread = f"comment:{top}"
    if author_id == ours:
        parsed.echoes.append(Echo(source=source, thread=thread, peer_id=comment_id))
        return
    parsed.messages.append(
        Incoming(
            source=source,
            external_id=comment_id,
            thread=thread,
            received_at=at,
            personal={
                "customer": customer,
                "text": text,
                "kind": "comment",
                "comment_id": comment_id,
                **extra,
            },
            evidence=msgspec.json.encode(change),
        )
    )


def _instant(value: object) -> int | None:
    """An instant from Meta's seconds (comments) or milliseconds (entries); None: now."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    seconds = value / 1000 if value > 100_000_000_000 else value
    return from_seconds(seconds)


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
