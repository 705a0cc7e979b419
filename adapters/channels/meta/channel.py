"""The ``meta`` channel: a Facebook Page's and an Instagram account's messages and comments in,
through Meta's webhook, and the advisors' answers out through the Graph API.

In. Meta is given the webhook URL ``https://<public host>/channels/<name>/webhook`` and the
verify token: ``GET`` is the subscription handshake (``hub.mode=subscribe``, the verify token
compared in constant time, ``hub.challenge`` echoed; 403 otherwise). Each ``POST`` is checked
with ``X-Hub-Signature-256`` (``sha256=`` and the hex HMAC-SHA256 of the raw body, keyed with
the app secret: 401 without it, 403 when wrong), read (``webhook``: 400 naming the field when
it is not Meta's shape), and answered once durable (``social.intake``): each customer message or
comment is a ``social`` interaction from source ``facebook`` or ``instagram``, its external id
Meta's message or comment id (a delivery repeated or replayed creates nothing twice), its thread
the customer's private conversation or the top-level comment. The messages a customer sends
before the answer join the open interaction; the first one after it is closed opens the next.

Echoes. Meta reports back what the Page sends. Ours are recognised by the outbox's idempotency
key we attach as the message's ``metadata`` (kept, with Meta's id, in the channel's durable
state, so that an answer sent again after a crash is not sent twice when Meta already took it),
by our ``app_id``, by the id Meta gave an answer we sent, or, for a comment, by an answer of ours
already in the interaction. Any other echo is an answer typed in Meta's own tools (Meta Business
Suite, the Instagram app): its interaction is closed with ``answered_elsewhere_reason``, which
stops its clock (the engine has no command yet for a system-posted answer, so the thread does
not hold that text).

Out. An answer to a private conversation goes to the customer's id with
``messaging_type: RESPONSE`` within 24 hours of their latest message, or with the
``HUMAN_AGENT`` tag within seven days when ``human_agent_tag`` is set (Meta must have approved
it); past its window it is refused at once, ``window_closed``, for the advisor to see. A
comment's answer is a reply in its thread. The Graph API takes no idempotency key for it, so
the channel marks durably that a reply's sending begins; a reply whose sending had begun (the
daemon died before its outcome was journaled, or an attempt failed) first looks among the
comment's replies for ours with the same text, and records that one rather than posting it
twice. Sending holds while Meta's rate limits hold (``social.pacing``) and while the Page
token is refused (``social.credentials``: the channel reports "needs re-authorisation", the
answers wait in the outbox and leave once the token is renewed). As a waiting conversation's
window nears its end, its priority is raised (``social.window``).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Sequence
from typing import Any

import anyio
import httpx
import msgspec

from aiguillage.adapters.channels import (
    AdapterContext,
    Answer,
    ChannelState,
    Inbound,
    InboundRoute,
    Outgoing,
    SendFailed,
    Sent,
    Unavailable,
)
from aiguillage.adapters.channels.meta import graph
from aiguillage.adapters.channels.meta.settings import MetaSettings
from aiguillage.adapters.channels.meta.webhook import Echo, Malformed, parse, windowed
from aiguillage.adapters.channels.port import CommandFailed
from aiguillage.adapters.channels.social import intake, signatures
from aiguillage.adapters.channels.social.credentials import Token, TokenError
from aiguillage.adapters.channels.social.elsewhere import close_answered_elsewhere
from aiguillage.adapters.channels.social.pacing import Pacing
from aiguillage.adapters.channels.social.window import Urgency, closes_at
from aiguillage.engine.instants import SECOND, Instant, from_seconds

__all__ = ["MetaChannel", "MetaError", "MetaState"]

_SIGNATURE = "X-Hub-Signature-256"
_KEY_MARK = ":message:"
"""Every outbox idempotency key has it (``outbox.idempotency_key``)."""
_KEPT = 500
"""Echoed keys kept in the state: far more than can be in flight at once."""
_STANDARD_S = 86_400
_REPLY_PAGES = 10
"""Pages of a comment's replies read at most when looking for ours (100 each)."""


class MetaError(Exception):
    """The channel cannot start; the message says what to set."""


class MetaState(msgspec.Struct, kw_only=True):
    """What the channel keeps durably: the answers Meta echoed, idempotency key to Meta's id,
    and the comment replies whose sending began (their keys, newest last)."""

    echoed: dict[str, str] = {}
    replying: list[str] = []


def _now() -> Instant:
    return from_seconds(time.time())


class MetaChannel:
    """The ``meta`` plugin (see the module docstring)."""

    Settings = MetaSettings
    subscribes: frozenset[str] = frozenset({"interaction.closed"})
    """Any one type: ``run`` reads no event."""

    def __init__(self, context: AdapterContext[MetaSettings]) -> None:
        self.context = context
        self.settings = settings = context.settings
        where = f"[adapters.{context.name}]"
        self._app_secret = _secret(
            settings.app_secret_env, "the Meta app's secret", "app_secret_env", where
        )
        self._verify_token = _secret(
            settings.verify_token_env, "the webhook's verify token", "verify_token_env", where
        )
        try:
            self.token = Token(
                env=settings.page_token_env or "",
                file=settings.page_token_file or "",
                what="the Page access token",
            )
        except TokenError as exc:
            raise MetaError(f"{where}: {exc}") from None
        reasons = context.daemon_settings.reasons
        if settings.answered_elsewhere_reason not in reasons.close:
            raise MetaError(
                f"{where} answered_elsewhere_reason = {settings.answered_elsewhere_reason!r} is "
                f"not one of [reasons] close ({', '.join(reasons.close)}): use one of them"
            )
        if settings.urgent_before_s and settings.urgent_reason not in reasons.steer:
            raise MetaError(
                f"{where} urgent_reason = {settings.urgent_reason!r} is not one of [reasons] "
                f"steer ({', '.join(reasons.steer)}): use one of them"
            )
        self.sources = frozenset({"facebook", *(["instagram"] if settings.instagram_id else [])})
        self.pacing = Pacing()
        self.client = httpx.AsyncClient(
            base_url=settings.graph_url.rstrip("/"), timeout=settings.timeout_s
        )
        self._state: ChannelState[MetaState] = context.state(MetaState)
        self._stored: MetaState | None = None
        self._lock = anyio.Lock()
        self.urgency = Urgency(
            context,
            sources=self.sources,
            windowed=windowed,
            window_s=settings.window_s,
            before_s=settings.urgent_before_s,
            priority=settings.urgent_priority,
            reason=settings.urgent_reason,
            by=f"channel:{context.name}",
            clock=_now,
            every_s=settings.urgency_every_s,
        )

    def routes(self) -> Sequence[InboundRoute]:
        return [
            InboundRoute("GET", "/webhook", self.handshake),
            InboundRoute("POST", "/webhook", self.deliver),
        ]

    async def run(self) -> None:
        try:
            if self.settings.urgent_before_s:
                await self.urgency.run()
            else:
                await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await self.client.aclose()

    # -- in ------------------------------------------------------------------------------------

    async def handshake(self, inbound: Inbound) -> Answer:
        mode = inbound.parameter("hub.mode")
        given = inbound.parameter("hub.verify_token").encode()
        challenge = inbound.parameter("hub.challenge")
        if mode != "subscribe":
            return _refused(403, "hub.mode", 'must be "subscribe"')
        if not hmac.compare_digest(given, self._verify_token.encode()):
            return _refused(403, "hub.verify_token", "is not the verify token configured")
        if not challenge:
            return _refused(400, "hub.challenge", "is missing")
        return Answer(200, challenge.encode(), "text/plain; charset=utf-8")

    async def deliver(self, inbound: Inbound) -> Answer:
        given = inbound.header(_SIGNATURE)
        if not given:
            return _refused(401, _SIGNATURE, "is missing: Meta signs every delivery")
        if not signatures.verify(self._app_secret.encode(), inbound.body, given):
            return _refused(403, _SIGNATURE, "does not match the body (check the app secret)")
        settings = self.settings
        try:
            parsed = parse(
                inbound.body, page_id=settings.page_id, instagram_id=settings.instagram_id
            )
        except Malformed as exc:
            return _refused(400, exc.field, exc.detail, "invalid_request")
        answer, _ = await intake.take(
            self.context,
            parsed.messages,
            motive=settings.motive,
            language=settings.language,
        )
        if answer.status != 200:
            return answer
        try:
            for echo in parsed.echoes:
                await self._echo(echo)
        except (Unavailable, CommandFailed) as exc:
            retry = getattr(exc, "retry_after_s", 2)
            answer = Answer.json({"error": "unavailable", "detail": "deliver again"}, 503)
            return answer._replace(headers={"Retry-After": str(max(1, retry))})
        return answer

    async def _echo(self, echo: Echo) -> None:
        """Recognise our own answer, or close the work an answer typed elsewhere answered."""
        if _KEY_MARK in echo.metadata:
            await self._remember(echo.metadata, echo.peer_id)
            return
        if self.settings.app_id and echo.app_id == self.settings.app_id:
            return

        await close_answered_elsewhere(
            self.context,
            source=echo.source,
            thread=echo.thread,
            peer_id=echo.peer_id,
            reason=self.settings.answered_elsewhere_reason,
        )

    async def _kept(self) -> MetaState:
        if self._stored is None:
            found = await self._state.get()
            self._stored = found if found is not None else MetaState()
        return self._stored

    async def _known(self) -> dict[str, str]:
        return (await self._kept()).echoed

    async def _remember(self, key: str, peer_id: str) -> None:
        async with self._lock:
            state = await self._kept()
            echoed = state.echoed
            if echoed.get(key) == peer_id:
                return
            echoed[key] = peer_id
            while len(echoed) > _KEPT:
                del echoed[next(iter(echoed))]
            await self._state.put(state)

    async def _replying(self, key: str) -> bool:
        """Mark, durably, that a comment reply's sending begins; whether it had begun before
        (by a daemon that died before its outcome was journaled, or an attempt that failed)."""
        async with self._lock:
            state = await self._kept()
            if key in state.replying:
                return True
            state.replying.append(key)
            del state.replying[:-_KEPT]
            await self._state.put(state)
            return False

    # -- out -----------------------------------------------------------------------------------

    async def send(self, outgoing: Outgoing) -> Sent:
        if not outgoing.received:
            raise SendFailed("the interaction has no customer message to answer", permanent=True)
        if windowed(outgoing.thread):
            try:
                known = (await self._known()).get(outgoing.idempotency_key)
            except Unavailable as exc:
                raise SendFailed(f"the channel's state is not readable now: {exc}") from None
            if known:
                return Sent(peer_id=known)  # Meta took it before a crash lost its record
            path, payload = self._message(outgoing)
        else:
            path, payload = self._reply(outgoing)
            already = await self._already_replied(outgoing, path)
            if already:
                return Sent(peer_id=already)  # Meta took it before a crash lost its record
        self.pacing.check()
        token = self.token.current()
        version = self.settings.graph_version
        body = msgspec.json.encode(payload)
        try:
            response = await self.client.post(
                f"/{version}/{path}",
                content=body,
                params={"access_token": token},
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            # The URL carries the token: only the error's kind is told.
            raise SendFailed(f"Meta did not answer: {type(exc).__name__}") from None
        outcome = graph.classify(response)
        error = outcome.error
        if error is None:
            self.pacing.passed()
            return Sent(peer_id=outcome.peer_id, evidence=body)
        raise self._refusal(error, token)

    def _refusal(self, error: graph.GraphError, token: str) -> SendFailed:
        if error.kind == "token":
            self.context.report("needs_reauthorisation", error.reason)
            return self.token.refuse(token, error.reason)
        if error.kind == "rate_limit":
            return self.pacing.limited(error.reason, error.wait_s)
        return SendFailed(error.reason, permanent=error.kind == "permanent")

    async def _already_replied(self, outgoing: Outgoing, path: str) -> str:
        """Meta's id of our reply with this text under the comment, when the sending of this
        answer began before (Meta takes no idempotency key: it may have taken it); else mark
        that it begins and return empty."""
        try:
            begun = await self._replying(outgoing.idempotency_key)
        except Unavailable as exc:
            raise SendFailed(f"the channel's state is not readable now: {exc}") from None
        if not begun and outgoing.attempt == 1:
            return ""
        ours = self.settings.instagram_id if outgoing.source == "instagram" else None
        author = ours or self.settings.page_id
        fields = "from,text" if outgoing.source == "instagram" else "from,message"
        params = {"fields": fields, "limit": "100"}
        self.pacing.check()
        token = self.token.current()
        for _ in range(_REPLY_PAGES):
            try:
                response = await self.client.get(
                    f"/{self.settings.graph_version}/{path}",
                    params={**params, "access_token": token},
                )
            except httpx.HTTPError as exc:
                raise SendFailed(f"Meta did not answer: {type(exc).__name__}") from None
            page = graph.replies(response)
            if page.error is not None:
                raise self._refusal(page.error, token)
            for reply in page.found:
                if reply.author == author and reply.text == outgoing.text and reply.id:
                    return reply.id
            if not page.after:
                break
            params["after"] = page.after
        return ""

    def _message(self, outgoing: Outgoing) -> tuple[str, dict[str, Any]]:
        """The private answer's request, or ``window_closed`` past the messaging window."""
        messages = [r for r in outgoing.received if r.get("kind") == "message"]
        if not messages:
            raise SendFailed("the conversation has no private message to answer", permanent=True)
        last = messages[-1]
        customer = last.get("customer") or {}
        recipient = str(customer.get("id") or "")
        timestamp = last.get("timestamp")
        if not recipient or not isinstance(timestamp, int):
            raise SendFailed("the customer's message lacks its sender or time", permanent=True)
        latest = timestamp * (SECOND // 1000)
        now = _now()
        if now >= closes_at(latest, self.settings.window_s):
            days = self.settings.window_s // 86_400
            raise SendFailed(
                f"window_closed: Meta takes an answer only within {days * 24} hours of the "
                "customer's latest message; answer another way, or wait for them to write",
                permanent=True,
            )
        payload: dict[str, Any] = {
            "recipient": {"id": recipient},
            "messaging_type": "RESPONSE",
            "message": {"text": outgoing.text, "metadata": outgoing.idempotency_key},
        }
        if now >= closes_at(latest, _STANDARD_S):
            payload["messaging_type"] = "MESSAGE_TAG"
            payload["tag"] = "HUMAN_AGENT"
        return f"{self.settings.page_id}/messages", payload

    def _reply(self, outgoing: Outgoing) -> tuple[str, dict[str, Any]]:
        comment_id = outgoing.thread.removeprefix("comment:")
        if not comment_id or comment_id == outgoing.thread:
            raise SendFailed(
                f"no comment to reply to in thread {outgoing.thread!r}", permanent=True
            )
        edge = "replies" if outgoing.source == "instagram" else "comments"
        return f"{comment_id}/{edge}", {"message": outgoing.text}


def _secret(variable: str, what: str, key: str, where: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise MetaError(
            f"set the environment variable {variable} to {what} in the daemon's environment "
            f"({where} {key} names it)"
        )
    return value


def _refused(status: int, field: str, detail: str, error: str = "") -> Answer:
    error = error or {401: "unauthorized", 403: "forbidden"}.get(status, "invalid_request")
    return Answer.json({"error": error, "detail": f"{field} {detail}", "field": field}, status)
