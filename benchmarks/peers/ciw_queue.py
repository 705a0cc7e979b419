"""Model the queue of ``aiguillage simulate queue`` in Ciw and print the same figures.

Poisson arrivals at ``--rate-per-hour``, exponential handling of mean ``--aht`` seconds,
``--agents`` servers, first come first served (Ciw's default discipline), nobody hangs up:
M/M/c. Written as Ciw's documentation writes models: a ``Network`` from ``create_network``
with exponential arrival and service distributions, a ``Simulation`` run with
``simulate_until_max_customers`` until ``--arrivals`` customers have completed service, then
the flat records. Ciw draws from the global ``random`` module, so ``ciw.seed`` is its only way
to seed a run; this is its documented usage, kept here on purpose. Time is in seconds.

Prints one JSON object: offered, answered, service_level (answered within ``--target`` over
offered), asa_s (mean wait of answered) and occupancy (busy time over agents times the time
from the first arrival to the last departure), as ``aiguillage simulate queue --json`` does.
Ciw stops at the N-th completion, so the few callers still in the system then are left out:
with N in the thousands that changes nothing visible.

    python benchmarks/peers/ciw_queue.py --rate-per-hour 120 --aht 240 --agents 10 \\
        --target 180 --arrivals 200000 [--seed 1]
"""

from __future__ import annotations

import argparse
import json

import ciw


def run(
    *, rate_per_hour: float, aht_s: float, agents: int, target_s: float, arrivals: int, seed: int
) -> dict[str, float]:
    """Simulate until ``arrivals`` customers have been served and return the figures."""
    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=rate_per_hour / 3600)],
        service_distributions=[ciw.dists.Exponential(rate=1 / aht_s)],
        number_of_servers=[agents],
    )
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_customers(arrivals, method="Complete")
    records = [r for r in simulation.get_all_records() if r.record_type == "service"]
    waits = [r.waiting_time for r in records]
    span = max(r.exit_date for r in records) - min(r.arrival_date for r in records)
    answered = len(records)
    return {
        "offered": answered,
        "answered": answered,
        "service_level": sum(w <= target_s for w in waits) / answered,
        "asa_s": sum(waits) / answered,
        "occupancy": sum(r.service_time for r in records) / (agents * span) if span > 0 else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-per-hour", type=float, required=True)
    parser.add_argument("--aht", type=float, required=True, help="mean handling time, seconds")
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--target", type=float, required=True, help="seconds")
    parser.add_argument("--arrivals", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.rate_per_hour <= 0 or args.aht <= 0 or args.agents < 1 or args.arrivals < 1:
        parser.error("rate, handling time, agents and arrivals must be positive")
    figures = run(
        rate_per_hour=args.rate_per_hour,
        aht_s=args.aht,
        agents=args.agents,
        target_s=args.target,
        arrivals=args.arrivals,
        seed=args.seed,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
