"""``/v1/exemptions`` and ``/v1/reports/penalties/{YYYY-MM}`` from a running daemon.

A supervisor claims, only the authority decides (a supervisor or an admin is answered 403),
both journaled with the token's journal id and role, never its secret; bad bodies are 400s
naming the field. The statement the daemon serves is the command's on the same journal, signed,
and ``report verify`` accepts it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.adapters.daemons import ADMIN, ADVISOR, INTEGRATOR, SUPERVISOR, Daemon, write_config
from tests.adapters.reports.test_verify import write_key

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    place = tmp_path_factory.mktemp("exemptions")
    write_key(Ed25519PrivateKey.generate(), place / "reports.pem", place / "operator.pub")
    daemon = Daemon(place, write_config(place, '\n[reports]\nsigning_key = "reports.pem"\n'))
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.kill()


def mint(daemon: Daemon, role: str) -> tuple[str, int]:
    """A new token of ``role``: its secret and its journal id."""
    with daemon.client(ADMIN) as admin:
        minted = admin.post("/v1/tokens", json={"role": role, "label": f"a {role}"})
    assert minted.status_code == 201, minted.text
    return minted.json()["token"], minted.json()["id"]


@pytest.fixture(scope="module")
def supervisor(daemon: Daemon) -> tuple[str, int]:
    return mint(daemon, "supervisor")


@pytest.fixture(scope="module")
def authority(daemon: Daemon) -> tuple[str, int]:
    return mint(daemon, "authority")


STRIKE = {
    "from": "2027-01-12T06:00:00+01:00",
    "until": "2027-01-12T20:00:00+01:00",
    "channels": ["voice"],
    "reason": "regional transport strike: the site could not open",
}


def claimed(daemon: Daemon, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    with daemon.client(token) as client:
        answered = client.post("/v1/exemptions", json=body or STRIKE)
    assert answered.status_code == 201, answered.text
    found: dict[str, Any] = answered.json()
    return found


def test_a_supervisor_claims_with_its_token_and_reason_journaled(
    daemon: Daemon, supervisor: tuple[str, int]
) -> None:
    secret, token_id = supervisor
    claim = claimed(daemon, secret)
    assert claim["from"] == "2027-01-12T06:00:00+01:00"
    assert claim["until"] == "2027-01-12T20:00:00+01:00"
    assert (claim["channels"], claim["status"]) == (["voice"], "pending")
    assert (claim["claimed_by"], claim["claimed_role"]) == (f"token:{token_id}", "supervisor")
    assert claim["reason"] == STRIKE["reason"]
    assert claim["decided_by"] == ""
    assert claim["decided_at"] is None
    with daemon.client(ADMIN) as admin:
        trail = admin.get("/v1/events", params={"limit": 5000}).json()["events"]
    (event,) = [
        row["event"]
        for row in trail
        if row["event"]["type"] == "exemption.claimed"
        and row["event"]["exemption_id"] == claim["id"]
    ]
    assert (event["by"], event["role"], event["reason"]) == (
        f"token:{token_id}",
        "supervisor",
        STRIKE["reason"],
    )
    assert event["start"] == "2027-01-12T06:00:00+01:00"
    assert secret not in json.dumps(trail)


@pytest.mark.parametrize("token", [SUPERVISOR, ADMIN])
def test_the_operators_side_may_not_decide_a_claim(daemon: Daemon, token: str) -> None:
    claim = claimed(daemon, SUPERVISOR)
    with daemon.client(token) as client:
        answered = client.post(
            f"/v1/exemptions/{claim['id']}/decision",
            json={"decision": "accepted", "reason": "we say so"},
        )
    assert answered.status_code == 403, answered.text
    assert answered.headers["content-type"].startswith("application/json")
    body = answered.json()
    assert body["error"] == "forbidden"
    assert "only the authority accepts or refuses one" in body["detail"]
    assert "does not grant itself relief" in body["detail"]
    with daemon.client(SUPERVISOR) as client:
        listed = client.get("/v1/exemptions").json()["exemptions"]
    assert {c["id"]: c["status"] for c in listed}[claim["id"]] == "pending"


def test_the_authority_decides_once_and_its_decision_is_journaled(
    daemon: Daemon, authority: tuple[str, int]
) -> None:
    secret, token_id = authority
    claim = claimed(daemon, SUPERVISOR)
    path = f"/v1/exemptions/{claim['id']}/decision"
    with daemon.client(secret) as client:
        decided = client.post(path, json={"decision": "refused", "reason": "no proof given"})
        again = client.post(path, json={"decision": "accepted", "reason": "on second thoughts"})
        listed = client.get("/v1/exemptions")
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "refused"
    assert decided.json()["decision_reason"] == "no proof given"
    assert (decided.json()["decided_by"], decided.json()["decided_role"]) == (
        f"token:{token_id}",
        "authority",
    )
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "already_decided"
    assert listed.status_code == 200
    (shown,) = [c for c in listed.json()["exemptions"] if c["id"] == claim["id"]]
    assert shown == decided.json()
    with daemon.client(ADMIN) as admin:
        trail = admin.get("/v1/events", params={"limit": 5000}).json()["events"]
    decisions = [
        row["event"]
        for row in trail
        if row["event"]["type"] == "exemption.decided"
        and row["event"]["exemption_id"] == claim["id"]
    ]
    assert [(d["decision"], d["by"], d["role"], d["reason"]) for d in decisions] == [
        ("refused", f"token:{token_id}", "authority", "no proof given")
    ]


def test_deciding_an_unknown_claim_is_a_404(daemon: Daemon, authority: tuple[str, int]) -> None:
    with daemon.client(authority[0]) as client:
        answered = client.post(
            "/v1/exemptions/9999/decision", json={"decision": "accepted", "reason": "x"}
        )
    assert answered.status_code == 404, answered.text
    assert answered.json()["error"] == "unknown_exemption"


@pytest.mark.parametrize(
    ("token", "method", "status"),
    [
        (ADVISOR, "get", 403),
        (INTEGRATOR, "get", 403),
        (None, "get", 401),
        (ADVISOR, "post", 403),
        (INTEGRATOR, "post", 403),
    ],
)
def test_who_may_not_list_or_claim(
    daemon: Daemon, token: str | None, method: str, status: int
) -> None:
    with daemon.client(token) as client:
        if method == "get":
            answered = client.get("/v1/exemptions")
        else:
            answered = client.post("/v1/exemptions", json=STRIKE)
    assert answered.status_code == status, answered.text


def test_the_authority_reads_the_claims_but_does_not_claim(
    daemon: Daemon, authority: tuple[str, int]
) -> None:
    with daemon.client(authority[0]) as client:
        assert client.get("/v1/exemptions").status_code == 200
        answered = client.post("/v1/exemptions", json=STRIKE)
    assert answered.status_code == 403
    assert answered.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"from": "2027-01-12T06:00:00"}, "from"),
        ({"until": "2027-01-12T06:00:00+01:00"}, "until"),
        ({"until": "2027-01-11T06:00:00+01:00"}, "until"),
        ({"channels": ["fax"]}, "channels"),
        ({"channels": ["voice", "voice"]}, "channels"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": None}, "reason"),
        ({"until": None}, "until"),
        ({"granted": True}, "granted"),
    ],
)
def test_a_bad_claim_is_a_400_naming_the_field(
    daemon: Daemon, change: dict[str, Any], field: str
) -> None:
    body = {**STRIKE, **change}
    body = {k: v for k, v in body.items() if v is not None}
    with daemon.client(SUPERVISOR) as client:
        answered = client.post("/v1/exemptions", json=body)
    assert answered.status_code == 400, answered.text
    assert answered.json()["error"] == "invalid_request"
    assert answered.json()["field"].startswith(field), answered.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe", "reason": "x"}, "decision"),
        ({"decision": "accepted"}, "reason"),
        ({"decision": "accepted", "reason": " "}, "reason"),
    ],
)
def test_a_bad_decision_is_a_400_naming_the_field(
    daemon: Daemon, authority: tuple[str, int], body: dict[str, Any], field: str
) -> None:
    claim = claimed(daemon, SUPERVISOR)
    with daemon.client(authority[0]) as client:
        answered = client.post(f"/v1/exemptions/{claim['id']}/decision", json=body)
    assert answered.status_code == 400, answered.text
    assert answered.json()["field"].startswith(field), answered.json()


# -- the penalty statement ------------------------------------------------------------------------


def command(daemon: Daemon, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "report", *args,
         "--config", str(daemon.config), "--store", daemon.store],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_served_statement_is_the_commands_signed_and_verified(
    daemon: Daemon, authority: tuple[str, int]
) -> None:
    claimed(daemon, SUPERVISOR)  # January 2027: the statement shows it, pending
    with daemon.client(authority[0]) as client:
        served = client.get("/v1/reports/penalties/2027-01")
    assert served.status_code == 200, served.text
    assert served.headers["content-type"].startswith("application/json")
    statement = served.json()
    assert statement["signature"]["algorithm"] == "Ed25519"
    read = json.loads(command(daemon, "penalties", "--month", "2027-01", "--format", "json"))
    del statement["signature"], read["signature"]
    assert statement["journal"]["last_seq"] <= read["journal"]["last_seq"]
    statement.pop("journal"), read.pop("journal")
    assert statement == read
    assert "pending" in {c["status"] for c in statement["exemptions"]}
    assert statement["exempted"] == []
    kept = daemon.directory / "penalties-2027-01.json"
    kept.write_bytes(served.content)
    done = command(
        daemon, "verify", str(kept), "--public-key", str(daemon.directory / "operator.pub")
    )
    assert "signature sound (the key given)" in done
    assert done.rstrip().endswith("matches the journal")


def test_the_statement_in_html_and_csv(daemon: Daemon) -> None:
    month = datetime.now(PARIS).strftime("%Y-%m")
    with daemon.client(SUPERVISOR) as client:
        page = client.get(f"/v1/reports/penalties/{month}", params={"format": "html"})
        table = client.get(
            f"/v1/reports/penalties/{month}", params={"format": "csv", "language": "en"}
        )
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert f"Relevé des pénalités — {month}" in page.text
    assert table.status_code == 200, table.text
    assert table.headers["content-type"].startswith("text/csv")
    assert f'filename="penalties-{month}.csv"' in table.headers["content-disposition"]
    assert table.text.startswith("month,kind,channel,amount_cents,basis\r\n")
    written = command(daemon, "penalties", "--month", month, "--format", "csv", "--language", "en")
    assert table.text.splitlines() == written.splitlines()


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/reports/penalties/2027-13", {}, "month"),
        ("/v1/reports/penalties/2027-01", {"format": "xlsx"}, "format"),
        ("/v1/reports/penalties/2027-01", {"language": "de"}, "language"),
    ],
)
def test_a_bad_statement_request_is_a_400_naming_the_field(
    daemon: Daemon, path: str, params: dict[str, str], field: str
) -> None:
    with daemon.client(SUPERVISOR) as client:
        answered = client.get(path, params=params)
    assert answered.status_code == 400, answered.text
    assert answered.json()["field"] == field


@pytest.mark.parametrize(("token", "status"), [(ADVISOR, 403), (INTEGRATOR, 403), (None, 401)])
def test_only_supervisors_admins_and_the_authority_read_the_statement(
    daemon: Daemon, token: str | None, status: int
) -> None:
    with daemon.client(token) as client:
        assert client.get("/v1/reports/penalties/2027-01").status_code == status
    with daemon.client(ADMIN) as client:
        assert client.get("/v1/reports/penalties/2027-01").status_code == 200
