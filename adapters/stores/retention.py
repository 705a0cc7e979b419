"""The retention pass: what each category's period removes from the stores, counted.

``retention_pass`` applies ``[retention]`` (``config.retention``) to the personal-data store and
the access log at an instant: the pieces of the personal-data store stored before the
``messages`` cut-off go, and so do those carrying attachment bytes stored before the
``attachments`` cut-off (the bytes are sealed with the message's text under one digest, so the
piece goes whole); the access log is trimmed from its start before the ``access_log`` cut-off.
Recordings are the call channel's (it deletes them daily with ``[retention] recordings_days``).
With ``apply=False`` nothing is removed (not even an index entry whose piece is gone) and the
counts say what would go.

The pass returns one ``Removal`` per category, which the daemon logs, counts in its metrics
(``aiguillage_retention_removed_total``) and ``aiguillage retention`` prints; and, when it
removes, it records in the access log an erasure (reason ``retention``, route ``retention
<category>``, by ``by``) for each interaction whose pieces went, as an erasure on request is
recorded, so what retention removed stays on record, chained, after the log line is gone.
What a piece is (``category_of``) is read from its data, so the pass reads the pieces between
the two cut-offs a page at a time; the journal, which holds only digests, is untouched and
still verifies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container
from typing import Any, Literal

import msgspec

from aiguillage.adapters.config.retention import RetentionDays
from aiguillage.adapters.stores.access_log import AccessEntry, AccessLog
from aiguillage.adapters.stores.actors import DAEMON, Actor
from aiguillage.adapters.stores.personal import PersonalStore, Sealed
from aiguillage.engine.instants import Instant

__all__ = ["DAY", "Removal", "category_of", "retention_pass"]

DAY = 86_400 * 1_000_000
"""A day in instants (microseconds)."""

_PAGE = 200
"""Pieces read at a time: attachments make pieces large."""

Category = Literal["messages", "attachments", "access_log"]

_DATA: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])


class Removal(msgspec.Struct, frozen=True):
    """What a category's period removed (or would remove): how many, stored before when."""

    category: Category
    removed: int
    before: Instant
    days: int
    interactions: tuple[int, ...] = ()
    """The interactions whose pieces went (personal-data categories)."""


def category_of(piece: Sealed) -> Literal["messages", "attachments"]:
    """Return ``attachments`` for a piece carrying attachment bytes, else ``messages``."""
    try:
        data = _DATA.decode(piece.data)
    except msgspec.DecodeError:
        return "messages"
    attachments = data.get("attachments")
    if isinstance(attachments, list) and any(
        isinstance(item, dict) and "data" in item for item in attachments
    ):
        return "attachments"
    return "messages"


async def retention_pass(
    days: RetentionDays,
    now: Instant,
    personal: PersonalStore | None,
    access_log: AccessLog | None,
    *,
    apply: bool = True,
    by: Actor = DAEMON,
    open_work: Container[int] = frozenset(),
) -> list[Removal]:
    """Remove (or, ``apply=False``, count) what each category's period puts past its end,
    recording each interaction's erasure by ``by`` in the access log. The pieces of
    ``open_work`` (interactions not closed yet: a complaint waiting on the principal for
    months) are kept whatever their age: the advisor still answers from them."""
    messages_before = now - days.messages * DAY
    attachments_before = now - days.attachments * DAY
    counts = {"messages": 0, "attachments": 0}
    touched: dict[str, set[int]] = {"messages": set(), "attachments": set()}

    async def record(going: dict[str, set[int]]) -> None:
        # After each page's removal, before the next: what went is on record even if a
        # later page fails.
        erasures = [
            AccessEntry(
                now, by, interaction_id, f"retention {category}", "", "erasure", "retention"
            )
            for category, ids in going.items()
            for interaction_id in sorted(ids - touched[category])
        ]
        for category, ids in going.items():
            touched[category] |= ids
        if erasures and apply and access_log is not None:
            await access_log.append(erasures)

    if personal is not None:
        await _pieces(
            personal, messages_before, attachments_before, counts, record, apply, open_work
        )
    trimmed = 0
    access_before = now - days.access_log * DAY
    if access_log is not None:
        if apply:
            trimmed = await access_log.trim(access_before)
        else:
            trimmed = await _access_before(access_log, access_before)
    return [
        Removal(
            "messages",
            counts["messages"],
            messages_before,
            days.messages,
            tuple(sorted(touched["messages"])),
        ),
        Removal(
            "attachments",
            counts["attachments"],
            attachments_before,
            days.attachments,
            tuple(sorted(touched["attachments"])),
        ),
        Removal("access_log", trimmed, access_before, days.access_log),
    ]


async def _pieces(
    personal: PersonalStore,
    messages_before: Instant,
    attachments_before: Instant,
    counts: dict[str, int],
    record: Callable[[dict[str, set[int]]], Awaitable[None]],
    apply: bool,
    open_work: Container[int],
) -> None:
    """Walk the pieces stored before the later cut-off, a page at a time, and remove those past
    their category's."""
    since, seen, limit = -(2**62), set[tuple[int, str]](), _PAGE
    later = max(messages_before, attachments_before)  # a piece with attachments: the earlier
    while True:
        page = await personal.stored_between(since, later, limit, tidy=apply)
        fresh = [p for p in page if (p.interaction_id, p.digest) not in seen]
        if not fresh:
            if len(page) < limit:
                return
            limit *= 2  # a whole page stored at one instant, all seen: read further
            continue
        going: list[tuple[int, str]] = []
        interactions: dict[str, set[int]] = {"messages": set(), "attachments": set()}
        for piece in fresh:
            if piece.interaction_id in open_work:
                continue
            category = category_of(piece)
            if piece.stored_at < (later if category == "attachments" else messages_before):
                counts[category] += 1
                interactions[category].add(piece.interaction_id)
                going.append((piece.interaction_id, piece.digest))
        if apply and going:
            await personal.discard(going)
        await record(interactions)
        if len(page) < limit:
            return
        last = page[-1].stored_at
        at_last = {(p.interaction_id, p.digest) for p in page if p.stored_at == last}
        seen = seen | at_last if last == since else at_last
        since = last


async def _access_before(access_log: AccessLog, before: Instant) -> int:
    """Count the entries a trim at ``before`` would remove (from the start, in order)."""
    count, after = 0, 0
    while True:
        records = await access_log.records_after(after, 1000)
        for record in records:
            if record.entry.at >= before:
                return count
            count += 1
        if len(records) < 1000:
            return count
        after = records[-1].seq
