"""What the daily retention pass and the reversibility export cost on a year's data.

Retention: a SQLite personal-data store is filled with ``--pieces`` pieces spread over
``--days`` days (a submission's text, one in ``--attached-every`` with an attachment of
``--attachment-kb`` kB in base64, as the web form stores it), and the pass of
``[retention]`` (messages 365 days, attachments ``--attachments-days``) is timed twice: counting
only (``aiguillage retention``), then removing (the daemon's daily pass). The pass reads every
piece between the two cut-offs, a page at a time: its cost grows with what the attachments'
shorter period looks at, not with the whole store.

Export: ``aiguillage simulate`` writes ``--simulated-days`` days of the reference deployment as a
journal, and ``export-all`` then ``export-all verify`` are timed on it (records a second).

    python benchmarks/retention.py [--pieces 50000] [--days 400] [--simulated-days 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from aiguillage.adapters.config.retention import RetentionDays
from aiguillage.adapters.stores.personal import sealed
from aiguillage.adapters.stores.retention import DAY, retention_pass
from aiguillage.adapters.stores.sqlite.personal import SQLitePersonalStore

NOW = 1_830_000_000_000_000
ROOT = Path(__file__).resolve().parents[1]


async def retention(arguments: argparse.Namespace, directory: Path) -> None:
    store = SQLitePersonalStore(directory / "journal.personal.sqlite")
    await store.open()
    attachment = "A" * (arguments.attachment_kb * 1024 * 4 // 3)
    batch = []
    for n in range(arguments.pieces):
        stored_at = NOW - int(n / arguments.pieces * arguments.days * DAY)
        data: dict[str, object] = {"text": f"Réclamation {n}: le bus 42 n'est pas passé."}
        if n % arguments.attached_every == 0:
            data["attachments"] = [{"name": "photo.jpg", "size": 1, "data": attachment}]
        batch.append(sealed(n + 1, data, stored_at))
        if len(batch) == 1000:
            await store.put_many(batch)
            batch = []
    await store.put_many(batch)
    size = (directory / "journal.personal.sqlite").stat().st_size
    print(f"personal-data store: {arguments.pieces} pieces, {size / 1e6:.0f} MB")
    days = RetentionDays(365, arguments.attachments_days, None, 365)
    for apply in (False, True):
        started = time.perf_counter()
        removals = await retention_pass(days, NOW, store, None, apply=apply)
        took = time.perf_counter() - started
        counts = ", ".join(f"{r.category} {r.removed}" for r in removals[:2])
        print(f"retention pass ({'removing' if apply else 'counting'}): {took:.2f} s ({counts})")
    started = time.perf_counter()
    removals = await retention_pass(days, NOW, store, None)
    took = time.perf_counter() - started
    print(f"retention pass the next day (nothing to remove): {took:.2f} s")
    await store.close()


def export(arguments: argparse.Namespace, directory: Path) -> None:
    journal = directory / "simulated.sqlite"
    cli = [sys.executable, "-m", "aiguillage.adapters.cli.main"]
    config = str(ROOT / "config.toml")
    subprocess.run(
        [*cli, "simulate", "--config", config, "--days", str(arguments.simulated_days),
         "--journal", str(journal)],
        check=True, capture_output=True, cwd=directory,
    )  # fmt: skip
    output = directory / "export"
    started = time.perf_counter()
    subprocess.run(
        [*cli, "export-all", "--config", config, "--store", f"sqlite:///{journal}",
         "--output", str(output)],
        check=True, capture_output=True, cwd=directory,
    )  # fmt: skip
    wrote = time.perf_counter() - started
    records = sum(1 for _ in (output / "journal.jsonl").open())
    size = sum(f.stat().st_size for f in output.iterdir())
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-I", str(output / "verify_export.py"), str(output)],
        check=True, capture_output=True, cwd=directory,
    )  # fmt: skip
    checked = time.perf_counter() - started
    print(
        f"export of {arguments.simulated_days} simulated days: {records} records, "
        f"{size / 1e6:.1f} MB, written in {wrote:.1f} s ({records / wrote:,.0f} records/s, "
        f"process start included), verified in {checked:.1f} s ({records / checked:,.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--attached-every", type=int, default=10)
    parser.add_argument("--attachment-kb", type=int, default=50)
    parser.add_argument("--attachments-days", type=int, default=90)
    parser.add_argument("--simulated-days", type=int, default=30)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        anyio.run(retention, arguments, directory)
        export(arguments, directory)
    print(f"({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
