"""Time the simulator: a year of the reference deployment, and one queue beside SimPy and Ciw.

(a) One year (365 days) of the reference deployment (``config.toml``: its roster on shift, its
scenario's traffic in all three channels) through the real engine, in this process: the wall
time of ``simulations.run.simulate`` alone (loading the configuration is not timed) and the
interactions it handled.

(b) One M/M/c voice queue (120 calls an hour, 240 s mean handling, 10 advisors, target 180 s,
``--arrivals`` calls, seed 1), each run as a whole process, timed from outside with
``time.perf_counter`` around ``subprocess.run`` (interpreter start and imports included): our
``aiguillage simulate queue --json``, which pushes every call through ``Engine.handle``, then
the same queue written idiomatically in SimPy (``benchmarks/peers/simpy_queue.py``) and in Ciw
(``benchmarks/peers/ciw_queue.py``). Prints each one's wall time, arrivals per second and how
many times less or more time each peer takes than ours; then the figures each printed, beside
the Erlang C formula, to show the three model the same queue: they differ only by their random
draws (at 200,000 calls, a few thousandths of service level and a second or two of ASA). A peer
that is not installed is said so and skipped.

    pip install -e '.[peers]'
    python benchmarks/simulate.py [--arrivals 200000] [--repeat 1] [--skip-year]

It says whether the engine it imports is the pure-Python one or the compiled build (setup.py);
run it from each build's environment to compare them.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiguillage.adapters.cli.simulate import deployment_of
from aiguillage.adapters.config.settings import default_config_path, load_config
from aiguillage.simulations.run import simulate

PEERS = Path(__file__).resolve().parent / "peers"
QUEUE = {"rate-per-hour": 120, "aht": 240, "agents": 10, "target": 180}
SEED = 1


@dataclass(frozen=True)
class Contender:
    """One program that simulates the queue: its name, command line and what it needs."""

    name: str
    command: list[str]
    needs: str | None = None
    """The package it imports, checked before running; ``None`` for ours."""


@dataclass(frozen=True)
class Timing:
    """The best wall time over the repeats, and the figures the last run printed."""

    wall_s: float
    figures: dict[str, object]


def build() -> str:
    """Say whether the engine was compiled with mypyc (setup.py) or runs interpreted."""
    import aiguillage.engine.engine as engine

    if engine.__file__ is not None and not engine.__file__.endswith(".py"):
        return "compiled with mypyc (AIGUILLAGE_COMPILE=1, setup.py)"
    return "pure Python (for the compiled build: setup.py, AIGUILLAGE_COMPILE=1)"


def time_year(repeat: int) -> None:
    path = default_config_path()
    deployment = deployment_of(load_config(path))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = simulate(deployment, days=365)
        best = min(best, time.perf_counter() - started)
    handled = sum(channel.offered for channel in result.channels)
    per_channel = ", ".join(f"{c.channel} {c.offered:,}" for c in result.channels)
    print(
        f"(a) one year of the reference deployment ({path}, {len(deployment.roster)} advisors, "
        f"seed {deployment.scenario.seed}) through the engine: {best:.2f} s"
    )
    print(f"    {handled:,} interactions ({per_channel}): {handled / best:,.0f} per second")


def time_queue(contender: Contender, repeat: int) -> Timing:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(contender.command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{contender.name} failed ({done.returncode}):\n{done.stderr}")
        best = min(best, wall)
    return Timing(wall_s=best, figures=json.loads(done.stdout))


def compare(arrivals: int, repeat: int) -> None:
    flags = [f"--{name}={value}" for name, value in QUEUE.items()]
    flags += [f"--arrivals={arrivals}", f"--seed={SEED}"]
    python = sys.executable
    ours = [python, "-m", "aiguillage.adapters.cli.main", "simulate", "queue", *flags, "--json"]
    contenders = [
        Contender("engine", ours),
        Contender("SimPy", [python, str(PEERS / "simpy_queue.py"), *flags], needs="simpy"),
        Contender("Ciw", [python, str(PEERS / "ciw_queue.py"), *flags], needs="ciw"),
    ]
    described = ", ".join(f"{name} {value}" for name, value in QUEUE.items())
    print(f"(b) one queue, M/M/c: {described}, {arrivals:,} arrivals, seed {SEED}; whole process")
    timings: dict[str, Timing] = {}
    for contender in contenders:
        if contender.needs and importlib.util.find_spec(contender.needs) is None:
            print(f"    {contender.name:>6}: not installed, skipped (pip install -e '.[peers]')")
            continue
        timing = time_queue(contender, repeat)
        timings[contender.name] = timing
        made_by = (
            f"{contender.needs} {importlib.metadata.version(contender.needs)}"
            if contender.needs
            else "aiguillage simulate queue"
        )
        print(
            f"    {contender.name:>6}: {timing.wall_s:6.2f} s, "
            f"{arrivals / timing.wall_s:>9,.0f} arrivals per second  ({made_by})"
        )
    engine = timings.get("engine")
    if engine is None:
        return
    for name, timing in timings.items():
        if name == "engine":
            continue
        ratio = engine.wall_s / timing.wall_s
        if ratio >= 1:
            said = f"{ratio:.1f} times less time than the engine"
        else:
            said = f"{1 / ratio:.1f} times more time than the engine"
        print(f"    engine/{name} = {ratio:.2f}: {name} takes {said}")

    rows = [(name, timing.figures) for name, timing in timings.items()]
    formula = engine.figures.get("formula")
    if isinstance(formula, dict):
        rows.append(("Erlang C", formula))
    print(f"    {'':>8}  {'offered':>8}  {'SL':>7}  {'ASA, s':>7}  {'occupancy':>9}")
    for name, figures in rows:
        offered, level, asa, busy = (
            figures.get(key) for key in ("offered", "service_level", "asa_s", "occupancy")
        )
        print(f"    {name:>8}  {offered or '-'!s:>8}  {level:7.4f}  {asa:7.2f}  {busy:9.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrivals", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1, help="keep the best of N runs")
    parser.add_argument("--skip-year", action="store_true", help="time the queue only")
    args = parser.parse_args()
    if args.arrivals < 1 or args.repeat < 1:
        parser.error("--arrivals and --repeat must be at least 1")
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(f"build: {build()}")
    if not args.skip_year:
        time_year(args.repeat)
    compare(args.arrivals, args.repeat)


if __name__ == "__main__":
    main()
