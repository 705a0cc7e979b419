"""The personal-data store: sealed beside the journal, and gone for good once erased."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiguillage.adapters.stores.journal import JournalUnavailable
from aiguillage.adapters.stores.personal import (
    digest,
    keyed_id,
    opened,
    seal,
    sealed,
)
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore

pytestmark = pytest.mark.anyio

T0 = 1_796_112_000_000_000
SECRET = "Zéphyrine Quincampoix-Ardouin, 12 impasse des Lilas"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.personal.sqlite"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SQLitePersonalStore]:
    store = SQLitePersonalStore(path)
    await store.open()
    yield store
    await store.close()


def every_byte_under(directory: Path) -> bytes:
    return b"".join(file.read_bytes() for file in sorted(directory.rglob("*")) if file.is_file())


def test_a_seal_is_the_hmac_of_the_canonical_json_keyed_by_its_salt() -> None:
    data = {"text": "Mon bus n'est pas passé", "customer": {"name": "Zoé", "email": "z@x.fr"}}
    sealed_digest, salt, canonical = seal(data)
    assert len(salt) == 16
    assert (
        canonical
        == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert sealed_digest == hmac.new(salt, canonical, hashlib.sha256).hexdigest()
    assert digest(salt, canonical) == sealed_digest


def test_two_seals_of_the_same_data_give_unrelated_digests() -> None:
    first, first_salt, first_json = seal({"subject": "retard"})
    second, second_salt, second_json = seal({"subject": "retard"})
    assert first_json == second_json
    assert first_salt != second_salt
    assert first != second


async def test_stored_pieces_are_read_back_under_their_interaction(
    store: SQLitePersonalStore,
) -> None:
    first = sealed(1, {"customer": {"name": "Zoé"}, "subject": "retard", "text": "Bus 42"}, T0)
    note = sealed(1, {"note": "rappeler"}, T0 + 1)
    other = sealed(2, {"text": "autre"}, T0)
    await store.put_many([first, other, note])
    assert await store.get(1) == [first, note]
    assert await store.get(3) == []


async def test_the_salt_kept_with_a_piece_confirms_the_journal_digest(
    store: SQLitePersonalStore,
) -> None:
    piece = sealed(1, {"text": "Bus 42"}, T0)
    await store.put_many([piece])
    (stored,) = await store.get(1)
    assert digest(stored.salt, stored.data) == piece.digest


def test_only_pieces_whose_digest_the_journal_holds_are_opened_in_its_order() -> None:
    submission = sealed(1, {"text": "Bus 42"}, T0)
    note = sealed(1, {"note": "rappeler"}, T0)
    orphan = sealed(1, {"text": "another customer's"}, T0)
    forged = submission._replace(data=b'{"text":"changed"}')
    assert opened([orphan, note, submission], [submission.digest, note.digest]) == [
        {"text": "Bus 42"},
        {"note": "rappeler"},
    ]
    assert opened([forged], [submission.digest]) == []


def test_an_external_id_is_keyed_the_same_way_under_one_key_only() -> None:
    key, other = b"k" * 32, b"o" * 32
    message_id = "<20270104.4711.jeanne@example.org>"
    keyed = keyed_id(key, message_id)
    assert keyed == keyed_id(key, message_id)
    assert keyed != keyed_id(other, message_id)
    assert keyed.startswith("keyed:")
    assert "jeanne" not in keyed


async def test_the_external_id_key_is_made_once_and_survives_a_reopen(path: Path) -> None:
    store = SQLitePersonalStore(path)
    await store.open()
    key = await store.external_id_key()
    await store.put_many([sealed(1, {"text": "x"}, T0)])
    assert await store.erase(1)
    await store.close()
    store = SQLitePersonalStore(path)
    await store.open()
    assert await store.external_id_key() == key
    await store.close()


async def test_an_erasure_removes_every_piece_at_the_id(store: SQLitePersonalStore) -> None:
    await store.put_many([sealed(1, {"text": "Bus 42"}, T0), sealed(1, {"note": "n"}, T0)])
    assert await store.erase(1) is True
    assert await store.get(1) == []
    assert await store.erase(1) is False


async def test_a_discard_removes_only_the_pieces_named(store: SQLitePersonalStore) -> None:
    kept, orphan = sealed(4, {"text": "kept"}, T0), sealed(4, {"text": "orphan"}, T0 + 1)
    await store.put_many([kept, orphan])
    assert await store.stored_since(T0 + 1) == [(4, orphan.digest)]
    assert await store.discard([(4, orphan.digest)]) == 1
    assert await store.get(4) == [kept]


async def test_records_of_the_earlier_layout_become_pieces(path: Path) -> None:
    _, salt, data = seal({"text": "written by an earlier version"})
    with sqlite3.connect(path) as connection:
        connection.execute(
            """CREATE TABLE personal (interaction_id INTEGER PRIMARY KEY, salt BLOB, data BLOB,
            stored_at INTEGER)"""
        )
        connection.execute("INSERT INTO personal VALUES (7, ?, ?, ?)", (salt, data, T0))
    store = SQLitePersonalStore(path)
    await store.open()
    try:
        assert await store.get(7) == [(7, digest(salt, data), salt, data, T0)]
    finally:
        await store.close()


@pytest.mark.parametrize("size", [1, 200], ids=["short", "spanning-pages"])
async def test_an_erased_text_is_in_no_file_of_the_directory(path: Path, size: int) -> None:
    store = SQLitePersonalStore(path)
    await store.open()
    text = SECRET * size  # 200 copies overflow a page: the overflow pages are freed too
    neighbours = [sealed(n, {"text": f"voisin {n}" * size}, T0) for n in (1, 3)]
    secret = sealed(2, {"customer": {"name": SECRET}, "text": text}, T0)
    await store.put_many([*neighbours, secret, sealed(2, {"note": SECRET}, T0)])
    await store.close()
    assert SECRET.encode() in every_byte_under(path.parent)

    store = SQLitePersonalStore(path)
    await store.open()
    assert await store.erase(2)
    await store.close()
    assert SECRET.encode() not in every_byte_under(path.parent)
    assert b"voisin 1" in every_byte_under(path.parent)


async def test_purge_erases_what_was_stored_before_the_limit(store: SQLitePersonalStore) -> None:
    pieces = [sealed(n, {"text": f"t{n}"}, T0 + n) for n in range(5)]
    await store.put_many(pieces)
    assert await store.purge(before=T0 + 3) == 3
    assert [await store.get(n) for n in range(5)] == [[], [], [], [pieces[3]], [pieces[4]]]
    assert await store.purge(before=T0 + 3) == 0


async def test_a_closed_store_is_unavailable(path: Path) -> None:
    store = SQLitePersonalStore(path)
    with pytest.raises(JournalUnavailable, match="is not open"):
        await store.get(1)
