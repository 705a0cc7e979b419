"""Tests of advisors: which channels are open to them, eligibility and skill scores."""

from __future__ import annotations

import pytest

from aiguillage.engine.advisors import Advisor, is_eligible, open_channels, skill_score
from aiguillage.engine.commands import AdvisorState
from aiguillage.engine.policies import Channel, MixingPolicy

DEFAULT_MIXING = MixingPolicy()
FULL_CAPACITY: dict[Channel, int] = {"voice": 1, "written": 2, "social": 3}


def advisor(
    *held: Channel,
    state: AdvisorState = "available",
    capacity: dict[Channel, int] | None = None,
    skills: dict[str, int] | None = None,
    languages: tuple[str, ...] = ("fr",),
) -> Advisor:
    """Return an advisor holding one interaction per channel named in ``held``."""
    load: dict[Channel, int] = {"voice": 0, "written": 0, "social": 0}
    for channel in held:
        load[channel] += 1
    return Advisor(
        id="A1",
        name="A1",
        skills={} if skills is None else skills,
        languages=languages,
        capacity=FULL_CAPACITY if capacity is None else capacity,
        state=state,
        load=load,
        holding=dict.fromkeys(range(1, len(held) + 1)),
    )


# -- open_channels ------------------------------------------------------------------------------


def test_an_available_advisor_holding_nothing_is_open_in_every_channel() -> None:
    assert open_channels(advisor(), DEFAULT_MIXING) == ("voice", "written", "social")


@pytest.mark.parametrize("state", ["offline", "not_ready", "wrap_up"])
def test_an_advisor_who_is_not_available_is_open_nowhere(state: AdvisorState) -> None:
    assert open_channels(advisor(state=state), DEFAULT_MIXING) == ()


def test_a_channel_without_capacity_is_closed() -> None:
    capacity: dict[Channel, int] = {"voice": 0, "social": 2}
    assert open_channels(advisor(capacity=capacity), DEFAULT_MIXING) == ("social",)


def test_a_call_takes_the_whole_advisor() -> None:
    assert open_channels(advisor("voice"), DEFAULT_MIXING) == ()


def test_digital_work_held_closes_the_call_channel_only() -> None:
    assert open_channels(advisor("written"), DEFAULT_MIXING) == ("written", "social")


def test_a_digital_channel_closes_at_its_capacity() -> None:
    assert open_channels(advisor("written", "written"), DEFAULT_MIXING) == ("social",)


def test_max_concurrent_reached_closes_every_channel() -> None:
    mixing = MixingPolicy(max_concurrent=2)
    assert open_channels(advisor("written", "social"), mixing) == ()


def test_below_max_concurrent_the_digital_channels_stay_open() -> None:
    mixing = MixingPolicy(max_concurrent=3)
    assert open_channels(advisor("written", "social"), mixing) == ("written", "social")


def test_without_exclusive_channels_a_call_runs_beside_digital_work() -> None:
    mixing = MixingPolicy(exclusive=())
    assert open_channels(advisor("voice"), mixing) == ("written", "social")


def test_a_channel_made_exclusive_takes_the_whole_advisor_too() -> None:
    mixing = MixingPolicy(exclusive=("voice", "written"))
    assert open_channels(advisor("written"), mixing) == ()


def test_an_exclusive_channel_is_closed_to_an_advisor_holding_other_work() -> None:
    mixing = MixingPolicy(exclusive=("voice", "written"))
    assert open_channels(advisor("social"), mixing) == ("social",)


# -- is_eligible --------------------------------------------------------------------------------


def test_an_advisor_with_the_language_and_the_levels_is_eligible() -> None:
    profile = advisor(skills={"refunds": 4, "fines": 2})
    assert is_eligible(profile, ("fr", (("fines", 2), ("refunds", 3))))


def test_an_advisor_who_does_not_speak_the_language_is_not_eligible() -> None:
    profile = advisor(skills={"refunds": 5}, languages=("en",))
    assert not is_eligible(profile, ("fr", (("refunds", 1),)))


def test_an_advisor_one_level_short_is_not_eligible() -> None:
    profile = advisor(skills={"refunds": 2})
    assert not is_eligible(profile, ("fr", (("refunds", 3),)))


def test_an_advisor_without_a_skill_needed_is_not_eligible() -> None:
    profile = advisor(skills={"refunds": 5})
    assert not is_eligible(profile, ("fr", (("fines", 1), ("refunds", 1))))


def test_work_needing_no_skill_is_open_to_anyone_speaking_its_language() -> None:
    assert is_eligible(advisor(languages=("en", "fr")), ("fr", ()))


# -- skill_score --------------------------------------------------------------------------------


def test_skill_score_sums_the_advisor_levels_on_the_skills_needed_only() -> None:
    profile = advisor(skills={"refunds": 4, "fines": 2, "general": 5})
    assert skill_score(profile, {"refunds": 3, "fines": 1}) == 6.0


def test_a_skill_needed_but_missing_scores_zero() -> None:
    profile = advisor(skills={"refunds": 4})
    assert skill_score(profile, {"refunds": 3, "fines": 1}) == 4.0
