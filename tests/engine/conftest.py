"""Shared pieces for the engine's tests: small policies, instants, a driven engine."""

from __future__ import annotations

from datetime import datetime

import pytest

from aiguillage.engine.commands import AddAdvisor, Command, SetAdvisorState, SetPolicies
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event
from aiguillage.engine.instants import Instant, from_datetime
from aiguillage.engine.policies import (
    BusinessHoursSla,
    ChannelPolicy,
    ElapsedSla,
    MotivePolicy,
    Policies,
    RelaxationStep,
    RoutingPolicy,
    SkillPolicy,
    WorkingDaysSla,
)

# Tuesday 1 December 2026, 10:00 in Paris: open, a working day, no holiday near.
TUESDAY_10H: Instant = from_datetime(datetime.fromisoformat("2026-12-01T10:00:00+01:00"))


def at(iso: str) -> Instant:
    return from_datetime(datetime.fromisoformat(iso))


def make_policies(
    *,
    voice_relaxation: tuple[RelaxationStep, ...] = (),
    wrap_up_s: int = 0,
    strategy: str = "deadline",
    reoffer_after_s: int = 30,
    max_missed_offers: int = 2,
    credit_principal_wait: bool = False,
) -> Policies:
    return Policies(
        channels={
            "voice": ChannelPolicy(
                sources=("phone",),
                sla=ElapsedSla(seconds=180),
                penalty_eur=10.0,
                offer_timeout_s=15,
                wrap_up_s=wrap_up_s,
                refuse_when_closed=True,
                relaxation=voice_relaxation,
            ),
            "written": ChannelPolicy(
                sources=("email", "webform"),
                sla=WorkingDaysSla(),
                penalty_eur=50.0,
                offer_timeout_s=60,
                pause_on_principal=("complex",),
                credit_principal_wait=credit_principal_wait,
            ),
            "social": ChannelPolicy(
                sources=("x", "facebook"),
                sla=BusinessHoursSla(),
                penalty_eur=20.0,
                offer_timeout_s=30,
            ),
        },
        skills={
            "general": SkillPolicy(),
            "refunds": SkillPolicy(fallback="general"),
            "fines": SkillPolicy(fallback="general"),
        },
        motives={
            "refunds": MotivePolicy(skill="refunds", level=3),
            "fines": MotivePolicy(skill="fines", level=2),
        },
        languages=("fr", "en"),
        routing=RoutingPolicy(
            strategy=strategy,
            reoffer_after_s=reoffer_after_s,
            max_missed_offers=max_missed_offers,
        ),
    )


def add_advisor(
    engine: Engine,
    advisor_id: str,
    now: Instant,
    *,
    skills: dict[str, int] | None = None,
    languages: tuple[str, ...] = ("fr",),
    capacity: dict[str, int] | None = None,
    available: bool = True,
) -> None:
    engine.handle(
        AddAdvisor(
            advisor_id=advisor_id,
            skills={"general": 3} if skills is None else skills,
            languages=languages,
            capacity={"voice": 1, "written": 2, "social": 3} if capacity is None else capacity,  # type: ignore[dict-item]
        ),
        now,
    )
    if available:
        engine.handle(SetAdvisorState(advisor_id=advisor_id, state="available"), now)


class JournaledEngine(Engine):
    """An engine that keeps every event it returns, as a runtime's journal would."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[Event] = []

    def handle(self, command: Command, now: Instant) -> list[Event]:
        events = super().handle(command, now)
        self.journal += events
        return events

    def advance(self, now: Instant) -> list[Event]:
        events = super().advance(now)
        self.journal += events
        return events


def replayed(journal: list[Event]) -> Engine:
    """Return a fresh engine rebuilt from a journal."""
    replica = Engine()
    for event in journal:
        replica.apply(event)
    return replica


@pytest.fixture
def engine() -> JournaledEngine:
    engine = JournaledEngine()
    engine.handle(SetPolicies(policies=make_policies()), TUESDAY_10H)
    return engine
