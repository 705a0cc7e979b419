"""``aiguillage demo``: the engine at work on a configuration, in virtual time.

A morning of the deployment, through the same simulator as ``aiguillage simulate``: the
advisors of the morning shift log in at opening time, calls, complaints and social messages
arrive at the configured volumes times a busy-day factor, simulated advisors accept, answer and
close. The demo prints the first routing decisions with
the reason the engine journaled for each, then what every channel achieved against its SLA.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from aiguillage.adapters.cli.simulate import deployment_of
from aiguillage.adapters.cli.sla import describe_sla
from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.config.settings import LoadedConfig
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.events import Event, InteractionArrived, OfferMade
from aiguillage.engine.instants import to_datetime
from aiguillage.simulations.outcome import RunResult
from aiguillage.simulations.run import simulate

__all__ = ["demo"]


def demo(
    config: ConfigOption = None,
    hours: Annotated[float, typer.Option(min=0.5, max=13, help="Hours to run from opening.")] = 5.0,
    busy: Annotated[
        float, typer.Option(min=0.1, max=50, help="Traffic as a multiple of an average day.")
    ] = 3.0,
    seed: Annotated[int, typer.Option(help="Seed of the random draws.")] = 1,
    decisions: Annotated[int, typer.Option(min=0, help="Routing decisions to print.")] = 12,
) -> None:
    """Run a morning of a deployment in virtual time and show the routing at work."""
    loaded = load_or_exit(config)
    console = Console(highlight=False)
    result, shown = _run(loaded, hours, busy, seed, decisions)
    calendar = BusinessCalendar(loaded.settings.calendar)
    names = {advisor.id: advisor.name for advisor in loaded.settings.advisors}
    console.print(
        f"[bold]{loaded.settings.deployment.name}[/] — {hours:g} h from opening on "
        f"{loaded.settings.deployment.start_date:%A %d %B %Y}, traffic x{busy:g}, seed {seed}"
    )
    table = Table("time", "interaction", "offered to", "why", title="First routing decisions")
    for offer, interaction in shown:
        local = to_datetime(offer.at, calendar.zone)
        table.add_row(
            f"{local:%H:%M:%S}",
            interaction,
            f"{names.get(offer.advisor_id, offer.advisor_id)} ({offer.advisor_id})",
            f"{offer.rule.replace('_', ' ')}: best of {offer.candidates}, score {offer.score:.2f}"
            + (f", relaxed step {offer.step}" if offer.step else ""),
        )
    console.print(table)
    summary = Table(
        "channel", "offered", "answered", "abandoned", "within SLA", "target",
        "mean wait", "p90 wait", "breaches", title="What each channel achieved",
    )  # fmt: skip
    for channel in result.channels:
        met = channel.service_level >= channel.target_share
        summary.add_row(
            channel.channel,
            str(channel.offered),
            str(channel.answered),
            str(channel.abandoned),
            f"[{'green' if met else 'red'}]{channel.service_level:.1%}[/]",
            f"{channel.target_share:.0%}",
            _seconds(channel.mean_wait_s),
            _seconds(channel.p90_wait_s),
            str(channel.breaches),
        )
    console.print(summary)
    for name, policy in loaded.settings.channels.items():
        console.print(f"{name} SLA: {describe_sla(policy.sla)}", markup=False)
    console.print(
        "Within SLA counts answered in time over answered, abandoned and late; work still open "
        "and in time has no outcome yet. Each decision above is an offer.made event in the "
        "journal, with the same reason. For whole weeks and reports: aiguillage simulate."
    )


def _run(
    loaded: LoadedConfig, hours: float, busy: float, seed: int, limit: int
) -> tuple[RunResult, list[tuple[OfferMade, str]]]:
    deployment = deployment_of(loaded)
    scenario = deployment.scenario
    busier = msgspec.structs.replace(
        scenario, volumes={source: round(v * busy) for source, v in scenario.volumes.items()}
    )
    calendar = BusinessCalendar(loaded.settings.calendar)
    opening = datetime.combine(
        deployment.start, loaded.settings.calendar.hours.opens, calendar.zone
    )
    arrived: dict[int, str] = {}
    shown: list[tuple[OfferMade, str]] = []

    def remember(event: Event) -> None:
        if isinstance(event, InteractionArrived):
            arrived[event.interaction_id] = (
                f"#{event.interaction_id} {event.channel}/{event.source} "
                f"{event.motive or ''} ({event.language})"
            )
        elif isinstance(event, OfferMade) and len(shown) < limit:
            shown.append((event, arrived[event.interaction_id]))

    result = simulate(
        dataclasses.replace(deployment, scenario=busier),
        days=hours / 24,
        seed=seed,
        start=opening,
        observers=[remember],
    )
    return result, shown


def _seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.0f} s"
