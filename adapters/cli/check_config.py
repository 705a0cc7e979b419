"""``aiguillage check-config``: a configuration's summary and OK, or each problem with its line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aiguillage.adapters.cli.sla import describe_sla
from aiguillage.adapters.cli.support import load_or_exit
from aiguillage.adapters.config.retention import deprecations
from aiguillage.adapters.config.settings import LoadedConfig
from aiguillage.engine.policies import CHANNELS

__all__ = ["check_config"]


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
