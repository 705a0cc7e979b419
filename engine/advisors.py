"""Advisors (*conseillers*): their profile, state and load, and what work they may take."""

from __future__ import annotations

import msgspec

from .commands import AdvisorState
from .instants import Instant
from .policies import CHANNELS, Channel, MixingPolicy
from .queues import Signature

__all__ = ["Advisor", "can_take", "is_eligible", "skill_score"]


class Advisor(msgspec.Struct, kw_only=True):
    """One advisor. ``load`` counts pending offers and held work per channel."""

    id: str
    name: str
    skills: dict[str, int]
    languages: tuple[str, ...]
    capacity: dict[Channel, int]
    state: AdvisorState = "offline"
    reason: str = ""
    wrap_until: Instant | None = None
    load: dict[Channel, int] = msgspec.field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    holding: dict[int, None] = {}
    """Ids of the interactions offered to or held by the advisor, in the order taken."""
    idle_since: Instant = 0
    missed: int = 0
    """Consecutive offers left to time out."""


def can_take(advisor: Advisor, channel: Channel, mixing: MixingPolicy) -> bool:
    """Return whether an advisor may be offered one more interaction of a channel now."""
    if advisor.state != "available":
        return False
    load = advisor.load
    if load[channel] >= advisor.capacity.get(channel, 0):
        return False
    total = len(advisor.holding)
    if total == 0:
        return True
    exclusive = mixing.exclusive
    if channel in exclusive or any(load[c] for c in exclusive):
        return False
    return mixing.max_concurrent is None or total < mixing.max_concurrent


def is_eligible(advisor: Advisor, signature: Signature) -> bool:
    """Return whether an advisor speaks the language and has every skill at the level needed."""
    language, needs = signature
    if language not in advisor.languages:
        return False
    skills = advisor.skills
    return all(skills.get(skill, 0) >= level for skill, level in needs)


def skill_score(advisor: Advisor, needs: dict[str, int]) -> float:
    """Return the advisor's summed levels on the skills needed (higher is a better match)."""
    skills = advisor.skills
    return float(sum(skills.get(skill, 0) for skill in needs))
