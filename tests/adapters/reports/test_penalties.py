"""The penalty statement of the hand-written month (``month_journal.py``), worked out by hand.

The rules (``RULES`` below, beside the reference configuration's ``penalty_eur``: voice 15 €,
written 25 €, social 10 €): voice 40 € a breach and 50 € a point under target; written its
``penalty_eur`` a breach and 300 € a point; social its ``penalty_eur`` a breach, 100 € a point,
capped at 1,200 € a month; the month's total capped at 1,000 €.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiguillage.adapters.config.settings import load_config
from tests.adapters.reports.month_journal import Month, written_month

REFERENCE = Path(__file__).resolve().parents[3] / "config.toml"

RULES = """
[penalties]
cap_eur = 1000.0
[penalties.channels.voice]
breach_eur = 40.0
point_eur = 50.0
[penalties.channels.written]
point_eur = 300.0
[penalties.channels.social]
point_eur = 100.0
cap_eur = 1200.0
"""


def config_with(rules: str) -> str:
    """The reference configuration, its ``[penalties]`` replaced by ``rules``."""
    text = REFERENCE.read_text(encoding="utf-8")
    return text[: text.index("\n[penalties]\n")] + "\n" + rules


@pytest.fixture(scope="module")
def month() -> Month:
    return written_month()


@pytest.fixture(scope="module")
def place(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("penalties")
    month.write(place / "journal.sqlite")
    (place / "config.toml").write_text(config_with(RULES), encoding="utf-8")
    return place


def run(place: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AIGUILLAGE_ADMIN_TOKEN"}
    env["COLUMNS"] = "300"  # a message on one line, whatever the length of the paths it names
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "report", *args],
        capture_output=True,
        text=True,
        cwd=place,
        env=env,
        timeout=120,
    )


def statement(place: Path, month: str, format: str = "json") -> subprocess.CompletedProcess[str]:
    store = f"sqlite:///{place / 'journal.sqlite'}"
    return run(place, "penalties", "--month", month, "--store", store, "--format", format)


def as_json(place: Path, month: str) -> dict[str, Any]:
    done = statement(place, month)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_march_each_line_with_what_it_rests_on_and_the_caps_taken_off(
    place: Path, month: Month
) -> None:
    found = as_json(place, "2027-03")
    social_points = (0.8 - 2 / 3) * 100  # social's service level 2 / 3 under its 80 %
    lines = found["lines"]
    assert [(line["kind"], line.get("channel")) for line in lines] == [
        ("breaches", "voice"),
        ("breaches", "social"),
        ("service_level", "social"),
        ("channel_cap", "social"),
        ("cap", None),
    ]
    voice, social, level, social_cap, cap = lines
    # c5, breached: 40 €. Voice's service level, 15 / 17, is over its 80 %: no line.
    assert (voice["count"], voice["unit_cents"], voice["amount_cents"]) == (1, 4000, 4000)
    assert voice["interactions"] == [month.ids["c5"]]
    # s1, breached across the change to summer time: social's penalty_eur, 10 €.
    assert (social["count"], social["unit_cents"], social["amount_cents"]) == (1, 1000, 1000)
    assert social["interactions"] == [month.ids["s1"]]
    # 13.33 points under 80 %, at 100 € each: 1,333.33 €, on s2 and s3 in time out of 3.
    assert level["points"] == pytest.approx(social_points)
    assert (level["service_level"], level["target"]) == (pytest.approx(2 / 3), 0.8)
    assert (level["unit_cents"], level["amount_cents"]) == (10_000, 133_333)
    assert level["figures"] == {
        "answered_within": 2,
        "answered": 3,
        "abandoned": 0,
        "short_abandons": 0,
        "callbacks_within": 0,
        "callbacks_requested": 0,
    }
    # Social's 1,343.33 € capped at 1,200 €; then 1,240 € in all capped at 1,000 €.
    assert (social_cap["cap_cents"], social_cap["amount_cents"]) == (120_000, -14_333)
    assert (cap["cap_cents"], cap["amount_cents"]) == (100_000, -24_000)
    assert found["total_cents"] == 100_000
    assert found["total_cents"] == sum(line["amount_cents"] for line in lines)
    # Written: w3 is pending at the month's end, w1 and w2 in time: nothing charged.
    assert found["month"] == "2027-03"
    assert found["complete"] is True


def test_april_charges_the_complaint_march_left_pending_at_the_channels_penalty_eur(
    place: Path, month: Month
) -> None:
    found = as_json(place, "2027-04")
    breaches, level, cap = found["lines"]
    # w3, breached, no breach_eur given: written's penalty_eur, 25 €.
    assert (breaches["kind"], breaches["channel"], breaches["amount_cents"]) == (
        "breaches",
        "written",
        2_500,
    )
    assert breaches["interactions"] == [month.ids["w3"]]
    # Written 1 in time of 2 (50 %) under its 90 %: 40 points at 300 €: 12,000 €.
    assert (level["kind"], level["points"], level["amount_cents"]) == (
        "service_level",
        pytest.approx(40.0),
        1_200_000,
    )
    assert (cap["kind"], cap["amount_cents"]) == ("cap", 100_000 - 1_202_500)
    assert found["total_cents"] == sum(line["amount_cents"] for line in found["lines"]) == 100_000
    assert found["complete"] is False


def test_the_statement_names_the_journal_it_was_computed_from(place: Path) -> None:
    found = as_json(place, "2027-03")
    report = run(place, "month", "--month", "2027-03", "--format", "json", "--store",
                 f"sqlite:///{place / 'journal.sqlite'}")  # fmt: skip
    assert found["journal"] == json.loads(report.stdout)["month"]["journal"]
    assert found["rules"]["channels"]["written"] == {
        "breach_cents": 2_500,
        "point_cents": 30_000,
        "cap_cents": None,
        "transfer_cents": 0,
    }


def test_csv_and_html_hold_the_same_lines_and_total(place: Path) -> None:
    done = statement(place, "2027-03", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["kind"] for r in rows] == [
        "breaches", "breaches", "service_level", "channel_cap", "cap", "total"
    ]  # fmt: skip
    assert [int(r["amount_cents"]) for r in rows] == [
        4000,
        1000,
        133_333,
        -14_333,
        -24_000,
        100_000,
    ]
    page = statement(place, "2027-03", "html")
    assert page.returncode == 0, page.stderr
    assert "Relevé des pénalités — 2027-03" in page.stdout
    assert "1000.00 €" in page.stdout
    assert "-143.33 €" in page.stdout


def test_without_a_penalties_table_the_statement_is_refused_saying_what_to_add(
    place: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "config.toml"
    bare.write_text(config_with(""), encoding="utf-8")
    done = run(place, "penalties", "--month", "2027-03", "--config", str(bare))
    assert done.returncode == 1
    assert "no [penalties] table" in done.stderr


def test_a_negative_amount_is_refused_naming_file_key_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text(config_with(RULES.replace("point_eur = 50.0", "point_eur = -5")), "utf-8")
    done = run(tmp_path, "penalties", "--month", "2027-03", "--config", str(bad))
    assert done.returncode == 1
    assert "config.toml:" in done.stderr
    assert "penalties.channels.voice.point_eur" in done.stderr


def test_the_reference_configuration_states_penalties() -> None:
    settings = load_config(REFERENCE).settings
    assert settings.penalties is not None
    assert set(settings.penalties.channels) == {"voice", "written", "social"}
