"""``aiguillage retention`` and ``aiguillage export-all``: what the retention removes, and the
reversibility export.

``retention`` prints, per category of ``[retention]``, what the periods put past their end:
what would go (by default) or what went (``--apply``, the daemon's daily pass run now).
``export-all`` writes the reversibility export (``stores.export``) and ``export-all verify DIR``
checks one (``stores.export_reader``). Both work on the store ``--store`` names, an embedded
journal or a Redis domain, beside a running daemon or without one (``stores.beside``).
"""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import anyio
import typer

from aiguillage.adapters.cli.serve import StoreOption, _err, _store
from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.config.retention import deprecations
from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.beside import beside
from aiguillage.adapters.stores.export import ExportSummary, export_all
from aiguillage.adapters.stores.export_reader import main as verify_main
from aiguillage.adapters.stores.journal import JournalError
from aiguillage.adapters.stores.retention import Removal, retention_pass
from aiguillage.adapters.stores.views import iso

__all__ = ["export_app", "retention"]


def retention(
    config: ConfigOption = None,
    store: StoreOption = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Remove it now, as the daemon's daily pass does.")
    ] = False,
) -> None:
    """Print what each category's retention period removes: what would go, or with --apply
    what went (messages, attachments, access log; recordings are the call channel's)."""
    loaded = load_or_exit(config)
    for notice in deprecations(loaded.source, loaded.settings.daemon):
        _err.print(notice, markup=False)
    where = _store(store, loaded)
    days = loaded.settings.retention_days()
    now = time.time_ns() // 1000
    by = Actor("command", f"retention by {getpass.getuser()}")

    async def run() -> list[Removal]:
        async with beside(where) as stores:
            return await retention_pass(
                days,
                now,
                await stores.personal(),
                await stores.access(),
                apply=apply,
                by=by,
                open_work=await stores.open_work(),
            )

    try:
        removals = anyio.run(run)
    except JournalError as exc:
        _err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    zone = ZoneInfo(loaded.settings.calendar.timezone)
    verb = "removed" if apply else "would remove"
    for removal in removals:
        print(
            f"{removal.category}: {removal.days} days, stored before "
            f"{iso(removal.before, zone)}: {verb} {removal.removed}"
        )
    recordings = days.recordings
    print(
        "recordings: "
        + (f"{recordings} days" if recordings else "each call channel's recording_retention_days")
        + ", deleted daily by the call channel"
    )


export_app = typer.Typer(
    no_args_is_help=False,
    invoke_without_command=True,
    help="Write the reversibility export (journal, personal data, configuration), or check one.",
)


@export_app.callback(invoke_without_command=True)
def export(
    context: typer.Context,
    config: ConfigOption = None,
    store: StoreOption = None,
    output: Annotated[
        Path | None, typer.Option(help="A new (or empty) directory to write the export to.")
    ] = None,
) -> None:
    """Write the whole journal, the access log, the personal data and the configuration as
    documented JSON Lines, with a reader (docs/reversibility.md)."""
    if context.invoked_subcommand is not None:
        return
    if output is None:
        _err.print("--output DIR is required: a new directory for the export")
        raise typer.Exit(2)
    loaded = load_or_exit(config)
    where = _store(store, loaded)

    async def run() -> ExportSummary:
        async with beside(where) as stores, stores.export_source() as source:
            return await export_all(source, Path(loaded.source), output)

    try:
        manifest = anyio.run(run)
    except JournalError as exc:
        _err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    journal, personal = manifest["journal"], manifest["personal"]
    print(
        f"{output}: {journal['records']} journal records, {journal['seals']} seals, "
        f"{manifest['access_log']['entries']} access-log entries, {personal['pieces']} pieces "
        f"of personal data of {personal['interactions']} interactions, config.toml; check it "
        f"with: python3 {output / 'verify_export.py'} {output}"
    )


@export_app.command("verify")
def verify(
    directory: Annotated[Path, typer.Argument(help="The export's directory.")],
) -> None:
    """Re-walk the exported journal's and access log's chains and check the counts."""
    raise typer.Exit(verify_main([str(directory)]))
