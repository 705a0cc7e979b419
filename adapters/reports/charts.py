"""Charts as inline SVG drawn from numbers: lines over a numeric axis, bars per category.

The report (``report.py``) decides what to plot and words every label; this module only draws.
Nothing is fetched and nothing runs: each chart is one ``<svg>`` element with its legend,
axes, ticks and axis titles inside, sized by its ``viewBox`` so it scales with the page. Every
string is escaped here, whatever its origin.

Colours are the Okabe-Ito palette, chosen to stay distinct for the common colour-vision
deficiencies. Labels that would overlap are left out (ticks) or moved aside (targets).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from html import escape
from typing import Protocol

__all__ = [
    "PALETTE",
    "Axis",
    "Bars",
    "CalendarWords",
    "Frame",
    "Guide",
    "Line",
    "bar_chart",
    "calendar_ticks",
    "line_chart",
]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")

_CHAR_PX = 6.4
"""Rough width of one character of the 11 to 12 px labels, to keep labels from overlapping."""


@dataclass(frozen=True, slots=True)
class Frame:
    """A chart's size in SVG units, its accessible name, and what it says when empty."""

    width: int
    height: int
    name: str
    empty: str


@dataclass(frozen=True, slots=True)
class Axis:
    """An axis from ``low`` to ``high``: ticks with their labels, and the axis title.

    With ``centred``, a label sits in the middle of the span from its tick to the next (days
    of the week, months); otherwise under or beside its tick.
    """

    low: float
    high: float
    ticks: Sequence[tuple[float, str]]
    title: str
    centred: bool = False

    @classmethod
    def of_values(
        cls, high: float, title: str, label: Callable[[float, int], str], *, whole: bool = False
    ) -> Axis:
        """Return an axis from zero to a round value above ``high``, with 4 to 6 ticks.

        ``label(value, digits)`` words a tick; ``whole`` keeps the ticks on integers.
        """
        top = high if high > 0 and math.isfinite(high) else 1.0
        step = _round_step(top / 5)
        if whole:
            step = max(1.0, round(step))
        count = max(1, math.ceil(top / step - 1e-9))
        digits = 0 if step >= 1 else max(0, -math.floor(math.log10(step) + 1e-9))
        if step < 1 and round(step * 10**digits, 6) % 1:
            digits += 1
        ticks = [(n * step, label(n * step, digits)) for n in range(count + 1)]
        return cls(0.0, count * step, ticks, title)


@dataclass(frozen=True, slots=True)
class Line:
    """One series of a line chart; ``None`` as a value leaves a gap."""

    label: str
    colour: str
    points: Sequence[tuple[float, float | None]]


@dataclass(frozen=True, slots=True)
class Guide:
    """A dashed horizontal reference (a target), labelled at the right end of the plot."""

    value: float
    colour: str
    label: str


@dataclass(frozen=True, slots=True)
class Bars:
    """One series of a bar chart: a value per category, and each bar's tooltip."""

    label: str
    colour: str
    values: Sequence[float]
    tips: Sequence[str]


def line_chart(
    frame: Frame,
    lines: Sequence[Line],
    x: Axis,
    y: Axis,
    *,
    max_gap: float = math.inf,
    guides: Sequence[Guide] = (),
    guide_legend: str = "",
) -> str:
    """Return an SVG line chart; points further apart than ``max_gap`` are not joined."""
    legend = [(line.label, line.colour, "line") for line in lines]
    if guides and guide_legend:
        legend.append((guide_legend, "#555555", "dash"))
    plot = _Plot(frame, x, y, legend)
    parts = [plot.open(), plot.legend(), plot.axes()]
    drawn = False
    for line in lines:
        for segment in _segments(line.points, max_gap):
            drawn = True
            if len(segment) == 1:
                px, py = segment[0]
                parts.append(
                    f'<circle cx="{_num(plot.x(px))}" cy="{_num(plot.y(py))}" r="2.5" '
                    f'fill="{line.colour}"/>'
                )
                continue
            coordinates = " ".join(plot.at(px, py) for px, py in segment)
            parts.append(
                f'<polyline fill="none" stroke="{line.colour}" stroke-width="1.8" '
                f'stroke-linejoin="round" points="{coordinates}"/>'
            )
    placed: list[tuple[float, float]] = []
    for guide in guides:
        gy = plot.y(guide.value)
        # Targets a few points apart would print their labels on top of each other: the
        # later one moves left until it is clear of those already placed.
        size = len(guide.label) * _CHAR_PX
        end = plot.right - 4.0
        while any(abs(gy - py) < 12 and px - size - 8 < end <= px for px, py in placed):
            end -= size + 8
        placed.append((end, gy))
        parts.append(
            f'<line x1="{plot.left}" x2="{plot.right}" y1="{_num(gy)}" y2="{_num(gy)}" '
            f'stroke="{guide.colour}" stroke-width="1.4" stroke-dasharray="6 4"/>'
            f'<text x="{_num(end)}" y="{_num(gy - 4)}" text-anchor="end" fill="{guide.colour}" '
            f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{escape(guide.label)}</text>'
        )
    if not drawn:
        parts.append(plot.empty())
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(frame: Frame, bars: Sequence[Bars], x: Axis, y: Axis, *, stacked: bool) -> str:
    """Return an SVG bar chart: category ``i`` spans ``[i, i + 1)`` on the x axis.

    Bars of the series stand side by side in their category, or on top of each other when
    ``stacked`` (many categories). Zero bars are left out, so a long quiet run stays small.
    """
    plot = _Plot(frame, x, y, [(series.label, series.colour, "box") for series in bars])
    parts = [plot.open(), plot.legend(), plot.axes()]
    categories = max((len(series.values) for series in bars), default=0)
    slot = plot.width / max(1.0, x.high - x.low)
    inner = slot * (0.9 if stacked else 0.8)
    for index in range(categories):
        base = 0.0
        for number, series in enumerate(bars):
            value = series.values[index] if index < len(series.values) else 0.0
            if value <= 0:
                continue
            if stacked:
                left = plot.x(index) + (slot - inner) / 2
                width = inner
                bottom, top = base, base + value
                base = top
            else:
                width = inner / len(bars)
                left = plot.x(index) + (slot - inner) / 2 + number * width
                bottom, top = 0.0, value
            y_top, y_bottom = plot.y(top), plot.y(bottom)
            tip = series.tips[index] if index < len(series.tips) else ""
            parts.append(
                f'<rect x="{_num(left)}" y="{_num(y_top)}" width="{_num(max(width - 0.5, 0.6))}" '
                f'height="{_num(max(y_bottom - y_top, 0.8))}" fill="{series.colour}">'
                f"<title>{escape(tip)}</title></rect>"
            )
    if categories == 0:
        parts.append(plot.empty())
    parts.append("</svg>")
    return "".join(parts)


class _Plot:
    """The geometry of one chart: margins, legend rows, and data-to-pixel scales."""

    def __init__(
        self, frame: Frame, x: Axis, y: Axis, legend: Sequence[tuple[str, str, str]]
    ) -> None:
        self.frame, self.x_axis, self.y_axis = frame, x, y
        self.entries = legend
        self.rows = self._legend_rows()
        y_label = max((len(label) for _, label in y.ticks), default=1)
        self.left = round(30 + y_label * _CHAR_PX)
        self.right = frame.width - 14
        self.top = 12 + 18 * len(self.rows)
        self.bottom = frame.height - 40
        self.width = self.right - self.left
        self.height = self.bottom - self.top

    def x(self, value: float) -> float:
        span = self.x_axis.high - self.x_axis.low or 1.0
        return self.left + (value - self.x_axis.low) / span * self.width

    def y(self, value: float) -> float:
        span = self.y_axis.high - self.y_axis.low or 1.0
        return self.bottom - min(1.0, max(0.0, (value - self.y_axis.low) / span)) * self.height

    def at(self, x_value: float, y_value: float) -> str:
        """Return a point as SVG coordinates, ``x,y``."""
        return f"{_num(self.x(x_value))},{_num(self.y(y_value))}"

    def open(self) -> str:
        frame = self.frame
        return (
            f'<svg viewBox="0 0 {frame.width} {frame.height}" width="{frame.width}" '
            f'height="{frame.height}" role="img" aria-label="{escape(frame.name)}">'
            f'<rect width="{frame.width}" height="{frame.height}" fill="#ffffff"/>'
        )

    def _legend_rows(self) -> list[list[tuple[str, str, str, float]]]:
        rows: list[list[tuple[str, str, str, float]]] = []
        cursor = math.inf
        for label, colour, kind in self.entries:
            size = 26 + len(label) * _CHAR_PX + 14
            if cursor + size > self.frame.width - 20:
                rows.append([])
                cursor = 0.0
            rows[-1].append((label, colour, kind, cursor))
            cursor += size
        return rows

    def legend(self) -> str:
        parts = []
        for number, row in enumerate(self.rows):
            base = 14 + 18 * number
            for label, colour, kind, offset in row:
                left = _num(self.left + offset)
                if kind == "box":
                    swatch = (
                        f'<rect x="{left}" y="{base - 9}" width="18" height="10" fill="{colour}"/>'
                    )
                else:
                    dash = ' stroke-dasharray="6 4"' if kind == "dash" else ""
                    swatch = (
                        f'<line x1="{left}" x2="{_num(self.left + offset + 20)}" y1="{base - 4}" '
                        f'y2="{base - 4}" stroke="{colour}" stroke-width="2.4"{dash}/>'
                    )
                parts.append(
                    f'{swatch}<text x="{_num(self.left + offset + 26)}" y="{base}">'
                    f"{escape(label)}</text>"
                )
        return "".join(parts)

    def axes(self) -> str:
        parts = []
        for value, label in self.y_axis.ticks:
            ty = _num(self.y(value))
            parts.append(
                f'<line x1="{self.left}" x2="{self.right}" y1="{ty}" y2="{ty}" stroke="#e3e3e3"/>'
                f'<text x="{self.left - 6}" y="{_num(self.y(value) + 4)}" text-anchor="end">'
                f"{escape(label)}</text>"
            )
        parts.append(self._x_ticks())
        parts.append(
            f'<line x1="{self.left}" x2="{self.right}" y1="{self.bottom}" y2="{self.bottom}" '
            'stroke="#777777"/>'
            f'<line x1="{self.left}" x2="{self.left}" y1="{self.top}" y2="{self.bottom}" '
            'stroke="#777777"/>'
            f'<text x="{_num(self.left + self.width / 2)}" y="{self.frame.height - 6}" '
            f'text-anchor="middle" class="axis">{escape(self.x_axis.title)}</text>'
            f'<text transform="translate(13 {_num(self.top + self.height / 2)}) rotate(-90)" '
            f'text-anchor="middle" class="axis">{escape(self.y_axis.title)}</text>'
        )
        return "".join(parts)

    def _x_ticks(self) -> str:
        axis = self.x_axis
        inside = [(v, label) for v, label in axis.ticks if axis.low <= v <= axis.high]
        parts = []
        free_from = -math.inf
        for index, (value, label) in enumerate(inside):
            tx = self.x(value)
            parts.append(
                f'<line x1="{_num(tx)}" x2="{_num(tx)}" y1="{self.top}" y2="{self.bottom + 4}" '
                'stroke="#eeeeee"/>'
            )
            if not label:
                continue
            size = len(label) * _CHAR_PX
            if axis.centred:
                after = inside[index + 1][0] if index + 1 < len(inside) else axis.high
                room = self.x(after) - tx - 4
                if size > room and " " in label:  # "janv. 2028" shortens to "janv."
                    label = label.rsplit(" ", 1)[0]
                    size = len(label) * _CHAR_PX
                if size > room:
                    continue
                tx = (tx + self.x(after)) / 2
            tx = min(max(tx, size / 2 + 2), self.frame.width - size / 2 - 2)
            if tx - size / 2 < free_from:
                continue
            free_from = tx + size / 2 + 6
            parts.append(
                f'<text x="{_num(tx)}" y="{self.bottom + 17}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
        return "".join(parts)

    def empty(self) -> str:
        return (
            f'<text x="{_num(self.left + self.width / 2)}" y="{_num(self.top + self.height / 2)}" '
            f'text-anchor="middle" class="empty">{escape(self.frame.empty)}</text>'
        )


class CalendarWords(Protocol):
    """How a language names days and months on an axis."""

    def day(self, day: date) -> str: ...
    def day_month(self, day: date) -> str: ...
    def month(self, day: date, *, year: bool) -> str: ...


def calendar_ticks(
    start: datetime, end: datetime, zone: tzinfo, words: CalendarWords, *, hours: bool = True
) -> tuple[list[tuple[datetime, str]], bool]:
    """Return ticks for a time axis from ``start`` to ``end``, and whether labels are centred.

    Up to two days (with ``hours``): every 3 or 6 hours. Up to 16 days: every local midnight,
    the day's name centred in it. Up to 100 days: Mondays. Beyond: months, centred.
    """
    days = (end - start).total_seconds() / 86400
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    midnights = [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def at(day: date, hour: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=zone)

    if hours and days <= 2:
        step = 3 if days <= 1 else 6
        ticks = [
            (at(day, hour), words.day(day) if hour == 0 else f"{hour:02d}:00")
            for day in midnights
            for hour in range(0, 24, step)
        ]
        ticks = [(t, label) for t, label in ticks if start <= t <= end]
        if len(ticks) < 2:  # a run of a few intervals: its own start and end
            ticks = [(t, f"{t.astimezone(zone):%H:%M}") for t in (start, end)]
        return ticks, False
    if days <= 16:
        return [(at(day), words.day(day)) for day in midnights if start <= at(day)], True
    if days <= 100:
        return [(at(day), words.day_month(day)) for day in midnights if day.weekday() == 0], False
    months = [day for day in midnights if day.day == 1 or day == first]
    return [(at(d), words.month(d, year=d.month == 1 or d == first)) for d in months], True


def _segments(
    points: Sequence[tuple[float, float | None]], max_gap: float
) -> list[list[tuple[float, float]]]:
    """Split a series where a value is missing or two points are too far apart."""
    segments: list[list[tuple[float, float]]] = []
    previous: float | None = None
    for x_value, y_value in points:
        if y_value is None or not math.isfinite(y_value):
            previous = None
            continue
        if previous is None or x_value - previous > max_gap:
            segments.append([])
        segments[-1].append((x_value, y_value))
        previous = x_value
    return segments


def _round_step(raw: float) -> float:
    """Return 1, 2, 2.5 or 5 times a power of ten, the first at least ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw * (1 - 1e-9):
            return factor * power
    return 10 * power


def _num(value: float) -> str:
    """Return an SVG coordinate with one decimal at most, which is plenty and keeps pages small."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
