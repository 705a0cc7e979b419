"""Time the authority's monthly report, from a journal file to the page.

Workload: a month (March 2027) of the reference deployment's policies written into a real
SQLite journal (hash chain and all) at the tender's volumes, about 17,000 interactions
(40,000 calls, 45,000 complaints and 120,000 social messages a year, a twelfth of it), then at
ten times that. Each interaction's events are the ones the engine journals for it: arrival,
offer, acceptance, first response and close; one call in ten abandoned (a third of those
within 5 s), one interaction in twenty breached before its answer; advisors log in and out
around their work. The events are written directly (not decided by the engine), spread over
the month's opening hours, so the journal is built in seconds.

Timed, for each size: (a) reading the journal file and tallying the month and the one before
(``aiguillage report month`` without the rendering), (b) the HTML page, (c) the JSON. Aims:
under 2 s at the tender's volumes, under 20 s at ten times them.

    python benchmarks/reports.py [--interactions N] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from measure import machine  # noqa: E402

from aiguillage.adapters.config.settings import load_config  # noqa: E402
from aiguillage.adapters.reports.month_figures import (  # noqa: E402
    Months,
    as_month_report,
    report_months,
)
from aiguillage.adapters.reports.month_render import render  # noqa: E402
from aiguillage.adapters.stores.reading import read_pages  # noqa: E402
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal  # noqa: E402
from aiguillage.adapters.stores.urls import SQLiteStore  # noqa: E402
from aiguillage.engine.events import (  # noqa: E402
    AdvisorStateChanged,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionResponded,
    OfferAccepted,
    OfferMade,
    PoliciesSet,
    SlaBreached,
)
from aiguillage.engine.instants import SECOND, from_datetime  # noqa: E402

MONTH = "2027-03"
TENDER = round((40_000 + 45_000 + 120_000) / 12)
MIX = (("voice", "phone", 40_000), ("written", "email", 45_000), ("social", "x", 120_000))
SLA_S = {"voice": 180, "written": 3 * 86_400, "social": 7_200}


def journal_of(path: Path, interactions: int, seed: int) -> int:
    """Write a month of ``interactions`` to a journal file; return the number of events."""
    rng = random.Random(seed)
    policies = load_config(ROOT.parent / "config.toml").settings.policies()
    start = from_datetime(datetime.fromisoformat("2027-03-01T07:00:00+01:00"))
    events: list[tuple[int, int, Event]] = []
    order = 0

    def add(event: Event) -> None:
        nonlocal order
        events.append((event.at, order, event))
        order += 1

    add(PoliciesSet(at=start - 3600 * SECOND, policies=policies))
    weights = [volume for _, _, volume in MIX]
    advisors = [f"A{n}" for n in range(max(10, interactions // 300))]
    for day in range(31):
        opens = start + day * 86_400 * SECOND
        for advisor in advisors:
            add(AdvisorStateChanged(at=opens, advisor_id=advisor, state="available"))
            add(AdvisorStateChanged(at=opens + 13 * 3600 * SECOND, advisor_id=advisor,
                                    state="offline"))  # fmt: skip
    for number in range(1, interactions + 1):
        channel, source, _ = rng.choices(MIX, weights)[0]
        received = start + rng.randrange(31) * 86_400 * SECOND + rng.randrange(13 * 3600) * SECOND
        deadline = received + SLA_S[channel] * SECOND
        add(
            InteractionArrived(
                at=received, interaction_id=number, channel=channel, source=source,  # type: ignore[arg-type]
                external_id=f"x{number}", motive="general", language="fr", skills={},
                priority=0, typology="simple" if channel == "written" else None,
                received_at=received, deadline=deadline, warning_at=deadline,
            )
        )  # fmt: skip
        if channel == "voice" and rng.random() < 0.1:
            waited = rng.randrange(1, 5) if rng.random() < 0.3 else rng.randrange(5, 300)
            add(InteractionAbandoned(at=received + waited * SECOND, interaction_id=number))
            continue
        late = rng.random() < 0.05
        wait = SLA_S[channel] * (1.2 if late else rng.random() * 0.9)
        answered = received + round(wait * SECOND)
        if late:
            add(SlaBreached(at=deadline + 1, interaction_id=number, due=deadline + 1))
        advisor = rng.choice(advisors)
        add(OfferMade(at=answered, offer_id=number, interaction_id=number, advisor_id=advisor,
                      expires_at=answered + 20 * SECOND, rule="idle_advisor",
                      strategy="deadline", step=0, candidates=1, score=1.0))  # fmt: skip
        add(OfferAccepted(at=answered, offer_id=number, interaction_id=number, advisor_id=advisor))
        add(InteractionResponded(at=answered, interaction_id=number, advisor_id=advisor,
                                 within_sla=not late))  # fmt: skip
        add(InteractionClosed(at=answered + rng.randrange(60, 600) * SECOND,
                              interaction_id=number, advisor_id=advisor))  # fmt: skip
    events.sort(key=lambda item: (item[0], item[1]))

    async def write() -> None:
        journal = SQLiteJournal(path)
        await journal.open()
        try:
            batch = 2000
            for first in range(0, len(events), batch):
                await journal.append([e for _, _, e in events[first : first + batch]], [])
        finally:
            await journal.close()

    anyio.run(write)
    return len(events)


def measure(path: Path) -> dict[str, float]:
    started = time.perf_counter()
    months = Months(report_months(MONTH))
    read_pages(SQLiteStore(path), months.feed)
    report = as_month_report(months.figures())
    tallied = time.perf_counter()
    page = render(report, "html")
    paged = time.perf_counter()
    render(report, "json")
    done = time.perf_counter()
    received = sum(row.received for row in report.month.channels)
    return {
        "tally_s": round(tallied - started, 3),
        "html_s": round(paged - tallied, 3),
        "json_s": round(done - paged, 3),
        "total_html_s": round(paged - started, 3),
        "received": received,
        "page_kib": round(len(page) / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=TENDER)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the journals there and keep them")
    args = parser.parse_args()
    print(f"machine: {json.dumps(machine())}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for size, aim in ((args.interactions, 2.0), (args.interactions * 10, 20.0)):
            path = folder / f"journal-{size}.sqlite"
            path.unlink(missing_ok=True)
            written = time.perf_counter()
            count = journal_of(path, size, args.seed)
            built = time.perf_counter() - written
            found = measure(path)
            verdict = "within" if found["total_html_s"] < aim else "OVER"
            print(
                f"{size:,} interactions, {count:,} events (journal written in {built:.1f} s): "
                f"read and tallied {found['tally_s']} s, HTML {found['html_s']} s "
                f"({found['page_kib']} KiB), JSON {found['json_s']} s; "
                f"journal to page {found['total_html_s']} s ({verdict} the {aim:.0f} s aim); "
                f"{found['received']:,} counted in {MONTH}"
            )


if __name__ == "__main__":
    main()
