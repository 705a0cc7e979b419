"""Time the access log of a SQLite journal: what a recorded read costs, alone and batched.

Workload: reads of personal data by supervisors' tokens, written to the access log of a real
SQLite journal file (WAL, ``synchronous=FULL``, as the daemon writes it). Timed: (a) one entry
per durable append, as a lone reader pays it; (b) a page of ``--page`` entries per append, as a
list of interactions read together pays it; (c) a verification of the whole log, ``--entries``
entries, read-only as ``aiguillage replay --verify`` does; (d) a retention trim of its older
half. Prints entries per second and the time per append.

    python benchmarks/access_log.py [--single N] [--page P] [--entries E] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from measure import machine  # noqa: E402

from aiguillage.adapters.stores.access_log import AccessEntry  # noqa: E402
from aiguillage.adapters.stores.actors import Actor  # noqa: E402
from aiguillage.adapters.stores.sqlite.access_log import (  # noqa: E402
    SQLiteAccessLog,
    verify_access_file,
)
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal  # noqa: E402

T0 = 1_796_112_000_000_000
SECOND = 1_000_000


def entry(i: int) -> AccessEntry:
    reader = Actor("token", str(i % 40), "supervisor")
    route = f"GET /v1/interactions/{i}/personal-data"
    return AccessEntry(T0 + i * SECOND, reader, i, route, "2026-12-05")


async def run(path: Path, single: int, page: int, entries: int) -> dict[str, float]:
    journal = SQLiteJournal(path)
    await journal.open()
    log = SQLiteAccessLog(path)
    await log.open()
    figures: dict[str, float] = {}
    try:
        started = time.perf_counter()
        for i in range(single):
            await log.append([entry(i)])
        took = time.perf_counter() - started
        figures["single_ms_per_append"] = 1000 * took / single
        figures["single_entries_per_s"] = single / took
        done = single
        started = time.perf_counter()
        appends = 0
        while done < entries:
            count = min(page, entries - done)
            await log.append([entry(done + i) for i in range(count)])
            done += count
            appends += 1
        took = time.perf_counter() - started
        figures["page_ms_per_append"] = 1000 * took / max(appends, 1)
        figures["page_entries_per_s"] = (entries - single) / took
    finally:
        await log.close()
    started = time.perf_counter()
    verified = verify_access_file(path)
    figures["verify_s"] = time.perf_counter() - started
    if verified is None or not verified.ok:
        raise SystemExit(f"the access log does not verify: {verified}")
    figures["verified_entries"] = verified.checked
    log = SQLiteAccessLog(path)
    await log.open()
    try:
        started = time.perf_counter()
        figures["trimmed_entries"] = await log.trim(T0 + (entries // 2) * SECOND)
        figures["trim_s"] = time.perf_counter() - started
        assert (await log.verify()).ok
    finally:
        await log.close()
        await journal.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = options.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "journal.sqlite"
        figures = anyio.run(run, path, options.single, options.page, options.entries)
    print(json.dumps({"machine": machine(), **figures}, indent=2))


if __name__ == "__main__":
    main()
