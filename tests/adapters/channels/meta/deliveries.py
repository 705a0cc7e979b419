"""Meta's webhook deliveries, as its documentation gives them (Messenger, Instagram, feed)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.adapters.channels.meta.fake_graph import APP_ID, INSTAGRAM_ID, PAGE_ID


def now_ms() -> int:
    return int(time.time() * 1000)


def dm(sender: str, mid: str, text: str, at_ms: int | None = None, *, instagram: bool = False):
    """A customer's private message to the Page (or to the Instagram account)."""
    ours = INSTAGRAM_ID if instagram else PAGE_ID
    at = now_ms() if at_ms is None else at_ms
    return {
        "object": "instagram" if instagram else "page",
        "entry": [
            {
                "id": ours,
                "time": at,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": ours},
                        "timestamp": at,
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }


def echo(recipient: str, mid: str, text: str, app_id: str = APP_ID, metadata: str = ""):
    """The echo of a message the Page sent (``message_echoes``)."""
    message: dict[str, Any] = {"is_echo": True, "app_id": int(app_id), "mid": mid, "text": text}
    if metadata:
        message["metadata"] = metadata
    at = now_ms()
    return {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": at,
                "messaging": [
                    {
                        "sender": {"id": PAGE_ID},
                        "recipient": {"id": recipient},
                        "timestamp": at,
                        "message": message,
                    }
                ],
            }
        ],
    }


def fb_comment(comment_id: str, post_id: str, author: str, text: str, parent: str = ""):
    """A comment on one of the Page's posts (``feed``, item ``comment``)."""
    at = int(time.time())
    return {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": at * 1000,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": author, "name": "Client Exemple"},
                            "post": {"status_type": "added_photos", "id": post_id},
                            "message": text,
                            "post_id": post_id,
                            "comment_id": comment_id,
                            "created_time": at,
                            "item": "comment",
                            "parent_id": parent or post_id,
                            "verb": "add",
                        },
                    }
                ],
            }
        ],
    }


def ig_comment(comment_id: str, author: str, text: str, parent: str = ""):
    """A comment on one of the Instagram account's media (``comments``)."""
    value: dict[str, Any] = {
        "from": {"id": author, "username": "client.exemple"},
        "media": {"id": "17900000000000001", "media_product_type": "FEED"},
        "id": comment_id,
        "text": text,
    }
    if parent:
        value["parent_id"] = parent
    return {
        "object": "instagram",
        "entry": [
            {
                "id": INSTAGRAM_ID,
                "time": int(time.time()),
                "changes": [{"field": "comments", "value": value}],
            }
        ],
    }


def encoded(delivery: dict[str, Any]) -> bytes:
    """The body as Meta sends it: compact, non-ASCII escaped as ``\\uXXXX``."""
    return json.dumps(delivery, separators=(",", ":"), ensure_ascii=True).encode()
