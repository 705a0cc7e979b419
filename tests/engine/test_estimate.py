"""The estimated wait of a queued call, on engine states built by hand (``engine/estimate.py``)."""

from __future__ import annotations

import math

import pytest

from aiguillage.engine.commands import Accept, SetAdvisorState, SetPolicies, Submit
from aiguillage.engine.engine import Engine
from aiguillage.engine.estimate import (
    Z_80,
    RecentHandling,
    RecentPatience,
    estimated_wait_s,
    gamma_quantile,
)
from aiguillage.engine.events import OfferMade
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.policies import RelaxationStep

from .conftest import TUESDAY_10H, add_advisor, make_policies

NOW = TUESDAY_10H
HANDLING = {"voice": 300.0}


def told(starts: int, cycle_s: float, places: int, step: int = 60) -> int:
    """What the method tells: the 80 % quantile of ``starts`` gaps of ``cycle_s / places``."""
    return math.ceil(gamma_quantile(starts, cycle_s / places, Z_80) / step) * step


def test_the_quantile_is_close_to_the_exact_erlang_one() -> None:
    for shape in (1, 2, 5, 20):
        # The exact 80 % quantile: P(Poisson(x) < shape) = 0.2, by bisection on x.
        low, high = 0.0, 10.0 * shape
        for _ in range(100):
            x = (low + high) / 2
            tail = sum(math.exp(-x) * x**i / math.factorial(i) for i in range(shape))
            low, high = (x, high) if tail > 0.2 else (low, x)
        assert gamma_quantile(shape, 1.0, Z_80) == pytest.approx(low, rel=0.01)
    assert gamma_quantile(3, 100.0, 0.0) == pytest.approx(267.4, rel=0.01)  # the median


def fresh(**policies: object) -> Engine:
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies(**policies)), NOW)  # type: ignore[arg-type]
    return engine


def call(engine: Engine, name: str, at: Instant = NOW, **given: object) -> int:
    """Submit a call; an advisor offered it picks it up at once. Return its id."""
    events = engine.handle(
        Submit(channel="voice", source="phone", external_id=name, **given),  # type: ignore[arg-type]
        at,
    )
    interaction_id = events[0].interaction_id  # type: ignore[attr-defined]
    for event in events:
        if isinstance(event, OfferMade):
            engine.handle(Accept(advisor_id=event.advisor_id, offer_id=event.offer_id), at)
    return interaction_id


def busy_advisors(engine: Engine, count: int, **profile: object) -> None:
    """Add ``count`` advisors who speak French, each then busy on a call."""
    for n in range(count):
        add_advisor(engine, f"busy{n}", NOW, capacity={"voice": 1}, **profile)  # type: ignore[arg-type]
        call(engine, f"held{n}")


def test_one_advisor_busy_one_call_waits_one_handling_time() -> None:
    engine = fresh()
    busy_advisors(engine, 1)
    waiting = call(engine, "c1")
    assert engine.state.interactions[waiting].status == "queued"
    assert estimated_wait_s(engine.state, waiting, NOW, HANDLING) == told(1, 300, 1) == 480
    # Each call ahead adds a handling time to wait for; wrap-up adds to each.
    second = call(engine, "c2")
    assert estimated_wait_s(engine.state, second, NOW, HANDLING) == told(2, 300, 1) == 900
    wrapped = fresh(wrap_up_s=30)
    busy_advisors(wrapped, 1)
    first = call(wrapped, "c1")
    assert (
        estimated_wait_s(wrapped.state, first, NOW, HANDLING) == told(1, 330, 1) == 540
    )  # 527.8 s


def test_several_advisors_share_the_queue() -> None:
    engine = fresh()
    busy_advisors(engine, 3)
    first, second = call(engine, "c1"), call(engine, "c2")
    # Places free up every 100 s on average (300 s / 3 advisors): one gap, then two.
    assert estimated_wait_s(engine.state, first, NOW, HANDLING) == told(1, 300, 3) == 180
    assert estimated_wait_s(engine.state, second, NOW, HANDLING) == told(2, 300, 3) == 300
    assert (
        estimated_wait_s(engine.state, second, NOW, HANDLING, round_to_s=45) == 315
    )  # 298.5 s, rounded up to 7 x 45 s
    exact = estimated_wait_s(engine.state, second, NOW, HANDLING, round_to_s=1)
    assert exact == math.ceil(gamma_quantile(2, 100.0, Z_80)) == 299  # 298.5 s
    # Longer handling, longer estimate: it is read from the argument, not from the state.
    assert estimated_wait_s(engine.state, second, NOW, {"voice": 600.0}) == told(2, 600, 3)
    # A lower quantile (about the median), a shorter estimate.
    assert estimated_wait_s(engine.state, second, NOW, HANDLING, z=0.0) == 180


def test_calls_ahead_that_its_advisors_cannot_take_do_not_count() -> None:
    engine = fresh()
    add_advisor(engine, "fr", NOW, languages=("fr",), capacity={"voice": 1})
    add_advisor(engine, "en", NOW, languages=("en",), capacity={"voice": 1})
    call(engine, "held-fr", language="fr")
    call(engine, "held-en", language="en")
    english = call(engine, "c-en", language="en")  # ahead, but only "en" may take it
    french = call(engine, "c-fr", language="fr")
    assert estimated_wait_s(engine.state, french, NOW, HANDLING) == told(1, 300, 1)
    assert estimated_wait_s(engine.state, english, NOW, HANDLING) == told(1, 300, 1)
    # A French call ahead is one the same advisor must take first: it counts.
    second_french = call(engine, "c-fr2", language="fr")
    assert estimated_wait_s(engine.state, second_french, NOW, HANDLING) == told(2, 300, 1)


def test_calls_ahead_that_some_of_its_advisors_may_take_count_whole() -> None:
    engine = fresh()
    add_advisor(engine, "both", NOW, languages=("fr", "en"), capacity={"voice": 1})
    add_advisor(engine, "fr", NOW, languages=("fr",), capacity={"voice": 1})
    call(engine, "held1")
    call(engine, "held2")
    call(engine, "c-en", language="en")  # only "both" may take it, who serves French too
    french = call(engine, "c-fr", language="fr")
    # Two places; the call ahead counted whole: two gaps of 150 s, not one.
    assert estimated_wait_s(engine.state, french, NOW, HANDLING) == told(2, 300, 2)
    assert told(2, 300, 2) > told(1, 300, 2)


def test_only_advisors_taking_work_serve_and_nobody_means_no_estimate() -> None:
    engine = fresh()
    busy_advisors(engine, 2)
    add_advisor(engine, "paused", NOW, capacity={"voice": 1})
    engine.handle(SetAdvisorState(advisor_id="paused", state="not_ready", reason="break"), NOW)
    add_advisor(engine, "away", NOW, capacity={"voice": 1}, available=False)  # offline
    waiting = call(engine, "c1")
    assert estimated_wait_s(engine.state, waiting, NOW, HANDLING) == told(1, 300, 2)  # not 4
    for n in range(2):
        engine.handle(
            SetAdvisorState(advisor_id=f"busy{n}", state="not_ready", reason="break"), NOW
        )
    assert estimated_wait_s(engine.state, waiting, NOW, HANDLING) is None


def test_an_advisor_holding_other_work_does_not_serve_an_exclusive_channel() -> None:
    engine = fresh()
    busy_advisors(engine, 1)
    add_advisor(engine, "digital", NOW, capacity={"voice": 1, "written": 2})
    engine.handle(Submit(channel="written", source="email", external_id="m1"), NOW)
    assert engine.state.advisors["digital"].load["written"] == 1
    waiting = call(engine, "c1")
    assert engine.state.interactions[waiting].status == "queued"
    assert estimated_wait_s(engine.state, waiting, NOW, HANDLING) == told(1, 300, 1)  # not 2


def test_a_relaxation_step_to_come_caps_the_wait() -> None:
    steps = (RelaxationStep(after_s=60, fallback=True),)
    engine = fresh(voice_relaxation=steps)
    busy_advisors(engine, 1, skills={"refunds": 3, "general": 3})
    add_advisor(engine, "generalist", NOW, capacity={"voice": 1})  # general only, idle
    waiting = call(engine, "c1", motive="refunds")
    assert engine.state.interactions[waiting].status == "queued"
    # Only the busy expert may take it now (minutes), but in 60 s anyone with "general" may,
    # and one is free: the relaxation comes first.
    assert estimated_wait_s(engine.state, waiting, NOW, HANDLING) == 60
    later = NOW + 20 * SECOND
    assert estimated_wait_s(engine.state, waiting, later, HANDLING, round_to_s=1) == 40
    # Without the step, the expert is the only one.
    strict = fresh()
    busy_advisors(strict, 1, skills={"refunds": 3, "general": 3})
    add_advisor(strict, "generalist", NOW, capacity={"voice": 1})
    alone = call(strict, "c1", motive="refunds")
    assert estimated_wait_s(strict.state, alone, NOW, HANDLING) == told(1, 300, 1)


def test_what_is_not_waiting_has_no_estimate() -> None:
    engine = fresh()
    busy_advisors(engine, 1)
    assert estimated_wait_s(engine.state, 999, NOW, HANDLING) is None
    assert estimated_wait_s(engine.state, 1, NOW, HANDLING) is None  # picked up already
    waiting = call(engine, "c1")
    assert estimated_wait_s(engine.state, waiting, NOW, {}) is None  # no handling time known
    add_advisor(engine, "late", NOW, capacity={"voice": 1})  # is offered the call at once
    assert engine.state.interactions[waiting].status == "offered"
    assert estimated_wait_s(engine.state, waiting, NOW, HANDLING) == 0


def test_recent_handling_starts_from_the_seed_then_keeps_the_last_ones() -> None:
    recent = RecentHandling({"voice": 300.0}, keep=3)
    assert recent.means()["voice"] == 300.0
    assert "written" not in recent.means()
    recent.add("voice", 100.0)
    assert recent.means()["voice"] == 100.0  # the seed stands in only until one is seen
    for seconds in (200.0, 300.0, 400.0):
        recent.add("voice", seconds)
    assert recent.means()["voice"] == pytest.approx(300.0)  # 200, 300, 400: the oldest went
    recent.add_span("written", NOW, NOW + 90 * SECOND)
    assert recent.means()["written"] == 90.0


def test_a_call_relaxed_beyond_the_steps_in_force_still_gets_its_estimate() -> None:
    steps = (RelaxationStep(after_s=60, level_drop=1),)
    engine = fresh(voice_relaxation=steps)
    busy_advisors(engine, 1, skills={"refunds": 3, "general": 3})
    waiting = call(engine, "c1", motive="refunds")
    later = NOW + 61 * SECOND
    engine.advance(later)
    assert engine.state.interactions[waiting].relax_step == 1
    # The relaxation steps are withdrawn: the call keeps its relaxed requirement.
    engine.handle(SetPolicies(policies=make_policies()), later)
    assert engine.state.interactions[waiting].status == "queued"
    assert estimated_wait_s(engine.state, waiting, later, HANDLING) == told(1, 300, 1)


def test_callers_ahead_who_may_hang_up_shorten_the_wait() -> None:
    engine = fresh()
    busy_advisors(engine, 1)
    first = call(engine, "c1")
    third = [call(engine, f"c{n}") for n in (2, 3)][-1]
    impatient = {"voice": 120.0}
    # Nobody ahead of the first: its patience changes nothing.
    assert estimated_wait_s(engine.state, first, NOW, HANDLING, patience_s=impatient) == told(
        1, 300, 1
    )
    patient = estimated_wait_s(engine.state, third, NOW, HANDLING, patience_s={"voice": 1e9})
    assert patient == told(3, 300, 1)
    shorter = estimated_wait_s(engine.state, third, NOW, HANDLING, patience_s=impatient)
    assert shorter is not None
    assert shorter < told(3, 300, 1)
    # Two steps ahead at rates 1/300 + 2/120 and 1/300 + 1/120, then one at 1/300: the mean.
    mean = 1 / (1 / 300 + 2 / 120) + 1 / (1 / 300 + 1 / 120) + 300
    median = estimated_wait_s(engine.state, third, NOW, HANDLING, patience_s=impatient, z=0.0)
    assert median is not None
    assert median == pytest.approx(mean, abs=60)


def test_recent_patience_is_waited_time_over_abandons_once_enough_hang_up() -> None:
    patience = RecentPatience({"voice": 300.0}, keep=4, least=2)
    assert patience.means() == {"voice": 300.0}
    patience.add("voice", NOW, NOW + 30 * SECOND, abandoned=True)
    assert patience.means()["voice"] == 300.0  # one abandon is not enough
    patience.add("voice", NOW, NOW + 90 * SECOND, abandoned=False)
    patience.add("voice", NOW, NOW + 60 * SECOND, abandoned=True)
    assert patience.means()["voice"] == pytest.approx(90.0)  # 180 s waited, 2 hung up
    patience.add("voice", NOW, NOW + 20 * SECOND, abandoned=False)
    patience.add("voice", NOW, NOW + 40 * SECOND, abandoned=False)  # the first one goes
    assert patience.means()["voice"] == 300.0  # one abandon left among the last four: the seed
    unseeded = RecentPatience({}, least=1)
    assert "written" not in unseeded.means()
    unseeded.add("written", NOW, NOW + 10 * SECOND, abandoned=True)
    assert unseeded.means()["written"] == pytest.approx(10.0)
