"""What a timer means when it comes due: whether it still applies, and the events it causes.

Timers are set by ``State.apply`` (see ``timers.py``) and never cancelled in place; when one
comes due, ``timer_applies`` checks it against the state and ``fire_timer`` returns its events,
without changing anything: the engine applies them, as it does for commands.
"""

from __future__ import annotations

from .events import (
    AdvisorStateChanged,
    Event,
    InteractionForgotten,
    InteractionRelaxed,
    OfferExpired,
    OfferRevoked,
    SlaBreached,
    SlaWarning,
)
from .instants import SECOND, Instant
from .interactions import Interaction
from .roster import revoke_offers
from .sla import breach_due
from .state import State
from .timers import (
    FORGET,
    OFFER_EXPIRY,
    RELAXATION,
    SLA_BREACH,
    SLA_WARNING,
    WRAP_UP_END,
    Timer,
)

__all__ = ["fire_timer", "relaxed_need", "timer_applies"]


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
    # The kinds are tested most frequent first: every interaction sets SLA timers and an
    # offer's expiry, and most of them no longer apply when they come due.
    if kind == OFFER_EXPIRY:
        offer = state.offers.get(subject)  # type: ignore[arg-type]
        return offer is not None and offer.expires_at == due
    if kind == WRAP_UP_END:
        advisor = state.advisors.get(subject)  # type: ignore[arg-type]
        return advisor is not None and advisor.state == "wrap_up" and advisor.wrap_until == due
    interaction = state.interactions.get(subject)  # type: ignore[arg-type]
    if interaction is None:
        return False
    if kind == FORGET:  # the one timer about ended work; not while it still has to send
        return (
            interaction.ended_at is not None
            and (interaction.forget_at is None or interaction.forget_at == due)
            and not state.sending(interaction)
        )
    if interaction.ended_at is not None:
        return False
    if kind == SLA_BREACH:
        return (
            interaction.responded_at is None
            and interaction.paused_at is None
            and not interaction.breached
            and breach_due(interaction.deadline) == due
        )
    if kind == SLA_WARNING:
        return (
            interaction.responded_at is None
            and interaction.paused_at is None
            and not interaction.warned
            and interaction.warning_at == due
        )
    if kind == RELAXATION:
        steps = state.policies.channels[interaction.channel].relaxation
        return (
            interaction.status in ("queued", "offered")
            and interaction.relax_step == mark - 1
            and mark <= len(steps)
            and interaction.relax_from + steps[mark - 1].after_s * SECOND == due
        )
    return interaction.status == "queued"  # REOFFER: a re-offer delay or a callback's retry ended


def fire_timer(state: State, timer: Timer, now: Instant) -> list[Event]:
    """Return the events a due timer causes; call only when ``timer_applies``.

    A ``REOFFER`` timer causes no event: the engine's routing pass looks at its interaction again.
    """
    due, _, kind, subject, mark = timer
    if kind == OFFER_EXPIRY:
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
                for revoked in revoke_offers(state, advisor, "missed offers", now)
                if isinstance(revoked, OfferRevoked) and revoked.offer_id != offer.id
            ]
            events.append(
                AdvisorStateChanged(
                    at=now, advisor_id=advisor.id, state="not_ready", reason="missed_offers"
                )
            )
        return events
    if kind == WRAP_UP_END:
        return [AdvisorStateChanged(at=now, advisor_id=str(subject), state="available", due=due)]
    interaction = state.interactions[subject]  # type: ignore[index]
    if kind == FORGET:
        return [InteractionForgotten(at=now, interaction_id=interaction.id, due=due)]
    if kind == SLA_WARNING:
        return [
            SlaWarning(
                at=now, interaction_id=interaction.id, deadline=interaction.deadline, due=due
            )
        ]
    if kind == SLA_BREACH:
        return [SlaBreached(at=now, interaction_id=interaction.id, due=due)]
    if kind == RELAXATION:
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
