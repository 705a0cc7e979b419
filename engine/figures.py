"""The figures of a contact center, defined once: service level, speed of answer, abandonment,
occupancy and adherence.

The simulator's report and the wallboard's figures of the day (``adapters/daemon/today.py``)
compute their ratios here, and so must every report that shows them (the monthly ones), so
that a figure means the same wherever it is shown. Each function takes counts and durations
(seconds) that its caller has tallied, and returns a share between 0 and 1 (or seconds), or
``None`` when nothing is there to divide by: a quiet morning has no service level, not 100 %
nor 0 %; each caller says what it shows then.

A *short abandon* is work abandoned after waiting less than its channel's ``short_abandon_s``
(a caller who hung up within seconds, often a wrong number): it is counted apart, and left out
of the service level and of the abandonment rate. With ``short_abandon_s = 0`` (the default)
nothing is left out.

A *callback* is asked for by a waiting caller (``RequestCallback``): the call has its outcome
then, counted in the voice service level with the wait it had (within the target when it asked
before the target); the callback has its own target, measured apart (``callback_service_level``).
"""

from __future__ import annotations

__all__ = [
    "abandonment_rate",
    "adherence",
    "callback_service_level",
    "is_short_abandon",
    "mean_wait_s",
    "occupancy",
    "service_level",
]


def is_short_abandon(waited_s: float, short_abandon_s: float) -> bool:
    """Return whether an abandon after ``waited_s`` seconds of waiting is a short one.

    Short means strictly less than the channel's ``short_abandon_s``: with 5 s, a caller who
    hung up after 4.9 s is left out, one who hung up after 5 s counts. With 0, none is short.
    """
    return waited_s < short_abandon_s


def service_level(
    answered_within: int,
    answered: int,
    abandoned: int,
    short_abandons: int = 0,
    late_open: int = 0,
    callbacks_within: int = 0,
    callbacks: int = 0,
) -> float | None:
    """Service level: the share of work with a known outcome that was answered in time.

        (answered within the SLA + callbacks asked for within it)
        / (answered + callbacks asked for + abandoned - short abandons + late and still open)

    ``callbacks``: calls whose caller asked to be called back, an outcome of the call like an
    answer; ``callbacks_within`` of them asked no later than the SLA target (the callback
    itself is measured apart, ``callback_service_level``). A call that breached, then asked
    for a callback, counts once, as a callback not within the SLA.

    ``abandoned`` counts every abandon, the short ones included; ``short_abandons`` of them are
    left out. An abandon that was not short counts as missed. ``late_open``: work still
    waiting for its first answer whose deadline has passed (missed already, whatever comes).
    Work still waiting and in time has no outcome yet and is not counted, so a day looked at
    at noon does not count this morning's written complaints, due in three days, as missed.
    Work that breached and was answered later counts once, as answered (not within the SLA).
    ``None`` when no work has an outcome.
    """
    settled = answered + callbacks + abandoned - short_abandons + late_open
    return (answered_within + callbacks_within) / settled if settled > 0 else None


def callback_service_level(made_within: int, made: int, overdue: int = 0) -> float | None:
    """Callback service level: the share of callbacks with an outcome made within their target.

        first attempts started by the callback's deadline / (callbacks attempted + overdue)

    A callback is *made* when its first attempt starts (an advisor takes it, the customer is
    dialled), whether the customer answers or not: reaching the customer is counted apart.
    ``overdue``: callbacks never attempted whose deadline has passed (missed already). A
    callback still waiting in time has no outcome yet. ``None`` when none has one.
    """
    settled = made + overdue
    return made_within / settled if settled > 0 else None


def mean_wait_s(total_wait_s: float, answered: int) -> float | None:
    """Average speed of answer (ASA): the mean wait, in seconds, of the work answered.

        sum of waits from reception to first response / answered

    The wait ends at the first response (a call picked up, a first written answer; an
    acknowledgement of receipt does not count). Abandoned work has no answer and is not in it.
    ``None`` when nothing was answered.
    """
    return total_wait_s / answered if answered > 0 else None


def abandonment_rate(abandoned: int, arrived: int, short_abandons: int = 0) -> float | None:
    """Abandonment rate: the share of the work that arrived which was abandoned.

        (abandoned - short abandons) / (arrived - short abandons)

    Short abandons are left out of both sides, as if those callers had never queued.
    ``None`` when nothing arrived (besides short abandons).
    """
    counted = arrived - short_abandons
    return (abandoned - short_abandons) / counted if counted > 0 else None


def occupancy(busy_s: float, staffed_s: float) -> float | None:
    """Occupancy: the share of the advisors' staffed time spent on work.

        busy time / (busy time + available time waiting for work)

    ``staffed_s`` is the denominator: time logged in, either busy or available, the time paused
    (``not_ready``: a break, a meeting) with no work in hand left out. Busy is holding work
    (offered or in hand) or wrapping up after it. ``None`` when nobody was staffed.
    """
    return busy_s / staffed_s if staffed_s > 0 else None


def adherence(in_activity_s: float, scheduled_s: float) -> float | None:
    """Adherence: the share of the scheduled time spent in the scheduled activity.

        time in the activity the schedule says / time the schedule covers (so far)

    An advisor scheduled to ``work`` adheres while logged in and available, wrapping up or
    holding work; one scheduled for a pause (``break``, ``lunch``, ``training``…) adheres while
    paused (``not_ready``) with that reason. Time outside every scheduled stretch is not
    counted. ``None`` when no scheduled time has elapsed.
    """
    return in_activity_s / scheduled_s if scheduled_s > 0 else None
