"""``aiguillage subject search|export|erase``: a data subject's access and erasure by address,
on the embedded stores (SQLite), beside a running daemon or without one.

As ``POST /v1/subjects/…`` (``daemon.subjects``): the customer named by ``--email`` or
``--phone`` is found by the keyed digest of the address in the personal-data store's index.
``export`` prints, per interaction, its events (read-only from the journal file) and the
personal data whose digests those events hold; ``erase`` erases each interaction's personal
data. Each run is recorded in the access log as the command, with the system user, the
address's digest (never the address) and how many interactions it found. On Redis, go through
the leader's API.
"""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import anyio
import msgspec
import typer
from rich.console import Console

from aiguillage.adapters.channels.events_out import event_out
from aiguillage.adapters.cli.serve import StoreOption, _journal_path
from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.stores.access_log import AccessEntry, Kind
from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.journal import interaction_of
from aiguillage.adapters.stores.personal import opened
from aiguillage.adapters.stores.sealing import shown
from aiguillage.adapters.stores.sqlite.access_log import SQLiteAccessLog
from aiguillage.adapters.stores.sqlite.journal import read_file
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore
from aiguillage.adapters.stores.subjects import AddressKind, InvalidAddress, subject_key
from aiguillage.adapters.stores.urls import personal_path_of

__all__ = ["subject_app"]

subject_app = typer.Typer(
    help="A data subject's access and erasure by e-mail or phone (GDPR art. 15 and 17).",
    no_args_is_help=True,
)
_err = Console(stderr=True, highlight=False, markup=False)  # messages name "[reasons] erase"

EmailOption = Annotated[str | None, typer.Option(help="The customer's e-mail address.")]
PhoneOption = Annotated[str | None, typer.Option(help="The customer's phone number.")]


def _address(email: str | None, phone: str | None) -> tuple[AddressKind, str]:
    if (email is None) == (phone is None):
        _err.print("name the customer by one address: --email or --phone")
        raise typer.Exit(2)
    return ("email", email) if email is not None else ("phone", phone or "")


class _Stores:
    """The personal-data store and access log of a journal file, for one request."""

    def __init__(self, journal: Path, command: str) -> None:
        self.journal = journal
        self.by = Actor("command", f"subject {command} by {getpass.getuser()}")
        self.route = f"aiguillage subject {command}"
        path = personal_path_of(journal)
        if not path.exists():
            _err.print(f"{path}: no personal-data store here; give --store")
            raise typer.Exit(1)
        self.personal = SQLitePersonalStore(path)

    async def find(self, kind: AddressKind, address: str) -> tuple[str, list[int]]:
        await self.personal.open()
        try:
            subject = subject_key(await self.personal.external_id_key(), kind, address)
        except InvalidAddress as exc:
            await self.personal.close()
            _err.print(f"--{kind}: {exc}")
            raise typer.Exit(2) from None
        return subject, await self.personal.find_subject(subject)

    async def record(self, entries: list[AccessEntry]) -> None:
        access = SQLiteAccessLog(self.journal)
        await access.open()
        try:
            await access.append(entries)
        finally:
            await access.close()

    def entry(
        self, kind: Kind, interaction_id: int, *, subject: str = "", rows: int = 0, reason: str = ""
    ) -> AccessEntry:
        now = time.time_ns() // 1000
        return AccessEntry(
            now, self.by, interaction_id, self.route, "", kind, reason, subject=subject, rows=rows
        )


def _journal(config: Path | None, store: str | None) -> tuple[Path, Any]:
    loaded = load_or_exit(config)
    return _journal_path(store, loaded), loaded


@subject_app.command("search")
def search(
    email: EmailOption = None,
    phone: PhoneOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Print the ids of the customer's interactions, one a line."""
    kind, address = _address(email, phone)
    journal, _ = _journal(config, store)
    stores = _Stores(journal, "search")

    async def run() -> list[int]:
        try:
            subject, found = await stores.find(kind, address)
        finally:
            await stores.personal.close()
        await stores.record([stores.entry("subject_access", 0, subject=subject, rows=len(found))])
        return found

    for interaction_id in anyio.run(run):
        print(interaction_id)


@subject_app.command("export")
def export(
    email: EmailOption = None,
    phone: PhoneOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Print the customer's interactions as JSON: each with its events and personal data."""
    kind, address = _address(email, phone)
    journal, loaded = _journal(config, store)
    stores = _Stores(journal, "export")
    zone = ZoneInfo(loaded.settings.calendar.timezone)

    async def run() -> dict[str, Any]:
        try:
            subject, found = await stores.find(kind, address)
            wanted = set(found)
            events: dict[int, list[Any]] = {i: [] for i in found}
            for record in read_file(journal):
                about = interaction_of(record.event)
                if about in wanted:
                    events[about].append(record)
            interactions = []
            for interaction_id in found:
                records = events[interaction_id]
                digests = [d for r in records for d in _digests(r.event)]
                pieces = opened(await stores.personal.get(interaction_id), digests)
                interactions.append(
                    {
                        "interaction_id": interaction_id,
                        "events": [
                            {
                                "seq": r.seq,
                                "by": msgspec.to_builtins(r.by),
                                "event": event_out(r.event, zone),
                            }
                            for r in records
                        ],
                        "personal_data": shown(pieces) if pieces else None,
                    }
                )
        finally:
            await stores.personal.close()
        await stores.record(
            [stores.entry("subject_access", 0, subject=subject, rows=len(found))]
            + [stores.entry("read", i) for i in found]
        )
        return {"subject": subject, "interactions": interactions}

    print(json.dumps(anyio.run(run), ensure_ascii=False, indent=2))


@subject_app.command("erase")
def erase(
    reason: Annotated[
        str, typer.Option(help="Why: one of [reasons] erase (subject_request, retention…).")
    ],
    email: EmailOption = None,
    phone: PhoneOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Erase the personal data of every interaction of the customer; print their ids."""
    kind, address = _address(email, phone)
    journal, loaded = _journal(config, store)
    allowed = loaded.settings.reasons.erase
    if reason not in allowed:
        _err.print(f"--reason {reason!r} is not one of [reasons] erase: {', '.join(allowed)}")
        raise typer.Exit(2)
    stores = _Stores(journal, "erase")

    async def run() -> list[int]:
        try:
            subject, found = await stores.find(kind, address)
            for interaction_id in found:
                await stores.personal.erase(interaction_id)
        finally:
            await stores.personal.close()
        await stores.record(
            [stores.entry("subject_erasure", 0, subject=subject, rows=len(found), reason=reason)]
            + [stores.entry("erasure", i, reason=reason) for i in found]
        )
        return found

    for interaction_id in anyio.run(run):
        print(f"interaction {interaction_id}: personal data erased")


def _digests(event: Any) -> list[str]:
    """The digests of personal data an event holds (a submission's, a note's, a message's…)."""
    fields = msgspec.structs.asdict(event)
    return [
        value
        for name, value in fields.items()
        if name.endswith("digest") and name != "config_digest" and isinstance(value, str) and value
    ]
