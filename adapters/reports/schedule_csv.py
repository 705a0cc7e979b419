"""Schedules as CSV: a day's planned shifts, from a workforce-management tool or a spreadsheet.

Two formats are read, told apart by their header:

- **Shifts** (what workforce-management tools export): ``advisor_id,start,end,activity``, one
  row per stretch of an advisor's day; ``start`` and ``end`` are ISO-8601 with their UTC
  offset (``2027-03-01T09:00:00+01:00``); ``activity`` is ``work`` or a pause's reason code
  (``break``, ``lunch``, ``training``: the ``[reasons] not_ready`` codes).
- **Grid** (the shape of ``aiguillage staff plan``'s CSV, with advisors for columns):
  ``start,<advisor id>,<advisor id>…``, one row per interval; each cell is the advisor's
  activity in that interval, empty when off. An interval ends where the next row starts; the
  last one lasts as long as the one before it. Consecutive intervals of the same activity make
  one shift. ``staff plan`` itself counts advisors per channel and names none: fill in a grid
  with the advisors' ids from its intervals.

Every problem is a ``ScheduleCsvError`` naming the line and the column (1-based) at fault.
"""

from __future__ import annotations

import csv
import io

from aiguillage.adapters.config.datetimes import DatetimeError, parse_instant
from aiguillage.engine.instants import Instant
from aiguillage.engine.policies import CHANNELS
from aiguillage.engine.schedules import Shift

__all__ = ["SHIFTS_HEADER", "ParsedSchedule", "ScheduleCsvError", "read_schedule"]

SHIFTS_HEADER = ("advisor_id", "start", "end", "activity")


class ScheduleCsvError(ValueError):
    """A schedule that cannot be read: ``line`` and ``column`` (1-based, ``column`` 0 for the
    whole line) and the column's name when it has one."""

    def __init__(self, line: int, column: int, name: str, problem: str) -> None:
        where = f"line {line}" + (f", column {column} (`{name}`)" if column else "")
        super().__init__(f"{where}: {problem}")
        self.line = line
        self.column = column
        self.name = name
        self.problem = problem


class ParsedSchedule:
    """The shifts read, and for each the line it came from, so that a later refusal (an
    unknown advisor, two shifts at once) names its line and column (``where``)."""

    __slots__ = ("grid", "header", "lines", "shifts")

    def __init__(
        self, shifts: list[Shift], lines: list[int], header: list[str], grid: bool
    ) -> None:
        self.shifts = shifts
        self.lines = lines
        self.header = header
        self.grid = grid

    def error(self, index: int, field: str, problem: str) -> ScheduleCsvError:
        """Return the error for shift ``index``'s ``field`` (``advisor_id``, ``start``,
        ``end`` or ``activity``), at the line and column it came from."""
        line = self.lines[index]
        if self.grid:
            # A grid's shift lives in its advisor's column; its times in the start column.
            advisor = self.shifts[index].advisor_id
            column = 1 if field in ("start", "end") else self.header.index(advisor) + 1
        else:
            column = SHIFTS_HEADER.index(field) + 1 if field in SHIFTS_HEADER else 0
        return ScheduleCsvError(line, column, self.header[column - 1] if column else "", problem)


def read_schedule(text: str) -> ParsedSchedule:
    """Read a schedule in either format (see the module's docstring)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [cell.strip() for cell in rows[0]] if rows else []
    if not header or not any(header):
        raise ScheduleCsvError(
            1, 0, "", "no header; the first line is advisor_id,start,end,activity or start,<ids>"
        )
    if [cell.lower() for cell in header] == list(SHIFTS_HEADER):
        return _shifts(rows, header)
    if header[0].lower() == "start" and len(header) > 1:
        return _grid(header, rows)
    raise ScheduleCsvError(
        1,
        1,
        header[0],
        "unknown header: write advisor_id,start,end,activity (one row per shift) or "
        "start,<advisor id>,… (one row per interval, one column per advisor)",
    )


def _instant(line: int, column: int, name: str, cell: str) -> Instant:
    try:
        return parse_instant(cell)
    except DatetimeError as exc:
        raise ScheduleCsvError(line, column, name, str(exc)) from None


def _activity(line: int, column: int, name: str, cell: str) -> str:
    activity = cell.strip()
    if not activity:
        raise ScheduleCsvError(line, column, name, "no activity; write work or a reason code")
    return activity


def _shifts(rows: list[list[str]], header: list[str]) -> ParsedSchedule:
    shifts: list[Shift] = []
    lines: list[int] = []
    for line, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(SHIFTS_HEADER):
            raise ScheduleCsvError(
                line, 0, "", f"{len(cells)} cells; a shift has 4: advisor_id,start,end,activity"
            )
        advisor_id = cells[0].strip()
        if not advisor_id:
            raise ScheduleCsvError(line, 1, "advisor_id", "no advisor id")
        start = _instant(line, 2, "start", cells[1])
        end = _instant(line, 3, "end", cells[2])
        if end <= start:
            raise ScheduleCsvError(line, 3, "end", "the shift ends before it starts")
        activity = _activity(line, 4, "activity", cells[3])
        shifts.append(Shift(advisor_id=advisor_id, start=start, end=end, activity=activity))
        lines.append(line)
    return ParsedSchedule(shifts, lines, header, grid=False)


def _grid(header: list[str], rows: list[list[str]]) -> ParsedSchedule:
    advisors = header[1:]
    for column, name in enumerate(advisors, start=2):
        if name in CHANNELS:
            raise ScheduleCsvError(
                1,
                column,
                name,
                "this looks like `aiguillage staff plan`'s CSV, which counts advisors per "
                "channel and names none: put one column per advisor id, each cell the activity "
                "(work, a pause's reason code, or empty when off)",
            )
        if not name:
            raise ScheduleCsvError(1, column, "", "no advisor id in this column's header")
        if name in advisors[: column - 2]:
            raise ScheduleCsvError(1, column, name, "this advisor has two columns")
    body = [(line, cells) for line, cells in enumerate(rows[1:], start=2) if any(cells)]
    starts: list[Instant] = []
    for line, cells in body:
        if len(cells) != len(header):
            raise ScheduleCsvError(line, 0, "", f"{len(cells)} cells, the header has {len(header)}")
        start = _instant(line, 1, "start", cells[0])
        if starts and start <= starts[-1]:
            raise ScheduleCsvError(line, 1, "start", "starts must increase from row to row")
        starts.append(start)
    if len(starts) < 2:
        raise ScheduleCsvError(
            len(rows) + 1 if rows else 1,
            0,
            "",
            "a grid needs at least two rows: an interval ends where the next one starts",
        )
    ends = [*starts[1:], starts[-1] + (starts[-1] - starts[-2])]
    shifts: list[Shift] = []
    lines: list[int] = []
    for column, advisor_id in enumerate(advisors, start=1):
        # (activity, start, line, end) of the stretch under way
        current: tuple[str, Instant, int, Instant] | None = None
        for (line, cells), start, end in zip(body, starts, ends, strict=True):
            activity = cells[column].strip()
            if current is not None and activity == current[0]:
                current = (activity, current[1], current[2], end)
                continue
            if current is not None:
                shifts.append(_stretch(advisor_id, current))
                lines.append(current[2])
            current = (activity, start, line, end) if activity else None
        if current is not None:
            shifts.append(_stretch(advisor_id, current))
            lines.append(current[2])
    order = sorted(range(len(shifts)), key=lambda i: (lines[i], shifts[i].advisor_id))
    return ParsedSchedule([shifts[i] for i in order], [lines[i] for i in order], header, grid=True)


def _stretch(advisor_id: str, stretch: tuple[str, Instant, int, Instant]) -> Shift:
    activity, start, _, end = stretch
    return Shift(advisor_id=advisor_id, start=start, end=end, activity=activity)
