"""``GET /v1/reports/month/{YYYY-MM}`` and ``/v1/reports/year/{YYYY}`` from a running daemon.

The figures themselves are worked out by hand in ``tests/adapters/reports``; here the daemon's
reports are the command's on the same journal, read beside the daemon, and only supervisors,
admins and the read-only ``authority`` role read them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    INTEGRATOR,
    SUPERVISOR,
    Daemon,
    write_config,
)
from tests.adapters.reports.test_verify import write_key

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    place = tmp_path_factory.mktemp("reports")
    write_key(Ed25519PrivateKey.generate(), place / "reports.pem", place / "operator.pub")
    # This month's plan: five written complaints.
    plan = f'[reports.plan."{datetime.now(PARIS):%Y-%m}".written]\nreceived = 5\n'
    daemon = Daemon(place, write_config(place, f'\n[reports]\nsigning_key = "reports.pem"\n{plan}'))
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.kill()


@pytest.fixture(scope="module")
def authority(daemon: Daemon) -> str:
    with daemon.client(ADMIN) as admin:
        minted = admin.post("/v1/tokens", json={"role": "authority", "label": "the principal"})
    assert minted.status_code == 201, minted.text
    secret: str = minted.json()["token"]
    return secret


DEADLINES: list[str] = []


@pytest.fixture(scope="module")
def month(daemon: Daemon) -> str:
    """This month, with two written complaints submitted in it (``DEADLINES``)."""
    with daemon.client(INTEGRATOR) as integrator:
        for n in (1, 2):
            body = {"channel": "written", "source": "email", "external_id": f"report-{n}",
                    "motive": "refunds", "text": "Remboursement"}  # fmt: skip
            created = integrator.post("/v1/interactions", json=body)
            assert created.status_code == 201
            DEADLINES.append(created.json()["deadline"])
    return datetime.now(PARIS).strftime("%Y-%m")


def command(daemon: Daemon, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "report", *args,
         "--config", str(daemon.config), "--store", daemon.store, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_the_months_report_is_the_commands_on_the_same_journal(
    daemon: Daemon, authority: str, month: str
) -> None:
    with daemon.client(authority) as client:
        answered = client.get(f"/v1/reports/month/{month}")
    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("application/json")
    served = answered.json()
    written = {r["channel"]: r for r in served["month"]["channels"]}["written"]
    assert written["received"] == 0  # due in three working days: not settled, not counted
    # Open at the end of the report (the journal's), and pending if due within the month.
    end = datetime.fromisoformat(served["month"]["end"])
    due_in_month = [d for d in DEADLINES if datetime.fromisoformat(d) < end]
    assert [p["deadline"] for p in served["month"]["pending"]] == due_in_month
    read = command(daemon, "month", "--month", month)
    assert served["month"]["channels"] == read["month"]["channels"]
    assert served["previous"] == read["previous"]
    assert served["glossary"] == read["glossary"]
    assert served["plan"] == read["plan"]
    (planned,) = served["plan"]["channels"]
    assert (planned["channel"], planned["planned_received"], planned["received"]) == (
        "written",
        5,
        0,
    )
    assert (planned["gap"], planned["gap_share"]) == (-5, -1.0)


def test_the_served_report_is_signed_and_the_authority_verifies_it(
    daemon: Daemon, authority: str, month: str
) -> None:
    with daemon.client(authority) as client:
        served = client.get(f"/v1/reports/month/{month}")
    assert served.status_code == 200, served.text
    assert served.json()["signature"]["algorithm"] == "Ed25519"
    kept = daemon.directory / "served.json"
    kept.write_bytes(served.content)
    done = subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "report", "verify", str(kept),
         "--config", str(daemon.config), "--store", daemon.store,
         "--public-key", str(daemon.directory / "operator.pub")],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signature sound (the key given)" in done.stdout
    assert done.stdout.rstrip().endswith("matches the journal")


def test_every_format_and_the_year(daemon: Daemon, month: str) -> None:
    with daemon.client(SUPERVISOR) as client:
        page = client.get(f"/v1/reports/month/{month}", params={"format": "html"})
        sheet = client.get(f"/v1/reports/month/{month}", params={"format": "xlsx"})
        table = client.get(f"/v1/reports/month/{month}", params={"format": "csv", "language": "en"})
        year = client.get(f"/v1/reports/year/{month[:4]}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.text.startswith("<!DOCTYPE html>")
    assert sheet.status_code == 200
    assert 'filename="report-' in sheet.headers["content-disposition"]
    with zipfile.ZipFile(BytesIO(sheet.content)) as book:
        assert "xl/worksheets/sheet1.xml" in book.namelist()
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.startswith("table,month,channel,")
    assert year.status_code == 200
    assert len(year.json()["months"]) == 12
    assert year.json()["months"] == command(daemon, "year", "--year", month[:4])["months"]


@pytest.mark.parametrize(("token", "status"), [(ADVISOR, 403), (INTEGRATOR, 403), (None, 401)])
def test_only_supervisors_admins_and_the_authority_read_them(
    daemon: Daemon, month: str, token: str | None, status: int
) -> None:
    with daemon.client(token) as client:
        assert client.get(f"/v1/reports/month/{month}").status_code == status
    with daemon.client(ADMIN) as client:
        assert client.get(f"/v1/reports/month/{month}").status_code == 200


def test_the_authority_reads_nothing_else(daemon: Daemon, authority: str) -> None:
    with daemon.client(authority) as client:
        for path in ("/v1/queues", "/v1/interactions/1", "/v1/wallboard", "/v1/advisors"):
            assert client.get(path).status_code == 403, path
        body = {"channel": "written", "source": "email", "external_id": "x", "text": "x"}
        assert client.post("/v1/interactions", json=body).status_code == 403


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/reports/month/2027-13", {}, "month"),
        ("/v1/reports/month/janvier", {}, "month"),
        ("/v1/reports/month/2027-01", {"format": "pdf"}, "format"),
        ("/v1/reports/month/2027-01", {"language": "de"}, "language"),
        ("/v1/reports/year/27", {}, "year"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    daemon: Daemon, path: str, params: dict[str, str], field: str
) -> None:
    with daemon.client(SUPERVISOR) as client:
        answered: httpx.Response = client.get(path, params=params)
    assert answered.status_code == 400, answered.text
    assert answered.json()["error"] == "invalid_request"
    assert answered.json()["field"] == field
