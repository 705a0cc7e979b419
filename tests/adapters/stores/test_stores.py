"""``--store`` URLs: where the journal and its personal-data store live."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.stores.urls import (
    RedisStore,
    SQLiteStore,
    StoreError,
    personal_path_of,
    store_of,
)

REFERENCE = load_config(Path(__file__).resolve().parents[3] / "config.toml")


def test_the_default_is_a_journal_in_the_data_directory() -> None:
    assert store_of(None, REFERENCE) == SQLiteStore(Path("var/aiguillage/journal.sqlite"))


def test_three_slashes_are_relative_and_four_absolute() -> None:
    assert store_of("sqlite:///data/j.sqlite", REFERENCE) == SQLiteStore(Path("data/j.sqlite"))
    assert store_of("sqlite:////srv/j.sqlite", REFERENCE) == SQLiteStore(Path("/srv/j.sqlite"))


def test_a_redis_url_names_the_deployments_domain_and_its_archive() -> None:
    store = store_of("redis://:secret@10.0.0.7:6380/2", REFERENCE)
    assert store == RedisStore(
        "redis://:secret@10.0.0.7:6380/2",
        REFERENCE.settings.deployment.domain,
        Path("var/aiguillage/archive"),
    )


@pytest.mark.parametrize(
    "url", ["postgres://x", "sqlite:///", "j.db", "redis://", "redis://h:port/0", "redis://h/x"]
)
def test_other_urls_are_refused_with_the_forms_accepted(url: str) -> None:
    with pytest.raises(StoreError, match=r"sqlite:///.*redis://"):
        store_of(url, REFERENCE)


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(StoreError) as refused:
        store_of("redis://:hunter2@h:port/0", REFERENCE)
    assert "hunter2" not in str(refused.value)


def test_the_personal_store_sits_beside_the_journal() -> None:
    assert personal_path_of(Path("/srv/j.sqlite")) == Path("/srv/j.personal.sqlite")
    assert SQLiteStore(Path("/srv/j.sqlite")).personal_path == Path("/srv/j.personal.sqlite")
