"""Time a data subject's search in the SQLite personal-data store: the index, and the scan that
builds it for pieces stored before it.

Workload: ``--pieces`` submissions (a customer with name, e-mail and phone, a subject, a
300-character text) in a real SQLite file (WAL, ``synchronous=FULL``), stored in batches of 100
as the daemon stores them. Timed: (a) storing them, with the index written beside; (b) the
scan of every piece when a file written before the index is first opened; (c) one search by an
address's keyed digest; (d) one erasure, with its index rows and its checkpoint. Prints the
seconds and pieces per second.

    python benchmarks/subjects.py [--pieces N]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from measure import machine  # noqa: E402

from aiguillage.adapters.stores.personal import sealed  # noqa: E402
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


async def run(pieces: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal.personal.sqlite"
        store = SQLitePersonalStore(path)
        await store.open()
        key = await store.external_id_key()
        started = time.perf_counter()
        for first in range(0, pieces, 100):
            await store.put_many(
                [sealed(n, piece(n), n) for n in range(first, min(first + 100, pieces))]
            )
        stored = time.perf_counter() - started
        await store.close()
        with sqlite3.connect(path) as connection:  # as a file written before the index
            connection.execute("DELETE FROM subjects")
            connection.execute("DELETE FROM secrets WHERE name = 'subjects_indexed'")
        connection.close()
        store = SQLitePersonalStore(path)
        started = time.perf_counter()
        await store.open()
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
    return {
        "pieces": pieces,
        "store_s": round(stored, 3),
        "store_pieces_per_s": round(pieces / stored),
        "first_open_scan_s": round(scanned, 3),
        "scan_pieces_per_s": round(pieces / scanned),
        "search_ms": round(searched * 1000, 3),
        "erase_ms": round(erased * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=20_000)
    figures = anyio.run(run, parser.parse_args().pieces)
    print(json.dumps({"machine": machine(), **figures}, indent=2))


if __name__ == "__main__":
    main()
