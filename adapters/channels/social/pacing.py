"""Back-off from a platform's rate limits, for every send of a channel at once.

When a platform says "too many calls" (HTTP 429; Meta's error codes 4, 17, 32, 613; X's 88),
every further call before the time it gives only counts against the app again. So the channel
holds all its sends until then: ``check`` raises ``SendFailed`` (the outbox retries the answer
later, as for any failure) without calling the platform. The wait is the platform's own when it
gives one (``Retry-After``, Meta's ``estimated_time_to_regain_access``), else one minute,
doubling at each limit met in a row up to an hour; a send that goes through resets it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiguillage.adapters.channels.outgoing import SendFailed

__all__ = ["Pacing"]

_FIRST_S = 60.0
_MOST_S = 3600.0


class Pacing:
    """One channel's hold on sending (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self._next_s = _FIRST_S
        self.reason = ""

    @property
    def holding(self) -> bool:
        return self._clock() < self._until

    def check(self) -> None:
        """Raise ``SendFailed`` while the platform's limit holds."""
        left = self._until - self._clock()
        if left > 0:
            raise SendFailed(f"rate_limited: {self.reason}; sending resumes in {left:.0f} s")

    def limited(self, reason: str, wait_s: float | None = None) -> SendFailed:
        """Hold every send for ``wait_s`` (the platform's), else the back-off; return the
        error to raise for the send that met the limit."""
        if wait_s is None or wait_s <= 0:
            wait_s = self._next_s
            self._next_s = min(self._next_s * 2, _MOST_S)
        wait_s = min(wait_s, _MOST_S)
        self._until = self._clock() + wait_s
        self.reason = reason
        return SendFailed(f"rate_limited: {reason}; sending resumes in {wait_s:.0f} s")

    def passed(self) -> None:
        """A send went through: the next limit starts the back-off again from its start."""
        self._next_s = _FIRST_S
