"""The estimated wait of a queued interaction: what a caller waiting in line is told.

``estimated_wait_s(state, interaction_id, now, handling_s)`` reads the engine's state and
returns whole seconds, rounded up to ``ROUND_TO_S`` (a minute: announcements say "moins de
N minutes"), or ``None`` when no estimate can honestly be given. It is pure and cheap (one
pass over the roster and over the channel's queue), so a runtime may ask it at every arrival.

The method, for an interaction X waiting in channel C:

1. *Who serves it.* The advisors eligible for X's requirement as it stands (its signature:
   language and skills, ``advisors.is_eligible``), able to take C (capacity above 0), logged
   in and taking work (``available`` or ``wrap_up``; ``not_ready`` and ``offline`` advisors
   take none), and not kept from C by the work in hand: when C is exclusive (a call takes the
   whole advisor), an advisor holding work of another channel does not count, since it may be
   given more of that work before it frees up; when C is not exclusive, one holding exclusive
   work does not count. Their capacities in C add up to ``c`` places. Nobody: ``None``.
2. *Who goes first.* The interactions waiting in C ahead of X in queue order (priority,
   deadline, arrival: ``queues.queue_key``) that at least one of those advisors could take.
   Work ahead that none of them may take (another language, a skill none of them has) goes to
   other advisors and is not counted; work that some of them may take is counted whole, though
   other advisors may take part of it: a pessimistic count. That is ``k``.
3. *Places free now.* ``f`` of the ``c`` places are open to C at once (an advisor waiting for
   work; X waits only when each of them is kept from it, for example having declined it).
4. *The wait.* Each place serves an interaction in ``T`` on average: the mean handling time
   given for C (from the offer's acceptance to the close) plus the channel's wrap-up
   (``wrap_up_s``). ``n = k + 1 - f`` interactions (X included) must wait for a place to free
   up; none (``n <= 0``): the wait is 0. In the M/M/c queue (Poisson arrivals, exponential
   handling, first come first served) places free up at a rate ``c / T`` while all are busy,
   so X's wait is the sum of ``n`` exponential gaps of mean ``T / c``: a gamma (Erlang) law
   of mean ``n * T / c``. A caller hears "less than N minutes", a bound, so the estimate is
   not that mean but the wait four callers in five do not exceed: the law's 80 % quantile
   (``z``, Wilson and Hilferty's approximation, within 1 % of the exact quantile even for
   ``n = 1``). Measured on an M/M/c queue 87 % busy, the mean leaves one caller in five
   waiting more than a minute beyond the estimate; the 80 % quantile, fewer than one in ten.
   When callers' mean patience is given (``patience_s``; exponential, as in Erlang A), callers
   ahead may hang up before their turn: with ``j`` of them still ahead, the next step comes at
   rate ``c / T + j / patience``. The wait is then the sum of those exponential steps, fitted
   with the gamma law of the same mean and variance. Without it, nobody ahead hangs up.
5. *Relaxation.* A relaxation step still to come widens who may take X from when it applies
   (``relax_from`` plus its ``after_s``): steps 1 to 4 are worked out again with the relaxed
   requirement (``due.relaxed_need``), and X is taken by whichever comes first, the wait with
   its requirement now or, for each step, the later of the step's moment and the wait with
   the relaxed requirement. Without it, a call needing a rare skill is told the wait of its
   few experts, though the fallback takes it at the step's moment.
6. *Rounding.* Up to ``round_to_s`` (``ROUND_TO_S``, a minute).

What it leaves out, on purpose: the time already spent by the interactions in service (with
exponential handling it tells nothing; with less variable handling it would shorten the
first wait a little), work ahead shared with advisors who do not serve X (counted whole: the
estimate errs long), offers that time out, the time an advisor takes to pick up, and arrivals
of higher priority still to come (they lengthen it). The simulator measures what all this
costs: each queued call's estimate is compared with the wait that followed
(``simulations/told.py``). Callers ahead who hang up matter most under heavy traffic: on the
reference deployment at ten times its calls (a fifth of them abandoned), leaving them out made
the estimate off by 111 s on average (0.8 % of callers waited more than a minute beyond it);
with the patience learnt from the waits, by 82 s (1.0 %).

Handling times and patience are arguments, not state: the simulator and the daemon pass the
means of the last ones they saw (``RecentHandling``, ``RecentPatience``), seeded with the
configured ones; the snapshot format is untouched.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from .advisors import Advisor, is_eligible
from .due import relaxed_need
from .instants import SECOND, Instant
from .interactions import signature_of
from .policies import CHANNELS, Channel, MixingPolicy
from .queues import Signature
from .state import State

__all__ = [
    "RECENT",
    "RECENT_WAITS",
    "ROUND_TO_S",
    "Z_80",
    "RecentHandling",
    "RecentPatience",
    "estimated_wait_s",
    "gamma_quantile",
    "serving",
]

ROUND_TO_S = 60
"""Estimates are rounded up to whole minutes: a caller is told "less than N minutes"."""

RECENT = 50
"""Handling times kept per channel by ``RecentHandling``: the last fifty closes."""

RECENT_WAITS = 1000
"""Waits kept per channel by ``RecentPatience``: enough to hold some abandons."""

Z_80 = 0.8416212335729143
"""The standard normal quantile at 80 %: estimates are the wait four callers in five do not
exceed, under the method's assumptions (see the module)."""

_TAKING_WORK = frozenset({"available", "wrap_up"})


def serving(state: State, channel: Channel, signature: Signature) -> list[Advisor]:
    """Return the advisors who serve a requirement in a channel now (step 1 of the method)."""
    mixing = state.policies.routing.mixing
    return [
        advisor
        for advisor in state.advisors.values()
        if advisor.state in _TAKING_WORK
        and advisor.capacity.get(channel, 0) > 0
        and not _kept_away(advisor, channel, mixing)
        and is_eligible(advisor, signature)
    ]


def _kept_away(advisor: Advisor, channel: Channel, mixing: MixingPolicy) -> bool:
    """Whether the work an advisor holds keeps it from ``channel`` until it is all done."""
    load = advisor.load
    if channel in mixing.exclusive:
        return any(load[other] for other in CHANNELS if other != channel)
    return any(load[other] for other in mixing.exclusive if other != channel)


def _open_to(advisor: Advisor, channel: Channel, mixing: MixingPolicy) -> bool:
    """Whether an advisor may be offered one more interaction of ``channel`` now."""
    if advisor.state != "available" or advisor.load[channel] >= advisor.capacity.get(channel, 0):
        return False
    if channel in mixing.exclusive:
        return not advisor.holding
    if mixing.max_concurrent is not None and len(advisor.holding) >= mixing.max_concurrent:
        return False
    return not any(advisor.load[other] for other in mixing.exclusive)


def estimated_wait_s(
    state: State,
    interaction_id: int,
    now: Instant,
    handling_s: Mapping[Channel, float],
    *,
    round_to_s: int = ROUND_TO_S,
    z: float = Z_80,
    patience_s: Mapping[Channel, float] | None = None,
) -> int | None:
    """Return the estimated wait of an interaction in seconds, rounded up to ``round_to_s``.

    ``handling_s`` is the mean handling time per channel in seconds (acceptance to close,
    wrap-up excluded: the policies give it). ``0`` when the interaction is offered (it is
    ringing); ``None`` when it does not wait (unknown, answered, ended), when no advisor who
    may take it is logged in, or when no handling time is known for its channel. ``now`` is
    the instant of the question; the method reads only the state at it (see the module).
    ``z`` is the standard normal quantile of the share of callers who should wait less than
    they are told (``Z_80``; 1.2816 for 90 %, 0 for about the median). ``patience_s``: the
    callers' mean patience per channel in seconds, when known (step 4).
    """
    interaction = state.interactions.get(interaction_id)
    if interaction is None:
        return None
    if interaction.status == "offered":
        return 0
    if interaction.status != "queued":
        return None
    channel = interaction.channel
    handling = handling_s.get(channel)
    policy = state.policies.channels.get(channel)
    if handling is None or handling <= 0 or policy is None:
        return None
    cycle = handling + policy.wrap_up_s
    patience = patience_s.get(channel) if patience_s is not None else None
    best: float | None = None
    # The requirement in force, then each relaxation step still to come, from when it applies.
    steps = policy.relaxation
    current = interaction.relax_step
    for step in [current, *range(current + 1, len(steps) + 1)]:
        if step == current:
            signature, from_s = interaction.signature, 0.0
        else:
            need = relaxed_need(state, interaction, step)
            signature = signature_of(interaction.language, need)
            due = interaction.relax_from + steps[step - 1].after_s * SECOND
            from_s = max(0, due - now) / SECOND
        if best is not None and from_s >= best:
            continue  # the step comes after the wait already found
        wait = _wait(state, interaction_id, channel, signature, cycle, z, patience)
        if wait is not None and (best is None or max(from_s, wait) < best):
            best = max(from_s, wait)
    if best is None:
        return None
    step_s = max(1, round_to_s)
    return math.ceil(best / step_s - 1e-9) * step_s


def _wait(
    state: State,
    interaction_id: int,
    channel: Channel,
    signature: Signature,
    cycle: float,
    z: float,
    patience: float | None = None,
) -> float | None:
    """Return steps 1 to 4 of the method for one requirement, in seconds from now."""
    advisors = serving(state, channel, signature)
    places = sum(advisor.capacity.get(channel, 0) for advisor in advisors)
    if not places:
        return None
    mixing = state.policies.routing.mixing
    free = sum(
        advisor.capacity.get(channel, 0) - advisor.load[channel]
        for advisor in advisors
        if _open_to(advisor, channel, mixing)
    )
    starts = _ahead(state, interaction_id, channel, signature, advisors) + 1 - free
    if starts <= 0:
        return 0.0
    if patience is None or patience <= 0 or starts == 1:
        return gamma_quantile(starts, cycle / places, z)
    # Erlang A: with j callers still ahead, the next step comes at rate c / T + j / patience
    # (a place frees up, or one of them hangs up). The sum of those exponential steps is fitted
    # with the gamma law of the same mean and variance.
    rate = places / cycle
    mean = variance = 0.0
    for ahead in range(starts):
        step = 1 / (rate + ahead / patience)
        mean += step
        variance += step * step
    return gamma_quantile(mean * mean / variance, variance / mean, z)


def gamma_quantile(shape: float, scale: float, z: float) -> float:
    """Return the quantile of a gamma law (``shape`` exponential stages of mean ``scale``) at
    the standard normal quantile ``z``, by Wilson and Hilferty's cube-root approximation."""
    ninth = 1 / (9 * shape)
    return shape * scale * max(0.0, 1 - ninth + z * math.sqrt(ninth)) ** 3


def _ahead(
    state: State,
    interaction_id: int,
    channel: Channel,
    signature: Signature,
    advisors: list[Advisor],
) -> int:
    """Count the interactions waiting ahead that one of ``advisors`` could take (step 2)."""
    queues = state.queues
    if queues.waiting(channel) <= 1:
        return 0  # it waits alone: the common case, answered without a look at the heaps
    live = queues.live
    own = live.get(interaction_id)
    if own is None:
        return 0
    token, own_subqueue = own
    mine = next(
        (entry for entry in own_subqueue.heap if entry[4] == interaction_id and entry[3] == token),
        None,
    )
    if mine is None:
        return 0
    key = mine[:3]
    count = 0
    for other, subqueue in queues.subqueues(channel).items():
        ahead = 0
        for entry in subqueue.heap:
            if entry[:3] < key:
                current = live.get(entry[4])
                if current is not None and current[0] == entry[3]:
                    ahead += 1
        # Eligibility is looked at only where something waits ahead (most sub-queues are empty).
        if ahead and any(is_eligible(advisor, other) for advisor in advisors):
            count += ahead
    return count


class RecentHandling:
    """The mean of the last ``RECENT`` handling times per channel, seeded with expected means.

    Until a channel has a handling time of its own, its seed (the configured or scenario mean)
    stands for it; from the first one on, only the observed times count. Pure: its owner feeds
    it the durations it saw (``add``) and reads ``means()`` for ``estimated_wait_s``.
    """

    def __init__(self, seeds: Mapping[Channel, float], keep: int = RECENT) -> None:
        self._seeds = {channel: float(mean) for channel, mean in seeds.items() if mean > 0}
        self._times: dict[Channel, deque[float]] = {c: deque(maxlen=keep) for c in CHANNELS}
        self._means: dict[Channel, float] = dict(self._seeds)

    def add(self, channel: Channel, seconds: float) -> None:
        """Take one handling time (seconds) of a channel; the oldest beyond the last kept go."""
        times = self._times[channel]
        times.append(seconds)
        # Summed afresh (fifty numbers): no drift from adding and taking away over a year.
        self._means[channel] = sum(times) / len(times)

    def means(self) -> Mapping[Channel, float]:
        """Return the mean handling time per channel (seconds), seeds where none was seen."""
        return self._means

    def add_span(self, channel: Channel, start: Instant, end: Instant) -> None:
        """Take a handling time given by its start and end instants."""
        self.add(channel, max(0, end - start) / SECOND)


class RecentPatience:
    """Callers' mean patience per channel, from the last ``keep`` waits, seeded.

    The time waited by every caller, answered or not, over the number who hung up: the maximum
    likelihood estimate of an exponential patience when answers cut some waits short. Until a
    channel's last waits hold ``least`` abandons, its seed (the configured mean patience)
    stands for it, or nothing when it has none. Pure: its owner feeds it what it saw.
    """

    def __init__(
        self, seeds: Mapping[Channel, float], keep: int = RECENT_WAITS, least: int = 10
    ) -> None:
        self._seeds = {channel: float(mean) for channel, mean in seeds.items() if mean > 0}
        self._least = least
        self._waits: dict[Channel, deque[tuple[int, bool]]] = {
            c: deque(maxlen=keep) for c in CHANNELS
        }
        self._waited: dict[Channel, int] = dict.fromkeys(CHANNELS, 0)
        """Microseconds waited in the kept waits: integers, so adding and taking away is exact."""
        self._abandons: dict[Channel, int] = dict.fromkeys(CHANNELS, 0)
        self._means: dict[Channel, float] = dict(self._seeds)

    def add(self, channel: Channel, start: Instant, end: Instant, abandoned: bool) -> None:
        """Take one caller's wait, from ``start`` to an answer or, ``abandoned``, a hang-up."""
        waits = self._waits[channel]
        if len(waits) == waits.maxlen and waits:
            old, gone = waits[0]
            self._waited[channel] -= old
            self._abandons[channel] -= gone
        waited = max(0, end - start)
        waits.append((waited, abandoned))
        self._waited[channel] += waited
        self._abandons[channel] += abandoned
        abandons = self._abandons[channel]
        if abandons >= self._least:
            self._means[channel] = self._waited[channel] / abandons / SECOND
        elif channel in self._seeds:
            self._means[channel] = self._seeds[channel]
        else:
            self._means.pop(channel, None)

    def means(self) -> Mapping[Channel, float]:
        """Return the mean patience per channel (seconds); a channel without one is absent."""
        return self._means
