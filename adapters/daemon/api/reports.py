"""``GET /v1/reports/month/{YYYY-MM}``, ``/v1/reports/year/{YYYY}`` and
``/v1/reports/penalties/{YYYY-MM}``: the authority's reports and the month's penalty statement.

The same reports as ``aiguillage report``, read from the journal the daemon writes (the archive
of trimmed records too, on Redis): ``format`` ``json`` (the default: one object with every
figure and the glossary), ``html``, ``csv`` or ``xlsx``; ``language`` ``fr`` (the default) or
``en``. For supervisors, admins and the principal's ``authority`` role. The journal is
read a page at a time and each page is tallied on a worker thread, so the daemon keeps serving.
Written as JSON, a report is signed with the key ``[reports] signing_key`` names, as the command
signs it (``reports.signing``), for ``aiguillage report verify``. The penalty statement applies
``[penalties]`` as ``aiguillage report penalties`` does, in ``json``, ``html`` or ``csv``; a
configuration without that table answers 404.

``POST /v1/reports/head-export`` exports the journal's head now, as the daily export does
(``daemon.head_export``), for supervisors and admins: it answers the line exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import Example
from litestar.params import Parameter

from aiguillage.adapters.daemon.api.models import ErrorOut
from aiguillage.adapters.daemon.api.routes import caller, runtime_of
from aiguillage.adapters.reports.month_figures import (
    Months,
    YearReport,
    as_month_report,
    report_months,
    year_months,
)
from aiguillage.adapters.reports.month_plan import month_plan
from aiguillage.adapters.reports.month_render import FORMATS, render
from aiguillage.adapters.reports.month_words import LANGUAGES
from aiguillage.adapters.reports.penalties import penalty_statement, rules_of
from aiguillage.adapters.reports.penalty_render import STATEMENT_FORMATS, render_statement
from aiguillage.adapters.reports.signing import SigningError, load_private_key, sign

__all__ = ["READERS", "REPORT_ROUTES"]

READERS = ("supervisor", "admin", "authority")
"""Who may read the reports."""

_PAGE = 5000
_MEDIA = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

FormatQuery = Annotated[
    str,
    Parameter(
        description=f"One of {', '.join(FORMATS)}.",
        examples=[Example(value="json")],
    ),
]
LanguageQuery = Annotated[
    str,
    Parameter(
        description=f"One of {', '.join(LANGUAGES)}.",
        examples=[Example(value="fr")],
    ),
]


def _refused(detail: str, field: str) -> Response[Any]:
    return Response(ErrorOut(error="invalid_request", detail=detail, field=field), status_code=400)


async def _read(request: Request[Any, Any, Any], months: Months) -> None:
    runtime = runtime_of(request)
    after = 0
    while True:
        page = await runtime.records_after(after, _PAGE)
        if page:
            await anyio.to_thread.run_sync(months.feed, page)
            after = page[-1].seq
        if len(page) < _PAGE:
            return


def _signed(request: Request[Any, Any, Any], body: bytes, format: str) -> bytes:
    """Sign a JSON report when ``[reports] signing_key`` names a key; ``SigningError`` if it
    cannot be read."""
    loaded = runtime_of(request).loaded
    name = loaded.settings.reports.signing_key
    if format != "json" or not name:
        return body
    where = f"{loaded.source}: reports.signing_key"
    return sign(body, load_private_key(Path(loaded.source).parent / name, where))


def _answer(request: Request[Any, Any, Any], body: bytes, format: str, name: str) -> Response[Any]:
    try:
        body = _signed(request, body, format)
    except SigningError as exc:
        return Response(
            ErrorOut(error="signing_key", detail=str(exc), field="reports.signing_key"),
            status_code=500,
        )
    headers = {}
    if format in ("csv", "xlsx"):
        headers["Content-Disposition"] = f'attachment; filename="{name}.{format}"'
    if format == "html":
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return Response(body, media_type=_MEDIA[format], headers=headers)


def _check(format: str, language: str) -> Response[Any] | None:
    if format not in FORMATS:
        return _refused(f"format {format!r}: choose one of {', '.join(FORMATS)}", "format")
    if language not in LANGUAGES:
        return _refused(f"language {language!r}: choose one of {', '.join(LANGUAGES)}", "language")
    return None


@get("/v1/reports/month/{month:str}", summary="A month's report", tags=["reports"])
async def month_report(
    request: Request[Any, Any, Any],
    month: str,
    format: FormatQuery = "json",
    language: LanguageQuery = "fr",
) -> Response[Any]:
    """The month (``YYYY-MM``, the calendar's local time) beside the previous one, from the
    journal: volumes, service levels, waits, breaches, per channel, source, motive, typology,
    day and half-hour, and the work pending at the month's end."""
    caller(request, *READERS)
    refused = _check(format, language)
    if refused is not None:
        return refused
    try:
        months = Months(report_months(month))
    except ValueError as exc:
        return _refused(str(exc), "month")
    await _read(request, months)
    found = await anyio.to_thread.run_sync(months.figures)
    report = as_month_report(found)
    planned = runtime_of(request).settings.reports.plan.get(month, {})
    plan = month_plan(report.month, planned)
    body = await anyio.to_thread.run_sync(
        lambda: render(report, format, language=language, plan=plan)
    )
    return _answer(request, body, format, f"report-{month}")


@get("/v1/reports/year/{year:str}", summary="A year's review, month by month", tags=["reports"])
async def year_report(
    request: Request[Any, Any, Any],
    year: str,
    format: FormatQuery = "json",
    language: LanguageQuery = "fr",
) -> Response[Any]:
    """Each month of the year (``YYYY``) as its own month's report counts it."""
    caller(request, *READERS)
    refused = _check(format, language)
    if refused is not None:
        return refused
    try:
        if len(year) != 4 or not year.isdigit():
            raise ValueError(f"year {year!r}: give a year such as 2027")
        months = Months(year_months(int(year)))
    except ValueError as exc:
        return _refused(str(exc), "year")
    await _read(request, months)
    found = await anyio.to_thread.run_sync(months.figures)
    report = YearReport(year=int(year), months=found)
    body = await anyio.to_thread.run_sync(lambda: render(report, format, language=language))
    return _answer(request, body, format, f"report-{year}")


@post(
    "/v1/reports/head-export",
    summary="Export the journal's head now",
    tags=["reports"],
    status_code=200,
)
async def head_export(request: Request[Any, Any, Any]) -> Response[Any]:
    """Append the journal's head (its latest position and hash, signed) to the file and queue
    it for the address ``[reports.head_export]`` names, as the daily export does; answer the
    line exported: ``{"at", "hash", "position"}`` and its ``signature`` when reports are
    signed."""
    caller(request, "supervisor", "admin")
    exporter = request.app.state.get("head_exporter")
    if exporter is None:
        return Response(
            ErrorOut(
                error="not_configured",
                detail="no [reports.head_export] table: add one naming a file or a url",
                field="reports.head_export",
            ),
            status_code=409,
        )
    try:
        line = await exporter.export()
    except OSError as exc:
        return Response(
            ErrorOut(
                error="head_export",
                detail=f"the head could not be appended to {exporter.file}: {exc.strerror or exc}",
                field="reports.head_export.file",
            ),
            status_code=500,
        )
    return Response(line, media_type="application/json")


@get(
    "/v1/reports/penalties/{month:str}",
    summary="A month's penalty statement",
    tags=["reports"],
)
async def penalty_report(
    request: Request[Any, Any, Any],
    month: str,
    format: FormatQuery = "json",
    language: LanguageQuery = "fr",
) -> Response[Any]:
    """The month's (``YYYY-MM``) penalties under ``[penalties]``: each line with the breaches
    or the figures it rests on and the work an accepted exemption left out of it, the claims
    meeting the month, and the total, the sum of the lines. ``format``: json, html or csv."""
    caller(request, *READERS)
    if format not in STATEMENT_FORMATS:
        formats = ", ".join(STATEMENT_FORMATS)
        return _refused(f"format {format!r}: choose one of {formats}", "format")
    refused = _check("json", language)
    if refused is not None:
        return refused
    loaded = runtime_of(request).loaded
    settings = loaded.settings
    if settings.penalties is None:
        raise NotFoundException(
            f"no penalty statement: {loaded.source} has no [penalties] table; add one with the "
            "contract's amounts (see the reference configuration)"
        )
    try:
        months = Months([month])
    except ValueError as exc:
        return _refused(str(exc), "month")
    await _read(request, months)
    (figures,) = await anyio.to_thread.run_sync(months.figures)
    rules = rules_of(settings.penalties, settings.policies())
    statement = penalty_statement(figures, rules)
    body = render_statement(statement, format, language=language)
    return _answer(request, body, format, f"penalties-{month}")


REPORT_ROUTES = [month_report, year_report, penalty_report, head_export]
