"""Time what the quality routes read: the journal scanned to draw a sample and to list audits.

Workload: a year at the tender's volumes, about 205,000 interactions (40,000 calls, 45,000
complaints, 120,000 social messages), each arrived and closed by one of 40 advisors, as
journal records in memory (the store's read is timed by ``benchmarks/reports.py``); a month's
sample drawn from it, 5 per advisor and channel, scored, and 10,000 customer ratings.

Timed: (a) finding the month's closed work in the year's records (``closed_between``), (b)
the draw, (c) following the year's records for the audits so far (``Audits``, what
``GET /v1/audits`` and a scoring read), (d) the month's quality figures (``QualityReader`` and
``month_quality``). Each route pays (a) or (c) once per request: they are the cost to watch.

    python benchmarks/quality.py [--interactions N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from measure import machine  # noqa: E402

from aiguillage.adapters.reports.audits import Audits, closed_between, draw  # noqa: E402
from aiguillage.adapters.reports.month_quality import QualityReader, month_quality  # noqa: E402
from aiguillage.adapters.stores.journal import Record  # noqa: E402
from aiguillage.engine.events import (  # noqa: E402
    AuditDrawn,
    AuditScored,
    Event,
    InteractionArrived,
    InteractionClosed,
    SatisfactionRecorded,
)
from aiguillage.engine.instants import SECOND, from_datetime  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
YEAR = from_datetime(datetime(2027, 1, 1, tzinfo=PARIS))
MARCH = from_datetime(datetime(2027, 3, 1, tzinfo=PARIS))
APRIL = from_datetime(datetime(2027, 4, 1, tzinfo=PARIS))
CHANNELS = (("voice", "phone", 40), ("written", "email", 45), ("social", "x", 120))


def year(interactions: int, generator: random.Random) -> list[Record]:
    events: list[Event] = []
    total = sum(share for *_, share in CHANNELS)
    span = 365 * 86_400 * SECOND
    for number in range(1, interactions + 1):
        pick = generator.uniform(0, total)
        for channel, source, share in CHANNELS:  # noqa: B007
            if pick < share:
                break
            pick -= share
        at = YEAR + number * span // interactions
        events.append(
            InteractionArrived(
                at=at,
                interaction_id=number,
                channel=channel,  # type: ignore[arg-type]
                source=source,
                external_id=f"e{number}",
                motive=None,
                language="fr",
                skills={},
                priority=0,
                typology=None,
                received_at=at,
                deadline=at + 180 * SECOND,
                warning_at=at + 120 * SECOND,
            )
        )
        events.append(
            InteractionClosed(
                at=at + 300 * SECOND,
                interaction_id=number,
                advisor_id=f"advisor-{generator.randrange(40)}",
            )
        )
    return [Record(seq, event, "") for seq, event in enumerate(events, 1)]


def timed(action):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=205_000)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    generator = random.Random(arguments.seed)
    records = year(arguments.interactions, generator)
    candidates, find_s = timed(lambda: closed_between(records, MARCH, APRIL))
    picks, draw_s = timed(lambda: draw(candidates, 5, arguments.seed))
    at = APRIL + SECOND
    extra: list[Event] = [
        AuditDrawn(at=at, start=MARCH, end=APRIL, per_advisor=5, seed=1, picks=picks)
    ]
    extra += [
        AuditScored(
            at=at,
            interaction_id=p.interaction_id,
            channel=p.channel,
            advisor_id=p.advisor_id,
            scores={"accuracy": 3},
            weighted=75.0,
        )
        for p in picks
    ]
    extra += [
        SatisfactionRecorded(
            at=MARCH + n * SECOND, interaction_id=n, channel="voice", score=1 + n % 5
        )
        for n in range(10_000)
    ]
    records += [Record(len(records) + i, event, "") for i, event in enumerate(extra, 1)]
    audits = Audits()
    _, audits_s = timed(lambda: audits.feed(records))

    def figures() -> object:
        reader = QualityReader()
        for record in records:
            reader.read(record.event)
        return month_quality(reader, MARCH, APRIL, PARIS)

    _, figures_s = timed(figures)
    print(
        json.dumps(
            {
                "machine": machine(),
                "records": len(records),
                "closed_in_march": len(candidates),
                "drawn": len(picks),
                "find_closed_s": round(find_s, 3),
                "draw_s": round(draw_s, 4),
                "follow_audits_s": round(audits_s, 3),
                "month_quality_s": round(figures_s, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
