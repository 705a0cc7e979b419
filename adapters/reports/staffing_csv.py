"""Staffing plans as CSV: one row per interval, ``start`` then advisors on the floor per channel.

``start`` is ISO-8601 with its UTC offset (a naive time is refused, as everywhere at the edges);
each other column is a channel with a whole number of advisors on the floor (after shrinkage:
the advisors to schedule are more). ``aiguillage staff plan`` writes
this format and ``aiguillage simulate --plan`` reads it; a spreadsheet can edit it in between.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from zoneinfo import ZoneInfo

from aiguillage.adapters.config.datetimes import DatetimeError, format_instant, parse_instant
from aiguillage.engine.policies import CHANNELS, Channel
from aiguillage.simulations.planning import PlanRow

__all__ = ["PlanError", "plan_to_csv", "read_plan"]


class PlanError(ValueError):
    """A staffing plan file that cannot be read; the message names the line and the fix."""


def plan_to_csv(rows: list[PlanRow], zone: ZoneInfo) -> str:
    """Return a plan as CSV text."""
    channels = [c for c in CHANNELS if rows and c in rows[0].needs]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", *channels])
    for row in rows:
        writer.writerow([format_instant(row.start, zone), *(row.needs[c] for c in channels)])
    return out.getvalue()


def read_plan(path: Path) -> tuple[PlanRow, ...]:
    """Read a plan written by ``plan_to_csv`` (or edited since), checking every cell."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the plan: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "start":
        raise PlanError(f"{path}:1: the first column must be `start`, then channels")
    channels: list[Channel] = []
    for name in header[1:]:
        if name.strip() not in CHANNELS:
            raise PlanError(
                f"{path}:1: unknown channel `{name}`; columns are start, {', '.join(CHANNELS)}"
            )
        channels.append(name.strip())  # type: ignore[arg-type]
    rows: list[PlanRow] = []
    for line, cells in enumerate(reader, start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            raise PlanError(f"{path}:{line}: {len(cells)} cells, the header has {len(header)}")
        try:
            start = parse_instant(cells[0])
        except DatetimeError as exc:
            raise PlanError(f"{path}:{line}: start: {exc}") from None
        needs: dict[Channel, int] = {}
        for channel, cell in zip(channels, cells[1:], strict=True):
            if not cell.strip().isdigit():
                raise PlanError(
                    f"{path}:{line}: {channel}: `{cell}` is not a whole number of advisors"
                )
            needs[channel] = int(cell)
        if rows and start <= rows[-1].start:
            raise PlanError(f"{path}:{line}: starts must increase from row to row")
        rows.append(PlanRow(start=start, needs=needs))
    if not rows:
        raise PlanError(f"{path}: the plan has no interval")
    return tuple(rows)
