"""Advisors (*conseillers*): their profile, state and load, and what work they may take."""

from __future__ import annotations

import msgspec

from .commands import AdvisorState
from .instants import Instant
from .policies import CHANNELS, Channel, MixingPolicy
from .queues import Signature

__all__ = ["Advisor", "is_eligible", "open_channels", "skill_score"]


class Advisor(msgspec.Struct, kw_only=True, gc=False):
    """One advisor. ``load`` counts pending offers and held work per channel."""

    id: str
    name: str
    skills: dict[str, int]
    languages: tuple[str, ...]
    capacity: dict[Channel, int]
    state: AdvisorState = "offline"
    reason: str = ""
    state_since: Instant = 0
    """When it entered its state (the latest ``advisor.state_changed``): the screens show the
    time in state from it."""
    wrap_until: Instant | None = None
    load: dict[Channel, int] = msgspec.field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    holding: dict[int, None] = {}
    """Ids of the interactions offered to or held by the advisor, in the order taken."""
    idle_since: Instant = 0
    missed: int = 0
    """Consecutive offers left to time out."""


def open_channels(advisor: Advisor, mixing: MixingPolicy) -> tuple[Channel, ...]:
    """Return the channels in which an advisor may be offered one more interaction now.

    Only an available advisor takes work, each channel up to its capacity. Holding anything
    closes the exclusive channels (a call takes the whole advisor); holding exclusive work, or
    ``max_concurrent`` interactions in all, closes every channel.
    """
    if advisor.state != "available":
        return ()
    load = advisor.load
    capacity = advisor.capacity
    held = len(advisor.holding)
    if not held:
        return tuple([c for c in CHANNELS if load[c] < capacity.get(c, 0)])
    exclusive = mixing.exclusive
    for channel in exclusive:
        if load[channel]:
            return ()
    if mixing.max_concurrent is not None and held >= mixing.max_concurrent:
        return ()
    return tuple([c for c in CHANNELS if c not in exclusive and load[c] < capacity.get(c, 0)])


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
