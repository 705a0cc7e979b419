"""Decisions about a supervisor's hand on the queues: waiting work given another priority, work
sent back to its place in the queue (with another requirement, for a named advisor).

Like every handler, each function reads the state, checks the command and returns the events
that follow without changing anything. Offered work loses its offer first (``offer.revoked``),
so the steering event always finds it queued or held when it is applied. ``requirement`` and
``check_preferred`` are shared with the advisor's own transfer, which asks the same questions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .advisors import is_eligible
from .commands import Move, Prioritise
from .errors import IllegalTransition, InvalidCommand, UnknownAdvisor, UnknownInteraction
from .events import Event, InteractionMoved, InteractionReprioritised, OfferRevoked
from .instants import Instant
from .interactions import Interaction, signature_of
from .policies import Channel
from .roster import check_profile
from .state import State
from .states import Action, interaction_next

__all__ = ["STEERING_HANDLERS", "check_preferred", "requirement", "withdrawn"]


def requirement(
    state: State,
    interaction: Interaction,
    channel: Channel | None,
    motive: str | None,
    skills: dict[str, int] | None,
) -> tuple[Channel, str | None, dict[str, int]]:
    """Return the channel, motive and skills work needs once sent back to a queue.

    ``None`` keeps what it has; a new motive brings its own skill in place of the old
    requirement, and skills given beside it add to it (alone, they replace the requirement).
    """
    channel = channel or interaction.channel
    if channel not in state.policies.channels:
        configured = ", ".join(state.policies.channels) or "none yet"
        raise InvalidCommand(f"channel {channel!r} is not configured (configured: {configured})")
    needs = dict(interaction.skills)
    if motive is not None:
        policy = state.policies.motives.get(motive)
        if policy is None:
            known = ", ".join(state.policies.motives) or "none configured"
            raise InvalidCommand(f"unknown motive {motive!r}; known: {known}")
        needs = {policy.skill: policy.level}
    if skills is not None:
        check_profile(state.policies, skills, None, None)
        needs = dict(skills) if motive is None else {**needs, **skills}
    return channel, interaction.motive if motive is None else motive, needs


def check_preferred(
    state: State, advisor_id: str, interaction: Interaction, needs: dict[str, int]
) -> None:
    """Refuse to name an advisor who is unknown, holds the work already, or could never take
    it (a language or skill it lacks): it would be passed over in silence."""
    advisor = state.advisors.get(advisor_id)
    if advisor is None:
        raise UnknownAdvisor(f"no advisor {advisor_id!r} in the roster")
    if advisor_id == interaction.advisor_id:
        raise InvalidCommand(
            f"interaction {interaction.id} is already with {advisor_id!r}", reason="same_advisor"
        )
    if not is_eligible(advisor, signature_of(interaction.language, needs)):
        wanted = ", ".join(f"{skill} {level}" for skill, level in sorted(needs.items()))
        raise InvalidCommand(
            f"advisor {advisor_id!r} cannot take interaction {interaction.id}: it needs "
            f"language {interaction.language!r} and skills {{{wanted or 'none'}}}",
            reason="not_eligible",
        )


def _interaction(state: State, interaction_id: int) -> Interaction:
    interaction = state.interactions.get(interaction_id)
    if interaction is None:
        raise UnknownInteraction(f"no interaction {interaction_id}")
    return interaction


def _steered(interaction: Interaction, action: Action, what: str, by: str, reason: str) -> None:
    """Refuse steering without its author or reason, or of work in a status it cannot take."""
    if not by:
        raise InvalidCommand("by must name who steers the work (a token, a supervisor)")
    if not reason:
        raise InvalidCommand("reason must give why, as a code")
    status = "queued" if interaction.status == "offered" else interaction.status
    if interaction_next(status, action) is None:
        raise IllegalTransition(
            f"interaction {interaction.id} is {interaction.status}: it cannot be {what}"
        )


def withdrawn(interaction: Interaction, why: str, now: Instant) -> list[Event]:
    """Return the revocation of an interaction's pending offer, if it has one."""
    if interaction.status != "offered" or interaction.offer_id is None:
        return []
    assert interaction.advisor_id is not None
    return [
        OfferRevoked(
            at=now,
            offer_id=interaction.offer_id,
            interaction_id=interaction.id,
            advisor_id=interaction.advisor_id,
            reason=why,
        )
    ]


def _prioritise(state: State, command: Prioritise, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    what = "prioritised (only waiting or offered work is)"
    _steered(interaction, "prioritise", what, command.by, command.reason)
    if not 0 <= command.priority <= 9:
        raise InvalidCommand(f"priority {command.priority} is out of range: it goes from 0 to 9")
    return [
        *withdrawn(interaction, "interaction reprioritised", now),
        InteractionReprioritised(
            at=now,
            interaction_id=interaction.id,
            priority=command.priority,
            previous=interaction.priority,
            by=command.by,
            reason=command.reason,
        ),
    ]


def _move(state: State, command: Move, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    what = "moved (only waiting, offered or held work is)"
    _steered(interaction, "move", what, command.by, command.reason)
    channel, motive, needs = requirement(
        state, interaction, command.channel, command.motive, command.skills
    )
    if command.to_advisor is not None:
        check_preferred(state, command.to_advisor, interaction, needs)
    return [
        *withdrawn(interaction, "interaction moved", now),
        InteractionMoved(
            at=now,
            interaction_id=interaction.id,
            from_advisor=interaction.advisor_id,
            to_advisor=command.to_advisor,
            channel=channel,
            motive=motive,
            skills=needs,
            by=command.by,
            reason=command.reason,
            note_digest=command.note_digest,
        ),
    ]


STEERING_HANDLERS: dict[type[Any], Callable[[State, Any, Instant], list[Event]]] = {
    Prioritise: _prioritise,
    Move: _move,
}
