"""Events as the API shows them: every instant in ISO-8601 with the calendar's offset.

The journal keeps instants as integer microseconds (UTC); every reply that carries an event
(a command's answer, ``/v1/events``, the offers WebSocket) shows them as the rest of the API
does, ISO-8601 with the offset of the deployment's calendar, so a client reads one format
everywhere. Which fields are instants is read once per event type from its annotations
(``Instant``), so a field added later is shown the same way without a list to keep.
``OfferPending`` is the one message shaped as an event that is not one: an open offer, replayed
to an advisor's WebSocket on connection.
"""

from __future__ import annotations

from datetime import tzinfo
from functools import cache
from typing import Any

import msgspec

from aiguillage.adapters.stores.views import iso
from aiguillage.engine.events import Event
from aiguillage.engine.instants import Instant

__all__ = ["OfferPending", "event_out", "instant_fields"]


class OfferPending(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="offer.pending", gc=False
):
    """An offer still open when its advisor connects: state, not an event; ``at`` it was made."""

    at: Instant
    offer_id: int
    interaction_id: int
    advisor_id: str
    expires_at: Instant


@cache
def instant_fields(kind: type[Any]) -> frozenset[str]:
    """Return the names of an event type's (or a struct's) fields that hold an instant."""
    names = set()
    for klass in kind.__mro__:  # the annotations are strings (``from __future__ import …``)
        for name, annotation in getattr(klass, "__annotations__", {}).items():
            if str(annotation).split("|")[0].strip() == "Instant":
                names.add(name)
    return frozenset(names & set(kind.__struct_fields__))


def event_out(event: Event | OfferPending, zone: tzinfo) -> dict[str, Any]:
    """Return an event as builtins, its instants as ISO-8601 in ``zone``."""
    body: dict[str, Any] = msgspec.to_builtins(event)
    _iso_instants(event, body, zone)
    # Structs listed in an event (a schedule's shifts) show their instants the same way.
    for name in type(event).__struct_fields__:
        items = getattr(event, name)
        if isinstance(items, tuple) and items and isinstance(items[0], msgspec.Struct):
            for item, shown in zip(items, body[name], strict=True):
                _iso_instants(item, shown, zone)
    return body


def _iso_instants(struct: msgspec.Struct, body: dict[str, Any], zone: tzinfo) -> None:
    for name in instant_fields(type(struct)):
        value = body.get(name)
        if isinstance(value, int):
            body[name] = iso(value, zone)
