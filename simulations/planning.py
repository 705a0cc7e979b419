"""Staffing plans: how many advisors each channel needs per interval over a week.

- Voice: Erlang C (Erlang A when callers have a patience) at the channel's target, per interval,
  on the interval's arrival rate: the fewest advisors answering ``target_share`` of calls within
  the SLA time, raised to keep occupancy under ``max_occupancy``.
- Deadline channels (social, written): work may wait until its deadline, so an interval needs
  the lowest steady staffing that finishes, by each deadline ahead, everything due by then: the
  backlog carried from before plus what arrives. Each advisor is planned busy at most
  ``max_occupancy`` of the interval with one interaction at a time, because an advisor holding
  any interaction counts as busy (``simulate`` measures occupancy so): holding two complaints
  or three messages at once (``PLAN_CAPACITY``) is slack, not planned output.
- A channel whose deadline counts working days (written) is staffed only within its opening
  hours, and its work is paced over the open time left before each deadline: nobody is planned
  on written complaints at night or on a Sunday.

So each channel's occupancy, as ``simulate --plan`` measures it, stays under ``max_occupancy``
when the traffic is as forecast.

The plan counts advisors on the floor; ``scheduled`` turns that into advisors to schedule in one
interval, and ``hours_to_schedule`` floor-hours into paid hours, given the shrinkage (breaks,
training, absence). The plan is data; ``adapters/`` writes it as CSV, and
``simulate --plan`` runs it, on the floor, to check what it achieves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import MINUTE, SECOND, Instant
from aiguillage.engine.policies import Channel, ElapsedSla, Policies, WorkingDaysSla
from aiguillage.engine.sla import deadline

from .erlang import smallest_agents
from .scenario import Profile, Scenario
from .workload import Stream, hourly_rates

__all__ = [
    "PLAN_CAPACITY",
    "PlanRow",
    "handling_mean_s",
    "hours_to_schedule",
    "plan_week",
    "scheduled",
]

PLAN_CAPACITY: dict[Channel, int] = {"voice": 1, "written": 2, "social": 3}
"""Interactions a planned advisor holds at once, per channel: one call, two complaints, three
messages. Plans count generalists dedicated to one channel; ``simulate --plan`` staffs them so."""


@dataclass(frozen=True, slots=True)
class PlanRow:
    """Advisors needed on each channel during one interval from ``start``."""

    start: Instant
    needs: dict[Channel, int]


def plan_week(
    policies: Policies,
    scenario: Scenario,
    start: Instant,
    *,
    days: int = 7,
    max_occupancy: float = 0.85,
) -> list[PlanRow]:
    """Return the advisors needed on the floor per interval and channel, ``days`` from start."""
    if not 0 < max_occupancy <= 1:
        raise ValueError("max_occupancy is in (0, 1]")
    calendar = BusinessCalendar(policies.calendar)
    step = scenario.interval_minutes * MINUTE
    count = days * 24 * 60 // scenario.interval_minutes
    hours = -(-count * step // (60 * MINUTE))
    columns: dict[Channel, list[int]] = {}
    for channel, policy in policies.channels.items():
        rates = [0.0] * hours
        for source in policy.sources:
            volume = scenario.volumes.get(source, 0)
            if volume:
                open_at = (
                    (lambda at, h=policy.hours: calendar.is_open(at, h))
                    if policy.refuse_when_closed
                    else None
                )
                stream = Stream(
                    channel, source, volume, scenario.profiles.get(channel, Profile()), open_at
                )
                for hour, rate in enumerate(hourly_rates(stream, start, hours, calendar)):
                    rates[hour] += float(rate)
        per_interval = [
            rates[(i * step) // (60 * MINUTE)] * step / (60 * MINUTE) for i in range(count)
        ]
        aht = handling_mean_s(scenario, channel) + policy.wrap_up_s
        if isinstance(policy.sla, ElapsedSla) and channel == "voice":
            needed = [
                _erlang(arrivals, step, aht, policy.sla.seconds, policy.target_share, scenario,
                        max_occupancy)
                for arrivals in per_interval
            ]  # fmt: skip
        else:
            starts = [start + i * step for i in range(count)]
            due = [deadline(policy.sla, at + step // 2, calendar, policy.hours) for at in starts]
            workable = None
            if isinstance(policy.sla, WorkingDaysSla):
                workable = lambda at, h=policy.hours: calendar.is_open(at, h)  # noqa: E731
            needed = _deadline_staffing(
                per_interval,
                starts,
                due,
                step,
                aht,
                max_occupancy,
                workable,
            )
        columns[channel] = needed
    return [
        PlanRow(start=start + i * step, needs={c: column[i] for c, column in columns.items()})
        for i in range(count)
    ]


def scheduled(on_floor: int, shrinkage: float) -> int:
    """Return how many advisors to schedule so that ``on_floor`` are there after shrinkage."""
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage is in [0, 1)")
    return math.ceil(on_floor / (1 - shrinkage) - 1e-9) if on_floor else 0


def hours_to_schedule(floor_hours: float, shrinkage: float) -> float:
    """Return the paid advisor-hours that leave ``floor_hours`` on the floor after shrinkage.

    Shrinkage takes a share of paid time, not a whole advisor per interval: 24 floor-hours at
    30 % shrinkage are 24 / 0.7 = 34.3 hours to schedule.
    """
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage is in [0, 1)")
    return floor_hours / (1 - shrinkage)


def handling_mean_s(scenario: Scenario, channel: Channel) -> float:
    """Return the mean handling time of a channel, written complaints weighted by typology."""
    base = scenario.handling[channel]
    if channel != "written" or not scenario.written_typologies:
        return base.mean_s
    total = sum(scenario.typologies.values())
    if total <= 0:
        return base.mean_s
    return (
        sum(
            share * scenario.written_typologies.get(typology, base).mean_s
            for typology, share in scenario.typologies.items()
        )
        / total
    )


def _erlang(
    arrivals: float,
    step: Instant,
    aht_s: float,
    target_s: int,
    share: float,
    scenario: Scenario,
    max_occupancy: float,
) -> int:
    if arrivals <= 0:
        return 0
    rate_per_s = arrivals / (step / SECOND)
    staffed = smallest_agents(
        min(share, 0.999999),
        rate_per_s=rate_per_s,
        aht_s=aht_s,
        target_s=target_s,
        patience_s=scenario.patience_s,
    ).agents
    return max(staffed, math.ceil(rate_per_s * aht_s / max_occupancy))


def _deadline_staffing(
    arrivals: list[float],
    starts: list[Instant],
    due: list[Instant],
    step: Instant,
    aht_s: float,
    concurrency: float,
    workable: Callable[[Instant], bool] | None = None,
) -> list[int]:
    """Return, per interval, the fewest advisors meeting every deadline from there on.

    Work is counted in advisor-seconds. At each interval, for every deadline ahead, the work
    due by then (the backlog, and the forecast arrivals due by then) is divided by the time
    left until it (with ``workable``, only the intervals it accepts count, and the others get
    no one); the largest such rate is the steady staffing the interval needs. What that
    staffing cannot finish in the interval is carried as backlog, earliest deadline first.
    """
    seconds = step / SECOND
    work = [a * aht_s / concurrency for a in arrivals]
    # Open intervals from the first start, as far as the last deadline: prefix counts.
    last = max([*due, starts[-1] + step]) if starts else 0
    opened = [0]
    for k in range(-(-(last - starts[0]) // step) if starts else 0):
        is_open = workable is None or workable(starts[0] + k * step)
        opened.append(opened[-1] + is_open)

    def time_left(i: int, until: Instant) -> float:
        if workable is None:
            return (until - starts[i]) / SECOND
        return (opened[max(i, (until - starts[0]) // step)] - opened[i]) * seconds

    backlog: list[tuple[Instant, float]] = []  # (deadline, advisor-seconds), earliest first
    plan = []
    for i in range(len(starts)):
        backlog.append((due[i], work[i]))
        backlog.sort()
        ahead = sorted([*backlog, *((due[j], work[j]) for j in range(i + 1, len(starts)))])
        rate = 0.0
        cumulative = 0.0
        for deadline_at, amount in ahead:
            cumulative += amount
            rate = max(rate, cumulative / max(seconds, time_left(i, deadline_at)))
        staff = math.ceil(rate * (1 - 1e-9)) if opened[i + 1] > opened[i] else 0
        plan.append(staff)
        capacity = staff * seconds
        kept: list[tuple[Instant, float]] = []
        for deadline_at, amount in backlog:
            done = min(capacity, amount)
            capacity -= done
            if amount - done > 1e-9:
                kept.append((deadline_at, amount - done))
        backlog = kept
    return plan
