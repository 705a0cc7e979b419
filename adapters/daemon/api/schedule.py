"""``/v1/schedule/{day}``: a day's planned shifts, imported as CSV and journaled.

Supervisors and admins ``PUT`` a day's schedule as CSV (``Content-Type: text/csv``), in either
format ``reports.schedule_csv`` reads: the shifts a workforce-management tool exports
(``advisor_id,start,end,activity``) or a grid of intervals by advisor. It replaces that day's
schedule (``SetSchedule``); an empty body's header alone clears it. The wallboard's adherence
compares it with what advisors did. ``GET`` returns it as JSON.

Every problem of the CSV is a 400 naming its line and column; ``field`` is the column's name
(or ``day``). An activity is ``work`` or one of the ``[reasons] not_ready`` codes, and every
advisor must be in the roster.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, put
from litestar.exceptions import HTTPException, NotFoundException

from aiguillage.adapters.daemon.api.models import ErrorOut
from aiguillage.adapters.daemon.api.routes import STAFF, caller, runtime_of
from aiguillage.adapters.reports.schedule_csv import ScheduleCsvError, read_schedule
from aiguillage.adapters.stores.views import iso
from aiguillage.engine.commands import SetSchedule
from aiguillage.engine.engine import Engine
from aiguillage.engine.schedules import WORK, ScheduleError, Shift, check_schedule, parse_day

__all__ = ["SCHEDULE_ROUTES", "ScheduleOut", "ShiftOut"]


class ShiftOut(msgspec.Struct, frozen=True, kw_only=True):
    advisor_id: str
    start: str
    """ISO-8601 in the deployment's time zone, with its offset."""
    end: str
    activity: str
    """``work``, or the reason code of a planned pause."""


class ScheduleOut(msgspec.Struct, frozen=True, kw_only=True):
    day: str
    shifts: list[ShiftOut]
    """By advisor, then start."""


def _refused(detail: str, field: str | None) -> Response[Any]:
    return Response(ErrorOut(error="invalid_request", detail=detail, field=field), status_code=400)


def _out(day: str, shifts: tuple[Shift, ...] | list[Shift], zone: Any) -> ScheduleOut:
    ordered = sorted(shifts, key=lambda s: (s.advisor_id, s.start))
    return ScheduleOut(
        day=day,
        shifts=[
            ShiftOut(
                advisor_id=s.advisor_id,
                start=iso(s.start, zone),
                end=iso(s.end, zone),
                activity=s.activity,
            )
            for s in ordered
        ],
    )


@put(
    "/v1/schedule/{day:str}",
    summary="Import a day's schedule (CSV)",
    tags=["schedules"],
    status_code=200,
)
async def put_schedule(request: Request[Any, Any, Any], day: str) -> Response[Any]:
    """Replace the day's planned shifts with those of the CSV body (``text/csv``):
    ``advisor_id,start,end,activity`` rows, or a grid ``start,<advisor id>,…``."""
    caller(request, *STAFF)
    runtime = runtime_of(request)
    try:
        parse_day(day)
    except ScheduleError as exc:
        return _refused(str(exc), "day")
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != "text/csv":
        raise HTTPException(
            status_code=415,
            detail=f"send the schedule as CSV, Content-Type: text/csv (not {media_type or 'none'})",
        )
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        return _refused(f"the CSV is not UTF-8 text: {exc}", None)
    try:
        parsed = read_schedule(text)
    except ScheduleCsvError as exc:
        return _refused(str(exc), exc.name or None)
    codes = {WORK, *runtime.settings.reasons.not_ready}
    for index, shift in enumerate(parsed.shifts):
        if shift.activity not in codes:
            error = parsed.error(
                index,
                "activity",
                f"activity `{shift.activity}` is not work nor a [reasons] not_ready code: "
                + ", ".join(sorted(codes)),
            )
            return _refused(str(error), error.name or None)
    shifts = tuple(parsed.shifts)
    try:
        check_schedule(day, shifts, runtime.zone, runtime.clock())
    except ScheduleError as exc:
        if exc.index is None:
            return _refused(str(exc), "day")
        error = parsed.error(exc.index, exc.field, str(exc))
        return _refused(str(error), error.name or None)
    roster: set[str] = await runtime.read(lambda engine: set(engine.state.advisors))
    for index, shift in enumerate(shifts):
        if shift.advisor_id not in roster:
            error = parsed.error(
                index, "advisor_id", f"no advisor `{shift.advisor_id}` in the roster"
            )
            return _refused(str(error), error.name or None)
    await runtime.execute(SetSchedule(day=day, shifts=shifts))
    return Response(_out(day, shifts, runtime.zone), status_code=200)


@get("/v1/schedule/{day:str}", summary="Read a day's schedule", tags=["schedules"])
async def get_schedule(request: Request[Any, Any, Any], day: str) -> Response[Any]:
    """The day's planned shifts as journaled (404 when none was set, or it is older than a
    week)."""
    caller(request, *STAFF)
    runtime = runtime_of(request)
    try:
        parse_day(day)
    except ScheduleError as exc:
        return _refused(str(exc), "day")

    def read(engine: Engine) -> tuple[Shift, ...] | None:
        return engine.state.schedules.get(day)

    shifts = await runtime.read(read)
    if shifts is None:
        raise NotFoundException(f"no schedule for {day}: PUT one as CSV")
    return Response(_out(day, shifts, runtime.zone))


SCHEDULE_ROUTES = [put_schedule, get_schedule]
