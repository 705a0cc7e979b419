"""Callbacks in the simulator: callers told a long wait take one, and the figures show it."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from aiguillage.engine.events import (
    CallbackAnswered,
    CallbackRequested,
    Event,
    InteractionAbandoned,
    InteractionClosed,
)
from aiguillage.simulations.outcome import ChannelSummary
from aiguillage.simulations.run import Deployment, simulate
from aiguillage.simulations.scenario import Callbacks

from .test_told import queue, voice


def busy(accept: float, *, reach: float = 0.8, target_s: int = 3600) -> Deployment:
    """Four advisors for 4 Erlangs of calls, callers who hang up after 5 minutes on average:
    many are told a wait past the 3 minutes."""
    deployment = queue(4, calls_per_hour=60, patience_s=300)
    policies = deployment.policies
    voice_policy = msgspec.structs.replace(policies.channels["voice"], callback_target_s=target_s)
    return dataclasses.replace(
        deployment,
        policies=msgspec.structs.replace(policies, channels={"voice": voice_policy}),
        scenario=msgspec.structs.replace(
            deployment.scenario, callbacks=Callbacks(accept=accept, reach=reach)
        ),
    )


def run(deployment: Deployment) -> tuple[ChannelSummary, list[Event]]:
    events: list[Event] = []
    return voice(simulate(deployment, observers=[events.append])), events


@pytest.fixture(scope="module")
def without() -> tuple[ChannelSummary, list[Event]]:
    return run(busy(0.0))


@pytest.fixture(scope="module")
def half() -> tuple[ChannelSummary, list[Event]]:
    return run(busy(0.5))


def test_callbacks_raise_the_voice_service_level_of_a_busy_queue(
    without: tuple[ChannelSummary, list[Event]], half: tuple[ChannelSummary, list[Event]]
) -> None:
    before, after = without[0], half[0]
    assert before.callbacks_requested == 0
    assert after.callbacks_requested > 100
    assert after.service_level > before.service_level + 0.01
    # Fewer callers hang up: those who took a callback wait no more.
    assert after.abandoned < before.abandoned
    assert before.offered == after.offered  # the same traffic


def test_the_callback_figures_add_up_and_follow_the_events(
    half: tuple[ChannelSummary, list[Event]],
) -> None:
    summary, events = half
    asked = {e.interaction_id for e in events if isinstance(e, CallbackRequested)}
    reached = {e.interaction_id for e in events if isinstance(e, CallbackAnswered)}
    unreached = {
        e.interaction_id
        for e in events
        if isinstance(e, InteractionClosed) and e.reason == "callback_unanswered"
    }
    assert summary.callbacks_requested == len(asked)
    assert summary.callbacks_reached == len(reached)
    assert summary.callbacks_unreached == len(unreached)
    assert summary.callbacks_requested == (
        summary.callbacks_reached + summary.callbacks_unreached + summary.callbacks_open
    )
    assert reached | unreached <= asked
    # Asked on arrival, before any wait: every call then counts within the SLA.
    assert summary.callbacks_requested_within_sla == summary.callbacks_requested
    # Nobody who asked to be called back hung up afterwards.
    assert not asked & {e.interaction_id for e in events if isinstance(e, InteractionAbandoned)}
    assert 0 < summary.callbacks_made_within_target <= summary.callbacks_requested
    assert 0.0 < summary.callback_service_level <= 1.0
    # About `reach` of the attempts reach the customer, and three attempts reach nearly all.
    assert summary.callbacks_reached > 0.9 * (
        summary.callbacks_reached + summary.callbacks_unreached
    )


def test_a_customer_never_reached_is_closed_after_the_last_attempt() -> None:
    summary, events = run(busy(0.5, reach=0.0))
    assert summary.callbacks_requested > 0
    assert summary.callbacks_reached == 0
    assert summary.callbacks_unreached > 0
    assert summary.callbacks_unreached + summary.callbacks_open == summary.callbacks_requested
    closed = [e for e in events if isinstance(e, InteractionClosed)]
    assert {e.reason for e in closed if e.interaction_id in _asked(events)} == {
        "callback_unanswered"
    }


def test_nobody_taking_a_callback_is_the_run_without_callbacks() -> None:
    offered_none = simulate(busy(0.0))
    without_any = simulate(busy(0.0, target_s=0))
    # The same draws, the same decisions: nothing of a run changes until a caller takes one.
    assert msgspec.json.encode(offered_none) == msgspec.json.encode(without_any)


def test_no_callback_is_offered_where_the_channel_offers_none() -> None:
    summary, events = run(busy(1.0, target_s=0))
    assert summary.callbacks_requested == 0
    assert _asked(events) == set()


def test_the_same_seed_gives_the_same_run_with_callbacks() -> None:
    assert msgspec.json.encode(simulate(busy(0.5))) == msgspec.json.encode(simulate(busy(0.5)))


def _asked(events: list[Event]) -> set[int]:
    return {e.interaction_id for e in events if isinstance(e, CallbackRequested)}
