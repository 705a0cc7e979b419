"""``GET /v1/extracts`` against a real daemon: rows from the journal, personal data only for
supervisors and admins, each extract in the access log; the authority's token reads reports
and extracts but gets 403 on personal data unless it names one interaction."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.adapters.daemon.api.test_api import assert_error, complaint
from tests.adapters.daemon.test_access_log import access_log, mint
from tests.adapters.daemons import ADMIN, INTEGRATOR, SUPERVISOR, Daemon, running

PERIOD = {"from": "2026-11-23T00:00:00+01:00", "until": "2026-11-24T00:00:00+01:00"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("extracts"))


@pytest.fixture(scope="module")
def submitted(daemon: Daemon) -> list[int]:
    with daemon.client(INTEGRATOR) as api:
        ids = []
        for body in (
            complaint(),
            complaint(channel="social", source="facebook", motive="general"),
            complaint(received_at="2026-11-25T09:00:00+01:00"),  # outside the period
        ):
            created = api.post("/v1/interactions", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        return ids


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def extract_entries(daemon: Daemon) -> list[dict[str, Any]]:
    with daemon.client(ADMIN) as auditor:
        page = auditor.get("/v1/access-log", params={"limit": 5000})
        assert page.status_code == 200, page.text
        return [e for e in page.json()["entries"] if e["kind"] == "extract"]


def test_a_supervisor_s_extract_holds_personal_data_and_appears_in_the_audit_trail(
    daemon: Daemon, submitted: list[int]
) -> None:
    before = len(extract_entries(daemon))
    with daemon.client(SUPERVISOR) as supervisor:
        got = supervisor.get("/v1/extracts", params={**PERIOD, "channel": "written"})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    (row,) = rows(got.text)
    assert row["id"] == str(submitted[0])
    assert row["channel"] == "written"
    assert row["motive"] == "refunds"
    assert row["status"] == "queued"
    assert row["received_at"] == "2026-11-23T09:00:00+01:00"
    assert row["deadline"]
    assert row["customer_name"] == "Jeanne Dupont"
    assert row["customer_email"] == "jeanne@example.org"
    entries = extract_entries(daemon)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry["by"]["role"] == "supervisor"
    assert entry["rows"] == 1
    assert entry["personal"] is True
    assert json.loads(str(entry["filter"])) == {**PERIOD, "channel": "written", "format": "csv"}
    # The interaction's personal data shown is recorded as a read too.
    reads = access_log(daemon, submitted[0])
    assert any(e["kind"] == "read" and e["by"]["role"] == "supervisor" for e in reads)


def test_the_period_and_filters_choose_the_rows(daemon: Daemon, submitted: list[int]) -> None:
    with daemon.client(ADMIN) as admin:
        both = rows(admin.get("/v1/extracts", params=PERIOD).text)
        informed = rows(admin.get("/v1/extracts", params={**PERIOD, "motive": "general"}).text)
        queued = rows(admin.get("/v1/extracts", params={**PERIOD, "status": "closed"}).text)
    assert [int(r["id"]) for r in both] == submitted[:2]
    assert [int(r["id"]) for r in informed] == [submitted[1]]
    assert queued == []


def test_an_xlsx_extract_is_a_workbook_of_the_same_rows(
    daemon: Daemon, submitted: list[int]
) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        got = supervisor.get("/v1/extracts", params={**PERIOD, "format": "xlsx"})
    assert got.status_code == 200, got.text
    with zipfile.ZipFile(io.BytesIO(got.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "Jeanne Dupont" in sheet
    assert sheet.count("<row ") == 3  # the header and two interactions


def test_the_authority_extracts_without_personal_data_and_reads_one_named_interaction(
    daemon: Daemon, submitted: list[int]
) -> None:
    authority = mint(daemon, "authority")
    with daemon.client(authority) as api:
        got = api.get("/v1/extracts", params=PERIOD)
        assert got.status_code == 200, got.text
        assert "Jeanne" not in got.text
        assert "customer_name" not in got.text
        assert len(rows(got.text)) == 2
        assert api.get("/v1/reports/month/2026-11").status_code == 200
        refused = api.get("/v1/extracts", params={**PERIOD, "personal": "true"})
        assert_error(refused, 403, "forbidden")
        assert_error(api.get("/v1/interactions"), 403, "forbidden")
        named = api.get(f"/v1/interactions/{submitted[1]}/personal-data")
        assert named.status_code == 200, named.text
        assert named.json()["customer"]["name"] == "Jeanne Dupont"
    (entry,) = [e for e in access_log(daemon, submitted[1]) if e["by"]["role"] == "authority"]
    assert entry["kind"] == "read"
    assert entry["route"] == f"GET /v1/interactions/{submitted[1]}/personal-data"
    last = extract_entries(daemon)[-1]  # the refused one is not an extract
    assert (last["by"]["role"], last["personal"], last["rows"]) == ("authority", False, 2)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"until": PERIOD["until"]}, "from"),
        ({"from": PERIOD["from"]}, "until"),
        ({**PERIOD, "from": "2026-11-23T00:00:00"}, "from"),
        ({"from": PERIOD["until"], "until": PERIOD["from"]}, "until"),
        ({**PERIOD, "channel": "fax"}, "channel"),
        ({**PERIOD, "status": "lost"}, "status"),
        ({**PERIOD, "motive": "whim"}, "motive"),
        ({**PERIOD, "format": "pdf"}, "format"),
    ],
)
def test_a_bad_filter_is_refused_naming_its_field(
    daemon: Daemon, params: dict[str, str], field: str
) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        assert_error(supervisor.get("/v1/extracts", params=params), 400, "invalid_request", field)
