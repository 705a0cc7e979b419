"""Decisions: what each command and each timer means, as a list of events.

Every function here reads the state, checks the command against the policies and the state,
and returns the events that follow, without changing anything: the engine applies them. A
function raises before returning anything, so a refused command leaves no trace. Routing
(who gets which work) is decided separately, in ``engine.py``, once the events are applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import sla
from .advisors import Advisor
from .commands import (
    Abandon,
    Accept,
    AddAdvisor,
    AwaitPrincipal,
    Close,
    Decline,
    PrincipalAnswered,
    RecordResponse,
    RemoveAdvisor,
    SetAdvisorState,
    SetPolicies,
    Submit,
    Transfer,
    TransferOut,
    UpdateAdvisor,
)
from .errors import (
    ChannelClosed,
    IllegalTransition,
    InvalidCommand,
    NotYourWork,
    Refused,
    UnknownAdvisor,
    UnknownInteraction,
    UnknownOffer,
)
from .events import (
    AdvisorAdded,
    AdvisorRemoved,
    AdvisorStateChanged,
    AdvisorUpdated,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionRelaxed,
    InteractionResponded,
    InteractionTransferred,
    InteractionTransferredOut,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferRevoked,
    PoliciesSet,
    SlaBreached,
    SlaWarning,
)
from .events import PrincipalAnswered as PrincipalAnsweredEvent
from .events import PrincipalAwaited as PrincipalAwaitedEvent
from .instants import SECOND, Instant, to_datetime
from .interactions import Interaction, Offer
from .policies import CHANNELS, Channel, ChannelPolicy, Policies
from .routing import STRATEGIES
from .state import State
from .states import OPEN_STATUSES, Action, advisor_may, interaction_next
from .timers import Timer, TimerKind

__all__ = ["COMMAND_HANDLERS", "fire_timer", "relaxed_need", "timer_applies"]

Handler = Callable[[State, Any, Instant], list[Event]]


# -- lookups that explain themselves ----------------------------------------------------------


def _advisor(state: State, advisor_id: str) -> Advisor:
    advisor = state.advisors.get(advisor_id)
    if advisor is None:
        raise UnknownAdvisor(f"no advisor {advisor_id!r} in the roster")
    return advisor


def _interaction(state: State, interaction_id: int) -> Interaction:
    interaction = state.interactions.get(interaction_id)
    if interaction is None:
        raise UnknownInteraction(f"no interaction {interaction_id}")
    return interaction


def _channel(state: State, channel: str) -> ChannelPolicy:
    policy = state.policies.channels.get(channel)  # type: ignore[call-overload]
    if policy is None:
        configured = ", ".join(state.policies.channels) or "none yet"
        raise InvalidCommand(f"channel {channel!r} is not configured (configured: {configured})")
    return policy  # type: ignore[no-any-return]


def _transition(interaction: Interaction, action: Action) -> None:
    if interaction_next(interaction.status, action) is None:
        raise IllegalTransition(
            f"interaction {interaction.id} is {interaction.status}: it cannot be {_PAST[action]}"
        )


_PAST: dict[Action, str] = {
    "offer": "offered",
    "accept": "accepted",
    "decline": "declined",
    "expire": "expired",
    "revoke": "revoked",
    "respond": "answered (it must be held by an advisor)",
    "transfer": "transferred (it must be held by an advisor)",
    "transfer_out": "transferred out (it must be held by an advisor)",
    "await_principal": "put on hold for the principal (it must be held by an advisor)",
    "principal_answered": "resumed (it is not waiting for the principal)",
    "abandon": "abandoned",
    "close": "closed",
}


def _held_by(interaction: Interaction, advisor_id: str, action: Action) -> None:
    _transition(interaction, action)
    if interaction.advisor_id != advisor_id:
        raise NotYourWork(
            f"interaction {interaction.id} is held by {interaction.advisor_id!r}, "
            f"not by {advisor_id!r}"
        )


def _check_profile(
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


# -- roster and policies ----------------------------------------------------------------------


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
    if not command.advisor_id:
        raise InvalidCommand("an advisor needs a non-empty id")
    languages = command.languages or (state.policies.default_language,)
    _check_profile(state.policies, command.skills, languages, command.capacity)
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
    _check_profile(state.policies, command.skills, command.languages, command.capacity)
    for channel, slots in (command.capacity or {}).items():
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
    return [AdvisorRemoved(at=now, advisor_id=advisor.id)]


def _revoke_offers(state: State, advisor: Advisor, reason: str, now: Instant) -> list[Event]:
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
    if target == "offline":
        held = [i for i in advisor.holding if state.interactions[i].status == "assigned"]
        if held:
            raise Refused(
                f"advisor {advisor.id!r} still holds interactions {held}: "
                "close or transfer them before logging out",
                reason="holds_work",
            )
    if target in ("offline", "not_ready"):
        events += _revoke_offers(state, advisor, f"advisor went {target}", now)
    events.append(
        AdvisorStateChanged(at=now, advisor_id=advisor.id, state=target, reason=command.reason)
    )
    return events


# -- interactions -------------------------------------------------------------------------------


def _submit(state: State, command: Submit, now: Instant) -> list[Event]:
    if (command.source, command.external_id) in state.by_external:
        return []
    policies = state.policies
    channel = _channel(state, command.channel)
    if command.source not in channel.sources:
        known = ", ".join(channel.sources)
        raise InvalidCommand(
            f"source {command.source!r} does not feed channel {command.channel} (sources: {known})"
        )
    if not command.external_id:
        raise InvalidCommand("external_id must not be empty")
    received = now if command.received_at is None else command.received_at
    if received > now:
        raise InvalidCommand("received_at is later than now: the interaction has not arrived yet")
    priority = channel.default_priority if command.priority is None else command.priority
    if not 0 <= priority <= 9:
        raise InvalidCommand(f"priority {priority} is out of range: it goes from 0 to 9")
    language = command.language or policies.default_language
    if language not in policies.languages:
        raise InvalidCommand(
            f"unknown language {language!r}; known: {', '.join(policies.languages)}"
        )
    typology = command.typology
    if command.channel == "written":
        typology = typology or "simple"
    elif typology is not None:
        raise InvalidCommand("typology applies to written complaints only")
    needs: dict[str, int] = {}
    if command.motive is not None:
        motive = policies.motives.get(command.motive)
        if motive is None:
            known = ", ".join(policies.motives) or "none configured"
            raise InvalidCommand(f"unknown motive {command.motive!r}; known: {known}")
        needs[motive.skill] = motive.level
    if command.skills:
        _check_profile(policies, command.skills, None, None)
        for skill, level in command.skills.items():
            needs[skill] = max(level, needs.get(skill, 0))
    if channel.refuse_when_closed and not state.calendar.is_open(received, channel.hours):
        local = to_datetime(received, state.calendar.zone).isoformat()
        raise ChannelClosed(f"the {command.channel} channel is closed at {local}")
    deadline = sla.deadline(channel.sla, received, state.calendar, channel.hours)
    return [
        InteractionArrived(
            at=now,
            interaction_id=state.next_interaction_id,
            channel=command.channel,
            source=command.source,
            external_id=command.external_id,
            motive=command.motive,
            language=language,
            skills=needs,
            priority=priority,
            typology=typology,
            received_at=received,
            deadline=deadline,
            warning_at=sla.warning_at(received, deadline, channel.warning_fraction),
            personal_digest=command.personal_digest,
        )
    ]


def _pending_offer(state: State, offer_id: int, advisor_id: str, now: Instant) -> Offer:
    offer = state.offers.get(offer_id)
    if offer is None:
        ended = state.ended_offers.get(offer_id)
        if ended is None:
            raise UnknownOffer(f"no offer {offer_id}")
        raise IllegalTransition(f"offer {offer_id} is no longer pending: it was {ended[0]}")
    if offer.advisor_id != advisor_id:
        raise NotYourWork(f"offer {offer_id} was made to {offer.advisor_id!r}, not {advisor_id!r}")
    if offer.expires_at <= now:
        raise IllegalTransition(f"offer {offer_id} expired", reason="offer_expired")
    return offer


def _responded(state: State, interaction: Interaction, advisor_id: str, now: Instant) -> Event:
    return InteractionResponded(
        at=now,
        interaction_id=interaction.id,
        advisor_id=advisor_id,
        within_sla=now <= interaction.deadline,
    )


def _accept(state: State, command: Accept, now: Instant) -> list[Event]:
    offer = _pending_offer(state, command.offer_id, command.advisor_id, now)
    interaction = state.interactions[offer.interaction_id]
    events: list[Event] = [
        OfferAccepted(
            at=now,
            offer_id=offer.id,
            interaction_id=offer.interaction_id,
            advisor_id=offer.advisor_id,
        )
    ]
    # Picking up a call is its first response: the voice clock measures the wait in queue.
    if interaction.channel == "voice" and interaction.responded_at is None:
        events.append(_responded(state, interaction, offer.advisor_id, now))
    return events


def _decline(state: State, command: Decline, now: Instant) -> list[Event]:
    offer = _pending_offer(state, command.offer_id, command.advisor_id, now)
    return [
        OfferDeclined(
            at=now,
            offer_id=offer.id,
            interaction_id=offer.interaction_id,
            advisor_id=offer.advisor_id,
            reason=command.reason,
        )
    ]


def _record_response(state: State, command: RecordResponse, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _held_by(interaction, command.advisor_id, "respond")
    if interaction.responded_at is not None:
        raise IllegalTransition(
            f"interaction {interaction.id} already had its first response", reason="responded"
        )
    return [_responded(state, interaction, command.advisor_id, now)]


def _wrap_up(state: State, interaction: Interaction, advisor_id: str, now: Instant) -> list[Event]:
    """Return the wrap-up that follows an advisor's release of held work, if any."""
    advisor = state.advisors[advisor_id]
    seconds = state.policies.channels[interaction.channel].wrap_up_s
    if seconds == 0 or advisor.state != "available":
        return []
    until = now + seconds * SECOND
    return [AdvisorStateChanged(at=now, advisor_id=advisor_id, state="wrap_up", until=until)]


def _transfer(state: State, command: Transfer, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _held_by(interaction, command.advisor_id, "transfer")
    channel = command.channel or interaction.channel
    _channel(state, channel)
    motive = interaction.motive if command.motive is None else command.motive
    needs = dict(interaction.skills)
    if command.motive is not None:
        policy = state.policies.motives.get(command.motive)
        if policy is None:
            raise InvalidCommand(f"unknown motive {command.motive!r}")
        needs = {policy.skill: policy.level}
    if command.skills is not None:
        _check_profile(state.policies, command.skills, None, None)
        needs = dict(command.skills) if command.motive is None else {**needs, **command.skills}
    return [
        InteractionTransferred(
            at=now,
            interaction_id=interaction.id,
            advisor_id=command.advisor_id,
            channel=channel,
            motive=motive,
            skills=needs,
            note=command.note,
        ),
        *_wrap_up(state, interaction, command.advisor_id, now),
    ]


def _transfer_out(state: State, command: TransferOut, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _held_by(interaction, command.advisor_id, "transfer_out")
    if not command.party:
        raise InvalidCommand("party must name the competent party the work goes to")
    events: list[Event] = []
    # Handing a complaint to the competent party is its handling (typology "transfer"): when
    # nothing was answered before, the hand-over is the first response.
    if interaction.responded_at is None:
        events.append(_responded(state, interaction, command.advisor_id, now))
    events.append(
        InteractionTransferredOut(
            at=now,
            interaction_id=interaction.id,
            advisor_id=command.advisor_id,
            party=command.party,
        )
    )
    return events + _wrap_up(state, interaction, command.advisor_id, now)


def _await_principal(state: State, command: AwaitPrincipal, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _held_by(interaction, command.advisor_id, "await_principal")
    policy = state.policies.channels[interaction.channel]
    pauses = interaction.typology in policy.pause_on_principal and interaction.responded_at is None
    return [
        PrincipalAwaitedEvent(
            at=now,
            interaction_id=interaction.id,
            advisor_id=command.advisor_id,
            pauses_clock=pauses,
        ),
        *_wrap_up(state, interaction, command.advisor_id, now),
    ]


def _principal_answered(state: State, command: PrincipalAnswered, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _transition(interaction, "principal_answered")
    deadline, warning = interaction.deadline, interaction.warning_at
    if interaction.paused_at is not None:
        deadline = sla.extend_for_pause(deadline, interaction.paused_at, now, state.calendar)
        fraction = state.policies.channels[interaction.channel].warning_fraction
        warning = sla.warning_at(interaction.received_at, deadline, fraction)
    return [
        PrincipalAnsweredEvent(
            at=now, interaction_id=interaction.id, deadline=deadline, warning_at=warning
        )
    ]


def _abandon(state: State, command: Abandon, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    if interaction.status == "assigned":
        raise IllegalTransition(
            f"interaction {interaction.id} was already picked up: close it instead of abandoning"
        )
    _transition(interaction, "abandon")
    return [InteractionAbandoned(at=now, interaction_id=interaction.id)]


def _close(state: State, command: Close, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _transition(interaction, "close")
    advisor_id = command.advisor_id
    if advisor_id is not None and interaction.status == "assigned":
        _held_by(interaction, advisor_id, "close")
    events: list[Event] = [
        InteractionClosed(at=now, interaction_id=interaction.id, advisor_id=advisor_id)
    ]
    if interaction.status == "assigned" and interaction.advisor_id is not None:
        events += _wrap_up(state, interaction, interaction.advisor_id, now)
    return events


COMMAND_HANDLERS: dict[type[Any], Handler] = {
    SetPolicies: _set_policies,
    AddAdvisor: _add_advisor,
    UpdateAdvisor: _update_advisor,
    RemoveAdvisor: _remove_advisor,
    SetAdvisorState: _set_advisor_state,
    Submit: _submit,
    Accept: _accept,
    Decline: _decline,
    RecordResponse: _record_response,
    Transfer: _transfer,
    TransferOut: _transfer_out,
    AwaitPrincipal: _await_principal,
    PrincipalAnswered: _principal_answered,
    Abandon: _abandon,
    Close: _close,
}


# -- timers -------------------------------------------------------------------------------------


def relaxed_need(state: State, interaction: Interaction, step: int) -> dict[str, int]:
    """Return the requirement of an interaction once relaxation step ``step`` (1-based) applies."""
    rule = state.policies.channels[interaction.channel].relaxation[step - 1]
    needs: dict[str, int] = {}
    for skill, level in interaction.skills.items():
        fallback = state.policies.skills.get(skill)
        if rule.fallback and fallback is not None and fallback.fallback is not None:
            needs[fallback.fallback] = max(needs.get(fallback.fallback, 0), 1)
        else:
            lowered = max(1, level - rule.level_drop)
            needs[skill] = max(needs.get(skill, 0), lowered)
    return needs


def timer_applies(state: State, timer: Timer) -> bool:
    """Return whether a due timer still means something, given the state now."""
    due, _, kind, subject, mark = timer
    if kind == TimerKind.OFFER_EXPIRY:
        offer = state.offers.get(subject)  # type: ignore[arg-type]
        return offer is not None and offer.expires_at == due
    if kind == TimerKind.WRAP_UP_END:
        advisor = state.advisors.get(subject)  # type: ignore[arg-type]
        return advisor is not None and advisor.state == "wrap_up" and advisor.wrap_until == due
    interaction = state.interactions.get(subject)  # type: ignore[arg-type]
    if interaction is None or interaction.ended_at is not None:
        return False
    if kind == TimerKind.SLA_WARNING or kind == TimerKind.SLA_BREACH:
        if interaction.responded_at is not None or interaction.paused_at is not None:
            return False
        if kind == TimerKind.SLA_WARNING:
            return not interaction.warned and interaction.warning_at == due
        return not interaction.breached and interaction.deadline == due
    if kind == TimerKind.RELAXATION:
        steps = state.policies.channels[interaction.channel].relaxation
        return (
            interaction.status in ("queued", "offered")
            and interaction.relax_step == mark - 1
            and mark <= len(steps)
            and interaction.relax_from + steps[mark - 1].after_s * SECOND == due
        )
    return interaction.status == "queued"  # REOFFER


def fire_timer(state: State, timer: Timer, now: Instant) -> list[Event]:
    """Return the events a due timer causes; call only when ``timer_applies``.

    A ``REOFFER`` timer causes no event: the engine's routing pass looks at its interaction again.
    """
    due, _, kind, subject, mark = timer
    if kind == TimerKind.OFFER_EXPIRY:
        offer = state.offers[subject]  # type: ignore[index]
        advisor = state.advisors[offer.advisor_id]
        events: list[Event] = [
            OfferExpired(
                at=now,
                offer_id=offer.id,
                interaction_id=offer.interaction_id,
                advisor_id=offer.advisor_id,
                due=due,
            )
        ]
        if advisor.missed + 1 >= state.policies.routing.max_missed_offers:
            events += [
                revoked
                for revoked in _revoke_offers(state, advisor, "missed offers", now)
                if isinstance(revoked, OfferRevoked) and revoked.offer_id != offer.id
            ]
            events.append(
                AdvisorStateChanged(
                    at=now, advisor_id=advisor.id, state="not_ready", reason="missed_offers"
                )
            )
        return events
    if kind == TimerKind.WRAP_UP_END:
        return [AdvisorStateChanged(at=now, advisor_id=str(subject), state="available", due=due)]
    interaction = state.interactions[subject]  # type: ignore[index]
    if kind == TimerKind.SLA_WARNING:
        return [
            SlaWarning(
                at=now, interaction_id=interaction.id, deadline=interaction.deadline, due=due
            )
        ]
    if kind == TimerKind.SLA_BREACH:
        return [SlaBreached(at=now, interaction_id=interaction.id, due=due)]
    if kind == TimerKind.RELAXATION:
        return [
            InteractionRelaxed(
                at=now,
                interaction_id=interaction.id,
                step=mark,
                skills=relaxed_need(state, interaction, mark),
                due=due,
            )
        ]
    return []
