"""The ``webhook`` adapter: each event POSTed as signed JSON to a URL (a CRM, a data warehouse).

One event per request, its body ``Delivery`` in JSON::

    {"id": "3:1042", "seq": 1042, "type": "interaction.closed", "event": {...}}

with the headers::

    Content-Type: application/json
    X-Aiguillage-Event-Id: 3:1042
    X-Aiguillage-Timestamp: 1795000000                 (Unix seconds, when this attempt is sent)
    X-Aiguillage-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

keyed with the secret in the environment variable ``secret_env`` names (config.toml holds no
secret). The timestamp is signed with the body, and each attempt is signed afresh, so a
receiver can refuse a request older than a few minutes (a replay) and still accept a retry.

Delivery is at least once, in journal order, never skipping: an answer 2xx means delivered;
any other status, a time-out or a network error is retried after ``backoff_s``, then twice
that, and so on; after ``attempts`` failures in a row the adapter fails, which ``/readyz`` and
the metrics show, and the supervisor starts it again later (1 s doubling to 60 s), at the first
event not delivered. The position is the adapter's cursor in the journal, so a restart of the
daemon, even a crash, resumes there; events delivered after the last save of the cursor (one
second or 100 events at most) are delivered again. A receiver therefore drops an event id it
has seen; ids (``epoch:seq``) never name two different events, even after a store failover.

One request at a time, in seq order: so each interaction's events arrive in order (and all
events, in fact), which is what a CRM needs to keep a record's state right. The cost: the
throughput is one event per round trip (about 50 per second at 20 ms), and a receiver that
fails holds back every event behind the one it refuses. The reference deployment's traffic
(some 200,000 interactions a year, a few events a minute on average) is far below that.

Events carry no personal data (the journal holds a digest of it, and an external id as a keyed
digest); a receiver that needs the customer's identity or the external id as submitted reads
``GET /v1/interactions/{id}/personal-data`` with an integrator token.

Exceptions::

    WebhookError        the adapter cannot start (no secret) or deliver (the receiver keeps
                        refusing): the supervisor reports it, and restarts the adapter later
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import Annotated, Any

import anyio
import httpx
import msgspec

from aiguillage.adapters.channels.events_out import event_out
from aiguillage.adapters.channels.protocol import AdapterContext, EventType
from aiguillage.adapters.stores.journal import Record, event_type

__all__ = ["Delivery", "WebhookAdapter", "WebhookError", "WebhookSettings", "signature"]

_ENCODE = msgspec.json.Encoder()
_USER_AGENT = "aiguillage-webhook/1"


class WebhookError(Exception):
    """The webhook cannot start or deliver; the message says why and what to do."""


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[adapters.webhook]`` in config.toml."""

    url: Annotated[
        str,
        msgspec.Meta(pattern=r"^https?://[^\s/]+", examples=["https://crm.example/aiguillage"]),
    ]
    """Where to POST each event (https in production: the body is not encrypted)."""
    secret_env: Annotated[
        str,
        msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", examples=["AIGUILLAGE_WEBHOOK_SECRET"]),
    ]
    """The environment variable that holds the HMAC secret (``AIGUILLAGE_WEBHOOK_SECRET``)."""
    events: tuple[EventType, ...] = ()
    """The event types to send (``["interaction.arrived", "interaction.closed"]``); all if
    empty."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    """How long one request may take, connection included."""
    backoff_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 1.0
    """The wait before the first retry of an event; each further retry waits twice longer."""
    attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    """Failed attempts in a row before the adapter reports its failure (and is restarted)."""


class Delivery(msgspec.Struct, frozen=True):
    """The JSON body of one request: the event (its instants ISO-8601, as the API shows them),
    its id, seq and type."""

    id: str
    seq: int
    type: str
    event: dict[str, Any]


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """Return ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``, the signature header."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookAdapter:
    """POST each durable event, signed, to the configured URL, in order, at least once."""

    Settings = WebhookSettings
    subscribes: frozenset[str] = frozenset()

    def __init__(self, context: AdapterContext[WebhookSettings]) -> None:
        settings = context.settings
        secret = os.environ.get(settings.secret_env, "")
        if not secret:
            raise WebhookError(
                f"the environment variable {settings.secret_env} (adapters.{context.name}"
                ".secret_env) is unset or empty; set it to the secret the receiver verifies "
                "signatures with (`openssl rand -hex 32` makes one) in the daemon's "
                "environment, then restart the daemon"
            )
        self.context = context
        self.settings = settings
        self.subscribes = frozenset(settings.events)
        self._secret = secret.encode()

    async def run(self) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        timeout = httpx.Timeout(self.settings.timeout_s)
        async with httpx.AsyncClient(headers=headers, timeout=timeout) as client:
            async for record in self.context.events():
                await self._deliver(client, record)
                await self.context.done(record.seq)

    async def _deliver(self, client: httpx.AsyncClient, record: Record) -> None:
        """Send one event until the receiver takes it; ``WebhookError`` after ``attempts``."""
        kind = event_type(record.event)
        shown = event_out(record.event, self.context.zone)
        body = _ENCODE.encode(Delivery(record.id, record.seq, kind, shown))
        wait = self.settings.backoff_s
        attempts = self.settings.attempts
        for attempt in range(1, attempts + 1):
            failure = await self._post(client, record.id, body)
            if failure is None:
                return
            if attempt == attempts:
                break
            self.context.log.warning(
                "webhook delivery failed; retrying",
                event_id=record.id,
                type=kind,
                attempt=attempt,
                error=failure,
                retry_in_s=wait,
            )
            await anyio.sleep(wait)
            wait *= 2
        raise WebhookError(
            f"event {record.id} ({kind}) not delivered after {attempts} attempts: {failure}; "
            "check that the receiver is up and answers 2xx to a valid request"
        )

    async def _post(self, client: httpx.AsyncClient, event_id: str, body: bytes) -> str | None:
        """Send one attempt; return None when delivered, else what went wrong."""
        timestamp = str(int(time.time()))
        headers = {
            "X-Aiguillage-Event-Id": event_id,
            "X-Aiguillage-Timestamp": timestamp,
            "X-Aiguillage-Signature": signature(self._secret, timestamp, body),
        }
        # The URL stays out of messages and logs: it may carry a token of the receiver.
        try:
            response = await client.post(self.settings.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if response.is_success:
            return None
        return f"the receiver answered {response.status_code} {response.reason_phrase}".rstrip()
