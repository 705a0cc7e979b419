"""The daemon's estimated waits: handling times from the journal's records, and the estimate."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiguillage.adapters.channels.estimates import Estimates
from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.stores.journal import Record
from aiguillage.engine.commands import (
    Abandon,
    Accept,
    AddAdvisor,
    Close,
    Command,
    SetAdvisorState,
    SetPolicies,
    Submit,
    Transfer,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.estimate import estimated_wait_s
from aiguillage.engine.events import Event
from aiguillage.engine.instants import SECOND, Instant
from tests.adapters.daemon.test_runtime import VirtualClock, serving
from tests.adapters.daemons import ROOT
from tests.engine.conftest import TUESDAY_10H, make_policies


class Journaled:
    """An engine whose events become numbered records, fed to ``Estimates`` batch by batch."""

    def __init__(self, estimates: Estimates) -> None:
        self.engine = Engine()
        self.estimates = estimates
        self.records: list[Record] = []
        self.run(SetPolicies(policies=make_policies()), TUESDAY_10H)

    def run(self, command: Command, now: Instant) -> list[Event]:
        events = self.engine.advance(now) + self.engine.handle(command, now)
        batch = [Record(len(self.records) + n, e, "") for n, e in enumerate(events, 1)]
        self.records += batch
        self.estimates.feed(batch, self.engine)
        return events

    def handled(self, name: str, start: Instant, seconds: float) -> int:
        """A call to the one advisor, picked up at ``start`` and closed ``seconds`` later."""
        self.run(Submit(channel="voice", source="phone", external_id=name), start)
        (offer,) = self.engine.state.offers.values()
        self.run(Accept(advisor_id=offer.advisor_id, offer_id=offer.id), start)
        end = start + round(seconds * SECOND)
        self.run(Close(advisor_id=offer.advisor_id, interaction_id=offer.interaction_id), end)
        return offer.interaction_id


@pytest.fixture
def journaled() -> Journaled:
    j = Journaled(Estimates({"voice": 300.0, "written": 900.0}, keep=3))
    j.run(AddAdvisor(advisor_id="A1", capacity={"voice": 1}), TUESDAY_10H)
    j.run(SetAdvisorState(advisor_id="A1", state="available"), TUESDAY_10H)
    return j


def test_the_configured_means_stand_in_until_calls_close(journaled: Journaled) -> None:
    assert journaled.estimates.handling_s() == {"voice": 300.0, "written": 900.0}
    journaled.handled("c1", TUESDAY_10H + 60 * SECOND, 120)
    assert journaled.estimates.handling_s()["voice"] == 120.0
    assert journaled.estimates.handling_s()["written"] == 900.0


def test_only_the_last_ones_count_and_a_record_fed_twice_counts_once(
    journaled: Journaled,
) -> None:
    start = TUESDAY_10H + 60 * SECOND
    for n, seconds in enumerate((600, 100, 200, 300)):
        journaled.handled(f"c{n}", start + n * 1000 * SECOND, seconds)
    assert journaled.estimates.handling_s()["voice"] == pytest.approx(200.0)  # 600 gone
    journaled.estimates.feed(journaled.records, journaled.engine)
    assert journaled.estimates.handling_s()["voice"] == pytest.approx(200.0)


def test_work_not_closed_by_its_advisor_is_no_handling_time(journaled: Journaled) -> None:
    start = TUESDAY_10H + 60 * SECOND
    journaled.run(Submit(channel="voice", source="phone", external_id="c1"), start)
    (offer,) = journaled.engine.state.offers.values()
    journaled.run(Accept(advisor_id="A1", offer_id=offer.id), start)
    transfer = Transfer(advisor_id="A1", interaction_id=offer.interaction_id)
    journaled.run(transfer, start + 5 * SECOND)  # back to the queue after 5 s: no handling
    assert journaled.estimates.handling_s()["voice"] == 300.0


def test_the_estimate_uses_the_recent_handling_times(journaled: Journaled) -> None:
    start = TUESDAY_10H + 60 * SECOND
    journaled.handled("c1", start, 120)
    now = start + 200 * SECOND
    journaled.run(Submit(channel="voice", source="phone", external_id="held"), now)
    (offer,) = journaled.engine.state.offers.values()
    journaled.run(Accept(advisor_id="A1", offer_id=offer.id), now)
    waiting = journaled.run(Submit(channel="voice", source="phone", external_id="w"), now)
    interaction_id = waiting[0].interaction_id  # type: ignore[attr-defined]
    state = journaled.engine.state
    told = journaled.estimates.estimate(journaled.engine, interaction_id, now)
    assert told == estimated_wait_s(state, interaction_id, now, {"voice": 120.0})
    assert told is not None
    assert told < estimated_wait_s(state, interaction_id, now, {"voice": 300.0})  # type: ignore[operator]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_daemon_follows_its_journal_and_estimates_a_waiting_call(tmp_path: Path) -> None:
    settings = load_config(ROOT / "config.toml").settings
    estimates = Estimates.of(settings)
    assert estimates.handling_s()["voice"] == settings.simulation.handling["voice"].mean_s
    clock = VirtualClock()  # Monday 4 January 2027, 09:00 in Paris
    async with serving(tmp_path / "journal.sqlite", clock) as runtime:
        runtime.add_listener(lambda records: estimates.feed(records, runtime.engine))  # type: ignore[arg-type]
        await runtime.execute(SetAdvisorState(advisor_id="claire.martin", state="available"))
        first = await _picked_up(runtime, "c1")
        clock.now += 200 * SECOND
        await runtime.execute(Close(interaction_id=first, advisor_id="claire.martin"))
        assert estimates.handling_s()["voice"] == pytest.approx(200.0)
        clock.now += 40 * SECOND  # past the 30 s wrap-up
        await _picked_up(runtime, "c2")
        waiting = await runtime.submit(
            Submit(channel="voice", source="phone", external_id="c3"), None
        )
        now = clock.now

        def both(engine: Engine) -> tuple[int | None, int | None]:
            told = estimates.estimate(engine, waiting.interaction.id, now)
            expected = estimated_wait_s(engine.state, waiting.interaction.id, now, {"voice": 200})
            return told, expected

        told, expected = await runtime.read(both)
    # One advisor, one call ahead of nothing: 200 s of handling and 30 s of wrap-up to wait.
    assert told == expected
    assert told is not None
    assert told > 0


async def _picked_up(runtime: Runtime, external_id: str) -> int:
    call = await runtime.submit(
        Submit(channel="voice", source="phone", external_id=external_id), None
    )
    offer_id = await runtime.read(
        lambda engine: engine.state.interactions[call.interaction.id].offer_id
    )
    await runtime.execute(Accept(advisor_id="claire.martin", offer_id=offer_id))
    return call.interaction.id


def test_callers_patience_is_learnt_from_their_waits() -> None:
    j = Journaled(Estimates({"voice": 300.0}, {"voice": 300.0}))
    assert j.estimates.patience_s() == {"voice": 300.0}
    start = TUESDAY_10H + 60 * SECOND
    for n in range(10):  # nobody on the line: each caller waits 40 s, then hangs up
        events = j.run(Submit(channel="voice", source="phone", external_id=f"c{n}"), start)
        gone = events[0].interaction_id  # type: ignore[attr-defined]
        j.run(Abandon(interaction_id=gone), start + 40 * SECOND)
        start += 100 * SECOND
    assert j.estimates.patience_s()["voice"] == pytest.approx(40.0)
    j.run(AddAdvisor(advisor_id="A1", capacity={"voice": 1}), start)
    j.run(SetAdvisorState(advisor_id="A1", state="available"), start)
    j.handled("answered", start + 80 * SECOND, 60)  # picked up at once: waited 0 s
    assert j.estimates.patience_s()["voice"] == pytest.approx(40.0)  # 400 s over 10 hang-ups
