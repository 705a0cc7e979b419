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


if __name__ == "__main__":
    from queue_cli import main  # beside this file when run as a script

    main(run, __doc__.splitlines()[0])
