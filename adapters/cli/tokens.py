"""``aiguillage token``: mint, list and revoke API tokens, through the daemon or on its store.

With ``--url``, the commands call the running daemon's ``/v1/tokens`` with the admin token in
``AIGUILLAGE_ADMIN_TOKEN``. Without it, they work on the SQLite store (``--store``, by default
the journal in ``[deployment] data_dir``) as the daemon would, for when none runs (before the
first start, say): ``new`` and ``revoke`` take the journal's lock, rebuild the engine, journal
the command and snapshot; ``list`` reads. A daemon on that store holds its lock: they then say
so, and to use ``--url``. A Redis journal is written by its leader alone: use ``--url``.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import anyio
import typer
from rich.console import Console

from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.config.settings import LoadedConfig
from aiguillage.adapters.daemon.auth import ADMIN_TOKEN_VARIABLE, new_secret
from aiguillage.adapters.stores.journal import JournalError, JournalLocked
from aiguillage.adapters.stores.urls import RedisStore, SQLiteStore, StoreError, store_of
from aiguillage.adapters.stores.views import iso
from aiguillage.engine.commands import Command, MintToken, RevokeToken
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import EngineError
from aiguillage.engine.events import Event, TokenMinted
from aiguillage.engine.instants import SECOND, from_datetime
from aiguillage.engine.tokens import ROLES, Token

__all__ = ["token_app"]

token_app = typer.Typer(
    no_args_is_help=True,
    help="API tokens: mint, list and revoke them (they live in the journal).",
)
_err = Console(stderr=True, highlight=False)
_DAY_S = 86_400

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The running daemon (http://127.0.0.1:8080); the admin token is read from "
        f"{ADMIN_TOKEN_VARIABLE}. Without it: on the store, when no daemon runs.",
        show_default=False,
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Without --url: sqlite:///relative/path.sqlite or sqlite:////absolute/path.sqlite; "
        "by default journal.sqlite in [deployment] data_dir.",
        show_default=False,
    ),
]


class _Failed(Exception):
    """What to print on stderr before exiting 1."""


@token_app.command("new")
def token_new(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    advisor: Annotated[
        str | None, typer.Option(help="For role advisor: the advisor id it acts as.")
    ] = None,
    expires_in: Annotated[
        float | None,
        typer.Option("--expires-in", help="Valid this many days from now.", show_default=False),
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(
            "--expires-at",
            help="Valid until this instant, ISO-8601 with a UTC offset.",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        str, typer.Option(help="Who or what holds it; journaled, so name no customer.")
    ] = "",
    url: UrlOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Mint a token: print its id and its secret, shown this once."""
    if role not in ROLES:
        _exit(2, f"--role {role}: unknown role; one of {', '.join(ROLES)}")
    if (role == "advisor") != (advisor is not None):
        _exit(2, "an advisor token needs --advisor, and only an advisor token takes it")
    if expires_in is not None and expires_at is not None:
        _exit(2, "give --expires-in or --expires-at, not both")
    if expires_in is not None and not 0 < expires_in <= 3660:
        _exit(2, f"--expires-in {expires_in}: a number of days, more than 0, at most 3660")
    body: dict[str, Any] = {"role": role, "advisor": advisor, "label": label}
    until = None
    if expires_at is not None:
        until = _instant(expires_at)
        body["expires_at"] = expires_at
    if expires_in is not None:
        body["expires_in_s"] = max(60, round(expires_in * _DAY_S))
        until = _now() + body["expires_in_s"] * SECOND
    try:
        if url is not None:
            minted = _call(url, "POST", "/v1/tokens", body)
            secret = minted["token"]
        else:
            loaded = load_or_exit(config)
            secret, digest = new_secret()
            command = MintToken(
                digest=digest,
                role=role,
                advisor_id=advisor,
                expires_at=until,
                label=label,
            )
            events = _on_store(loaded, store, command)
            (event,) = [e for e in events if isinstance(e, TokenMinted)]
            minted = {
                "id": event.token_id,
                "role": event.role,
                "advisor": event.advisor_id,
                "expires": None if event.expires_at is None else _iso(event.expires_at, loaded),
            }
    except _Failed as failed:
        _exit(1, str(failed))
    holder = f" {minted['advisor']}" if minted["advisor"] else ""
    until_text = f", until {_short(minted['expires'])}" if minted["expires"] else ", until revoked"
    sys.stdout.write(
        f"token {minted['id']} ({minted['role']}{holder}{until_text})\n"
        f"secret (shown once; hand it to its holder): {secret}\n"
    )


@token_app.command("list")
def token_list(
    url: UrlOption = None, config: ConfigOption = None, store: StoreOption = None
) -> None:
    """List the live tokens (expired ones until revoked), without their secrets."""
    try:
        if url is not None:
            rows = _call(url, "GET", "/v1/tokens")["tokens"]
        else:
            loaded = load_or_exit(config)
            rows = [_row(token, loaded) for token in _read_store(loaded, store)]
    except _Failed as failed:
        _exit(1, str(failed))
    lines = [("id", "role", "advisor", "created", "expires", "label")]
    for row in rows:
        expires = "never" if row["expires"] is None else _short(row["expires"])
        lines.append(
            (
                str(row["id"]),
                row["role"],
                row["advisor"] or "-",
                _short(row["created"]),
                expires + (" (expired)" if row["expired"] else ""),
                row["label"],
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(5)]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        print("  ".join([*cells, line[5]]).rstrip())


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `aiguillage token list`).")],
    url: UrlOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Revoke a token: refused from now on, and never let in again."""
    try:
        if url is not None:
            _call(url, "DELETE", f"/v1/tokens/{token_id}")
        else:
            _on_store(load_or_exit(config), store, RevokeToken(token_id=token_id))
    except _Failed as failed:
        _exit(1, str(failed))
    print(f"token {token_id} revoked")


# -- through the daemon ---------------------------------------------------------------------


def _call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import httpx  # imported here: the other commands start faster without it

    admin = os.environ.get(ADMIN_TOKEN_VARIABLE)
    if not admin:
        raise _Failed(f"--url needs an admin token in {ADMIN_TOKEN_VARIABLE}")
    try:
        response = httpx.request(
            method,
            url.rstrip("/") + path,
            json=body,
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise _Failed(f"{url}: {exc}") from None
    if response.is_success:
        return response.json()
    try:
        error = response.json()
        detail = f"{error['detail']}" + (f" (field {error['field']})" if error.get("field") else "")
    except (ValueError, KeyError, TypeError):
        detail = response.text[:500]
    raise _Failed(f"{url}: {response.status_code} {detail}")


# -- on the store, when no daemon runs ------------------------------------------------------


def _sqlite(url: str | None, loaded: LoadedConfig) -> SQLiteStore:
    try:
        where = store_of(url, loaded)
    except StoreError as exc:
        _exit(2, f"--store {exc}")
    if isinstance(where, RedisStore):
        _exit(2, "--store redis://…: a Redis journal is written by its leader: give --url")
    return where


def _on_store(loaded: LoadedConfig, url: str | None, command: Command) -> list[Event]:
    """Handle one command on the store as the daemon would, which must not be running."""
    # Imported here: the daemon's stack is needed only on this path.
    from aiguillage.adapters.daemon.logs import configure_logging
    from aiguillage.adapters.daemon.serve import build_runtime

    where = _sqlite(url, loaded)
    configure_logging(level="warning")  # on stderr: stdout shows the secret alone
    runtime = build_runtime(loaded, where)
    outcome: list[Any] = []

    async def run() -> None:
        try:
            async with anyio.create_task_group() as group:
                await group.start(runtime.run)
                while not runtime.ready and not runtime.last_error:
                    await anyio.sleep(0.01)
                if not runtime.ready:
                    outcome.append(_Failed(f"{where.path}: {runtime.last_error}"))
                else:
                    try:
                        outcome.append(await runtime.execute(command))
                    except EngineError as refused:
                        outcome.append(_Failed(str(refused)))
                group.cancel_scope.cancel()
        finally:
            await runtime.stop()  # the engine task is over: snapshot, close, release the lock

    try:
        anyio.run(run)
    except* JournalError as group:
        raise _Failed(_journal_error(group.exceptions[0])) from None
    if isinstance(outcome[0], _Failed):
        raise outcome[0]
    events: list[Event] = outcome[0]
    return events


def _read_store(loaded: LoadedConfig, url: str | None) -> list[Token]:
    """Return the live tokens the store's journal holds, without writing anything to it."""
    from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal

    where = _sqlite(url, loaded)
    if not where.path.exists():
        return []

    async def read() -> list[Token]:
        journal = SQLiteJournal(where.path)
        try:
            recovery = await journal.open()
        finally:
            await journal.close()
        image = recovery.image
        engine = Engine() if image is None else Engine.from_image(image)
        for record in recovery.records:
            engine.apply(record.event)
        return sorted(engine.state.tokens.values(), key=lambda token: token.id)

    try:
        return anyio.run(read)
    except JournalError as exc:
        raise _Failed(_journal_error(exc)) from None


def _journal_error(exc: BaseException) -> str:
    if not isinstance(exc, JournalLocked):
        return str(exc)
    return (
        f"{exc}\nA daemon runs on this journal: go through it, with --url http://HOST:PORT and "
        f"the admin token in {ADMIN_TOKEN_VARIABLE}"
    )


def _row(token: Token, loaded: LoadedConfig) -> dict[str, Any]:
    return {
        "id": token.id,
        "role": token.role,
        "advisor": token.advisor_id,
        "label": token.label,
        "created": _iso(token.minted_at, loaded),
        "expires": None if token.expires_at is None else _iso(token.expires_at, loaded),
        "expired": token.expired(_now()),
    }


def _now() -> int:
    """The instant now, as the daemon's clock reads it."""
    from aiguillage.adapters.daemon.runtime import wall_clock

    return wall_clock()


def _short(text: str) -> str:
    """Return an ISO-8601 instant to the second, as people read it."""
    return datetime.fromisoformat(text).replace(microsecond=0).isoformat()


def _iso(instant: int, loaded: LoadedConfig) -> str:
    return iso(instant, ZoneInfo(loaded.settings.calendar.timezone))


def _instant(text: str) -> int:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        _exit(2, f"--expires-at {text}: not an ISO-8601 instant, such as 2027-06-30T20:00:00+02:00")
    if value.utcoffset() is None:
        _exit(2, f"--expires-at {text}: has no UTC offset; give one, such as +02:00 or Z")
    return from_datetime(value)


def _exit(code: int, message: str) -> NoReturn:
    _err.print(message, markup=False, soft_wrap=True)
    raise typer.Exit(code)
