"""Routing strategies: pure functions that rank advisors and work.

Two decisions are made, and a strategy names a function for each:

- an interaction that finds advisors waiting goes to the one with the highest
  ``advisor_score`` (ties: the longest idle, then the smallest id);
- an advisor freed while work waits takes, among the heads of the queues it may serve (the
  best head of each channel, by the queue's fixed order), the one with the highest
  ``work_score`` (ties: the earliest arrival, that is the smallest interaction id).

Strategies never touch the engine's state; the engine calls them and journals the winner's
score in the ``offer.made`` event, so a supervisor can read why a decision was made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .advisors import Advisor, skill_score
from .instants import Instant
from .interactions import Interaction
from .policies import ChannelPolicy

__all__ = [
    "STRATEGIES",
    "Strategy",
    "deadline_urgency",
    "longest_wait",
    "strategy_named",
]

AdvisorScore = Callable[[Advisor, dict[str, int], Instant], float]
WorkScore = Callable[[Interaction, ChannelPolicy, Instant], float]


@dataclass(frozen=True, slots=True)
class Strategy:
    """A named pair of ranking functions (higher scores win)."""

    name: str
    advisor_score: AdvisorScore
    work_score: WorkScore
    static_advisor_score: bool = True
    """The advisor score depends only on the advisor's profile and the need, not on ``now``
    nor the advisor's state, so the engine may rank a requirement's advisors once."""


def best_skill(advisor: Advisor, needs: dict[str, int], now: Instant) -> float:
    """Prefer the advisor with the best levels on the skills needed."""
    return skill_score(advisor, needs)


def deadline_urgency(interaction: Interaction, policy: ChannelPolicy, now: Instant) -> float:
    """Rank work by the share of its SLA time already spent, weighted by the breach penalty.

    A call at 150 s of its 180 s scores 0.83 times the voice penalty; a complaint two days into
    its three working days about 0.6 times the written penalty. Work already past its deadline
    keeps growing, so it is not starved. With no penalty configured the weight is 1.
    """
    span = interaction.deadline - interaction.received_at
    elapsed = (now - interaction.received_at) / span if span > 0 else 1.0
    weight = policy.penalty_eur if policy.penalty_eur > 0 else 1.0
    return weight * elapsed


def longest_wait(interaction: Interaction, policy: ChannelPolicy, now: Instant) -> float:
    """Rank work by how long it has waited since it was received: first come, first served."""
    return float(now - interaction.received_at)


STRATEGIES: dict[str, Strategy] = {
    "deadline": Strategy("deadline", best_skill, deadline_urgency),
    "fifo": Strategy("fifo", best_skill, longest_wait),
}


def strategy_named(name: str) -> Strategy:
    """Return a built-in strategy by name; raise ``KeyError`` listing the names otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(
            f"unknown strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}"
        ) from None
