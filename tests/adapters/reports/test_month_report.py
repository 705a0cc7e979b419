"""The authority's monthly report, from a journal written by hand (``month_journal.py``).

The journal goes through the engine with a controlled clock into a real SQLite journal file;
``aiguillage report`` runs on it in its own process, as an operator runs it. Every figure
expected below was worked out by hand from the timeline in ``month_journal.py``: the comments
say how.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import anyio
import msgspec
import pytest

from aiguillage.adapters.reports.month_figures import month_report, percentile
from aiguillage.adapters.stores.redis.journal import RedisJournal
from aiguillage.adapters.stores.sqlite.journal import verify_file
from aiguillage.engine.commands import SetPolicies
from aiguillage.engine.events import InteractionArrived, PrincipalAnswered
from aiguillage.engine.instants import to_datetime
from tests.adapters.reports.month_journal import Month, written_month

PARIS = ZoneInfo("Europe/Paris")

FIGURES = [
    "received",
    "answered",
    "answered_within",
    "abandoned",
    "short_abandons",
    "transferred",
    "transferred_out",
    "closed_unanswered",
    "breaches",
    "refused",
    "service_level",
    "target",
    "target_met",
    "asa_s",
    "wait_p50_s",
    "wait_p90_s",
    "wait_p99_s",
    "abandonment",
    "abandon_wait_mean_s",
    "abandon_wait_p90_s",
    "handled",
    "handling_mean_s",
]

NONE = dict.fromkeys(
    [
        "service_level",
        "target_met",
        "asa_s",
        "wait_p50_s",
        "wait_p90_s",
        "wait_p99_s",
        "abandonment",
        "abandon_wait_mean_s",
        "abandon_wait_p90_s",
        "handling_mean_s",
    ]
)
ZERO = dict.fromkeys(
    [
        "received",
        "answered",
        "answered_within",
        "abandoned",
        "short_abandons",
        "transferred",
        "transferred_out",
        "closed_unanswered",
        "breaches",
        "refused",
        "handled",
    ],
    0,
)


def row(**given: Any) -> dict[str, Any]:
    """A report row: the figures given, zero counts and no ratios for the rest."""
    return {**ZERO, **NONE, **given}


# -- March 2027, by channel -------------------------------------------------------------------

VOICE_MARCH = row(
    # c1-c6 and d1-d12; the call at 20:00:00 refused, not received.
    received=18,
    answered=16,  # c1, c2, c5, c6, d1-d12
    answered_within=15,  # all but c5 (picked up 300 s after); c2 at its very deadline
    abandoned=2,  # c3 after 179 s, c4 after 2 s
    short_abandons=1,  # c4 (short_abandon_s = 5)
    transferred=1,  # c5
    breaches=1,  # c5
    refused=1,
    service_level=15 / 17,  # 15 / (16 + 2 - 1)
    target=0.8,
    target_met=True,
    asa_s=81.25,  # (30 + 180 + 300 + 10 + (10 + 20 + ... + 120)) / 16 = 1300 / 16
    # waits sorted: 10 10 20 30 30 40 50 60 70 80 90 100 110 120 180 300
    wait_p50_s=70.0,  # rank floor(0.5 * 16) = 8
    wait_p90_s=180.0,  # rank 14
    wait_p99_s=300.0,  # rank 15
    abandonment=1 / 17,  # (2 - 1) / (18 - 1)
    abandon_wait_mean_s=90.5,  # (179 + 2) / 2
    abandon_wait_p90_s=179.0,
    handled=16,
    handling_mean_s=104.375,  # (300 + 120 + (120 + 170) + 240 + 12 * 60) / 16
)
WRITTEN_MARCH = row(
    received=3,  # w1, w2, w6 (w3 pending at the month's end, w4 due in April)
    answered=2,  # w1 after 25 h, w2 after 50 h
    answered_within=2,
    closed_unanswered=1,  # w6
    service_level=1.0,  # 2 / 2: w6 has no outcome
    target=0.9,
    target_met=True,
    asa_s=135_000.0,  # (90,000 + 180,000) / 2
    wait_p50_s=180_000.0,
    wait_p90_s=180_000.0,
    wait_p99_s=180_000.0,
    abandonment=0.0,
    handled=3,
    handling_mean_s=5_000.0,  # (9,000 + 600 + (3,600 + 1,800)) / 3
)
SOCIAL_MARCH = row(
    received=3,  # s1, s2, s3
    answered=3,  # s3's hand-over to an outside party is its response, after 20 min
    answered_within=2,  # s2, s3
    transferred_out=1,  # s3
    breaches=1,  # s1: 4.5 h across the change to summer time, due after 4 h
    service_level=2 / 3,
    target=0.8,
    target_met=False,
    asa_s=6_700.0,  # (2,700 + 1,200 + 16,200) / 3
    wait_p50_s=2_700.0,  # sorted 1,200 2,700 16,200: rank 1
    wait_p90_s=16_200.0,
    wait_p99_s=16_200.0,
    abandonment=0.0,
    handled=3,
    handling_mean_s=800.0,  # (1,200 + 600 + 600) / 3
)


def figures_of(found: dict[str, Any]) -> dict[str, Any]:
    return {name: found[name] for name in FIGURES}


def assert_row(found: dict[str, Any], expected: dict[str, Any]) -> None:
    shown = figures_of(found)
    for name, value in expected.items():
        if isinstance(value, float):
            assert shown[name] == pytest.approx(value), name
        else:
            assert shown[name] == value, name


# -- the journal and the command -----------------------------------------------------------------


@pytest.fixture(scope="module")
def month() -> Month:
    return written_month()


@pytest.fixture(scope="module")
def journal(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("month") / "journal.sqlite"
    month.write(path)
    return path


def report(journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AIGUILLAGE_ADMIN_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "report", *args],
        capture_output=True,
        text=True,
        cwd=journal.parent,
        env=env,
        timeout=120,
    )


def as_json(journal: Path, *args: str) -> dict[str, Any]:
    done = report(journal, *args, "--store", f"sqlite:///{journal}", "--format", "json")
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.fixture(scope="module")
def march(journal: Path) -> dict[str, Any]:
    return as_json(journal, "month", "--month", "2027-03")


@pytest.fixture(scope="module")
def april(journal: Path) -> dict[str, Any]:
    return as_json(journal, "month", "--month", "2027-04")


def by_channel(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {found["channel"]: found for found in figures["channels"]}


# -- the journal is the one described ----------------------------------------------------------


def test_the_engine_gave_the_deadlines_worked_out_by_hand(month: Month) -> None:
    deadlines = {
        event.interaction_id: to_datetime(event.deadline, PARIS).isoformat()
        for event in month.events()
        if isinstance(event, InteractionArrived)
    }
    named = {name: deadlines[number] for name, number in month.ids.items()}
    assert named["c2"] == "2027-03-02T09:13:00+01:00"
    assert named["w1"] == "2027-03-05T20:00:00+01:00"
    assert named["w3"] == "2027-03-31T20:00:00+02:00"  # Easter Monday passed over
    assert named["w4"] == "2027-04-01T20:00:00+02:00"  # received the eve of Easter Monday
    assert named["s1"] == "2027-03-28T03:00:00+02:00"  # 4 h, across the change of time
    (answered,) = [e for e in month.events() if isinstance(e, PrincipalAnswered)]
    # 26 open hours credited to w2's Thursday 11 March 20:00 deadline.
    assert to_datetime(answered.deadline, PARIS).isoformat() == "2027-03-13T20:00:00+01:00"


# -- March --------------------------------------------------------------------------------------


def test_march_per_channel(march: dict[str, Any]) -> None:
    channels = by_channel(march["month"])
    assert list(channels) == ["voice", "written", "social"]
    assert_row(channels["voice"], VOICE_MARCH)
    assert_row(channels["written"], WRITTEN_MARCH)
    assert_row(channels["social"], SOCIAL_MARCH)


def test_march_names_its_period_the_journal_read_and_the_advisors_occupancy(
    march: dict[str, Any], journal: Path
) -> None:
    figures = march["month"]
    assert (figures["month"], figures["zone"]) == ("2027-03", "Europe/Paris")
    assert (figures["start"], figures["end"]) == (
        "2027-03-01T00:00:00+01:00",
        "2027-04-01T00:00:00+02:00",
    )
    assert figures["complete"] is True
    verified = verify_file(journal)
    assert figures["journal"] == {
        "first_seq": 1,
        "last_seq": verified.checked,
        "last_hash": verified.last_hash,
    }
    # Busy: V1 1,510 s, V2 180, W1 14,400, W2 3,600, S1 2,400. Staffed adds V1's 300 s waiting
    # for c6 on 3 March (09:55:00 to its offer at 10:00:00); pauses are left out.
    assert figures["busy_s"] == pytest.approx(22_090)
    assert figures["staffed_s"] == pytest.approx(22_390)
    assert figures["occupancy"] == pytest.approx(22_090 / 22_390)


def test_work_open_at_the_months_end_is_pending_not_counted(
    march: dict[str, Any], month: Month
) -> None:
    assert march["month"]["pending"] == [
        {
            "interaction_id": month.ids["w3"],
            "channel": "written",
            "received_at": "2027-03-25T10:00:00+01:00",
            "deadline": "2027-03-31T20:00:00+02:00",
            "breached": True,
        }
    ]


def test_the_breaches_counted_are_listed_with_their_interactions(
    march: dict[str, Any], april: dict[str, Any], month: Month
) -> None:
    assert march["month"]["breaches"] == [
        {"interaction_id": month.ids["c5"], "channel": "voice",
         "deadline": "2027-03-02T09:43:00+01:00"},
        {"interaction_id": month.ids["s1"], "channel": "social",
         "deadline": "2027-03-28T03:00:00+02:00"},
    ]  # fmt: skip
    # w3, pending at March's end, counts in April.
    assert [b["interaction_id"] for b in april["month"]["breaches"]] == [month.ids["w3"]]
    for figures in (march["month"], april["month"]):
        assert len(figures["breaches"]) == sum(row["breaches"] for row in figures["channels"])


def test_march_per_source(march: dict[str, Any]) -> None:
    sources = {(r["channel"], r["source"]): r for r in march["month"]["sources"]}
    assert list(sources) == [
        ("voice", "phone"),
        ("written", "email"),
        ("social", "facebook"),
        ("social", "x"),
    ]
    assert_row(sources["voice", "phone"], VOICE_MARCH)
    assert_row(sources["written", "email"], WRITTEN_MARCH)
    assert_row(
        sources["social", "facebook"],
        row(
            received=1,
            answered=1,
            answered_within=1,
            service_level=1.0,
            target=0.8,
            target_met=True,
            asa_s=2_700.0,
            wait_p50_s=2_700.0,
            wait_p90_s=2_700.0,
            wait_p99_s=2_700.0,
            abandonment=0.0,
            handled=1,
            handling_mean_s=1_200.0,
        ),
    )
    assert_row(
        sources["social", "x"],
        row(
            received=2,  # s1, s3
            answered=2,
            answered_within=1,
            transferred_out=1,
            breaches=1,
            service_level=0.5,
            target=0.8,
            target_met=False,
            asa_s=8_700.0,  # (16,200 + 1,200) / 2
            wait_p50_s=16_200.0,
            wait_p90_s=16_200.0,
            wait_p99_s=16_200.0,
            abandonment=0.0,
            handled=2,
            handling_mean_s=600.0,
        ),
    )


def test_march_per_motive_the_final_one(march: dict[str, Any]) -> None:
    motives = {(r["channel"], r["motive"]): r for r in march["month"]["motives"]}
    assert list(motives) == [
        ("voice", None),
        ("voice", "fines"),
        ("voice", "refunds"),
        ("written", None),
        ("written", "fines"),
        ("written", "refunds"),
        ("social", None),
    ]
    assert_row(
        motives["voice", None],
        row(
            received=14,  # c2, c4, d1-d12
            answered=13,
            answered_within=13,
            abandoned=1,
            short_abandons=1,
            refused=1,  # the call at 20:00:00 had no motive
            service_level=1.0,  # 13 / (13 + 1 - 1)
            target=0.8,
            target_met=True,
            asa_s=960 / 13,  # (180 + 780) / 13
            wait_p50_s=70.0,  # sorted 10 20 ... 120 180: rank 6
            wait_p90_s=120.0,  # rank 11
            wait_p99_s=180.0,  # rank 12
            abandonment=0.0,  # (1 - 1) / (14 - 1)
            abandon_wait_mean_s=2.0,
            abandon_wait_p90_s=2.0,
            handled=13,
            handling_mean_s=840 / 13,  # (120 + 12 * 60) / 13
        ),
    )
    assert_row(
        motives["voice", "fines"],
        row(
            received=2,  # c3, and c5 transferred as fines
            answered=1,
            abandoned=1,
            transferred=1,
            breaches=1,
            service_level=0.0,
            target=0.8,
            target_met=False,
            asa_s=300.0,
            wait_p50_s=300.0,
            wait_p90_s=300.0,
            wait_p99_s=300.0,
            abandonment=0.5,
            abandon_wait_mean_s=179.0,
            abandon_wait_p90_s=179.0,
            handled=1,
            handling_mean_s=290.0,
        ),
    )
    assert_row(
        motives["voice", "refunds"],
        row(
            received=2,  # c1, c6
            answered=2,
            answered_within=2,
            service_level=1.0,
            target=0.8,
            target_met=True,
            asa_s=20.0,
            wait_p50_s=30.0,
            wait_p90_s=30.0,
            wait_p99_s=30.0,
            abandonment=0.0,
            handled=2,
            handling_mean_s=270.0,
        ),
    )
    assert_row(
        motives["written", None],
        row(received=1, closed_unanswered=1, target=0.9, abandonment=0.0, handled=1,
            handling_mean_s=600.0),
    )  # fmt: skip
    for motive, wait, handling in (("fines", 180_000.0, 5_400.0), ("refunds", 90_000.0, 9_000.0)):
        assert_row(
            motives["written", motive],
            row(
                received=1,
                answered=1,
                answered_within=1,
                service_level=1.0,
                target=0.9,
                target_met=True,
                asa_s=wait,
                wait_p50_s=wait,
                wait_p90_s=wait,
                wait_p99_s=wait,
                abandonment=0.0,
                handled=1,
                handling_mean_s=handling,
            ),
        )
    assert_row(motives["social", None], SOCIAL_MARCH)


def test_march_written_per_typology(march: dict[str, Any]) -> None:
    typologies = {r["typology"]: r for r in march["month"]["typologies"]}
    assert list(typologies) == ["complex", "simple", "transfer"]
    assert [typologies[t]["received"] for t in typologies] == [1, 1, 1]
    assert [typologies[t]["answered_within"] for t in typologies] == [1, 1, 0]
    assert typologies["complex"]["asa_s"] == 180_000.0  # w2
    assert typologies["simple"]["asa_s"] == 90_000.0  # w1
    assert typologies["transfer"]["closed_unanswered"] == 1  # w6
    assert typologies["transfer"]["service_level"] is None


def slot_rows(slots: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = "start channel received answered answered_within abandoned short_abandons breaches "
    keys += "refused service_level"
    return [tuple(slot[key] for key in keys.split()) for slot in slots]


def test_march_per_day_of_reception(march: dict[str, Any]) -> None:
    # day, channel, received, answered, in time, abandoned, short, breaches, refused, SL
    assert slot_rows(march["month"]["days"]) == [
        ("2027-03-02T00:00:00+01:00", "voice", 5, 3, 2, 2, 1, 1, 1, 0.5),  # 2 / (3 + 2 - 1)
        ("2027-03-02T00:00:00+01:00", "written", 2, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-02T00:00:00+01:00", "social", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-03T00:00:00+01:00", "voice", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-03T00:00:00+01:00", "social", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-04T00:00:00+01:00", "voice", 12, 12, 12, 0, 0, 0, 0, 1.0),
        ("2027-03-08T00:00:00+01:00", "written", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-27T00:00:00+01:00", "social", 1, 1, 0, 0, 0, 1, 0, 0.0),
    ]


def test_march_per_half_hour_of_reception(march: dict[str, Any]) -> None:
    assert slot_rows(march["month"]["half_hours"]) == [
        ("2027-03-02T09:00:00+01:00", "voice", 3, 2, 2, 1, 0, 0, 0, pytest.approx(2 / 3)),
        ("2027-03-02T09:30:00+01:00", "voice", 2, 1, 0, 1, 1, 1, 0, 0.0),  # c4 short, c5 late
        ("2027-03-02T10:00:00+01:00", "written", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-02T12:00:00+01:00", "social", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-02T14:00:00+01:00", "written", 1, 0, 0, 0, 0, 0, 0, None),  # w6
        ("2027-03-02T20:00:00+01:00", "voice", 0, 0, 0, 0, 0, 0, 1, None),  # refused
        ("2027-03-03T10:00:00+01:00", "voice", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-03T15:00:00+01:00", "social", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-04T14:00:00+01:00", "voice", 3, 3, 3, 0, 0, 0, 0, 1.0),
        ("2027-03-04T14:30:00+01:00", "voice", 3, 3, 3, 0, 0, 0, 0, 1.0),
        ("2027-03-04T15:00:00+01:00", "voice", 3, 3, 3, 0, 0, 0, 0, 1.0),
        ("2027-03-04T15:30:00+01:00", "voice", 3, 3, 3, 0, 0, 0, 0, 1.0),
        ("2027-03-08T09:00:00+01:00", "written", 1, 1, 1, 0, 0, 0, 0, 1.0),
        ("2027-03-27T22:00:00+01:00", "social", 1, 1, 0, 0, 0, 1, 0, 0.0),
    ]


def test_the_previous_month_is_beside_it_with_nothing_to_divide(march: dict[str, Any]) -> None:
    previous = march["previous"]
    assert previous["month"] == "2027-02"
    targets = {"voice": 0.8, "written": 0.9, "social": 0.8}
    for channel, found in by_channel(previous).items():
        assert_row(found, row(target=targets[channel]))
    assert previous["days"] == previous["pending"] == []
    assert previous["occupancy"] is None


# -- April: what March left pending, and the complaint due in April ----------------------------


def test_april_counts_the_work_settled_in_it_once(
    april: dict[str, Any], march: dict[str, Any]
) -> None:
    figures = april["month"]
    channels = by_channel(figures)
    assert_row(
        channels["written"],
        row(
            received=2,  # w3, pending at March's end; w4, due on 1 April
            answered=2,
            answered_within=1,  # w4 after 38 h
            breaches=1,  # w3, answered 689,400 s after it came (8 days less 30 min)
            service_level=0.5,
            target=0.9,
            target_met=False,
            asa_s=413_100.0,  # (689,400 + 136,800) / 2
            wait_p50_s=689_400.0,
            wait_p90_s=689_400.0,
            wait_p99_s=689_400.0,
            abandonment=0.0,
            handled=2,
            handling_mean_s=2_700.0,  # (1,800 + 3,600) / 2
        ),
    )
    assert_row(channels["voice"], row(target=0.8))
    assert_row(channels["social"], row(target=0.8))
    assert figures["pending"] == []
    assert figures["complete"] is False  # the journal ends on 2 April
    assert figures["as_of"] == "2027-04-02T10:30:00+02:00"
    assert (figures["busy_s"], figures["staffed_s"], figures["occupancy"]) == (1800, 1800, 1.0)
    assert slot_rows(figures["days"]) == [
        ("2027-03-25T00:00:00+01:00", "written", 1, 1, 0, 0, 0, 1, 0, 0.0),
        ("2027-03-28T00:00:00+01:00", "written", 1, 1, 1, 0, 0, 0, 0, 1.0),
    ]
    sources = {r["source"]: r for r in figures["sources"]}
    assert (sources["email"]["received"], sources["email"]["breaches"]) == (1, 1)
    assert (sources["webform"]["received"], sources["webform"]["answered_within"]) == (1, 1)
    # March beside it, as March's own report counts it.
    assert april["previous"] == march["month"]


def test_the_year_month_by_month_as_each_months_report(
    journal: Path, march: dict[str, Any], april: dict[str, Any]
) -> None:
    year = as_json(journal, "year", "--year", "2027")
    assert year["year"] == 2027
    assert [m["month"] for m in year["months"]] == [f"2027-{n:02d}" for n in range(1, 13)]
    assert year["months"][2] == march["month"]
    assert year["months"][3] == april["month"]
    for empty in year["months"][4:]:
        assert sum(found["received"] for found in empty["channels"]) == 0


def test_the_glossary_defines_each_figure_in_the_language_asked(journal: Path) -> None:
    french = as_json(journal, "month", "--month", "2027-03")["glossary"]
    english = as_json(journal, "month", "--month", "2027-03", "--language", "en")["glossary"]
    assert list(french) == list(english)
    assert "short_abandon_s" in french["short_abandons"]
    assert english["service_level"].startswith(
        "Service level: (answered in time + callbacks asked for in time) / (answered"
    )
    assert "Europe/Paris" in french["counted"]


# -- the other formats hold the same tables ----------------------------------------------------


def test_csv_holds_the_same_figures(journal: Path, march: dict[str, Any]) -> None:
    done = report(journal, "month", "--month", "2027-03", "--store", f"sqlite:///{journal}",
                  "--format", "csv")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [r for r in csv.reader(io.StringIO(done.stdout)) if r]
    tables: dict[str, list[dict[str, str]]] = {}
    header: list[str] = []
    for line in rows:
        if line[0] == "table":
            header = line
            continue
        tables.setdefault(line[0], []).append(dict(zip(header, line, strict=True)))
    voice = next(
        r for r in tables["channels"] if (r["month"], r["channel"]) == ("2027-03", "voice")
    )
    assert float(voice["service_level"]) == pytest.approx(15 / 17)
    assert (voice["received"], voice["short_abandons"], voice["refused"]) == ("18", "1", "1")
    assert len(tables["half_hours"]) == len(march["month"]["half_hours"])
    assert [r["interaction_id"] for r in tables["pending"]] == [
        str(p["interaction_id"]) for p in march["month"]["pending"]
    ]


def test_xlsx_is_a_workbook_of_the_same_tables(journal: Path, tmp_path: Path) -> None:
    target = tmp_path / "march.xlsx"
    done = report(journal, "month", "--month", "2027-03", "--store", f"sqlite:///{journal}",
                  "--format", "xlsx", "--output", str(target))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(target) as book:
        assert book.testzip() is None
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        names = [sheet.get("name") for sheet in workbook.iter() if sheet.tag.endswith("sheet")]
        assert names[:3] == ["channels", "sources", "motives"]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows: list[dict[str, str]] = []
    for line in (r for r in sheet.iter() if r.tag.endswith("row")):
        rows.append(
            {
                "".join(ch for ch in str(cell.get("r")) if ch.isalpha()): str(
                    cell.findtext(".//{*}t") or cell.findtext("{*}v")
                )
                for cell in line
            }
        )
    header = rows[0]
    found = {header[column]: value for column, value in rows[1].items()}
    assert (header["A"], header["B"]) == ("month", "channel")
    assert (found["month"], found["channel"], found["received"]) == ("2027-03", "voice", "18")
    assert found["refused"] == "1"
    assert "target_met" in found  # a boolean cell
    assert float(found["service_level"]) == pytest.approx(15 / 17)


def test_xlsx_needs_a_file_to_write(journal: Path) -> None:
    done = report(journal, "month", "--month", "2027-03", "--format", "xlsx")
    assert done.returncode == 2
    assert "--output" in done.stderr


def test_the_html_page_is_one_self_contained_document(journal: Path) -> None:
    done = report(journal, "month", "--month", "2027-03", "--store", f"sqlite:///{journal}")
    assert done.returncode == 0, done.stderr
    page = done.stdout
    assert page.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert "default-src 'none'" in page
    for fetching in ("src=", "href=", "<script", "url("):
        assert fetching not in page
    assert "Rapport mensuel — mars 2027" in page
    assert "88,2\u00a0%" in page  # voice's service level, 15 / 17
    assert "<h2>Définitions</h2>" in page
    assert "<p>Abandons courts : abandonnées après une attente" in page
    assert page.count("<svg") == 3


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("month", "--month", "2027-13"), "--month"),
        (("month", "--month", "March"), "YYYY-MM"),
        (("month", "--month", "2027-03", "--format", "pdf"), "--format"),
        (("month", "--month", "2027-03", "--language", "de"), "--language"),
        (("year", "--year", "0"), "--year"),
        (("month", "--month", "2027-03", "--store", "postgres://x"), "--store"),
    ],
)
def test_bad_input_is_refused_saying_which_option(
    journal: Path, args: tuple[str, ...], said: str
) -> None:
    done = report(journal, *args)
    assert done.returncode == 2
    assert said in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_journal_is_said_plainly(tmp_path: Path) -> None:
    done = report(tmp_path / "x", "month", "--month", "2027-03", "--store",
                  f"sqlite:///{tmp_path}/none.sqlite")  # fmt: skip
    assert done.returncode == 1
    assert "none.sqlite does not exist" in done.stderr


def test_percentiles_take_the_rank_floor_of_p_times_n() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0  # rank 1
    assert percentile([1.0, 2.0], 0.5) == 2.0  # rank 1
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 100.0  # rank 99
    assert percentile([float(n) for n in range(1, 101)], 0.9) == 91.0  # rank 90


# -- the same journal on Redis, its early records archived and trimmed ---------------------------


def test_on_redis_the_report_reads_the_archive_then_the_stream(
    redis_server: Any, month: Month, march: dict[str, Any], tmp_path: Path
) -> None:
    archive = tmp_path / "var" / "aiguillage" / "archive"  # the reference's data_dir, in cwd

    async def write() -> list[str]:
        journal = RedisJournal(
            redis_server.url, domain="idfm-overflow", address="test", archive_dir=archive
        )
        await journal.open()
        try:
            batches = [batch for batch in month.batches if batch]
            last = 0
            for index, batch in enumerate(batches, 1):
                last = await journal.append(batch, [])
                if index in (len(batches) // 3, 2 * len(batches) // 3):
                    await journal.save_snapshot(last, b"an image")
        finally:
            await journal.close()
        return sorted(path.name for path in archive.iterdir())

    archived = anyio.run(write)
    assert archived  # the records before the older snapshot left the stream for the archive
    url = redis_server.url
    done = report(tmp_path / "here", "month", "--month", "2027-03", "--store", url,
                  "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for key in ("month", "previous"):
        assert {k: v for k, v in found[key].items() if k != "journal"} == {
            k: v for k, v in march[key].items() if k != "journal"
        }
    assert (found["month"]["journal"]["first_seq"], found["month"]["journal"]["last_seq"]) == (
        1,
        march["month"]["journal"]["last_seq"],
    )
    for path in archive.iterdir():
        path.unlink()
    missing = report(tmp_path / "here", "month", "--month", "2027-03", "--store", url)
    assert missing.returncode == 1
    assert "are archived, but" in missing.stderr, missing.stderr
    assert "Traceback" not in missing.stderr


def test_each_month_is_judged_by_the_targets_in_force_at_its_end() -> None:
    # The voice target raised in April: March keeps the one it was run under.
    month = written_month()
    policies = month.engine.state.policies
    voice = msgspec.structs.replace(policies.channels["voice"], target_share=0.95)
    raised = msgspec.structs.replace(policies, channels={**policies.channels, "voice": voice})
    later = (to_datetime(month.engine.now) + timedelta(hours=1)).isoformat()
    assert later < "2027-05"  # still in April
    month.run(later, lambda: SetPolicies(policies=raised))
    month.play()
    report = month_report(month.records(), "2027-04")
    targets = {
        figures.month: {row.channel: row.target for row in figures.channels}
        for figures in (report.previous, report.month)
    }
    assert targets["2027-03"]["voice"] == policies.channels["voice"].target_share != 0.95
    assert targets["2027-04"]["voice"] == 0.95
    assert targets["2027-03"]["written"] == targets["2027-04"]["written"] == 0.9
