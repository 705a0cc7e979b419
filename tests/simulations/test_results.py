"""The tally counts what happened per channel from the engine's events."""

from __future__ import annotations

from aiguillage.engine.events import (
    InteractionAbandoned,
    InteractionArrived,
    InteractionResponded,
    SlaBreached,
)
from aiguillage.engine.instants import SECOND
from aiguillage.simulations.results import Tally

T = 1_800_000_000_000_000


def arrived(interaction_id: int, channel: str = "voice") -> InteractionArrived:
    return InteractionArrived(
        at=T,
        interaction_id=interaction_id,
        channel=channel,  # type: ignore[arg-type]
        source="phone",
        external_id=str(interaction_id),
        motive=None,
        language="fr",
        skills={},
        priority=0,
        typology=None,
        received_at=T,
        deadline=T + 180 * SECOND,
        warning_at=T + 144 * SECOND,
    )


def test_service_level_counts_abandons_and_late_open_work_as_missed() -> None:
    tally = Tally()
    for n in range(1, 6):
        tally(arrived(n))
    tally(
        InteractionResponded(at=T + 30 * SECOND, interaction_id=1, advisor_id="A", within_sla=True)
    )
    tally(
        InteractionResponded(at=T + 90 * SECOND, interaction_id=2, advisor_id="A", within_sla=True)
    )
    tally(InteractionAbandoned(at=T + 10 * SECOND, interaction_id=3))
    tally(SlaBreached(at=T + 180 * SECOND, interaction_id=4, due=T + 180 * SECOND))
    voice = tally.channels["voice"]
    # 5 offered: 2 in time, 1 abandoned, 1 late and open, 1 still open in time (no outcome yet).
    assert (voice.offered, voice.answered, voice.abandoned, voice.breaches) == (5, 2, 1, 1)
    assert voice.settled == 4
    assert voice.service_level == 0.5
    assert voice.mean_wait_s == 60.0


def test_work_answered_after_its_breach_is_no_longer_late_and_open() -> None:
    tally = Tally()
    tally(arrived(1))
    tally(SlaBreached(at=T + 180 * SECOND, interaction_id=1, due=T + 180 * SECOND))
    tally(
        InteractionResponded(
            at=T + 200 * SECOND, interaction_id=1, advisor_id="A", within_sla=False
        )
    )
    voice = tally.channels["voice"]
    assert (voice.late_open, voice.settled, voice.service_level) == (0, 1, 0.0)
    assert voice.wait_percentile_s(0.9) == 200.0
