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
        ("callback_endpoint", "PJSIP/0612345678@trunk"),  # no {number}
        ("callback_caller_id", "le service"),
        ("callback_confirm", ["sound:aiguillage-callback-number", "{numero}"]),
        ("callback_key", "12"),
        ("callback_timeout_s", 0),
        ("callback_ring_s", 3),
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


@pytest.mark.parametrize(
    "menu",
    [
        {"prompt": "sound:custom/menu", "choices": {}},
        {"prompt": "sound:custom/menu", "choices": {"10": "refunds"}},
        {"prompt": "menu", "choices": {"1": "refunds"}},
        {"prompt": "sound:custom/menu", "choices": {"1": "refunds"}, "timeout_s": 0},
        {"prompt": "sound:custom/menu", "choices": {"1": "refunds"}, "keys": 1},
    ],
)
def test_a_malformed_menu_is_refused_naming_it(menu: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError, match="menu"):
        settings(menu=menu)


def test_a_menu_has_its_keys_and_a_default() -> None:
    menu = settings(menu={"prompt": "sound:custom/menu", "choices": {"1": "refunds", "*": "fines"}})
    assert menu.menu is not None
    assert (menu.menu.default, menu.menu.timeout_s) == ("general", 6.0)


def test_callbacks_are_off_unless_an_endpoint_is_set_and_need_the_services_number() -> None:
    assert settings().callback_endpoint == ""
    with pytest.raises(msgspec.ValidationError, match="callback_caller_id"):
        settings(callback_endpoint="PJSIP/{number}@trunk")
    on = settings(callback_endpoint="PJSIP/{number}@trunk", callback_caller_id="+33142000000")
    assert (on.callback_key, on.callback_ring_s) == ("1", 30)
