"""``aiguillage report month|year|penalties``: the authority's reports, from the journal.

They read the journal of ``--store`` (the SQLite file by default, or a Redis domain with its
archive) without being its writer, so they run beside the daemon, and write the report on
stdout (``--output`` for a file; XLSX needs one).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from aiguillage.adapters.cli.serve import StoreOption
from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.reports.month_figures import (
    Months,
    YearReport,
    as_month_report,
    report_months,
    year_months,
)
from aiguillage.adapters.reports.month_render import FORMATS, render
from aiguillage.adapters.reports.penalties import penalty_statement, rules_of
from aiguillage.adapters.reports.penalty_render import STATEMENT_FORMATS, render_statement
from aiguillage.adapters.reports.words import LANGUAGES
from aiguillage.adapters.stores.journal import JournalError
from aiguillage.adapters.stores.reading import read_pages
from aiguillage.adapters.stores.urls import StoreError, store_of

__all__ = ["report_app"]

report_app = typer.Typer(
    no_args_is_help=True,
    help="The authority's reports, from the journal: a month, or a year month by month.",
)
_err = Console(stderr=True, highlight=False)

FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        help=f"One of {', '.join(FORMATS)}: json is one object with every "
        "figure and the glossary; csv and xlsx hold the same tables as the page.",
    ),
]
LanguageOption = Annotated[
    str, typer.Option("--language", help=f"One of {', '.join(LANGUAGES)} (French by default).")
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the report there rather than on stdout.", show_default=False
    ),
]


@report_app.command("month")
def month(
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (Paris time).")],
    store: StoreOption = None,
    format: FormatOption = "html",
    language: LanguageOption = "fr",
    output: OutputOption = None,
    config: ConfigOption = None,
) -> None:
    """A month's report, beside the previous month: volumes, service levels, waits, breaches."""
    _check(format, language, output)
    try:
        months = Months(report_months(month))
    except ValueError as exc:
        _fail(2, f"--month: {exc}")
    _read(months, store, config)
    _write(render(as_month_report(months.figures()), format, language=language), output)


@report_app.command("year")
def year(
    year: Annotated[int, typer.Option("--year", help="The year, such as 2027.")],
    store: StoreOption = None,
    format: FormatOption = "html",
    language: LanguageOption = "fr",
    output: OutputOption = None,
    config: ConfigOption = None,
) -> None:
    """The annual review: each month of the year as its own report counts it."""
    _check(format, language, output)
    try:
        months = Months(year_months(year))
    except ValueError as exc:
        _fail(2, f"--year: {exc}")
    _read(months, store, config)
    report = YearReport(year=year, months=months.figures())
    _write(render(report, format, language=language), output)


@report_app.command("penalties")
def penalties(
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (Paris time).")],
    store: StoreOption = None,
    format: Annotated[
        str, typer.Option("--format", help=f"One of {', '.join(STATEMENT_FORMATS)}.")
    ] = "html",
    language: LanguageOption = "fr",
    output: OutputOption = None,
    config: ConfigOption = None,
) -> None:
    """The month's penalty statement: each line with the breaches or figures it rests on."""
    if format not in STATEMENT_FORMATS:
        _fail(2, f"--format {format!r}: choose one of {', '.join(STATEMENT_FORMATS)}")
    _check("json", language, output)
    loaded = load_or_exit(config)
    settings = loaded.settings
    if settings.penalties is None:
        _fail(
            1,
            f"{loaded.source}: penalties: no [penalties] table: add one with the contract's "
            "amounts (see the reference configuration)",
        )
    try:
        months = Months([month])
    except ValueError as exc:
        _fail(2, f"--month: {exc}")
    _read(months, store, config)
    (figures,) = months.figures()
    statement = penalty_statement(figures, rules_of(settings.penalties, settings.policies()))
    _write(render_statement(statement, format, language=language), output)


def _check(format: str, language: str, output: Path | None) -> None:
    if format not in FORMATS:
        _fail(2, f"--format {format!r}: choose one of {', '.join(FORMATS)}")
    if language not in LANGUAGES:
        _fail(2, f"--language {language!r}: choose one of {', '.join(LANGUAGES)}")
    if format == "xlsx" and output is None:
        _fail(2, "--format xlsx writes a workbook: give --output FILE.xlsx")


def _read(months: Months, store: str | None, config: Path | None) -> None:
    loaded = load_or_exit(config)
    try:
        where = store_of(store, loaded)
    except StoreError as exc:
        _fail(2, f"--store {exc}")
    try:
        read_pages(where, months.feed)
    except JournalError as exc:
        _fail(1, f"aiguillage report: {exc}")


def _write(body: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(body)
    except OSError as exc:
        _fail(1, f"--output {output}: {exc.strerror or exc}")
    _err.print(f"report written to {output}", markup=False, soft_wrap=True)


def _fail(code: int, message: str) -> NoReturn:
    _err.print(message, markup=False, soft_wrap=True)
    raise typer.Exit(code)
