"""Staffing plans as CSV: written by ``staff plan``, read back by ``simulate --plan``."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aiguillage.adapters.config.datetimes import parse_instant
from aiguillage.adapters.reports.staffing_csv import PlanError, plan_to_csv, read_plan
from aiguillage.simulations.planning import PlanRow

PARIS = ZoneInfo("Europe/Paris")
START = parse_instant("2027-01-04T07:00:00+01:00")
ROWS = [
    PlanRow(start=START, needs={"voice": 3, "written": 1, "social": 2}),
    PlanRow(start=START + 1_800_000_000, needs={"voice": 4, "written": 1, "social": 2}),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_plan_reads_back_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, plan_to_csv(ROWS, PARIS))
    assert read_plan(path) == tuple(ROWS)


def test_the_csv_starts_with_local_times_and_their_offset() -> None:
    lines = plan_to_csv(ROWS, PARIS).splitlines()
    assert lines[0] == "start,voice,written,social"
    assert lines[1] == "2027-01-04T07:00:00+01:00,3,1,2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("when,voice\n", "first column must be `start`"),
        ("start,fax\n", "unknown channel `fax`"),
        ("start,voice\n2027-01-04T07:00:00,2\n", ":2: start: .* has no UTC offset"),
        ("start,voice\n2027-01-04T07:00:00+01:00,two\n", ":2: voice: `two` is not a whole"),
        ("start,voice\n2027-01-04T07:00:00+01:00\n", ":2: 1 cells, the header has 2"),
        (
            "start,voice\n2027-01-04T07:30:00+01:00,1\n2027-01-04T07:00:00+01:00,1\n",
            ":3: starts must increase",
        ),
        ("start,voice\n", "no interval"),
    ],
)
def test_a_broken_plan_names_the_line_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(PlanError, match=message):
        read_plan(write(tmp_path, text))


def test_a_missing_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read the plan"):
        read_plan(tmp_path / "nowhere.csv")
