"""The command line both peer models share: the flags of ``aiguillage simulate queue``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable


def main(run: Callable[..., dict[str, float]], description: str) -> None:
    """Parse the queue's flags, run the model, print its figures as one JSON object."""
    parser = argparse.ArgumentParser(description=description)
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
