"""Erlang C and Erlang A: published figures, the birth-death chain, limits and invariants.

Every number pinned here was checked two independent ways before being written down: the
published ones against a 40-digit mpmath direct sum, the Erlang A ones against both the closed
forms of Mandelbaum & Zeltyn evaluated with mpmath's incomplete gamma and an exact solve of the
birth-death chain with the tagged caller's position process (scipy's matrix exponential). Those
scratch checks are not shipped (scipy and mpmath are no dependencies); the checks below that run
every time use only the standard library.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguillage.simulations.erlang import (
    MAX_AGENTS,
    Staffing,
    TargetUnreachable,
    UnstableQueue,
    erlang_b,
    erlang_c,
    smallest_agents,
    staffing,
)


# The callcentrehelper.com worked example ("Erlang C Formula - Made Simple With an Easy Worked
# Example"): 100 calls per half hour, AHT 180 s, 80 % answered within 20 s, 10 erlangs.
class Demand(TypedDict):
    rate_per_s: float
    aht_s: float
    target_s: float


HELPER: Demand = {"rate_per_s": 100 / 1800, "aht_s": 180.0, "target_s": 20.0}

# The Erlang C / Erlang A comparison of zinnov.com's "Introduction to Erlang" (after Mandelbaum &
# Zeltyn's 4CallCenters examples): 2,880 calls per hour, 1 min service, 2 min mean patience, 50
# agents. The page shows the figures only as charts, so those pinned below are computed, not
# transcribed.
PALM: Demand = {"rate_per_s": 48 / 60, "aht_s": 60.0, "target_s": 20.0}
PALM_PATIENCE_S = 120.0


# --- Erlang C: published figures ---------------------------------------------------------------


def test_the_worked_example_with_14_agents_matches_the_published_figures() -> None:
    # pyworkforce 0.1.0 README (PyPI) and R package ErlangC 0.1.0 README (CRAN) print, for this
    # example with 14 agents: waiting probability 0.1741319335950498, service level
    # 0.8883500191794669, occupancy 0.7142857142857143, ASA 7.83593701177724 s.
    figures = staffing(agents=14, **HELPER)
    assert figures.wait_probability == pytest.approx(0.1741319335950498, rel=1e-12)
    assert figures.service_level == pytest.approx(0.8883500191794669, rel=1e-12)
    assert figures.occupancy == pytest.approx(0.7142857142857143, rel=1e-12)
    assert figures.asa_s == pytest.approx(7.83593701177724, rel=1e-12)
    assert figures.abandon_rate is None


def test_the_worked_example_starts_at_11_agents_with_the_published_figures() -> None:
    # ErlangC 0.1.0 README (CRAN), the first row of calculate_agents' search: 0.6821182, 0.3896138.
    figures = staffing(agents=11, **HELPER)
    assert figures.wait_probability == pytest.approx(0.6821182, abs=5e-8)
    assert figures.service_level == pytest.approx(0.3896138, abs=5e-8)


def test_the_worked_example_needs_14_agents_for_80_percent_in_20_seconds() -> None:
    # Both READMEs: 14 raw agents. 13 agents answer only 79.56 % in time (0.7955947884177831 by
    # a 40-digit mpmath direct sum), just short of the target.
    assert smallest_agents(0.8, **HELPER).agents == 14
    assert staffing(agents=13, **HELPER).service_level == pytest.approx(0.7955947884177831)


def test_erlang_c_is_exact_against_the_direct_sum_in_rationals() -> None:
    # A = 10 erlangs is an integer, so the textbook formula is an exact fraction.
    def direct(load: int, agents: int) -> Fraction:
        top = Fraction(load**agents, math.factorial(agents)) * Fraction(agents, agents - load)
        below = sum(Fraction(load**k, math.factorial(k)) for k in range(agents))
        return top / (below + top)

    for agents in (11, 12, 13, 14, 20, 40):
        assert erlang_c(10.0, agents) == pytest.approx(float(direct(10, agents)), rel=1e-13)


def test_erlang_b_recursion_equals_the_loss_formula_in_rationals() -> None:
    for load, lines in ((2, 5), (10, 14), (5, 10), (1, 1), (30, 30)):
        exact = Fraction(load**lines, math.factorial(lines)) / sum(
            Fraction(load**k, math.factorial(k)) for k in range(lines + 1)
        )
        assert erlang_b(float(load), lines) == pytest.approx(float(exact), rel=1e-13)
    assert erlang_b(4.0, 0) == 1.0


def test_48_erlangs_on_55_agents() -> None:
    # The 360-calls-per-half-hour, 4-minute example of the Erlang-C tutorials; values by a 40-digit
    # mpmath direct sum (not transcribed from the page), 15 s target.
    figures = staffing(rate_per_s=360 / 1800, aht_s=240.0, agents=55, target_s=15.0)
    assert figures.wait_probability == pytest.approx(0.2387009363780092, rel=1e-12)
    assert figures.service_level == pytest.approx(0.8458830921705803, rel=1e-12)
    assert figures.asa_s == pytest.approx(8.184032104388887, rel=1e-12)


# --- Erlang C: stability -----------------------------------------------------------------------


def test_48_erlangs_need_49_agents_under_erlang_c() -> None:
    # zinnov.com on the Mandelbaum & Zeltyn example: "Erlang-C is stable only with 49 or more
    # agents, while Erlang-A is always stable".
    with pytest.raises(UnstableQueue):
        staffing(agents=48, **PALM)
    assert staffing(agents=49, **PALM).wait_probability < 1.0
    assert staffing(agents=10, patience_s=PALM_PATIENCE_S, **PALM).abandon_rate is not None


def test_an_unstable_queue_says_which_load_needs_more_agents() -> None:
    with pytest.raises(UnstableQueue, match="the load of 10 erlangs needs more than 10 agents"):
        erlang_c(10.0, 10)
    with pytest.raises(ValueError, match="at least 11"):
        erlang_c(10.5, 8)


def test_five_thousand_agents_at_95_percent_occupancy_stay_finite_and_exact() -> None:
    # 4,750 erlangs on 5,000 agents: 0.00017542437846294697 by mpmath (60 digits, log-space sum).
    figures = staffing(rate_per_s=4750 / 180, aht_s=180.0, agents=5000, target_s=20.0)
    assert figures.wait_probability == pytest.approx(0.00017542437846294697, rel=1e-12)
    assert figures.occupancy == pytest.approx(0.95)
    assert 0.0 <= figures.service_level <= 1.0
    assert math.isfinite(figures.asa_s)


# --- Erlang A ----------------------------------------------------------------------------------


def chain(
    rate_per_s: float, aht_s: float, patience_s: float, agents: int, target_s: float
) -> Staffing:
    """Solve the M/M/c+M birth-death chain numerically, with no closed form at all.

    The steady state is the chain's product form, cut where it is negligible. An arriving caller
    who finds ``j`` others queued starts at position ``j + 1`` of an absorbing pure-death chain:
    from position ``i`` it moves up at rate ``c/S + (i - 1)/P`` (answered from position 1) and
    hangs up at rate ``1/P``. Uniformization at rate ``Λ`` turns it into jumps:
    ``P(answered by T) = Σ_k Poisson(k; ΛT)·P(answered within k jumps)``, and
    ``E[wait; answered] = Σ_k (P(answered) - P(answered within k jumps)) / Λ``.
    """
    service, hang_up = agents / aht_s, 1.0 / patience_s
    weights = [1.0]
    while len(weights) <= agents or weights[-1] > 1e-18 * max(weights):
        n = len(weights)
        death = min(n, agents) / aht_s + max(n - agents, 0) * hang_up
        weights.append(weights[-1] * rate_per_s / death)
    total = math.fsum(weights)
    queued = [w / total for w in weights[agents:]]
    waits = math.fsum(queued)
    abandons = hang_up * math.fsum(j * p for j, p in enumerate(queued)) / rate_per_s

    positions = range(1, len(queued) + 1)
    uniform = service + len(queued) * hang_up
    up = {i: (service + (i - 1) * hang_up) / uniform for i in positions}
    stay = {i: 1.0 - (service + i * hang_up) / uniform for i in positions}
    eventually = [1.0]  # first-step analysis: answered from i = moves up, then from i - 1
    for i in positions:
        eventually.append(up[i] / (1.0 - stay[i]) * eventually[-1])
    within = [1.0] + [0.0] * len(queued)  # P(answered within k jumps), by position
    poisson = math.exp(-uniform * target_s)
    in_time = [poisson * p for p in within]
    late_area = [(e - p) / uniform for e, p in zip(eventually, within, strict=True)]
    k = 0
    while (
        k < 2 * uniform * target_s + 60
        or max(e - p for e, p in zip(eventually, within, strict=True)) > 1e-14
    ):
        within = [1.0] + [stay[i] * within[i] + up[i] * within[i - 1] for i in positions]
        k += 1
        poisson *= uniform * target_s / k
        for i, p in enumerate(within):
            in_time[i] += poisson * p
            late_area[i] += (eventually[i] - p) / uniform
    return Staffing(
        agents=agents,
        wait_probability=waits,
        service_level=1.0 - waits + math.fsum(p * in_time[j + 1] for j, p in enumerate(queued)),
        asa_s=math.fsum(p * late_area[j + 1] for j, p in enumerate(queued)) / (1.0 - abandons),
        occupancy=rate_per_s * aht_s * (1.0 - abandons) / agents,
        abandon_rate=abandons,
    )


ERLANG_A_CASES = [
    pytest.param(48 / 60, 60.0, 120.0, 50, 20.0, id="palm-example"),
    pytest.param(5.5 / 60, 60.0, 120.0, 5, 20.0, id="overloaded-5-agents"),
    pytest.param(100 / 1800, 180.0, 300.0, 12, 20.0, id="worked-example-with-patience"),
    pytest.param(2 / 60, 60.0, 10.0, 3, 20.0, id="patience-shorter-than-handling"),
    pytest.param(1 / 180, 180.0, 30.0, 1, 20.0, id="one-agent"),
    pytest.param(10 / 180, 180.0, 180.0, 8, 0.0, id="zero-target"),
]


@pytest.mark.parametrize(("rate", "aht", "patience", "agents", "target"), ERLANG_A_CASES)
def test_erlang_a_agrees_with_the_birth_death_chain(
    rate: float, aht: float, patience: float, agents: int, target: float
) -> None:
    closed = staffing(
        rate_per_s=rate, aht_s=aht, agents=agents, target_s=target, patience_s=patience
    )
    solved = chain(rate, aht, patience, agents, target)
    assert closed.abandon_rate is not None
    assert solved.abandon_rate is not None
    assert closed.wait_probability == pytest.approx(solved.wait_probability, rel=1e-12)
    assert closed.abandon_rate == pytest.approx(solved.abandon_rate, rel=1e-11)
    assert closed.service_level == pytest.approx(solved.service_level, rel=1e-11)
    assert closed.asa_s == pytest.approx(solved.asa_s, rel=1e-9)
    assert closed.occupancy == pytest.approx(solved.occupancy, rel=1e-12)


def test_the_palm_example() -> None:
    # Checked three ways: mpmath closed forms (40 digits), the chain with the tagged caller's
    # position process solved by scipy's expm, and (for the ASA) Zeltyn's P(W > t, answered)
    # integrated by mpmath at 30 digits. 3.1 % of the callers hang up.
    figures = staffing(agents=50, patience_s=PALM_PATIENCE_S, **PALM)
    assert figures.wait_probability == pytest.approx(0.46777406855379045, rel=1e-12)
    assert figures.abandon_rate == pytest.approx(0.030912249162193078, rel=1e-12)
    assert figures.service_level == pytest.approx(0.9430189547469812, rel=1e-12)
    assert figures.asa_s == pytest.approx(3.615900239553116, rel=1e-12)
    assert figures.occupancy == pytest.approx(0.9303242408042947, rel=1e-12)


def test_erlang_a_with_five_thousand_agents_stays_exact() -> None:
    # 4,750 erlangs on 5,000 agents, 10 min patience; mpmath chain at 60 digits agrees to 1e-18.
    figures = staffing(
        rate_per_s=4750 / 180, aht_s=180.0, agents=5000, target_s=20.0, patience_s=600.0
    )
    assert figures.wait_probability == pytest.approx(0.00017167580035402382, rel=1e-9)
    assert figures.abandon_rate == pytest.approx(1.973282008571065e-07, rel=1e-9)
    assert figures.service_level == pytest.approx(0.9999998026717991, rel=1e-12)


def test_a_heavily_overloaded_centre_abandons_its_excess_load() -> None:
    # 6,000 erlangs on 5,000 agents: the agents carry at most 5,000, a sixth of the calls hang up.
    for patience in (60.0, 600.0, 3600.0):
        figures = staffing(
            rate_per_s=6000 / 180, aht_s=180.0, agents=5000, target_s=20.0, patience_s=patience
        )
        assert figures.abandon_rate == pytest.approx(1 / 6, abs=1e-9)
        assert 0.0 <= figures.service_level <= 1.0 - 1 / 6 + 1e-9
        assert figures.occupancy <= 1.0
        assert figures.wait_probability <= 1.0


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    erlang_c_figures = staffing(agents=14, **HELPER)
    for patience, tolerance in ((1e6, 1e-3), (1e8, 1e-5)):
        figures = staffing(agents=14, patience_s=patience, **HELPER)
        assert figures.abandon_rate is not None
        assert figures.abandon_rate < tolerance
        for field in ("wait_probability", "service_level", "asa_s", "occupancy"):
            assert getattr(figures, field) == pytest.approx(
                getattr(erlang_c_figures, field), rel=tolerance
            )


@pytest.mark.parametrize(("load", "agents"), [(10.0, 8), (10.0, 14), (48.0, 50), (3.3, 1)])
def test_patience_equal_to_handling_time_gives_the_infinite_server_queue(
    load: float, agents: int
) -> None:
    # With θ = 1/S every call in the system leaves at rate 1/S, served or waiting, so the number
    # in the system is Poisson(a) as in M/M/∞: P(wait) = P(N ≥ c), P(abandon) = E[(N - c)+] / a.
    poisson = [math.exp(n * math.log(load) - load - math.lgamma(n + 1)) for n in range(400)]
    figures = staffing(
        rate_per_s=load / 100, aht_s=100.0, agents=agents, target_s=10.0, patience_s=100.0
    )
    assert figures.wait_probability == pytest.approx(math.fsum(poisson[agents:]), rel=1e-12)
    excess = math.fsum((n - agents) * p for n, p in enumerate(poisson) if n > agents)
    assert figures.abandon_rate == pytest.approx(excess / load, rel=1e-12)


def test_erlang_a_needs_no_stability() -> None:
    figures = staffing(rate_per_s=1.0, aht_s=600.0, agents=10, target_s=20.0, patience_s=60.0)
    assert figures.abandon_rate is not None
    assert 0.98 < figures.abandon_rate < 1.0
    assert figures.occupancy <= 1.0


# --- Smallest staffing -------------------------------------------------------------------------


SEARCHES = [
    pytest.param(0.8, HELPER, None, id="worked-example-erlang-c"),
    pytest.param(0.8, HELPER, 300.0, id="worked-example-erlang-a"),
    pytest.param(0.8, PALM, PALM_PATIENCE_S, id="palm"),
    pytest.param(0.9, {"rate_per_s": 4750 / 180, "aht_s": 180.0, "target_s": 20.0}, 600.0),
    pytest.param(0.95, {"rate_per_s": 4750 / 180, "aht_s": 180.0, "target_s": 20.0}, None),
    pytest.param(0.5, {"rate_per_s": 1 / 3600, "aht_s": 300.0, "target_s": 0.0}, 60.0),
]


@pytest.mark.parametrize(("target_sl", "demand", "patience"), SEARCHES)
def test_smallest_agents_reach_the_target_and_one_fewer_misses_it(
    target_sl: float, demand: Demand, patience: float | None
) -> None:
    found = smallest_agents(target_sl, patience_s=patience, **demand)
    assert found.service_level >= target_sl
    assert found == staffing(agents=found.agents, patience_s=patience, **demand)
    if found.agents > 1:
        try:
            fewer = staffing(agents=found.agents - 1, patience_s=patience, **demand)
        except UnstableQueue:
            return
        assert fewer.service_level < target_sl


def test_the_palm_example_needs_46_agents_with_abandonment_and_52_without() -> None:
    assert smallest_agents(0.8, patience_s=PALM_PATIENCE_S, **PALM).agents == 46
    assert smallest_agents(0.8, **PALM).agents == 52


def test_a_target_beyond_the_search_bound_is_unreachable() -> None:
    busy: Demand = {**HELPER, "rate_per_s": 1.0}
    with pytest.raises(TargetUnreachable, match="no staffing up to 50 agents"):
        smallest_agents(0.8, max_agents=50, **busy)
    with pytest.raises(TargetUnreachable, match="no staffing up to 50 agents"):
        smallest_agents(0.8, max_agents=50, patience_s=60.0, **busy)
    assert MAX_AGENTS == 100_000


@pytest.mark.parametrize("target_sl", [0.0, 1.0, 80.0, -0.1, math.nan])
def test_a_service_level_target_must_be_a_fraction(target_sl: float) -> None:
    with pytest.raises(ValueError, match="fraction between 0 and 1"):
        smallest_agents(target_sl, **HELPER)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rate_per_s": 0.0}, "arrival rate"),
        ({"aht_s": -1.0}, "handling time"),
        ({"target_s": math.inf}, "target answer time"),
        ({"patience_s": 0.0}, "patience"),
        ({"agents": 0}, "number of agents"),
    ],
)
def test_bad_inputs_are_refused_by_name(change: dict[str, float], message: str) -> None:
    arguments: dict[str, object] = {"agents": 14, "patience_s": None, **HELPER, **change}
    with pytest.raises(ValueError, match=message):
        staffing(**arguments)  # type: ignore[arg-type]


# --- Invariants --------------------------------------------------------------------------------

# Shares are exact to about 1e-11 in absolute terms here (measured against mpmath on 300 random
# inputs): in heavy overload the service level is the difference of two close numbers.
ROUNDING = 1e-9

demands = st.fixed_dictionaries(
    {
        "rate_per_s": st.floats(0.001, 5.0),
        "aht_s": st.floats(10.0, 900.0),
        "target_s": st.floats(0.0, 300.0),
        "patience_s": st.one_of(st.none(), st.floats(1.0, 3600.0)),
    }
)


def figures_or_none(agents: int, demand: dict[str, float | None]) -> Staffing | None:
    try:
        return staffing(agents=agents, **demand)  # type: ignore[arg-type]
    except UnstableQueue:
        return None


@settings(max_examples=150, deadline=None)
@given(demand=demands, agents=st.integers(1, 3000))
def test_every_share_is_a_probability_and_waits_are_finite(
    demand: dict[str, float | None], agents: int
) -> None:
    figures = figures_or_none(agents, demand)
    if figures is None:
        return
    for share in (figures.wait_probability, figures.service_level, figures.occupancy):
        assert 0.0 <= share <= 1.0
    assert 0.0 <= figures.asa_s < math.inf
    if figures.abandon_rate is not None:
        assert 0.0 <= figures.abandon_rate <= figures.wait_probability
        assert figures.service_level <= 1.0 - figures.abandon_rate + ROUNDING


@settings(max_examples=100, deadline=None)
@given(demand=demands, agents=st.integers(1, 2000))
def test_one_more_agent_never_lowers_the_service_level(
    demand: dict[str, float | None], agents: int
) -> None:
    fewer, more = figures_or_none(agents, demand), figures_or_none(agents + 1, demand)
    assert more is not None or fewer is None
    if fewer is not None and more is not None:
        assert more.service_level >= fewer.service_level - ROUNDING
        assert more.wait_probability <= fewer.wait_probability + ROUNDING


@settings(max_examples=100, deadline=None)
@given(demand=demands, agents=st.integers(1, 2000), extra_s=st.floats(0.1, 600.0))
def test_a_longer_target_time_never_lowers_the_service_level(
    demand: dict[str, float | None], agents: int, extra_s: float
) -> None:
    target_s = demand["target_s"]
    assert target_s is not None
    sooner = figures_or_none(agents, demand)
    later = figures_or_none(agents, {**demand, "target_s": target_s + extra_s})
    if sooner is not None and later is not None:
        assert later.service_level >= sooner.service_level - ROUNDING
