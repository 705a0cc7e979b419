"""The API's view of an interaction: its deadlines, raw and in force, in local time."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import msgspec

from aiguillage.adapters.stores.views import InteractionOut, view_of
from aiguillage.engine.commands import (
    Accept,
    AddAdvisor,
    AwaitPrincipal,
    Close,
    PrincipalAnswered,
    SetAdvisorState,
    SetPolicies,
    Submit,
)
from aiguillage.engine.engine import Engine
from tests.engine.conftest import TUESDAY_10H, add_advisor, at, make_policies

PARIS = ZoneInfo("Europe/Paris")


def test_the_view_shows_the_raw_deadline_beside_the_credited_one() -> None:
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies(credit_principal_wait=True)), TUESDAY_10H)
    add_advisor(engine, "A1", TUESDAY_10H)
    complaint = Submit(channel="written", source="email", external_id="m1", typology="complex")
    engine.handle(complaint, TUESDAY_10H)
    engine.handle(Accept(advisor_id="A1", offer_id=1), TUESDAY_10H)
    engine.handle(AwaitPrincipal(advisor_id="A1", interaction_id=1), TUESDAY_10H)
    engine.handle(PrincipalAnswered(interaction_id=1), at("2026-12-01T18:00:00+01:00"))
    view = view_of(engine.state.interactions[1], PARIS)
    assert view.raw_deadline == "2026-12-04T20:00:00+01:00"
    assert view.deadline == "2026-12-05T15:00:00+01:00"  # 8 open hours from Saturday 07:00


def test_a_view_stored_before_the_raw_deadline_was_shown_still_reads() -> None:
    engine = Engine()
    engine.handle(SetPolicies(policies=make_policies()), TUESDAY_10H)
    engine.handle(Submit(channel="voice", source="phone", external_id="c1"), TUESDAY_10H)
    stored = msgspec.to_builtins(view_of(engine.state.interactions[1], PARIS))
    del stored["raw_deadline"]
    view = msgspec.json.decode(msgspec.json.encode(stored), type=InteractionOut)
    assert view.raw_deadline is None


def test_a_closed_interaction_names_the_advisor_who_handled_it_and_replay_agrees() -> None:
    engine = Engine()
    events = []
    for command in (
        SetPolicies(policies=make_policies()),
        AddAdvisor(advisor_id="A1", skills={"general": 3}, capacity={"voice": 1}),
        SetAdvisorState(advisor_id="A1", state="available"),
        Submit(channel="voice", source="phone", external_id="c1"),
        Accept(advisor_id="A1", offer_id=1),
        Close(interaction_id=1, advisor_id="A1"),
    ):
        events += engine.handle(command, TUESDAY_10H)
    view = view_of(engine.state.interactions[1], PARIS)
    assert view.status == "closed"
    assert view.advisor_id is None  # it holds no advisor's slot any more
    assert view.handled_by == "A1"
    replayed = Engine()
    for event in events:
        replayed.apply(event)
    assert replayed.state.interactions[1] == engine.state.interactions[1]
