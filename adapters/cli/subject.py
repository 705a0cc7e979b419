"""``aiguillage subject search|export|erase``: a data subject's access and erasure by address,
on the store ``--store`` names (an embedded journal or a Redis domain), beside a running daemon
or without one (``stores.beside``).

As ``POST /v1/subjects/…`` (``daemon.subjects``): the customer named by ``--email`` or
``--phone`` is found by the keyed digest of the address in the personal-data store's index.
``export`` prints, per interaction, its events (read from the journal, never written) and the
personal data whose digests those events hold; ``erase`` erases each interaction's personal
data. Each run is recorded in the access log as the command, with the system user, the
address's digest (never the address) and how many interactions it found.
"""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import anyio
import msgspec
import typer
from rich.console import Console

from aiguillage.adapters.channels.events_out import event_out
from aiguillage.adapters.cli.serve import StoreOption, _store
from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.config.settings import LoadedConfig
from aiguillage.adapters.stores.access_log import AccessEntry, Kind
from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.beside import Beside, beside
from aiguillage.adapters.stores.journal import JournalError, interaction_of
from aiguillage.adapters.stores.personal import opened
from aiguillage.adapters.stores.sealing import shown
from aiguillage.adapters.stores.subjects import AddressKind, InvalidAddress, subject_key

__all__ = ["subject_app"]

subject_app = typer.Typer(
    help="A data subject's access and erasure by e-mail or phone (GDPR art. 15 and 17).",
    no_args_is_help=True,
)
_err = Console(stderr=True, highlight=False, markup=False)  # messages name "[reasons] erase"

_T = TypeVar("_T")

EmailOption = Annotated[str | None, typer.Option(help="The customer's e-mail address.")]
PhoneOption = Annotated[str | None, typer.Option(help="The customer's phone number.")]


def _address(email: str | None, phone: str | None) -> tuple[AddressKind, str]:
    if (email is None) == (phone is None):
        _err.print("name the customer by one address: --email or --phone")
        raise typer.Exit(2)
    return ("email", email) if email is not None else ("phone", phone or "")


class _Request:
    """One request of the command: who makes it, and its access-log entries."""

    def __init__(self, command: str) -> None:
        self.by = Actor("command", f"subject {command} by {getpass.getuser()}")
        self.route = f"aiguillage subject {command}"

    def entry(
        self, kind: Kind, interaction_id: int, *, subject: str = "", rows: int = 0, reason: str = ""
    ) -> AccessEntry:
        now = time.time_ns() // 1000
        return AccessEntry(
            now, self.by, interaction_id, self.route, "", kind, reason, subject=subject, rows=rows
        )


async def _find(stores: Beside, kind: AddressKind, address: str) -> tuple[str, list[int]]:
    """The address's keyed digest and the customer's interactions; exit 1 without personal
    data, 2 for an address that names nobody."""
    personal = await stores.personal()
    if personal is None:
        _err.print(f"{stores.description}: no personal-data store here; give --store")
        raise typer.Exit(1)
    try:
        subject = subject_key(await personal.external_id_key(), kind, address)
    except InvalidAddress as exc:
        _err.print(f"--{kind}: {exc}")
        raise typer.Exit(2) from None
    return subject, await personal.find_subject(subject)


def _run(loaded: LoadedConfig, store: str | None, work: Callable[[Beside], Awaitable[_T]]) -> _T:
    """Run ``work`` on the stores ``--store`` names; exit 1 naming the store's failure."""
    where = _store(store, loaded)

    async def run() -> _T:
        async with beside(where) as stores:
            return await work(stores)

    try:
        return anyio.run(run)
    except JournalError as exc:
        _err.print(str(exc))
        raise typer.Exit(1) from None


@subject_app.command("search")
def search(
    email: EmailOption = None,
    phone: PhoneOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Print the ids of the customer's interactions, one a line."""
    kind, address = _address(email, phone)
    request = _Request("search")

    async def work(stores: Beside) -> list[int]:
        subject, found = await _find(stores, kind, address)
        entry = request.entry("subject_access", 0, subject=subject, rows=len(found))
        await (await stores.access()).append([entry])
        return found

    for interaction_id in _run(load_or_exit(config), store, work):
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
    request = _Request("export")
    loaded = load_or_exit(config)
    zone = ZoneInfo(loaded.settings.calendar.timezone)

    async def work(stores: Beside) -> dict[str, Any]:
        subject, found = await _find(stores, kind, address)
        personal = await stores.personal()
        assert personal is not None
        wanted = set(found)
        events: dict[int, list[Any]] = {i: [] for i in found}
        if wanted:
            async for page in stores.records():
                for record in page:
                    about = interaction_of(record.event)
                    if about in wanted:
                        events[about].append(record)
        interactions = []
        for interaction_id in found:
            records = events[interaction_id]
            digests = [d for r in records for d in _digests(r.event)]
            pieces = opened(await personal.get(interaction_id), digests)
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
        await (await stores.access()).append(
            [request.entry("subject_access", 0, subject=subject, rows=len(found))]
            + [request.entry("read", i) for i in found]
        )
        return {"subject": subject, "interactions": interactions}

    print(json.dumps(_run(loaded, store, work), ensure_ascii=False, indent=2))


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
    loaded = load_or_exit(config)
    allowed = loaded.settings.reasons.erase
    if reason not in allowed:
        _err.print(f"--reason {reason!r} is not one of [reasons] erase: {', '.join(allowed)}")
        raise typer.Exit(2)
    request = _Request("erase")

    async def work(stores: Beside) -> list[int]:
        subject, found = await _find(stores, kind, address)
        personal = await stores.personal()
        assert personal is not None
        access = await stores.access()
        # Each erasure is on record before it is done, as the daemon does it: nothing is
        # erased that the log does not show.
        await access.append(
            [request.entry("subject_erasure", 0, subject=subject, rows=len(found), reason=reason)]
        )
        for interaction_id in found:
            await access.append([request.entry("erasure", interaction_id, reason=reason)])
            await personal.erase(interaction_id)
        return found

    for interaction_id in _run(loaded, store, work):
        print(f"interaction {interaction_id}: personal data erased")


def _digests(event: Any) -> list[str]:
    """The digests of personal data an event holds (a submission's, a note's, a message's…)."""
    fields = msgspec.structs.asdict(event)
    return [
        value
        for name, value in fields.items()
        if name.endswith("digest") and name != "config_digest" and isinstance(value, str) and value
    ]
