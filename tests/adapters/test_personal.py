"""The personal-data store: sealed beside the journal, and gone for good once erased."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aiguillage.adapters.journal import JournalUnavailable
from aiguillage.adapters.personal import SQLitePersonalStore, digest, seal

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


def sealed(
    interaction_id: int, data: dict[str, Any], stored_at: int = T0
) -> tuple[int, bytes, bytes, int]:
    _, salt, canonical = seal(data)
    return (interaction_id, salt, canonical, stored_at)


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


async def test_stored_data_is_read_back(store: SQLitePersonalStore) -> None:
    data = {"customer": {"name": "Zoé"}, "subject": "retard", "text": "Bus 42"}
    await store.put_many([sealed(1, data), sealed(2, {"text": "autre"})])
    assert await store.get(1) == data
    assert await store.get(3) is None


async def test_the_salt_kept_with_the_data_confirms_the_journal_digest(
    store: SQLitePersonalStore,
) -> None:
    journal_digest, salt, canonical = seal({"text": "Bus 42"})
    await store.put_many([(1, salt, canonical, T0)])
    stored_salt = await store.salt(1)
    assert stored_salt is not None
    assert digest(stored_salt, canonical) == journal_digest


async def test_data_put_again_replaces_the_old(store: SQLitePersonalStore) -> None:
    await store.put_many([sealed(1, {"text": "first"})])
    await store.put_many([sealed(1, {"text": "second"})])
    assert await store.get(1) == {"text": "second"}


async def test_an_erasure_says_whether_there_was_data(store: SQLitePersonalStore) -> None:
    await store.put_many([sealed(1, {"text": "Bus 42"})])
    assert await store.erase(1) is True
    assert await store.get(1) is None
    assert await store.salt(1) is None
    assert await store.erase(1) is False


@pytest.mark.parametrize("size", [1, 200], ids=["short", "spanning-pages"])
async def test_an_erased_text_is_in_no_file_of_the_directory(path: Path, size: int) -> None:
    store = SQLitePersonalStore(path)
    await store.open()
    text = SECRET * size  # 200 copies overflow a page: the overflow pages are freed too
    neighbours = [sealed(n, {"text": f"voisin {n}" * size}) for n in (1, 3)]
    await store.put_many([*neighbours, sealed(2, {"customer": {"name": SECRET}, "text": text})])
    await store.close()
    assert SECRET.encode() in every_byte_under(path.parent)

    store = SQLitePersonalStore(path)
    await store.open()
    assert await store.erase(2)
    await store.close()
    assert SECRET.encode() not in every_byte_under(path.parent)
    assert b"voisin 1" in every_byte_under(path.parent)


async def test_purge_erases_what_was_stored_before_the_limit(store: SQLitePersonalStore) -> None:
    await store.put_many([sealed(n, {"text": f"t{n}"}, stored_at=T0 + n) for n in range(5)])
    assert await store.purge(before=T0 + 3) == 3
    assert [await store.get(n) for n in range(5)] == [
        None,
        None,
        None,
        {"text": "t3"},
        {"text": "t4"},
    ]
    assert await store.purge(before=T0 + 3) == 0


async def test_a_closed_store_is_unavailable(path: Path) -> None:
    store = SQLitePersonalStore(path)
    with pytest.raises(JournalUnavailable, match="is not open"):
        await store.get(1)
