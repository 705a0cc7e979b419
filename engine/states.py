"""The transitions of interactions and advisors, as tables.

An illegal transition is refused in one place: the engine asks ``interaction_next`` or
``advisor_may`` before it emits an event, and raises ``IllegalTransition`` when the table has
no entry. Reading these tables is reading the lifecycle.
"""

from __future__ import annotations

from typing import Final, Literal

from .commands import AdvisorState

__all__ = [
    "ADVISOR_TRANSITIONS",
    "INTERACTION_TRANSITIONS",
    "OPEN_STATUSES",
    "TERMINAL_STATUSES",
    "Action",
    "InteractionStatus",
    "advisor_may",
    "interaction_next",
]

InteractionStatus = Literal[
    "queued",  # waiting in its channel's queue
    "offered",  # reserved for one advisor, who may accept or decline
    "assigned",  # an advisor holds it
    "waiting_principal",  # waits for the principal's input; no advisor holds it
    "closed",
    "abandoned",  # the customer left before being served
    "transferred_out",  # handed to an external competent party
]

Action = Literal[
    "offer",
    "accept",
    "decline",
    "expire",
    "revoke",
    "respond",
    "transfer",
    "transfer_out",
    "await_principal",
    "principal_answered",
    "abandon",
    "close",
    "prioritise",  # a supervisor gives waiting work another priority
    "move",  # a supervisor sends work back to its place in the queue
    "request_callback",  # a waiting caller asks to be called back: the call ends, work waits
    "callback_answered",  # the customer called back answered
    "callback_missed",  # the customer called back did not answer: back in the queue for later
]

INTERACTION_TRANSITIONS: Final[dict[tuple[InteractionStatus, Action], InteractionStatus]] = {
    ("queued", "offer"): "offered",
    ("queued", "abandon"): "abandoned",
    ("queued", "close"): "closed",
    ("offered", "accept"): "assigned",
    ("offered", "decline"): "queued",
    ("offered", "expire"): "queued",
    ("offered", "revoke"): "queued",
    ("offered", "abandon"): "abandoned",
    ("assigned", "respond"): "assigned",
    ("assigned", "transfer"): "queued",
    ("assigned", "transfer_out"): "transferred_out",
    ("assigned", "await_principal"): "waiting_principal",
    ("assigned", "close"): "closed",
    ("waiting_principal", "principal_answered"): "queued",
    ("waiting_principal", "close"): "closed",
    # Offered work is prioritised or moved too: its offer is revoked first, then it is queued.
    ("queued", "prioritise"): "queued",
    ("queued", "move"): "queued",
    ("assigned", "move"): "queued",
    # Offered calls ask for a callback too: the offer is revoked first, as for a move.
    ("queued", "request_callback"): "queued",
    ("assigned", "callback_answered"): "assigned",
    ("assigned", "callback_missed"): "queued",
}

TERMINAL_STATUSES: Final[frozenset[InteractionStatus]] = frozenset(
    {"closed", "abandoned", "transferred_out"}
)
OPEN_STATUSES: Final[frozenset[InteractionStatus]] = frozenset(
    {"queued", "offered", "assigned", "waiting_principal"}
)


def interaction_next(status: InteractionStatus, action: Action) -> InteractionStatus | None:
    """Return the status an action leads to, or ``None`` when the action is not allowed."""
    return INTERACTION_TRANSITIONS.get((status, action))


# Which states an advisor may be put in from which. ``wrap_up`` is entered only by the engine
# after work is closed; leaving ``offline`` or entering it has extra conditions (holding no
# accepted work) that the engine checks beside this table.
ADVISOR_TRANSITIONS: Final[dict[AdvisorState, frozenset[AdvisorState]]] = {
    "offline": frozenset({"available"}),
    "available": frozenset({"not_ready", "offline", "wrap_up"}),
    "not_ready": frozenset({"available", "not_ready", "offline"}),
    "wrap_up": frozenset({"available", "not_ready", "offline"}),
}


def advisor_may(current: AdvisorState, target: AdvisorState) -> bool:
    """Return whether an advisor may go from one state to another."""
    return target in ADVISOR_TRANSITIONS[current]
