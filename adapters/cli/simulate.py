"""``aiguillage simulate``: a deployment in virtual time, its service levels and penalties.

Runs the real engine (``simulations.run``) on the configured roster, shifts and traffic; with
``--replications`` several seeds run in parallel on the machine's cores and every figure gets a
mean and a 95 % confidence interval. Prints a table per channel, or one JSON object with
``--json``, and writes the HTML report with ``--report``; ``--journal FILE`` writes the run's
events into a new journal file, which ``aiguillage report`` reads as it reads the daemon's.

The simulator of a deployment, its reports, the worker processes and Rich are imported in the
functions that use them, so that ``simulate queue --json`` and ``--help`` start without them.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn
from zoneinfo import ZoneInfo

import msgspec
import typer

from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.engine.instants import DAY, MINUTE, from_datetime
from aiguillage.engine.routing import STRATEGIES

if TYPE_CHECKING:
    from aiguillage.adapters.config.settings import LoadedConfig
    from aiguillage.engine.events import Event
    from aiguillage.simulations.outcome import ReplicatedRun, RunResult
    from aiguillage.simulations.run import Deployment

__all__ = ["deployment_of", "simulate_app"]


def deployment_of(loaded: LoadedConfig) -> Deployment:
    """Return what a configuration file describes, as the simulator's input."""
    from aiguillage.engine.commands import AddAdvisor
    from aiguillage.simulations.run import Deployment

    settings = loaded.settings
    roster = tuple(
        (
            AddAdvisor(
                advisor_id=advisor.id,
                name=advisor.name,
                skills=dict(advisor.skills),
                languages=advisor.languages,
                capacity=dict(advisor.capacity),
            ),
            advisor.team,
        )
        for advisor in settings.advisors
    )
    return Deployment(
        name=settings.deployment.name,
        policies=settings.policies(),
        roster=roster,
        scenario=settings.simulation,
        start=settings.deployment.start_date,
        config_digest=loaded.digest,
    )


def _one(job: tuple[Deployment, float, int, str | None, date | None]) -> RunResult:
    from aiguillage.simulations.run import simulate

    deployment, days, seed, strategy, start = job
    return simulate(deployment, days=days, seed=seed, strategy=strategy, start=start)


simulate_app = typer.Typer(add_completion=False)


@simulate_app.callback(invoke_without_command=True)
def simulate_command(
    context: typer.Context,
    config: ConfigOption = None,
    days: Annotated[
        float | None, typer.Option(min=0.01, help="Days to simulate (default: the config's).")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (local).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD, included.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: the config's).")] = None,
    replications: Annotated[int, typer.Option(min=1, max=1000, help="Runs with seeds S, S+1…")] = 1,
    strategy: Annotated[
        str | None, typer.Option(help=f"Routing strategy: {', '.join(sorted(STRATEGIES))}.")
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(help="A staffing plan CSV (from `staff plan`) to use instead of the roster."),
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the HTML report to this file.")] = None,
    language: Annotated[
        str | None,
        typer.Option(help="Report language, fr or en (default: simulation.report_language)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    journal: Annotated[
        Path | None,
        typer.Option(
            "--journal",
            help="Write the run's events into this new journal file (SQLite), for "
            "`aiguillage report --store sqlite:///FILE`; one replication only.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Simulate the configured deployment in virtual time: service levels, waits, penalties.

    `aiguillage simulate queue` runs one voice queue beside the Erlang formulas instead.
    """
    if context.invoked_subcommand is not None:
        return
    from aiguillage.adapters.reports.simulation import LANGUAGES, render_html
    from aiguillage.adapters.reports.staffing_csv import PlanError, read_plan
    from aiguillage.simulations.outcome import ReplicatedRun
    from aiguillage.simulations.results import estimates

    loaded = load_or_exit(config)
    deployment = deployment_of(loaded)
    if plan is not None:
        try:
            deployment = dataclasses.replace(deployment, plan=read_plan(plan))
        except PlanError as exc:
            _fail(str(exc))
    if strategy is not None and strategy not in STRATEGIES:
        raise typer.BadParameter(
            f"unknown strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}",
            param_hint="--strategy",
        )
    language = language or deployment.scenario.report_language
    if language not in LANGUAGES:
        raise typer.BadParameter(
            f"the report speaks {', '.join(LANGUAGES)}", param_hint="--language"
        )
    if journal is not None and replications != 1:
        raise typer.BadParameter(
            "a journal holds one run: drop --replications", param_hint="--journal"
        )
    if journal is not None and journal.exists():
        _fail(f"--journal {journal}: the file exists; give a new file (a journal is never mixed)")
    start, length = _period(from_, to, days, deployment)
    if deployment.plan:
        _check_plan(deployment, start, length)
    first_seed = deployment.scenario.seed if seed is None else seed
    jobs = [(deployment, length, first_seed + n, strategy, start) for n in range(replications)]
    events: list[Event] = []
    runs = _run_all(jobs, quiet=as_json, keep=events.append if journal is not None else None)
    if journal is not None:
        _write_journal(journal, events)
    outcome: RunResult | ReplicatedRun = (
        runs[0] if replications == 1 else ReplicatedRun(runs=runs, estimates=estimates(runs))
    )
    if report is not None:
        try:
            report.write_text(render_html(outcome, language=language), encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write the report {report}: {exc.strerror}")
    if as_json:
        typer.echo(msgspec.json.encode(outcome).decode())
        return
    _print(outcome, loaded)
    if report is not None:
        typer.echo(f"report: {report.resolve()}")


def _period(
    first: str | None, last: str | None, days: float | None, deployment: Deployment
) -> tuple[date | None, float]:
    if (first is None) != (last is None):
        raise typer.BadParameter("give both --from and --to, or neither", param_hint="--from")
    if first is None or last is None:
        return None, deployment.scenario.days if days is None else days
    if days is not None:
        raise typer.BadParameter("give --days or --from/--to, not both", param_hint="--days")
    try:
        begin, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise typer.BadParameter("dates are YYYY-MM-DD", param_hint="--from/--to") from None
    if end < begin:
        raise typer.BadParameter("--to is before --from", param_hint="--to")
    return begin, float((end - begin).days + 1)


def _check_plan(deployment: Deployment, start: date | None, days: float) -> None:
    """Refuse a plan that leaves a channel with traffic unstaffed or does not cover the run."""
    from aiguillage.adapters.config.datetimes import format_instant

    plan = deployment.plan
    channels = deployment.policies.channels
    for channel, policy in channels.items():
        busy = any(deployment.scenario.volumes.get(source, 0) for source in policy.sources)
        if busy and channel not in plan[0].needs:
            _fail(f"the plan has no `{channel}` column, but {channel} has traffic: add the column")
    zone = ZoneInfo(deployment.policies.calendar.timezone)
    begin = from_datetime(datetime.combine(start or deployment.start, time(0), zone))
    end = begin + round(days * DAY)
    step = deployment.scenario.interval_minutes * MINUTE
    covered_from, covered_to = plan[0].start, plan[-1].start + step
    if begin < covered_from or end > covered_to:
        _fail(
            f"the plan covers {format_instant(covered_from, zone)} to "
            f"{format_instant(covered_to, zone)}, the run {format_instant(begin, zone)} to "
            f"{format_instant(end, zone)}: choose the run with --from/--to or --days"
        )


def _fail(message: str) -> NoReturn:
    """Print an expected failure on stderr and exit 1, without a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1) from None


def _write_journal(path: Path, events: list[Event]) -> None:
    """Write a run's events into a new journal file, hash-chained as the daemon writes them."""
    import anyio

    from aiguillage.adapters.stores.journal import JournalError
    from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal

    async def write() -> None:
        store = SQLiteJournal(path)
        await store.open()
        try:
            for first in range(0, len(events), _JOURNAL_BATCH):
                await store.append(events[first : first + _JOURNAL_BATCH], [])
        finally:
            await store.close()

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        anyio.run(write)
    except (JournalError, OSError) as exc:
        _fail(f"--journal {path}: {exc}")


_JOURNAL_BATCH = 5000
"""Events per transaction when a run is written into a journal."""


def _run_all(
    jobs: list[tuple[Deployment, float, int, str | None, date | None]],
    quiet: bool,
    keep: Callable[[Event], None] | None = None,
) -> list[RunResult]:
    """Run the jobs; ``keep`` (one job only) is given every event of the run, in order."""
    from concurrent.futures import ProcessPoolExecutor

    from rich.console import Console
    from rich.progress import Progress

    from aiguillage.simulations.run import simulate

    show = not quiet and sys.stderr.isatty()
    workers = 1 if keep is not None else min(len(jobs), os.cpu_count() or 1)
    with Progress(console=Console(stderr=True), disable=not show, transient=True) as progress:
        if workers == 1:
            # In process: the bar follows the virtual days of each run.
            task = progress.add_task("simulating", total=sum(job[1] for job in jobs))
            results = []
            for deployment, days, seed, strategy, start in jobs:
                edge = [0]

                def follow(event: Event, edge: list[int] = edge) -> None:
                    if event.at >= edge[0]:
                        first = edge[0] == 0
                        edge[0] = event.at + DAY
                        if not first:
                            progress.advance(task)

                observers: list[Callable[[Event], None]] = [follow] if show else []
                if keep is not None:
                    observers.append(keep)
                results.append(
                    simulate(
                        deployment,
                        days=days,
                        seed=seed,
                        strategy=strategy,
                        start=start,
                        observers=observers,
                    )
                )
            return results
        task = progress.add_task("simulating", total=len(jobs))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = []
            for result in pool.map(_one, jobs):
                results.append(result)
                progress.advance(task)
            return results


def _print(outcome: RunResult | ReplicatedRun, loaded: LoadedConfig) -> None:
    from rich.console import Console

    from aiguillage.adapters.cli.sla import describe_sla
    from aiguillage.adapters.cli.tables import HeadedTable
    from aiguillage.simulations.outcome import ReplicatedRun, RunResult

    console = Console(highlight=False)
    first = outcome if isinstance(outcome, RunResult) else outcome.runs[0]
    runs = 1 if isinstance(outcome, RunResult) else len(outcome.runs)
    console.print(
        f"[bold]{first.deployment}[/] — {first.start[:16]} to {first.end[:16]} "
        f"({first.timezone}), strategy {first.strategy}, seed {first.seed}"
        + (f", {runs} replications (mean [95 % CI])" if runs > 1 else "")
    )
    table = HeadedTable(
        "channel", "offered", "answered", "abandoned", "within SLA", "target",
        "mean wait", "p90 wait", "breaches", "penalties", "occupancy",
    )  # fmt: skip
    for index, summary in enumerate(first.channels):

        def show(figure: str, form: str, value: float, index: int = index) -> str:
            if isinstance(outcome, RunResult):
                return _format(value, form)
            estimate = outcome.estimates[outcome.runs[0].channels[index].channel][figure]
            low, high = estimate.low, estimate.high
            return f"{_format(estimate.mean, form)} [{_format(low, form)} - {_format(high, form)}]"

        level = (
            summary.service_level
            if isinstance(outcome, RunResult)
            else outcome.estimates[summary.channel]["service_level"].mean
        )
        met = level >= summary.target_share
        table.add_row(
            summary.channel,
            show("offered", "count", summary.offered),
            show("answered", "count", summary.answered),
            show("abandoned", "count", summary.abandoned),
            f"[{'green' if met else 'red'}]"
            + show("service_level", "share", summary.service_level)
            + "[/]",
            f"{summary.target_share:.0%}",
            show("mean_wait_s", "duration", summary.mean_wait_s),
            show("p90_wait_s", "duration", summary.p90_wait_s),
            show("breaches", "count", summary.breaches),
            show("penalties_eur", "euros", summary.penalties_eur),
            show("occupancy", "share", summary.occupancy),
        )
    console.print(table)
    for channel, policy in loaded.settings.channels.items():
        console.print(f"{channel} SLA: {describe_sla(policy.sla)}", markup=False)
    console.print(
        f"advisor occupancy, all channels: {first.occupancy:.1%}. Within SLA: answered in time "
        "over answered, abandoned and late; work still open and in time has no outcome yet."
    )
    for summary in first.channels:
        if isinstance(outcome, RunResult) and summary.callbacks_requested:
            console.print(
                f"{summary.channel} callbacks: {summary.callbacks_requested:,} asked for "
                f"({summary.callbacks_requested_within_sla:,} within the SLA, counted in it), "
                f"{summary.callbacks_reached:,} reached, {summary.callbacks_unreached:,} "
                f"unreached, {summary.callbacks_open:,} still open; "
                f"{summary.callbacks_made_within_target:,} made in time: callback service "
                f"level {summary.callback_service_level:.1%}",
                markup=False,
            )
        elif isinstance(outcome, ReplicatedRun):
            figures = outcome.estimates[summary.channel]
            if figures["callbacks_requested"].mean:
                console.print(
                    f"{summary.channel} callbacks (mean): "
                    f"{_format(figures['callbacks_requested'].mean, 'count')} asked for, "
                    f"{_format(figures['callbacks_reached'].mean, 'count')} reached; callback "
                    f"service level {figures['callback_service_level'].mean:.1%}",
                    markup=False,
                )


def _format(value: float, form: str) -> str:
    if form == "share":
        return f"{value:.1%}"
    if form == "count":
        return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
    if form == "euros":
        return f"{value:,.0f} €"
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.0f} s"


class _QueueAnswer(msgspec.Struct, frozen=True):
    """The answer of ``simulate queue --json``: measured figures, then the formula's."""

    offered: int
    answered: int
    abandoned: int
    service_level: float
    asa_s: float
    abandon_rate: float
    occupancy: float
    formula: dict[str, object]


@simulate_app.command("queue")
def queue_command(
    rate_per_hour: Annotated[float, typer.Option(min=0.000001, help="Calls per hour.")],
    aht: Annotated[float, typer.Option(min=0.001, help="Mean handling time, seconds.")],
    agents: Annotated[int, typer.Option(min=1, help="Advisors, always available.")],
    target: Annotated[float, typer.Option(min=0, help="Service-level target time, seconds.")],
    arrivals: Annotated[int, typer.Option(min=1, help="Calls to simulate.")],
    patience: Annotated[
        float | None, typer.Option(min=0.001, help="Mean patience, seconds (Erlang A).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the random draws.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    journal: Annotated[
        Path | None,
        typer.Option(
            "--journal",
            help="Write the run's events into this new journal file (SQLite), for "
            "`aiguillage report --store sqlite:///FILE`; one replication only.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """One voice queue (Poisson arrivals, exponential handling) through the real engine."""
    from aiguillage.simulations.erlang import UnstableQueue
    from aiguillage.simulations.queue import run_queue

    try:
        run = run_queue(
            rate_per_hour=rate_per_hour,
            aht_s=aht,
            agents=agents,
            target_s=target,
            arrivals=arrivals,
            patience_s=patience,
            seed=seed,
        )
    except UnstableQueue as exc:
        _fail(f"{exc}; without --patience the queue would grow without end")
    formula = run.formula
    formula_figures: dict[str, object] = {
        "model": "erlang_a" if patience is not None else "erlang_c",
        "wait_probability": formula.wait_probability,
        "service_level": formula.service_level,
        "asa_s": formula.asa_s,
        "occupancy": formula.occupancy,
        "abandon_rate": formula.abandon_rate,
    }
    answer = _QueueAnswer(
        offered=run.offered,
        answered=run.answered,
        abandoned=run.abandoned,
        service_level=run.service_level,
        asa_s=run.asa_s,
        abandon_rate=run.abandon_rate,
        occupancy=run.occupancy,
        formula=formula_figures,
    )
    if as_json:
        typer.echo(msgspec.json.encode(answer).decode())
        return
    from rich.console import Console

    from aiguillage.adapters.cli.tables import HeadedTable

    table = HeadedTable("figure", "engine (measured)", f"{formula_figures['model']} (formula)")
    table.add_row("service level", f"{run.service_level:.4f}", f"{formula.service_level:.4f}")
    table.add_row("ASA, s", f"{run.asa_s:.2f}", f"{formula.asa_s:.2f}")
    table.add_row("abandon rate", f"{run.abandon_rate:.4f}", _maybe(formula.abandon_rate))
    table.add_row("occupancy", f"{run.occupancy:.4f}", f"{formula.occupancy:.4f}")
    table.add_row("offered / answered / abandoned", f"{run.offered} / {run.answered} / "
                  f"{run.abandoned}", "")  # fmt: skip
    Console(highlight=False).print(table)


def _maybe(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
