"""The nowcast: the rest of a simulated day from its 10:00 image, as is and with what-ifs."""

from __future__ import annotations

import random
from datetime import date, datetime, time

import msgspec
import numpy as np
import pytest

from aiguillage.adapters.cli.simulate import deployment_of
from aiguillage.adapters.config.settings import default_config_path, load_config
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.engine import Engine
from aiguillage.engine.instants import HOUR, from_datetime
from aiguillage.simulations.kernel import Behaviour, Simulation
from aiguillage.simulations.nowcast import (
    CallIn,
    MoveAdvisors,
    Nowcast,
    NowcastRequest,
    SoFar,
    nowcast,
)
from aiguillage.simulations.nowcast_calibration import calibrate, replay_day
from aiguillage.simulations.nowcast_traffic import DayTraffic, level_factor
from aiguillage.simulations.run import Deployment
from aiguillage.simulations.scenario import Surge
from aiguillage.simulations.workload import hourly_rates, streams_of

DAY = date(2027, 1, 5)  # a Tuesday


@pytest.fixture(scope="module")
def reference() -> Deployment:
    return deployment_of(load_config(default_config_path()))


@pytest.fixture(scope="module")
def calendar(reference: Deployment) -> BusinessCalendar:
    return BusinessCalendar(reference.policies.calendar)


@pytest.fixture(scope="module")
def surge(calendar: BusinessCalendar) -> Surge:
    """Social traffic four times the plan's from 08:00 to 14:00, unknown to the plan."""
    start = datetime.combine(DAY, time(8), calendar.zone)
    return Surge(channel="social", start=start, hours=6, factor=4)


@pytest.fixture(scope="module")
def ten(calendar: BusinessCalendar) -> int:
    return from_datetime(datetime.combine(DAY, time(10), calendar.zone))


@pytest.fixture(scope="module")
def morning(
    reference: Deployment, calendar: BusinessCalendar, surge: Surge, ten: int
) -> tuple[bytes, dict[str, SoFar]]:
    image, so_far, _ = replay_day(reference, calendar, DAY, surge, 7, ten, None)
    return image, dict(so_far)


@pytest.fixture(scope="module")
def request_(
    reference: Deployment, morning: tuple[bytes, dict[str, SoFar]], ten: int
) -> NowcastRequest:
    image, so_far = morning
    return NowcastRequest(
        image=image,
        now=ten,
        scenario=reference.scenario,
        teams={c.advisor_id: t for c, t in reference.roster if t is not None},
        so_far=so_far,  # type: ignore[arg-type]
        replications=8,
        seed=11,
        what_ifs=(
            CallIn(channel="social", hour=10),
            MoveAdvisors(count=3, from_channel="written", to_channel="social"),
        ),
    )


@pytest.fixture(scope="module")
def result(request_: NowcastRequest) -> Nowcast:
    return nowcast(request_)


def test_the_level_follows_what_arrived_shrunk_toward_the_plan() -> None:
    rng = np.random.default_rng(1)
    many = np.mean([level_factor(400, 200, rng) for _ in range(2000)])
    few = np.mean([level_factor(4, 2, rng) for _ in range(2000)])
    assert 1.8 < many < 2.0  # (30 + 400) / (30 + 200) = 1.87
    assert 1.0 < few < 1.15  # (30 + 4) / (30 + 2) = 1.06: two arrivals say little


def test_the_day_expects_what_the_simulator_draws_on_average(
    reference: Deployment, calendar: BusinessCalendar
) -> None:
    start = from_datetime(datetime.combine(DAY, time(), calendar.zone))
    traffic = DayTraffic.of(reference.policies, reference.scenario, start, start + 24 * HOUR)
    for channel in traffic.channels:
        planned = sum(
            float(hourly_rates(stream, start, 24, calendar).sum())
            for stream in streams_of(reference.policies, reference.scenario, calendar)
            if stream.channel == channel
        )
        assert traffic.expected(channel, start, start + 24 * HOUR) == pytest.approx(planned)


def test_the_rest_of_the_day_draws_the_plan_times_the_level(
    reference: Deployment, calendar: BusinessCalendar, ten: int
) -> None:
    start = from_datetime(datetime.combine(DAY, time(), calendar.zone))
    traffic = DayTraffic.of(reference.policies, reference.scenario, start, start + 24 * HOUR)
    rng = np.random.default_rng(3)
    factors = {"voice": 1.0, "written": 2.0, "social": 3.0}
    counts = dict.fromkeys(factors, 0)
    runs = 40
    for _ in range(runs):
        for at, submit in traffic.draw(ten, factors, rng):
            assert ten <= at < start + 24 * HOUR
            counts[submit.channel] += 1
    for channel, factor in factors.items():
        expected = runs * factor * traffic.expected(channel, ten, start + 24 * HOUR)
        assert abs(counts[channel] - expected) < 5 * expected**0.5


def test_calls_are_drawn_only_while_the_line_is_open(
    reference: Deployment, calendar: BusinessCalendar, ten: int
) -> None:
    start = from_datetime(datetime.combine(DAY, time(), calendar.zone))
    traffic = DayTraffic.of(reference.policies, reference.scenario, start, start + 24 * HOUR)
    drawn = traffic.draw(ten, {"voice": 5.0}, np.random.default_rng(4))
    closing = from_datetime(datetime.combine(DAY, time(20), calendar.zone))
    calls = [at for at, submit in drawn if submit.channel == "voice"]
    assert calls
    assert max(calls) < closing


def test_simulated_people_finish_the_work_they_held_in_the_image(
    reference: Deployment, morning: tuple[bytes, dict[str, SoFar]], ten: int
) -> None:
    engine = Engine.from_image(morning[0])
    held = [i.id for i in engine.state.interactions.values() if i.status == "assigned"]
    offered = [i.id for i in engine.state.interactions.values() if i.status == "offered"]
    assert held
    simulation = Simulation(engine, random.Random(1), Behaviour(patience_s=300))
    simulation.take_over()
    simulation.run(ten + 3 * HOUR)  # long past any handling time, no new work
    for interaction_id in held + offered:
        interaction = engine.state.interactions[interaction_id]
        assert interaction.status not in ("assigned", "offered"), interaction


def test_the_same_request_gives_the_same_nowcast(request_: NowcastRequest, result: Nowcast) -> None:
    assert nowcast(request_) == result


def test_each_figure_lies_within_its_interval(result: Nowcast) -> None:
    for variant in result.variants:
        for channel in variant.channels:
            for figure in (channel.breaches, channel.breaches_rest, channel.penalties_eur):
                assert figure.low <= figure.mean <= figure.high
            assert channel.breaches.low >= channel.breaches_rest.low


def test_the_day_so_far_counts_in_the_breaches_by_closing(
    request_: NowcastRequest, result: Nowcast
) -> None:
    for channel in result.variants[0].channels:
        before = request_.so_far.get(channel.channel, SoFar()).breaches
        assert channel.breaches.mean == pytest.approx(channel.breaches_rest.mean + before)


def test_the_surge_seen_so_far_raises_the_level_of_its_channel(result: Nowcast) -> None:
    assert result.level["social"] > 1.5
    assert 0.7 < result.level["voice"] < 1.3


def test_more_advisors_on_the_channel_at_risk_mean_fewer_breaches(result: Nowcast) -> None:
    as_is, call_in, moved = (
        {c.channel: c for c in variant.channels} for variant in result.variants
    )
    assert as_is["social"].breaches_rest.mean > 0
    assert call_in["social"].breaches_rest.mean < as_is["social"].breaches_rest.mean
    assert moved["social"].breaches_rest.mean < as_is["social"].breaches_rest.mean
    assert [v.what_if for v in result.variants] == [
        "as is",
        "one more on social from 10:00",
        "move 3 from written to social",
    ]


def test_the_backlog_peaks_on_a_half_hour_of_the_rest_of_the_day(result: Nowcast) -> None:
    social = next(c for c in result.variants[0].channels if c.channel == "social")
    assert social.backlog_peak_at is not None
    peak = datetime.fromisoformat(social.backlog_peak_at)
    # Social messages still come after the evening shift leaves: the peak may be at closing.
    assert datetime.fromisoformat(result.at) < peak <= datetime.fromisoformat(result.closing)
    assert peak.minute in (0, 30)
    assert social.backlog_peak > 0


def test_a_nowcast_encodes_to_json(result: Nowcast) -> None:
    assert msgspec.json.decode(msgspec.json.encode(result), type=Nowcast) == result


def test_the_calibration_judges_each_day_against_its_realised_evening(
    reference: Deployment,
) -> None:
    report = calibrate(reference, days=2, seed=5, replications=4)
    assert [d.day for d in report.days] == ["2027-01-04", "2027-01-05"]
    for day in report.days:
        assert day.within == (day.low <= day.breaches <= day.high)
        assert day.what_if.startswith("move 2 from ")
    assert report.within_share == sum(d.within for d in report.days) / 2
