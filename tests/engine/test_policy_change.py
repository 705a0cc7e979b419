"""Policies changed while work waits: timers derived from them are set again, deadlines stay."""

from __future__ import annotations

import msgspec

from aiguillage.engine.commands import SetPolicies, Submit
from aiguillage.engine.events import (
    InteractionRelaxed,
    OfferExpired,
    OfferMade,
    SlaWarning,
)
from aiguillage.engine.instants import SECOND
from aiguillage.engine.policies import Policies, RelaxationStep

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, make_policies, replayed

T0 = TUESDAY_10H


def _with_voice(policies: Policies, **changes: object) -> Policies:
    voice = msgspec.structs.replace(policies.channels["voice"], **changes)
    return msgspec.structs.replace(policies, channels={**policies.channels, "voice": voice})


def _call(engine: JournaledEngine, external_id: str, **fields: object) -> None:
    engine.handle(Submit(channel="voice", source="phone", external_id=external_id, **fields), T0)  # type: ignore[arg-type]


def test_new_relaxation_steps_apply_to_work_already_waiting() -> None:
    engine = JournaledEngine()
    slow = make_policies(voice_relaxation=(RelaxationStep(after_s=300, fallback=True),))
    engine.handle(SetPolicies(policies=slow), T0)
    add_advisor(engine, "generalist", T0, skills={"general": 1})
    _call(engine, "c1", motive="refunds")
    waited = engine.advance(T0 + 170 * SECOND)
    assert not [event for event in waited if isinstance(event, InteractionRelaxed | OfferMade)]
    # A restart with an edited config: the fallback now comes after 100 s.
    fast = make_policies(voice_relaxation=(RelaxationStep(after_s=100, fallback=True),))
    engine.handle(SetPolicies(policies=fast), T0 + 170 * SECOND)
    events = engine.advance(T0 + 170 * SECOND)
    relaxed = [event for event in events if isinstance(event, InteractionRelaxed)]
    assert [(event.skills, event.due) for event in relaxed] == [({"general": 1}, T0 + 100 * SECOND)]
    offers = [event for event in events if isinstance(event, OfferMade)]
    assert [(offer.advisor_id, offer.step) for offer in offers] == [("generalist", 1)]
    assert replayed(engine.journal).snapshot() == engine.snapshot()


def test_a_new_warning_share_moves_the_warning_but_never_the_deadline() -> None:
    engine = JournaledEngine()
    policies = make_policies()
    engine.handle(SetPolicies(policies=policies), T0)
    _call(engine, "c1")
    interaction = engine.state.interactions[1]
    assert (interaction.deadline, interaction.warning_at) == (T0 + 180 * SECOND, T0 + 144 * SECOND)
    changed = _with_voice(
        policies,
        warning_fraction=0.5,
        sla=msgspec.structs.replace(policies.channels["voice"].sla, seconds=600),
    )
    engine.handle(SetPolicies(policies=changed), T0 + 60 * SECOND)
    assert interaction.deadline == T0 + 180 * SECOND  # given to the caller: it stays
    assert interaction.warning_at == T0 + 90 * SECOND
    warnings = [e for e in engine.advance(T0 + 90 * SECOND) if isinstance(e, SlaWarning)]
    assert [(warning.interaction_id, warning.due) for warning in warnings] == [
        (1, T0 + 90 * SECOND)
    ]
    assert not [e for e in engine.advance(T0 + 150 * SECOND) if isinstance(e, SlaWarning)]
    assert replayed(engine.journal).snapshot() == engine.snapshot()


def test_a_new_offer_time_out_applies_to_offers_pending() -> None:
    engine = JournaledEngine()
    policies = make_policies()  # voice offers time out after 15 s
    engine.handle(SetPolicies(policies=policies), T0)
    add_advisor(engine, "A1", T0)
    _call(engine, "c1")
    (offer,) = engine.state.offers.values()
    assert offer.expires_at == T0 + 15 * SECOND
    engine.handle(SetPolicies(policies=_with_voice(policies, offer_timeout_s=30)), T0 + 5 * SECOND)
    assert engine.state.offers[offer.id].expires_at == T0 + 30 * SECOND
    assert not [e for e in engine.advance(T0 + 20 * SECOND) if isinstance(e, OfferExpired)]
    expired = [e for e in engine.advance(T0 + 30 * SECOND) if isinstance(e, OfferExpired)]
    assert [(event.offer_id, event.due) for event in expired] == [(offer.id, T0 + 30 * SECOND)]
    assert replayed(engine.journal).snapshot() == engine.snapshot()
