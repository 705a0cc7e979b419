"""What a queued caller hears: the media of an announcement, from its position and wait; the
numbers a caller may be called back at."""

from __future__ import annotations

import msgspec
import pytest

from aiguillage.adapters.channels.asterisk.channel import announcement, callback_number
from aiguillage.adapters.channels.asterisk.settings import AsteriskSettings

BASE = {"username": "aiguillage", "password_env": "ARI_PASSWORD"}


def settings(**overrides: object) -> AsteriskSettings:
    return msgspec.convert({**BASE, **overrides}, AsteriskSettings)


def test_the_first_in_line_hears_that_it_is_next_and_the_wait_in_whole_minutes() -> None:
    said = announcement(settings(), 1, 180)
    assert said == [
        "sound:queue-youarenext",
        "sound:queue-holdtime",
        "sound:queue-less-than",
        "number:3",
        "sound:queue-minutes",
    ]
    assert announcement(settings(), 1, 121)[3] == "number:3"  # rounded up, never down


def test_a_caller_further_back_hears_its_rank() -> None:
    said = announcement(settings(), 4, 600)
    assert said[:3] == ["sound:queue-thereare", "number:4", "sound:queue-callswaiting"]
    assert said[-2:] == ["number:10", "sound:queue-minutes"]


def test_no_wait_is_told_without_an_estimate_or_when_the_call_is_about_to_ring() -> None:
    assert announcement(settings(), 2, None) == [
        "sound:queue-thereare",
        "number:2",
        "sound:queue-callswaiting",
    ]
    assert announcement(settings(), 1, 0) == ["sound:queue-youarenext"]


def test_the_sentences_are_the_deployments_own() -> None:
    custom = settings(
        announce_position=["sound:custom/vous-etes", "{position}"],
        announce_wait=["sound:custom/attente", "{minutes}", "sound:custom/minutes"],
    )
    said = announcement(custom, 3, 240)
    assert said == [
        "sound:custom/vous-etes",
        "number:3",
        "sound:custom/attente",
        "number:4",
        "sound:custom/minutes",
    ]


@pytest.mark.parametrize("media", ["sound:a,sound:b", "queue-minutes", "{wait}", "sound: x"])
def test_a_media_ari_cannot_play_in_a_list_is_refused(media: str) -> None:
    with pytest.raises(msgspec.ValidationError, match="announce_wait"):
        settings(announce_wait=[media])


@pytest.mark.parametrize(
    ("given", "number"),
    [
        ("0612345678", "0612345678"),
        ("+33612345678", "+33612345678"),
        ("33612345678", "+33612345678"),  # a caller id without its +
        ("0033612345678", "+33612345678"),  # keyed: 00 for +
        ("061234567", None),
        ("0012345678", None),
        ("+44612345678", None),
        ("", None),
    ],
)
def test_a_callback_number_is_a_french_one(given: str, number: str | None) -> None:
    assert callback_number(given) == number
