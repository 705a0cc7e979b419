"""A client that submits interactions until stopped, retrying each until it is acknowledged.

Run as its own process by the crash tests: ``python submitter.py URL TOKEN OUT PREFIX``. For
each acknowledged submission (201 or 200) it appends one JSON line to OUT, flushed at once:
external id, interaction id, status code, deadline. A refused connection, a time-out or a 503
(the daemon is down or rebuilding) makes it retry the same external id, as a real channel
adapter would; so an acknowledgement lost in a crash is retried, and must not duplicate.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx


def main() -> None:
    url, token, out, prefix = sys.argv[1:5]
    headers = {"Authorization": f"Bearer {token}"}
    channels = [("written", "email"), ("social", "facebook"), ("written", "webform")]
    with httpx.Client(base_url=url, headers=headers, timeout=5) as client, open(out, "a") as log:
        number = 0
        while True:
            number += 1
            channel, source = channels[number % len(channels)]
            external_id = f"{prefix}-{number}"
            received = datetime.now(UTC) - timedelta(seconds=30)
            body = {
                "channel": channel,
                "source": source,
                "external_id": external_id,
                "received_at": received.isoformat(),
                "motive": "general",
                "text": f"message {external_id}",
            }
            while True:
                try:
                    response = client.post("/v1/interactions", json=body)
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if response.status_code in (200, 201):
                    answer = response.json()
                    record = {
                        "external_id": external_id,
                        "id": answer["id"],
                        "status": response.status_code,
                        "deadline": answer["deadline"],
                        "channel": channel,
                    }
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    break
                if response.status_code == 503:
                    time.sleep(0.05)
                    continue
                raise SystemExit(f"unexpected {response.status_code}: {response.text}")


if __name__ == "__main__":
    main()
