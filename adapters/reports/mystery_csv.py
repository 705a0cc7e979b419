"""Mystery-shopper results as CSV: the columns, and every problem named by line and column.

A header line, then one visit a line, comma-separated, UTF-8::

    date,channel,scenario,<one column per criterion of the audit grid>,comment
    2027-03-04,voice,refund_request,4,3,4,2,ok_courteous

``date`` is the visit's day (``YYYY-MM-DD``); ``channel`` one of the channels; ``scenario`` the
scenario's code; each criterion of ``[quality.grid]`` its score, a whole number from 0 to the
grid's ``scale``; ``comment`` a code (letters, digits, ``_ - .``), possibly empty. No free
text: the journal keeps the results for good and cannot be erased. The columns may come in any
order; every one of them must be there, and no other.

``read_mystery(text, quality)`` returns the visits, each with its weighted score, or raises
``MysteryCsvError`` at the first problem, naming its line and column: nothing is imported.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from aiguillage.adapters.config.quality import QualitySettings, weighted_score
from aiguillage.engine.audits import MysteryResult, is_code
from aiguillage.engine.policies import CHANNELS

__all__ = ["FIXED_COLUMNS", "MysteryCsvError", "read_mystery"]

FIXED_COLUMNS = ("date", "channel", "scenario", "comment")


class MysteryCsvError(ValueError):
    """A problem of the CSV: ``line`` (1 is the header) and ``column`` (its name) say where."""

    def __init__(self, line: int, column: str, message: str) -> None:
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.column = column


def read_mystery(text: str, quality: QualitySettings) -> tuple[MysteryResult, ...]:
    """Return the visits the CSV lists; ``MysteryCsvError`` names the first problem."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise MysteryCsvError(1, "", "no header: the first line names the columns")
    header = [cell.strip() for cell in rows[0]]
    expected = [*FIXED_COLUMNS[:3], *quality.grid, FIXED_COLUMNS[3]]
    for name in header:
        if name not in expected:
            raise MysteryCsvError(
                1, name, f"unknown column {name!r}; the columns are {', '.join(expected)}"
            )
    if len(set(header)) != len(header):
        raise MysteryCsvError(1, "", "a column is named twice")
    for name in expected:
        if name not in header:
            raise MysteryCsvError(1, name, f"column {name!r} is missing")
    results: list[MysteryResult] = []
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise MysteryCsvError(
                line, "", f"{len(row)} values for {len(header)} columns: give one per column"
            )
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        results.append(_visit(line, cells, quality))
    if not results:
        raise MysteryCsvError(2, "", "no visit after the header")
    return tuple(results)


def _visit(line: int, cells: dict[str, str], quality: QualitySettings) -> MysteryResult:
    day = cells["date"]
    try:
        date.fromisoformat(day)
        if len(day) != 10:
            raise ValueError
    except ValueError:
        raise MysteryCsvError(line, "date", f"{day!r} is not a day: give YYYY-MM-DD") from None
    channel = cells["channel"]
    if channel not in CHANNELS:
        raise MysteryCsvError(
            line, "channel", f"{channel!r} is not a channel: one of {', '.join(CHANNELS)}"
        )
    for name in ("scenario", "comment"):
        value = cells[name]
        if (value or name == "scenario") and not is_code(value):
            raise MysteryCsvError(
                line,
                name,
                f"{value!r} is not a code: letters, digits, _ - . only, at most 40 (no free text)",
            )
    scores: dict[str, int] = {}
    for criterion in quality.grid:
        value = cells[criterion]
        if not (value.isascii() and value.isdigit()) or int(value) > quality.scale:
            raise MysteryCsvError(
                line,
                criterion,
                f"{value!r} is not a score: a whole number from 0 to {quality.scale}",
            )
        scores[criterion] = int(value)
    return MysteryResult(
        day=day,
        channel=channel,
        scenario=cells["scenario"],
        scores=scores,
        weighted=weighted_score(scores, quality),
        comment=cells["comment"],
    )
