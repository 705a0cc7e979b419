"""``aiguillage serve``, ``replay`` and ``erase``: running and auditing the daemon."""

from __future__ import annotations

import getpass
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from aiguillage.adapters.cli.support import ConfigOption, load_or_exit

# The stores and anyio are imported by the commands that use them: ``serve --help`` and the
# command line's start need neither.
if TYPE_CHECKING:
    from aiguillage.adapters.config.settings import LoadedConfig
    from aiguillage.adapters.stores.urls import RedisStore, SQLiteStore

__all__ = ["erase", "replay", "serve"]

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="sqlite:///relative/path.sqlite, sqlite:////absolute/path.sqlite or "
        "redis://[[user]:password@]host[:port][/db]; by default journal.sqlite in "
        "[deployment] data_dir.",
        show_default=False,
    ),
]
_err = Console(stderr=True, highlight=False)


def _store(url: str | None, loaded: LoadedConfig) -> SQLiteStore | RedisStore:
    from aiguillage.adapters.stores.urls import StoreError, store_of

    try:
        return store_of(url, loaded)
    except StoreError as exc:
        _err.print(f"--store {exc}", markup=False)
        raise typer.Exit(2) from None


def serve(
    config: ConfigOption = None,
    store: StoreOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on ([daemon] host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on ([daemon] port).")] = None,
    standby: Annotated[
        bool,
        typer.Option(
            "--standby",
            help="On a Redis journal: follow the leader and take over when its lease lapses.",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the routing daemon: the engine, its journal, the HTTP and WebSocket API."""
    # Imported here: the web stack is not needed by the other commands, which start faster.
    from aiguillage.adapters.daemon.logs import configure_logging
    from aiguillage.adapters.daemon.serve import build_runtime, run_daemon

    loaded = load_or_exit(config)
    where = _store(store, loaded)
    daemon = loaded.settings.daemon
    host = host or daemon.host
    port = daemon.port if port is None else port
    address = daemon.advertise_url or f"http://{host}:{port}"
    try:
        runtime = build_runtime(loaded, where, standby=standby, address=address)
    except ValueError as refused:  # --standby on a journal that cannot have one
        _err.print(f"aiguillage serve: {refused}", markup=False)
        raise typer.Exit(2) from None
    configure_logging(level=log_level)
    try:
        run_daemon(runtime, host, port)
    except* Exception as group:
        for exc in group.exceptions:
            _err.print(f"aiguillage serve: {exc}", markup=False)
        raise typer.Exit(1) from None


def replay(
    config: ConfigOption = None,
    store: StoreOption = None,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Check the hash chain of every event, and each snapshot."),
    ] = False,
) -> None:
    """Check a journal: with --verify, every event's hash chain, naming the first break, and
    each snapshot stored against the seal the chain holds of it."""
    import anyio

    from aiguillage.adapters.stores.sqlite.journal import verify_file
    from aiguillage.adapters.stores.urls import RedisStore

    loaded = load_or_exit(config)
    where = _store(store, loaded)
    if not verify:
        _err.print("nothing to do: pass --verify to check the journal's hash chain")
        raise typer.Exit(2)
    if isinstance(where, RedisStore):
        from aiguillage.adapters.stores.journal import JournalError
        from aiguillage.adapters.stores.redis.journal import verify_url

        label = f"domain {where.domain}"
        try:
            result = anyio.run(verify_url, where.url, where.domain, where.archive_dir)
        except JournalError as exc:
            _err.print(f"aiguillage replay: {exc}", markup=False)
            raise typer.Exit(1) from None
    else:
        path = where.path
        label = str(path)
        if not path.exists():
            _err.print(f"{path}: no journal here; give --store or run where the daemon keeps it")
            raise typer.Exit(1)
        result = verify_file(path)
    if result.first_break is not None:
        print(f"{label}: BROKEN after {result.checked} events checked: {result.reason}")
        raise typer.Exit(1)
    print(f"{label}: {result.checked} events, hash chain intact")
    for line in result.snapshots:
        print(line)
    print(f"last hash: {result.last_hash} (keep it apart: a later check must find it)")
    if not result.ok:
        print(f"{label}: BROKEN: a snapshot is not the one its seal vouches for")
        raise typer.Exit(1)
    _verify_access_log(where, label)


def _verify_access_log(where: SQLiteStore | RedisStore, label: str) -> None:
    """Check the access log's chain too (who read whose personal data); exit 1 if broken."""
    import anyio

    from aiguillage.adapters.stores.journal import JournalError, Verification
    from aiguillage.adapters.stores.sqlite.access_log import verify_access_file
    from aiguillage.adapters.stores.urls import RedisStore

    access: Verification | None
    try:
        if isinstance(where, RedisStore):
            from aiguillage.adapters.stores.redis.access_log import verify_access_url

            access = anyio.run(verify_access_url, where.url, where.domain)
        else:
            access = verify_access_file(where.path)
    except JournalError as exc:
        _err.print(f"aiguillage replay: {exc}", markup=False)
        raise typer.Exit(1) from None
    if access is None:
        print(f"{label}: no access log yet")
        return
    if not access.ok:
        print(f"{label}: access log BROKEN after {access.checked} entries checked: {access.reason}")
        raise typer.Exit(1)
    print(f"{label}: access log, {access.checked} entries, hash chain intact")
    print(f"access log last hash: {access.last_hash}")


def erase(
    interaction_id: Annotated[int, typer.Argument(help="The interaction whose data to erase.")],
    reason: Annotated[
        str,
        typer.Option(help="Why: one of [reasons] erase (subject_request, retention…)."),
    ],
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Erase an interaction's personal data (customer, subject, text); the journal stays valid.
    The erasure is recorded in the access log: this command (with the system user) and why.
    On an embedded journal or a Redis domain, beside a running daemon or without one."""
    import anyio

    from aiguillage.adapters.stores.access_log import AccessEntry
    from aiguillage.adapters.stores.actors import Actor
    from aiguillage.adapters.stores.beside import beside
    from aiguillage.adapters.stores.journal import JournalError

    loaded = load_or_exit(config)
    allowed = loaded.settings.reasons.erase
    if reason not in allowed:
        _err.print(
            f"--reason {reason!r} is not one of [reasons] erase: {', '.join(allowed)}",
            markup=False,
        )
        raise typer.Exit(2)
    where = _store(store, loaded)
    by = Actor("command", f"erase by {getpass.getuser()}")

    async def run() -> bool:
        async with beside(where) as stores:
            personal = await stores.personal()
            if personal is None:
                _err.print(
                    f"{stores.description}: no personal-data store here; give --store", markup=False
                )
                raise typer.Exit(1)
            now = time.time_ns() // 1000
            # On record before it is done, as the daemon does it.
            await (await stores.access()).append(
                [AccessEntry(now, by, interaction_id, "aiguillage erase", "", "erasure", reason)]
            )
            return await personal.erase(interaction_id)

    try:
        erased = anyio.run(run)
    except JournalError as exc:
        _err.print(f"aiguillage erase: {exc}", markup=False)
        raise typer.Exit(1) from None
    if erased:
        print(f"interaction {interaction_id}: personal data erased")
    else:
        print(f"interaction {interaction_id}: no personal data held (never given, or erased)")
