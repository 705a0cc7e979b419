"""A data subject's rights by address: find, export or erase every interaction of a customer.

The customer is named by e-mail address or phone number; the personal-data store finds the
interactions whose pieces name it by the address's keyed digest (``stores.subjects``), never by
the address. An export holds, per interaction, its view, its events from the journal (which
carry digests, never personal data) and its personal data (each read recorded); an erasure is
the per-interaction erasure (``Runtime.erase``) for each. Each request is one access-log entry
(``subject_access`` or ``subject_erasure``) with the address's digest and how many
interactions it found.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiguillage.adapters.channels.events_out import event_out
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.journal import interaction_of
from aiguillage.adapters.stores.subjects import AddressKind, subject_key

__all__ = ["erase_subject", "export_subject", "find_subject", "subject_of"]

_PAGE = 5000


async def subject_of(runtime: Runtime, kind: AddressKind, address: str) -> str:
    """Return the keyed digest of an address (``InvalidAddress`` if it names nobody)."""
    personal = runtime.personal
    if personal is None or not runtime.ready:
        raise runtime.unavailable()
    return subject_key(await personal.external_id_key(), kind, address)


async def find_subject(runtime: Runtime, subject: str, *, recorded: bool = True) -> list[int]:
    """Return the interactions of the customer whose address digests to ``subject``."""
    personal = runtime.personal
    if personal is None or not runtime.ready:
        raise runtime.unavailable()
    found = await personal.find_subject(subject)
    if recorded:
        await runtime.access.request(
            "subject_access", subject=subject, rows=len(found), filter='{"search":true}'
        )
    return found


async def export_subject(runtime: Runtime, subject: str) -> dict[str, Any]:
    """Return every interaction of the customer: its view, its events and its personal data."""
    found = await find_subject(runtime, subject, recorded=False)
    await runtime.access.request(
        "subject_access", subject=subject, rows=len(found), filter='{"export":true}'
    )
    wanted = set(found)
    events: dict[int, list[dict[str, Any]]] = {i: [] for i in found}
    after = 0
    while wanted:
        page = await runtime.records_after(after, _PAGE)
        for record in page:
            about = interaction_of(record.event)
            if about in wanted:
                events[about].append(
                    {
                        "seq": record.seq,
                        "by": msgspec.to_builtins(record.by),
                        "event": event_out(record.event, runtime.zone),
                    }
                )
        if page:
            after = page[-1].seq
        if len(page) < _PAGE:
            break
    interactions = []
    for interaction_id in found:
        view = await runtime.interaction(interaction_id)
        interactions.append(
            {
                "interaction": None if view is None else msgspec.to_builtins(view),
                "events": events[interaction_id],
                "personal_data": await runtime.personal_data(interaction_id),
            }
        )
    return {"subject": subject, "interactions": interactions}


async def erase_subject(runtime: Runtime, subject: str, reason: str) -> list[int]:
    """Erase the personal data of every interaction of the customer; return their ids."""
    found = await find_subject(runtime, subject, recorded=False)
    await runtime.access.request("subject_erasure", subject=subject, rows=len(found), reason=reason)
    for interaction_id in found:
        await runtime.erase(interaction_id, reason)
    return found
