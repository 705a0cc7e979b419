"""``/v1/audits``, ``/v1/mystery-shoppers``, ``/v1/interactions/{id}/satisfaction``: quality.

- ``POST /v1/audits/samples`` (supervisor, admin, quality): draw a sample of the interactions
  closed in ``[from, until)``, ``per_advisor`` per advisor and channel (``[quality]`` by
  default) with ``seed`` (``[quality] seed`` by default): the same seed over the same journal
  draws the same sample. The draw is journaled with its parameters and the ids drawn.
- ``GET /v1/audits`` (supervisor, admin, quality, authority): every interaction drawn so far,
  with its latest scores.
- ``GET /v1/audits/grid`` (the same roles): the grid they are scored on, as ``[quality]`` has
  it: each criterion with its weight, the scale, a draw's defaults, and the zone the periods'
  days are counted in; what a form needs to score and draw, nothing of the work itself.
- ``POST /v1/audits/{interaction_id}/score`` (quality only): scores on every criterion of the
  ``[quality.grid]``, each from 0 to its ``scale``; journaled with the weighted score (0 to 100).
  A drawn interaction scored again keeps its latest scores.
- ``POST /v1/mystery-shoppers`` (supervisor, admin, quality): mystery-shopper results as CSV
  (``text/csv``; columns in ``reports.mystery_csv``), all journaled at once, or none.
- ``POST /v1/interactions/{id}/satisfaction`` (integrator, supervisor, admin): the customer's
  rating of ended work, 1 to 5, once (a second is a 409).

A bad field is a 400 naming it (``scores.accuracy``, ``from``); a bad CSV a 400 naming its line
and column. An interaction never drawn is a 404, as is a rating for work the engine no longer
holds (forgotten after its retention period).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import anyio
import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi.datastructures import ResponseSpec

from aiguillage.adapters.config.quality import QualitySettings, weighted_score
from aiguillage.adapters.daemon.api.models import BodyIn, ErrorOut
from aiguillage.adapters.daemon.api.routes import InvalidField, caller, runtime_of
from aiguillage.adapters.reports.audits import Audit, Audits, closed_between, draw
from aiguillage.adapters.reports.mystery_csv import MysteryCsvError, read_mystery
from aiguillage.adapters.stores.journal import Record
from aiguillage.adapters.stores.views import iso
from aiguillage.engine.audits import MAX_PER_ADVISOR, SATISFACTION_SCORES
from aiguillage.engine.commands import DrawAudit, ImportMystery, RecordSatisfaction, ScoreAudit
from aiguillage.engine.instants import Instant, from_datetime

__all__ = [
    "QUALITY_ROUTES",
    "AuditOut",
    "GridOut",
    "SampleIn",
    "SampleOut",
    "SatisfactionIn",
    "ScoreIn",
]

DRAWERS = ("supervisor", "admin", "quality")
READERS = ("supervisor", "admin", "quality", "authority")
SCORERS = ("quality",)
RATERS = ("integrator", "supervisor", "admin")
_PAGE = 5000

T = TypeVar("T")


class SampleIn(BodyIn, kw_only=True):
    """The period to draw closed interactions from, and how."""

    start: datetime = msgspec.field(name="from")
    """ISO-8601 with a UTC offset: closed from this instant..."""
    until: datetime
    """... to just before this one."""
    per_advisor: Annotated[int, msgspec.Meta(ge=1, le=MAX_PER_ADVISOR)] | None = None
    """How many per advisor and channel; none: ``[quality] per_advisor``."""
    seed: int | None = None
    """The draw's seed; none: ``[quality] seed``."""


class PickOut(msgspec.Struct, kw_only=True):
    interaction_id: int
    channel: str
    advisor_id: str


class SampleOut(msgspec.Struct, kw_only=True):
    start: str = msgspec.field(name="from")
    until: str
    per_advisor: int
    seed: int
    candidates: int
    """The interactions closed in the period by an advisor, drawn from."""
    picks: list[PickOut]
    """By interaction id."""


class AuditOut(msgspec.Struct, kw_only=True):
    interaction_id: int
    channel: str
    advisor_id: str
    drawn_at: str
    scores: dict[str, int] | None = None
    weighted: float | None = None
    """0 to 100, under the grid's weights when it was scored."""
    scored_at: str | None = None
    scored_by: str = ""


class AuditPage(msgspec.Struct, kw_only=True):
    audits: list[AuditOut]
    """By interaction id."""


class CriterionOut(msgspec.Struct, kw_only=True):
    name: str
    weight: float
    """Its weight in the weighted score, relative to the others'."""


class GridOut(msgspec.Struct, kw_only=True):
    criteria: list[CriterionOut]
    """In the order of ``[quality.grid]``."""
    scale: int
    """Each criterion is scored from 0 to this."""
    per_advisor: int
    """A draw's ``per_advisor`` when the request names none."""
    seed: int
    """A draw's ``seed`` when the request names none."""
    time_zone: str
    """The calendar's zone (``Europe/Paris``): the times listed carry its offset."""


class ScoreIn(BodyIn, kw_only=True):
    scores: dict[str, int]
    """Every criterion of ``[quality.grid]``, each scored from 0 to ``[quality] scale``."""


class SatisfactionIn(BodyIn, kw_only=True):
    score: int
    """1 (worst) to 5 (best)."""


class SatisfactionOut(msgspec.Struct, kw_only=True):
    interaction_id: int
    channel: str
    score: int


class MysteryOut(msgspec.Struct, kw_only=True):
    imported: int


def _quality(request: Request[Any, Any, Any]) -> QualitySettings:
    return runtime_of(request).settings.quality


def _instant(field: str, value: datetime) -> Instant:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidField(
            field, f"{field} has no UTC offset; give one, for example 2027-03-01T00:00:00+01:00"
        )
    return from_datetime(value)


async def _journal(request: Request[Any, Any, Any], reader: Callable[[list[Record]], None]) -> None:
    """Feed ``reader`` every journal record, a page at a time, off the event loop."""
    runtime = runtime_of(request)
    after = 0
    while True:
        page = await runtime.records_after(after, _PAGE)
        if page:
            await anyio.to_thread.run_sync(reader, page)
            after = page[-1].seq
        if len(page) < _PAGE:
            return


async def _audits(request: Request[Any, Any, Any]) -> Audits:
    audits = Audits()
    await _journal(request, audits.feed)
    return audits


def _out(audit: Audit, zone: Any) -> AuditOut:
    return AuditOut(
        interaction_id=audit.interaction_id,
        channel=audit.channel,
        advisor_id=audit.advisor_id,
        drawn_at=iso(audit.drawn_at, zone),
        scores=audit.scores,
        weighted=audit.weighted,
        scored_at=None if audit.scored_at is None else iso(audit.scored_at, zone),
        scored_by=audit.scored_by,
    )


@post("/v1/audits/samples", summary="Draw an audit sample", tags=["quality"], status_code=201)
async def draw_sample(request: Request[Any, Any, Any], data: SampleIn) -> SampleOut:
    """Draw, reproducibly, closed interactions of a period per advisor and channel, and journal
    the draw. Supervisors, admins and quality reviewers."""
    caller(request, *DRAWERS)
    start, end = _instant("from", data.start), _instant("until", data.until)
    if end <= start:
        raise InvalidField("until", "until must be after from: the period would be empty")
    quality = _quality(request)
    per_advisor = quality.per_advisor if data.per_advisor is None else data.per_advisor
    seed = quality.seed if data.seed is None else data.seed
    candidates = []

    def read(page: list[Record]) -> None:
        candidates.extend(closed_between(page, start, end))

    await _journal(request, read)
    picks = draw(candidates, per_advisor, seed)
    runtime = runtime_of(request)
    await runtime.execute(
        DrawAudit(start=start, end=end, per_advisor=per_advisor, seed=seed, picks=picks)
    )
    return SampleOut(
        start=iso(start, runtime.zone),
        until=iso(end, runtime.zone),
        per_advisor=per_advisor,
        seed=seed,
        candidates=len(candidates),
        picks=[
            PickOut(interaction_id=p.interaction_id, channel=p.channel, advisor_id=p.advisor_id)
            for p in picks
        ],
    )


@get("/v1/audits", summary="List the audits", tags=["quality"])
async def list_audits(request: Request[Any, Any, Any]) -> AuditPage:
    """Every interaction drawn for an audit, with its latest scores. Supervisors, admins,
    quality reviewers and the authority."""
    caller(request, *READERS)
    audits = await _audits(request)
    zone = runtime_of(request).zone
    return AuditPage(audits=[_out(a, zone) for _, a in sorted(audits.drawn.items())])


@get("/v1/audits/grid", summary="The audit grid", tags=["quality"])
async def audit_grid(request: Request[Any, Any, Any]) -> GridOut:
    """The criteria audits are scored on, with their weights and scale, and a draw's defaults.
    Supervisors, admins, quality reviewers and the authority."""
    caller(request, *READERS)
    quality = _quality(request)
    return GridOut(
        criteria=[
            CriterionOut(name=name, weight=criterion.weight)
            for name, criterion in quality.grid.items()
        ],
        scale=quality.scale,
        per_advisor=quality.per_advisor,
        seed=quality.seed,
        time_zone=str(runtime_of(request).zone),
    )


def check_scores(scores: dict[str, int], quality: QualitySettings) -> None:
    """Refuse, naming the field, scores that do not fill the grid exactly within its scale."""
    for name, score in scores.items():
        if name not in quality.grid:
            raise InvalidField(
                f"scores.{name}",
                f"{name!r} is not a criterion of the audit grid: {', '.join(quality.grid)}",
            )
        if not 0 <= score <= quality.scale:
            raise InvalidField(
                f"scores.{name}", f"score {score} is out of range: from 0 to {quality.scale}"
            )
    for name in quality.grid:
        if name not in scores:
            raise InvalidField(f"scores.{name}", f"criterion {name!r} is not scored")


@post(
    "/v1/audits/{interaction_id:int}/score",
    summary="Score a drawn interaction",
    tags=["quality"],
    status_code=200,
)
async def score_audit(
    request: Request[Any, Any, Any], interaction_id: int, data: ScoreIn
) -> AuditOut:
    """Score a drawn interaction on every criterion of the audit grid. Quality reviewers only."""
    caller(request, *SCORERS)
    quality = _quality(request)
    check_scores(data.scores, quality)
    audit = (await _audits(request)).drawn.get(interaction_id)
    if audit is None:
        raise NotFoundException(f"interaction {interaction_id} was not drawn for an audit")
    scores = {name: data.scores[name] for name in quality.grid}
    runtime = runtime_of(request)
    await runtime.execute(
        ScoreAudit(
            interaction_id=interaction_id,
            channel=audit.channel,  # type: ignore[arg-type]
            advisor_id=audit.advisor_id,
            scores=scores,
            weighted=weighted_score(scores, quality),
        )
    )
    found = (await _audits(request)).drawn[interaction_id]
    return _out(found, runtime.zone)


@post(
    "/v1/mystery-shoppers",
    summary="Import mystery-shopper results (CSV)",
    tags=["quality"],
    status_code=201,
    responses={
        415: ResponseSpec(
            data_container=ErrorOut,
            description="unsupported_media_type: the body is not sent as text/csv",
        )
    },
)
async def import_mystery(request: Request[Any, Any, Any]) -> Response[Any]:
    """Import mystery-shopper visits from a CSV body (``text/csv``), all or none. Supervisors,
    admins and quality reviewers."""
    caller(request, *DRAWERS)
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != "text/csv":
        raise HTTPException(
            status_code=415,
            detail=f"send the results as CSV, Content-Type: text/csv (not {media_type or 'none'})",
        )
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        return _refused(f"the CSV is not UTF-8 text: {exc}", None)
    try:
        results = read_mystery(text, _quality(request))
    except MysteryCsvError as exc:
        return _refused(str(exc), exc.column or None)
    await runtime_of(request).execute(ImportMystery(results=results))
    return Response(MysteryOut(imported=len(results)), status_code=201)


def _refused(detail: str, field: str | None) -> Response[Any]:
    return Response(ErrorOut(error="invalid_request", detail=detail, field=field), status_code=400)


@post(
    "/v1/interactions/{interaction_id:int}/satisfaction",
    summary="Record the customer's satisfaction",
    tags=["quality"],
    status_code=201,
)
async def record_satisfaction(
    request: Request[Any, Any, Any], interaction_id: int, data: SatisfactionIn
) -> SatisfactionOut:
    """Record the customer's rating (1 to 5) of ended work, once. Integrators (the channels),
    supervisors and admins."""
    caller(request, *RATERS)
    if data.score not in SATISFACTION_SCORES:
        raise InvalidField("score", f"score {data.score} is out of range: from 1 to 5")
    events = await runtime_of(request).execute(
        RecordSatisfaction(interaction_id=interaction_id, score=data.score)
    )
    event = events[0]
    return SatisfactionOut(
        interaction_id=interaction_id,
        channel=event.channel,  # type: ignore[union-attr]
        score=data.score,
    )


QUALITY_ROUTES = [
    draw_sample,
    list_audits,
    audit_grid,
    score_audit,
    import_mystery,
    record_satisfaction,
]
