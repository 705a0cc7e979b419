"""``aiguillage serve``, ``replay``, ``erase`` and ``token``: running and auditing the daemon."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.console import Console

from .auth import mint
from .cli_support import ConfigOption, load_or_exit
from .config import ROLES, LoadedConfig
from .personal import SQLitePersonalStore
from .sqlite_journal import verify_file
from .stores import StoreError, personal_path_of, store_path

__all__ = ["erase", "replay", "serve", "token_app"]

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="sqlite:///relative/path.sqlite or sqlite:////absolute/path.sqlite; by default "
        "journal.sqlite in [deployment] data_dir.",
        show_default=False,
    ),
]
_err = Console(stderr=True, highlight=False)


def _journal_path(store: str | None, loaded: LoadedConfig) -> Path:
    try:
        return store_path(store, loaded)
    except StoreError as exc:
        _err.print(f"--store {exc}", markup=False)
        raise typer.Exit(2) from None


def serve(
    config: ConfigOption = None,
    store: StoreOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on ([daemon] host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on ([daemon] port).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the routing daemon: the engine, its journal, the HTTP and WebSocket API."""
    # Imported here: the web stack is not needed by the other commands, which start faster.
    from .logs import configure_logging
    from .serve import build_runtime, run_daemon

    loaded = load_or_exit(config)
    path = _journal_path(store, loaded)
    configure_logging(level=log_level)
    runtime = build_runtime(loaded, path)
    daemon = loaded.settings.daemon
    try:
        run_daemon(runtime, host or daemon.host, daemon.port if port is None else port)
    except* Exception as group:
        for exc in group.exceptions:
            _err.print(f"aiguillage serve: {exc}", markup=False)
        raise typer.Exit(1) from None


def replay(
    config: ConfigOption = None,
    store: StoreOption = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Check the hash chain of every event.")
    ] = False,
) -> None:
    """Check a journal: with --verify, every event's hash chain, naming the first break."""
    loaded = load_or_exit(config)
    path = _journal_path(store, loaded)
    if not path.exists():
        _err.print(f"{path}: no journal here; give --store or run where the daemon keeps it")
        raise typer.Exit(1)
    if not verify:
        _err.print("nothing to do: pass --verify to check the journal's hash chain")
        raise typer.Exit(2)
    result = verify_file(path)
    if result.ok:
        print(f"{path}: {result.checked} events, hash chain intact")
        print(f"last hash: {result.last_hash} (keep it apart: a later check must find it)")
        return
    print(f"{path}: BROKEN after {result.checked} events checked: {result.reason}")
    raise typer.Exit(1)


def erase(
    interaction_id: Annotated[int, typer.Argument(help="The interaction whose data to erase.")],
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Erase an interaction's personal data (customer, subject, text); the journal stays valid."""
    loaded = load_or_exit(config)
    path = personal_path_of(_journal_path(store, loaded))
    if not path.exists():
        _err.print(f"{path}: no personal-data store here; give --store")
        raise typer.Exit(1)

    async def run() -> bool:
        personal = SQLitePersonalStore(path)
        await personal.open()
        try:
            return await personal.erase(interaction_id)
        finally:
            await personal.close()

    if anyio.run(run):
        print(f"interaction {interaction_id}: personal data erased")
    else:
        print(f"interaction {interaction_id}: no personal data held (never given, or erased)")


token_app = typer.Typer(no_args_is_help=True, help="API tokens.")


@token_app.command("new")
def token_new(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    advisor: Annotated[
        str | None, typer.Option(help="For role advisor: the advisor id it acts as.")
    ] = None,
    label: Annotated[str, typer.Option(help="A note on who holds it.")] = "",
) -> None:
    """Mint a token: print it once, and the [[tokens]] lines to add to config.toml."""
    if role not in ROLES:
        _err.print(f"--role {role}: unknown role; one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    try:
        token, lines = mint(role, advisor, label)
    except ValueError as exc:
        _err.print(f"{exc}")
        raise typer.Exit(2) from None
    sys.stdout.write(
        f"token (shown once; hand it to its holder): {token}\n\nadd to config.toml:\n\n{lines}\n"
    )
