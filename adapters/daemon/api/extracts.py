"""``GET /v1/extracts``: the interactions received in a period, filtered, as CSV or XLSX.

The journal is walked a page at a time for the interactions received in ``[from, until)``;
each row is the view the journal keeps of it (``reports.extract``), kept when it matches
``channel``, ``motive``, ``status`` and ``advisor`` (the one who last held it, or holds it).
Supervisors and admins get the customer's name, e-mail, phone and text too; the ``authority``
gets the rows without them (its ``personal=true`` is refused: 403). Each extract is recorded
in the access log (``kind`` ``extract``: who, when, the filter, how many rows, whether it held
personal data), and each interaction whose personal data it shows is recorded as a read.
"""

from __future__ import annotations

import asyncio
import typing
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.exceptions import PermissionDeniedException
from litestar.params import Parameter, QueryParameter

from aiguillage.adapters.config.datetimes import DatetimeError, parse_instant
from aiguillage.adapters.daemon.api.routes import InvalidField, caller, runtime_of
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.reports.extract import EXTRACT_FORMATS, extract_row, render_extract
from aiguillage.adapters.stores.views import InteractionOut
from aiguillage.engine.events import InteractionArrived
from aiguillage.engine.instants import Instant
from aiguillage.engine.policies import CHANNELS
from aiguillage.engine.states import InteractionStatus

__all__ = ["EXTRACTORS", "EXTRACT_ROUTES", "PERSONAL_READERS"]

EXTRACTORS = ("supervisor", "admin", "authority")
"""Who may extract."""
PERSONAL_READERS = ("supervisor", "admin")
"""Whose extracts hold personal data."""

_PAGE = 5000
_CHUNK = 500
_STATUSES = typing.get_args(InteractionStatus)
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@get("/v1/extracts", summary="An extract of interactions", tags=["reports"])
async def extract(
    request: Request[Any, Any, Any],
    since: Annotated[  # `from` is a keyword: named apart
        str | None,
        QueryParameter(name="from", description="Received at or after: ISO-8601 with an offset."),
    ] = None,
    until: str | None = Parameter(default=None, description="Received before: ISO-8601."),
    channel: str | None = None,
    motive: str | None = None,
    status: str | None = None,
    advisor: str | None = None,
    format: str = Parameter(default="csv", description="csv or xlsx."),
    personal: bool | None = Parameter(
        default=None,
        description="With the customer's name, e-mail, phone and text: by default for "
        "supervisors and admins; refused (403) for the authority.",
    ),
) -> Response[bytes]:
    """The interactions received in ``[from, until)``, one row each, as CSV or XLSX."""
    principal = caller(request, *EXTRACTORS)
    allowed = principal.role in PERSONAL_READERS
    if personal and not allowed:
        raise PermissionDeniedException(
            f"role `{principal.role}` may not extract personal data; read one interaction's "
            "with GET /v1/interactions/{id}/personal-data"
        )
    with_personal = allowed if personal is None else personal
    start = _required("from", since)
    end = _required("until", until)
    if end <= start:
        raise InvalidField("until", "must be after `from`")
    if format not in EXTRACT_FORMATS:
        raise InvalidField("format", f"`{format}` is not one of {', '.join(EXTRACT_FORMATS)}")
    if channel is not None and channel not in CHANNELS:
        raise InvalidField(
            "channel", f"`{channel}` is not a channel; one of: {', '.join(CHANNELS)}"
        )
    if status is not None and status not in _STATUSES:
        raise InvalidField("status", f"`{status}` is not a status; one of: {', '.join(_STATUSES)}")
    runtime = runtime_of(request)
    if motive is not None:
        motives = await runtime.read(lambda engine: tuple(engine.state.policies.motives))
        if motive not in motives:
            known = ", ".join(motives) or "none configured"
            raise InvalidField("motive", f"`{motive}` is not a configured motive; one of: {known}")
    views = []
    for interaction_id in await _received(runtime, start, end):
        view = await runtime.interaction(interaction_id, reveal=False)
        if view is not None and _matches(view, channel, motive, status, advisor):
            views.append(view)
    if not with_personal:
        rows = [extract_row(view, None) for view in views]
    else:
        rows = []
        for first in range(0, len(views), _CHUNK):
            chunk = views[first : first + _CHUNK]
            # Read together: the access log records a chunk's reads in one durable write.
            found = await asyncio.gather(*(runtime.personal_data(v.id) for v in chunk))
            rows += [extract_row(v, data or {}) for v, data in zip(chunk, found, strict=True)]
    wanted = {
        "from": since,
        "until": until,
        "channel": channel,
        "motive": motive,
        "status": status,
        "advisor": advisor,
        "format": format,
    }
    shown = {key: value for key, value in wanted.items() if value is not None}
    await runtime.access.request(
        "extract",
        filter=msgspec.json.encode(shown, order="sorted").decode(),
        rows=len(rows),
        personal=with_personal,
    )
    body = render_extract(rows, format, personal=with_personal)
    name = f"extract-{start}-{end}.{format}"
    return Response(
        body,
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _required(field: str, text: str | None) -> Instant:
    if text is None:
        raise InvalidField(field, f"`{field}` is required: ISO-8601 with an offset")
    try:
        return parse_instant(text)
    except DatetimeError as exc:
        hint = " (in a query string, write `+` as `%2B`)" if " " in text.strip() else ""
        raise InvalidField(field, f"{exc}{hint}") from None


async def _received(runtime: Runtime, start: Instant, end: Instant) -> list[int]:
    """The ids of the interactions the journal says were received in ``[start, end)``."""
    found: list[int] = []
    after = 0
    while True:
        page = await runtime.records_after(after, _PAGE)
        for record in page:
            event = record.event
            if isinstance(event, InteractionArrived) and start <= event.received_at < end:
                found.append(event.interaction_id)
        if page:
            after = page[-1].seq
        if len(page) < _PAGE:
            return list(dict.fromkeys(found))


def _matches(
    view: InteractionOut,
    channel: str | None,
    motive: str | None,
    status: str | None,
    advisor: str | None,
) -> bool:
    return (
        (channel is None or view.channel == channel)
        and (motive is None or view.motive == motive)
        and (status is None or view.status == status)
        and (advisor is None or advisor in (view.handled_by, view.advisor_id))
    )


EXTRACT_ROUTES = [extract]
