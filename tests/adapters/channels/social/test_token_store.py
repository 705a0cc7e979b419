"""The encrypted token store: a round trip, a wrong key, a tampered file, its permissions."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from aiguillage.adapters.channels.social.token_store import (
    Grant,
    StoreError,
    TokenStore,
    new_key,
)

KEY_ENV = "AIGUILLAGE_TEST_OAUTH_KEY"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TokenStore:
    monkeypatch.setenv(KEY_ENV, new_key())
    return TokenStore(tmp_path / "oauth" / "youtube.grant", key_env=KEY_ENV, channel="youtube")


def _grant() -> Grant:
    return Grant(
        access_token="ya29.access",
        refresh_token="1//refresh",
        expires_at=1_800_000_000.5,
        scopes=["https://www.googleapis.com/auth/youtube.force-ssl"],
        obtained_at=1_799_996_400.0,
    )


def test_a_grant_saved_is_read_back_whole_and_no_secret_is_in_clear(store: TokenStore) -> None:
    assert store.load() is None  # nothing authorised yet
    store.save(_grant())
    assert store.load() == _grant()
    data = store.path.read_bytes()
    assert b"ya29.access" not in data
    assert b"1//refresh" not in data
    assert b"youtube.force-ssl" not in data


def test_the_file_is_readable_by_its_owner_only_and_no_partial_file_stays(
    store: TokenStore,
) -> None:
    store.save(_grant())
    store.save(_grant())  # replaced in place
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["youtube.grant"]


def test_a_wrong_key_names_the_file_the_variable_and_the_fix(
    store: TokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(_grant())
    monkeypatch.setenv(KEY_ENV, new_key())
    with pytest.raises(StoreError) as caught:
        store.load()
    message = str(caught.value)
    assert str(store.path) in message
    assert KEY_ENV in message
    assert "aiguillage channel authorize youtube" in message


def test_a_tampered_file_does_not_open(store: TokenStore) -> None:
    store.save(_grant())
    data = bytearray(store.path.read_bytes())
    data[-20] ^= 0x01
    store.path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="file was altered"):
        store.load()


def test_a_file_copied_to_another_channel_does_not_open(store: TokenStore) -> None:
    store.save(_grant())
    other = TokenStore(store.path, key_env=KEY_ENV, channel="linkedin")
    with pytest.raises(StoreError, match="does not open"):
        other.load()


def test_a_file_that_is_not_a_store_says_so(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("ya29.a-token-in-clear\n")
    with pytest.raises(StoreError, match="not a token store"):
        store.load()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "set the environment variable"), ("c2hvcnQ=", "not a 32-byte key")],
)
def test_a_missing_or_short_key_says_how_to_make_one(
    store: TokenStore, monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv(KEY_ENV, value)
    with pytest.raises(StoreError, match=expected) as caught:
        store.save(_grant())
    assert "aiguillage channel new-key" in str(caught.value)
    assert not store.path.exists()
