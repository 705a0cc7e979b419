"""The day's forecast, from the reference configuration's plan, against the simulator's rates."""

from __future__ import annotations

import threading
import time as clock
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import pytest

from aiguillage.adapters.config.settings import Settings, load_config, load_config_bytes
from aiguillage.adapters.daemon import forecast as forecast_module
from aiguillage.adapters.daemon.forecast import DayForecast, Forecasts, day_forecast
from aiguillage.adapters.daemon.serve import build_runtime
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import HOUR, MINUTE, Instant, from_datetime, to_datetime
from aiguillage.simulations.workload import hourly_rates, streams_of
from tests.adapters.daemons import ROOT

pytestmark = pytest.mark.anyio

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_config(ROOT / "config.toml").settings


def paris(day: date, hour: int, minute: int = 0) -> Instant:
    return from_datetime(datetime.combine(day, time(hour, minute), PARIS))


def simulated_day(settings: Settings, day: date) -> dict[str, float]:
    """Mean arrivals per channel over ``day`` as a simulation started at its midnight draws."""
    calendar = BusinessCalendar(settings.calendar)
    start = paris(day, 0)
    hours = (paris(day + timedelta(days=1), 0) - start) // HOUR
    totals: dict[str, float] = {}
    for stream in streams_of(settings.policies(), settings.simulation, calendar):
        rates = hourly_rates(stream, start, hours, calendar, settings.simulation.surges)
        totals[stream.channel] = totals.get(stream.channel, 0.0) + float(rates.sum())
    return totals


def test_a_day_expects_what_the_simulator_draws_on_average(settings: Settings) -> None:
    day = date(2027, 3, 9)  # a Tuesday, no holiday
    started = clock.perf_counter()
    forecast = day_forecast(settings, day)
    print(f"one day's forecast: {clock.perf_counter() - started:.3f} s")
    assert forecast is not None
    assert forecast.hours == 24
    assert forecast.channels == ("voice", "written", "social")
    simulated = simulated_day(settings, day)
    for channel in forecast.channels:
        assert forecast.expected_day(channel) == pytest.approx(simulated[channel], rel=1e-12)
        assert simulated[channel] > 0
    # The hours are the simulator's: the phone line is quiet before 07:00 and from 20:00.
    voice = forecast.hourly("voice")
    assert voice[:7] == (0.0,) * 7
    assert voice[20:] == (0.0,) * 4
    assert all(rate > 0 for rate in voice[7:20])


def test_a_year_of_days_expects_the_yearly_volumes(settings: Settings) -> None:
    """Each day is normalised over the year from its midnight, as a run from there would be:
    the days of a year add up to the yearly volumes, to within the drift of that window."""
    volumes = settings.simulation.volumes
    yearly = {
        channel: sum(volumes.get(source, 0) for source in policy.sources)
        for channel, policy in settings.policies().channels.items()
    }
    totals = dict.fromkeys(yearly, 0.0)
    first = date(2027, 1, 1)
    for n in range(365):
        forecast = day_forecast(settings, first + timedelta(days=n))
        assert forecast is not None
        for channel in totals:
            totals[channel] += forecast.expected_day(channel)
    for channel, total in totals.items():
        assert total == pytest.approx(yearly[channel], rel=0.003), channel


@pytest.mark.parametrize(("day", "hours"), [(date(2027, 3, 28), 23), (date(2027, 10, 31), 25)])
def test_a_day_the_clocks_change_loses_and_doubles_nothing(
    settings: Settings, day: date, hours: int
) -> None:
    forecast = day_forecast(settings, day)
    assert forecast is not None
    assert forecast.hours == hours
    assert forecast.end - forecast.start == hours * HOUR
    simulated = simulated_day(settings, day)
    for channel in forecast.channels:
        hourly = forecast.hourly(channel)
        assert len(hourly) == hours
        assert sum(hourly) == pytest.approx(simulated[channel], rel=1e-12)
        assert forecast.expected_day(channel) == pytest.approx(simulated[channel], rel=1e-12)
    # Social's profile weighs 02:00 at 0.1: the skipped hour has none, the repeated one twice.
    local_hours = [to_datetime(forecast.start + n * HOUR, PARIS).hour for n in range(hours)]
    if hours == 23:
        assert 2 not in local_hours
    else:
        first, second = (n for n, h in enumerate(local_hours) if h == 2)
        social = forecast.hourly("social")
        assert social[first] > 0
        assert social[second] == pytest.approx(social[first])


def test_a_closed_holiday_expects_no_calls(settings: Settings) -> None:
    """Easter Monday 2027 (29 March): the line closes on holidays (`closed_on_holidays`)."""
    holiday = date(2027, 3, 29)
    assert BusinessCalendar(settings.calendar).is_holiday(holiday)
    forecast = day_forecast(settings, holiday)
    assert forecast is not None
    assert forecast.expected_day("voice") == 0.0
    assert forecast.expected_by("voice", paris(holiday, 12)) == 0.0
    # Written and social work still arrives: only the phone line refuses work when closed.
    assert forecast.expected_day("written") > 0
    assert forecast.expected_day("social") > 0
    following = day_forecast(settings, holiday + timedelta(days=1))
    assert following is not None
    assert following.expected_day("voice") > 0


def test_expected_by_runs_from_nothing_at_midnight_to_the_whole_day(settings: Settings) -> None:
    day = date(2027, 3, 9)
    forecast = day_forecast(settings, day)
    assert forecast is not None
    for channel in forecast.channels:
        assert forecast.expected_by(channel, forecast.start) == 0.0
        assert forecast.expected_by(channel, forecast.start - HOUR) == 0.0
        whole = forecast.expected_day(channel)
        assert forecast.expected_by(channel, forecast.end) == whole
        assert forecast.expected_by(channel, forecast.end + HOUR) == whole
        # It never goes back, and each full hour adds that hour's expected arrivals.
        previous = 0.0
        for minutes in range(0, 24 * 60 + 1, 5):
            now = forecast.start + minutes * MINUTE
            expected = forecast.expected_by(channel, now)
            assert expected >= previous
            previous = expected
        nine, ten = paris(day, 9), paris(day, 10)
        assert forecast.expected_by(channel, ten) - forecast.expected_by(
            channel, nine
        ) == pytest.approx(forecast.hourly(channel)[9])
        # The half-hour intervals cover the day.
        intervals = forecast.intervals(channel, 30)
        assert len(intervals) == 48
        assert sum(n for _, n in intervals) == pytest.approx(whole)


def test_the_current_hour_counts_its_open_part_only(settings: Settings) -> None:
    """An hour is prorated over its open 5-minute slots, where the simulator places arrivals:
    a line opening at 07:30 expects none before 07:30 and half its hour by 07:45."""
    config = (ROOT / "config.toml").read_text(encoding="utf-8")
    late = config.replace("opens = 07:00:00", "opens = 07:30:00", 1)
    assert late != config
    forecast = day_forecast(
        load_config_bytes(late.encode(), "config.toml").settings, date(2027, 3, 9)
    )
    assert forecast is not None
    day = forecast.day
    seven = forecast.hourly("voice")[7]
    assert seven > 0
    assert forecast.expected_by("voice", paris(day, 7, 30)) == 0.0
    assert forecast.expected_by("voice", paris(day, 7, 45)) == pytest.approx(seven / 2)
    assert forecast.expected_by("voice", paris(day, 8)) == pytest.approx(seven)
    # Social works day and night: its hour accrues evenly.
    social = forecast.hourly("social")
    before = forecast.expected_by("social", paris(day, 7))
    assert forecast.expected_by("social", paris(day, 7, 15)) - before == pytest.approx(
        social[7] / 4
    )


async def test_without_volumes_there_is_no_plan(tmp_path: Path) -> None:
    config = (ROOT / "config.toml").read_text(encoding="utf-8")
    start = config.index("[simulation.volumes]")
    end = config.index("[simulation.languages]")
    loaded = load_config_bytes((config[:start] + config[end:]).encode(), "config.toml")
    assert not loaded.settings.simulation.volumes
    assert day_forecast(loaded.settings, date(2027, 3, 9)) is None
    runtime = build_runtime(loaded, tmp_path / "journal.sqlite")
    assert await Forecasts().day(runtime, date(2027, 3, 9)) is None


async def test_concurrent_callers_share_one_computation_kept_for_the_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = build_runtime(load_config(ROOT / "config.toml"), tmp_path / "journal.sqlite")
    runtime.clock = lambda: paris(date(2027, 3, 9), 11)
    computed: list[date] = []
    real = forecast_module.day_forecast

    def counted(settings: Settings, day: date) -> DayForecast | None:
        computed.append(day)
        return real(settings, day)

    monkeypatch.setattr(forecast_module, "day_forecast", counted)
    forecasts = Forecasts()
    results: list[DayForecast | None] = []

    async def ask() -> None:
        results.append(await forecasts.today(runtime))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(ask)
    assert computed == [date(2027, 3, 9)]
    assert len(results) == 5
    assert all(r is results[0] for r in results)
    assert results[0] is not None
    assert results[0].day == date(2027, 3, 9)
    assert await forecasts.day(runtime, date(2027, 3, 9)) is results[0]
    assert computed == [date(2027, 3, 9)]
    # The next day is computed once more, then kept beside it.
    runtime.clock = lambda: paris(date(2027, 3, 10), 0, 1)
    tomorrow = await forecasts.today(runtime)
    assert tomorrow is not None
    assert tomorrow.day == date(2027, 3, 10)
    assert computed == [date(2027, 3, 9), date(2027, 3, 10)]


async def test_a_failed_computation_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = build_runtime(load_config(ROOT / "config.toml"), tmp_path / "journal.sqlite")
    real = forecast_module.day_forecast
    calls: list[date] = []

    def flaky(settings: Settings, day: date) -> DayForecast | None:
        calls.append(day)
        if len(calls) == 1:
            raise RuntimeError("disk hiccup")
        return real(settings, day)

    monkeypatch.setattr(forecast_module, "day_forecast", flaky)
    forecasts = Forecasts()
    with pytest.raises(RuntimeError, match="disk hiccup"):
        await forecasts.day(runtime, date(2027, 3, 9))
    again = await forecasts.day(runtime, date(2027, 3, 9))
    assert again is not None
    assert len(calls) == 2


async def test_a_caller_gone_leaves_the_computation_to_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = build_runtime(load_config(ROOT / "config.toml"), tmp_path / "journal.sqlite")
    real = forecast_module.day_forecast
    calls: list[date] = []
    release = threading.Event()

    def slow(settings: Settings, day: date) -> DayForecast | None:
        calls.append(day)
        release.wait(10)
        return real(settings, day)

    monkeypatch.setattr(forecast_module, "day_forecast", slow)
    forecasts = Forecasts()
    with anyio.move_on_after(0.2) as scope:
        await forecasts.day(runtime, date(2027, 3, 9))
    assert scope.cancelled_caught
    release.set()
    kept = await forecasts.day(runtime, date(2027, 3, 9))
    assert kept is not None
    assert calls == [date(2027, 3, 9)]
