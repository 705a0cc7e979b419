"""Datetimes at the edges: parse ISO-8601 with an offset, print instants in local time.

Inside the core every instant is an integer (microseconds since the epoch, UTC). At the edges
(API, CLI, reports) every datetime carries a UTC offset: a naive one is refused, because guessing
the zone of a contractual timestamp is how penalty disputes start.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from aiguillage.engine.instants import Instant, NaiveDatetimeError, from_datetime, to_datetime

__all__ = ["DatetimeError", "format_instant", "parse_instant"]


class DatetimeError(ValueError):
    """A datetime given at an edge is not ISO-8601 with a UTC offset."""


def parse_instant(text: str) -> Instant:
    """Return the instant of an ISO-8601 datetime with an offset (``Z`` accepted)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DatetimeError(
            f"{text!r} is not an ISO-8601 datetime; write for example 2026-12-24T19:00:00+01:00"
        ) from None
    try:
        return from_datetime(value)
    except NaiveDatetimeError as exc:
        raise DatetimeError(str(exc)) from None


def format_instant(instant: Instant, zone: tzinfo) -> str:
    """Return an instant as ISO-8601 in a zone, with its offset (seconds, or µs when needed)."""
    moment = to_datetime(instant, zone)
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
