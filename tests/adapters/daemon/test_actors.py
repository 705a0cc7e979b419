"""Every journal record says who caused it: a token by its id, a channel by its name, the
daemon for its timers, in the record's envelope (the engine's events are unchanged).

In process on a real SQLite journal (to mix a timer and a request in one batch), then through a
real daemon's audit trail; and a journal written before actors were kept still opens.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from aiguillage.adapters.channels.protocol import AdapterContext
from aiguillage.adapters.stores.actors import DAEMON, Actor, acting_as
from aiguillage.adapters.stores.journal import (
    GENESIS,
    RECORD_FORMAT,
    chain_hash,
    encode_event,
    read_record,
)
from aiguillage.adapters.stores.sqlite.journal import read_file, verify_file
from aiguillage.engine.commands import Close, Submit
from aiguillage.engine.events import (
    InteractionArrived,
    InteractionClosed,
    InteractionRelaxed,
    SlaWarning,
)
from aiguillage.engine.instants import SECOND
from tests.adapters.daemon.api.test_api import complaint
from tests.adapters.daemon.test_runtime import VirtualClock, serving
from tests.adapters.daemons import ADMIN, INTEGRATOR, Daemon, running

pytestmark = pytest.mark.anyio

HOUR = 3600 * SECOND
CLERK = Actor("token", "7", "supervisor")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_each_record_names_its_actor_even_in_a_batch_shared_with_timers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    clock = VirtualClock()
    async with serving(path, clock) as runtime:
        crm = AdapterContext(runtime, "crm", None)
        call = await crm.submit(Submit(channel="voice", source="phone", external_id="call-1"))
        with acting_as(CLERK):
            post = await runtime.submit(
                Submit(channel="social", source="x", external_id="post-1"), None
            )
        # The call's SLA warning falls due; the clerk's next command shares its batch.
        clock.now += HOUR
        with acting_as(CLERK):
            await runtime.execute(Close(interaction_id=post.interaction.id))
    records = list(read_file(path))
    first_arrival = next(r.seq for r in records if isinstance(r.event, InteractionArrived))
    seeded = records[: first_arrival - 1]  # the configuration, seeded at the first start
    assert seeded
    assert all(r.by == DAEMON for r in seeded)
    of_call = [
        r for r in records if getattr(r.event, "interaction_id", None) == call.interaction.id
    ]
    arrival, *later = of_call
    assert arrival.by == Actor("channel", "crm")
    warnings = [r for r in later if isinstance(r.event, SlaWarning)]
    assert warnings
    assert all(r.by == DAEMON for r in warnings)
    of_post = [
        r for r in records if getattr(r.event, "interaction_id", None) == post.interaction.id
    ]
    by_type = {type(r.event): r.by for r in of_post}
    assert by_type[InteractionArrived] == CLERK
    assert by_type[InteractionClosed] == CLERK
    assert by_type[InteractionRelaxed] == DAEMON  # its skill relaxation, a timer
    closing_batch = [r.seq for r in of_post][-1]
    assert any(r.seq < closing_batch and r.by == DAEMON for r in warnings)
    assert all(r.by is not None for r in records)
    assert verify_file(path).ok


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from running(tmp_path_factory.mktemp("daemon"))


def test_the_audit_trail_names_the_token_by_its_id_and_never_its_secret(daemon: Daemon) -> None:
    with daemon.client(INTEGRATOR) as client:
        assert client.post("/v1/interactions", json=complaint()).status_code == 201
    with daemon.client(ADMIN) as client:
        assert client.post("/v1/interactions", json=complaint()).status_code == 201
        page = client.get("/v1/events", params={"limit": 5000})
    assert page.status_code == 200, page.text
    rows = page.json()["events"]
    minted = {
        row["event"]["role"]: row["event"]["token_id"]
        for row in rows
        if row["event"]["type"] == "token.minted"
    }
    arrivals = [row for row in rows if row["event"]["type"] == "interaction.arrived"]
    assert [row["by"] for row in arrivals[-2:]] == [
        {"kind": "token", "id": str(minted["integrator"]), "role": "integrator"},
        {"kind": "admin", "id": "environment", "role": "admin"},
    ]
    assert all(
        row["by"] == {"kind": "daemon"} for row in rows if row["event"]["type"] == "token.minted"
    )
    assert INTEGRATOR not in page.text
    assert ADMIN not in page.text


async def test_a_journal_written_before_actors_were_kept_opens_and_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    clock = VirtualClock()
    async with serving(path, clock) as runtime:
        await runtime.submit(Submit(channel="social", source="x", external_id="old"), None)
    # Rewrite the journal as the previous version wrote it: bare events (format 1), no actor.
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        rows = raw.execute("SELECT seq, CAST(body AS BLOB) FROM events ORDER BY seq").fetchall()
        raw.execute("DELETE FROM snapshot_seals")
        raw.execute("DELETE FROM snapshots")
        previous = GENESIS
        for seq, body in rows:
            old = encode_event(read_record(seq, RECORD_FORMAT, body, "").event)
            previous = chain_hash(previous, seq, old)
            raw.execute(
                "UPDATE events SET format = 1, body = ?, hash = ? WHERE seq = ?",
                (old, previous, seq),
            )
    assert verify_file(path).ok
    async with serving(path, clock) as runtime:
        with acting_as(CLERK):
            await runtime.submit(Submit(channel="social", source="x", external_id="new"), None)
    records = list(read_file(path))
    old_ones = [r for r in records if r.seq <= len(rows)]
    new_ones = [r for r in records if r.seq > len(rows)]
    assert old_ones
    assert all(r.by is None for r in old_ones)
    assert any(r.by == CLERK for r in new_ones)
    assert verify_file(path).ok
