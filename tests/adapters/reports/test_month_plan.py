"""The month beside its plan, on the hand-written March 2027 (``month_journal.py``).

The plan, written for the test: voice 20 calls at 85 %; written 3 complaints, no service level
of its own (so the channel's target, 90 %); social 0 messages. The month had (see
``test_month_report``) voice 18 received at 15/17, written 3 at 2/2, social 3 at 2/3, the
targets 80 %, 90 % and 80 %. So, by hand:

    voice    gap 18 - 20 = -2, -2/20 = -10 %; 15/17 = 88.235 % against 85 %: +3.235 points
    written  gap 0, 0 %; 100 % against the target 90 %: +10 points
    social   gap +3, no share of a plan of 0; 66.667 % against the target 80 %: -13.333 points
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.adapters.reports.month_journal import Month, written_month
from tests.adapters.reports.test_penalties import RULES, config_with, run

PLAN = """
[reports.plan."2027-03".voice]
received = 20
service_level = 0.85
[reports.plan."2027-03".written]
received = 3
[reports.plan."2027-03".social]
received = 0
"""


@pytest.fixture(scope="module")
def month() -> Month:
    return written_month()


@pytest.fixture(scope="module")
def place(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("plan")
    month.write(place / "journal.sqlite")
    (place / "config.toml").write_text(config_with(RULES + PLAN), encoding="utf-8")
    return place


def report(place: Path, *args: str) -> subprocess.CompletedProcess[str]:
    store = f"sqlite:///{place / 'journal.sqlite'}"
    done = run(place, "month", *args, "--store", store)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def march(place: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(report(place, "--month", "2027-03", "--format", "json").stdout)


def test_each_planned_channel_is_beside_its_plan_with_the_gaps_worked_out_by_hand(
    march: dict,  # type: ignore[type-arg]
) -> None:
    assert march["plan"] == {
        "month": "2027-03",
        "channels": [
            {
                "channel": "voice",
                "planned_received": 20,
                "received": 18,
                "gap": -2,
                "gap_share": -0.1,
                "planned_service_level": 0.85,
                "service_level_from_plan": True,
                "service_level": 15 / 17,
                "service_level_gap_points": (15 / 17 - 0.85) * 100,
            },
            {
                "channel": "written",
                "planned_received": 3,
                "received": 3,
                "gap": 0,
                "gap_share": 0.0,
                "planned_service_level": 0.9,
                "service_level_from_plan": False,
                "service_level": 1.0,
                "service_level_gap_points": (1.0 - 0.9) * 100,
            },
            {
                "channel": "social",
                "planned_received": 0,
                "received": 3,
                "gap": 3,
                "gap_share": None,
                "planned_service_level": 0.8,
                "service_level_from_plan": False,
                "service_level": 2 / 3,
                "service_level_gap_points": (2 / 3 - 0.8) * 100,
            },
        ],
    }
    points = [line["service_level_gap_points"] for line in march["plan"]["channels"]]
    assert [round(value, 3) for value in points] == [3.235, 10.0, -13.333]
    assert "plan" in march["glossary"]


def test_a_month_without_a_plan_has_none_in_its_report(place: Path) -> None:
    april = json.loads(report(place, "--month", "2027-04", "--format", "json").stdout)
    assert "plan" not in april
    assert "plan" not in april["glossary"]
    rows = csv.reader(io.StringIO(report(place, "--month", "2027-04", "--format", "csv").stdout))
    assert all(line[0] != "plan" for line in rows if line)


def test_the_csv_holds_the_plan_table(place: Path) -> None:
    text = report(place, "--month", "2027-03", "--format", "csv").stdout
    rows = [line for line in csv.reader(io.StringIO(text)) if line]
    header = next(line for line in rows if line[0] == "table" and "planned_received" in line)
    planned = [dict(zip(header, line, strict=True)) for line in rows if line[0] == "plan"]
    assert [
        (row["channel"], row["planned_received"], row["received"], row["gap"]) for row in planned
    ] == [
        ("voice", "20", "18", "-2"),
        ("written", "3", "3", "0"),
        ("social", "0", "3", "3"),
    ]


def test_the_page_shows_the_plan_in_french(place: Path) -> None:
    page = report(place, "--month", "2027-03").stdout
    assert "<h2>Le mois et son plan</h2>" in page
    section = page[page.index("<h2>Le mois et son plan</h2>") :]
    section = section[: section.index("</section>")]
    start = section.index('<tr><th scope="row">')
    voice = section[start : section.index("</tr>", start)]
    assert "<td>20</td><td>18</td><td>-2</td>" in voice
    assert "+3,2</td>" in voice


def test_verify_accepts_a_planned_report_and_refuses_an_altered_gap(
    place: Path, month: Month, tmp_path: Path
) -> None:
    store = f"sqlite:///{place / 'journal.sqlite'}"
    written = tmp_path / "march.json"
    written.write_text(report(place, "--month", "2027-03", "--format", "json").stdout)
    done = run(place, "verify", str(written), "--store", store)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(written.read_text())
    document["plan"]["channels"][0]["gap"] = -1
    written.write_text(json.dumps(document))
    done = run(place, "verify", str(written), "--store", store)
    assert done.returncode == 1
    assert "DIFFERS plan.channels[0].gap: the report says -1, the journal gives -2" in done.stdout


def test_the_workbook_has_a_plan_sheet(place: Path, tmp_path: Path) -> None:
    book = tmp_path / "march.xlsx"
    report(place, "--month", "2027-03", "--format", "xlsx", "--output", str(book))
    with zipfile.ZipFile(book) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
        found = re.search(r'<sheet name="plan" sheetId="(\d+)" r:id="rId\1"/>', workbook)
        assert found is not None, workbook
        sheet = archive.read(f"xl/worksheets/sheet{found[1]}.xml").decode()
    assert "<t>planned_received</t>" in sheet
    assert "<t>voice</t>" in sheet
