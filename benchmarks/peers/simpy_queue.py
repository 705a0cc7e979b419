"""Model the queue of ``aiguillage simulate queue`` in SimPy and print the same figures.

Poisson arrivals at ``--rate-per-hour``, exponential handling of mean ``--aht`` seconds,
``--agents`` servers, first come first served, nobody hangs up: M/M/c. Written as SimPy's
documentation writes models: a generator process per caller that requests a ``Resource``, and
a source process that starts one caller after each exponential gap. The run ends when the
``--arrivals``-th caller has been served (no event left). Draws come from one
``random.Random(seed)`` passed in, never from the global generator.

Prints one JSON object: offered, answered, service_level (answered within ``--target`` over
offered), asa_s (mean wait of answered) and occupancy (busy time over agents times the time
from the first arrival to the last departure), as ``aiguillage simulate queue --json`` does.

    python benchmarks/peers/simpy_queue.py --rate-per-hour 120 --aht 240 --agents 10 \\
        --target 180 --arrivals 200000 [--seed 1]
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass, field

import simpy


@dataclass
class Tally:
    """What the callers record as they go: waits, busy time, first arrival."""

    waits: list[float] = field(default_factory=list)
    busy: float = 0.0
    first_arrival: float | None = None


def caller(
    env: simpy.Environment,
    advisors: simpy.Resource,
    rng: random.Random,
    aht_s: float,
    tally: Tally,
) -> Generator[simpy.Event, object, None]:
    """Wait for a free advisor, then hold them for an exponential handling time."""
    arrived = env.now
    with advisors.request() as request:
        yield request
        tally.waits.append(env.now - arrived)
        handling = rng.expovariate(1 / aht_s)
        yield env.timeout(handling)
        tally.busy += handling


def source(
    env: simpy.Environment,
    advisors: simpy.Resource,
    rng: random.Random,
    rate_per_s: float,
    aht_s: float,
    arrivals: int,
    tally: Tally,
) -> Generator[simpy.Event, object, None]:
    """Start ``arrivals`` callers, one after each exponential gap."""
    for _ in range(arrivals):
        yield env.timeout(rng.expovariate(rate_per_s))
        if tally.first_arrival is None:
            tally.first_arrival = env.now
        env.process(caller(env, advisors, rng, aht_s, tally))


def run(
    *, rate_per_hour: float, aht_s: float, agents: int, target_s: float, arrivals: int, seed: int
) -> dict[str, float]:
    """Simulate until every caller has been served and return the figures."""
    rng = random.Random(seed)
    env = simpy.Environment()
    advisors = simpy.Resource(env, capacity=agents)
    tally = Tally()
    env.process(source(env, advisors, rng, rate_per_hour / 3600, aht_s, arrivals, tally))
    env.run()  # until no event is left: the last caller has hung up after service
    span = env.now - (tally.first_arrival or 0.0)
    answered = len(tally.waits)
    return {
        "offered": arrivals,
        "answered": answered,
        "service_level": sum(w <= target_s for w in tally.waits) / arrivals,
        "asa_s": sum(tally.waits) / answered if answered else 0.0,
        "occupancy": tally.busy / (agents * span) if span > 0 else 0.0,
    }


if __name__ == "__main__":
    from queue_cli import main  # beside this file when run as a script

    main(run, __doc__.splitlines()[0])
