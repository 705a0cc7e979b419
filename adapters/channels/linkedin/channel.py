"""The ``linkedin`` channel: the comments on an organisation page's posts, polled through
LinkedIn's REST API (Community Management API), and the advisors' answers posted as replies.

Every request carries ``Authorization: Bearer``, ``LinkedIn-Version`` (``linkedin_version``,
pinned: LinkedIn retires each version about a year on) and ``X-Restli-Protocol-Version:
2.0.0``; URNs in a path are URL-encoded, as LinkedIn documents.

In (``social.polling``). ``GET /rest/posts?q=author&author=<organisation>&sortBy=LAST_MODIFIED``
gives the ``recent_posts`` posts most recently modified; ``GET /rest/socialActions/<post>/
comments`` their comments, each post with its own high-water mark; ``GET /rest/socialActions/
<comment>/comments`` the replies of the threads the channel follows. Each customer comment is a
``social`` interaction from source ``linkedin``, its external id the comment's URN, its thread
the top-level comment's URN. Comments by the organisation itself are not customers': a reply of
the organisation's that is not one of our answers was typed on LinkedIn, and closes the open
interaction of its thread with ``answered_elsewhere_reason``, which stops its clock; what was
found is taken in the order it was published (``social.polling.take_found``). Posts
that mention the organisation come from its notifications (``GET /rest/
organizationalEntityNotifications?q=criteria&actions=List(SHARE_MENTION)&timeRange=…``, each
post then read with ``GET /rest/posts/<post>``): a ``social`` interaction whose external id and
thread are the post's URN, answered by a comment on that post.

Limits. LinkedIn counts calls a day per app and answers 429 past them, until midnight UTC: the
channel counts its calls against ``daily_calls`` (``reserve_for_answers`` of them never spent by
polls), and after a 429 makes no call, poll or answer, before the next day; answers wait in the
outbox meanwhile. The calls left are in ``/readyz`` and the metrics, as for YouTube.

Out. ``POST /rest/socialActions/<top-level comment>/comments`` with ``actor`` the organisation,
``object`` the post's activity, ``parentComment`` the thread and ``message.text``: a reply.
LinkedIn takes no idempotency key: a retry first looks for the organisation's reply with the
same text in the thread. A 401 (the 60-day token expired or was revoked) makes the channel "need
re-authorisation" (``social.credentials``) until the token is renewed.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio
import httpx
import msgspec

from aiguillage.adapters.channels import (
    AdapterContext,
    ChannelState,
    Outgoing,
    SendFailed,
    Sent,
    Unavailable,
)
from aiguillage.adapters.channels.linkedin.settings import LinkedinSettings
from aiguillage.adapters.channels.social import intake
from aiguillage.adapters.channels.social.credentials import TokenError, token_source
from aiguillage.adapters.channels.social.elsewhere import reason_problem
from aiguillage.adapters.channels.social.polling import (
    Found,
    Mark,
    Quota,
    QuotaState,
    poll_forever,
    take_found,
)
from aiguillage.engine.instants import SECOND, from_seconds

__all__ = ["LinkedinChannel", "LinkedinError", "LinkedinState"]

SOURCE = "linkedin"
UTC = ZoneInfo("UTC")
_PAGES = 20
_COUNT = 100
_WAIT_S = 5.0


class LinkedinError(Exception):
    """The channel cannot start; the message says what to set."""


class LinkedinState(msgspec.Struct, kw_only=True):
    """The marks of the posts and of the threads followed, and the day's calls."""

    marks: dict[str, Mark] = {}
    threads: dict[str, Mark] = {}
    quota: QuotaState = msgspec.field(default_factory=QuotaState)


class _Refused(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def _urn(value: str) -> str:
    return quote(value, safe="")


class LinkedinChannel:
    """The ``linkedin`` plugin (see the module docstring)."""

    Settings = LinkedinSettings
    subscribes: frozenset[str] = frozenset({"interaction.closed"})
    sources = frozenset({SOURCE})

    def __init__(self, context: AdapterContext[LinkedinSettings]) -> None:
        self.context = context
        self.settings = settings = context.settings
        try:
            self.token = token_source(
                env=settings.token_env or "",
                file=settings.token_file or "",
                oauth=settings.oauth,
                vendor=settings.oauth_vendor,
                channel=context.name,
                what="the LinkedIn OAuth access token",
                on_refused=lambda reason: context.report("needs_reauthorisation", reason),
            )
        except TokenError as exc:
            raise LinkedinError(f"[adapters.{context.name}]: {exc}") from None
        problem = reason_problem(context, settings.answered_elsewhere_reason)
        if problem is not None:
            raise LinkedinError(problem)
        self.quota = Quota(settings.daily_calls, settings.reserve_for_answers, zone=UTC)
        self.client = httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/"), timeout=settings.timeout_s
        )
        self._state: ChannelState[LinkedinState] = context.state(LinkedinState)
        self._kept: LinkedinState | None = None
        self._lock = anyio.Lock()
        self._overlap = settings.overlap_s * SECOND

    async def run(self) -> None:
        try:
            await poll_forever(
                self.poll,
                self._report,
                self.quota,
                fixed_s=self.settings.poll_every_s,
                least_s=self.settings.least_poll_s,
                wait_s=_WAIT_S,
            )
        finally:
            with anyio.CancelScope(shield=True):
                await self.client.aclose()

    # -- in ------------------------------------------------------------------------------------

    async def poll(self) -> int:
        """Look once at the recent posts and the threads followed; return the calls made."""
        if not self.context.ready:
            raise Unavailable("the daemon is not ready")
        state = await self._load()
        spent = 0
        posts = await self._get(
            "/rest/posts",
            {
                "author": self.settings.organization,
                "q": "author",
                "count": str(self.settings.recent_posts),
                "sortBy": "LAST_MODIFIED",
            },
        )
        if posts is None:
            return 1
        spent += 1
        for post in _elements(posts):
            post_urn = post.get("id")
            if not isinstance(post_urn, str) or not post_urn:
                continue
            mark = state.marks.setdefault(post_urn, self._first_mark())
            found, cost = await self._comments(post_urn, "", mark)
            spent += cost
            if not await self._take(found):
                return spent
            async with self._lock:
                mark.took(((f.message.external_id, f.published) for f in found), self._overlap)
                for f in found:
                    if not f.ours and f.message.thread not in state.threads:
                        state.threads[f.message.thread] = Mark(at=f.published - 1)
                await self._save(state)
        found, cost = await self._mentions(state.marks.setdefault("mentions", self._first_mark()))
        spent += cost
        if not await self._take(found):
            return spent
        async with self._lock:
            state.marks["mentions"].took(
                ((f.message.external_id, f.published) for f in found), self._overlap
            )
            await self._save(state)
        followed = sorted(state.threads, key=lambda t: state.threads[t].at, reverse=True)
        for old in followed[max(self.settings.reply_threads, 1) * 2 :]:
            del state.threads[old]
        for top in followed[: self.settings.reply_threads]:
            found, cost = await self._comments(top, top, state.threads[top])
            spent += cost
            if not await self._take(found):
                return spent
            if found:
                async with self._lock:
                    state.threads[top].took(
                        ((f.message.external_id, f.published) for f in found), self._overlap
                    )
                    await self._save(state)
        await self._save_quietly()
        return spent

    def _first_mark(self) -> Mark:
        return Mark(at=from_seconds(time.time() - self.settings.first_look_back_s))

    async def _comments(self, target: str, top: str, mark: Mark) -> tuple[list[Found], int]:
        """The new comments on a post (``top`` empty) or replies in a thread."""
        found: list[Found] = []
        spent = 0
        for page in range(_PAGES):
            params = {"start": str(page * _COUNT), "count": str(_COUNT)}
            body = await self._get(f"/rest/socialActions/{_urn(target)}/comments", params)
            if body is None:
                break
            spent += 1
            elements = _elements(body)
            for element in elements:
                comment = self._comment(element, top)
                if comment is not None and mark.new(
                    comment.message.external_id, comment.published, self._overlap
                ):
                    found.append(comment)
            if len(elements) < _COUNT:
                break
        return found, spent

    async def _mentions(self, mark: Mark) -> tuple[list[Found], int]:
        """Posts mentioning the organisation since the mark (its notifications), each read."""
        start_ms = max(0, (mark.at - self._overlap) // (SECOND // 1000))
        end_ms = int(time.time() * 1000)
        body = await self._get(
            "/rest/organizationalEntityNotifications",
            {"q": "criteria", "organizationalEntity": self.settings.organization},
            {"actions": "List(SHARE_MENTION)", "timeRange": f"(start:{start_ms},end:{end_ms})"},
        )
        if body is None:
            return [], 1
        spent, found = 1, []
        for element in _elements(body):
            post_urn = element.get("generatedActivity") or element.get("sourcePost")
            if element.get("action") != "SHARE_MENTION" or not isinstance(post_urn, str):
                continue
            at = element.get("lastModifiedAt")
            if not isinstance(at, int) or not mark.new(
                post_urn, at * (SECOND // 1000), self._overlap
            ):
                continue
            post = await self._get(f"/rest/posts/{_urn(post_urn)}", {})
            if post is None:
                break
            spent += 1
            author = str(post.get("author") or "")
            if author == self.settings.organization:
                continue
            created = post.get("createdAt") or post.get("publishedAt") or at
            published = (created if isinstance(created, int) else at) * (SECOND // 1000)
            incoming = intake.Incoming(
                source=SOURCE,
                external_id=post_urn,
                thread=post_urn,
                received_at=published,
                personal={
                    "customer": {"urn": author},
                    "text": str(post.get("commentary") or ""),
                    "kind": "mention",
                    "post_urn": post_urn,
                },
                evidence=msgspec.json.encode(post),
            )
            # The mark follows the notifications' instants, which the next look filters on.
            noticed = at * (SECOND // 1000)
            found.append(Found(message=incoming, published=noticed))
        return found, spent

    def _comment(self, element: dict[str, Any], top: str) -> Found | None:
        urn = element.get("commentUrn") or element.get("$URN")
        created = element.get("created") if isinstance(element.get("created"), dict) else {}
        assert isinstance(created, dict)
        at = created.get("time")
        actor = str(element.get("actor") or created.get("actor") or "")
        if not isinstance(urn, str) or not urn or not isinstance(at, int) or at <= 0:
            self.context.log.warning("a comment not in LinkedIn's shape was passed over")
            return None
        message = element.get("message") if isinstance(element.get("message"), dict) else {}
        assert isinstance(message, dict)
        published = at * (SECOND // 1000)
        incoming = intake.Incoming(
            source=SOURCE,
            external_id=urn,
            thread=top or urn,
            received_at=published,
            personal={
                "customer": {"urn": actor},
                "text": str(message.get("text") or ""),
                "kind": "comment",
                "comment_urn": urn,
                "object": str(element.get("object") or ""),
            },
            evidence=msgspec.json.encode(element),
        )
        # The organisation's own: an answer of ours, or one typed on LinkedIn.
        ours = actor == self.settings.organization
        return Found(message=incoming, published=published, ours=ours)

    async def _take(self, found: list[Found]) -> bool:
        return await take_found(
            self.context,
            found,
            motive=self.settings.motive,
            language=self.settings.language,
            answered_elsewhere_reason=self.settings.answered_elsewhere_reason,
        )

    async def _get(
        self, path: str, params: dict[str, str], structured: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        """One poll's call within the polls' budget; None when spent or refused."""
        await self.token.fresh()  # first: a refused token spends no call
        async with self._lock:
            if not self.quota.can_poll(1):
                return None
            self.quota.spend(1)
        try:
            body = await self._call("GET", path, params, structured=structured)
        except _Refused as exc:
            self.context.log.warning("a poll was refused", path=path, reason=exc.reason)
            return None
        if self.context.health != "ok":
            self.context.report("ok")
        return body

    async def _call(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        payload: Any = None,
        *,
        structured: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call the REST API; ``_Refused`` or ``NeedsReauthorisation`` when LinkedIn refuses."""
        token = await self.token.fresh()
        headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self.settings.linkedin_version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        content = None
        if payload is not None:
            content = msgspec.json.encode(payload)
            headers["Content-Type"] = "application/json"
        pairs = [f"{k}={quote(v, safe='')}" for k, v in params.items()]
        # Rest.li 2.0 values (``List(…)``, ``(start:…,end:…)``) keep their syntax unencoded.
        pairs += [f"{k}={v}" for k, v in (structured or {}).items()]
        query = "&".join(pairs)
        try:
            response = await self.client.request(
                method, path + (f"?{query}" if query else ""), content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            self.context.report("degraded", f"LinkedIn did not answer: {type(exc).__name__}")
            raise _Refused("temporary", f"LinkedIn did not answer: {type(exc).__name__}") from None
        try:
            body = msgspec.json.decode(response.content) if response.content else {}
        except msgspec.DecodeError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.is_success:
            restli_id = response.headers.get("x-restli-id", "")
            if restli_id:
                body.setdefault("$id", restli_id)
            return body
        what = f"LinkedIn answered {response.status_code}"
        if body.get("code") or body.get("message"):
            what += f" ({body.get('code') or body.get('serviceErrorCode')}): {body.get('message')}"
        if response.status_code == 401:
            reason = f"needs re-authorisation ({what})"
            self.context.report("needs_reauthorisation", reason)
            raise self.token.refuse(token, reason)
        if response.status_code == 429:
            self.quota.exhausted()
            self._report()
            raise _Refused(
                "quota",
                f"rate_limited: {what}; no call to LinkedIn before its daily limits reset "
                f"(midnight UTC, in {self.quota.resets_in_s() / 3600:.1f} h)",
            )
        if response.status_code >= 500:
            raise _Refused("temporary", what)
        raise _Refused("permanent", what)

    # -- out -----------------------------------------------------------------------------------

    async def send(self, outgoing: Outgoing) -> Sent:
        top = outgoing.thread
        comments = [r for r in outgoing.received if r.get("comment_urn")]
        activity = next((str(r.get("object")) for r in comments if r.get("object")), "")
        mention = not top.startswith("urn:li:comment:")
        if mention:
            activity = top  # a post mentioning the organisation: a comment on it answers
        if not top or not activity:
            raise SendFailed("the interaction has no LinkedIn comment to reply to", permanent=True)
        try:
            await self._load()
        except Unavailable as exc:
            raise SendFailed(f"the channel's state is not readable now: {exc}") from None
        path = f"/rest/socialActions/{_urn(top)}/comments"
        try:
            if outgoing.attempt > 1:
                already = await self._already(path, outgoing.text)
                if already:
                    return Sent(peer_id=already)
            await self.token.fresh()  # first: a refused token spends no call
            async with self._lock:
                if not self.quota.can_answer(1):
                    raise SendFailed(
                        "rate_limited: no call left today (LinkedIn's daily limits reset at "
                        f"midnight UTC, in {self.quota.resets_in_s() / 3600:.1f} h)"
                    )
                self.quota.spend(1)
            payload: dict[str, Any] = {
                "actor": self.settings.organization,
                "object": activity,
                "message": {"text": outgoing.text},
            }
            if not mention:
                payload["parentComment"] = top
            body = await self._call("POST", path, {}, payload)
        except _Refused as exc:
            raise SendFailed(exc.reason, permanent=exc.kind == "permanent") from None
        finally:
            await self._save_quietly()
        peer_id = body.get("commentUrn") or body.get("$URN") or body.get("$id")
        if not isinstance(peer_id, str) or not peer_id:
            raise SendFailed("LinkedIn answered without the reply's id")
        return Sent(peer_id=peer_id, evidence=msgspec.json.encode(payload))

    async def _already(self, path: str, text: str) -> str:
        await self.token.fresh()  # first: a refused token spends no call
        async with self._lock:
            if not self.quota.can_answer(1):
                return ""
            self.quota.spend(1)
        body = await self._call("GET", path, {"start": "0", "count": str(_COUNT)})
        for element in _elements(body):
            message = element.get("message") if isinstance(element.get("message"), dict) else {}
            assert isinstance(message, dict)
            if element.get("actor") == self.settings.organization and message.get("text") == text:
                return str(element.get("commentUrn") or element.get("$URN") or "")
        return ""

    # -- state ---------------------------------------------------------------------------------

    async def _load(self) -> LinkedinState:
        if self._kept is None:
            found = await self._state.get()
            self._kept = found if found is not None else LinkedinState()
            self.quota.state = self._kept.quota
            self._report()
        return self._kept

    async def _save(self, state: LinkedinState) -> None:
        state.quota = self.quota.state
        await self._state.put(state)
        self._report()

    async def _save_quietly(self) -> None:
        if self._kept is None:
            return
        async with self._lock:
            with contextlib.suppress(Unavailable):
                await self._save(self._kept)

    def _report(self) -> None:
        self.context.report_quota(self.quota.status())


def _elements(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("elements")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
