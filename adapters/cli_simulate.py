"""``aiguillage simulate``: a deployment in virtual time, its service levels and penalties.

Runs the real engine (``simulations.run``) on the configured roster, shifts and traffic; with
``--replications`` several seeds run in parallel on the machine's cores and every figure gets a
mean and a 95 % confidence interval. Prints a table per channel, or one JSON object with
``--json``.
"""

from __future__ import annotations

import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from aiguillage.engine.commands import AddAdvisor
from aiguillage.engine.routing import STRATEGIES
from aiguillage.simulations.outcome import Estimate, ReplicatedRun, RunResult
from aiguillage.simulations.run import Deployment, simulate

from .cli_sla import describe_sla
from .cli_support import ConfigOption, load_or_exit
from .config import LoadedConfig

__all__ = ["deployment_of", "estimates", "simulate_command"]

FIGURES = ("service_level", "mean_wait_s", "p90_wait_s", "breaches", "penalties_eur", "occupancy")


def deployment_of(loaded: LoadedConfig) -> Deployment:
    """Return what a configuration file describes, as the simulator's input."""
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


# Student's t quantiles at 97.5 % for 1 to 30 degrees of freedom; 1.96 beyond.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def estimates(runs: list[RunResult]) -> dict[str, dict[str, Estimate]]:
    """Return, per channel and figure, the mean over runs and its 95 % confidence interval."""
    out: dict[str, dict[str, Estimate]] = {}
    n = len(runs)
    quantile = _T975[n - 2] if 2 <= n <= 31 else 1.96
    for index, summary in enumerate(runs[0].channels):
        figures: dict[str, Estimate] = {}
        for figure in FIGURES:
            values = [float(getattr(run.channels[index], figure)) for run in runs]
            mean = sum(values) / n
            if n > 1:
                variance = sum((v - mean) ** 2 for v in values) / (n - 1)
                half = quantile * math.sqrt(variance / n)
            else:
                half = 0.0
            figures[figure] = Estimate(mean=mean, low=mean - half, high=mean + half)
        out[summary.channel] = figures
    return out


def _one(job: tuple[Deployment, float, int, str | None, date | None]) -> RunResult:
    deployment, days, seed, strategy, start = job
    return simulate(deployment, days=days, seed=seed, strategy=strategy, start=start)


def simulate_command(
    config: ConfigOption = None,
    days: Annotated[
        float | None, typer.Option(min=0.01, help="Days to simulate (default: the config's).")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (local).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD, included.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the config's).")] = None,
    replications: Annotated[int, typer.Option(min=1, max=1000, help="Runs with seeds S, S+1…")] = 1,
    strategy: Annotated[
        str | None, typer.Option(help=f"Routing strategy: {', '.join(sorted(STRATEGIES))}.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
) -> None:
    """Simulate the configured deployment in virtual time: service levels, waits, penalties."""
    loaded = load_or_exit(config)
    deployment = deployment_of(loaded)
    if strategy is not None and strategy not in STRATEGIES:
        raise typer.BadParameter(
            f"unknown strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}",
            param_hint="--strategy",
        )
    start, length = _period(from_, to, days, deployment)
    first_seed = deployment.scenario.seed if seed is None else seed
    jobs = [(deployment, length, first_seed + n, strategy, start) for n in range(replications)]
    runs = _run_all(jobs, quiet=as_json)
    outcome: RunResult | ReplicatedRun = (
        runs[0] if replications == 1 else ReplicatedRun(runs=runs, estimates=estimates(runs))
    )
    if as_json:
        typer.echo(msgspec.json.encode(outcome).decode())
        return
    _print(outcome, loaded)


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


def _run_all(
    jobs: list[tuple[Deployment, float, int, str | None, date | None]], quiet: bool
) -> list[RunResult]:
    show = not quiet and sys.stderr.isatty()
    workers = min(len(jobs), os.cpu_count() or 1)
    with Progress(console=Console(stderr=True), disable=not show, transient=True) as progress:
        task = progress.add_task("simulating", total=len(jobs))
        if workers == 1:
            results = []
            for job in jobs:
                results.append(_one(job))
                progress.advance(task)
            return results
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = []
            for result in pool.map(_one, jobs):
                results.append(result)
                progress.advance(task)
            return results


def _print(outcome: RunResult | ReplicatedRun, loaded: LoadedConfig) -> None:
    console = Console(highlight=False)
    first = outcome if isinstance(outcome, RunResult) else outcome.runs[0]
    runs = 1 if isinstance(outcome, RunResult) else len(outcome.runs)
    console.print(
        f"[bold]{first.deployment}[/] — {first.start[:16]} to {first.end[:16]} "
        f"({first.timezone}), strategy {first.strategy}, seed {first.seed}"
        + (f", {runs} replications (mean [95 % CI])" if runs > 1 else "")
    )
    table = Table(
        "channel", "offered", "answered", "abandoned", "within SLA", "target",
        "mean wait", "p90 wait", "breaches", "penalties", "occupancy",
    )  # fmt: skip
    for index, summary in enumerate(first.channels):

        def show(figure: str, form: str, value: float, index: int = index) -> str:
            if isinstance(outcome, RunResult):
                return _format(value, form)
            estimate = outcome.estimates[outcome.runs[0].channels[index].channel][figure]
            return (
                f"{_format(estimate.mean, form)} "
                f"[{_format(estimate.low, form)} - {_format(estimate.high, form)}]"
            )

        met = summary.service_level >= summary.target_share
        table.add_row(
            summary.channel,
            str(summary.offered),
            str(summary.answered),
            str(summary.abandoned),
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
