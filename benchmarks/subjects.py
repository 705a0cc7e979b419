"""Time a data subject's search in the personal-data store: the index, and the scan that
builds it for pieces stored before it.

Workload: ``--pieces`` submissions (a customer with name, e-mail and phone, a subject, a
300-character text) in a real SQLite file (WAL, ``synchronous=FULL``), or with ``--redis URL``
in a Redis server (a domain of its own, ``bench-<time>``, deleted after), stored in batches of
100 as the daemon stores them. Timed: (a) storing them, with the index written beside; (b) the
scan of every piece when a store written before the index is first opened (what each search
cost on Redis before it had the index); (c) one search by an address's keyed digest; (d) one
erasure, with its index entries (and on SQLite its checkpoint). Prints the seconds and pieces
per second.

    python benchmarks/subjects.py [--pieces N] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from measure import machine  # noqa: E402

from aiguillage.adapters.stores.personal import PersonalStore, sealed  # noqa: E402
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore  # noqa: E402
from aiguillage.adapters.stores.subjects import subject_key  # noqa: E402


def piece(n: int) -> dict[str, object]:
    return {
        "customer": {
            "name": f"Client {n}",
            "email": f"client{n}@example.org",
            "phone": f"06 {n % 100:02d} {n // 100 % 100:02d} 00 00",
        },
        "subject": "Remboursement",
        "text": "x" * 300,
    }


async def run(pieces: int, redis_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        before_index, close = await (
            _on_redis(redis_url) if redis_url else _on_sqlite(Path(directory))
        )
        store = await before_index(None)
        key = await store.external_id_key()
        started = time.perf_counter()
        for first in range(0, pieces, 100):
            await store.put_many(
                [sealed(n, piece(n), n) for n in range(first, min(first + 100, pieces))]
            )
        stored = time.perf_counter() - started
        await store.close()
        started = time.perf_counter()
        store = await before_index(store)  # as a store written before the index, opened
        scanned = time.perf_counter() - started
        wanted = subject_key(key, "email", f"client{pieces // 2}@example.org")
        started = time.perf_counter()
        found = await store.find_subject(wanted)
        searched = time.perf_counter() - started
        assert found == [pieces // 2], found
        started = time.perf_counter()
        await store.erase(pieces // 2)
        erased = time.perf_counter() - started
        await store.close()
        await close()
    return {
        "store": "redis" if redis_url else "sqlite",
        "pieces": pieces,
        "store_s": round(stored, 3),
        "store_pieces_per_s": round(pieces / stored),
        "first_open_scan_s": round(scanned, 3),
        "scan_pieces_per_s": round(pieces / scanned),
        "search_ms": round(searched * 1000, 3),
        "erase_ms": round(erased * 1000, 3),
    }


Opener = Callable[[PersonalStore | None], Awaitable[PersonalStore]]


async def _on_sqlite(directory: Path) -> tuple[Opener, Callable[[], Awaitable[None]]]:
    path = directory / "journal.personal.sqlite"

    async def opened(earlier: PersonalStore | None) -> PersonalStore:
        if earlier is not None:  # its index and its mark gone, as an earlier version left it
            with sqlite3.connect(path) as connection:
                connection.execute("DELETE FROM subjects")
                connection.execute("DELETE FROM secrets WHERE name = 'subjects_indexed'")
            connection.close()
        store = SQLitePersonalStore(path)
        await store.open()
        return store

    async def close() -> None:
        pass

    return opened, close


async def _on_redis(url: str) -> tuple[Opener, Callable[[], Awaitable[None]]]:
    from aiguillage.adapters.stores.redis.journal import RedisJournal
    from aiguillage.adapters.stores.redis.personal import RedisPersonalStore

    journal = RedisJournal(url, domain=f"bench-{time.time_ns()}")
    await journal.open()
    client = journal.connection()
    pattern = journal.keys.subjects.removesuffix("subjects") + "*"

    async def opened(earlier: PersonalStore | None) -> PersonalStore:
        if earlier is not None:  # its index and its mark gone, as an earlier version left it
            index = [k async for k in client.scan_iter(pattern, count=1000) if b"subjects" in k]
            await client.delete(journal.keys.personal_indexed, *index)
        store = RedisPersonalStore(journal)
        await store.open()
        return store

    async def close() -> None:
        keys = [k async for k in client.scan_iter(pattern, count=1000)]
        for first in range(0, len(keys), 1000):
            await client.delete(*keys[first : first + 1000])
        await journal.close()

    return opened, close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=20_000)
    parser.add_argument("--redis", help="a Redis server's URL: time the Redis store instead")
    arguments = parser.parse_args()
    figures = anyio.run(run, arguments.pieces, arguments.redis)
    print(json.dumps({"machine": machine(), **figures}, indent=2))


if __name__ == "__main__":
    main()
