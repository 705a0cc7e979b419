"""The runtime in process, on a real SQLite journal, driven by a virtual clock."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import anyio
import msgspec
import pytest
from structlog.testing import capture_logs

from aiguillage.adapters.channels.port import CommandFailed, Conflict, Rejected
from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.serve import build_runtime
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal
from aiguillage.engine.commands import Accept, Close, SetAdvisorState, Submit
from aiguillage.engine.errors import ChannelClosed
from aiguillage.engine.events import InteractionClosed, InteractionRefused
from aiguillage.engine.handlers import COMMAND_HANDLERS
from aiguillage.engine.instants import SECOND, from_datetime
from tests.adapters.daemons import ROOT

pytestmark = pytest.mark.anyio

HOUR = 3600 * SECOND
DAY = 24 * HOUR


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class VirtualClock:
    """A wall clock the test moves by hand; it never goes back."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = from_datetime(datetime(2027, 1, 4, 8, 0, tzinfo=UTC))

    def __call__(self) -> int:
        return self.now


@asynccontextmanager
async def serving(path: Path, clock: VirtualClock) -> AsyncIterator[Runtime]:
    """A runtime of the reference configuration on the journal at ``path``, once it serves;
    stopped cleanly on the way out."""
    runtime = build_runtime(load_config(ROOT / "config.toml"), path)
    runtime.clock = clock
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        with anyio.fail_after(30):  # a recovery that never ends fails here, not by hanging
            while not runtime.ready:
                await anyio.sleep(0.01)
        yield runtime
        await runtime.stop()
        group.cancel_scope.cancel()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[Runtime, VirtualClock]]:
    clock = VirtualClock()
    async with serving(tmp_path / "journal.sqlite", clock) as runtime:
        yield runtime, clock


async def test_memory_stays_flat_over_a_year_of_traffic(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    window = daemon.daemon.idempotency_days * DAY
    live_after = daemon.daemon.live_after_close_s * SECOND
    peak_live = peak_keys = 0

    async def lifecycle(external_id: str) -> None:
        receipt = await daemon.submit(
            Submit(channel="social", source="x", external_id=external_id), None
        )
        await daemon.execute(Close(interaction_id=receipt.interaction.id))

    for _day in range(365):
        # Submitted together, so they share batches (and fsyncs), as concurrent requests do.
        async with anyio.create_task_group() as group:
            for number in range(40):
                group.start_soon(lifecycle, f"post-{_day}-{number}")
        clock.now += DAY
        await lifecycle(f"tick-{_day}")  # a batch at the new day: the timers due fire
        engine = daemon.engine
        assert engine is not None
        peak_live = max(peak_live, len(engine.state.interactions))
        peak_keys = max(peak_keys, len(daemon._keys))
    per_day = 41
    assert peak_live <= per_day * (2 + live_after // DAY)
    assert peak_keys <= per_day * (2 + window // DAY)
    # What left the live state is still read from the journal.
    first = await daemon.stored_view(1)
    assert first is not None
    assert first.status == "closed"


async def test_a_resubmission_after_the_work_left_the_live_state_creates_nothing(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    command = Submit(channel="social", source="x", external_id="once")
    first = await daemon.submit(command, {"text": "bonjour"})
    await daemon.execute(Close(interaction_id=first.interaction.id))
    clock.now += 3 * DAY
    await daemon.execute(Submit(channel="social", source="x", external_id="later"))
    assert daemon.engine is not None
    assert first.interaction.id not in daemon.engine.state.interactions
    again = await daemon.submit(command, {"text": "bonjour"})
    assert not again.created
    assert again.interaction.id == first.interaction.id
    assert again.interaction.status == "closed"


async def test_a_key_resubmitted_with_other_content_is_a_conflict_live_or_from_the_journal(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    # received_at a minute ahead of the clock: taken as now, yet a retry as given is the same.
    command = Submit(
        channel="social", source="x", external_id="m1", received_at=clock.now + 60 * SECOND
    )
    first = await daemon.submit(command, {"text": "bonjour"})
    others = [
        (msgspec.structs.replace(command, channel="written"), {"text": "bonjour"}),
        (msgspec.structs.replace(command, motive="refunds"), {"text": "bonjour"}),
        (msgspec.structs.replace(command, priority=7), {"text": "bonjour"}),
    ]
    same = [  # not compared: a relay's own stamp, and personal data (see content_digest)
        (msgspec.structs.replace(command, received_at=clock.now - HOUR), {"text": "bonjour"}),
        (command, {"text": "bonjour encore"}),
    ]
    for left_the_live_state in (False, True):
        if left_the_live_state:
            await daemon.execute(Close(interaction_id=first.interaction.id))
            clock.now += 3 * DAY
            await daemon.execute(Submit(channel="social", source="x", external_id="later"))
            assert first.interaction.id not in daemon.engine.state.interactions  # type: ignore[union-attr]
        again = await daemon.submit(command, {"text": "bonjour"})
        assert (again.created, again.interaction.id) == (False, first.interaction.id)
        for other, personal in others:
            with pytest.raises(Conflict, match="source 'x'") as refused:
                await daemon.submit(other, personal)
            assert refused.value.field == "external_id"
        for retry, personal in same:
            recognised = await daemon.submit(retry, personal)
            assert (recognised.created, recognised.interaction.id) == (False, first.interaction.id)
        with pytest.raises(Conflict):
            await daemon.execute(msgspec.structs.replace(command, motive="refunds"))


async def test_work_that_left_the_live_state_still_names_who_handled_it(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    await daemon.execute(SetAdvisorState(advisor_id="claire.martin", state="available"))
    call = await daemon.submit(Submit(channel="voice", source="phone", external_id="c1"), None)
    interaction_id = call.interaction.id
    offer_id = await daemon.read(lambda engine: engine.state.interactions[interaction_id].offer_id)
    assert offer_id is not None
    await daemon.execute(Accept(advisor_id="claire.martin", offer_id=offer_id))
    await daemon.execute(Close(interaction_id=interaction_id, advisor_id="claire.martin"))
    clock.now += 3 * DAY
    await daemon.execute(Submit(channel="social", source="x", external_id="later"))
    assert interaction_id not in daemon.engine.state.interactions  # type: ignore[union-attr]
    stored = await daemon.interaction(interaction_id)
    assert stored is not None
    assert stored.status == "closed"
    assert stored.handled_by == "claire.martin"


async def test_received_at_is_accepted_from_backfill_days_ago_to_max_skew_ahead(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    settings = daemon.daemon
    assert (settings.backfill_days, settings.max_skew_s) == (90, 300)  # the reference defaults

    def social(external_id: str, received_at: int) -> Submit:
        return Submit(
            channel="social", source="x", external_id=external_id, received_at=received_at
        )

    oldest = clock.now - 90 * DAY
    accepted = await daemon.submit(social("oldest", oldest), None)
    assert accepted.created
    with pytest.raises(Rejected, match="backfill_days") as refused:
        await daemon.submit(social("too-old", oldest - 1), None)
    assert refused.value.field == "received_at"

    ahead = await daemon.submit(social("ahead", clock.now + 300 * SECOND), None)
    assert from_datetime(datetime.fromisoformat(ahead.interaction.received_at)) == clock.now
    with pytest.raises(Rejected, match="max_skew_s") as refused:
        await daemon.submit(social("too-far-ahead", clock.now + 300 * SECOND + 1), None)
    assert refused.value.field == "received_at"


async def test_a_fault_while_a_command_is_decided_fails_that_request_alone(
    runtime: tuple[Runtime, VirtualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon, _ = runtime
    engine = daemon.engine
    first = await daemon.submit(Submit(channel="social", source="x", external_id="a"), None)

    def broken(state: object, command: object, now: int) -> list[object]:
        raise ZeroDivisionError("a bug in a handler")

    monkeypatch.setitem(COMMAND_HANDLERS, Close, broken)
    with pytest.raises(CommandFailed):
        await daemon.execute(Close(interaction_id=first.interaction.id))
    monkeypatch.undo()
    assert daemon.ready
    assert daemon.engine is engine  # not thrown away, not rebuilt
    closed = await daemon.execute(Close(interaction_id=first.interaction.id))
    assert [type(event) for event in closed] == [InteractionClosed]


async def test_a_fault_while_events_are_applied_rebuilds_and_sets_the_command_aside(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, _ = runtime
    first = await daemon.submit(Submit(channel="social", source="x", external_id="a"), None)
    second = await daemon.submit(Submit(channel="social", source="x", external_id="b"), None)
    engine = daemon.engine
    assert engine is not None

    def broken(event: object) -> None:
        raise ZeroDivisionError("a bug in an applier")

    engine.state.appliers[InteractionClosed] = broken
    poison = Close(interaction_id=first.interaction.id)
    with capture_logs() as logs, pytest.raises(CommandFailed, match="set aside"):
        await daemon.execute(poison)
    (aside,) = [entry for entry in logs if "set aside" in entry["event"]]
    # Named by a keyed digest: the log cannot confirm a guess of what the command held.
    assert aside["fingerprint"] != hashlib.sha256(msgspec.json.encode(poison)).hexdigest()
    while not daemon.ready:
        await anyio.sleep(0.01)
    rebuilt = daemon.engine
    assert rebuilt is not None
    assert rebuilt is not engine
    # The same command again is refused at once: no engine thrown away, nothing written.
    last_seq = daemon.last_seq
    with pytest.raises(CommandFailed, match="set aside"):
        await daemon.execute(poison)
    assert daemon.engine is rebuilt
    assert daemon.last_seq == last_seq
    # Everything else goes on, on the state the journal held.
    closed = await daemon.execute(Close(interaction_id=second.interaction.id))
    assert [type(event) for event in closed] == [InteractionClosed]
    assert rebuilt.state.interactions[first.interaction.id].status == "queued"


async def test_the_idempotency_window_counts_from_when_the_key_was_accepted(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    assert daemon.daemon.idempotency_days == 30
    # An e-mail received 40 days ago is imported today, then closed.
    command = Submit(
        channel="written",
        source="email",
        external_id="<old@example.org>",
        received_at=clock.now - 40 * DAY,
        motive="refunds",
    )
    first = await daemon.submit(command, None)
    assert first.created
    await daemon.execute(Close(interaction_id=first.interaction.id))
    # Two days later, once it has left the live state, the same mail is imported again.
    clock.now += 2 * DAY
    await daemon.execute(Submit(channel="social", source="x", external_id="a-tick"))
    assert first.interaction.id not in daemon.engine.state.interactions  # type: ignore[union-attr]
    again = await daemon.submit(command, None)
    assert not again.created
    assert again.interaction.id == first.interaction.id


async def test_a_restart_keeps_the_idempotency_window_from_acceptance(
    runtime: tuple[Runtime, VirtualClock], tmp_path: Path
) -> None:
    daemon, clock = runtime
    command = Submit(
        channel="written",
        source="email",
        external_id="<late@example.org>",
        received_at=clock.now - 40 * DAY,
        motive="refunds",
    )
    first = await daemon.submit(command, None)
    await daemon.execute(Close(interaction_id=first.interaction.id))
    clock.now += 2 * DAY
    await daemon.stop()
    async with serving(tmp_path / "journal.sqlite", clock) as restarted:
        again = await restarted.submit(command, None)
    assert not again.created
    assert again.interaction.id == first.interaction.id


async def _refusals(daemon: Runtime) -> list[InteractionRefused]:
    records = await daemon.records_after(0, 5000)
    return [r.event for r in records if isinstance(r.event, InteractionRefused)]


async def test_a_call_refused_while_closed_is_journaled_once_in_the_idempotency_window(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    sunday = from_datetime(datetime.fromisoformat("2027-01-03T10:00:00+01:00"))
    call = Submit(channel="voice", source="phone", external_id="call-1", received_at=sunday)

    async def refused() -> None:
        with pytest.raises(ChannelClosed):
            await daemon.submit(call, {"customer": {"phone": "+33 6 12 34 56 78"}})

    async with anyio.create_task_group() as group:  # retries that land in one batch
        for _ in range(3):
            group.start_soon(refused)
    await refused()  # and one in a later batch
    (journaled,) = await _refusals(daemon)
    assert (journaled.channel, journaled.reason, journaled.received_at) == (
        "voice",
        "closed",
        sunday,
    )
    assert journaled.external_id not in ("call-1", "")  # keyed, as an arrival's
    # Once the window has passed, the same key refused again is a new record.
    clock.now += (daemon.daemon.idempotency_days + 1) * DAY
    await daemon.execute(Submit(channel="social", source="x", external_id="a-tick"))
    late = msgspec.structs.replace(call, received_at=clock.now - DAY - 6 * HOUR)  # 03:00
    with pytest.raises(ChannelClosed):
        await daemon.submit(late, None)
    assert [r.external_id for r in await _refusals(daemon)] == [journaled.external_id] * 2


async def test_a_snapshot_this_version_cannot_read_is_passed_over_for_the_journal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    clock = VirtualClock()
    async with serving(path, clock) as first:
        receipt = await first.submit(Submit(channel="social", source="x", external_id="a"), None)
    # A sealed snapshot in a format this version does not know (as a newer one would write).
    journal = SQLiteJournal(path)
    recovery = await journal.open()
    await journal.save_snapshot(recovery.last_seq, msgspec.msgpack.encode({"format": 99}))
    await journal.close()

    # It used to rebuild from the same snapshot forever: serving() fails after 30 s.
    with capture_logs() as logs:
        async with serving(path, clock) as second:
            read = await second.read(lambda engine: engine.interaction(receipt.interaction.id))
    assert read is not None
    assert (read.channel, read.source, read.status) == ("social", "x", "queued")
    warned = [e for e in logs if e["event"].startswith("snapshot unreadable by this version")]
    assert [entry["seq"] for entry in warned] == [recovery.last_seq]
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]


async def test_a_retry_is_recognised_even_once_its_received_at_left_the_window(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, clock = runtime
    command = Submit(
        channel="written",
        source="email",
        external_id="<89-days@example.org>",
        received_at=clock.now - 89 * DAY,
        motive="refunds",
    )
    first = await daemon.submit(command, None)
    clock.now += 2 * DAY  # received 91 days ago now: new work that old would be refused
    again = await daemon.submit(command, None)
    assert not again.created
    assert again.interaction.id == first.interaction.id


async def test_an_adapter_executing_a_submission_meets_the_same_window(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, _ = runtime
    old = Submit(channel="social", source="x", external_id="1970", received_at=0)
    with pytest.raises(Rejected, match="backfill_days"):
        await daemon.execute(old)


async def test_a_stop_during_recovery_is_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import anyio.from_thread

    from aiguillage.adapters.daemon import runtime as runtime_module

    build = runtime_module._Followed.build
    replaying = anyio.Event()

    def slow_build(*arguments: object) -> object:
        anyio.from_thread.run_sync(replaying.set)  # the stop lands while the journal is replayed
        time.sleep(0.5)
        return build(*arguments)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime_module._Followed, "build", slow_build)
    daemon = build_runtime(load_config(ROOT / "config.toml"), tmp_path / "journal.sqlite")
    with capture_logs() as logs:
        async with anyio.create_task_group() as group:
            group.start_soon(daemon.run)
            await replaying.wait()
            await daemon.stop()
            with anyio.fail_after(30):
                while daemon.journal is not None or daemon.personal is not None:
                    await anyio.sleep(0.01)
            await anyio.sleep(0.6)  # the replay ends, and meets the closed stores
            group.cancel_scope.cancel()
    assert [e for e in logs if e["log_level"] in ("error", "critical")] == []


async def test_a_reason_that_is_no_configured_code_is_refused_on_every_path(
    runtime: tuple[Runtime, VirtualClock],
) -> None:
    daemon, _ = runtime
    advisor_id = next(iter(daemon.engine.state.advisors))  # type: ignore[union-attr]
    await daemon.execute(SetAdvisorState(advisor_id=advisor_id, state="available"))
    typed = SetAdvisorState(advisor_id=advisor_id, state="not_ready", reason="rappeler 0612345678")
    with pytest.raises(Rejected, match=r"\[reasons\] not_ready") as refused:
        await daemon.execute(typed)  # as an adapter would, past the API
    assert refused.value.field == "reason"
    paused = await daemon.execute(
        SetAdvisorState(advisor_id=advisor_id, state="not_ready", reason="lunch")
    )
    assert paused
