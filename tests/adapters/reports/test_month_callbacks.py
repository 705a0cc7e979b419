"""Callbacks in the monthly report, from a second journal written by hand (``callback_month``).

Voice only, May 2027 (+02:00), one advisor; every figure expected was worked out by hand from
the timeline in ``month_journal.py``. ``aiguillage report`` runs on the journal in its own
process.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aiguillage.engine.events import (
    CallbackAnswered,
    CallbackMissed,
    CallbackRequested,
    InteractionClosed,
    SlaBreached,
)
from aiguillage.engine.instants import to_datetime
from tests.adapters.reports.month_journal import Month, callback_month

PARIS = ZoneInfo("Europe/Paris")

CALLBACKS = {
    "callbacks_requested": 4,  # k1, k2, k3, k4
    "callbacks_within": 3,  # k1 after 100 s, k3 after 30 s, k4 after 60 s; k2 after 200 s
    "callbacks_reached": 2,  # k1 at its first attempt, k2 at its second
    "callbacks_unreached": 1,  # k3, closed callback_unanswered after its 2 attempts
    "callbacks_open": 1,  # k4, reached on 1 June only
    "callbacks_made": 3,  # k1, k2, k3 (k4 first attempted in June)
    "callbacks_made_within": 2,  # k1 at 10:30 (due 11:01:40), k3 at 14:30 (due 15:00:30)
    "callbacks_overdue": 1,  # k4, due 31 May 19:01, never attempted in May
    "callback_service_level": 0.5,  # 2 / (3 + 1)
}
VOICE_MAY = {
    "received": 5,  # k0-k4
    "answered": 1,  # k0 only: a callback's call is neither answered...
    "answered_within": 1,
    "closed_unanswered": 0,  # ... nor closed unanswered (k3's close is the callback's)
    "abandoned": 0,
    "breaches": 1,  # k2's call at 11:03; the callbacks' own deadlines passed are not the call's
    "service_level": 0.8,  # (1 + 3) / (1 + 4)
    "target": 0.8,
    "target_met": True,
    "asa_s": 20.0,  # k0 only: a callback's wait is not an answer's
    "wait_p50_s": 20.0,
    "wait_p90_s": 20.0,
    "wait_p99_s": 20.0,
    "abandonment": 0.0,
    # Held: k0 120 s, k1 300 s, k2 30 + 300 s, k3 30 + 30 s, k4 300 s (in June; its call
    # counts in May).
    "handled": 5,
    "handling_mean_s": 222.0,  # 1,110 / 5
    **CALLBACKS,
}


def report(journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AIGUILLAGE_ADMIN_TOKEN"}
    store = ("--store", f"sqlite:///{journal}")
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "report", *args, *store],
        capture_output=True,
        text=True,
        cwd=journal.parent,
        env=env,
        timeout=120,
    )


def as_json(journal: Path, *args: str) -> dict[str, Any]:
    done = report(journal, *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def assert_figures(found: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        if isinstance(value, float):
            assert found[name] == pytest.approx(value), name
        else:
            assert found[name] == value, name


@pytest.fixture(scope="module")
def month() -> Month:
    return callback_month()


@pytest.fixture(scope="module")
def journal(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("callbacks") / "journal.sqlite"
    month.write(path)
    return path


@pytest.fixture(scope="module")
def may(journal: Path) -> dict[str, Any]:
    return as_json(journal, "month", "--month", "2027-05")


def voice(figures: dict[str, Any]) -> dict[str, Any]:
    (found,) = [row for row in figures["channels"] if row["channel"] == "voice"]
    return found


def test_the_engine_gave_the_story_worked_out_by_hand(month: Month) -> None:
    names = {number: name for name, number in month.ids.items()}
    events = month.events()
    asked = {names[e.interaction_id]: e for e in events if isinstance(e, CallbackRequested)}
    assert {name: e.within_sla for name, e in asked.items()} == {
        "k1": True,
        "k2": False,
        "k3": True,
        "k4": True,
    }
    assert to_datetime(asked["k2"].deadline, PARIS).isoformat() == "2027-05-04T12:03:20+02:00"
    assert to_datetime(asked["k4"].deadline, PARIS).isoformat() == "2027-05-31T19:01:00+02:00"
    attempts = [
        (names[e.interaction_id], e.attempt, type(e).__name__, e.on_time)
        for e in events
        if isinstance(e, CallbackAnswered | CallbackMissed)
    ]
    assert attempts == [
        ("k1", 1, "CallbackAnswered", True),
        ("k2", 1, "CallbackMissed", False),
        ("k2", 2, "CallbackAnswered", False),
        ("k3", 1, "CallbackMissed", True),
        ("k3", 2, "CallbackMissed", True),
        ("k4", 1, "CallbackAnswered", False),
    ]
    closed = [e for e in events if isinstance(e, InteractionClosed)]
    assert [(names[e.interaction_id], e.reason) for e in closed if e.reason] == [
        ("k3", "callback_unanswered")
    ]
    # k2's call breached, then k2's and k4's callbacks passed their deadlines.
    breached = [names[e.interaction_id] for e in events if isinstance(e, SlaBreached)]
    assert breached == ["k2", "k2", "k4"]


def test_may_counts_each_callback_in_its_calls_service_level_and_apart(
    may: dict[str, Any],
) -> None:
    assert_figures(voice(may["month"]), VOICE_MAY)


def test_the_source_row_holds_the_same_callbacks(may: dict[str, Any]) -> None:
    (phone,) = may["month"]["sources"]
    assert (phone["channel"], phone["source"]) == ("voice", "phone")
    assert_figures(phone, VOICE_MAY)
    (motive,) = may["month"]["motives"]
    assert (motive["channel"], motive["motive"]) == ("voice", None)
    assert_figures(motive, CALLBACKS)


def test_a_missed_attempt_frees_the_advisor(may: dict[str, Any]) -> None:
    figures = may["month"]
    # Busy: the 810 s held in May (120 + 300 + 330 + 60); staffed: those and V1's idle
    # 12:10:30-12:15 and 14:30:30-14:35, after each missed attempt (270 s each).
    assert figures["busy_s"] == pytest.approx(810.0)
    assert figures["staffed_s"] == pytest.approx(1_350.0)
    assert figures["occupancy"] == pytest.approx(0.6)


def test_the_voice_service_level_counts_callbacks_per_day_and_half_hour(
    may: dict[str, Any],
) -> None:
    days = {
        (d["start"], d["channel"]): d
        for d in may["month"]["days"]
        if d["channel"] == "voice" and d["received"]
    }
    assert list(days) == [
        ("2027-05-04T00:00:00+02:00", "voice"),
        ("2027-05-31T00:00:00+02:00", "voice"),
    ]
    tuesday, monday = days.values()
    assert_figures(
        tuesday,
        {
            "received": 4,
            "answered": 1,
            "answered_within": 1,
            "callbacks_requested": 3,
            "callbacks_within": 2,  # k1, k3
            "breaches": 1,
            "service_level": 0.75,  # (1 + 2) / (1 + 3)
        },
    )
    assert_figures(
        monday,
        {"received": 1, "callbacks_requested": 1, "callbacks_within": 1, "service_level": 1.0},
    )
    halves = {
        h["start"][11:16]: (h["callbacks_requested"], h["callbacks_within"], h["service_level"])
        for h in may["month"]["half_hours"]
        if h["channel"] == "voice" and h["received"]
    }
    assert halves == {
        "09:00": (0, 0, 1.0),  # k0
        "10:00": (1, 1, 1.0),  # k1
        "11:00": (1, 0, 0.0),  # k2
        "14:00": (1, 1, 1.0),  # k3
        "18:00": (1, 1, 1.0),  # k4
    }


def test_june_counts_no_callback_again(journal: Path) -> None:
    june = as_json(journal, "month", "--month", "2027-06")
    found = voice(june["month"])
    # k4 is reached on 1 June, but its call counts in May, and its callback beside it.
    assert (found["received"], found["callbacks_requested"], found["callbacks_reached"]) == (
        0,
        0,
        0,
    )
    assert june["month"]["pending"] == []
    assert voice(june["previous"])["callbacks_open"] == 1  # May, as it stood at its end


def test_csv_and_xlsx_hold_the_callbacks(journal: Path, tmp_path: Path) -> None:
    done = report(journal, "month", "--month", "2027-05", "--format", "csv")
    assert done.returncode == 0, done.stderr
    header: list[str] = []
    found: dict[str, str] = {}
    for line in csv.reader(io.StringIO(done.stdout)):
        if line and line[0] == "table":
            header = line
        elif line and line[:3] == ["channels", "2027-05", "voice"]:
            found = dict(zip(header, line, strict=True))
    assert {name: found[name] for name in CALLBACKS} == {
        name: str(value) for name, value in CALLBACKS.items()
    }
    target = tmp_path / "may.xlsx"
    done = report(journal, "month", "--month", "2027-05", "--format", "xlsx", "--output",
                  str(target))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(target) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    for name in CALLBACKS:
        assert f"<t>{name}</t>" in sheet, name


@pytest.mark.parametrize(
    ("language", "heading", "row"),
    [
        ("fr", "<h2>Rappels</h2>", "<td>mai 2027</td><td>4</td><td>3</td><td>2</td><td>1</td>"
         "<td>1</td><td>3</td><td>2</td><td>1</td><td>50,0\u00a0%</td>"),
        ("en", "<h2>Callbacks</h2>", "<td>May 2027</td><td>4</td><td>3</td><td>2</td><td>1</td>"
         "<td>1</td><td>3</td><td>2</td><td>1</td><td>50.0%</td>"),
    ],
)  # fmt: skip
def test_the_page_shows_the_callbacks_and_defines_them(
    journal: Path, language: str, heading: str, row: str
) -> None:
    done = report(journal, "month", "--month", "2027-05", "--language", language)
    assert done.returncode == 0, done.stderr
    page = done.stdout
    section = page[page.index(heading) :]
    section = section[: section.index("</section>")]
    assert row in section
    assert "avril 2027" not in section  # none asked in April
    assert "April 2027" not in section
    glossary = as_json(journal, "month", "--month", "2027-05", "--language", language)["glossary"]
    callbacks = [key for key in glossary if "callback" in key]
    assert callbacks == [
        "callbacks",
        "callbacks_within",
        "callbacks_reached",
        "callbacks_open",
        "callbacks_made",
        "callbacks_overdue",
        "callback_service_level",
    ]
    for key in callbacks:
        assert escape(glossary[key]) in page
    level = glossary["callback_service_level"]
    assert ("faits à temps / (faits + en retard)" if language == "fr" else
            "made in time / (made + overdue)") in level  # fmt: skip
