"""Erlang C and Erlang A: how many advisors a queue of calls needs.

Calls arrive as a Poisson process of ``λ`` per second; handling times are exponential with mean
``S`` seconds; ``c`` advisors answer in order of arrival. The offered load is ``a = λ·S`` erlangs.

Erlang C (M/M/c, callers never hang up; A. K. Erlang, 1917). With the Erlang B recursion
``B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1))`` (no factorials, stable for any ``c``), and for
``a < c``::

    P(wait) = C = c·B(c) / (c - a·(1 - B(c)))
    SL(T)   = 1 - C·exp(-(c - a)·T / S)          answered within T seconds
    ASA     = C·S / (c - a)                      mean wait, every call being answered
    occupancy = a / c

See Gans, Koole & Mandelbaum, "Telephone call centers: tutorial, review, and research prospects",
MSOM 5(2), 2003, section 4.1; Koole, "Call Center Optimization", 2013, chapter 5.

Erlang A (M/M/c+M, Palm's queue): each caller also hangs up after an exponential patience of mean
``P`` seconds, ``θ = 1/P``, if not answered by then. The number of calls in the system is a
birth-death chain (births ``λ``, deaths ``min(n, c)/S + max(n - c, 0)·θ``); it is stable for any
load. Relative to the state ``n = c``, the states with a free advisor weigh ``1/B(c) - 1`` and
the states with ``j`` callers queued weigh ``t_j = x^j / ((y+1)(y+2)...(y+j))`` with ``x = λ/θ``
and ``y = c/(S·θ)``; their sum is Kummer's series
``Σ_j t_j = M(1; y+1; x) = y·e^x·x^-y·lower_gamma(y, x)``, the function ``A(y, x)`` of
Garnett, Mandelbaum & Reiman, "Designing a call center with impatient customers", MSOM 4(3),
2002, and of Mandelbaum & Zeltyn, "The Palm/Erlang-A queue, with applications to call centers"
(Technion, 2005). By PASTA an arriving caller waits with probability
``P(wait) = A·B / (1 + (A - 1)·B)``.

A caller who finds ``j`` others queued would be answered after ``V``, a sum of exponential stages
of rates ``(c/S + kθ)``, ``k = 0..j`` (the callers ahead leave by being answered or hanging up);
``e^(-θV)`` then has the Beta(y, j+1) law, so the caller, answered only if ``V`` comes before
the patience, is answered with probability ``y/(y+j+1)`` after a mean wait, when answered, of
``Σ_{i=1..j+1} 1/(c/S + iθ)``. Mixing over ``j``::

    P(abandon)               = P(wait)·(1 - E[y/(y+j+1)])   (= P(wait)·(1/(rA) + 1 - 1/r), r = a/c)
    P(answered, wait > T)    = P(wait)·y/(y+1)·e^(-(y+1)θT + x(1 - e^(-θT)))·M(1; y+2; x·e^(-θT))
                               / M(1; y+1; x)            (Zeltyn's P{W > t, Sr}, same closed form)
    SL(T)                    = 1 - P(abandon) - P(answered, wait > T)
    ASA                      = mean wait of answered calls, including those answered at once
    occupancy                = a·(1 - P(abandon)) / c   (the carried load per advisor)

Kummer's series is summed term by term, starting from its largest term (found with ``lgamma``)
and walking both ways until what is left is below 1e-17 of the sum; the terms are positive, so
nothing cancels, and a few times ``√x`` terms suffice whatever the load. This sum *is* the
incomplete gamma function's series, so no continued fraction is needed.

The shares are over all calls offered: the service level counts abandoned calls as not answered
in time, so with abandonment it never exceeds ``1 - P(abandon)``. Enough advisors drive both the
abandonment and the wait to zero, so any target below 1 is reached with enough advisors, under
Erlang A as under Erlang C; ``smallest_agents`` only gives up past its search bound.

Accuracy: against 40-digit mpmath on random centres (up to 3,000 advisors, an hour's patience),
``P(wait)`` and ``P(abandon)`` are exact to 1e-12 and the service level to 2e-11 (absolute); the
service level is the least exact because in heavy overload it is the difference of two close
numbers. The error grows slowly with ``x``.

Cost: Erlang B is ``c`` steps; Kummer's series a few times ``√x`` terms past its largest one
(``x = λ·P``, the calls arriving during one mean patience), so a patience of an hour on
thousands of calls an hour stays in the milliseconds.

Exceptions::

    ValueError
     ├── UnstableQueue       Erlang C with at least one erlang of load per advisor
     └── TargetUnreachable   no staffing up to the search bound reaches the service level
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "MAX_AGENTS",
    "Staffing",
    "TargetUnreachable",
    "UnstableQueue",
    "erlang_b",
    "erlang_c",
    "smallest_agents",
    "staffing",
]

MAX_AGENTS = 100_000
"""How far ``smallest_agents`` looks before it gives up."""

_EPSILON = 1e-17
"""Where a sum of positive terms stops: what is left is below this share of it."""


class UnstableQueue(ValueError):
    """Erlang C with a load of at least one erlang per advisor: the queue grows without bound."""


class TargetUnreachable(ValueError):
    """No staffing within the search bound reaches the service level asked for."""


@dataclass(frozen=True, slots=True)
class Staffing:
    """What a queue looks like with a number of advisors, over all calls offered."""

    agents: int
    wait_probability: float
    """Share of calls that find every advisor busy."""
    service_level: float
    """Share of calls answered within the target time (abandoned calls count as missed)."""
    asa_s: float
    """Average speed of answer: mean wait of answered calls, in seconds."""
    occupancy: float
    """Share of the advisors' time spent handling calls."""
    abandon_rate: float | None = None
    """Share of calls that hang up before an answer; ``None`` under Erlang C."""


def erlang_b(load: float, agents: int) -> float:
    """Return the Erlang B blocking probability of ``load`` erlangs on ``agents`` lines."""
    _check_load(load)
    if agents < 0:
        raise ValueError(f"the number of agents must be zero or more, not {agents}")
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(load: float, agents: int) -> float:
    """Return the probability that a call waits (Erlang C) with ``load`` erlangs on ``agents``."""
    _check_agents(agents)
    _check_load(load)
    if load >= agents:
        raise UnstableQueue(
            f"the load of {load:.6g} erlangs needs more than {agents} agents "
            f"(at least {math.floor(load) + 1} to keep the queue from growing without bound)"
        )
    blocking = erlang_b(load, agents)
    return agents * blocking / (agents - load * (1.0 - blocking))


def staffing(
    *,
    rate_per_s: float,
    aht_s: float,
    agents: int,
    target_s: float,
    patience_s: float | None = None,
) -> Staffing:
    """Return the figures of a queue: Erlang C without patience, Erlang A with it."""
    _check_demand(rate_per_s, aht_s, target_s, patience_s)
    _check_agents(agents)
    if patience_s is None:
        return _erlang_c_staffing(rate_per_s, aht_s, agents, target_s)
    return _erlang_a_staffing(rate_per_s, aht_s, patience_s, agents, target_s)


def smallest_agents(
    target_sl: float,
    *,
    rate_per_s: float,
    aht_s: float,
    target_s: float,
    patience_s: float | None = None,
    max_agents: int = MAX_AGENTS,
) -> Staffing:
    """Return the figures of the fewest advisors answering ``target_sl`` of calls in time.

    ``target_sl`` is a fraction strictly between 0 and 1 (0.8 for 80 %). The service level grows
    with the number of advisors, so the search widens by doubling steps, then bisects; it never
    looks past ``max_agents`` and raises ``TargetUnreachable`` if even that is not enough.
    """
    if not (math.isfinite(target_sl) and 0.0 < target_sl < 1.0):
        raise ValueError(
            f"the service level to reach must be a fraction between 0 and 1 (0.8 for 80 %), "
            f"not {target_sl!r}"
        )
    _check_demand(rate_per_s, aht_s, target_s, patience_s)
    load = rate_per_s * aht_s

    def figures(agents: int) -> Staffing:
        return staffing(
            rate_per_s=rate_per_s,
            aht_s=aht_s,
            agents=agents,
            target_s=target_s,
            patience_s=patience_s,
        )

    def unreachable(best: Staffing | None) -> TargetUnreachable:
        reached = f" ({best.service_level:.4%} at most)" if best is not None else ""
        return TargetUnreachable(
            f"no staffing up to {max_agents:,} agents answers {target_sl:.2%} of calls within "
            f"{target_s:g} s{reached}; this search looks no further"
        )

    # Erlang C is defined only for a stable queue; abandonment makes any staffing stable.
    low = 1 if patience_s is not None else math.floor(load) + 1
    if low > max_agents:
        raise unreachable(None)
    at_low = figures(low)
    if at_low.service_level >= target_sl:
        return at_low
    step = max(1, math.isqrt(math.ceil(load)))
    while True:
        high = min(low + step, max_agents)
        at_high = figures(high)
        if at_high.service_level >= target_sl:
            break
        if high == max_agents:
            raise unreachable(at_high)
        low, step = high, 2 * step
    # Invariant: ``low`` misses the target and ``high`` reaches it.
    while high - low > 1:
        middle = (low + high) // 2
        at_middle = figures(middle)
        if at_middle.service_level >= target_sl:
            high, at_high = middle, at_middle
        else:
            low = middle
    return at_high


def _erlang_c_staffing(rate_per_s: float, aht_s: float, agents: int, target_s: float) -> Staffing:
    load = rate_per_s * aht_s
    waits = erlang_c(load, agents)
    spare = agents - load
    return Staffing(
        agents=agents,
        wait_probability=waits,
        service_level=1.0 - waits * math.exp(-spare * target_s / aht_s),
        asa_s=waits * aht_s / spare,
        occupancy=load / agents,
    )


def _erlang_a_staffing(
    rate_per_s: float, aht_s: float, patience_s: float, agents: int, target_s: float
) -> Staffing:
    load = rate_per_s * aht_s
    x = rate_per_s * patience_s
    y = agents * patience_s / aht_s
    blocking = erlang_b(load, agents)
    log_queued, answered_share, answered_wait = _queue_sums(y, x)
    # P(wait) = A·B / (1 + (A - 1)·B), written so that neither a huge A nor a tiny B overflows.
    if blocking > 0.0:
        waits = 1.0 / (1.0 + (1.0 - blocking) / blocking * math.exp(-log_queued))
    else:
        waits = 0.0
    abandons = waits * (1.0 - answered_share)
    # Callers who found a queue and are answered, but after the target.
    theta_t = target_s / patience_s
    log_late = (
        -(y + 1.0) * theta_t
        - x * math.expm1(-theta_t)
        + _queue_sums(y + 1.0, x * math.exp(-theta_t))[0]
        - log_queued
    )
    late = y / (y + 1.0) * math.exp(log_late)
    answered_in_time = max(0.0, answered_share - late)
    answered = 1.0 - abandons
    # The clamps only absorb rounding: in heavy overload the occupancy is 1 - 1e-16, say.
    return Staffing(
        agents=agents,
        wait_probability=waits,
        service_level=min(1.0, (1.0 - waits) + waits * answered_in_time),
        asa_s=waits * answered_wait * patience_s / answered if answered > 0.0 else 0.0,
        occupancy=min(1.0, load * answered / agents),
        abandon_rate=abandons,
    )


def _queue_sums(y: float, x: float) -> tuple[float, float, float]:
    """Sum Kummer's series ``Σ_j t_j``, ``t_j = x^j / ((y+1)...(y+j))``, from its largest term.

    Return its logarithm, and the means under the weights ``t_j`` of ``y/(y+j+1)`` (the chance
    of being answered) and of ``y/(y+j+1)·Σ_{i=1..j+1} 1/(y+i)`` (the wait when answered, in
    units of the mean patience).
    """
    if x == 0.0:
        return 0.0, y / (y + 1.0), y / (y + 1.0) ** 2
    peak = max(0, math.floor(x - y))
    log_peak = peak * math.log(x) - (math.lgamma(y + peak + 1.0) - math.lgamma(y + 1.0))
    harmonic_at_peak = _harmonic(y, peak + 1)
    total = answered = waited = 0.0
    # Upwards from the peak, the ratio t_{j+1}/t_j = x/(y+j+1) is below 1 and falls.
    term, harmonic, j = 1.0, harmonic_at_peak, peak
    while True:
        share = y / (y + j + 1.0)
        total += term
        answered += term * share
        waited += term * share * harmonic
        ratio = x / (y + j + 1.0)
        if term * ratio <= _EPSILON * total * (1.0 - ratio):
            break
        j += 1
        term *= ratio
        harmonic += 1.0 / (y + j + 1.0)
    # Downwards, the ratio t_{j-1}/t_j = (y+j)/x is at most 1 and falls too.
    term, harmonic, j = 1.0, harmonic_at_peak, peak
    while j > 0:
        ratio = (y + j) / x
        if ratio < 1.0 and term * ratio <= _EPSILON * total * (1.0 - ratio):
            break
        harmonic -= 1.0 / (y + j + 1.0)
        j -= 1
        term *= ratio
        share = y / (y + j + 1.0)
        total += term
        answered += term * share
        waited += term * share * harmonic
    return log_peak + math.log(total), answered / total, waited / total


def _harmonic(y: float, count: int) -> float:
    """Return ``Σ_{i=1..count} 1/(y+i)``: directly when short, else as ``ψ(y+count+1) - ψ(y+1)``.

    The digamma difference is taken from the asymptotic series once both arguments are at least
    10, with ``log1p`` for the logarithms so that close arguments do not cancel.
    """
    if count <= 64:
        return math.fsum(1.0 / (y + i) for i in range(1, count + 1))
    head = max(0, math.ceil(9.0 - y))  # the first terms, summed until y + head + 1 >= 10
    low, high = y + head + 1.0, y + count + 1.0
    return (
        math.fsum(1.0 / (y + i) for i in range(1, head + 1))
        + math.log1p((high - low) / low)
        - 0.5 / high
        + 0.5 / low
        - _digamma_tail(high)
        + _digamma_tail(low)
    )


def _digamma_tail(value: float) -> float:
    """Return ``log(value) - 1/(2·value) - ψ(value)`` by its asymptotic series (value >= 10)."""
    inverse_square = 1.0 / (value * value)
    return inverse_square * (
        1.0 / 12
        - inverse_square
        * (
            1.0 / 120
            - inverse_square * (1.0 / 252 - inverse_square * (1.0 / 240 - inverse_square / 132))
        )
    )


def _check_load(load: float) -> None:
    if not (math.isfinite(load) and load >= 0.0):
        raise ValueError(f"the load must be a finite number of erlangs, zero or more, not {load!r}")


def _check_agents(agents: int) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise ValueError(f"the number of agents must be a whole number, 1 or more, not {agents!r}")


def _check_demand(
    rate_per_s: float, aht_s: float, target_s: float, patience_s: float | None
) -> None:
    checks = [
        ("the arrival rate (calls per second)", rate_per_s, False),
        ("the average handling time (seconds)", aht_s, False),
        ("the target answer time (seconds)", target_s, True),
    ]
    if patience_s is not None:
        checks.append(("the mean patience (seconds)", patience_s, False))
    for what, value, zero_allowed in checks:
        if not math.isfinite(value) or value < 0.0 or (value == 0.0 and not zero_allowed):
            bound = "zero or more" if zero_allowed else "above zero"
            raise ValueError(f"{what} must be a finite number {bound}, not {value!r}")
