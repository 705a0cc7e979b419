"""Time a nowcast of the rest of a reference day, and the daemon's offers while one runs.

(a) The nowcast alone, in this process pinned to one CPU: the reference deployment's Tuesday
    2027-01-05 simulated from midnight to 10:00 (its image and its figures so far), then
    ``simulations.nowcast`` of the rest of the day with ``--replications`` replications (20 by
    default), as is only and with the configuration's what-ifs; ``--repeat`` times each, the
    median and the slowest printed. Aim: under 5 s for 20 replications as is.
(b) The daemon (``aiguillage serve`` on the reference configuration, pinned to one CPU, as in
    ``benchmarks/daemon.py``) times arrival to offer on an advisor's WebSocket, one at a time,
    ``--offers`` times: first idle, then while ``POST /v1/nowcast`` is called back to back (its
    worker process inherits the daemon's CPU, at a lower priority: the worst case for the
    offers; ``GET /v1/nowcast`` is polled every 250 ms to ask for the next as soon as one is
    out), the offers then in rounds of 20 half a second apart so that they span several
    nowcasts. Prints count, median, p99 and max of each, and the nowcasts made meanwhile. The
    probe's interactions are the day's arrivals too: the nowcast reads them as traffic above
    the plan and simulates a busier rest of the day than the reference's (a heavier nowcast).

    python benchmarks/nowcast.py [--replications N] [--repeat K] [--offers M] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).parent))
from daemon import ADMIN, ADVISOR, ADVISOR_ID, Daemon, OfferClock, cpus, summary
from measure import machine

from aiguillage.adapters.cli.simulate import deployment_of
from aiguillage.adapters.config.settings import default_config_path, load_config
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import from_datetime
from aiguillage.simulations.nowcast import NowcastRequest, nowcast
from aiguillage.simulations.nowcast_calibration import replay_day
from aiguillage.simulations.scenario import Surge

DAY = date(2027, 1, 5)
ROUND, PAUSE_S = 20, 0.5
"""While nowcasting, offers go in rounds of 20 half a second apart (see the module)."""


def time_nowcast(replications: int, repeat: int) -> dict[str, Any]:
    loaded = load_config(default_config_path())
    deployment = deployment_of(loaded)
    calendar = BusinessCalendar(deployment.policies.calendar)
    ten = from_datetime(datetime.combine(DAY, clock(10), calendar.zone))
    calm = Surge(
        channel="voice", start=datetime.combine(DAY, clock(8), calendar.zone), hours=1, factor=1
    )
    image, so_far, _ = replay_day(deployment, calendar, DAY, calm, 1, ten, None)
    request = NowcastRequest(
        image=image,
        now=ten,
        scenario=deployment.scenario,
        teams={c.advisor_id: t for c, t in deployment.roster if t is not None},
        so_far=dict(so_far),
        replications=replications,
        seed=1,
    )
    results: dict[str, Any] = {"image_bytes": len(image)}
    what_ifs = loaded.settings.nowcast.what_ifs
    for label, asked in (
        ("as_is", request),
        ("with_what_ifs", msgspec.structs.replace(request, what_ifs=what_ifs)),
    ):
        seconds = []
        for _ in range(repeat):
            started = time.perf_counter()
            nowcast(asked)
            seconds.append(time.perf_counter() - started)
        results[label] = {
            "variants": 1 + len(asked.what_ifs),
            "median_s": statistics.median(seconds),
            "max_s": max(seconds),
        }
    return results


async def offers_with_and_without(directory: Path, offers: int) -> dict[str, Any]:
    daemon_cpu, _ = cpus()
    daemon = Daemon(directory, daemon_cpu, "warning", lease_s=10.0)
    try:
        idle = await OfferClock(daemon, ADVISOR_ID, ADVISOR, "general").run(offers)
        stop = asyncio.Event()
        made: list[float] = []

        async def keep_nowcasting() -> None:
            """Ask for a nowcast as soon as the last one is out, and time each."""
            async with httpx.AsyncClient(base_url=daemon.url, timeout=30) as http:
                auth = {"Authorization": f"Bearer {ADMIN}"}
                while not stop.is_set():
                    started = time.perf_counter()
                    asked = (await http.post("/v1/nowcast", headers=auth)).json()
                    while not stop.is_set():
                        await asyncio.sleep(0.25)
                        latest = await http.get("/v1/nowcast", headers=auth)
                        if latest.status_code == 200 and latest.json()["at"] != asked["latest_at"]:
                            made.append(time.perf_counter() - started)
                            break

        nowcasting = asyncio.create_task(keep_nowcasting())
        await asyncio.sleep(1.0)  # the worker process is spawned and busy
        # Rounds of offers with pauses between, so that they span several nowcasts.
        samples: list[float] = []
        missing = 0
        while len(samples) + missing < offers:
            clock = OfferClock(daemon, ADVISOR_ID, ADVISOR, "general")
            await clock.run(min(ROUND, offers - len(samples) - missing))
            samples += clock.offers
            missing += clock.missing
            await asyncio.sleep(PAUSE_S)
        busy = summary(samples) | {"missing": missing}
        stop.set()
        await nowcasting
        return {
            "idle": idle,
            "while_nowcasting": busy,
            "nowcasts_made": len(made),
            "nowcast_request_median_s": statistics.median(made) if made else None,
        }
    finally:
        daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--offers", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    run: dict[str, Any] = {"machine": machine(), "command": " ".join(["python", *sys.argv])}
    mine = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {mine[-1]})  # (a) on one CPU, the last (the daemon gets the first)
    run["nowcast"] = time_nowcast(args.replications, args.repeat)
    os.sched_setaffinity(0, set(mine))
    with tempfile.TemporaryDirectory(prefix="aiguillage-nowcast-") as directory:
        run["daemon"] = asyncio.run(offers_with_and_without(Path(directory), args.offers))
    if args.json:
        print(json.dumps(run, indent=2))
        return
    timed = run["nowcast"]
    print(f"machine: {run['machine']['cpu']} ({run['machine']['cpu_count']} CPUs)")
    print(
        f"(a) nowcast of 2027-01-05 from 10:00 to midnight, {args.replications} replications,"
        " one CPU:"
    )
    for label in ("as_is", "with_what_ifs"):
        row = timed[label]
        print(
            f"    {label.replace('_', ' ')} ({row['variants']} variants): median "
            f"{row['median_s']:.2f} s, slowest {row['max_s']:.2f} s"
        )
    daemon = run["daemon"]
    print("(b) arrival to offer on the daemon's WebSocket:")
    for label in ("idle", "while_nowcasting"):
        row = daemon[label]
        print(
            f"    {label.replace('_', ' ')}: count {row['count']}, "
            f"median {row['median_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, "
            f"max {row['max_ms']:.1f} ms, missing {row['missing']}"
        )
    print(
        f"    nowcasts made meanwhile: {daemon['nowcasts_made']} "
        f"(median {daemon['nowcast_request_median_s'] or 0:.1f} s from asking to served)"
    )


if __name__ == "__main__":
    main()
