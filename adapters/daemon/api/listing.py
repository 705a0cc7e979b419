"""The roster and the live interactions as the API lists them: filtered, in id order, a page
at a time.

Readers run on the engine between batches (``Runtime.read``); each returns at most ``limit``
items after the cursor, and the cursor to read on (the last item's id) or ``None`` when the
list ends there. Ids order the pages: advisors by their id as text, interactions by their id,
which increases with each arrival, so a page never repeats nor skips what an earlier one saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import TypeVar

import msgspec

from aiguillage.adapters.daemon.api.models import AdvisorOut
from aiguillage.adapters.stores.views import InteractionOut, iso, personal_digests, view_of
from aiguillage.engine.advisors import Advisor
from aiguillage.engine.engine import Engine
from aiguillage.engine.instants import Instant
from aiguillage.engine.interactions import Interaction

__all__ = ["InteractionFilter", "advisor_out", "advisors_page", "interactions_page"]

T = TypeVar("T")


class InteractionFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What an interaction must match to be listed; ``None`` (or empty) matches all."""

    statuses: frozenset[str] = frozenset()
    channel: str | None = None
    advisor: str | None = None
    """The advisor it is offered to or held by, or who last accepted it (``handled_by``)."""
    holder: str | None = None
    """The advisor it is offered to or held by now, only (an advisor's own list)."""
    received_since: Instant | None = None
    """Inclusive."""
    received_until: Instant | None = None
    """Exclusive."""


def advisor_out(advisor: Advisor, offers: list[int], zone: tzinfo) -> AdvisorOut:
    """Return the API's view of an advisor, with the ids of the offers pending for it."""
    return AdvisorOut(
        id=advisor.id,
        name=advisor.name,
        state=advisor.state,
        reason=advisor.reason,
        skills=dict(advisor.skills),
        languages=advisor.languages,
        capacity=dict(advisor.capacity),
        load=dict(advisor.load),
        holding=list(advisor.holding),
        offers=offers,
        since=iso(advisor.state_since, zone) if advisor.state_since else None,
        wrap_until=None if advisor.wrap_until is None else iso(advisor.wrap_until, zone),
    )


def advisors_page(
    engine: Engine,
    *,
    state: str | None,
    only: str | None,
    after: str | None,
    limit: int,
    zone: tzinfo,
) -> tuple[list[AdvisorOut], str | None]:
    """Return the advisors after ``after`` in id order (only ``only``'s, if named) and the
    cursor to read on."""
    advisors = engine.state.advisors
    chosen = (
        advisor_id
        for advisor_id in sorted(advisors)
        if (after is None or advisor_id > after)
        and (only is None or advisor_id == only)
        and (state is None or advisors[advisor_id].state == state)
    )
    page, next_after = _page(chosen, limit)
    offers: dict[str, list[int]] = {advisor_id: [] for advisor_id in page}
    for offer in engine.state.offers.values():
        if offer.advisor_id in offers:
            offers[offer.advisor_id].append(offer.id)
    return [advisor_out(advisors[a], offers[a], zone) for a in page], next_after


def interactions_page(
    engine: Engine, wanted: InteractionFilter, *, after: int, limit: int, zone: tzinfo
) -> tuple[list[tuple[InteractionOut, tuple[str, ...]]], int | None]:
    """Return the live interactions after ``after`` that match, in id order, each with the
    digests of its personal data, and the cursor to read on."""
    interactions = engine.state.interactions
    chosen = (
        interaction_id
        for interaction_id in sorted(i for i in interactions if i > after)
        if _matches(interactions[interaction_id], wanted)
    )
    page, next_after = _page(chosen, limit)
    found = [interactions[i] for i in page]
    return [(view_of(i, zone), personal_digests(i)) for i in found], next_after


def _matches(interaction: Interaction, wanted: InteractionFilter) -> bool:
    if wanted.statuses and interaction.status not in wanted.statuses:
        return False
    if wanted.channel is not None and interaction.channel != wanted.channel:
        return False
    if wanted.holder is not None and interaction.advisor_id != wanted.holder:
        return False
    if wanted.advisor is not None and wanted.advisor not in (
        interaction.advisor_id,
        interaction.handled_by,
    ):
        return False
    since, until = wanted.received_since, wanted.received_until
    if since is not None and interaction.received_at < since:
        return False
    return until is None or interaction.received_at < until


def _page(ids: Iterable[T], limit: int) -> tuple[list[T], T | None]:
    """Take ``limit`` ids; the cursor is the last one taken if any other follows, else None."""
    page: list[T] = []
    for item in ids:
        if len(page) == limit:
            return page, page[-1]
        page.append(item)
    return page, None
