"""A receiver of Aiguillage's ``webhook`` adapter, standard library only (docs/adapters.md).

It checks what every receiver must check before it trusts a request:

1. the signature, HMAC-SHA256 of ``<timestamp>.<raw body>`` with the shared secret, compared
   in constant time (``hmac.compare_digest``), so that nobody else can post events;
2. the timestamp, refused when more than five minutes away from now, so that a request
   captured on the way cannot be replayed later (each retry is signed afresh);
3. the event id, since delivery is at least once: an id already handled is acknowledged again
   and not handled twice.

Run it with ``AIGUILLAGE_WEBHOOK_SECRET=… python webhook_receiver.py 8000``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_AGE_S = 300


def refusal(secret: bytes, timestamp: str, signature: str, body: bytes, now: float) -> str | None:
    """Return why a request must be refused, or None when it is authentic and fresh.

    ``timestamp`` and ``signature`` are the X-Aiguillage-Timestamp and -Signature headers,
    ``body`` the raw bytes received, ``now`` the receiver's clock (Unix seconds).
    """
    if not timestamp.isdigit():
        return "no timestamp"
    if abs(now - int(timestamp)) > MAX_AGE_S:
        return "timestamp more than five minutes away"
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest("sha256=" + mac.hexdigest(), signature):
        return "bad signature"
    return None


class SeenIds:
    """The ids of the latest events handled: enough to recognise a retry, in bounded memory.

    A real receiver keeps them where it keeps the effect of the event (in the same database
    transaction), so that a crash between the two cannot lose or repeat one.
    """

    def __init__(self, size: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)


def handle(delivery: dict[str, Any]) -> None:
    """Your code: update the CRM, load the warehouse. Raise if it cannot: the event comes again."""
    print(delivery["id"], delivery["type"], flush=True)


class Handler(BaseHTTPRequestHandler):
    secret = os.environ.get("AIGUILLAGE_WEBHOOK_SECRET", "").encode()
    seen = SeenIds()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        timestamp = self.headers.get("X-Aiguillage-Timestamp", "")
        signature = self.headers.get("X-Aiguillage-Signature", "")
        problem = refusal(self.secret, timestamp, signature, body, time.time())
        if problem is not None:
            self.answer(401, problem)
            return
        delivery = json.loads(body)
        if delivery["id"] != self.headers["X-Aiguillage-Event-Id"]:
            self.answer(400, "the event id of the body and of the header differ")
            return
        # One request at a time comes from the adapter, in order; only handled ones are seen.
        if delivery["id"] not in self.seen:
            handle(delivery)
            self.seen.add(delivery["id"])
        self.answer(204, "")

    def answer(self, status: int, reason: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(reason.encode())))
        self.end_headers()
        self.wfile.write(reason.encode())


if __name__ == "__main__":
    if not Handler.secret:
        sys.exit("set AIGUILLAGE_WEBHOOK_SECRET to the secret the daemon signs with")
    ThreadingHTTPServer(("", int(sys.argv[1])), Handler).serve_forever()
