"""``[adapters.asterisk]``: the telephone features' settings, each refused with its key."""

from __future__ import annotations

import msgspec
import pytest

from aiguillage.adapters.channels.asterisk.settings import AsteriskSettings

BASE = {"username": "aiguillage", "password_env": "ARI_PASSWORD"}


def settings(**overrides: object) -> AsteriskSettings:
    return msgspec.convert({**BASE, **overrides}, AsteriskSettings)


def test_the_features_are_off_unless_configured() -> None:
    plain = settings()
    assert (plain.parties, plain.headers, plain.motive_header) == ({}, (), None)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("parties", {"ratp": "+33142000000"}),  # a number, not an endpoint
        ("party_ring_s", 0),
        ("party_unavailable_sound", "aiguillage-party-unavailable"),
        ("headers", ["X Context"]),
        ("headers", ["X-Context:"]),
        ("motive_header", "X_Motive"),
    ],
)
def test_a_malformed_value_is_refused_naming_its_key(key: str, value: object) -> None:
    with pytest.raises(msgspec.ValidationError, match=key):
        settings(**{key: value})


def test_the_motive_header_must_be_one_of_the_headers_read() -> None:
    with pytest.raises(msgspec.ValidationError, match="`motive_header` 'X-Motive' is not one"):
        settings(headers=["X-Context"], motive_header="X-Motive")
    with pytest.raises(msgspec.ValidationError, match="twice"):
        settings(headers=["X-Context", "x-context"])
    assert settings(headers=["X-Motive"], motive_header="x-motive").motive_header == "x-motive"
