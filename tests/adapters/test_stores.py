"""``--store`` URLs: where the journal and its personal-data store live."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiguillage.adapters.config import load_config
from aiguillage.adapters.stores import StoreError, personal_path_of, store_path

REFERENCE = load_config(Path(__file__).resolve().parents[2] / "config.toml")


def test_the_default_is_a_journal_in_the_data_directory() -> None:
    assert store_path(None, REFERENCE) == Path("var/aiguillage/journal.sqlite")


def test_three_slashes_are_relative_and_four_absolute() -> None:
    assert store_path("sqlite:///data/j.sqlite", REFERENCE) == Path("data/j.sqlite")
    assert store_path("sqlite:////srv/j.sqlite", REFERENCE) == Path("/srv/j.sqlite")


@pytest.mark.parametrize("url", ["redis://localhost:6379/0", "postgres://x", "sqlite:///", "j.db"])
def test_other_urls_are_refused_with_the_forms_accepted(url: str) -> None:
    with pytest.raises(StoreError, match="sqlite:///"):
        store_path(url, REFERENCE)


def test_the_personal_store_sits_beside_the_journal() -> None:
    assert personal_path_of(Path("/srv/j.sqlite")) == Path("/srv/j.personal.sqlite")
