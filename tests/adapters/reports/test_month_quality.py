"""Quality in the month's report: an audit sample drawn from a real journal, scored, rated.

June 2027 (+02:00), voice only. On Tuesday 1 June, V1 closes a1 to a4 (ids 1 to 4) and V2 closes
b1 to b3 (ids 5 to 7). On 2 June a sample of the work closed on 1 June is drawn, 2 per advisor
and channel, seed 11: two of V1's four and two of V2's three. They are scored on the default grid
(tone_charter 3, accuracy 3, completeness 2, deadline 2; 0 to 4):

    V1's first pick  4 4 4 4  -> 100          V2's first pick  4 4 0 0  -> (12 + 12) / 40 = 60
    V1's second pick 2 2 2 2  ->  50          V2's second pick 4 4 0 0  -> 60, then 4 4 4 4 -> 100

Means: V1 75, V2 80, voice (100 + 50 + 60 + 100) / 4 = 77.5; 4 drawn, 4 scored (the second
scoring replaces the first). Customers rate a1 5, a2 4 and b1 2: 3 ratings, mean 11 / 3, two of
three 4 or better. Mystery shoppers: a voice visit on 10 June (4 4 4 4: 100), a written one on
30 June (2 2 2 2: 50), and a voice one on 31 May, not in June.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiguillage.adapters.config.quality import QualitySettings, weighted_score
from aiguillage.adapters.reports.audits import Audits, closed_between, draw
from aiguillage.adapters.reports.month_figures import month_figures, month_report
from aiguillage.adapters.reports.month_render import render
from aiguillage.adapters.reports.mystery_csv import MysteryCsvError, read_mystery
from aiguillage.adapters.reports.recheck import Recheck
from aiguillage.adapters.stores.journal import Record
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal
from aiguillage.engine.audits import AuditPick
from aiguillage.engine.commands import (
    AddAdvisor,
    DrawAudit,
    ImportMystery,
    RecordSatisfaction,
    ScoreAudit,
    SetPolicies,
)
from aiguillage.engine.events import AuditDrawn
from tests.adapters.reports.month_journal import Month, at
from tests.adapters.reports.test_penalties import run
from tests.engine.conftest import make_policies

QUALITY = QualitySettings()
START, END = at("2027-06-01T00:00:00+02:00"), at("2027-06-02T00:00:00+02:00")
MYSTERY = """date,channel,scenario,tone_charter,accuracy,completeness,deadline,comment
2027-06-10,voice,refund_request,4,4,4,4,courteous
2027-06-30,written,lost_badge,2,2,2,2,
2027-05-31,voice,refund_request,1,1,1,1,late_answer
"""


def quality_month() -> Month:
    m = Month()
    m.run("2027-05-03T08:00:00+02:00", lambda: SetPolicies(policies=make_policies()))
    for advisor in ("V1", "V2"):
        m.run(
            "2027-05-03T08:00:00+02:00",
            lambda advisor=advisor: AddAdvisor(  # type: ignore[misc]
                advisor_id=advisor, skills={"general": 3}, languages=("fr",), capacity={"voice": 1}
            ),
        )

    def call(advisor: str, name: str, minute: int) -> None:
        now = f"2027-06-01T09:{minute:02d}:00+02:00"
        m.submit(name, "voice", "phone", now)
        m.state(advisor, "available", now)
        m.accept(advisor, name, now)
        m.close(advisor, name, now)
        m.state(advisor, "not_ready", now)

    for minute, name in enumerate(("a1", "a2", "a3", "a4")):
        call("V1", name, minute)
    for minute, name in enumerate(("b1", "b2", "b3"), 10):
        call("V2", name, minute)
    for name, score in (("a1", 5), ("a2", 4), ("b1", 2)):
        m.run(
            "2027-06-01T12:00:00+02:00",
            lambda name=name, score=score: RecordSatisfaction(  # type: ignore[misc]
                interaction_id=m.ids[name], score=score
            ),
        )
    m.run(
        "2027-06-02T09:00:00+02:00",
        lambda: DrawAudit(
            start=START,
            end=END,
            per_advisor=2,
            seed=11,
            picks=draw(closed_between(m.records(), START, END), 2, 11),
        ),
    )

    def picks_of(advisor: str) -> list[AuditPick]:
        (drawn,) = [e for e in m.events() if isinstance(e, AuditDrawn)]
        return [p for p in drawn.picks if p.advisor_id == advisor]

    def score(advisor: str, index: int, values: tuple[int, ...], now: str) -> None:
        def command() -> ScoreAudit:
            pick = picks_of(advisor)[index]
            scores = dict(zip(QUALITY.grid, values, strict=True))
            return ScoreAudit(
                interaction_id=pick.interaction_id,
                channel=pick.channel,
                advisor_id=advisor,
                scores=scores,
                weighted=weighted_score(scores, QUALITY),
            )

        m.run(now, command)

    score("V1", 0, (4, 4, 4, 4), "2027-06-03T09:00:00+02:00")
    score("V1", 1, (2, 2, 2, 2), "2027-06-03T09:01:00+02:00")
    score("V2", 0, (4, 4, 0, 0), "2027-06-03T09:02:00+02:00")
    score("V2", 1, (4, 4, 0, 0), "2027-06-03T09:03:00+02:00")
    score("V2", 1, (4, 4, 4, 4), "2027-06-04T09:00:00+02:00")
    m.run(
        "2027-06-05T09:00:00+02:00",
        lambda: ImportMystery(results=read_mystery(MYSTERY, QUALITY)),
    )
    m.play()
    assert [m.ids[n] for n in ("a1", "a2", "a3", "a4", "b1", "b2", "b3")] == [1, 2, 3, 4, 5, 6, 7]
    return m


@pytest.fixture(scope="module")
def month() -> Month:
    return quality_month()


@pytest.fixture(scope="module")
def place(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("quality")
    month.write(place / "journal.sqlite")
    return place


def read_back(path: Path) -> list[Record]:
    async def read() -> list[Record]:
        journal = SQLiteJournal(path)
        await journal.open()
        try:
            return await journal.records_after(0, 100_000)
        finally:
            await journal.close()

    return anyio.run(read)


def test_the_same_seed_over_the_same_journal_draws_the_same_sample(place: Path) -> None:
    first = closed_between(read_back(place / "journal.sqlite"), START, END)
    again = closed_between(read_back(place / "journal.sqlite"), START, END)
    assert [p.interaction_id for p in first] == [1, 2, 3, 4, 5, 6, 7]
    sample = draw(first, 2, 11)
    assert draw(again, 2, 11) == sample
    assert draw(list(reversed(again)), 2, 11) == sample  # the order read does not matter
    (drawn,) = [
        r.event for r in read_back(place / "journal.sqlite") if isinstance(r.event, AuditDrawn)
    ]
    assert drawn.picks == sample  # type: ignore[union-attr]


def test_a_draw_takes_per_advisor_and_channel_at_most_and_the_seed_matters(month: Month) -> None:
    candidates = closed_between(month.records(), START, END)
    sample = draw(candidates, 2, 11)
    assert sorted(p.advisor_id for p in sample) == ["V1", "V1", "V2", "V2"]
    assert {p.interaction_id for p in sample if p.advisor_id == "V1"} <= {1, 2, 3, 4}
    assert {p.interaction_id for p in sample if p.advisor_id == "V2"} <= {5, 6, 7}
    assert len(draw(candidates, 5, 11)) == 7  # fewer closed than asked: all of them
    assert len({draw(candidates, 2, seed) for seed in range(20)}) > 1
    assert closed_between(month.records(), END, END + 1) == []


def test_the_months_report_shows_the_audits_scores_ratings_and_mystery_visits(
    month: Month,
) -> None:
    quality = month_figures(month.records(), "2027-06").quality
    assert (quality.audits_drawn, quality.audits_scored) == (4, 4)
    assert [(r.channel, r.scored, r.mean_weighted) for r in quality.audits] == [("voice", 4, 77.5)]
    assert [(r.advisor_id, r.scored, r.mean_weighted) for r in quality.audits_by_advisor] == [
        ("V1", 2, 75.0),
        ("V2", 2, 80.0),
    ]
    (rated,) = quality.satisfaction
    assert (rated.channel, rated.count, rated.mean, rated.satisfied_share) == (
        "voice",
        3,
        3.67,
        0.6667,
    )
    assert [(r.channel, r.visits, r.mean_weighted) for r in quality.mystery] == [
        ("voice", 1, 100.0),
        ("written", 1, 50.0),
    ]
    assert [(v.day, v.scenario, v.comment) for v in quality.mystery_visits] == [
        ("2027-06-10", "refund_request", "courteous"),
        ("2027-06-30", "lost_badge", ""),
    ]
    assert month_figures(month.records(), "2027-07").quality.audits_scored == 0


def test_the_report_read_from_the_journal_file_carries_the_quality_figures(place: Path) -> None:
    done = run(
        place,
        "month",
        "--month",
        "2027-06",
        "--store",
        f"sqlite:///{place / 'journal.sqlite'}",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    quality = report["month"]["quality"]
    assert quality["audits"] == [
        {"channel": "voice", "advisor_id": None, "scored": 4, "mean_weighted": 77.5}
    ]
    assert [row["mean_weighted"] for row in quality["audits_by_advisor"]] == [75.0, 80.0]
    assert quality["satisfaction"][0]["count"] == 3


def test_the_page_shows_a_quality_section_and_a_recheck_catches_a_changed_score(
    month: Month,
) -> None:
    report = month_report(month.records(), "2027-06")
    page = render(report, "html", language="en").decode()
    assert "<h2>Quality</h2>" in page
    assert "<td>77.5</td>" in page
    assert "<td>66.7%</td>" in page
    french = render(report, "html").decode()
    assert "<td>77,5</td>" in french
    document = json.loads(render(report, "json"))
    document["month"]["quality"]["audits"][0]["mean_weighted"] = 95.0
    recheck = Recheck(document)
    recheck.feed(month.records())
    findings = recheck.findings()
    assert findings.differences
    assert "quality" in findings.differences[0]


def test_a_bad_mystery_row_is_refused_naming_its_line_and_column() -> None:
    bad = MYSTERY.replace("lost_badge,2,2,2,2", "lost_badge,2,9,2,2")
    with pytest.raises(MysteryCsvError, match=r"line 3, column accuracy: '9' is not a score"):
        read_mystery(bad, QUALITY)
    with pytest.raises(MysteryCsvError, match=r"line 2, column comment: .* not a code"):
        read_mystery(MYSTERY.replace(",courteous", ",Mr Martin was rude"), QUALITY)
    with pytest.raises(MysteryCsvError, match="line 1, column deadline: column 'deadline' is"):
        read_mystery(MYSTERY.replace(",deadline,", ",").replace(",4,4,4,4,", ",4,4,4,"), QUALITY)
    with pytest.raises(MysteryCsvError, match="line 4, column date"):
        read_mystery(MYSTERY.replace("2027-05-31", "31/05/2027"), QUALITY)


def test_audits_keep_each_drawn_interaction_with_its_latest_scores(month: Month) -> None:
    audits = Audits()
    audits.feed(month.records())
    assert sorted(audits.drawn) == sorted(
        p.interaction_id for p in draw(closed_between(month.records(), START, END), 2, 11)
    )
    weighted = sorted(a.weighted or 0 for a in audits.drawn.values())
    assert weighted == [50.0, 60.0, 100.0, 100.0]
