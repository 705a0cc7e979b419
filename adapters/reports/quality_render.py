"""The month's quality figures written out: a section of the month's page, and table rows.

``quality_section(figures, language)`` is the HTML section with the audits drawn and scored and
their mean weighted score per channel and per advisor, the mystery shoppers' results and the
customers' satisfaction; empty when the month has none of them. ``quality_tables(figures)``
gives the same as rows for the CSV and XLSX tables.
"""

from __future__ import annotations

from html import escape
from typing import Any

import msgspec

from aiguillage.adapters.reports.month_figures import MonthFigures
from aiguillage.adapters.reports.words import Language

__all__ = ["quality_section", "quality_tables"]

_WORDS = {
    "fr": {
        "title": "Qualité",
        "audits": "Audits : {drawn} interactions tirées, {scored} notées dans le mois.",
        "audit_columns": ("Canal", "Conseiller", "Notées", "Note pondérée moyenne (sur 100)"),
        "all": "tous",
        "mystery_columns": ("Canal", "Visites mystère", "Note pondérée moyenne (sur 100)"),
        "satisfaction_columns": ("Canal", "Avis clients", "Moyenne (1 à 5)", "Part de 4 et 5"),
    },
    "en": {
        "title": "Quality",
        "audits": "Audits: {drawn} interactions drawn, {scored} scored in the month.",
        "audit_columns": ("Channel", "Advisor", "Scored", "Mean weighted score (out of 100)"),
        "all": "all",
        "mystery_columns": ("Channel", "Mystery visits", "Mean weighted score (out of 100)"),
        "satisfaction_columns": (
            "Channel",
            "Customer ratings",
            "Mean (1 to 5)",
            "Share of 4 and 5",
        ),
    },
}


def _number(words: Language, value: float | None, digits: int = 1) -> str:
    return "—" if value is None else words.number(value, digits)


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    heads = "".join(f'<th scope="col">{escape(head)}</th>' for head in columns)
    body = "".join(
        f'<tr><th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in row[1:])
        + "</tr>\n"
        for row in rows
    )
    return (
        f'<div class="scroll"><table>\n<thead><tr>{heads}</tr></thead>\n<tbody>\n{body}'
        "</tbody>\n</table></div>\n"
    )


def quality_section(figures: MonthFigures, language: Language) -> str:
    """The month page's section on quality, or nothing when the month has no quality figure."""
    quality = figures.quality
    if not (
        quality.audits_drawn or quality.audits_scored or quality.mystery or quality.satisfaction
    ):
        return ""
    words = _WORDS.get(language.code, _WORDS["fr"])
    say = language.channel
    parts = [
        f"<section>\n<h2>{escape(str(words['title']))}</h2>\n",
        "<p>"
        + escape(
            str(words["audits"]).format(drawn=quality.audits_drawn, scored=quality.audits_scored)
        )
        + "</p>\n",
    ]
    audit_rows = [
        (say(row.channel), str(words["all"]), str(row.scored), _number(language, row.mean_weighted))
        for row in quality.audits
    ] + [
        (
            say(row.channel),
            row.advisor_id or "",
            str(row.scored),
            _number(language, row.mean_weighted),
        )
        for row in quality.audits_by_advisor
    ]
    if audit_rows:
        parts.append(_table(words["audit_columns"], audit_rows))  # type: ignore[arg-type]
    if quality.mystery:
        visits = [
            (say(r.channel), str(r.visits), _number(language, r.mean_weighted))
            for r in quality.mystery
        ]
        parts.append(_table(words["mystery_columns"], visits))  # type: ignore[arg-type]
    if quality.satisfaction:
        rows = [
            (
                say(r.channel),
                str(r.count),
                _number(language, r.mean, 2),
                "—" if r.satisfied_share is None else language.percent(r.satisfied_share),
            )
            for r in quality.satisfaction
        ]
        parts.append(_table(words["satisfaction_columns"], rows))  # type: ignore[arg-type]
    parts.append("</section>\n")
    return "".join(parts)


def quality_tables(figures: MonthFigures) -> dict[str, list[dict[str, Any]]]:
    """The month's quality figures as table rows, one table per kind."""
    quality = figures.quality
    month = figures.month
    tables: dict[str, list[dict[str, Any]]] = {
        "audits": [
            {"month": month, **msgspec.to_builtins(row)}
            for row in quality.audits + quality.audits_by_advisor
        ],
        "mystery": [
            {
                "month": month,
                **msgspec.to_builtins(visit),
                "scores": " ".join(f"{k}={v}" for k, v in visit.scores.items()),
            }
            for visit in quality.mystery_visits
        ],
        "satisfaction": [
            {"month": month, **msgspec.to_builtins(row)} for row in quality.satisfaction
        ],
    }
    return {name: rows for name, rows in tables.items() if rows}
