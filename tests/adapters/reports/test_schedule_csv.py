"""Schedules as CSV: the shifts format, the grid, and errors naming line and column."""

from __future__ import annotations

import pytest

from aiguillage.adapters.reports.schedule_csv import ScheduleCsvError, read_schedule
from aiguillage.engine.instants import HOUR, MINUTE
from tests.engine.conftest import at

NINE = at("2027-03-01T09:00:00+01:00")


def test_the_shifts_format_reads_each_row_as_a_shift_with_its_line() -> None:
    parsed = read_schedule(
        "\ufeffAdvisor_ID,Start,End,Activity\r\n"  # a spreadsheet's BOM, capitals and CRLF
        "ada,2027-03-01T09:00:00+01:00,2027-03-01T12:00:00+01:00,work\r\n"
        "\r\n"
        "ada,2027-03-01T11:00:00Z,2027-03-01T12:00:00Z,lunch\r\n"
    )
    assert [(s.advisor_id, s.start, s.end, s.activity) for s in parsed.shifts] == [
        ("ada", NINE, NINE + 3 * HOUR, "work"),
        ("ada", NINE + 3 * HOUR, NINE + 4 * HOUR, "lunch"),
    ]
    assert parsed.lines == [2, 4]


def test_a_grid_row_lasts_until_the_next_and_the_last_as_the_one_before() -> None:
    parsed = read_schedule(
        "start,ada,bob\n"
        "2027-03-01T09:00:00+01:00,work,\n"
        "2027-03-01T09:15:00+01:00,work,work\n"
        "2027-03-01T09:30:00+01:00,,work\n"
    )
    assert [(s.advisor_id, s.start, s.end) for s in parsed.shifts] == [
        ("ada", NINE, NINE + 30 * MINUTE),
        ("bob", NINE + 15 * MINUTE, NINE + 45 * MINUTE),
    ]
    assert parsed.lines == [2, 3]
    # A refusal about bob's shift names bob's column on the line it starts.
    error = parsed.error(1, "activity", "no such code")
    assert (error.line, error.column, error.name) == (3, 3, "bob")


@pytest.mark.parametrize(
    ("text", "line", "column", "name"),
    [
        ("", 1, 0, ""),
        ("advisor_id,start,end,activity\nada,,2027-03-01T10:00:00+01:00,work\n", 2, 2, "start"),
        ("advisor_id,start,end,activity\n,x,y,work\n", 2, 1, "advisor_id"),
        (
            "advisor_id,start,end,activity\n"
            "ada,2027-03-01T09:00:00+01:00,2027-03-01T10:00:00+01:00, \n",
            2,
            4,
            "activity",
        ),
        ("start,ada,ada\n", 1, 3, "ada"),
        ("start,ada,\n", 1, 3, ""),
        ("start,ada\n2027-03-01T09:00:00+01:00,work,extra\n", 2, 0, ""),
    ],
    ids=["empty", "no-start", "no-advisor", "no-activity", "twice", "unnamed", "wide-row"],
)
def test_every_problem_names_its_line_and_column(
    text: str, line: int, column: int, name: str
) -> None:
    with pytest.raises(ScheduleCsvError) as refused:
        read_schedule(text)
    assert (refused.value.line, refused.value.column, refused.value.name) == (line, column, name)
    assert str(refused.value).startswith(f"line {line}")
