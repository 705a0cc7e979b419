"""``GET /v1/access-log``: who read whose personal data, and who erased it and why.

The access log (``stores.access_log``) a page at a time, in its order, like ``/v1/events``:
each entry with its seq and chained hash, when, who (``by``: a token by its id, a session, the
admin token, a command), which interaction, through which route and in which session, and for
an erasure its reason; an extract with its filter, its row count and whether it held personal
data; a data subject's request with the keyed digest of the address and how many interactions it
found. ``interaction`` keeps only the entries about one interaction. For supervisors, admins
and the principal's read-only ``authority`` role; never the data read.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get
from litestar.params import Parameter

from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.daemon.api.routes import caller, runtime_of
from aiguillage.adapters.stores.journal import JournalError
from aiguillage.adapters.stores.views import iso

__all__ = ["ACCESS_ROUTES", "AUDITORS", "AccessPage"]

AUDITORS = ("supervisor", "admin", "authority")
"""Who may read the access log."""


class AccessPage(msgspec.Struct, kw_only=True):
    entries: list[dict[str, Any]]
    next_after: int
    """Pass it as ``after`` to read on; equal to the request's when nothing new."""


@get("/v1/access-log", tags=["supervision"])
async def access_log(
    request: Request[Any, Any, Any],
    after: int = Parameter(default=0, ge=0, description="Read the entries after this seq."),
    limit: int = Parameter(default=500, ge=1, le=5000),
    interaction: int | None = Parameter(
        default=None, ge=1, description="Only the entries about this interaction."
    ),
) -> AccessPage:
    """The access log: each read of personal data by a person (once per reader, interaction
    and session), each erasure with who asked and why, in order, a page at a time."""
    caller(request, *AUDITORS)
    runtime = runtime_of(request)
    log = runtime.access.log
    if log is None or not runtime.ready:
        raise runtime.unavailable()
    try:
        records = await log.records_after(after, limit, interaction)
    except JournalError as exc:
        raise Unavailable(f"the access log cannot be read: {exc}") from exc
    rows = [
        {
            "seq": r.seq,
            "hash": r.hash,
            "at": iso(r.entry.at, runtime.zone),
            "by": msgspec.to_builtins(r.entry.by),
            "interaction_id": r.entry.interaction_id,
            "route": r.entry.route,
            "session": r.entry.session,
            "kind": r.entry.kind,
            "reason": r.entry.reason,
            "filter": r.entry.filter,
            "rows": r.entry.rows,
            "personal": r.entry.personal,
            "subject": r.entry.subject,
        }
        for r in records
    ]
    return AccessPage(entries=rows, next_after=records[-1].seq if records else after)


ACCESS_ROUTES = [access_log]
