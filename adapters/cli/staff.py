"""``aiguillage staff``: how many advisors are needed, for one queue or a whole week.

``staff erlang`` takes a demand (calls per hour, average handling time, target answer time, and
optionally the callers' mean patience) and either a number of agents, to print what they achieve,
or a service level, to print the fewest agents reaching it. ``staff plan`` plans a week of the
configured deployment per half-hour and checks the plan by simulation. The arithmetic lives in
``aiguillage.simulations`` (``erlang``, ``planning``); this module parses, checks and renders.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import typer

from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.simulations.erlang import (
    Staffing,
    TargetUnreachable,
    UnstableQueue,
    smallest_agents,
    staffing,
)

__all__ = ["staff_app"]

staff_app = typer.Typer(no_args_is_help=True, add_completion=False)


@staff_app.callback()
def _staff() -> None:
    """Staffing: advisors for a queue of calls (erlang), or per half-hour over a week (plan)."""


class ErlangAnswer(msgspec.Struct, frozen=True):
    """The answer of ``staff erlang --json``: the inputs, then the figures."""

    model: Literal["erlang_c", "erlang_a"]
    rate_per_hour: float
    aht_s: float
    target_s: float
    patience_s: float | None
    agents: int
    wait_probability: float
    service_level: float
    asa_s: float
    occupancy: float
    abandon_rate: float | None


def _positive(value: float, option: str, unit: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a number of {unit} above zero", param_hint=option)
    return value


@staff_app.command("erlang")
def erlang(
    rate_per_hour: Annotated[
        float, typer.Option("--rate-per-hour", help="Calls offered per hour.", show_default=False)
    ],
    aht: Annotated[
        float,
        typer.Option(
            "--aht", help="Average handling time of a call, in seconds.", show_default=False
        ),
    ],
    target: Annotated[
        float,
        typer.Option(
            "--target",
            help="Target answer time of the service level, in seconds.",
            show_default=False,
        ),
    ],
    agents: Annotated[
        int | None,
        typer.Option(
            "--agents", help="Advisors on the queue: print what they achieve.", show_default=False
        ),
    ] = None,
    service_level: Annotated[
        float | None,
        typer.Option(
            "--service-level",
            help="Share of calls to answer within the target (0.8 for 80 %): print the fewest "
            "advisors reaching it.",
            show_default=False,
        ),
    ] = None,
    patience: Annotated[
        float | None,
        typer.Option(
            "--patience",
            help="Callers' mean patience in seconds before hanging up (Erlang A); without it, "
            "callers wait as long as it takes (Erlang C).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the service level of a number of advisors, or the fewest reaching a service level."""
    _positive(rate_per_hour, "--rate-per-hour", "calls per hour")
    _positive(aht, "--aht", "seconds")
    if not (math.isfinite(target) and target >= 0):
        raise typer.BadParameter("must be a number of seconds, zero or more", param_hint="--target")
    if patience is not None:
        _positive(patience, "--patience", "seconds")
    if (agents is None) == (service_level is None):
        raise typer.BadParameter(
            "give exactly one: --agents to evaluate a staffing, or --service-level to find one",
            param_hint="'--agents' / '--service-level'",
        )
    if agents is not None and agents < 1:
        raise typer.BadParameter(
            "must be a whole number of advisors, 1 or more", param_hint="--agents"
        )
    if service_level is not None and not (0 < service_level < 1):
        raise typer.BadParameter(
            "must be a fraction strictly between 0 and 1, such as 0.8 for 80 %",
            param_hint="--service-level",
        )
    rate_per_s = rate_per_hour / 3600
    try:
        if agents is not None:
            figures = staffing(
                rate_per_s=rate_per_s,
                aht_s=aht,
                agents=agents,
                target_s=target,
                patience_s=patience,
            )
        else:
            assert service_level is not None
            figures = smallest_agents(
                service_level,
                rate_per_s=rate_per_s,
                aht_s=aht,
                target_s=target,
                patience_s=patience,
            )
    except UnstableQueue as exc:
        typer.echo(f"{exc}; add agents, or give --patience to let callers hang up", err=True)
        raise typer.Exit(1) from None
    except TargetUnreachable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    answer = ErlangAnswer(
        model="erlang_c" if patience is None else "erlang_a",
        rate_per_hour=rate_per_hour,
        aht_s=aht,
        target_s=target,
        patience_s=patience,
        agents=figures.agents,
        wait_probability=figures.wait_probability,
        service_level=figures.service_level,
        asa_s=figures.asa_s,
        occupancy=figures.occupancy,
        abandon_rate=figures.abandon_rate,
    )
    if as_json:
        typer.echo(msgspec.json.encode(answer).decode())
        return
    for line in _table(answer, figures, service_level):
        typer.echo(line)


def _table(answer: ErlangAnswer, figures: Staffing, goal: float | None) -> list[str]:
    model = "Erlang C (callers never hang up)"
    if answer.patience_s is not None:
        model = f"Erlang A (mean patience {answer.patience_s:g} s)"
    agents = str(figures.agents)
    if goal is not None:
        agents += f" (the fewest answering {goal:.2%} within {answer.target_s:g} s)"
    rows = [
        ("model", model),
        ("demand", f"{answer.rate_per_hour:g} calls/h, AHT {answer.aht_s:g} s"),
        ("agents", agents),
        ("wait probability", f"{figures.wait_probability:.2%}"),
        ("service level", f"{figures.service_level:.2%} within {answer.target_s:g} s"),
        ("average speed of answer", f"{figures.asa_s:.1f} s"),
        ("occupancy", f"{figures.occupancy:.2%}"),
    ]
    if figures.abandon_rate is not None:
        rows.append(("abandon rate", f"{figures.abandon_rate:.2%}"))
    width = max(len(label) for label, _ in rows)
    return [f"{label:<{width}}  {value}" for label, value in rows]


@staff_app.command("plan")
def plan_command(
    config: ConfigOption = None,
    week: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD (default: the config's start).")
    ] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the plan as CSV.")] = None,
    shrinkage: Annotated[
        float | None,
        typer.Option(
            min=0, max=0.95, help="Share of paid time not on the floor (simulation.shrinkage)."
        ),
    ] = None,
    max_occupancy: Annotated[
        float | None,
        typer.Option(
            min=0.05, max=1, help="Highest share of time kept busy (simulation.max_occupancy)."
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option(help="Simulate the week with the plan and print what it achieves.")
    ] = True,
) -> None:
    """Advisors needed per half-hour and channel over a week, checked by simulation."""
    from rich.console import Console

    from aiguillage.adapters.cli.simulate import deployment_of
    from aiguillage.adapters.cli.tables import HeadedTable
    from aiguillage.adapters.reports.staffing_csv import plan_to_csv
    from aiguillage.engine.calendar import BusinessCalendar
    from aiguillage.engine.instants import from_datetime
    from aiguillage.simulations.planning import hours_to_schedule, plan_week
    from aiguillage.simulations.run import simulate

    loaded = load_or_exit(config)
    deployment = deployment_of(loaded)
    shrinkage = deployment.scenario.shrinkage if shrinkage is None else shrinkage
    max_occupancy = deployment.scenario.max_occupancy if max_occupancy is None else max_occupancy
    try:
        first = deployment.start if week is None else date.fromisoformat(week)
    except ValueError:
        raise typer.BadParameter("a date is YYYY-MM-DD", param_hint="--week") from None
    calendar = BusinessCalendar(loaded.settings.calendar)
    start = from_datetime(datetime.combine(first, time(0), calendar.zone))
    rows = plan_week(deployment.policies, deployment.scenario, start, max_occupancy=max_occupancy)
    if csv_file is not None:
        csv_file.write_text(plan_to_csv(rows, calendar.zone), encoding="utf-8")
    console = Console(highlight=False)
    channels = list(rows[0].needs)
    hours_per_row = deployment.scenario.interval_minutes / 60
    table = HeadedTable(
        "day", *(f"{c} peak" for c in channels), *(f"{c} hours to schedule" for c in channels)
    )
    for day in range(7):
        day_start = from_datetime(
            datetime.combine(first + timedelta(days=day), time(0), calendar.zone)
        )
        day_end = from_datetime(
            datetime.combine(first + timedelta(days=day + 1), time(0), calendar.zone)
        )
        day_rows = [r for r in rows if day_start <= r.start < day_end]
        label = f"{first + timedelta(days=day):%a %d %b}"
        peaks = [str(max(r.needs[c] for r in day_rows)) for c in channels]
        hours = [
            f"{hours_to_schedule(sum(r.needs[c] for r in day_rows) * hours_per_row, shrinkage):.1f}"
            for c in channels
        ]
        table.add_row(label, *peaks, *hours)
    console.print(
        f"advisors needed on the floor per {deployment.scenario.interval_minutes} min (each "
        f"channel's occupancy at most {max_occupancy:.0%} with the forecast traffic; written "
        f"complaints within opening hours): the peak of each day, and the advisor-hours to "
        f"schedule with {shrinkage:.0%} shrinkage"
    )
    console.print(table)
    if csv_file is not None:
        console.print(f"plan: {csv_file.resolve()}", markup=False)
    if check:
        planned = dataclasses.replace(deployment, plan=tuple(rows))
        result = simulate(planned, days=7, start=first)
        for summary in result.channels:
            met = summary.service_level >= summary.target_share
            console.print(
                f"simulated with the plan: {summary.channel} service level "
                f"[{'green' if met else 'red'}]{summary.service_level:.1%}[/] "
                f"(target {summary.target_share:.0%}), {summary.breaches} breaches, "
                f"occupancy {summary.occupancy:.1%}"
            )
