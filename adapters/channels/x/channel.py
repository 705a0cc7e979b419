"""The ``x`` channel: an X account's direct messages and mentions in, through the Account
Activity webhook or by polling, and the advisors' answers out as direct messages or replies.

In, webhook mode. X is given the URL ``https://<public host>/channels/<name>/webhook``. ``GET``
is X's CRC check: ``crc_token`` answered ``{"response_token": "sha256=" + base64 HMAC-SHA256
of the consumer secret over it}`` (X repeats it hourly, while deliveries go on). Each ``POST``
is checked with ``x-twitter-webhooks-signature`` (the same HMAC over the raw body, compared in
constant time: 401 without it, 403 when wrong), read (``webhook``: 400 naming the field), and
answered once durable (``social.intake``): each direct message or mention is a ``social``
interaction from source ``x``, its external id X's event or post id (a delivery repeated or
replayed creates nothing twice), its thread the customer's direct conversation or the post's
conversation. At start, when ``webhook_id`` and the bearer token are given, X is asked to replay
what it delivered since the daemon was last seen alive (at most 24 hours back).

In, polling mode (no Account Activity access): every ``poll_every_s``, ``GET
/2/users/{id}/mentions`` from the newest post taken (``since_id``) and ``GET /2/dm_events``
back to the events already taken, both high-water marks kept in the channel's durable state.
The first poll, with no mark yet, pages back (X's ``meta.next_token`` as the next request's
``pagination_token``) to ``first_look_back_s`` ago: mentions from that ``start_time``, direct
message events until one older than it.

Echoes. What the account sends comes back: ours are told by our ``app_id`` (direct messages),
or by the id X gave an answer we sent; any other is an answer typed in X's own app, which
closes its interaction with ``answered_elsewhere_reason`` and so stops its clock.

Out. An answer to a direct conversation is a direct message to the customer; a mention's answer
is a reply to the customer's latest post in the conversation. Sending holds while X's rate
limits hold (``social.pacing``, until ``x-rate-limit-reset``) and while the user token is
refused (``social.credentials``: "needs re-authorisation"; the answers wait in the outbox).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
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
    NeedsReauthorisation,
    Outgoing,
    SendFailed,
    Sent,
    Unavailable,
)
from aiguillage.adapters.channels.port import CommandFailed
from aiguillage.adapters.channels.social import intake, signatures
from aiguillage.adapters.channels.social.credentials import Token, TokenError, token_source
from aiguillage.adapters.channels.social.elsewhere import close_answered_elsewhere
from aiguillage.adapters.channels.social.pacing import Pacing
from aiguillage.adapters.channels.x import api
from aiguillage.adapters.channels.x.settings import XSettings
from aiguillage.adapters.channels.x.webhook import (
    Echo,
    Malformed,
    dm_events,
    mentions,
    parse,
)
from aiguillage.engine.instants import from_seconds

__all__ = ["XChannel", "XError", "XState"]

_SIGNATURE = "x-twitter-webhooks-signature"
_KEPT = 5000
"""Posts' conversations and direct-message ids kept in the state."""
_ALIVE_EVERY_S = 60.0
_REPLAY_MOST_S = 24 * 3600
_PAGES = 10
"""Pages read at most per endpoint and poll (100 each)."""
_FIRST_PAGES = 100
"""Pages read at most by the first poll, back to ``first_look_back_s``."""


class XError(Exception):
    """The channel cannot start; the message says what to set."""


class XState(msgspec.Struct, kw_only=True):
    """What the channel keeps durably."""

    conversations: dict[str, str] = {}
    """Posts seen (mentions, our replies) to their conversation."""
    mentions_since: str = ""
    """Polling: the newest mention taken."""
    dms_seen: list[str] = []
    """Polling: the direct-message events taken, newest last."""
    sent: list[str] = []
    """The ids X gave our answers, newest last: their echoes are ours."""
    alive_at: float = 0.0
    """When the daemon was last seen running (epoch seconds): the replay starts there."""


class XChannel:
    """The ``x`` plugin (see the module docstring)."""

    Settings = XSettings
    subscribes: frozenset[str] = frozenset({"interaction.closed"})
    sources = frozenset({"x"})

    def __init__(self, context: AdapterContext[XSettings]) -> None:
        self.context = context
        self.settings = settings = context.settings
        where = f"[adapters.{context.name}]"
        self._consumer_secret = ""
        if settings.mode == "webhook":
            self._consumer_secret = _secret(
                settings.consumer_secret_env, "the X app's consumer secret", where
            )
        try:
            self.token = token_source(
                env=settings.user_token_env or "",
                file=settings.user_token_file or "",
                oauth=settings.oauth,
                names=("user_token_env", "user_token_file"),
                vendor=settings.oauth_vendor,
                channel=context.name,
                what="the X account's user token",
                on_refused=lambda reason: context.report("needs_reauthorisation", reason),
            )
            self.bearer = (
                Token(env=settings.bearer_token_env, what="the X app's bearer token")
                if settings.bearer_token_env
                else None
            )
        except TokenError as exc:
            raise XError(f"{where}: {exc}") from None
        reasons = context.daemon_settings.reasons
        if settings.answered_elsewhere_reason not in reasons.close:
            raise XError(
                f"{where} answered_elsewhere_reason = {settings.answered_elsewhere_reason!r} is "
                f"not one of [reasons] close ({', '.join(reasons.close)}): use one of them"
            )
        self.pacing = Pacing()
        self.client = httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/"), timeout=settings.timeout_s
        )
        self._store: ChannelState[XState] = context.state(XState)
        self._state: XState | None = None
        self._lock = anyio.Lock()
        self.polls = 0

    def routes(self) -> Sequence[InboundRoute]:
        if self.settings.mode != "webhook":
            return []
        return [
            InboundRoute("GET", "/webhook", self.crc),
            InboundRoute("POST", "/webhook", self.deliver),
        ]

    async def run(self) -> None:
        try:
            if self.settings.mode == "webhook":
                while not self.context.ready:  # the state is read from the journal
                    await anyio.sleep(0.2)
                await self._replay()
                while True:
                    await self._alive()
                    await anyio.sleep(_ALIVE_EVERY_S)
            else:
                while True:
                    await self.poll()
                    await anyio.sleep(self.settings.poll_every_s)
        finally:
            with anyio.CancelScope(shield=True):
                await self.client.aclose()

    # -- the state -----------------------------------------------------------------------------

    async def _get(self) -> XState:
        if self._state is None:
            found = await self._store.get()
            self._state = found if found is not None else XState()
        return self._state

    async def _put(self) -> None:
        state = await self._get()
        for name in ("conversations",):
            kept: dict[str, str] = getattr(state, name)
            while len(kept) > _KEPT:
                del kept[next(iter(kept))]
        del state.dms_seen[:-_KEPT]
        del state.sent[:-_KEPT]
        await self._store.put(state)

    async def _alive(self) -> None:
        try:
            async with self._lock:
                (await self._get()).alive_at = time.time()
                await self._put()
        except Unavailable:
            pass  # a standby, or the store rebuilding: next minute

    # -- in: the webhook -----------------------------------------------------------------------

    async def crc(self, inbound: Inbound) -> Answer:
        token = inbound.parameter("crc_token")
        if not token:
            return _refused(400, "crc_token", "is missing")
        response = signatures.sign(self._consumer_secret.encode(), token.encode(), "base64")
        return Answer.json({"response_token": response})

    async def deliver(self, inbound: Inbound) -> Answer:
        given = inbound.header(_SIGNATURE)
        if not given:
            return _refused(401, _SIGNATURE, "is missing: X signs every delivery")
        secret = self._consumer_secret.encode()
        if not signatures.verify(secret, inbound.body, given, "base64"):
            return _refused(403, _SIGNATURE, "does not match the body (check the consumer secret)")
        try:
            state = await self._get()
            parsed = parse(
                inbound.body, user_id=self.settings.user_id, conversations=state.conversations
            )
        except Malformed as exc:
            return _refused(400, exc.field, exc.detail, "invalid_request")
        except Unavailable as exc:
            return _unavailable(exc.retry_after_s)
        try:
            new = {k: v for k, v in parsed.posts.items() if state.conversations.get(k) != v}
            if new:
                async with self._lock:
                    state.conversations.update(new)
                    await self._put()
            answer, _ = await intake.take(self.context, parsed.messages, **self._motive())
            if answer.status != 200:
                return answer
            for echo in parsed.echoes:
                await self._echo(echo)
        except (Unavailable, CommandFailed) as exc:
            return _unavailable(getattr(exc, "retry_after_s", 2))
        return answer

    def _motive(self) -> dict[str, str]:
        return {"motive": self.settings.motive, "language": self.settings.language}

    async def _echo(self, echo: Echo) -> None:
        if self.settings.app_id and echo.app_id == self.settings.app_id:
            return
        if echo.peer_id in (await self._get()).sent:
            return
        await close_answered_elsewhere(
            self.context,
            source="x",
            thread=echo.thread,
            peer_id=echo.peer_id,
            reason=self.settings.answered_elsewhere_reason,
        )

    async def _replay(self) -> None:
        """Ask X to deliver again what it sent while the daemon was down (24 hours at most)."""
        settings = self.settings
        if self.bearer is None or settings.webhook_id is None:
            return
        try:
            since = (await self._get()).alive_at
        except Unavailable:
            return
        now = time.time()
        if not since:
            return  # the first start: nothing was missed
        start = max(since - _ALIVE_EVERY_S, now - _REPLAY_MOST_S + 60)
        body = {
            "webhook_id": settings.webhook_id,
            "from_date": _minute(start),
            "to_date": _minute(now),
        }
        try:
            response = await self.client.post(
                "/2/webhooks/replay",
                json=body,
                headers={"Authorization": f"Bearer {self.bearer.current()}"},
            )
        except (httpx.HTTPError, NeedsReauthorisation) as exc:
            self.context.log.warning("the webhook replay was not asked", error=type(exc).__name__)
            return
        outcome = api.classify(response)
        if outcome.error is not None:
            self.context.log.warning("X refused the webhook replay", reason=outcome.error.reason)
            return
        self.context.log.info(
            "X replays the deliveries missed",
            since=body["from_date"],
            job=outcome.data.get("job_id"),
        )

    # -- in: polling ---------------------------------------------------------------------------

    async def poll(self) -> None:
        """Read the mentions and direct messages since the high-water marks; take the new ones."""
        if not self.context.ready or self.pacing.holding:
            return
        try:
            token = await self.token.fresh()
        except (NeedsReauthorisation, Unavailable):
            return
        try:
            await self._poll_mentions(token)
            await self._poll_dms(token)
        except _Stop:
            return
        except (Unavailable, CommandFailed) as exc:
            self.context.log.info("a poll's messages wait for the daemon", error=str(exc))
            return
        except Malformed as exc:
            self.context.log.warning("X's answer is not in its shape", field=exc.field)
            return
        self.polls += 1
        if self.context.health == "needs_reauthorisation":
            self.context.report("ok")

    async def _get_page(self, token: str, path: str, params: dict[str, str]) -> bytes:
        try:
            response = await self.client.get(
                path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            self.context.log.info("X did not answer a poll", error=type(exc).__name__)
            raise _Stop from None
        error = api.classify(response).error
        if error is None:
            return response.content
        self._refusal(error, token)
        self.context.log.warning("X refused a poll", reason=error.reason)
        raise _Stop

    def _refusal(self, error: api.ApiError, token: str) -> Exception:
        if error.kind == "token":
            self.context.report("needs_reauthorisation", error.reason)
            return self.token.refuse(token, error.reason)
        if error.kind == "rate_limit":
            return self.pacing.limited(error.reason, error.wait_s)
        return SendFailed(error.reason, permanent=error.kind == "permanent")

    async def _poll_mentions(self, token: str) -> None:
        state = await self._get()
        since = state.mentions_since
        params = {
            "max_results": "100",
            "post.fields": "conversation_id,created_at,text",
            "expansions": "author_id",
        }
        if since:
            params["since_id"] = since
        else:
            params["start_time"] = _iso(time.time() - self.settings.first_look_back_s)
        taken: list[list[intake.Incoming]] = []
        for _ in range(_PAGES if since else _FIRST_PAGES):
            body = await self._get_page(token, f"/2/users/{self.settings.user_id}/mentions", params)
            found, next_token = mentions(body)
            taken.append(found)
            if not next_token:
                break
            params["pagination_token"] = next_token
        newest = since
        for found in reversed(taken):  # the oldest page first
            await self._take(found)
            for message in found:
                if _newer(message.external_id, newest):
                    newest = message.external_id
                conversation = message.thread.removeprefix("post:")
                state.conversations[message.external_id] = conversation
        if newest != since:
            async with self._lock:
                state.mentions_since = newest
                await self._put()

    async def _poll_dms(self, token: str) -> None:
        state = await self._get()
        seen = set(state.dms_seen)
        params = {
            "max_results": "100",
            "event_types": "MessageCreate",
            "dm_event.fields": "id,text,created_at,dm_conversation_id,event_type",
            "expansions": "sender_id,participant_ids",
        }
        # The first poll has no mark: it goes back to the look-back bound instead.
        bound = 0 if seen else from_seconds(time.time() - self.settings.first_look_back_s)
        pages: list[list[intake.Incoming | Echo]] = []
        for _ in range(_PAGES if seen else _FIRST_PAGES):
            body = await self._get_page(token, "/2/dm_events", params)
            events, next_token = dm_events(body, self.settings.user_id)
            fresh = [e for e in events if _event_id(e) not in seen and _at(e) >= bound]
            pages.append(fresh)
            if not next_token or len(fresh) < len(events):
                break  # back to what was taken before, or to the bound
            params["pagination_token"] = next_token
        taken: list[str] = []
        for events in reversed(pages):  # the oldest page first, each in X's order
            run: list[intake.Incoming] = []
            for event in [*events, None]:
                if isinstance(event, intake.Incoming):
                    run.append(event)
                    continue
                await self._take(run)
                run = []
                if event is not None:
                    await self._echo(event)
            taken += [_event_id(e) for e in events]
        if taken:
            async with self._lock:
                state.dms_seen += taken
                await self._put()

    async def _take(self, found: list[intake.Incoming]) -> None:
        if not found:
            return
        answer, _ = await intake.take(self.context, found, **self._motive())
        if answer.status == 503:
            raise Unavailable("the daemon cannot take them now")
        if answer.status != 200:
            raise CommandFailed("the poll's messages were not taken")

    # -- out -----------------------------------------------------------------------------------

    async def send(self, outgoing: Outgoing) -> Sent:
        if not outgoing.received:
            raise SendFailed("the interaction has no customer message to answer", permanent=True)
        if outgoing.thread.startswith("dm:"):
            participant = outgoing.thread.removeprefix("dm:")
            path = f"/2/dm_conversations/with/{participant}/messages"
            payload: dict[str, Any] = {"text": outgoing.text}
        else:
            posts = [r for r in outgoing.received if r.get("kind") == "mention"]
            if not posts or not posts[-1].get("post_id"):
                raise SendFailed("the conversation has no post to reply to", permanent=True)
            path = "/2/tweets"
            payload = {
                "text": outgoing.text,
                "reply": {"in_reply_to_tweet_id": str(posts[-1]["post_id"])},
            }
        self.pacing.check()
        token = await self.token.fresh()
        body = msgspec.json.encode(payload)
        try:
            response = await self.client.post(
                path,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SendFailed(f"X did not answer: {type(exc).__name__}") from None
        outcome = api.classify(response)
        if outcome.error is not None:
            raise self._refusal(outcome.error, token)
        self.pacing.passed()
        peer_id = str(outcome.data.get("dm_event_id") or outcome.data.get("id") or "")
        if peer_id:
            try:
                async with self._lock:
                    state = await self._get()
                    state.sent.append(peer_id)
                    if outgoing.thread.startswith("post:"):
                        state.conversations[peer_id] = outgoing.thread.removeprefix("post:")
                    await self._put()
            except Unavailable:
                pass  # its echo may then close nothing: the interaction holds our answer
        return Sent(peer_id=peer_id, evidence=body)


class _Stop(Exception):
    """A poll stops here (X refused or did not answer); the next one starts again."""


def _event_id(event: intake.Incoming | Echo) -> str:
    return event.external_id if isinstance(event, intake.Incoming) else event.peer_id


def _at(event: intake.Incoming | Echo) -> int:
    """When X says an event was sent (microseconds); one it does not date counts as recent."""
    at = event.received_at if isinstance(event, intake.Incoming) else event.at
    return at if at is not None else 2**62


def _iso(epoch_s: float) -> str:
    """An instant as X's ``start_time`` takes it (RFC 3339, UTC, to the second)."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _newer(post_id: str, than: str) -> bool:
    return not than or (len(post_id), post_id) > (len(than), than)


def _minute(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y%m%d%H%M")


def _secret(variable: str, what: str, where: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise XError(
            f"set the environment variable {variable} to {what} in the daemon's environment "
            f"({where} consumer_secret_env names it)"
        )
    return value


def _unavailable(retry_after_s: int) -> Answer:
    answer = Answer.json({"error": "unavailable", "detail": "deliver again"}, 503)
    return answer._replace(headers={"Retry-After": str(max(1, retry_after_s))})


def _refused(status: int, field: str, detail: str, error: str = "") -> Answer:
    error = error or {401: "unauthorized", 403: "forbidden"}.get(status, "invalid_request")
    return Answer.json({"error": error, "detail": f"{field} {detail}", "field": field}, status)
