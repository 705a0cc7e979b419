"""A peer for the test channel: a real HTTP server on loopback that counts what it is sent.

It takes ``POST /messages`` with an ``Idempotency-Key`` header and keeps, for each key, how
many times it was sent and the body of the first; a repeated key gets the first answer again
(so the customer would see the message once), as APIs that take such a key do. ``fail_next``
makes it answer 503 to the next sends, to exercise the outbox's retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Peer:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        """Each send is taken, then answered this much later: a daemon killed meanwhile has
        sent a message it has not journaled as sent."""
        self.sends: Counter[str] = Counter()
        self.first_taken: dict[str, float] = {}
        """When each key was first taken (``time.monotonic``)."""
        self.first: dict[str, dict[str, Any]] = {}
        self.fail_next = 0
        self.on_take: Callable[[], None] | None = None
        """Called when a send is taken, before it is answered (the tests kill the daemon)."""
        self.refuse_credentials = False
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                key = self.headers.get("Idempotency-Key", "")
                status, answer = peer._take(key, body)
                if status == 200 and peer.on_take is not None:
                    peer.on_take()
                time.sleep(peer.delay_s)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a daemon killed before our answer: nobody to tell

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _take(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.refuse_credentials:
                return 401, {"error": "invalid token"}
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"error": "try later"}
            if not key:
                return 400, {"error": "Idempotency-Key is required"}
            self.sends[key] += 1
            self.first_taken.setdefault(key, time.monotonic())
            if key not in self.first:
                self.first[key] = {**body, "id": f"peer-{len(self.first) + 1}"}
            return 200, {"id": self.first[key]["id"]}

    def __enter__(self) -> Peer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
