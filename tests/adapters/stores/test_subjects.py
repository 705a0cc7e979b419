"""Addresses as the personal-data store indexes them: normalised, keyed, erased with their
pieces, and the pieces stored before the index found by a scan at the first open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from aiguillage.adapters.stores.personal import sealed
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore
from aiguillage.adapters.stores.subjects import (
    InvalidAddress,
    normalised_email,
    normalised_phone,
    subject_key,
    subject_keys,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    "given", ["+33 6 12 34 56 78", "0033612345678", "06.12.34.56.78", "06 12 34 56 78"]
)
def test_a_phone_number_is_its_international_digits(given: str) -> None:
    assert normalised_phone(given) == "33612345678"


def test_an_e_mail_is_lower_cased_and_trimmed_and_nonsense_is_refused() -> None:
    assert normalised_email("  Jeanne.Martin@Example.ORG ") == "jeanne.martin@example.org"
    with pytest.raises(InvalidAddress):
        normalised_email("jeanne")
    with pytest.raises(InvalidAddress):
        normalised_phone("12")


def test_the_digest_depends_on_the_key_and_names_every_address_of_a_piece() -> None:
    one, two = b"k" * 32, b"l" * 32
    assert subject_key(one, "email", "A@b.fr") == subject_key(one, "email", "a@b.fr ")
    assert subject_key(one, "email", "a@b.fr") != subject_key(two, "email", "a@b.fr")
    piece = {"customer": {"name": "A", "email": "a@b.fr", "phone": "0612345678"}}
    assert subject_keys(one, piece) == {
        subject_key(one, "email", "a@b.fr"),
        subject_key(one, "phone", "+33612345678"),
    }
    assert subject_keys(one, {"callback_number": "0612345678"}) == {
        subject_key(one, "phone", "+33612345678")
    }


@pytest.mark.anyio
async def test_the_index_is_erased_with_the_pieces_and_built_for_older_pieces(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.personal.sqlite"
    store = SQLitePersonalStore(path)
    await store.open()
    key = await store.external_id_key()
    jeanne = {"customer": {"name": "Jeanne", "email": "jeanne@example.org"}}
    await store.put_many(
        [sealed(1, jeanne, 10), sealed(2, jeanne, 11), sealed(3, {"text": "x"}, 12)]
    )
    subject = subject_key(key, "email", "jeanne@example.org")
    assert await store.find_subject(subject) == [1, 2]
    assert await store.erase(1)
    assert await store.find_subject(subject) == [2]
    await store.close()
    # A file written before the index: its rows and its mark gone.
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM subjects")
        connection.execute("DELETE FROM secrets WHERE name = 'subjects_indexed'")
    connection.close()
    store = SQLitePersonalStore(path)
    await store.open()
    assert await store.find_subject(subject) == [2]
    assert await store.purge(100) == 2
    assert await store.find_subject(subject) == []
    await store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM subjects").fetchone() == (0,)
    connection.close()


@pytest.mark.anyio
async def test_pieces_stored_before_the_index_are_indexed_a_page_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "journal.personal.sqlite"
    store = SQLitePersonalStore(path)
    await store.open()
    key = await store.external_id_key()
    customers = [{"customer": {"email": f"client{n}@example.org"}} for n in range(1201)]
    await store.put_many([sealed(n + 1, data, n) for n, data in enumerate(customers)])
    await store.close()
    with sqlite3.connect(path) as connection:  # as an earlier version left the file
        connection.execute("DELETE FROM subjects")
        connection.execute("DELETE FROM secrets WHERE name = 'subjects_indexed'")
    connection.close()
    store = SQLitePersonalStore(path)
    await store.open()
    for n in (0, 499, 500, 1000, 1200):  # across the pages
        assert await store.find_subject(subject_key(key, "email", f"client{n}@example.org")) == [
            n + 1
        ]
    await store.close()
