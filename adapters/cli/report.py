"""``aiguillage report month|year|penalties|verify|head|head-check``: the authority's reports.

They read the journal of ``--store`` (the SQLite file by default, or a Redis domain with its
archive) without being its writer, so they run beside the daemon, and write the report on
stdout (``--output`` for a file; XLSX needs one). Written as JSON, a report is signed with the
key ``[reports] signing_key`` names (``reports.signing``); ``verify`` checks its signature, the
journal's hash chain up to the range it names, and recomputes it (``reports.recheck``).
``head`` prints the journal's head (``reports.heads``), the line the daemon exports every day,
and with ``--append`` adds it to a file; ``head-check`` says whether the journal still holds
every head of such a file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from aiguillage.adapters.cli.serve import StoreOption
from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.config.settings import LoadedConfig
from aiguillage.adapters.reports.heads import (
    HeadCheck,
    HeadFileError,
    append_line,
    head_line,
    read_heads,
)
from aiguillage.adapters.reports.month_figures import (
    Months,
    YearReport,
    as_month_report,
    report_months,
    year_months,
)
from aiguillage.adapters.reports.month_plan import month_plan
from aiguillage.adapters.reports.month_render import FORMATS, render
from aiguillage.adapters.reports.penalties import penalty_statement, rules_of
from aiguillage.adapters.reports.penalty_render import STATEMENT_FORMATS, render_statement
from aiguillage.adapters.reports.recheck import NotAReport, Recheck
from aiguillage.adapters.reports.signing import (
    SigningError,
    load_private_key,
    load_public_key,
    sign,
    signature_problem,
)
from aiguillage.adapters.reports.words import LANGUAGES
from aiguillage.adapters.stores.journal import GENESIS, JournalError, Record, Verification
from aiguillage.adapters.stores.reading import read_pages
from aiguillage.adapters.stores.urls import RedisStore, SQLiteStore, StoreError, store_of

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
    loaded = _read(months, store, config)
    report = as_month_report(months.figures())
    plan = month_plan(report.month, loaded.settings.reports.plan.get(month, {}))
    body = render(report, format, language=language, plan=plan)
    _write(_signed(body, format, loaded), output)


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
    loaded = _read(months, store, config)
    report = YearReport(year=year, months=months.figures())
    _write(_signed(render(report, format, language=language), format, loaded), output)


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
    _write(_signed(render_statement(statement, format, language=language), format, loaded), output)


@report_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A report or statement written as JSON.")],
    store: StoreOption = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The operator's public key (PEM or 32 raw bytes): the report must be signed "
            "with it. Without it, the key the report carries is only checked to match.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check a report against the journal: its signature, the hash chain up to the range it
    names, and every value, recomputed; exit 0 when all match, 1 naming each difference."""
    try:
        document = json.loads(file.read_bytes())
    except OSError as exc:
        _fail(2, f"{file}: {exc.strerror or exc}")
    except ValueError as exc:
        _fail(1, f"{file}: not JSON ({exc}); give a report written with --format json")
    if not isinstance(document, dict):
        _fail(1, f"{file}: not a report: give a report written with --format json")
    holder = None
    if public_key is not None:
        try:
            holder = load_public_key(public_key, "--public-key")
        except SigningError as exc:
            _fail(2, str(exc))
    problems: list[str] = []
    signed = signature_problem(document, holder)
    if signed is not None and (holder is not None or document.get("signature") is not None):
        problems.append(f"signature: {signed}")
    try:
        recheck = Recheck(document)
    except NotAReport as exc:
        _fail(1, f"{file}: {exc}")
    loaded = load_or_exit(config)
    try:
        where = store_of(store, loaded)
    except StoreError as exc:
        _fail(2, f"--store {exc}")
    chain = _chain(where)
    if chain.checked < recheck.last_seq and chain.first_break is not None:
        problems.append(f"journal: the hash chain breaks within the report's range: {chain.reason}")
    try:
        read_pages(where, recheck.feed)
    except JournalError as exc:
        _fail(1, f"aiguillage report verify: {exc}")
    findings = recheck.findings()
    problems.extend(findings.differences)
    if signed is not None and holder is None and document.get("signature") is None:
        print(f"{file}: not signed (only its figures are checked)")
    elif signed is None:
        print(f"{file}: signature sound{' (the key given)' if holder else ''}")
    print(
        f"{file}: {_KINDS[findings.kind]}, journal up to event {recheck.last_seq} "
        f"(hash {recheck.last_hash}), {findings.compared} values compared"
    )
    for problem in problems:
        print(f"DIFFERS {problem}")
    if problems:
        print(f"{file}: REFUSED, {len(problems)} difference{'s' if len(problems) > 1 else ''}")
        raise typer.Exit(1)
    print(f"{file}: matches the journal")


@report_app.command("head")
def head(
    store: StoreOption = None,
    append: Annotated[
        Path | None,
        typer.Option(
            "--append",
            help="Also append the line to this file (the one the authority keeps).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print the journal's head (its latest position and hash, signed with [reports]
    signing_key when set), the line the daemon exports every day; refused when the hash chain
    breaks."""
    loaded = load_or_exit(config)
    try:
        where = store_of(store, loaded)
    except StoreError as exc:
        _fail(2, f"--store {exc}")
    chain = _chain(where)
    if not chain.ok:
        _fail(
            1,
            f"aiguillage report head: the hash chain breaks at event {chain.first_break} "
            f"({chain.reason}): no head is exported from a broken journal",
        )
    key = None
    name = loaded.settings.reports.signing_key
    if name:
        try:
            key = load_private_key(
                Path(loaded.source).parent / name, f"{loaded.source}: reports.signing_key"
            )
        except SigningError as exc:
            _fail(1, str(exc))
    latest: list[Record] = []

    def keep(page: Sequence[Record]) -> None:
        latest[:] = page[-1:]

    try:
        read_pages(where, keep)
    except JournalError as exc:
        _fail(1, f"aiguillage report head: {exc}")
    position, hash = (latest[0].seq, latest[0].hash) if latest else (0, GENESIS)
    now = datetime.now(ZoneInfo(loaded.settings.calendar.timezone))
    line = head_line(position, hash, now, key)
    if append is not None:
        try:
            append_line(append, line)
        except OSError as exc:
            _fail(1, f"--append {append}: {exc.strerror or exc}")
    sys.stdout.buffer.write(line + b"\n")
    sys.stdout.buffer.flush()


@report_app.command("head-check")
def head_check(
    file: Annotated[Path, typer.Argument(help="The heads exported, one JSON line each.")],
    store: StoreOption = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The operator's public key: every head must be signed with it.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check that the journal still holds every exported head, the same hash at the same
    position; exit 0 when it does, 1 naming each head it does not (cut short, rewritten)."""
    holder = None
    if public_key is not None:
        try:
            holder = load_public_key(public_key, "--public-key")
        except SigningError as exc:
            _fail(2, str(exc))
    try:
        heads = read_heads(file, holder)
    except OSError as exc:
        _fail(2, f"{file}: {exc.strerror or exc}")
    except HeadFileError as exc:
        _fail(1, str(exc))
    if not heads:
        _fail(1, f"{file}: no head in it: give the file the daily export appends to")
    loaded = load_or_exit(config)
    try:
        where = store_of(store, loaded)
    except StoreError as exc:
        _fail(2, f"--store {exc}")
    chain = _chain(where)
    check = HeadCheck(heads)
    try:
        read_pages(where, check.feed)
    except JournalError as exc:
        _fail(1, f"aiguillage report head-check: {exc}")
    problems = check.problems(chain)
    for problem in problems:
        print(f"DIFFERS {problem}")
    if problems:
        print(
            f"{file}: REFUSED: {len(problems)} of {len(heads)} heads not held by the journal "
            f"(it ends at event {check.end}); the first: {problems[0]}"
        )
        raise typer.Exit(1)
    latest = max(heads, key=lambda head: head.position)
    print(
        f"{file}: the journal holds all {len(heads)} heads (the latest: event {latest.position}, "
        f"exported at {latest.at}); it ends at event {check.end}"
    )


_KINDS = {"month": "month's report", "year": "year's review", "penalties": "penalty statement"}


def _chain(where: SQLiteStore | RedisStore) -> Verification:
    """Walk the journal's hash chain (read-only)."""
    try:
        if isinstance(where, RedisStore):
            import anyio

            from aiguillage.adapters.stores.redis.journal import verify_url

            return anyio.run(verify_url, where.url, where.domain, where.archive_dir)
        from aiguillage.adapters.stores.sqlite.journal import verify_file

        if not where.path.exists():
            _fail(1, f"{where.path}: no journal here; give --store")
        return verify_file(where.path)
    except JournalError as exc:
        _fail(1, f"aiguillage report verify: {exc}")


def _signed(body: bytes, format: str, loaded: LoadedConfig) -> bytes:
    """Sign a report written as JSON when ``[reports] signing_key`` names a key."""
    name = loaded.settings.reports.signing_key
    if format != "json" or not name:
        return body
    try:
        where = f"{loaded.source}: reports.signing_key"
        key = load_private_key(Path(loaded.source).parent / name, where)
    except SigningError as exc:
        _fail(1, str(exc))
    return sign(body, key)


def _check(format: str, language: str, output: Path | None) -> None:
    if format not in FORMATS:
        _fail(2, f"--format {format!r}: choose one of {', '.join(FORMATS)}")
    if language not in LANGUAGES:
        _fail(2, f"--language {language!r}: choose one of {', '.join(LANGUAGES)}")
    if format == "xlsx" and output is None:
        _fail(2, "--format xlsx writes a workbook: give --output FILE.xlsx")


def _read(months: Months, store: str | None, config: Path | None) -> LoadedConfig:
    loaded = load_or_exit(config)
    try:
        where = store_of(store, loaded)
    except StoreError as exc:
        _fail(2, f"--store {exc}")
    try:
        read_pages(where, months.feed)
    except JournalError as exc:
        _fail(1, f"aiguillage report: {exc}")
    return loaded


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
