"""A channel for the tests: signed deliveries in on the public listener, answers out to a peer.

It follows the shape of the social networks' webhooks that the real channels will serve: the
peer signs each delivery's raw body with HMAC-SHA256 (``X-Signature: sha256=<hex>``), the
channel checks it in constant time, and submits the message as a ``social`` interaction in its
thread. Answers go back to the peer's HTTP API (``peer.Peer``) with the outbox's idempotency
key in an ``Idempotency-Key`` header, the way Stripe-style APIs take one. It is registered as
the ``signed-test`` plugin only by the tests that need it (an ``entry_points.txt`` they write).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

import anyio
import httpx
import msgspec

from aiguillage.adapters.channels import (
    AdapterContext,
    Answer,
    Inbound,
    InboundRoute,
    NeedsReauthorisation,
    Outgoing,
    Rejected,
    SendFailed,
    Sent,
    Unavailable,
)
from aiguillage.adapters.config.datetimes import DatetimeError, parse_instant
from aiguillage.engine.commands import Submit


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    peer_url: str
    secret_env: str = "SIGNED_TEST_SECRET"
    source: str = "x"


class Delivery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    thread: str
    sender: str
    text: str
    at: str


_DECODE = msgspec.json.Decoder(Delivery)


class SignedChannel:
    Settings = Settings
    subscribes: frozenset[str] = frozenset({"message.sent"})

    def __init__(self, context: AdapterContext[Settings]) -> None:
        self.context = context
        self.settings = context.settings
        secret = os.environ.get(self.settings.secret_env, "")
        if not secret:
            raise ValueError(f"set {self.settings.secret_env} to the peer's signing secret")
        self.secret = secret.encode()
        self.sources = frozenset({self.settings.source})
        self.client = httpx.AsyncClient(base_url=self.settings.peer_url, timeout=5)

    def routes(self) -> Sequence[InboundRoute]:
        return [InboundRoute("POST", "/deliveries", self.deliver)]

    async def deliver(self, inbound: Inbound) -> Answer:
        given = inbound.header("X-Signature").removeprefix("sha256=")
        expected = hmac.new(self.secret, inbound.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            return Answer.json({"error": "unauthorized", "detail": "bad signature"}, 401)
        try:
            delivery = _DECODE.decode(inbound.body)
            received_at = parse_instant(delivery.at)
        except (msgspec.ValidationError, msgspec.DecodeError, DatetimeError) as exc:
            return Answer.json({"error": "invalid_request", "detail": str(exc)}, 400)
        if not self.context.ready:
            return Answer.json({"error": "unavailable", "detail": "not ready"}, 503)
        command = Submit(
            channel="social",
            source=self.settings.source,
            external_id=delivery.id,
            thread=delivery.thread,
            received_at=received_at,
            motive="general",
        )
        try:
            receipt = await self.context.submit(
                command,
                {"customer": {"handle": delivery.sender}, "text": delivery.text},
                raw=inbound.body,
            )
        except Unavailable:
            return Answer.json({"error": "unavailable", "detail": "retry"}, 503)
        except Rejected as exc:
            return Answer.json({"error": "invalid_request", "detail": exc.detail}, 400)
        return Answer.json({"interaction_id": receipt.interaction.id}, 202)

    async def send(self, outgoing: Outgoing) -> Sent:
        last = outgoing.received[-1]
        body = {
            "to": last["customer"]["handle"],
            "in_reply_to": last["external_id"],
            "text": outgoing.text,
        }
        try:
            response = await self.client.post(
                "/messages", json=body, headers={"Idempotency-Key": outgoing.idempotency_key}
            )
        except httpx.HTTPError as exc:
            raise SendFailed(f"the peer did not answer: {exc}") from exc
        if response.status_code == 401:
            raise NeedsReauthorisation("the peer refused our credentials")
        if response.status_code >= 500:
            raise SendFailed(f"the peer answered {response.status_code}")
        if response.status_code >= 400:
            raise SendFailed(f"the peer refused: {response.text}", permanent=True)
        return Sent(peer_id=str(response.json()["id"]), evidence=response.request.content)

    async def run(self) -> None:
        try:
            async for record in self.context.events():
                await self.context.done(record.seq)
        finally:
            with anyio.CancelScope(shield=True):
                await self.client.aclose()
