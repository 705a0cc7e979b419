"""``/v1/schedule/{day}``: a day's schedule imported as CSV by staff, journaled, read as JSON,
and every problem of the CSV answered 400 naming its line and column.

Through a real daemon on loopback, on the reference configuration; the day is today in its
time zone (the daemon keeps a week of schedules, on its wall clock).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.adapters.daemons import ADMIN, ADVISOR, INTEGRATOR, SUPERVISOR, Daemon, running

PARIS = ZoneInfo("Europe/Paris")
CSV = {"Content-Type": "text/csv"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("schedule"))


@pytest.fixture
def supervisor(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(SUPERVISOR) as client:
        yield client


def today() -> date:
    return datetime.now(PARIS).date()


def at(hour: str, day: date | None = None) -> str:
    """An ISO-8601 instant of ``day`` (today) at ``hour`` in Paris, with its offset."""
    moment = datetime.fromisoformat(f"{(day or today()).isoformat()}T{hour}:00")
    return moment.replace(tzinfo=PARIS).isoformat()


def wfm(*rows: str) -> str:
    return "advisor_id,start,end,activity\n" + "".join(row + "\n" for row in rows)


def put(client: httpx.Client, body: str, day: date | None = None) -> httpx.Response:
    return client.put(f"/v1/schedule/{(day or today()).isoformat()}", content=body, headers=CSV)


def refused(response: httpx.Response, field: str | None, saying: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert (body.get("field"), saying in body["detail"]) == (field, True), body


def test_a_wfm_export_is_journaled_and_read_back_as_json(supervisor: httpx.Client) -> None:
    body = wfm(
        f"claire.martin,{at('09:00')},{at('12:00')},work",
        f"claire.martin,{at('12:00')},{at('13:00')},lunch",
        f"claire.martin,{at('13:00')},{at('17:00')},work",
        f"julien.bernard,{at('13:00')},{at('20:00')},work",
    )
    answer = put(supervisor, body)
    assert answer.status_code == 200, answer.text
    read = supervisor.get(f"/v1/schedule/{today().isoformat()}")
    assert read.status_code == 200, read.text
    assert read.json() == answer.json()
    shifts = read.json()["shifts"]
    assert [(s["advisor_id"], s["activity"]) for s in shifts] == [
        ("claire.martin", "work"),
        ("claire.martin", "lunch"),
        ("claire.martin", "work"),
        ("julien.bernard", "work"),
    ]
    assert datetime.fromisoformat(shifts[1]["start"]) == datetime.fromisoformat(at("12:00"))
    # The journal holds it, as a schedule.set event.
    events = supervisor.get("/v1/events", params={"after": 0, "limit": 5000})
    assert events.status_code == 200, events.text
    journaled = [row["event"] for row in events.json()["events"]]
    (latest, *_) = [e for e in reversed(journaled) if e["type"] == "schedule.set"]
    assert latest["day"] == today().isoformat()
    # Its shifts' instants read as every instant of the API does: ISO-8601 with the offset.
    assert latest["shifts"][1]["start"] == shifts[1]["start"]
    assert datetime.fromisoformat(latest["shifts"][1]["end"]) == datetime.fromisoformat(at("13:00"))


def test_a_grid_merges_consecutive_intervals_into_shifts(supervisor: httpx.Client) -> None:
    day = today() + timedelta(days=1)
    grid = (
        "start,claire.martin,sophie.dubois\n"
        f"{at('09:00', day)},work,\n"
        f"{at('09:30', day)},work,training\n"
        f"{at('10:00', day)},break,training\n"
        f"{at('10:30', day)},work,\n"
    )
    answer = put(supervisor, grid, day)
    assert answer.status_code == 200, answer.text
    shifts = [
        (s["advisor_id"], s["activity"], s["start"][11:16], s["end"][11:16])
        for s in answer.json()["shifts"]
    ]
    # The last interval lasts as long as the one before it: 30 minutes.
    assert shifts == [
        ("claire.martin", "work", "09:00", "10:00"),
        ("claire.martin", "break", "10:00", "10:30"),
        ("claire.martin", "work", "10:30", "11:00"),
        ("sophie.dubois", "training", "09:30", "10:30"),
    ]


def _tomorrow(hour: str) -> str:
    return at(hour, today() + timedelta(days=1))


_CLAIRE_9_17 = lambda: f"claire.martin,{at('09:00')},{at('17:00')},work"  # noqa: E731

BAD = {
    "bad-end": (
        lambda: wfm(f"claire.martin,{at('09:00')},tomorrow,work"),
        "end",
        "line 2, column 3 (`end`): 'tomorrow' is not an ISO-8601 datetime",
    ),
    "naive-start": (
        lambda: wfm(f"claire.martin,2026-12-01T09:00:00,{at('10:00')},work"),
        "start",
        "line 2, column 2 (`start`): 2026-12-01T09:00:00 has no UTC offset",
    ),
    "unknown-activity": (
        lambda: wfm(_CLAIRE_9_17(), f"claire.martin,{at('17:00')},{at('18:00')},siesta"),
        "activity",
        "line 3, column 4 (`activity`): activity `siesta` is not work",
    ),
    "unknown-advisor": (
        lambda: wfm(f"nobody,{at('09:00')},{at('10:00')},work"),
        "advisor_id",
        "line 2, column 1 (`advisor_id`): no advisor `nobody` in the roster",
    ),
    "overlap": (
        lambda: wfm(_CLAIRE_9_17(), f"claire.martin,{at('12:00')},{at('13:00')},lunch"),
        "start",
        "line 3, column 2 (`start`): advisor 'claire.martin' has two shifts at once",
    ),
    "another-day": (
        lambda: wfm(f"claire.martin,{_tomorrow('09:00')},{_tomorrow('10:00')},work"),
        "start",
        "line 2, column 2 (`start`): the shift starts at",
    ),
    "short-row": (
        lambda: wfm(f"claire.martin,{at('09:00')},{at('10:00')}"),
        None,
        "line 2: 3 cells",
    ),
    "staff-plan": (
        lambda: f"start,voice,written,social\n{at('09:00')},3,2,1\n",
        "voice",
        "line 1, column 2 (`voice`): this looks like `aiguillage staff plan`'s CSV",
    ),
    "unknown-header": (
        lambda: "who,when\nx,y\n",
        "who",
        "line 1, column 1 (`who`): unknown header",
    ),
    "one-row-grid": (
        lambda: f"start,claire.martin\n{at('09:00')},work\n",
        None,
        "a grid needs at least two rows",
    ),
    "grid-going-back": (
        lambda: f"start,claire.martin\n{at('10:00')},work\n{at('09:00')},work\n",
        "start",
        "line 3, column 1 (`start`): starts must increase",
    ),
    "grid-unknown-activity": (
        lambda: f"start,claire.martin\n{at('10:00')},work\n{at('10:30')},nap\n",
        "claire.martin",
        "line 3, column 2 (`claire.martin`): activity `nap` is not work",
    ),
}


@pytest.mark.parametrize(("body", "field", "saying"), list(BAD.values()), ids=list(BAD))
def test_a_bad_csv_is_refused_naming_its_line_and_column(
    supervisor: httpx.Client, body: object, field: str | None, saying: str
) -> None:
    refused(put(supervisor, body()), field, saying)  # type: ignore[operator]


def test_a_day_not_written_as_a_date_is_refused(supervisor: httpx.Client) -> None:
    answer = supervisor.put("/v1/schedule/tomorrow", content=wfm(), headers=CSV)
    refused(answer, "day", "YYYY-MM-DD")
    refused(supervisor.get("/v1/schedule/01-12-2026"), "day", "YYYY-MM-DD")


def test_a_day_more_than_a_week_ago_is_refused(supervisor: httpx.Client) -> None:
    refused(put(supervisor, wfm(), today() - timedelta(days=8)), "day", "more than 7 days ago")


def test_a_body_that_is_not_csv_is_refused_as_unsupported(supervisor: httpx.Client) -> None:
    answer = supervisor.put(f"/v1/schedule/{today().isoformat()}", json={"shifts": []})
    assert answer.status_code == 415, answer.text
    assert answer.json()["error"] == "unsupported_media_type"
    assert "text/csv" in answer.json()["detail"]


def test_a_day_without_a_schedule_is_not_found(supervisor: httpx.Client) -> None:
    answer = supervisor.get(f"/v1/schedule/{(today() + timedelta(days=30)).isoformat()}")
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"] == "not_found"


def test_a_header_alone_clears_the_day(supervisor: httpx.Client) -> None:
    day = today() + timedelta(days=2)
    assert (
        put(
            supervisor, wfm(f"karim.benali,{at('09:00', day)},{at('10:00', day)},work"), day
        ).status_code
        == 200
    )
    assert put(supervisor, wfm(), day).json()["shifts"] == []
    assert supervisor.get(f"/v1/schedule/{day.isoformat()}").status_code == 404


@pytest.mark.parametrize(
    ("token", "allowed"), [(ADMIN, True), (SUPERVISOR, True), (INTEGRATOR, False), (ADVISOR, False)]
)
def test_only_supervisors_and_admins_set_or_read_schedules(
    daemon: Daemon, token: str, allowed: bool
) -> None:
    day = today() + timedelta(days=3)
    with daemon.client(token) as client:
        written = put(client, wfm(f"karim.benali,{at('09:00', day)},{at('10:00', day)},work"), day)
        read = client.get(f"/v1/schedule/{day.isoformat()}")
    assert (written.status_code, read.status_code) == ((200, 200) if allowed else (403, 403))
    if not allowed:
        assert written.json()["error"] == "forbidden"


def test_without_a_token_nothing_is_read(daemon: Daemon) -> None:
    with daemon.client(None) as client:  # type: ignore[arg-type]
        assert client.get(f"/v1/schedule/{today().isoformat()}").status_code == 401
