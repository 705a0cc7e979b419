"""Decisions about the roster and the policies: advisors joining, changing, logging in and out,
and the API tokens that let people and programs in.

Like every handler, each function reads the state, checks the command and returns the events
that follow without changing anything; it raises before returning when the command is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .advisors import Advisor
from .calendar import BusinessCalendar
from .commands import (
    AddAdvisor,
    MintToken,
    RemoveAdvisor,
    RevokeToken,
    SetAdvisorState,
    SetPolicies,
    UpdateAdvisor,
)
from .errors import IllegalTransition, InvalidCommand, Refused, UnknownAdvisor, UnknownToken
from .events import (
    AdvisorAdded,
    AdvisorRemoved,
    AdvisorStateChanged,
    AdvisorUpdated,
    Event,
    InteractionMoved,
    OfferRevoked,
    PoliciesSet,
    TokenMinted,
    TokenRevoked,
)
from .instants import Instant
from .policies import CHANNELS, Channel, Policies
from .routing import STRATEGIES
from .state import State
from .states import OPEN_STATUSES, advisor_may
from .tokens import LONGEST_LIFE, ROLES, is_digest

__all__ = ["ROSTER_HANDLERS", "check_profile", "revoke_offers"]


def _advisor(state: State, advisor_id: str) -> Advisor:
    advisor = state.advisors.get(advisor_id)
    if advisor is None:
        raise UnknownAdvisor(f"no advisor {advisor_id!r} in the roster")
    return advisor


def check_profile(
    policies: Policies,
    skills: dict[str, int] | None,
    languages: tuple[str, ...] | None,
    capacity: dict[Channel, int] | None,
) -> None:
    for skill, level in (skills or {}).items():
        if policies.skills and skill not in policies.skills:
            raise InvalidCommand(f"unknown skill {skill!r}; known: {', '.join(policies.skills)}")
        if not 1 <= level <= 5:
            raise InvalidCommand(f"skill {skill!r} has level {level}; levels go from 1 to 5")
    for language in languages or ():
        if language not in policies.languages:
            known = ", ".join(policies.languages)
            raise InvalidCommand(f"unknown language {language!r}; known: {known}")
    for channel, slots in (capacity or {}).items():
        if channel not in CHANNELS:
            raise InvalidCommand(f"unknown channel {channel!r} in capacity")
        if slots < 0:
            raise InvalidCommand(f"capacity for {channel} is {slots}; it cannot be negative")


def _set_policies(state: State, command: SetPolicies, now: Instant) -> list[Event]:
    policies = command.policies
    if policies.routing.strategy not in STRATEGIES:
        known = ", ".join(sorted(STRATEGIES))
        raise InvalidCommand(
            f"unknown routing strategy {policies.routing.strategy!r}; known: {known}"
        )
    if policies.default_language not in policies.languages:
        raise InvalidCommand(
            f"default language {policies.default_language!r} is not among {policies.languages}"
        )
    try:
        BusinessCalendar(policies.calendar)
    except ValueError as exc:
        raise InvalidCommand(str(exc)) from None
    if not policies.calendar.working_days:
        raise InvalidCommand("calendar.working_days is empty: written deadlines could never fall")
    for name, motive in policies.motives.items():
        if motive.skill not in policies.skills:
            raise InvalidCommand(f"motive {name!r} needs skill {motive.skill!r}, not defined")
    for name, skill in policies.skills.items():
        if skill.fallback is not None and skill.fallback not in policies.skills:
            raise InvalidCommand(f"skill {name!r} falls back on {skill.fallback!r}, not defined")
    in_use = {i.channel for i in state.interactions.values() if i.status in OPEN_STATUSES}
    dropped = sorted(in_use - set(policies.channels))
    if dropped:
        raise Refused(
            f"channel(s) {', '.join(dropped)} still have open interactions: keep them configured "
            "until that work is closed",
            reason="channel_in_use",
        )
    return [PoliciesSet(at=now, policies=policies, config_digest=command.config_digest)]


def _add_advisor(state: State, command: AddAdvisor, now: Instant) -> list[Event]:
    if command.advisor_id in state.advisors:
        raise Refused(f"advisor {command.advisor_id!r} is already in the roster", reason="exists")
    if command.advisor_id in state.retired_advisors:
        raise InvalidCommand(
            f"advisor id {command.advisor_id!r} belonged to an advisor who was removed, and an "
            "id is never given to someone else (its history and tokens stay its own): choose "
            "another id",
            reason="retired",
        )
    if not command.advisor_id:
        raise InvalidCommand("an advisor needs a non-empty id")
    languages = command.languages or (state.policies.default_language,)
    check_profile(state.policies, command.skills, languages, command.capacity)
    return [
        AdvisorAdded(
            at=now,
            advisor_id=command.advisor_id,
            name=command.name or command.advisor_id,
            skills=dict(command.skills),
            languages=languages,
            capacity=dict(command.capacity),
        )
    ]


def _update_advisor(state: State, command: UpdateAdvisor, now: Instant) -> list[Event]:
    advisor = _advisor(state, command.advisor_id)
    check_profile(state.policies, command.skills, command.languages, command.capacity)
    # A new capacity replaces the whole map: a channel left out gets none.
    capacity = advisor.capacity if command.capacity is None else command.capacity
    for channel in CHANNELS:
        slots = capacity.get(channel, 0)
        if slots < advisor.load[channel]:
            raise Refused(
                f"advisor {advisor.id!r} holds {advisor.load[channel]} {channel} interactions: "
                f"finish or transfer them before lowering its capacity to {slots}",
                reason="holds_work",
            )
    return [
        AdvisorUpdated(
            at=now,
            advisor_id=advisor.id,
            name=advisor.name if command.name is None else command.name,
            skills=dict(advisor.skills if command.skills is None else command.skills),
            languages=advisor.languages if command.languages is None else command.languages,
            capacity=dict(advisor.capacity if command.capacity is None else command.capacity),
        )
    ]


def _remove_advisor(state: State, command: RemoveAdvisor, now: Instant) -> list[Event]:
    advisor = _advisor(state, command.advisor_id)
    if advisor.state != "offline":
        raise IllegalTransition(f"advisor {advisor.id!r} is {advisor.state}: log it out first")
    events: list[Event] = [
        TokenRevoked(at=now, token_id=token.id, reason="advisor removed")
        for token in state.tokens.values()
        if token.advisor_id == advisor.id
    ]
    events.append(AdvisorRemoved(at=now, advisor_id=advisor.id))
    return events


def _mint_token(state: State, command: MintToken, now: Instant) -> list[Event]:
    if command.role not in ROLES:
        raise InvalidCommand(f"unknown role {command.role!r}; one of {', '.join(ROLES)}")
    if not is_digest(command.digest):
        raise InvalidCommand("a token is let in by the SHA-256 of its secret: 64 hex digits")
    advisor_id = command.advisor_id
    if (command.role == "advisor") != (advisor_id is not None):
        raise InvalidCommand(
            "an advisor token names its advisor, and only an advisor token does",
            reason="advisor_binding",
        )
    if advisor_id is not None and advisor_id not in state.advisors:
        if advisor_id in state.retired_advisors:
            raise InvalidCommand(
                f"advisor {advisor_id!r} was removed: its id is retired, and takes no token",
                reason="retired",
            )
        raise InvalidCommand(f"no advisor {advisor_id!r} in the roster", reason="unknown_advisor")
    if command.expires_at is not None and command.expires_at <= now:
        raise InvalidCommand("the token would expire before it is minted", reason="expired")
    if command.expires_at is not None and command.expires_at - now > LONGEST_LIFE:
        raise InvalidCommand(
            "a token expires within ten years of its minting, or never: give no expiry",
            reason="too_far",
        )
    if command.digest in state.tokens:
        raise Refused("this token is already let in", reason="token_exists")
    if command.digest in state.revoked_digests:
        raise Refused("this token was revoked, and is never let in again", reason="token_revoked")
    return [
        TokenMinted(
            at=now,
            token_id=state.next_token_id,
            digest=command.digest,
            role=command.role,
            advisor_id=advisor_id,
            expires_at=command.expires_at,
            label=command.label,
        )
    ]


def _revoke_token(state: State, command: RevokeToken, now: Instant) -> list[Event]:
    token_id = command.token_id
    if not any(token.id == token_id for token in state.tokens.values()):
        if 0 < token_id < state.next_token_id:
            raise Refused(f"token {token_id} is already revoked", reason="token_revoked")
        raise UnknownToken(f"no token {token_id}")
    return [TokenRevoked(at=now, token_id=token_id, reason="revoked")]


def revoke_offers(state: State, advisor: Advisor, reason: str, now: Instant) -> list[Event]:
    events: list[Event] = []
    for interaction_id in advisor.holding:
        interaction = state.interactions[interaction_id]
        if interaction.status == "offered" and interaction.offer_id is not None:
            events.append(
                OfferRevoked(
                    at=now,
                    offer_id=interaction.offer_id,
                    interaction_id=interaction_id,
                    advisor_id=advisor.id,
                    reason=reason,
                )
            )
    return events


def _set_advisor_state(state: State, command: SetAdvisorState, now: Instant) -> list[Event]:
    advisor = _advisor(state, command.advisor_id)
    target = command.state
    if target == "wrap_up":
        raise InvalidCommand("wrap_up is set by the engine when work is closed, not on request")
    if target == advisor.state and target != "not_ready":
        return []
    if not advisor_may(advisor.state, target):
        raise IllegalTransition(f"advisor {advisor.id!r} is {advisor.state}: it cannot go {target}")
    events: list[Event] = []
    held = [i for i in advisor.holding if state.interactions[i].status == "assigned"]
    if target in ("offline", "not_ready") and command.by:
        # Someone else takes the advisor away: its work goes back to its place in the queue.
        events += [_taken_back(state, i, command, now) for i in held]
    elif target == "offline" and held:
        raise Refused(
            f"advisor {advisor.id!r} still holds interactions {held}: "
            "close or transfer them before logging out",
            reason="holds_work",
        )
    if target in ("offline", "not_ready"):
        events += revoke_offers(state, advisor, f"advisor went {target}", now)
    events.append(
        AdvisorStateChanged(
            at=now, advisor_id=advisor.id, state=target, reason=command.reason, by=command.by
        )
    )
    return events


def _taken_back(
    state: State, interaction_id: int, command: SetAdvisorState, now: Instant
) -> InteractionMoved:
    """Return the move of held work back to its queue, its requirement kept, for an advisor
    someone else set ``not_ready`` or ``offline``."""
    interaction = state.interactions[interaction_id]
    return InteractionMoved(
        at=now,
        interaction_id=interaction_id,
        from_advisor=command.advisor_id,
        channel=interaction.channel,
        motive=interaction.motive,
        skills=interaction.skills,
        by=command.by,
        reason=command.reason,
    )


ROSTER_HANDLERS: dict[type[Any], Callable[[State, Any, Instant], list[Event]]] = {
    SetPolicies: _set_policies,
    AddAdvisor: _add_advisor,
    UpdateAdvisor: _update_advisor,
    RemoveAdvisor: _remove_advisor,
    MintToken: _mint_token,
    RevokeToken: _revoke_token,
    SetAdvisorState: _set_advisor_state,
}
