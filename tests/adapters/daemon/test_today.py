"""Today: the day's figures for the wallboard, from a real engine's events as journal records."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.today import AdvisorDay, ChannelDay, Today, catch_up
from aiguillage.adapters.stores.journal import Record
from aiguillage.engine.commands import (
    Abandon,
    Accept,
    AddAdvisor,
    Close,
    Command,
    RecordCallbackAttempt,
    RequestCallback,
    SetAdvisorState,
    SetPolicies,
    SetSchedule,
    Submit,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import ChannelClosed
from aiguillage.engine.events import Event, OfferMade
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.schedules import Shift
from tests.adapters.daemon.test_runtime import VirtualClock, serving
from tests.engine.conftest import at, make_policies

PARIS = ZoneInfo("Europe/Paris")
DAY = "2026-12-01"  # a Tuesday


def paris(clock: str, day: str = DAY) -> Instant:
    return at(f"{day}T{clock}+01:00")


class Journaled:
    """An engine whose events become numbered records, fed to ``Today`` batch by batch."""

    def __init__(self, short_abandon_s: float = 5.0) -> None:
        self.engine = Engine()
        self.today = Today(PARIS)
        self.records: list[Record] = []
        policies = make_policies()
        voice = msgspec.structs.replace(policies.channels["voice"], short_abandon_s=short_abandon_s)
        channels = {**policies.channels, "voice": voice}
        self.run(
            SetPolicies(policies=msgspec.structs.replace(policies, channels=channels)),
            paris("08:00:00"),
        )

    def feed(self, events: list[Event]) -> list[Event]:
        batch = [Record(len(self.records) + n, e, "") for n, e in enumerate(events, 1)]
        self.records += batch
        self.today.feed(batch, self.engine)
        return events

    def run(self, command: Command, now: Instant) -> list[Event]:
        return self.feed(self.engine.advance(now) + self.engine.handle(command, now))

    def advance(self, now: Instant) -> None:
        self.feed(self.engine.advance(now))

    def call(self, external_id: str, now: Instant) -> None:
        self.run(Submit(channel="voice", source="phone", external_id=external_id), now)

    def pick_up(self, now: Instant) -> int:
        self.advance(now)
        (offer,) = list(self.engine.state.offers.values())
        self.run(Accept(advisor_id=offer.advisor_id, offer_id=offer.id), now)
        return offer.interaction_id


@pytest.fixture
def day() -> Journaled:
    """One advisor's morning: two calls answered, one short abandon and one not, a breach."""
    j = Journaled()
    j.feed(_added(j, "A1", paris("09:00:00")))
    schedule = (
        Shift(advisor_id="A1", start=paris("09:00:00"), end=paris("12:00:00")),
        Shift(advisor_id="A1", start=paris("12:00:00"), end=paris("13:00:00"), activity="lunch"),
    )
    j.run(SetSchedule(day=DAY, shifts=schedule), paris("09:00:00"))
    j.call("c1", paris("09:10:00"))
    first = j.pick_up(paris("09:10:10"))  # waited 10 s: within the 180 s
    j.run(Close(interaction_id=first, advisor_id="A1"), paris("09:20:00"))
    j.run(SetAdvisorState(advisor_id="A1", state="not_ready", reason="break"), paris("09:30:00"))
    j.call("c2", paris("09:31:00"))
    j.run(Abandon(interaction_id=2), paris("09:31:03"))  # 3 s: a short abandon
    j.call("c3", paris("09:32:00"))
    j.run(Abandon(interaction_id=3), paris("09:33:00"))  # 60 s: counts
    j.call("c4", paris("09:34:00"))
    j.advance(paris("09:38:00"))  # c4 breached at 09:37
    j.run(SetAdvisorState(advisor_id="A1", state="available"), paris("09:40:00"))
    j.pick_up(paris("09:40:10"))  # c4 answered late, after 370 s
    return j


def _added(j: Journaled, advisor_id: str, now: Instant) -> list[Event]:
    """Add an advisor taking calls, logged in at ``now`` (fed through ``run``)."""
    j.run(AddAdvisor(advisor_id=advisor_id, skills={"general": 3}, capacity={"voice": 1}), now)
    j.run(SetAdvisorState(advisor_id=advisor_id, state="available"), now)
    return []


def test_a_channels_day_counts_and_its_ratios_leave_short_abandons_out(day: Journaled) -> None:
    voice = day.today.channel("voice", paris("10:00:00"))
    assert (voice.arrived, voice.answered, voice.answered_within) == (4, 2, 1)
    assert (voice.abandoned, voice.short_abandons, voice.breached) == (2, 1, 1)
    assert voice.service_level == pytest.approx(1 / 3)  # 1 / (2 answered + 2 - 1 short)
    assert voice.asa_s == pytest.approx((10 + 370) / 2)
    assert voice.abandonment == pytest.approx(1 / 3)  # (2 - 1) / (4 - 1)


def test_calls_refused_after_hours_count_apart_from_the_work_that_arrived(
    day: Journaled,
) -> None:
    for call, clock in (("late-1", "20:30:00"), ("late-2", "21:00:00")):
        with pytest.raises(ChannelClosed) as refused:
            day.call(call, paris(clock))
        day.feed([refused.value.event])
    voice = day.today.channel("voice", paris("21:00:00"))
    assert (voice.refused, voice.arrived) == (2, 4)
    assert voice.abandonment == pytest.approx(1 / 3)  # as before: refused work never waited
    assert day.today.channel("written", paris("21:00:00")).refused == 0
    assert day.today.channel("voice", paris("08:00:00", "2026-12-02")).refused == 0


def test_a_channel_without_work_today_has_no_ratios(day: Journaled) -> None:
    social = day.today.channel("social", paris("10:00:00"))
    assert (social.arrived, social.service_level, social.asa_s, social.abandonment) == (
        0,
        None,
        None,
        None,
    )


def test_work_late_and_still_waiting_counts_as_missed(day: Journaled) -> None:
    day.run(SetAdvisorState(advisor_id="A1", state="not_ready", reason="break"), paris("10:00:00"))
    day.call("c5", paris("10:01:00"))
    day.advance(paris("10:05:00"))  # breached at 10:04, still waiting
    voice = day.today.channel("voice", paris("10:05:00"))
    assert (voice.breached, voice.service_level) == (2, pytest.approx(1 / 4))


def test_an_advisors_day_occupancy_and_adherence_to_the_schedule(day: Journaled) -> None:
    a1 = day.today.advisor("A1", paris("10:00:00"), day.engine)
    # Logged in from 09:00; holding a call 09:10-09:20 and from 09:40; paused 09:30-09:40.
    assert a1.logged_in_s == 3600
    assert a1.busy_s == 600 + 1200
    assert a1.occupancy == pytest.approx(1800 / 3000)  # the pause is not staffed time
    # Scheduled to work 09:00-10:00: the unscheduled break is the 600 s not kept.
    assert a1.adherence == pytest.approx(3000 / 3600)


def test_work_a_supervisor_takes_back_ends_the_advisors_busy_time(day: Journaled) -> None:
    # A1 holds c4 from 09:40; at 10:00 a supervisor pauses A1, and c4 goes back to the queue.
    day.run(
        SetAdvisorState(advisor_id="A1", state="not_ready", reason="meeting", by="token:2"),
        paris("10:00:00"),
    )
    assert day.engine.state.interactions[4].status == "queued"
    a1 = day.today.advisor("A1", paris("10:30:00"), day.engine)
    assert a1.busy_s == 600 + 1200


def test_a_scheduled_lunch_taken_as_planned_keeps_adherence(day: Journaled) -> None:
    (held,) = day.engine.state.advisors["A1"].holding
    day.run(Close(interaction_id=held, advisor_id="A1"), paris("11:59:00"))
    day.run(SetAdvisorState(advisor_id="A1", state="not_ready", reason="lunch"), paris("12:00:00"))
    a1 = day.today.advisor("A1", paris("12:30:00"), day.engine)
    # 09:00-12:30 scheduled (work, then lunch): out of it only the 09:30-09:40 break.
    assert a1.adherence == pytest.approx((3.5 * 3600 - 600) / (3.5 * 3600))
    # Lunch on a break code would not be lunch.
    day.run(SetAdvisorState(advisor_id="A1", state="not_ready", reason="break"), paris("12:30:00"))
    later = day.today.advisor("A1", paris("13:00:00"), day.engine)
    assert later.adherence == pytest.approx((4 * 3600 - 600 - 1800) / (4 * 3600))


def test_no_schedule_for_the_day_or_the_advisor_means_no_adherence() -> None:
    j = Journaled()
    j.feed(_added(j, "A1", paris("09:00:00")))
    j.feed(_added(j, "A2", paris("09:00:00")))
    assert j.today.advisor("A1", paris("10:00:00"), j.engine).adherence is None
    shift = Shift(advisor_id="A1", start=paris("09:00:00"), end=paris("17:00:00"))
    j.run(SetSchedule(day=DAY, shifts=(shift,)), paris("10:00:00"))
    assert j.today.advisor("A1", paris("10:00:00"), j.engine).adherence == 1.0
    assert j.today.advisor("A2", paris("10:00:00"), j.engine).adherence is None
    # An advisor never seen has nothing yet.
    assert j.today.advisor("Z9", paris("10:00:00"), j.engine).logged_in_s == 0


def test_the_counts_start_again_at_midnight_and_advisors_carry_on(day: Journaled) -> None:
    tomorrow = "2026-12-02"
    # A social message at 00:30 (the phone line is closed at night).
    day.run(Submit(channel="social", source="x", external_id="s1"), paris("00:30:00", tomorrow))
    voice = day.today.channel("voice", paris("01:00:00", tomorrow))
    assert (voice.arrived, voice.answered, voice.abandoned, voice.breached) == (0, 0, 0, 0)
    assert day.today.channel("social", paris("01:00:00", tomorrow)).arrived == 1
    a1 = day.today.advisor("A1", paris("01:00:00", tomorrow), day.engine)
    # Still logged in and holding c4 since yesterday: from midnight, one hour busy.
    assert (a1.logged_in_s, a1.busy_s) == (3600, 3600)
    assert a1.adherence is None  # no schedule for the new day


def test_reading_a_later_day_without_events_shows_it_empty(day: Journaled) -> None:
    voice = day.today.channel("voice", paris("08:00:00", "2026-12-03"))
    assert (voice.arrived, voice.service_level) == (0, None)


def test_a_record_fed_twice_counts_once(day: Journaled) -> None:
    before = day.today.channel("voice", paris("10:00:00"))
    day.today.feed(day.records, day.engine)
    assert day.today.channel("voice", paris("10:00:00")) == before


def test_without_a_threshold_no_abandon_is_short() -> None:
    j = Journaled(short_abandon_s=0)
    j.feed(_added(j, "A1", paris("09:00:00")))
    j.run(SetAdvisorState(advisor_id="A1", state="not_ready", reason="break"), paris("09:00:00"))
    j.call("c1", paris("09:01:00"))
    j.run(Abandon(interaction_id=1), paris("09:01:01"))
    voice = j.today.channel("voice", paris("09:02:00"))
    assert (voice.abandoned, voice.short_abandons, voice.abandonment) == (1, 0, 1.0)


def test_offers_are_made_to_the_advisor_the_test_expects(day: Journaled) -> None:
    offers = [r.event for r in day.records if isinstance(r.event, OfferMade)]
    assert [(o.interaction_id, o.advisor_id) for o in offers] == [(1, "A1"), (4, "A1")]
    assert offers[1].at == paris("09:40:00")


# -- catching up from the journal, on a real runtime ----------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _follow(runtime: Runtime) -> Today:
    """A ``Today`` as the wallboard would start one: listener first, then the catch-up."""
    today = Today(runtime.zone)
    runtime.add_listener(lambda records: today.feed(records, runtime.engine))  # type: ignore[arg-type]
    await catch_up(today, runtime)
    return today


async def _figures(today: Today, runtime: Runtime, now: Instant) -> list[object]:
    def read(engine: Engine) -> list[object]:
        channels: list[object] = [today.channel(c, now) for c in ("voice", "written", "social")]
        advisors = [today.advisor(a, now, engine) for a in sorted(engine.state.advisors)]
        return channels + advisors

    figures: list[object] = await runtime.read(read)
    return figures


@pytest.mark.anyio
async def test_catching_up_after_a_restart_gives_what_a_live_follower_saw(tmp_path: Path) -> None:
    clock = VirtualClock()  # Monday 4 January 2027, 09:00 in Paris
    path = tmp_path / "journal.sqlite"
    async with serving(path, clock) as runtime:
        live = await _follow(runtime)
        await runtime.execute(SetAdvisorState(advisor_id="claire.martin", state="available"))
        clock.now += 600 * SECOND
        call = await runtime.submit(Submit(channel="voice", source="phone", external_id="c1"), None)
        clock.now += 8 * SECOND
        offer_id = await runtime.read(
            lambda engine: engine.state.interactions[call.interaction.id].offer_id
        )
        await runtime.execute(Accept(advisor_id="claire.martin", offer_id=offer_id))
        clock.now += 300 * SECOND
        await runtime.execute(Close(interaction_id=call.interaction.id, advisor_id="claire.martin"))
        paused = SetAdvisorState(advisor_id="claire.martin", state="not_ready", reason="break")
        await runtime.execute(paused)
        gone = await runtime.submit(Submit(channel="voice", source="phone", external_id="c2"), None)
        clock.now += 2 * SECOND
        await runtime.execute(Abandon(interaction_id=gone.interaction.id))
        clock.now += 600 * SECOND
        now = clock.now
        seen = await _figures(live, runtime, now)
    voice = seen[0]
    assert isinstance(voice, ChannelDay)
    assert (voice.arrived, voice.answered, voice.abandoned, voice.short_abandons) == (2, 1, 1, 1)
    assert voice.service_level == 1.0  # the short abandon is left out
    async with serving(path, clock) as runtime:
        rebuilt = await _follow(runtime)
        assert await _figures(rebuilt, runtime, now) == seen
        claire = (await _figures(rebuilt, runtime, now))[3:][_index(runtime, "claire.martin")]
        assert isinstance(claire, AdvisorDay)
        # Logged in since 09:00 (paused from 09:15:08, still logged in): 09:25:10 now; busy
        # from the offer (09:10:00) to the close (09:15:08).
        assert claire.logged_in_s == pytest.approx(1510)
        assert claire.busy_s == pytest.approx(308)


def _index(runtime: Runtime, advisor_id: str) -> int:
    return sorted(runtime.engine.state.advisors).index(advisor_id)  # type: ignore[union-attr]


# -- callbacks ------------------------------------------------------------------------------------


def test_callbacks_count_with_the_wait_they_had_and_apart_from_the_calls() -> None:
    j = Journaled()
    policies = j.engine.state.policies
    voice = msgspec.structs.replace(
        policies.channels["voice"], callback_target_s=3600, callback_attempts=1
    )
    j.run(
        SetPolicies(
            policies=msgspec.structs.replace(
                policies, channels={**policies.channels, "voice": voice}
            )
        ),
        paris("09:00:00"),
    )
    j.feed(_added(j, "A1", paris("09:00:00")))
    j.run(SetAdvisorState(advisor_id="A1", state="not_ready", reason="break"), paris("09:00:00"))
    for n, clock in ((1, "10:00:00"), (2, "10:00:30"), (3, "10:01:00")):
        j.call(f"c{n}", paris(clock))
    j.run(RequestCallback(interaction_id=1), paris("10:02:00"))  # waited 120 s: within
    j.advance(paris("10:04:30"))  # c2 and c3 breached
    j.run(RequestCallback(interaction_id=2), paris("10:05:00"))  # waited 270 s
    j.run(RequestCallback(interaction_id=3), paris("10:06:00"))  # waited 300 s
    j.run(SetAdvisorState(advisor_id="A1", state="available"), paris("10:10:00"))
    assert j.pick_up(paris("10:10:05")) == 1
    j.run(
        RecordCallbackAttempt(interaction_id=1, advisor_id="A1", outcome="answered"),
        paris("10:10:20"),
    )
    j.run(Close(interaction_id=1, advisor_id="A1"), paris("10:15:00"))
    assert j.pick_up(paris("10:15:05")) == 2
    j.run(
        RecordCallbackAttempt(interaction_id=2, advisor_id="A1", outcome="unanswered"),
        paris("10:15:35"),
    )  # the only attempt: closed
    j.run(SetAdvisorState(advisor_id="A1", state="not_ready", reason="break"), paris("10:15:40"))
    j.advance(paris("11:10:00"))  # c3's callback was due at 11:06, never attempted
    day = j.today.channel("voice", paris("11:10:00"))
    assert (day.arrived, day.answered, day.breached) == (3, 0, 2)  # the calls' breaches only
    assert day.callbacks_requested == 3
    assert day.service_level == pytest.approx(1 / 3)  # one of the three asked within 180 s
    assert day.asa_s is None
    assert (day.callbacks_reached, day.callbacks_unreached) == (1, 1)
    assert day.callback_service_level == pytest.approx(2 / 3)  # 2 made in time, 1 overdue
