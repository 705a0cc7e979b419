"""``aiguillage nowcast``: the rest of a day simulated from a journal, and the calibration.

``aiguillage nowcast --store URL [--at ISO]`` replays the journal up to ``--at`` (by default its
last event), takes the engine's image there and the day's figures so far (``DayTally`` over the
journal's events since local midnight), and makes the nowcast the daemon would have shown then
(``daemon.nowcast.request_of``, the same seed: the last record's seq), as a table per variant
or one JSON object with ``--json``.

``aiguillage nowcast calibrate --days 20 --seed S`` runs ``simulations.nowcast_calibration``
on the configured deployment and prints a line per day and the shares that judge it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, NoReturn

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from aiguillage.adapters.cli.serve import StoreOption
from aiguillage.adapters.cli.simulate import deployment_of
from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.config.datetimes import DatetimeError, parse_instant
from aiguillage.adapters.daemon.nowcast import request_of
from aiguillage.adapters.stores.journal import JournalError, Record
from aiguillage.adapters.stores.reading import read_pages
from aiguillage.adapters.stores.urls import StoreError, store_of
from aiguillage.engine.engine import Engine
from aiguillage.engine.instants import Instant
from aiguillage.engine.policies import Channel
from aiguillage.simulations.nowcast import INTERVAL, Nowcast, SoFar, day_bounds_of, nowcast
from aiguillage.simulations.nowcast_calibration import Calibration, calibrate
from aiguillage.simulations.nowcast_tally import DayTally

__all__ = ["nowcast_app"]

nowcast_app = typer.Typer(add_completion=False)
_err = Console(stderr=True, highlight=False)


def _fail(message: str) -> NoReturn:
    _err.print(f"aiguillage nowcast: {message}", markup=False)
    raise typer.Exit(1)


@nowcast_app.callback(invoke_without_command=True)
def nowcast_command(
    context: typer.Context,
    config: ConfigOption = None,
    store: StoreOption = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When, ISO-8601 with its offset (2027-01-05T10:00:00+01:00); by default the "
            "journal's last event.",
            show_default=False,
        ),
    ] = None,
    replications: Annotated[
        int | None,
        typer.Option(min=1, max=200, help="Replications (default: [nowcast] replications)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
) -> None:
    """Simulate the rest of the day from a journal, as the daemon's nowcast would have then.

    `aiguillage nowcast calibrate` checks the nowcast against simulated days instead.
    """
    if context.invoked_subcommand is not None:
        return
    loaded = load_or_exit(config)
    try:
        until = None if at is None else parse_instant(at)
    except DatetimeError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from None
    try:
        where = store_of(store, loaded)
    except StoreError as exc:
        raise typer.BadParameter(str(exc), param_hint="--store") from None
    replay = _Replay(until)
    try:
        read_pages(where, replay.take)
    except JournalError as exc:
        _fail(str(exc))
    if replay.seq == 0:
        _fail("the journal has no event before that instant: nothing to start from")
    now = replay.engine.now if until is None else max(until, replay.engine.now)
    request = request_of(
        loaded.settings,
        replay.engine.image(),
        now,
        replay.so_far(now),
        seed=replay.seq,
        replications=replications,
    )
    result = nowcast(request)
    if as_json:
        typer.echo(msgspec.json.encode(result).decode())
        return
    _print(result)


class _Replay:
    """The engine rebuilt from a journal up to an instant, and the day's figures so far."""

    def __init__(self, until: Instant | None) -> None:
        self.until = until
        self.engine = Engine()
        self.seq = 0
        self.tally: DayTally | None = None
        self._day_end: Instant | None = None

    def take(self, records: Sequence[Record]) -> None:
        for record in records:
            event = record.event
            if self.until is not None and event.at > self.until:
                return
            self._roll(event.at)
            self.engine.apply(event)
            self.seq = record.seq
            if self.tally is not None:
                self.tally(event)

    def _roll(self, at: Instant) -> None:
        """Start the day's figures afresh at each local midnight."""
        if self._day_end is not None and at < self._day_end:
            return
        if self.seq == 0:
            return  # the policies (and so the calendar) come with the first event
        start, self._day_end = day_bounds_of(self.engine.state.calendar, at)
        self.tally = DayTally(self.engine, start, INTERVAL)

    def so_far(self, now: Instant) -> dict[Channel, SoFar]:
        self._roll(now)
        if self.tally is None:
            return {}
        return {
            channel: SoFar(
                arrived=count.arrived,
                answered=count.answered,
                within=count.within,
                abandoned=count.abandoned,
                short_abandons=count.short_abandons,
                callbacks=count.callbacks,
                callbacks_within=count.callbacks_within,
                breaches=count.breaches,
            )
            for channel, count in self.tally.channels.items()
        }


def _print(result: Nowcast) -> None:
    console = Console(highlight=False)
    console.print(
        f"nowcast at {result.at} to {result.closing}, {result.replications} replications "
        f"(seed {result.seed}); level of the plan for the rest of the day: "
        + ", ".join(f"{c} x{v:.2f}" for c, v in result.level.items()),
        markup=False,
    )
    for variant in result.variants:
        table = Table(
            "channel",
            "service level",
            "breaches (90 %)",
            "penalties € (90 %)",
            "backlog peak",
            title=f"{variant.what_if}: {variant.breaches_rest.mean:.1f} breaches from now, "
            f"{variant.penalties_eur.mean:.0f} € for the day",
        )
        for line in variant.channels:
            level = line.service_level
            peak = (
                "-"
                if line.backlog_peak_at is None
                else f"{datetime.fromisoformat(line.backlog_peak_at):%H:%M} "
                f"({line.backlog_peak:.0f})"
            )
            table.add_row(
                line.channel,
                "-" if level is None else f"{level.mean:.1%} (target {line.target_share:.0%})",
                f"{line.breaches.mean:.1f} [{line.breaches.low:.0f}-{line.breaches.high:.0f}]",
                f"{line.penalties_eur.mean:.0f} [{line.penalties_eur.low:.0f}-"
                f"{line.penalties_eur.high:.0f}]",
                peak,
            )
        console.print(table)


@nowcast_app.command("calibrate")
def calibrate_command(
    config: ConfigOption = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Working days simulated.")] = 20,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the days and their surges.")] = 1,
    replications: Annotated[int, typer.Option(min=2, max=200, help="Per nowcast.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
) -> None:
    """Nowcast at 10:00 against the rest of the same simulated day, over days with surges."""
    deployment = deployment_of(load_or_exit(config))
    report = calibrate(deployment, days=days, seed=seed, replications=replications)
    if as_json:
        typer.echo(msgspec.json.encode(report).decode())
        return
    _print_calibration(report)


def _print_calibration(report: Calibration) -> None:
    print("day         surge (unknown to the plan)         breaches  90 % interval  in   what-if")
    for day in report.days:
        print(
            f"{day.day}  {day.surge:<35} {day.breaches:>8}  [{day.low:>4.0f}, {day.high:>4.0f}]"
            f"   {'yes' if day.within else 'NO ':<4} {day.what_if}: nowcast "
            f"{day.nowcast_as_is:.1f} -> {day.nowcast_moved:.1f}, realised "
            f"{day.breaches} -> {day.realised_moved}"
        )
    print(
        f"realised breaches within the 90 % interval: {report.within_share:.0%} of days "
        f"(per channel and day: {report.channel_within_share:.0%})"
    )
    print(
        f"what-if toward the channel at risk: fewer breaches in the nowcast on "
        f"{report.nowcast_fewer_share:.0%} of days, in the replay on "
        f"{report.realised_fewer_share:.0%}; realised breaches in all "
        f"{report.breaches_as_is} -> {report.breaches_moved}"
    )
