"""Compare routing strategies on the reference deployment, same seeds, same traffic.

For each strategy (``deadline``: penalty-weighted urgency across channels; ``fifo``: the longest
waiting first), run the reference deployment for ``--days`` days at ``--factor`` times its
yearly volumes, over ``--seeds`` seeds, and print breaches, penalties and service level per
channel, summed (breaches, penalties) or averaged (service level) over the seeds.

    python benchmarks/strategies.py [--factor 2.5] [--days 14] [--seeds 3]
"""

from __future__ import annotations

import argparse
import dataclasses

import msgspec

from aiguillage.adapters.cli.simulate import deployment_of
from aiguillage.adapters.config.settings import default_config_path, load_config
from aiguillage.engine.routing import STRATEGIES
from aiguillage.simulations.run import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=float, default=2.5)
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    reference = deployment_of(load_config(default_config_path()))
    scenario = msgspec.structs.replace(
        reference.scenario,
        volumes={s: round(v * args.factor) for s, v in reference.scenario.volumes.items()},
    )
    deployment = dataclasses.replace(reference, scenario=scenario)
    print(
        f"reference deployment, {args.days:g} days, traffic x{args.factor:g}, seeds 1-{args.seeds}"
    )
    for strategy in sorted(STRATEGIES):
        totals: dict[str, list[float]] = {}
        for seed in range(1, args.seeds + 1):
            for channel in simulate(
                deployment, days=args.days, seed=seed, strategy=strategy
            ).channels:
                row = totals.setdefault(channel.channel, [0, 0.0, 0.0])
                row[0] += channel.breaches
                row[1] += channel.penalties_eur
                row[2] += channel.service_level / args.seeds
        cells = ", ".join(
            f"{name} {row[0]:.0f} breaches {row[1]:,.0f} EUR SL {row[2]:.1%}"
            for name, row in totals.items()
        )
        penalties = sum(row[1] for row in totals.values())
        print(f"{strategy:>9}: {cells}; penalties in all {penalties:,.0f} EUR")


if __name__ == "__main__":
    main()
