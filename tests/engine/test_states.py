"""Tests of the transition tables of interactions and advisors."""

from __future__ import annotations

from typing import get_args

import pytest

from aiguillage.engine.commands import AdvisorState
from aiguillage.engine.states import (
    ADVISOR_TRANSITIONS,
    INTERACTION_TRANSITIONS,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    Action,
    InteractionStatus,
    advisor_may,
    interaction_next,
)

STATUSES: tuple[InteractionStatus, ...] = get_args(InteractionStatus)
ACTIONS: tuple[Action, ...] = get_args(Action)
ADVISOR_STATES: tuple[AdvisorState, ...] = get_args(AdvisorState)


def walk(status: InteractionStatus, actions: list[Action]) -> list[InteractionStatus]:
    """Return the statuses visited from ``status`` by the actions; fail on a missing entry."""
    visited = [status]
    for action in actions:
        following = interaction_next(visited[-1], action)
        assert following is not None, f"{visited[-1]} has no transition for {action}"
        visited.append(following)
    return visited


# -- interactions -------------------------------------------------------------------------------


def test_every_status_is_either_open_or_terminal() -> None:
    assert set(STATUSES) == OPEN_STATUSES | TERMINAL_STATUSES
    assert not OPEN_STATUSES & TERMINAL_STATUSES


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
def test_a_terminal_status_has_no_outgoing_transition(status: InteractionStatus) -> None:
    assert [a for a in ACTIONS if interaction_next(status, a) is not None] == []


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_an_open_status_has_a_way_out(status: InteractionStatus) -> None:
    assert any(interaction_next(status, a) is not None for a in ACTIONS)


def test_every_status_is_reachable_from_queued() -> None:
    reached = {"queued"}
    frontier = ["queued"]
    while frontier:
        source = frontier.pop()
        for (origin, _), target in INTERACTION_TRANSITIONS.items():
            if origin == source and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(STATUSES)


def test_every_action_appears_in_the_table() -> None:
    assert {action for _, action in INTERACTION_TRANSITIONS} == set(ACTIONS)


@pytest.mark.parametrize(
    ("actions", "statuses"),
    [
        (["offer", "accept", "close"], ["offered", "assigned", "closed"]),
        (["offer", "accept", "respond", "close"], ["offered", "assigned", "assigned", "closed"]),
        (["offer", "decline", "offer"], ["offered", "queued", "offered"]),
        (["offer", "expire", "offer"], ["offered", "queued", "offered"]),
        (["offer", "revoke", "offer"], ["offered", "queued", "offered"]),
        (["abandon"], ["abandoned"]),
        (["offer", "abandon"], ["offered", "abandoned"]),
        (["close"], ["closed"]),
        (["prioritise", "offer"], ["queued", "offered"]),
        (["offer", "accept", "move", "offer"], ["offered", "assigned", "queued", "offered"]),
        (["offer", "accept", "transfer", "offer"], ["offered", "assigned", "queued", "offered"]),
        (["offer", "accept", "transfer_out"], ["offered", "assigned", "transferred_out"]),
        (
            ["offer", "accept", "await_principal", "principal_answered", "offer"],
            ["offered", "assigned", "waiting_principal", "queued", "offered"],
        ),
        (
            ["offer", "accept", "await_principal", "close"],
            ["offered", "assigned", "waiting_principal", "closed"],
        ),
        (
            ["request_callback", "offer", "accept", "callback_missed", "offer", "accept", "close"],
            ["queued", "offered", "assigned", "queued", "offered", "assigned", "closed"],
        ),
        (
            ["request_callback", "offer", "accept", "callback_answered", "close"],
            ["queued", "offered", "assigned", "assigned", "closed"],
        ),
    ],
    ids=[
        "served",
        "answered-then-closed",
        "declined-then-offered-again",
        "expired-then-offered-again",
        "revoked-then-offered-again",
        "abandoned-in-queue",
        "abandoned-while-offered",
        "closed-in-queue",
        "prioritised-in-queue",
        "moved-from-its-holder",
        "transferred-back-to-a-queue",
        "transferred-out",
        "principal-answered",
        "closed-while-waiting-for-the-principal",
        "callback-missed-then-closed-at-the-last-attempt",
        "callback-answered",
    ],
)
def test_a_lifecycle_path_visits_the_statuses_the_table_gives(
    actions: list[Action], statuses: list[InteractionStatus]
) -> None:
    assert walk("queued", actions) == ["queued", *statuses]


@pytest.mark.parametrize(
    ("actions", "origin"),
    [
        (("offer",), {"queued"}),
        (("accept", "decline", "expire", "revoke"), {"offered"}),
        (("respond", "transfer", "transfer_out", "await_principal"), {"assigned"}),
        (("principal_answered",), {"waiting_principal"}),
        (("prioritise",), {"queued"}),
        (("move",), {"queued", "assigned"}),
    ],
    ids=["offer", "answer-an-offer", "held-work", "principal", "prioritise", "move"],
)
def test_an_action_starts_only_from_the_status_it_belongs_to(
    actions: tuple[Action, ...], origin: set[InteractionStatus]
) -> None:
    assert {s for (s, a) in INTERACTION_TRANSITIONS if a in actions} == origin


def test_work_picked_up_cannot_be_abandoned() -> None:
    assert interaction_next("assigned", "abandon") is None


def test_work_under_offer_cannot_be_closed() -> None:
    assert interaction_next("offered", "close") is None


# -- advisors -----------------------------------------------------------------------------------


def test_the_advisor_table_has_a_row_for_every_advisor_state() -> None:
    assert set(ADVISOR_TRANSITIONS) == set(ADVISOR_STATES)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("offline", "offline", False),
        ("offline", "available", True),
        ("offline", "not_ready", False),
        ("offline", "wrap_up", False),
        ("available", "offline", True),
        ("available", "available", False),
        ("available", "not_ready", True),
        ("available", "wrap_up", True),
        ("not_ready", "offline", True),
        ("not_ready", "available", True),
        ("not_ready", "not_ready", True),
        ("not_ready", "wrap_up", False),
        ("wrap_up", "offline", True),
        ("wrap_up", "available", True),
        ("wrap_up", "not_ready", True),
        ("wrap_up", "wrap_up", False),
    ],
)
def test_advisor_may_change_state_only_as_the_table_allows(
    current: AdvisorState, target: AdvisorState, allowed: bool
) -> None:
    assert advisor_may(current, target) is allowed


def test_wrap_up_is_entered_only_from_available() -> None:
    # The engine puts an available advisor in wrap-up after work; a request for wrap-up is
    # refused by the engine before it reads this table.
    assert {s for s, targets in ADVISOR_TRANSITIONS.items() if "wrap_up" in targets} == {
        "available"
    }


def test_an_advisor_logs_in_only_by_becoming_available() -> None:
    assert {s for s in ADVISOR_STATES if advisor_may("offline", s)} == {"available"}
