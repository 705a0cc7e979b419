"""The HTML report of a simulation: one self-contained page, in French or in English.

``render_html(result)`` returns a complete HTML5 document for a ``RunResult`` or a
``ReplicatedRun`` (``simulations/outcome.py``): a table per channel against its target, five
inline SVG charts and what the figures mean. The page fetches nothing (inline CSS, no script,
no font, no image, and a Content-Security-Policy that forbids any fetch), so it can be mailed,
archived or opened offline as it is. Every string from the data is escaped.

Long runs are aggregated before they are drawn: per-interval charts keep at most
``MAX_POINTS`` points per channel by grouping intervals into hours, days or weeks, so a year
of 30-minute intervals is drawn as daily values in a page of a few hundred kilobytes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiguillage.adapters.reports.charts import (
    PALETTE,
    Axis,
    Bars,
    Frame,
    Guide,
    Line,
    bar_chart,
    calendar_ticks,
    line_chart,
)
from aiguillage.adapters.reports.words import DASH, LANGUAGES, Language
from aiguillage.engine import figures as defined
from aiguillage.simulations.outcome import Estimate, IntervalRow, ReplicatedRun, RunResult

__all__ = ["LANGUAGES", "MAX_POINTS", "render_html"]

MAX_POINTS = 400
"""Most points per channel in a per-interval chart; longer runs are grouped (hours, days…)."""

_GROUPS = (60, 120, 180, 360, 720, 1440, 10080)
"""Widths, in minutes, that intervals are grouped into when a run has too many of them."""


def render_html(result: RunResult | ReplicatedRun, *, language: str = "fr") -> str:
    """Return the report of a run, or of replicated runs, as one self-contained HTML page.

    ``language`` is ``"fr"`` (the default) or ``"en"``; it words every label and formats every
    number. A replicated run shows each figure as its mean with a 95 % confidence interval.
    """
    if language not in LANGUAGES:
        raise ValueError(f"no report language {language!r}; choose one of {', '.join(LANGUAGES)}")
    runs = [result] if isinstance(result, RunResult) else list(result.runs)
    if not runs:
        raise ValueError("a replicated run without any run has nothing to report")
    words = Language(language)
    first = runs[0]
    title = f"{words('report')} — {first.deployment}"
    return "".join(
        [
            f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta http-equiv="Content-Security-Policy" '
            "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
            _header(runs, words),
            "<main>\n",
            _table(result, runs, words),
            _told(result, runs, words),
            _callbacks(result, runs, words),
            _charts(runs, words),
            "</main>\n<footer>\n",
            *(
                f"<p>{escape(line)}</p>\n"
                for line in words("definitions", zone=first.timezone).split("|")
            ),
            "</footer>\n</body>\n</html>\n",
        ]
    )


_STYLE = """
body { font: 15px/1.45 system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1d1d1f; background: #f6f6f4; margin: 0 auto; max-width: 1200px; padding: 24px; }
header p { margin: .2em 0; color: #444; }
.eyebrow { text-transform: uppercase; letter-spacing: .06em; font-size: 12px; color: #666; }
h1 { margin: .1em 0 .3em; font-size: 26px; }
h2 { font-size: 19px; margin: 1.4em 0 .5em; }
h3 { font-size: 15px; margin: 0; }
table { border-collapse: collapse; width: 100%; background: #fff;
  font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid #e2e2e2; text-align: right;
  vertical-align: top; }
thead th { font-size: 13px; color: #444; background: #eeeeec; }
th:first-child, td:first-child { text-align: left; }
td.met { background: #e3f3e6; color: #11602c; font-weight: 600; }
td.missed { background: #fbe4e2; color: #a0231a; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 6px; }
.ci { display: block; font-size: 12px; color: #555; font-weight: 400; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
  gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #e2e2e2; padding: 10px; }
figure.wide { grid-column: 1 / -1; }
figcaption p { margin: .1em 0 .4em; font-size: 13px; color: #555; }
svg { display: block; width: 100%; height: auto; font-size: 11.5px; fill: #333; }
svg .axis { font-size: 12px; fill: #555; }
svg .empty { font-size: 15px; fill: #888; }
footer { margin-top: 24px; font-size: 13px; color: #555; border-top: 1px solid #ddd; }
@media print { body { background: #fff; } figure { break-inside: avoid; } }
"""


def _header(runs: list[RunResult], words: Language) -> str:
    first = runs[0]
    start, end = _parse(first.start), _parse(first.end)
    if start is not None and end is not None:
        seconds = (end - start).total_seconds()
        days = seconds / 86400
        length = (
            _figure("duration", seconds, words)[0]
            if days < 1
            else words("one_day" if days == 1 else "days", n=words.number(days, int(days % 1 > 0)))
        )
        period = words(
            "period",
            start=words.moment(start),
            end=words.moment(end),
            zone=first.timezone,
            days=length,
        )
    else:
        period = f"{first.start} {DASH} {first.end} ({first.timezone})"
    about = {"strategy": first.strategy, "minutes": first.interval_minutes}
    if len(runs) == 1:
        line = words("one_run", seed=first.seed, **about)
    else:
        seeds = sorted(run.seed for run in runs)
        listed = (
            words("seed_range", first=seeds[0], last=seeds[-1])
            if seeds == list(range(seeds[0], seeds[0] + len(seeds)))
            else ", ".join(map(str, seeds))
        )
        line = words("runs", count=len(runs), seeds=listed, **about)
    return (
        f'<header>\n<p class="eyebrow">{escape(words("report"))}</p>\n'
        f"<h1>{escape(first.deployment)}</h1>\n<p>{escape(period)}</p>\n"
        f"<p>{escape(line)}</p>\n</header>\n"
    )


def _table(result: RunResult | ReplicatedRun, runs: list[RunResult], words: Language) -> str:
    estimates = {} if isinstance(result, RunResult) else result.estimates
    heads = "".join(f'<th scope="col">{escape(h)}</th>' for h in words("columns").split("|"))
    rows = []
    for index, summary in enumerate(runs[0].channels):
        channel = summary.channel
        colour = PALETTE[index % len(PALETTE)]

        def mean(field: str, channel: str = channel) -> float:
            return sum(_field(run, channel, field) for run in runs) / len(runs)

        def cell(field: str, kind: str, channel: str = channel) -> str:
            return _cell(estimates.get(channel, {}).get(field), runs, channel, field, kind, words)

        shorts = mean("short_abandons")
        short = (
            f'<span class="ci">{escape(words("short", n=_figure("count", shorts, words)[0]))}'
            "</span>"
            if shorts > 0
            else ""
        )
        level = estimates.get(channel, {}).get("service_level")
        met = (level.mean if level else mean("service_level")) >= summary.target_share
        verdict = words("met" if met else "missed")
        rows.append(
            f'<tr><th scope="row"><span class="swatch" style="background:{colour}"></span>'
            f"{escape(words.channel(channel))}</th>"
            + "".join(
                f"<td>{escape(_figure('count', mean(field), words)[0])}</td>"
                for field in ("offered", "answered")
            )
            + f"<td>{escape(_figure('count', mean('abandoned'), words)[0])}{short}</td>"
            + f'<td class="{"met" if met else "missed"}" title="{escape(verdict)}">'
            f"{'✓' if met else '✗'} {cell('service_level', 'share')}</td>"
            f"<td>{escape(words.percent(summary.target_share, 0))}</td>"
            f"<td>{cell('mean_wait_s', 'duration')}</td><td>{cell('p90_wait_s', 'duration')}</td>"
            f"<td>{cell('breaches', 'count')}</td><td>{cell('penalties_eur', 'euros')}</td>"
            f"<td>{cell('occupancy', 'share')}</td></tr>\n"
        )
    occupancy = sum(run.occupancy for run in runs) / len(runs)
    penalties = sum(c.penalties_eur for run in runs for c in run.channels) / len(runs)
    overall = words("overall", occupancy=words.percent(occupancy), penalties=words.euros(penalties))
    note = f"<p>{escape(words('ci_note', count=len(runs)))}</p>\n" if len(runs) > 1 else ""
    return (
        f"<section>\n<h2>{escape(words('by_channel'))}</h2>\n{note}<table>\n"
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n</table>\n"
        f"<p>{escape(overall)}</p>\n</section>\n"
    )


TOLD_AIM = 0.10
"""The aim for the estimated wait: at most this share of callers wait more than a minute beyond
what they were told."""


def _told(result: RunResult | ReplicatedRun, runs: list[RunResult], words: Language) -> str:
    """The estimated wait told to waiting callers, against the waits that followed.

    Only channels where callers were told an estimate have a row; a run without any (older
    outputs, or no caller ever waited) has no such section.
    """
    estimates = {} if isinstance(result, RunResult) else result.estimates
    rows = []
    for index, summary in enumerate(runs[0].channels):
        channel = summary.channel
        told = sum(_field(run, channel, "estimated") for run in runs) / len(runs)
        if told <= 0:
            continue

        def cell(field: str, kind: str, channel: str = channel) -> str:
            return _cell(estimates.get(channel, {}).get(field), runs, channel, field, kind, words)

        late = estimates.get(channel, {}).get("estimate_late_share")
        late_mean = (
            late.mean
            if late is not None
            else sum(_field(run, channel, "estimate_late_share") for run in runs) / len(runs)
        )
        met = late_mean <= TOLD_AIM
        verdict = words("met" if met else "missed")
        colour = PALETTE[index % len(PALETTE)]
        rows.append(
            f'<tr><th scope="row"><span class="swatch" style="background:{colour}"></span>'
            f"{escape(words.channel(channel))}</th>"
            f"<td>{escape(_figure('count', told, words)[0])}</td>"
            f'<td class="{"met" if met else "missed"}" title="{escape(verdict)}">'
            f"{'✓' if met else '✗'} {cell('estimate_late_share', 'share')}</td>"
            f"<td>{cell('estimate_mae_s', 'duration')}</td>"
            f"<td>{cell('estimate_over_share', 'share')}</td></tr>\n"
        )
    if not rows:
        return ""
    heads = "".join(
        f'<th scope="col">{escape(h)}</th>'
        for h in words("told_columns", aim=words.percent(TOLD_AIM, 0)).split("|")
    )
    return (
        f"<section>\n<h2>{escape(words('told'))}</h2>\n"
        f"<p>{escape(words('told_note'))}</p>\n<table>\n"
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n</table>\n"
        "</section>\n"
    )


def _callbacks(result: RunResult | ReplicatedRun, runs: list[RunResult], words: Language) -> str:
    """Callbacks asked for, and what became of them, apart from the calls' service level.

    Only channels where callers asked for one have a row; a run without any has no section.
    """
    estimates = {} if isinstance(result, RunResult) else result.estimates
    rows = []
    for index, summary in enumerate(runs[0].channels):
        channel = summary.channel
        if not any(_field(run, channel, "callbacks_requested") for run in runs):
            continue

        def cell(field: str, kind: str, channel: str = channel) -> str:
            return _cell(estimates.get(channel, {}).get(field), runs, channel, field, kind, words)

        colour = PALETTE[index % len(PALETTE)]
        counts = (
            "callbacks_requested",
            "callbacks_requested_within_sla",
            "callbacks_reached",
            "callbacks_unreached",
            "callbacks_open",
            "callbacks_made_within_target",
        )
        rows.append(
            f'<tr><th scope="row"><span class="swatch" style="background:{colour}"></span>'
            f"{escape(words.channel(channel))}</th>"
            + "".join(f"<td>{cell(field, 'count')}</td>" for field in counts)
            + f"<td>{cell('callback_service_level', 'share')}</td></tr>\n"
        )
    if not rows:
        return ""
    heads = "".join(
        f'<th scope="col">{escape(h)}</th>' for h in words("callbacks_columns").split("|")
    )
    return (
        f"<section>\n<h2>{escape(words('callbacks'))}</h2>\n"
        f"<p>{escape(words('callbacks_note'))}</p>\n<table>\n"
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n</table>\n"
        "</section>\n"
    )


def _cell(
    estimate: Estimate | None,
    runs: list[RunResult],
    channel: str,
    field: str,
    kind: str,
    words: Language,
) -> str:
    """A figure's mean over the runs, with its confidence interval when there are several."""
    value = (
        estimate.mean
        if estimate is not None
        else sum(_field(run, channel, field) for run in runs) / len(runs)
    )
    text, bare = _figure(kind, value, words)
    if estimate is None or len(runs) == 1:
        return escape(text)
    low = max(0.0, estimate.low)
    high = min(1.0, estimate.high) if kind == "share" else estimate.high
    bounds = f"[{bare(low)} {DASH} {bare(high)}]"
    return f'{escape(text)}<span class="ci">{escape(bounds)}</span>'


def _field(run: RunResult, channel: str, field: str) -> float:
    for summary in run.channels:
        if summary.channel == channel:
            return float(getattr(summary, field))
    return 0.0


def _figure(kind: str, value: float, words: Language) -> tuple[str, Callable[[float], str]]:
    """Return a figure as text, and how to write bounds of it in the same unit (no unit)."""
    if kind == "share":
        return words.percent(value), lambda bound: words.number(bound * 100, 1)
    if kind == "euros":
        return words.euros(value), lambda bound: words.number(bound)
    if kind == "count":
        digits = 0 if value == int(value) else 1
        return words.number(value, digits), lambda bound: words.number(bound, 1)
    factor, digits, unit = (1, 0, "s") if value < 60 else (60, 1, "min")
    if value >= 3600:
        factor, digits, unit = 3600, 1, "h"
    number = words.number(value / factor, digits)
    return f"{number}\u00a0{unit}", lambda bound: words.number(bound / factor, digits)


# -- the charts: what each shows, and how long runs are grouped --------------------------------

_WIDE = ' class="wide"'

_Placed = dict[str, list[tuple[datetime, IntervalRow]]]
"""Per channel, the rows of every run with their start as a local datetime."""


def _charts(runs: list[RunResult], words: Language) -> str:
    first = runs[0]
    channels: list[str] = [summary.channel for summary in first.channels]
    for run in runs:
        channels += [*run.series, *run.breaches_per_day]
    channels = list(dict.fromkeys(channels))
    colours = {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(channels)}
    parsed: dict[str, datetime | None] = {}
    placed: _Placed = {name: [] for name in channels}
    for run in runs:
        for name, rows in run.series.items():
            for row in rows:
                at = parsed[row.start] if row.start in parsed else _parse(row.start)
                parsed[row.start] = at
                if at is not None:
                    placed[name].append((at, row))
    period = _period(first, placed)
    figures = [
        *_backlog(placed, colours, max(1, first.interval_minutes), words),
        *_per_interval(placed, colours, first, period, words),
        _breaches(runs, channels, colours, period, words),
    ]
    return (
        f'<section>\n<h2>{escape(words("charts"))}</h2>\n<div class="charts">\n'
        + "".join(figures)
        + "</div>\n</section>\n"
    )


def _figure_html(title: str, note: str, svg: str, *, wide: bool = False) -> str:
    return (
        f"<figure{_WIDE if wide else ''}><figcaption><h3>{escape(title)}</h3>"
        f"<p>{escape(note)}</p></figcaption>{svg}</figure>\n"
    )


def _backlog(placed: _Placed, colours: dict[str, str], interval: int, words: Language) -> list[str]:
    """Average backlog per time of day, then per day of the week and time of day."""
    figures = []
    for key, span in (("day", 1440), ("week", 10080)):
        lines = []
        for name, rows in placed.items():
            sums: dict[int, list[float]] = {}
            for at, row in rows:
                # The backlog is counted at the end of an interval, so it is drawn there.
                slot = at.hour * 60 + at.minute + interval + (at.weekday() * 1440) * (span > 1440)
                total = sums.setdefault(slot, [0.0, 0.0])
                total[0] += row.waiting
                total[1] += 1
            points = [(float(slot), sum_ / n) for slot, (sum_, n) in sorted(sums.items())]
            lines.append(Line(words.channel(name), colours[name], points))
        high = max((y or 0.0 for line in lines for _, y in line.points), default=0.0)
        y = Axis.of_values(high, words("axis_waiting"), words.number)
        if span == 1440:
            x = Axis(
                0, 1440, [(h * 60, f"{h:02d}:00") for h in range(0, 25, 3)], words("axis_time")
            )
        else:
            names = [*words.names("weekdays"), ""]
            x = Axis(
                0, 10080, [(d * 1440, names[d]) for d in range(8)], words("axis_weekday"), True
            )
        frame = Frame(560, 300, words(f"{key}_title"), words("no_data"))
        svg = line_chart(frame, lines, x, y, max_gap=interval * 1.5)
        figures.append(_figure_html(words(f"{key}_title"), words(f"{key}_note"), svg))
    return figures


def _per_interval(
    placed: _Placed,
    colours: dict[str, str],
    first: RunResult,
    period: tuple[datetime, datetime],
    words: Language,
) -> list[str]:
    """Service level and occupancy per interval, or per group of intervals on long runs.

    A group's service level is its answers within the SLA over its answers and abandons, short
    abandons left out (``figures.service_level`` of sums, so quiet intervals weigh little); its
    occupancy is the mean over the
    intervals where it is not zero, since a closed channel's intervals carry no staff time (they
    are left blank).
    """
    start, end = period
    interval = max(1, first.interval_minutes)
    count = (end - start).total_seconds() / 60 / interval
    width = next(
        (w for w in (interval, *_GROUPS) if w >= interval and count * interval / w <= MAX_POINTS),
        _GROUPS[-1],
    )
    if width == interval:
        span = words("span_interval", minutes=interval)
    elif width < 1440:
        span = words("span_hours", hours=words.number(width / 60))
    else:
        span = words("span_day" if width == 1440 else "span_week")
    levels, busy = [], []
    for name, rows in placed.items():
        groups: dict[object, list[tuple[float, IntervalRow]]] = {}
        for at, row in rows:
            middle = at.timestamp() + interval * 30
            key: object = (middle - start.timestamp()) // (width * 60)
            if width >= 1440:  # whole local days or ISO weeks, whatever the UTC offset
                key = at.isocalendar()[:2] if width >= 10080 else at.date()
            groups.setdefault(key, []).append((middle, row))
        level_points: list[tuple[float, float | None]] = []
        busy_points: list[tuple[float, float | None]] = []
        for members in sorted(groups.values(), key=lambda members: members[0][0]):
            at_x = sum(middle for middle, _ in members) / len(members)
            level = defined.service_level(
                sum(row.answered_within_sla for _, row in members),
                sum(row.answered for _, row in members),
                sum(row.abandoned for _, row in members),
                sum(row.short_abandons for _, row in members),
            )
            level_points.append((at_x, level))
            shares = [row.occupancy for _, row in members if row.occupancy > 0]
            busy_points.append((at_x, sum(shares) / len(shares) if shares else None))
        levels.append(Line(words.channel(name), colours[name], level_points))
        busy.append(Line(words.channel(name), colours[name], busy_points))
    targets: dict[float, list[str]] = {}
    for summary in first.channels:
        if summary.target_share > 0:
            targets.setdefault(summary.target_share, []).append(colours[summary.channel])
    guides = [
        Guide(share, found[0] if len(found) == 1 else "#555555", words.percent(share, 0))
        for share, found in targets.items()
    ]
    ticks, centred = calendar_ticks(start, end, _zone(first, start), words)
    x = Axis(
        start.timestamp(),
        end.timestamp(),
        [(t.timestamp(), label) for t, label in ticks],
        words("axis_date"),
        centred,
    )
    percents = [(n / 5, words.percent(n / 5, 0)) for n in range(6)]
    figures = []
    for key, lines in (("sl", levels), ("occupancy", busy)):
        y = Axis(0, 1, percents, words(f"axis_{key}"))
        frame = Frame(560, 300, words(f"{key}_title"), words("no_data"))
        guide = guides if key == "sl" else []
        svg = line_chart(
            frame, lines, x, y, max_gap=width * 90, guides=guide, guide_legend=words("target")
        )
        figures.append(_figure_html(words(f"{key}_title"), words(f"{key}_note", span=span), svg))
    return figures


def _breaches(
    runs: list[RunResult],
    channels: list[str],
    colours: dict[str, str],
    period: tuple[datetime, datetime],
    words: Language,
) -> str:
    """Breaches per local day and channel: side by side, or stacked when the days are many."""
    start, end = period
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    for run in runs:
        for day in (day for per in run.breaches_per_day.values() for day in per):
            if (known := _day(day)) is not None:
                first, last = min(first, known), max(last, known)
    count = (last - first).days + 1
    dates = [first + timedelta(days=n) for n in range(count)]
    bars = []
    for name in channels:
        values = [0.0] * count
        for run in runs:
            for day, breaches in run.breaches_per_day.get(name, {}).items():
                if (known := _day(day)) is not None:
                    values[(known - first).days] += breaches / len(runs)
        label = words.channel(name)
        tips = [
            f"{words.date(day)} — {label} : {words.number(value, 0 if value.is_integer() else 1)}"
            for day, value in zip(dates, values, strict=True)
        ]
        bars.append(Bars(label, colours[name], values, tips))
    stacked = count > 31
    heights = [sum(values) for values in zip(*(series.values for series in bars), strict=True)]
    high = max(heights if stacked else [v for series in bars for v in series.values], default=0.0)
    y = Axis.of_values(high, words("axis_breaches"), words.number, whole=len(runs) == 1)
    zone = _zone(runs[0], start)
    midnight = datetime(first.year, first.month, first.day, tzinfo=zone)
    ticks, centred = calendar_ticks(
        midnight, midnight + timedelta(days=count), zone, words, hours=False
    )
    x = Axis(
        0,
        count,
        [((t.date() - first).days, label) for t, label in ticks],
        words("axis_date"),
        centred,
    )
    frame = Frame(1140, 300, words("breaches_title"), words("no_data"))
    svg = bar_chart(frame, bars if count else [], x, y, stacked=stacked)
    note = words("breaches_note" if len(runs) == 1 else "breaches_mean")
    return _figure_html(words("breaches_title"), note, svg, wide=True)


def _period(run: RunResult, placed: _Placed) -> tuple[datetime, datetime]:
    """Return the run's start and end, or else the span of its rows, or else one day."""
    start, end = _parse(run.start), _parse(run.end)
    if start is not None and end is not None and end > start:
        return start, end
    instants = [at for rows in placed.values() for at, _ in rows]
    if instants:
        return min(instants), max(instants) + timedelta(minutes=max(1, run.interval_minutes))
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    return moment, moment + timedelta(days=1)


def _zone(run: RunResult, start: datetime) -> tzinfo:
    """Return the run's time zone, or the UTC offset of its start when the name is unknown."""
    try:
        return ZoneInfo(run.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return start.tzinfo or UTC


def _parse(text: str) -> datetime | None:
    """Return an ISO-8601 instant with its offset (UTC if it has none), or None if unreadable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
