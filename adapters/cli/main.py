"""The ``aiguillage`` command line: one entry point, one subcommand per task.

``app`` is the root Typer application. A subcommand is a function decorated with
``@app.command()`` in this module, or a Typer application in a sibling module mounted here with
``app.add_typer(other_app, name="...")``. ``main()`` is the console-script entry point.

Expected failures (a configuration that does not check out, a file that cannot be read) print
what is wrong on stderr and exit with status 1, never with a traceback.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aiguillage.adapters.cli.channel import channel_app
from aiguillage.adapters.cli.demo import demo
from aiguillage.adapters.cli.nowcast import nowcast_app
from aiguillage.adapters.cli.quality import quality_app
from aiguillage.adapters.cli.report import report_app
from aiguillage.adapters.cli.retention import export_app, retention
from aiguillage.adapters.cli.serve import erase, replay, serve
from aiguillage.adapters.cli.simulate import simulate_app
from aiguillage.adapters.cli.sla import describe_sla, sla_app
from aiguillage.adapters.cli.staff import staff_app
from aiguillage.adapters.cli.subject import subject_app
from aiguillage.adapters.cli.support import load_or_exit
from aiguillage.adapters.cli.tokens import token_app
from aiguillage.adapters.config.retention import deprecations
from aiguillage.adapters.config.settings import LoadedConfig
from aiguillage.engine.policies import CHANNELS

__all__ = ["app", "main"]

app = typer.Typer(
    name="aiguillage",
    no_args_is_help=True,
    add_completion=False,
    # Help texts are shown as written: they name TOML tables ("[daemon] host", "[[tokens]]")
    # and URLs ("redis://host[:port][/db]") that Rich would read as markup. The mode given
    # here is the one every subcommand and mounted application is built with.
    rich_markup_mode=None,
)
app.add_typer(sla_app, name="sla")
app.command("demo")(demo)
app.add_typer(simulate_app, name="simulate")
app.add_typer(staff_app, name="staff")
app.command("serve")(serve)
app.command("replay")(replay)
app.command("erase")(erase)
app.add_typer(subject_app, name="subject")
app.command("retention")(retention)
app.add_typer(export_app, name="export-all")
app.add_typer(token_app, name="token")
app.add_typer(report_app, name="report")
app.add_typer(quality_app, name="quality")
app.add_typer(channel_app, name="channel")
app.add_typer(nowcast_app, name="nowcast")


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"aiguillage {version('aiguillage')}")
        raise typer.Exit


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the installed version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Route a contact center's calls, written complaints and social-media messages."""
    # A callback keeps each command a subcommand (``aiguillage check-config``), even while the
    # application has a single one.


@app.command("check-config")
def check_config(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The configuration file; by default ./config.toml, else the reference shipped.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a configuration file and summarise it; list every problem with its line."""
    _print_summary(load_or_exit(path))


def _print_summary(loaded: LoadedConfig) -> None:
    settings = loaded.settings
    console = Console(highlight=False)
    console.print(
        f"{loaded.source}: {settings.deployment.name} (domain {settings.deployment.domain})",
        markup=False,
    )
    table = Table("channel", "sources", "SLA", "target", "advisors")
    for channel in CHANNELS:
        policy = settings.channels[channel]
        staffed = sum(1 for advisor in settings.advisors if advisor.capacity.get(channel, 0) > 0)
        table.add_row(
            channel,
            escape(", ".join(policy.sources)),
            describe_sla(policy.sla),
            f"{policy.target_share:.0%}",
            str(staffed),
        )
    console.print(table)
    console.print(f"skills: {', '.join(settings.skills)}", markup=False)
    console.print(
        f"{len(settings.advisors)} advisors · languages {', '.join(settings.deployment.languages)}"
        f" · calendar {settings.calendar.timezone} ({settings.calendar.country})",
        markup=False,
    )
    if settings.adapters:
        adapters = [
            name + ("" if table.get("enabled", True) else " (disabled)")
            for name, table in settings.adapters.items()
        ]
        console.print(f"adapters: {', '.join(adapters)}", markup=False)
    if settings.tokens:
        console.print(
            f"[[tokens]]: {len(settings.tokens)} (deprecated: tokens live in the journal; the "
            "daemon imports each table once at its next start, and deleting one revokes nothing."
            " Mint with `aiguillage token new`, revoke with `aiguillage token revoke`, then "
            "delete these tables)",
            markup=False,
        )
    days = settings.retention_days()
    console.print(
        f"retention: messages {days.messages} days, attachments {days.attachments}, recordings "
        f"{days.recordings or 'each channel'}, access log {days.access_log}",
        markup=False,
    )
    for notice in deprecations(loaded.source, settings.daemon):
        console.print(notice, markup=False)
    console.print(f"digest sha256:{loaded.digest}", markup=False)
    console.print("[bold green]OK[/]")


def main() -> None:
    """Run the command line (the ``aiguillage`` console script)."""
    app()


if __name__ == "__main__":
    main()
