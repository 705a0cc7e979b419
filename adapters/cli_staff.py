"""``aiguillage staff``: how many advisors a queue of calls needs (Erlang C, or A with patience).

``staff erlang`` takes a demand (calls per hour, average handling time, target answer time, and
optionally the callers' mean patience) and either a number of agents, to print what they achieve,
or a service level, to print the fewest agents reaching it. The arithmetic lives in
``aiguillage.simulations.erlang``; this module parses, checks and renders.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgspec
import typer

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
    """Staffing: how many advisors a queue of calls needs."""
    # A callback keeps ``erlang`` a subcommand (``aiguillage staff erlang``) while it is alone.


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
