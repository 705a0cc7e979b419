"""The outcome of a simulation run, as plain data: what planners read and reports render.

Flat, frozen msgspec Structs, so a run encodes to JSON as it is (``aiguillage simulate --json``)
and the HTML report renders from the same values. Instants are ISO-8601 strings with their UTC
offset, in the deployment's time zone; durations are seconds; shares are fractions (0.8 = 80 %).
"""

from __future__ import annotations

import msgspec

from aiguillage.engine.policies import Channel

__all__ = ["ChannelSummary", "Estimate", "IntervalRow", "ReplicatedRun", "RunResult"]


class IntervalRow(msgspec.Struct, frozen=True, kw_only=True):
    """One channel over one interval (30 minutes by default)."""

    start: str
    arrivals: int
    answered: int
    answered_within_sla: int
    abandoned: int
    breaches: int
    waiting: int
    """Interactions waiting in the queue at the end of the interval (the backlog)."""
    mean_wait_s: float
    """Mean time to first response of those answered in the interval."""
    occupancy: float
    """Busy time on this channel (wrap-up included) over the staffed time (available or busy) of
    advisors able to serve it (``figures.occupancy``)."""
    short_abandons: int = 0
    """Of ``abandoned``, those that waited less than the channel's ``short_abandon_s``."""


class ChannelSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One channel over the whole run, against its contract target."""

    channel: Channel
    offered: int
    answered: int
    abandoned: int
    answered_within_sla: int
    still_open: int
    """Still waiting for a first response at the end, deadline not yet passed: no outcome."""
    service_level: float
    """Answered within the SLA over those with an outcome (abandons count as missed, short
    ones are left out): ``figures.service_level``."""
    target_share: float
    mean_wait_s: float
    p90_wait_s: float
    breaches: int
    penalties_eur: float
    occupancy: float
    short_abandons: int = 0
    """Of ``abandoned``, those that waited less than the channel's ``short_abandon_s``."""
    abandonment: float = 0.0
    """Abandoned over offered, short abandons left out of both: ``figures.abandonment_rate``."""
    estimated: int = 0
    """Callers who had to wait and were told an estimated wait (``engine.estimate``), with an
    outcome (answered or abandoned); 0 on channels whose customers are told none."""
    estimate_late_share: float = 0.0
    """Of ``estimated``, the share who waited more than 60 s beyond what they were told (the
    aim: at most 10 %)."""
    estimate_mae_s: float = 0.0
    """Mean absolute difference between the wait and the estimate, over the answered ones."""
    estimate_over_share: float = 0.0
    """Share of the answered ones told more than they waited (over-estimates)."""
    callbacks_requested: int = 0
    """Callers who asked to be called back: each call counts in ``service_level`` with the
    wait it had then (within the SLA when it asked before the target), not in the waits."""
    callbacks_requested_within_sla: int = 0
    """Of ``callbacks_requested``, those asked for no later than the SLA target."""
    callbacks_reached: int = 0
    """Callbacks that reached the customer (an attempt answered)."""
    callbacks_unreached: int = 0
    """Callbacks closed unanswered after their last attempt (``callback_unanswered``)."""
    callbacks_open: int = 0
    """Callbacks neither reached nor closed unanswered at the end: requested = reached +
    unreached + open."""
    callbacks_made_within_target: int = 0
    """Callbacks whose first attempt started by the callback's deadline."""
    callback_service_level: float = 1.0
    """``callbacks_made_within_target`` over the callbacks attempted or overdue
    (``figures.callback_service_level``); 1.0 when none has an outcome."""


class RunResult(msgspec.Struct, frozen=True, kw_only=True):
    """One simulated run of a deployment."""

    deployment: str
    start: str
    end: str
    timezone: str
    seed: int
    strategy: str
    interval_minutes: int
    channels: list[ChannelSummary]
    series: dict[str, list[IntervalRow]]
    """Per channel, one row per interval from start to end."""
    occupancy: float
    """Busy time over staffed time (available or busy), all advisors, all channels."""
    breaches_per_day: dict[str, dict[str, int]]
    """Per channel, breaches per local date (``YYYY-MM-DD``), days without any left out."""


class Estimate(msgspec.Struct, frozen=True, kw_only=True):
    """A figure over replications: mean, and a 95 % confidence interval for it."""

    mean: float
    low: float
    high: float


class ReplicatedRun(msgspec.Struct, frozen=True, kw_only=True):
    """Several runs of the same deployment with different seeds, and their estimates."""

    runs: list[RunResult]
    estimates: dict[str, dict[str, Estimate]]
    """Per channel, per figure (``service_level``, ``mean_wait_s``, ``breaches``, …)."""
