"""The nowcast: the rest of today simulated from the engine's live image, several times over.

``nowcast(request)`` restores the engine from an image taken at ``now`` and runs the simulator
(``kernel.Simulation``) from there to the end of the local day, ``replications`` times with
seeds drawn from one: simulated people take over the work in progress (``take_over``: offers
answered, held work ended after the rest of a drawn handling time, waiting callers' patience),
the advisors follow the day's schedule (the shifts ``SetSchedule`` journaled for today, else
their teams' shifts from ``[simulation.teams]``), and the arrivals of the rest of the day are
the plan's (``nowcast_traffic``) times a level factor per channel drawn from what has arrived
so far. Every replication of every what-if uses the same seeds (common random numbers), so the
differences between them are the what-if's, not the noise's.

Per channel it returns the service level expected at closing (the day so far and the rest
together), the breaches and penalty euros by closing with their 90 % interval (the 5th and
95th percentiles over replications), and the half-hour the backlog peaks. Closing is the end of
the local day. Pure: no I/O, no clock; the same request gives the same answer.
"""

from __future__ import annotations

import functools
import random
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated

import msgspec

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.commands import AddAdvisor, SetAdvisorState, Submit, UpdateAdvisor
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event
from aiguillage.engine.instants import MINUTE, Instant, from_datetime, to_datetime
from aiguillage.engine.policies import Channel, Policies
from aiguillage.engine.schedules import WORK

from .kernel import Behaviour, Simulation
from .nowcast_tally import ChannelCount, DayTally, first_edge
from .scenario import Scenario

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CallIn",
    "ChannelNowcast",
    "Figure",
    "MoveAdvisors",
    "Mover",
    "Nowcast",
    "NowcastRequest",
    "SoFar",
    "Variant",
    "WhatIf",
    "apply_what_if",
    "day_bounds_of",
    "describe",
    "nowcast",
]

INTERVAL = 30 * MINUTE
"""The backlog is sampled at each half-hour edge."""
MOVED = "moved"
"""The reason an advisor being moved is not ready until its work in hand is done."""


class MoveAdvisors(
    msgspec.Struct, frozen=True, kw_only=True, tag="move", forbid_unknown_fields=True
):
    """Move ``count`` advisors from one channel to another from now on (those not taking the
    other channel yet first, then the ones logged in): each takes no more of its channel and
    takes the other as its first advisor does (capacity, skills, languages); one holding work
    finishes it first, taking no more."""

    count: Annotated[int, msgspec.Meta(ge=1, le=100)]
    from_channel: Channel
    to_channel: Channel


class CallIn(msgspec.Struct, frozen=True, kw_only=True, tag="call_in", forbid_unknown_fields=True):
    """One more advisor on ``channel`` from ``hour`` (local) to closing, with the profile of
    the channel's first advisor."""

    channel: Channel
    hour: Annotated[int, msgspec.Meta(ge=0, le=23)]


WhatIf = MoveAdvisors | CallIn


class SoFar(msgspec.Struct, frozen=True, kw_only=True):
    """One channel's day up to now, as the day's figures count it."""

    arrived: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    callbacks: int = 0
    callbacks_within: int = 0
    breaches: int = 0


class NowcastRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a nowcast is made from: the engine's image, the plan, the day so far."""

    image: bytes
    now: Instant
    scenario: Scenario
    teams: dict[str, str] = {}
    """Each advisor's team (``[simulation.teams]``), for a day without a schedule."""
    breach_eur: dict[Channel, float] = {}
    so_far: dict[Channel, SoFar] = {}
    replications: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    seed: int = 0
    what_ifs: tuple[WhatIf, ...] = ()


class Figure(msgspec.Struct, frozen=True, kw_only=True):
    """A figure over replications: its mean and 90 % interval (5th to 95th percentile)."""

    mean: float
    low: float
    high: float


class ChannelNowcast(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    service_level: Figure | None
    """Expected at closing, the day so far included; ``None`` with no outcome at all."""
    target_share: float
    breaches: Figure
    """By closing, the day so far included."""
    breaches_rest: Figure
    """From now to closing."""
    penalties_eur: Figure
    """The day's breaches times the channel's amount per breach."""
    backlog_peak_at: str | None
    """The half-hour edge (ISO, local) where the mean backlog peaks; ``None`` if it never
    waits."""
    backlog_peak: float


class Variant(msgspec.Struct, frozen=True, kw_only=True):
    what_if: str
    """``as is``, or the what-if in words."""
    channels: list[ChannelNowcast]
    breaches_rest: Figure
    """Every channel's breaches from now to closing."""
    penalties_eur: Figure
    """Every channel's penalties of the day."""


class Nowcast(msgspec.Struct, frozen=True, kw_only=True):
    at: str
    closing: str
    replications: int
    seed: int
    expected_by_now: dict[str, float]
    """Arrivals the plan expected from midnight to now, per channel."""
    arrived: dict[str, int]
    level: dict[str, float]
    """The mean factor applied to the plan for the rest of the day (1: as planned)."""
    variants: list[Variant]


def day_bounds_of(calendar: BusinessCalendar, now: Instant) -> tuple[Instant, Instant]:
    """The local midnight before ``now`` and the next one."""
    day = calendar.local_date(now)
    zone = calendar.zone
    start = from_datetime(datetime.combine(day, time(), zone))
    return start, from_datetime(datetime.combine(day + timedelta(days=1), time(), zone))


def describe(what_if: WhatIf) -> str:
    """The what-if in words, as the wall shows it."""
    if isinstance(what_if, MoveAdvisors):
        return f"move {what_if.count} from {what_if.from_channel} to {what_if.to_channel}"
    return f"one more on {what_if.channel} from {what_if.hour:02d}:00"


def nowcast(request: NowcastRequest) -> Nowcast:
    """Simulate the rest of the day from the image, as is and for each what-if."""
    # numpy (and the traffic, which draws with it) is imported by the functions that draw and
    # summarise, not by the module: the configuration reads ``WhatIf`` from here without numpy.
    import numpy as np

    from .nowcast_traffic import DayTraffic, level_factor

    base = Engine.from_image(request.image)
    state = base.state
    calendar = state.calendar
    now = max(request.now, base.now)
    start, end = day_bounds_of(calendar, now)
    traffic = DayTraffic.of(state.policies, request.scenario, start, end)
    seeds = np.random.SeedSequence(request.seed).spawn(request.replications)
    so_far = request.so_far
    expected = {c: traffic.expected(c, start, now) for c in traffic.channels}
    arrived = {c: so_far[c].arrived if c in so_far else 0 for c in traffic.channels}
    # Per replication: the level factors and the arrivals, shared by every variant.
    draws = []
    for seed in seeds:
        traffic_seed, people_seed = seed.spawn(2)
        generator = np.random.default_rng(traffic_seed)
        factors = {c: level_factor(arrived[c], expected[c], generator) for c in traffic.channels}
        draws.append((factors, traffic.draw(now, factors, generator), people_seed))
    variants: list[Variant] = []
    for what_if in (None, *request.what_ifs):
        runs = [
            _replicate(request, now, end, arrivals, people_seed, what_if)
            for _, arrivals, people_seed in draws
        ]
        variants.append(_variant(request, what_if, runs, now, calendar))
    return Nowcast(
        at=to_datetime(now, calendar.zone).isoformat(),
        closing=to_datetime(end, calendar.zone).isoformat(),
        replications=request.replications,
        seed=request.seed,
        expected_by_now={c: round(e, 1) for c, e in expected.items()},
        arrived={str(c): n for c, n in arrived.items()},
        level={c: round(float(np.mean([f[c] for f, _, _ in draws])), 3) for c in traffic.channels},
        variants=variants,
    )


def _replicate(
    request: NowcastRequest,
    now: Instant,
    end: Instant,
    arrivals: list[tuple[Instant, Submit]],
    people_seed: np.random.SeedSequence,
    what_if: WhatIf | None,
) -> dict[Channel, ChannelCount]:
    engine = Engine.from_image(request.image)
    scenario = request.scenario
    behaviour = Behaviour(
        handling=dict(scenario.handling),
        by_typology=dict(scenario.written_typologies),
        answer_delay_s=scenario.answer_delay_s,
        first_response_share=scenario.first_response_share,
        patience_s=scenario.patience_s,
        callbacks=scenario.callbacks,
    )
    tally = DayTally(engine, now, INTERVAL)
    mover = Mover(engine)
    rng = random.Random(int(people_seed.generate_state(1)[0]))
    simulation = Simulation(engine, rng, behaviour, observers=[tally, mover])
    mover.simulation = simulation
    simulation.run(now)  # the timers due between the image and now
    simulation.take_over()
    _staff(simulation, request, now, end)
    if what_if is not None:
        apply_what_if(simulation, mover, what_if, now)
    simulation.schedule_all(arrivals)
    simulation.run(end)
    tally.edges(end)
    return tally.channels


def _staff(simulation: Simulation, request: NowcastRequest, now: Instant, end: Instant) -> None:
    """Log advisors in and out for the rest of the day: today's schedule if one was set,
    else their teams' shifts; advisors in neither stay as they are."""
    state = simulation.engine.state
    calendar = state.calendar
    shifts = state.schedules.get(calendar.local_date(now).isoformat(), ())
    if shifts:
        by_advisor: dict[str, list[tuple[Instant, Instant, str]]] = {}
        for shift in shifts:
            by_advisor.setdefault(shift.advisor_id, []).append(
                (shift.start, shift.end, shift.activity)
            )
        for advisor_id, stretches in by_advisor.items():
            if advisor_id not in state.advisors:
                continue
            stretches.sort()
            for n, (begin, finish, activity) in enumerate(stretches):
                if activity != WORK or finish <= now:
                    continue
                if begin > now:
                    simulation.schedule(
                        begin, SetAdvisorState(advisor_id=advisor_id, state="available")
                    )
                following = stretches[n + 1] if n + 1 < len(stretches) else None
                reason = (
                    following[2]
                    if following is not None and following[0] == finish
                    else "end_of_shift"
                )
                simulation.schedule(
                    finish,
                    SetAdvisorState(advisor_id=advisor_id, state="not_ready", reason=reason),
                )
        return
    teams = request.scenario.teams
    for advisor_id, team in request.teams.items():
        if advisor_id in state.advisors and team in teams:
            simulation.staff(advisor_id, teams[team], now, end, calendar)


class Mover:
    """Moves the advisors of a ``MoveAdvisors`` once the work they hold is done (an observer
    of the simulation it is given)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.simulation: Simulation | None = None
        self.pending: dict[str, UpdateAdvisor] = {}

    def __call__(self, event: Event) -> None:
        advisor_id = getattr(event, "advisor_id", None)
        if advisor_id is None or advisor_id not in self.pending:
            return
        advisor = self.engine.state.advisors[advisor_id]
        if advisor.holding or advisor.state != "not_ready" or advisor.reason != MOVED:
            return
        assert self.simulation is not None
        self.simulation.schedule(event.at, self.pending.pop(advisor_id))
        self.simulation.schedule(
            event.at, SetAdvisorState(advisor_id=advisor_id, state="available")
        )


def _template(engine: Engine, channel: Channel) -> tuple[dict[str, int], tuple[str, ...], int]:
    """The skills, languages and capacity on ``channel`` of its first advisor by id."""
    for advisor_id in sorted(engine.state.advisors):
        advisor = engine.state.advisors[advisor_id]
        if advisor.capacity.get(channel, 0) > 0:
            return dict(advisor.skills), advisor.languages, advisor.capacity[channel]
    raise ValueError(f"no advisor takes {channel}: there is nobody to copy for a what-if")


def apply_what_if(simulation: Simulation, mover: Mover, what_if: WhatIf, now: Instant) -> None:
    """Schedule what a what-if changes from ``now``; ``mover`` observes the simulation's
    events, to move the advisors who held work once they are done with it."""
    engine = simulation.engine
    state = engine.state
    if isinstance(what_if, CallIn):
        skills, languages, capacity = _template(engine, what_if.channel)
        advisor_id = "nowcast-call-in"
        local = to_datetime(now, state.calendar.zone)
        at = from_datetime(local.replace(hour=what_if.hour, minute=0, second=0, microsecond=0))
        simulation.schedule(
            now,
            AddAdvisor(
                advisor_id=advisor_id,
                name="call-in",
                skills=skills,
                languages=languages,
                capacity={what_if.channel: capacity},
            ),
        )
        simulation.schedule(max(at, now), SetAdvisorState(advisor_id=advisor_id, state="available"))
        return
    skills, languages, capacity = _template(engine, what_if.to_channel)
    # Those who do not take the other channel yet first: each of them adds to it.
    candidates = sorted(
        (a for a in state.advisors.values() if a.capacity.get(what_if.from_channel, 0) > 0),
        key=lambda a: (a.capacity.get(what_if.to_channel, 0) > 0, a.state == "offline", a.id),
    )
    for advisor in candidates[: what_if.count]:
        kept = {c: n for c, n in advisor.capacity.items() if c != what_if.from_channel}
        kept[what_if.to_channel] = max(kept.get(what_if.to_channel, 0), capacity)
        update = UpdateAdvisor(
            advisor_id=advisor.id,
            skills={**skills, **{k: max(v, skills.get(k, 0)) for k, v in advisor.skills.items()}},
            languages=tuple(dict.fromkeys((*advisor.languages, *languages))),
            capacity=kept,
        )
        if not advisor.holding:
            simulation.schedule(now, update)
            continue
        mover.pending[advisor.id] = update
        simulation.schedule(
            now, SetAdvisorState(advisor_id=advisor.id, state="not_ready", reason=MOVED)
        )


def _variant(
    request: NowcastRequest,
    what_if: WhatIf | None,
    runs: list[dict[Channel, ChannelCount]],
    now: Instant,
    calendar: BusinessCalendar,
) -> Variant:
    policies = _policies_in(request)
    amounts = {c: request.breach_eur.get(c, p.penalty_eur) for c, p in policies.channels.items()}
    so_far = sum(request.so_far.get(c, SoFar()).breaches * amount for c, amount in amounts.items())
    return Variant(
        what_if="as is" if what_if is None else describe(what_if),
        channels=_summarise(request, runs, now, calendar),
        breaches_rest=_figure([float(sum(r.breaches for r in run.values())) for run in runs]),
        penalties_eur=_figure(
            [
                so_far + sum(run[c].breaches * amount for c, amount in amounts.items())
                for run in runs
            ]
        ),
    )


def _summarise(
    request: NowcastRequest,
    runs: list[dict[Channel, ChannelCount]],
    now: Instant,
    calendar: BusinessCalendar,
) -> list[ChannelNowcast]:
    import numpy as np

    policies = _policies_in(request)
    out = []
    for channel, policy in policies.channels.items():
        before = request.so_far.get(channel, SoFar())
        rest = [run[channel] for run in runs]
        breaches_rest = [float(r.breaches) for r in rest]
        breaches = [before.breaches + b for b in breaches_rest]
        amount = request.breach_eur.get(channel, policy.penalty_eur)
        levels = [level for level in (_day_level(before, r) for r in rest) if level is not None]
        backlog = np.mean([r.backlog for r in rest], axis=0) if rest[0].backlog else np.zeros(0)
        peak = int(np.argmax(backlog)) if backlog.size and backlog.max() > 0 else None
        out.append(
            ChannelNowcast(
                channel=channel,
                service_level=_figure(levels) if levels else None,
                target_share=policy.target_share,
                breaches=_figure(breaches),
                breaches_rest=_figure(breaches_rest),
                penalties_eur=_figure([b * amount for b in breaches]),
                backlog_peak_at=None
                if peak is None
                else to_datetime(
                    first_edge(now, INTERVAL) + peak * INTERVAL, calendar.zone
                ).isoformat(),
                backlog_peak=round(float(backlog[peak]), 1) if peak is not None else 0.0,
            )
        )
    return out


def _policies_in(request: NowcastRequest) -> Policies:
    """The policies in force in the request's image (read once per image)."""
    return _policies_of(request.image)


@functools.lru_cache(maxsize=2)
def _policies_of(image: bytes) -> Policies:
    return Engine.from_image(image).state.policies


def _day_level(before: SoFar, rest: ChannelCount) -> float | None:
    day = ChannelCount(
        answered=before.answered + rest.answered,
        within=before.within + rest.within,
        abandoned=before.abandoned + rest.abandoned,
        short_abandons=before.short_abandons + rest.short_abandons,
        callbacks=before.callbacks + rest.callbacks,
        callbacks_within=before.callbacks_within + rest.callbacks_within,
        late_open=rest.late_open,
    )
    return day.service_level()


def _figure(values: list[float]) -> Figure:
    import numpy as np

    low, high = np.quantile(values, [0.05, 0.95])
    return Figure(
        mean=round(float(np.mean(values)), 4), low=round(float(low), 4), high=round(float(high), 4)
    )
