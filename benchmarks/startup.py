"""Time the command line's start: ``--help`` and short commands, each as a whole process.

Each command runs ``--runs`` times (after one run not counted) as a subprocess of the installed
``aiguillage`` script, timed from outside with ``time.perf_counter`` (interpreter start and
imports included), and prints the median wall time and the median CPU time (user + system, the
child's rusage), which a loaded machine inflates less than the wall time. Then the median
import time of the command line's root and of ``cli.simulate`` (``python -X importtime``), and
``python -c pass`` as the floor any command pays. The aim is under 0.3 s of wall time for
``--help`` and the short commands; ``simulate queue`` is the one ``benchmarks/simulate.py``
times against SimPy and Ciw.

    python benchmarks/startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import machine

AIM_S = 0.3
QUEUE = "--rate-per-hour 120 --aht 240 --agents 10 --target 180 --arrivals 100 --json"
COMMANDS = [
    "--help",
    "--version",
    "simulate --help",
    f"simulate queue {QUEUE}",
    "staff --help",
    "serve --help",
    "check-config",
]
"""The commands timed, after ``aiguillage``; ``check-config`` reads the reference configuration."""
MODULES = ["aiguillage.adapters.cli.main", "aiguillage.adapters.cli.simulate"]


def time_process(argv: list[str], runs: int) -> tuple[float, float]:
    """The median wall time and median CPU time (user + system) of ``runs`` runs of ``argv``."""
    walls, cpus = [], []
    for run in range(runs + 1):
        before = os.times()
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - started
        after = os.times()
        if run:  # the first run fills the file cache and writes the bytecode
            walls.append(wall)
            cpus.append(
                after.children_user
                - before.children_user
                + after.children_system
                - before.children_system
            )
    return statistics.median(walls), statistics.median(cpus)


def import_time(module: str, runs: int) -> float:
    """The median time ``python -X importtime`` gives for importing ``module``, in seconds."""
    times = []
    for _ in range(runs):
        report = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        last = next(line for line in reversed(report.splitlines()) if line.endswith(f"| {module}"))
        times.append(int(last.split("|")[1]) / 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (median)")
    runs = parser.parse_args().runs
    script = Path(sys.executable).with_name("aiguillage")
    print(f"machine: {machine()}")
    print(f"{runs} runs each, median; aim {AIM_S} s of wall time")
    print(f"{'command':<70} {'wall':>8} {'cpu':>8}")
    floor, floor_cpu = time_process([sys.executable, "-c", "pass"], runs)
    print(f"{'python -c pass (the floor)':<70} {floor:>7.3f}s {floor_cpu:>7.3f}s")
    for command in COMMANDS:
        wall, cpu = time_process([str(script), *command.split()], runs)
        verdict = "" if wall < AIM_S else "  over the aim"
        print(f"{'aiguillage ' + command:<70} {wall:>7.3f}s {cpu:>7.3f}s{verdict}")
    for module in MODULES:
        print(f"import {module:<63} {import_time(module, runs):>7.3f}s")
    print(f"load average after: {[round(x, 2) for x in os.getloadavg()]}")


if __name__ == "__main__":
    main()
