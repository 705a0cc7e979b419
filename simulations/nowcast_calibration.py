"""Calibration of the nowcast: made at 10:00 on simulated days, checked against their evening.

For each of ``days`` working days (Monday to Friday) from the deployment's start, a day is
simulated from midnight on a fresh engine with the deployment's roster on its teams' shifts and
its traffic, plus a surge the plan does not know of (a random channel, from between 07:00 and
09:30, two to six hours, the traffic times 2 to 5): the kind of day a nowcast is for. At
10:00 the engine's image is taken and a nowcast made from it, with the day's figures so far.
The day then runs on to midnight: its breaches from 10:00 are the realised outcome the
nowcast's 90 % interval should hold.

The what-if: two advisors moved toward the channel the nowcast puts most breaches on, from
the channel with fewest (among those it can take advisors from). It is nowcast, and the same
day is replayed from 10:00 with the move made (the same arrivals, the same seed): both should
show fewer breaches in all than as is.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import msgspec
import numpy as np

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.commands import SetPolicies
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event
from aiguillage.engine.instants import Instant, from_datetime
from aiguillage.engine.policies import Channel

from .kernel import Behaviour, Simulation
from .nowcast import (
    INTERVAL,
    MoveAdvisors,
    Mover,
    Nowcast,
    NowcastRequest,
    SoFar,
    apply_what_if,
    describe,
    nowcast,
)
from .nowcast_tally import ChannelCount, DayTally
from .run import Deployment
from .scenario import Surge
from .workload import Mix, arrivals, streams_of

__all__ = ["Calibration", "CalibrationDay", "calibrate", "replay_day"]

AT = time(10, 0)
"""When in the day the nowcast is made."""
MOVED = 2
"""Advisors the what-if moves."""


class CalibrationDay(msgspec.Struct, frozen=True, kw_only=True):
    day: str
    surge: str
    breaches: int
    """Realised, from 10:00 to midnight, every channel."""
    low: float
    high: float
    """The nowcast's 90 % interval of those breaches (of the replications' totals)."""
    within: bool
    per_channel: dict[str, tuple[int, float, float]]
    """Per channel: realised, low, high."""
    what_if: str
    nowcast_as_is: float
    nowcast_moved: float
    """Mean breaches from 10:00 in the nowcast, as is and with the move."""
    realised_moved: int
    """Realised breaches from 10:00 on the same day replayed with the move."""


class Calibration(msgspec.Struct, frozen=True, kw_only=True):
    days: list[CalibrationDay]
    within_share: float
    """Share of days whose realised breaches fall within the interval (the aim: 0.8 or more)."""
    channel_within_share: float
    """The same per channel and day."""
    nowcast_fewer_share: float
    """Share of days the what-if's nowcast shows fewer breaches than as is."""
    realised_fewer_share: float
    """Share of days the replay with the move shows fewer breaches than without it."""
    breaches_as_is: int
    breaches_moved: int
    """Realised breaches from 10:00 over all days, without and with the move."""


def calibrate(
    deployment: Deployment,
    days: int = 20,
    seed: int = 1,
    replications: int = 20,
    progress: Callable[[int], None] | None = None,
) -> Calibration:
    """Run the calibration (see the module) on ``days`` working days."""
    rng = random.Random(seed)
    calendar = BusinessCalendar(deployment.policies.calendar)
    channels = list(deployment.policies.channels)
    rows: list[CalibrationDay] = []
    day = deployment.start
    while len(rows) < days:
        if day.weekday() < 5:
            rows.append(_one_day(deployment, calendar, day, rng, channels, replications))
            if progress is not None:
                progress(len(rows))
        day += timedelta(days=1)
    within = sum(r.within for r in rows)
    per_channel = [v for r in rows for v in r.per_channel.values()]
    return Calibration(
        days=rows,
        within_share=within / len(rows),
        channel_within_share=sum(low <= n <= high for n, low, high in per_channel)
        / len(per_channel),
        nowcast_fewer_share=sum(r.nowcast_moved < r.nowcast_as_is for r in rows) / len(rows),
        realised_fewer_share=sum(r.realised_moved < r.breaches for r in rows) / len(rows),
        breaches_as_is=sum(r.breaches for r in rows),
        breaches_moved=sum(r.realised_moved for r in rows),
    )


def _one_day(
    deployment: Deployment,
    calendar: BusinessCalendar,
    day: date,
    rng: random.Random,
    channels: list[Channel],
    replications: int,
) -> CalibrationDay:
    zone = calendar.zone
    surge = Surge(
        channel=rng.choice(channels),
        start=datetime.combine(day, time(7), zone) + timedelta(minutes=rng.randrange(0, 151)),
        hours=rng.uniform(2, 6),
        factor=rng.uniform(2, 5),
    )
    seed = rng.randrange(2**32)
    at = from_datetime(datetime.combine(day, AT, zone))
    image, so_far, realised = replay_day(deployment, calendar, day, surge, seed, at, None)
    teams = {command.advisor_id: team for command, team in deployment.roster if team is not None}
    breach_eur = {c: p.penalty_eur for c, p in deployment.policies.channels.items()}
    request = NowcastRequest(
        image=image,
        now=at,
        scenario=deployment.scenario,
        teams=teams,
        breach_eur=breach_eur,
        so_far=so_far,
        replications=replications,
        seed=seed,
    )
    as_is = nowcast(request)
    move = _move_toward_risk(as_is, deployment, channels)
    moved = nowcast(msgspec.structs.replace(request, what_ifs=(move,)))
    _, _, realised_moved = replay_day(deployment, calendar, day, surge, seed, at, move)
    low, high = _total_interval(as_is)
    total = sum(c.breaches for c in realised.values())
    per_channel: dict[str, tuple[int, float, float]] = {
        c.channel: (realised[c.channel].breaches, c.breaches_rest.low, c.breaches_rest.high)
        for c in as_is.variants[0].channels
    }
    return CalibrationDay(
        day=day.isoformat(),
        surge=f"{surge.channel} x{surge.factor:.1f} from {surge.start:%H:%M} for "
        f"{surge.hours:.1f} h",
        breaches=total,
        low=low,
        high=high,
        within=low <= total <= high,
        per_channel=per_channel,
        what_if=describe(move),
        nowcast_as_is=sum(c.breaches_rest.mean for c in as_is.variants[0].channels),
        nowcast_moved=sum(c.breaches_rest.mean for c in moved.variants[1].channels),
        realised_moved=sum(c.breaches for c in realised_moved.values()),
    )


def _total_interval(result: Nowcast) -> tuple[float, float]:
    """The 90 % interval of all channels' breaches from now."""
    total = result.variants[0].breaches_rest
    return total.low, total.high


def _move_toward_risk(
    result: Nowcast, deployment: Deployment, channels: list[Channel]
) -> MoveAdvisors:
    by_breaches = sorted(result.variants[0].channels, key=lambda c: c.breaches_rest.mean)
    target = by_breaches[-1].channel
    staffed = {c for command, _ in deployment.roster for c, n in command.capacity.items() if n}
    donor = next(c.channel for c in by_breaches if c.channel != target and c.channel in staffed)
    return MoveAdvisors(count=MOVED, from_channel=donor, to_channel=target)


def replay_day(
    deployment: Deployment,
    calendar: BusinessCalendar,
    day: date,
    surge: Surge,
    seed: int,
    at: Instant,
    move: MoveAdvisors | None,
) -> tuple[bytes, dict[Channel, SoFar], dict[Channel, ChannelCount]]:
    """Simulate the day; return the image at ``at``, the day so far, and the rest realised."""
    zone = calendar.zone
    begin = from_datetime(datetime.combine(day, time(), zone))
    end = from_datetime(datetime.combine(day + timedelta(days=1), time(), zone))
    scenario = msgspec.structs.replace(
        deployment.scenario, surges=(*deployment.scenario.surges, surge)
    )
    engine = Engine()
    engine.handle(
        SetPolicies(policies=deployment.policies, config_digest=deployment.config_digest), begin
    )
    for command, _ in deployment.roster:
        engine.handle(command, begin)
    observers: list[Callable[[Event], None]] = []

    def observe(event: Event) -> None:
        for observer in observers:
            observer(event)

    morning = DayTally(engine, begin, INTERVAL)
    observers.append(morning)
    traffic_seed, people_seed = np.random.SeedSequence(seed).spawn(2)
    behaviour = Behaviour(
        handling=dict(scenario.handling),
        by_typology=dict(scenario.written_typologies),
        answer_delay_s=scenario.answer_delay_s,
        first_response_share=scenario.first_response_share,
        patience_s=scenario.patience_s,
        callbacks=scenario.callbacks,
    )
    simulation = Simulation(
        engine, random.Random(int(people_seed.generate_state(1)[0])), behaviour, [observe]
    )
    for command, team in deployment.roster:
        shift = scenario.teams.get(team) if team is not None else None
        simulation.staff(command.advisor_id, shift, begin, end, calendar)
    mix = Mix(
        motives=dict(scenario.motives) or dict.fromkeys(deployment.policies.motives, 1.0),
        languages=dict(scenario.languages),
        typologies=dict(scenario.typologies),
    )
    simulation.schedule_all(
        arrivals(
            streams_of(deployment.policies, scenario, calendar),
            mix,
            begin,
            end,
            np.random.default_rng(traffic_seed),
            calendar,
            scenario.surges,
        )
    )
    simulation.run(at)
    image = engine.image()
    so_far = {
        channel: SoFar(
            arrived=count.arrived,
            answered=count.answered,
            within=count.within,
            abandoned=count.abandoned,
            short_abandons=count.short_abandons,
            callbacks=count.callbacks,
            callbacks_within=count.callbacks_within,
            breaches=count.breaches,
        )
        for channel, count in morning.channels.items()
    }
    observers.clear()
    rest = DayTally(engine, at, INTERVAL)
    observers.append(rest)
    if move is not None:
        mover = Mover(engine)
        mover.simulation = simulation
        observers.append(mover)
        apply_what_if(simulation, mover, move, at)
    simulation.run(end)
    return image, so_far, rest.channels
