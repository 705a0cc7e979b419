"""``aiguillage demo``: the engine at work on a configuration, in virtual time.

A morning of the reference deployment: every advisor of the roster logs in at opening time,
calls, complaints and social messages arrive at the reference volumes (times a busy-day factor),
simulated advisors accept, answer and close. The demo prints the first routing decisions with
the reason the engine journaled for each, then what every channel achieved against its SLA.
"""

from __future__ import annotations

import random
from datetime import datetime, time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.commands import SetAdvisorState
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event, OfferMade
from aiguillage.engine.instants import HOUR, from_datetime, to_datetime
from aiguillage.simulations.kernel import Simulation
from aiguillage.simulations.results import Tally
from aiguillage.simulations.workload import REFERENCE_YEARLY_VOLUMES, Mix, Stream, arrivals

from .cli_sla import describe_sla
from .cli_support import ConfigOption, load_or_exit
from .config import LoadedConfig

__all__ = ["demo"]

VOICE_OPEN_HOURS_PER_YEAR = 309 * 13  # Monday to Saturday less holidays, 07:00 to 20:00


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
    tally, shown = _run(loaded, hours, busy, seed, decisions)
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
    for channel, result in tally.channels.items():
        policy = loaded.settings.channels[channel]
        met = result.service_level >= policy.target_share
        summary.add_row(
            f"{channel} ({describe_sla(policy.sla)})",
            str(result.offered),
            str(result.answered),
            str(result.abandoned),
            f"[{'green' if met else 'red'}]{result.service_level:.1%}[/]",
            f"{policy.target_share:.0%}",
            _seconds(result.mean_wait_s),
            _seconds(result.wait_percentile_s(0.9)),
            str(result.breaches),
        )
    console.print(summary)
    console.print(
        "Within SLA counts answered in time over answered, abandoned and late; work still open "
        "and in time has no outcome yet. Each decision above is an offer.made event in the "
        "journal, with the same reason."
    )


def _run(
    loaded: LoadedConfig, hours: float, busy: float, seed: int, limit: int
) -> tuple[Tally, list[tuple[OfferMade, str]]]:
    settings = loaded.settings
    calendar = BusinessCalendar(settings.calendar)
    opening = settings.calendar.hours.opens
    start = from_datetime(
        datetime.combine(settings.deployment.start_date, opening, calendar.zone)
        if opening != time(0)
        else datetime.combine(settings.deployment.start_date, time(0), calendar.zone)
    )
    end = start + round(hours * HOUR)
    engine = Engine()
    for command in loaded.seed_commands():
        engine.handle(command, start)
    for advisor in settings.advisors:
        engine.handle(SetAdvisorState(advisor_id=advisor.id, state="available"), start)

    tally = Tally()
    shown: list[tuple[OfferMade, str]] = []

    def remember(event: Event) -> None:
        if isinstance(event, OfferMade) and len(shown) < limit:
            interaction = engine.state.interactions[event.interaction_id]
            what = f"#{interaction.id} {interaction.channel}/{interaction.source}"
            shown.append((event, f"{what} {interaction.motive or ''} ({interaction.language})"))

    rng = random.Random(seed)
    simulation = Simulation(engine, rng, observers=[tally, remember])
    voice = settings.channels["voice"]
    streams = [
        Stream(
            channel,
            source,
            busy * volume / (VOICE_OPEN_HOURS_PER_YEAR if channel == "voice" else 8760),
            open_at=(lambda at: calendar.is_open(at, voice.hours)) if channel == "voice" else None,
        )
        for channel, source, volume in REFERENCE_YEARLY_VOLUMES
    ]
    mix = Mix(
        motives=dict.fromkeys(settings.motives, 1.0),
        languages={"fr": 0.9, "en": 0.08, "es": 0.02},
    )
    for at, command in arrivals(streams, mix, start, end, rng):
        simulation.schedule(at, command)
    simulation.run(end)
    return tally, shown


def _seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.0f} s"
