"""The engine's timers: one heap of ``(due, sequence, kind, subject, mark)``.

Timers are derived state: the engine pushes them while it applies events, so replaying a journal
pushes the same timers again. A timer is never cancelled in place; when it comes due the engine
checks it against the state (is the offer still pending? is this still the deadline in force?)
and drops it silently when it no longer applies. ``mark`` carries what that check compares.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from enum import IntEnum
from typing import Final

from .instants import Instant

__all__ = [
    "FORGET",
    "OFFER_EXPIRY",
    "RELAXATION",
    "REOFFER",
    "SLA_BREACH",
    "SLA_WARNING",
    "WRAP_UP_END",
    "Timer",
    "TimerKind",
    "Timers",
]


class TimerKind(IntEnum):
    """What a timer does when it fires. Timers due together fire in the order they were set."""

    OFFER_EXPIRY = 0
    WRAP_UP_END = 1
    SLA_BREACH = 2
    SLA_WARNING = 3
    RELAXATION = 4
    REOFFER = 5
    FORGET = 6


# The kinds as plain ints, for the hot paths: reading an enum member costs an attribute lookup
# through the enum's machinery, and the timers hold (and compare) the plain values anyway.
OFFER_EXPIRY: Final = TimerKind.OFFER_EXPIRY.value
WRAP_UP_END: Final = TimerKind.WRAP_UP_END.value
SLA_BREACH: Final = TimerKind.SLA_BREACH.value
SLA_WARNING: Final = TimerKind.SLA_WARNING.value
RELAXATION: Final = TimerKind.RELAXATION.value
REOFFER: Final = TimerKind.REOFFER.value
FORGET: Final = TimerKind.FORGET.value

Timer = tuple[Instant, int, int, int | str, int]
"""``(due, sequence, kind, subject, mark)``; ``kind`` is a ``TimerKind`` value."""


class Timers:
    """A heap of timers, in due order, ties broken by the order they were set."""

    __slots__ = ("_heap", "_sequence")

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._sequence = 0

    def set(self, due: Instant, kind: int, subject: int | str, mark: int = 0) -> None:
        """Set a timer; ``kind`` is a ``TimerKind`` or its plain value (``OFFER_EXPIRY``...)."""
        sequence = self._sequence = self._sequence + 1
        # The kind is stored as a plain int: a tuple of plain ints and strings is one the
        # garbage collector stops tracking, and a heap holds hundreds of thousands of them.
        if type(kind) is not int:
            kind = int(kind)
        heapq.heappush(self._heap, (due, sequence, kind, subject, mark))

    @property
    def sequence(self) -> int:
        """How many timers were ever set: the next one is numbered one more."""
        return self._sequence

    @classmethod
    def restored(cls, entries: list[Timer], sequence: int) -> Timers:
        """Return timers as a snapshot kept them: the entries and the count of timers set."""
        timers = cls()
        timers._heap = list(entries)
        # Entries never tie (each has its own sequence), so a heap saved in heap order
        # comes back unchanged: restored timers fire exactly as the saved ones would have.
        heapq.heapify(timers._heap)
        timers._sequence = sequence
        return timers

    def peek(self) -> Timer | None:
        return self._heap[0] if self._heap else None

    @property
    def heap(self) -> list[Timer]:
        """The heap itself, in heap order (read it, never change it): ``heap[0]`` is next."""
        return self._heap

    def pop(self) -> Timer:
        return heapq.heappop(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def __iter__(self) -> Iterator[Timer]:
        """Iterate over every timer set, in no particular order."""
        return iter(self._heap)
