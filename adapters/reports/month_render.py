"""The monthly report and the annual review, written out: JSON, CSV, XLSX and one HTML page.

Every format holds the same tables (``tables``): per channel, per channel and source, motive or
written typology, per day, per half-hour, the work pending at the month's end and the breaches
counted (each interaction's id), for the month and the one before it (for a year, the channels
month by month); the callbacks' figures are columns of the rows, which the page shows in a
section of their own. ``json`` is one object
with every figure and the glossary, for scripts and checks. The HTML page is self-contained like
the simulation report, whose style, charts and words it shares: it fetches nothing and opens
offline.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import msgspec

from aiguillage.adapters.reports.charts import (
    PALETTE,
    Axis,
    Bars,
    Frame,
    Guide,
    Line,
    bar_chart,
    line_chart,
)
from aiguillage.adapters.reports.exemption_render import exemption_section, exemption_tables
from aiguillage.adapters.reports.month_figures import (
    Figures,
    MonthFigures,
    MonthReport,
    YearReport,
)
from aiguillage.adapters.reports.month_plan import (
    MonthPlan,
    plan_glossary,
    plan_rows,
    plan_section,
)
from aiguillage.adapters.reports.month_words import LANGUAGES, MonthLanguage
from aiguillage.adapters.reports.quality_render import quality_section, quality_tables
from aiguillage.adapters.reports.simulation import _STYLE  # one look for every report
from aiguillage.engine.policies import CHANNELS

__all__ = ["FORMATS", "render", "tables", "workbook"]

_WIDE_TABLES = """
.scroll { overflow-x: auto; }
.scroll table { font-size: 13.5px; }
.scroll th, .scroll td { padding: 5px 6px; }
"""

FORMATS = ("html", "csv", "xlsx", "json")

_Report = MonthReport | YearReport


def render(
    report: _Report,
    format: str,
    *,
    language: str = "fr",
    title: str = "",
    plan: MonthPlan | None = None,
) -> bytes:
    """Return a report in ``format`` (``html``, ``csv``, ``xlsx`` or ``json``), with the
    month's ``plan`` beside it when there is one (``month_plan``)."""
    if language not in LANGUAGES:
        raise ValueError(f"no report language {language!r}; choose one of {', '.join(LANGUAGES)}")
    words = MonthLanguage(language)
    if format == "json":
        zone = _months(report)[0].zone
        body = {**msgspec.to_builtins(report), "glossary": words.glossary(zone)}
        if plan is not None:
            body["plan"] = msgspec.to_builtins(plan)
            body["glossary"].update(plan_glossary(language))
        return msgspec.json.encode(body)
    if format == "csv":
        return _csv(report, plan).encode("utf-8")
    if format == "xlsx":
        return _xlsx(report, plan)
    if format == "html":
        return _html(report, words, title, plan).encode("utf-8")
    raise ValueError(f"no report format {format!r}; choose one of {', '.join(FORMATS)}")


# -- the tables every format holds -------------------------------------------------------------


def tables(report: _Report, plan: MonthPlan | None = None) -> dict[str, list[dict[str, Any]]]:
    """Return the report's tables by name, each a list of rows (``month`` first in each row)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for figures in _months(report):
        for name in ("channels", "sources", "motives", "typologies", "days", "half_hours"):
            rows = getattr(figures, name)
            found.setdefault(name, []).extend(
                {"month": figures.month, **msgspec.to_builtins(row)} for row in rows
            )
        found.setdefault("pending", []).extend(
            {"month": figures.month, **msgspec.to_builtins(row)} for row in figures.pending
        )
        found.setdefault("breaches", []).extend(
            {"month": figures.month, **msgspec.to_builtins(row)} for row in figures.breaches
        )
        _availability_tables(found, figures)
        found.setdefault("occupancy", []).append(
            {
                "month": figures.month,
                "occupancy": figures.occupancy,
                "busy_s": figures.busy_s,
                "staffed_s": figures.staffed_s,
                "complete": figures.complete,
                "first_seq": figures.journal.first_seq,
                "last_seq": figures.journal.last_seq,
                "last_hash": figures.journal.last_hash,
            }
        )
        for name, rows in exemption_tables(figures).items():
            found.setdefault(name, []).extend(rows)
        for name, rows in quality_tables(figures).items():
            found.setdefault(name, []).extend(rows)
    if plan is not None:
        found["plan"] = plan_rows(plan)
    return found


def _months(report: _Report) -> list[MonthFigures]:
    if isinstance(report, MonthReport):
        return [report.month, report.previous]
    return list(report.months)


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def _csv(report: _Report, plan: MonthPlan | None = None) -> str:
    """One CSV document: each table under a ``table`` column, its own columns after it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for name, rows in tables(report, plan).items():
        columns = _columns(rows)
        writer.writerow(["table", *columns])
        for row in rows:
            writer.writerow([name, *(_cell(row.get(column)) for column in columns)])
        writer.writerow([])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- XLSX: the same tables, one sheet each, written with the standard library ---------------------


def _xlsx(report: _Report, plan: MonthPlan | None = None) -> bytes:
    return workbook(tables(report, plan))


def workbook(found: dict[str, list[dict[str, Any]]]) -> bytes:
    """An Office Open XML workbook (ECMA-376): one sheet per table, inline strings."""
    names = list(found)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", _content_types(len(names)))
        book.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" Type="{_DOC}/officeDocument"'
            ' Target="xl/workbook.xml"/></Relationships>',
        )
        sheets = "".join(
            f'<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>' for n, name in enumerate(names, 1)
        )
        book.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC}"><sheets>{sheets}</sheets></workbook>',
        )
        links = "".join(
            f'<Relationship Id="rId{n}" Type="{_DOC}/worksheet" Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, len(names) + 1)
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<Relationships xmlns="{_RELS}">{links}</Relationships>',
        )
        for n, name in enumerate(names, 1):
            book.writestr(f"xl/worksheets/sheet{n}.xml", _sheet(found[name]))
    return buffer.getvalue()


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _content_types(sheets: int) -> str:
    kinds = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{kinds}.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{kinds}.sheet.main+xml"/>'
        f"{overrides}</Types>"
    )


def _sheet(rows: list[dict[str, Any]]) -> str:
    columns = _columns(rows)
    lines = [_row(1, columns)]
    lines += [_row(n, [row.get(c) for c in columns]) for n, row in enumerate(rows, 2)]
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<worksheet xmlns="{_MAIN}"><sheetData>{"".join(lines)}</sheetData></worksheet>'
    )


def _row(number: int, values: Sequence[Any]) -> str:
    cells = []
    for index, value in enumerate(values):
        ref = f"{_column_name(index)}{number}"
        if value is None:
            continue
        if isinstance(value, bool):
            cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, int | float):
            cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
        else:
            text = xml_escape(str(value))
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


def _column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


# -- HTML -----------------------------------------------------------------------------------------


def _html(report: _Report, words: MonthLanguage, title: str, plan: MonthPlan | None) -> str:
    months = _months(report)
    first = months[0]
    if isinstance(report, MonthReport):
        heading = f"{words('title')} — {_month_name(report.month.month, words)}"
        body = [
            _period(report.month, words),
            _channels(report.month, report.previous, words),
            plan_section(plan, words) if plan is not None else "",
            _callbacks([report.month, report.previous], words),
            _groups(report.month, "source", report.month.sources, words),
            _groups(report.month, "motive", report.month.motives, words),
            _groups(report.month, "typology", report.month.typologies, words),
            _pending(report.month, words),
            exemption_section(report.month, words.code),
            _availability(report.month, words),
            quality_section(report.month, words),
            _charts(report.month, words),
        ]
        shown = report.month
    else:
        heading = f"{words('title_year')} {report.year}"
        body = [_year(report, words), _callbacks(report.months, words)]
        shown = months[-1]
    if title:
        heading = f"{heading} — {title}"
    definitions = {**words.glossary(first.zone), **(plan_glossary(words.code) if plan else {})}
    glossary = "".join(f"<p>{escape(text)}</p>\n" for text in definitions.values())
    return (
        f'<!DOCTYPE html>\n<html lang="{words.code}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{escape(heading)}</title>\n<style>{_STYLE}{_WIDE_TABLES}</style>\n</head>\n<body>\n"
        f'<header>\n<p class="eyebrow">{escape(words("title"))}</p>\n'
        f"<h1>{escape(heading)}</h1>\n"
        f"<p>{escape(words('journal', first=shown.journal.first_seq, last=shown.journal.last_seq, hash=shown.journal.last_hash))}</p>\n"  # noqa: E501
        "</header>\n<main>\n"
        + "".join(body)
        + f"</main>\n<footer>\n<h2>{escape(words('glossary'))}</h2>\n{glossary}</footer>\n"
        "</body>\n</html>\n"
    )


def _month_name(month: str, words: MonthLanguage) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{words.names('months')[number - 1]} {year}"


def _period(figures: MonthFigures, words: MonthLanguage) -> str:
    start = datetime.fromisoformat(figures.start)
    last = datetime.fromisoformat(figures.end) - timedelta(days=1)
    text = words(
        "period", start=words.date(start.date()), end=words.date(last.date()), zone=figures.zone
    )
    lines = [f"<p>{escape(text)}</p>\n"]
    if not figures.complete:
        lines.append(f"<p>{escape(words('so_far', moment=_moment(figures.as_of, words)))}</p>\n")
    return "<section>\n" + "".join(lines) + "</section>\n"


def _duration(value: float | None, words: MonthLanguage) -> str:
    if value is None:
        return "—"
    factor, digits, unit = (1, 0, "s") if value < 60 else (60, 1, "min")
    if value >= 3600:
        factor, digits, unit = 3600, 1, "h"
    return f"{words.number(value / factor, digits)}\u00a0{unit}"


def _share(value: float | None, words: MonthLanguage) -> str:
    return "—" if value is None else words.percent(value)


def _level_cell(row: Figures, words: MonthLanguage) -> str:
    if row.target_met is None:
        return f"<td>{escape(_share(row.service_level, words))}</td>"
    met = row.target_met
    verdict = escape(words("met" if met else "missed"))
    return (
        f'<td class="{"met" if met else "missed"}" title="{verdict}">'
        f"{'✓' if met else '✗'} {escape(_share(row.service_level, words))}</td>"
    )


def _abandoned_cell(row: Figures, words: MonthLanguage) -> str:
    short = (
        f'<span class="ci">{escape(words("short", n=row.short_abandons))}</span>'
        if row.short_abandons
        else ""
    )
    return f"<td>{row.abandoned}{short}</td>"


def _heads(text: str) -> str:
    return "".join(f'<th scope="col">{escape(h)}</th>' for h in text.split("|"))


def _channels(month: MonthFigures, previous: MonthFigures, words: MonthLanguage) -> str:
    rows = []
    for index, channel in enumerate(CHANNELS):
        colour = PALETTE[index % len(PALETTE)]
        for figures in (month, previous):
            row = next(r for r in figures.channels if r.channel == channel)
            name = (
                f'<span class="swatch" style="background:{colour}"></span>'
                f"{escape(words.channel(channel))}"
                if figures is month
                else ""
            )
            rows.append(
                f'<tr><th scope="row">{name}</th>'
                f"<td>{escape(_month_name(figures.month, words))}</td>"
                f"<td>{row.received}</td><td>{row.answered}</td><td>{row.answered_within}</td>"
                + _abandoned_cell(row, words)
                + f"<td>{row.transferred}</td><td>{row.refused}</td>"
                + _level_cell(row, words)
                + f"<td>{escape(_share(row.target, words))}</td>"
                + "".join(
                    f"<td>{escape(_duration(value, words))}</td>"
                    for value in (row.asa_s, row.wait_p50_s, row.wait_p90_s, row.wait_p99_s)
                )
                + f"<td>{row.breaches}</td>"
                f"<td>{escape(_duration(row.abandon_wait_mean_s, words))}</td>"
                f"<td>{escape(_duration(row.handling_mean_s, words))}</td></tr>\n"
            )
    busy = _duration(month.busy_s, words)
    staffed = _duration(month.staffed_s, words)
    occupancy = words(
        "occupancy_line", occupancy=_share(month.occupancy, words), busy=busy, staffed=staffed
    )
    return (
        f'<section>\n<h2>{escape(words("by_channel"))}</h2>\n<div class="scroll"><table>\n'
        f"<thead><tr>{_heads(words('columns'))}</tr></thead>\n<tbody>\n{''.join(rows)}"
        f"</tbody>\n</table></div>\n<p>{escape(occupancy)}</p>\n</section>\n"
    )


def _groups(month: MonthFigures, by: str, rows: list[Figures], words: MonthLanguage) -> str:
    if not rows:
        return ""
    lines = []
    for row in rows:
        value = getattr(row, by)
        lines.append(
            f'<tr><th scope="row">{escape(words.channel(row.channel))}</th>'
            f"<td>{escape(value if value is not None else words('none'))}</td>"
            f"<td>{row.received}</td><td>{row.answered}</td><td>{row.answered_within}</td>"
            f"<td>{row.callbacks_requested}</td>"
            + _abandoned_cell(row, words)
            + f"<td>{row.refused}</td>"
            + _level_cell(row, words)
            + f"<td>{escape(_share(row.target, words))}</td>"
            f"<td>{escape(_duration(row.asa_s, words))}</td>"
            f"<td>{escape(_duration(row.wait_p90_s, words))}</td><td>{row.breaches}</td></tr>\n"
        )
    heads = _heads(words("group_columns", by=words(by)))
    return (
        f'<section>\n<h2>{escape(words(f"by_{by}"))}</h2>\n<div class="scroll"><table>\n'
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n{''.join(lines)}</tbody>\n</table></div>\n"
        "</section>\n"
    )


def _callbacks(months: Sequence[MonthFigures], words: MonthLanguage) -> str:
    """The callbacks apart: per channel that had any, month by month as given."""
    rows = []
    for channel in CHANNELS:
        for figures in months:
            row = next(r for r in figures.channels if r.channel == channel)
            if not row.callbacks_requested:
                continue
            counts = (
                row.callbacks_requested,
                row.callbacks_within,
                row.callbacks_reached,
                row.callbacks_unreached,
                row.callbacks_open,
                row.callbacks_made,
                row.callbacks_made_within,
                row.callbacks_overdue,
            )
            rows.append(
                f'<tr><th scope="row">{escape(words.channel(channel))}</th>'
                f"<td>{escape(_month_name(figures.month, words))}</td>"
                + "".join(f"<td>{count}</td>" for count in counts)
                + f"<td>{escape(_share(row.callback_service_level, words))}</td></tr>\n"
            )
    heading = f"<section>\n<h2>{escape(words('callbacks'))}</h2>\n"
    if not rows:
        return f"{heading}<p>{escape(words('callbacks_none'))}</p>\n</section>\n"
    return (
        f'{heading}<div class="scroll"><table>\n'
        f"<thead><tr>{_heads(words('callback_columns'))}</tr></thead>\n<tbody>\n{''.join(rows)}"
        "</tbody>\n</table></div>\n</section>\n"
    )


def _pending(month: MonthFigures, words: MonthLanguage) -> str:
    if not month.pending:
        return (
            f"<section>\n<h2>{escape(words('pending'))}</h2>\n"
            f"<p>{escape(words('pending_none'))}</p>\n</section>\n"
        )
    rows = "".join(
        f'<tr><th scope="row">{p.interaction_id}</th><td>{escape(words.channel(p.channel))}</td>'
        f"<td>{escape(_moment(p.received_at, words))}</td>"
        f"<td>{escape(_moment(p.deadline, words))}</td>"
        f"<td>{escape(words('yes' if p.breached else 'no'))}</td></tr>\n"
        for p in month.pending
    )
    return (
        f'<section>\n<h2>{escape(words("pending"))}</h2>\n<div class="scroll"><table>\n'
        f"<thead><tr>{_heads(words('pending_columns'))}</tr></thead>\n<tbody>\n{rows}"
        "</tbody>\n</table></div>\n</section>\n"
    )


def _availability_tables(found: dict[str, list[dict[str, Any]]], figures: MonthFigures) -> None:
    shown = figures.availability
    if shown is None:
        return
    rows = found.setdefault("availability", [])
    rows.append(
        {
            "month": figures.month,
            "channel": None,
            "open_s": shown.open_s,
            "down_open_s": shown.down_open_s,
            "availability": shown.availability,
        }
    )
    rows.extend(
        {"month": figures.month, "open_s": shown.open_s, **msgspec.to_builtins(row)}
        for row in shown.channels
    )
    found.setdefault("outages", []).extend(
        {"month": figures.month, **msgspec.to_builtins(row)}
        for row in [*shown.outages, *shown.channel_outages]
    )


def _availability(month: MonthFigures, words: MonthLanguage) -> str:
    shown = month.availability
    if shown is None:
        return ""
    line = words(
        "availability_line",
        share=_share(shown.availability, words),
        open=_duration(shown.open_s, words),
        down=_duration(shown.down_open_s, words),
    )
    parts = [f"<section>\n<h2>{escape(words('availability'))}</h2>\n<p>{escape(line)}</p>\n"]
    if shown.channels:
        rows = "".join(
            f'<tr><th scope="row">{escape(row.channel)}</th>'
            f"<td>{escape(_duration(row.down_open_s, words))}</td>"
            f"<td>{escape(_share(row.availability, words))}</td></tr>\n"
            for row in shown.channels
        )
        parts.append(
            f'<div class="scroll"><table>\n<thead><tr>{_heads(words("availability_columns"))}'
            f"</tr></thead>\n<tbody>\n{rows}</tbody>\n</table></div>\n"
        )
    outages = [*shown.outages, *shown.channel_outages]
    if not outages:
        parts.append(f"<p>{escape(words('outages_none'))}</p>\n")
    else:
        rows = "".join(
            f'<tr><th scope="row">{escape(words("outage." + o.kind))}</th>'
            f"<td>{escape(o.channel or '—')}</td>"
            f"<td>{escape(_moment(o.start, words))}</td><td>{escape(_moment(o.end, words))}</td>"
            f"<td>{escape(_duration(o.seconds, words))}</td>"
            f"<td>{escape(_duration(o.open_seconds, words))}</td>"
            f"<td>{escape(o.reason or '—')}</td></tr>\n"
            for o in outages
        )
        parts.append(
            f'<div class="scroll"><table>\n<thead><tr>{_heads(words("outage_columns"))}'
            f"</tr></thead>\n<tbody>\n{rows}</tbody>\n</table></div>\n"
        )
    return "".join(parts) + "</section>\n"


def _moment(text: str, words: MonthLanguage) -> str:
    return words.moment(datetime.fromisoformat(text))


def _charts(month: MonthFigures, words: MonthLanguage) -> str:
    start = datetime.fromisoformat(month.start).date()
    end = datetime.fromisoformat(month.end).date()
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    index = {day: n for n, day in enumerate(days)}
    colours: dict[str, str] = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(CHANNELS)}
    received = {name: [0.0] * len(days) for name in CHANNELS}
    levels: dict[str, list[tuple[float, float | None]]] = {name: [] for name in CHANNELS}
    for slot in month.days:
        day = datetime.fromisoformat(slot.start).date()
        if day not in index or slot.channel not in received:
            continue
        received[slot.channel][index[day]] += slot.received
        levels[slot.channel].append((index[day] + 0.5, slot.service_level))
    bars = [
        Bars(
            words.channel(name),
            colours[name],
            received[name],
            [
                f"{words.date(day)} — {words.channel(name)} : {int(v)}"
                for day, v in zip(days, received[name], strict=True)
            ],
        )
        for name in CHANNELS
    ]
    ticks = [(n, words.day_month(day)) for n, day in enumerate(days) if day.weekday() == 0]
    x = Axis(0, len(days), ticks, words("axis_date"))
    high = max((sum(values) for values in zip(*received.values(), strict=True)), default=0.0)
    y = Axis.of_values(high, words("axis_received"), words.number, whole=True)
    frame = Frame(1140, 300, words("day_title"), words("no_data"))
    per_day = _figure(
        words("day_title"), words("day_note"), bar_chart(frame, bars, x, y, stacked=True), wide=True
    )
    lines = [Line(words.channel(name), colours[name], levels[name]) for name in CHANNELS]
    targets = [
        Guide(row.target, colours[row.channel], words.percent(row.target, 0))
        for row in month.channels
        if row.target is not None
    ]
    percents = [(n / 5, words.percent(n / 5, 0)) for n in range(6)]
    level_chart = line_chart(
        Frame(560, 300, words("sl_title"), words("no_data")),
        lines,
        Axis(0, len(days), ticks, words("axis_date")),
        Axis(0, 1, percents, words("axis_sl")),
        max_gap=1.5,
        guides=targets,
        guide_legend=words("target"),
    )
    per_level = _figure(words("sl_title"), words("sl_note"), level_chart)
    halves = {name: [0.0] * 48 for name in CHANNELS}
    for slot in month.half_hours:
        at = datetime.fromisoformat(slot.start)
        if slot.channel in halves:
            halves[slot.channel][at.hour * 2 + at.minute // 30] += slot.received
    hour_ticks = [(h * 2, f"{h:02d}:00") for h in range(0, 25, 3)]
    high = max((sum(values) for values in zip(*halves.values(), strict=True)), default=0.0)
    half_chart = bar_chart(
        Frame(560, 300, words("half_title"), words("no_data")),
        [
            Bars(
                words.channel(name),
                colours[name],
                halves[name],
                [f"{n // 2:02d}:{30 * (n % 2):02d} — {int(v)}" for n, v in enumerate(halves[name])],
            )
            for name in CHANNELS
        ],
        Axis(0, 48, hour_ticks, words("axis_time")),
        Axis.of_values(high, words("axis_received"), words.number, whole=True),
        stacked=True,
    )
    per_half = _figure(words("half_title"), words("half_note"), half_chart)
    return (
        f'<section>\n<h2>{escape(words("charts"))}</h2>\n<div class="charts">\n'
        f"{per_day}{per_level}{per_half}</div>\n</section>\n"
    )


def _figure(title: str, note: str, svg: str, *, wide: bool = False) -> str:
    wide_class = ' class="wide"' if wide else ""
    return (
        f"<figure{wide_class}><figcaption><h3>{escape(title)}</h3>"
        f"<p>{escape(note)}</p></figcaption>{svg}</figure>\n"
    )


def _year(report: YearReport, words: MonthLanguage) -> str:
    heads = words("columns").split("|")
    rows = []
    for channel in CHANNELS:
        for figures in report.months:
            row = next(r for r in figures.channels if r.channel == channel)
            rows.append(
                f'<tr><th scope="row">{escape(words.channel(channel))}</th>'
                f"<td>{escape(_month_name(figures.month, words))}</td>"
                f"<td>{row.received}</td><td>{row.answered}</td><td>{row.answered_within}</td>"
                + _abandoned_cell(row, words)
                + f"<td>{row.transferred}</td><td>{row.refused}</td>"
                + _level_cell(row, words)
                + f"<td>{escape(_share(row.target, words))}</td>"
                + "".join(
                    f"<td>{escape(_duration(value, words))}</td>"
                    for value in (row.asa_s, row.wait_p50_s, row.wait_p90_s, row.wait_p99_s)
                )
                + f"<td>{row.breaches}</td>"
                f"<td>{escape(_duration(row.abandon_wait_mean_s, words))}</td>"
                f"<td>{escape(_duration(row.handling_mean_s, words))}</td></tr>\n"
            )
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    return (
        f'<section>\n<h2>{escape(words("by_month"))}</h2>\n<div class="scroll"><table>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n</table></div>\n"
        "</section>\n"
    )
