"""The parts of the quality records: an audit's picks and a mystery shopper's results.

Plain data, shared by the commands that bring them and the events that journal them; the rules
they follow (the score ranges, what a code may hold) are here too, for the engine and the edges.
"""

from __future__ import annotations

from typing import Final

import msgspec

from .policies import Channel

__all__ = [
    "CODE_CHARACTERS",
    "MAX_CODE",
    "MAX_PER_ADVISOR",
    "SATISFACTION_SCORES",
    "AuditPick",
    "MysteryResult",
    "is_code",
]

SATISFACTION_SCORES: Final = range(1, 6)
"""A customer rates an interaction 1 (worst) to 5 (best)."""
MAX_PER_ADVISOR: Final = 100
"""An audit draws at most this many interactions per advisor and channel."""
MAX_CODE: Final = 40
CODE_CHARACTERS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
)
"""A scenario or comment code is a short token, never free text: the journal cannot be erased,
so it must not hold a sentence that could name a person."""


def is_code(value: str) -> bool:
    """Return whether a string is a code: 1 to ``MAX_CODE`` letters, digits, ``_``, ``-``, ``.``."""
    return 0 < len(value) <= MAX_CODE and all(c in CODE_CHARACTERS for c in value)


class AuditPick(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One closed interaction drawn for an audit, with its channel and the advisor who closed it."""

    interaction_id: int
    channel: Channel
    advisor_id: str


class MysteryResult(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One mystery shopper's visit: its day (``YYYY-MM-DD``), channel, scenario code, scores
    per criterion, weighted score (0 to 100) and a comment code (no free text)."""

    day: str
    channel: Channel
    scenario: str
    scores: dict[str, int]
    weighted: float
    comment: str = ""
