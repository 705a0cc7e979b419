"""Instants: integer microseconds since the Unix epoch, UTC.

The core never reads a clock and never holds an aware or naive ``datetime`` in its state: every
instant is an ``int``, cheap to compare, hash and store. Local time appears only where the
contract is local (calendar arithmetic) and at the edges, through the conversions below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

__all__ = [
    "DAY",
    "HOUR",
    "MICROSECOND",
    "MINUTE",
    "SECOND",
    "Instant",
    "NaiveDatetimeError",
    "from_datetime",
    "from_seconds",
    "to_datetime",
    "to_seconds",
]

Instant = int
"""Microseconds since 1970-01-01T00:00:00Z."""

MICROSECOND: Final = 1
SECOND: Final = 1_000_000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


class NaiveDatetimeError(ValueError):
    """A datetime without a UTC offset was given where an instant is needed."""

    def __init__(self, value: datetime) -> None:
        super().__init__(
            f"{value.isoformat()} has no UTC offset; give one, for example "
            f"{value.isoformat()}+01:00 or {value.isoformat()}Z"
        )


def from_datetime(value: datetime) -> Instant:
    """Return the instant of an aware datetime; refuse a naive one."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(value)
    return (value - _EPOCH) // _ONE_MICROSECOND


def to_datetime(instant: Instant, zone: tzinfo = UTC) -> datetime:
    """Return the aware datetime of an instant, in the given zone (UTC by default)."""
    return (_EPOCH + timedelta(microseconds=instant)).astimezone(zone)


def from_seconds(seconds: float) -> Instant:
    """Return a duration or instant given in seconds, as microseconds."""
    return round(seconds * SECOND)


def to_seconds(instant: Instant) -> float:
    """Return microseconds as seconds."""
    return instant / SECOND
