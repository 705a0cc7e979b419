"""The ``youtube`` channel: the comments on a YouTube channel's videos, polled through the
YouTube Data API, and the advisors' answers posted as replies.

In. YouTube has no webhook for comments, so the channel polls (``social.polling``):
``commentThreads.list`` (``order=time``, newest first) for the whole channel
(``allThreadsRelatedToChannelId``) or for each video in ``video_ids``, paged back until the
source's high-water mark; then ``comments.list`` by ``parentId`` for the replies of the threads
it follows (those it took a comment in, most recent first, ``reply_threads`` at most), each
with its own mark. Each customer comment is a ``social`` interaction from source ``youtube``,
its external id the comment's id, its thread the top-level comment's id: a reply joins the
thread's open interaction, or opens the next one once it was answered and closed. The raw item
is its evidence. Comments by the channel itself are not customers': a reply of the channel's
that is not one of our answers was typed in YouTube Studio, and closes the open interaction of
its thread with ``answered_elsewhere_reason``, which stops its clock; what was found is taken
in the order it was published, so a customer's reply after it opens the next
(``social.polling.take_found``). A mark moves only once what was found is durable; with no
mark yet, the channel looks back ``first_look_back_s``.

Quota. Every call is counted against the day's ``daily_quota`` (Pacific time, as Google
counts): polls never spend the last ``reserve_for_answers`` units, kept for answers (50 each),
and are spread over what is left of the day unless ``poll_every_s`` is set. When Google
answers ``quotaExceeded`` anyway, nothing more is called until midnight Pacific time. The
units left are in ``/readyz`` (``quota``) and the metrics (``aiguillage_channel_quota_left``).

Out. An answer is ``comments.insert`` with ``snippet.parentId`` the thread's top-level comment.
YouTube takes no idempotency key, so a retry (``attempt`` > 1: the daemon may have died after
YouTube took it) first looks for a reply of the channel's with the same text in the thread, and
records that one rather than posting it twice. A quota spent holds the answer in the outbox
until the reset; a refused token makes the channel "need re-authorisation" (``social.
credentials``) until the token file changes, polls and answers waiting meanwhile.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any
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
from aiguillage.adapters.channels.social import intake
from aiguillage.adapters.channels.social.credentials import TokenError, token_source
from aiguillage.adapters.channels.social.elsewhere import reason_problem
from aiguillage.adapters.channels.social.pacing import Pacing
from aiguillage.adapters.channels.social.polling import (
    Found,
    Mark,
    Quota,
    QuotaState,
    poll_forever,
    take_found,
)
from aiguillage.adapters.channels.youtube import api
from aiguillage.adapters.channels.youtube.settings import YoutubeSettings
from aiguillage.engine.instants import SECOND, from_seconds

__all__ = ["YoutubeChannel", "YoutubeError", "YoutubeState"]

SOURCE = "youtube"
PACIFIC = ZoneInfo("America/Los_Angeles")
"""Google resets the YouTube Data API's quota at midnight, Pacific time."""
_PATH = "/youtube/v3"
_PAGES = 20
"""Pages read back at most for one source in one poll (100 items each)."""
_WAIT_S = 5.0
"""How often a channel whose token is refused or whose daemon is not ready looks again."""


class YoutubeError(Exception):
    """The channel cannot start; the message says what to set."""


class YoutubeState(msgspec.Struct, kw_only=True):
    """What the channel keeps durably: the marks of its sources and of the threads it follows
    (by top-level comment id, with the instant of their latest activity), and the quota."""

    marks: dict[str, Mark] = {}
    threads: dict[str, Mark] = {}
    quota: QuotaState = msgspec.field(default_factory=QuotaState)


class YoutubeChannel:
    """The ``youtube`` plugin (see the module docstring)."""

    Settings = YoutubeSettings
    subscribes: frozenset[str] = frozenset({"interaction.closed"})
    """Any one type: ``run`` reads no event."""
    sources = frozenset({SOURCE})

    def __init__(self, context: AdapterContext[YoutubeSettings]) -> None:
        self.context = context
        self.settings = settings = context.settings
        try:
            self.token = token_source(
                env=settings.token_env or "",
                file=settings.token_file or "",
                oauth=settings.oauth,
                vendor=settings.oauth_vendor,
                channel=context.name,
                what="the YouTube OAuth access token",
                on_refused=lambda reason: context.report("needs_reauthorisation", reason),
            )
        except TokenError as exc:
            raise YoutubeError(f"[adapters.{context.name}]: {exc}") from None
        problem = reason_problem(context, settings.answered_elsewhere_reason)
        if problem is not None:
            raise YoutubeError(problem)
        self.quota = Quota(settings.daily_quota, settings.reserve_for_answers, zone=PACIFIC)
        self.pacing = Pacing()
        self.client = httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/"), timeout=settings.timeout_s
        )
        self._state: ChannelState[YoutubeState] = context.state(YoutubeState)
        self._kept: YoutubeState | None = None
        self._lock = anyio.Lock()
        self._overlap = settings.overlap_s * SECOND

    # -- the loop ------------------------------------------------------------------------------

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

    async def poll(self) -> int:
        """Look once at every source and every thread followed; return the units spent.

        ``Unavailable`` while the daemon cannot write; ``NeedsReauthorisation`` while the
        token is refused."""
        if not self.context.ready:
            raise Unavailable("the daemon is not ready")
        state = await self._load()
        spent = 0
        sources = [f"video:{v}" for v in self.settings.video_ids] or ["channel"]
        for source in sources:
            mark = state.marks.setdefault(source, self._first_mark())
            found, cost = await self._threads(source, mark)
            spent += cost
            if not await self._take(found):
                return spent
            async with self._lock:
                mark.took(((f.message.external_id, f.published) for f in found), self._overlap)
                for f in found:
                    if not f.ours:
                        self._follow(state, f.message.thread, f.published)
                await self._save(state)
        followed = sorted(state.threads, key=lambda t: state.threads[t].at, reverse=True)
        for top in followed[: self.settings.reply_threads]:
            found, cost = await self._replies(top, state.threads[top])
            spent += cost
            if not await self._take(found):
                return spent
            if found:
                async with self._lock:
                    mark = state.threads[top]
                    mark.took(((f.message.external_id, f.published) for f in found), self._overlap)
                    await self._save(state)
        await self._save_quietly()
        return spent

    def _first_mark(self) -> Mark:
        return Mark(at=from_seconds(time.time() - self.settings.first_look_back_s))

    def _follow(self, state: YoutubeState, top: str, published: int) -> None:
        mark = state.threads.get(top)
        if mark is None:
            # Its replies are looked for from its own instant on.
            state.threads[top] = Mark(at=published - 1)
        kept = sorted(state.threads, key=lambda t: state.threads[t].at, reverse=True)
        for old in kept[max(self.settings.reply_threads, 1) * 2 :]:
            del state.threads[old]

    async def _threads(self, source: str, mark: Mark) -> tuple[list[Found], int]:
        params: dict[str, str] = {
            "part": "snippet",
            "order": "time",
            "maxResults": "100",
            "textFormat": "plainText",
        }
        if source == "channel":
            params["allThreadsRelatedToChannelId"] = self.settings.channel_id
        else:
            params["videoId"] = source.removeprefix("video:")
        found: list[Found] = []
        spent = 0
        for _ in range(_PAGES):
            body = await self._list("commentThreads.list", "/commentThreads", params)
            if body is None:
                break
            spent += 1
            behind = False
            for item in _items(body):
                snippet = _dict(item.get("snippet"))
                top = _dict(snippet.get("topLevelComment"))
                comment = self._comment(top, str(top.get("id") or ""), item)
                if comment is None:
                    continue
                if mark.older(comment.published, self._overlap):
                    behind = True
                    continue
                if mark.new(comment.message.external_id, comment.published, self._overlap):
                    found.append(comment)
            token = body.get("nextPageToken")
            if behind or not isinstance(token, str) or not token:
                break
            params["pageToken"] = token
        return found, spent

    async def _replies(self, top: str, mark: Mark) -> tuple[list[Found], int]:
        params = {"part": "snippet", "parentId": top, "maxResults": "100"}
        params["textFormat"] = "plainText"
        found: list[Found] = []
        spent = 0
        for _ in range(_PAGES):
            body = await self._list("comments.list", "/comments", params)
            if body is None:
                break
            spent += 1
            for item in _items(body):
                comment = self._comment(item, top, item)
                if comment is not None and mark.new(
                    comment.message.external_id, comment.published, self._overlap
                ):
                    found.append(comment)
            token = body.get("nextPageToken")
            if not isinstance(token, str) or not token:
                break
            params["pageToken"] = token
        return found, spent

    def _comment(self, comment: dict[str, Any], top: str, item: dict[str, Any]) -> Found | None:
        """A comment, a customer's or the channel's own; None when not in Google's shape
        (logged)."""
        snippet = _dict(comment.get("snippet"))
        comment_id = comment.get("id")
        published = api.instant(snippet.get("publishedAt"))
        if not isinstance(comment_id, str) or not comment_id or not top or published is None:
            self.context.log.warning("a comment not in YouTube's shape was passed over")
            return None
        author = _dict(snippet.get("authorChannelId")).get("value") or ""
        text = snippet.get("textOriginal") or snippet.get("textDisplay") or ""
        personal: dict[str, Any] = {
            "customer": {
                "channel_id": str(author),
                "name": str(snippet.get("authorDisplayName") or ""),
            },
            "text": str(text),
            "kind": "comment",
            "comment_id": comment_id,
            "video_id": str(snippet.get("videoId") or ""),
        }
        message = intake.Incoming(
            source=SOURCE,
            external_id=comment_id,
            thread=top,
            received_at=published,
            personal=personal,
            evidence=msgspec.json.encode(item),
        )
        return Found(message=message, published=published, ours=author == self.settings.channel_id)

    async def _take(self, found: list[Found]) -> bool:
        return await take_found(
            self.context,
            found,
            motive=self.settings.motive,
            language=self.settings.language,
            answered_elsewhere_reason=self.settings.answered_elsewhere_reason,
        )

    async def _list(self, method: str, path: str, params: dict[str, str]) -> dict[str, Any] | None:
        """One list call within the polls' budget; None when it is spent or refused."""
        cost = api.COSTS[method]
        token = await self.token.fresh()  # first: a refused token spends no unit
        async with self._lock:
            if not self.quota.can_poll(cost):
                return None
            self.quota.spend(cost)
        try:
            response = await self.client.get(
                _PATH + path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            self.context.report("degraded", f"YouTube did not answer: {type(exc).__name__}")
            return None
        body, error = api.classify(response)
        if error is None:
            if self.context.health != "ok":
                self.context.report("ok")  # a renewed token, YouTube answering again
            return body
        if error.kind == "token":
            self.context.report("needs_reauthorisation", error.reason)
            raise self.token.refuse(token, error.reason)
        if error.kind == "quota":
            self.quota.exhausted()
        self.context.log.warning("a poll was refused", method=method, reason=error.reason)
        return None

    # -- out -----------------------------------------------------------------------------------

    async def send(self, outgoing: Outgoing) -> Sent:
        top = outgoing.thread
        if not top:
            raise SendFailed("the interaction has no comment thread to reply in", permanent=True)
        try:
            await self._load()
        except Unavailable as exc:
            raise SendFailed(f"the channel's state is not readable now: {exc}") from None
        self.pacing.check()
        if outgoing.attempt > 1:
            already = await self._already(top, outgoing.text)
            if already:
                return Sent(peer_id=already)
        cost = api.COSTS["comments.insert"]
        token = await self.token.fresh()  # first: a refused token spends no unit
        async with self._lock:
            if not self.quota.can_answer(cost):
                raise SendFailed(
                    f"quota_exhausted: {self.quota.left} units left of the day's "
                    f"{self.quota.daily}; the answer waits for the reset in "
                    f"{self.quota.resets_in_s() / 3600:.1f} h (midnight, Pacific time)"
                )
            self.quota.spend(cost)
        payload = {"snippet": {"parentId": top, "textOriginal": outgoing.text}}
        request = msgspec.json.encode(payload)
        try:
            response = await self.client.post(
                _PATH + "/comments",
                params={"part": "snippet"},
                content=request,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SendFailed(f"YouTube did not answer: {type(exc).__name__}") from None
        finally:
            await self._save_quietly()
        body, error = api.classify(response)
        if error is None:
            self.pacing.passed()
            peer_id = body.get("id")
            if not isinstance(peer_id, str) or not peer_id:
                raise SendFailed("YouTube answered without the reply's id")
            return Sent(peer_id=peer_id, evidence=request)
        if error.kind == "token":
            self.context.report("needs_reauthorisation", error.reason)
            raise self.token.refuse(token, error.reason)
        if error.kind == "quota":
            self.quota.exhausted()
            self._report()
            raise SendFailed(error.reason)
        if error.kind == "rate_limit":
            raise self.pacing.limited(error.reason)
        raise SendFailed(error.reason, permanent=error.kind == "permanent")

    async def _already(self, top: str, text: str) -> str:
        """The id of a reply of the channel's with ``text`` in the thread, or empty."""
        params = {"part": "snippet", "parentId": top, "maxResults": "100"}
        params["textFormat"] = "plainText"
        cost = api.COSTS["comments.list"]
        token = await self.token.fresh()  # first: a refused token spends no unit
        async with self._lock:
            if not self.quota.can_answer(cost):
                return ""
            self.quota.spend(cost)
        try:
            response = await self.client.get(
                _PATH + "/comments", params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise SendFailed(f"YouTube did not answer: {type(exc).__name__}") from None
        body, error = api.classify(response)
        if error is not None:
            if error.kind == "token":
                self.context.report("needs_reauthorisation", error.reason)
                raise self.token.refuse(token, error.reason)
            raise SendFailed(error.reason)
        for item in _items(body):
            snippet = _dict(item.get("snippet"))
            author = _dict(snippet.get("authorChannelId")).get("value")
            if author == self.settings.channel_id and snippet.get("textOriginal") == text:
                return str(item.get("id") or "")
        return ""

    # -- state ---------------------------------------------------------------------------------

    async def _load(self) -> YoutubeState:
        if self._kept is None:
            found = await self._state.get()
            self._kept = found if found is not None else YoutubeState()
            self.quota.state = self._kept.quota
            self._report()
        return self._kept

    async def _save(self, state: YoutubeState) -> None:
        state.quota = self.quota.state
        await self._state.put(state)
        self._report()

    async def _save_quietly(self) -> None:
        if self._kept is None:
            return
        async with self._lock:
            with contextlib.suppress(Unavailable):  # counted again from the next save
                await self._save(self._kept)

    def _report(self) -> None:
        self.context.report_quota(self.quota.status())


def _items(body: dict[str, Any]) -> Sequence[dict[str, Any]]:
    items = body.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
