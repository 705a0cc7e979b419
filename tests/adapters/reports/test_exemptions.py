"""Exemptions in the month's figures and the penalty statement, a month worked out by hand.

June 2027 (+02:00), voice only: a deadline 180 s after the call, target 80 %, 40 € a breach and
50 € a point under the target, no cap. V1 takes the calls alone, on Tuesday 1 June:

    a1 09:00:00, picked up at 09:00:30 (within)          deadline 09:03:00
    a2 09:10:00, breached, picked up at 09:15:00         deadline 09:13:00
    a3 10:00:00, breached, picked up at 10:05:00         deadline 10:03:00  in claim 1 (accepted)
    a4 10:10:00, hangs up at 10:12:00 (120 s, not short) deadline 10:13:00  in claim 1 (accepted)
    a5 11:00:00, breached, picked up at 11:05:00         deadline 11:03:00  in claim 2 (refused)
    a6 14:00:00, picked up at 14:00:20 (within)          deadline 14:03:00  in claim 3 (pending)

Claims: 1, voice, 09:55 to 10:30, a strike, accepted; 2, every channel, 10:45 to 11:30, refused;
3, voice, 14:00 to 15:00, never decided; 4, social only, 09:00 to 12:00, accepted (it covers
no call); 5, voice, in May, accepted (it does not meet June).

As it happened: 6 calls, 5 answered, 2 within, 1 abandoned, 3 breaches; service level 2 / 6.
For the penalties, a3 and a4 are exempted: breaches a2 and a5, 2 x 40 € = 80 €; service level
2 / 4 = 50 %, 30 points under 80 % at 50 € = 1,500 €; total 1,580 €.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aiguillage.adapters.reports.month_figures import month_figures, month_report
from aiguillage.adapters.reports.month_render import render, tables
from aiguillage.adapters.reports.penalties import (
    ChannelRules,
    PenaltyLine,
    PenaltyRules,
    penalty_statement,
)
from aiguillage.engine.commands import (
    Abandon,
    AddAdvisor,
    ClaimExemption,
    DecideExemption,
    SetPolicies,
)
from tests.adapters.reports.month_journal import Month, at
from tests.adapters.reports.test_penalties import config_with, run
from tests.adapters.reports.test_verify import write_key
from tests.engine.conftest import make_policies

RULES = """
[penalties]
[penalties.channels.voice]
breach_eur = 40.0
point_eur = 50.0
"""


def exempted_month() -> Month:
    m = Month()
    m.run("2027-05-03T08:00:00+02:00", lambda: SetPolicies(policies=make_policies()))
    m.run(
        "2027-05-03T08:00:00+02:00",
        lambda: AddAdvisor(
            advisor_id="V1", skills={"general": 3}, languages=("fr",), capacity={"voice": 1}
        ),
    )

    def call(name: str, now: str, picked_up: str | None) -> None:
        m.submit(name, "voice", "phone", now)
        if picked_up is not None:
            m.state("V1", "available", picked_up)
            m.accept("V1", name, picked_up)
            m.close("V1", name, picked_up)
            m.state("V1", "not_ready", picked_up)

    def claim(now: str, start: str, end: str, channels: tuple[str, ...], reason: str) -> None:
        m.run(
            now,
            lambda: ClaimExemption(
                start=at(start),
                end=at(end),
                channels=channels,  # type: ignore[arg-type]
                reason=reason,
                by="token:7",
                role="supervisor",
            ),
        )

    def decide(now: str, exemption_id: int, decision: str, reason: str) -> None:
        m.run(
            now,
            lambda: DecideExemption(
                exemption_id=exemption_id,
                decision=decision,  # type: ignore[arg-type]
                reason=reason,
                by="token:9",
                role="authority",
            ),
        )

    call("a1", "2027-06-01T09:00:00+02:00", "2027-06-01T09:00:30+02:00")
    call("a2", "2027-06-01T09:10:00+02:00", "2027-06-01T09:15:00+02:00")
    call("a3", "2027-06-01T10:00:00+02:00", "2027-06-01T10:05:00+02:00")
    call("a4", "2027-06-01T10:10:00+02:00", None)
    m.run("2027-06-01T10:12:00+02:00", lambda: Abandon(interaction_id=m.ids["a4"]))
    call("a5", "2027-06-01T11:00:00+02:00", "2027-06-01T11:05:00+02:00")
    call("a6", "2027-06-01T14:00:00+02:00", "2027-06-01T14:00:20+02:00")
    day = "2027-06-01T{}:00+02:00".format
    claim(day("12:00"), day("09:55"), day("10:30"), ("voice",), "transport strike")
    claim(day("12:01"), day("10:45"), day("11:30"), (), "telephony outage")
    claim(day("12:02"), day("14:00"), day("15:00"), ("voice",), "the authority's CRM down")
    claim(day("12:03"), day("09:00"), day("12:00"), ("social",), "the platform down")
    claim(day("12:04"), "2027-05-04T09:00:00+02:00", "2027-05-04T10:00:00+02:00", (), "strike")
    decide("2027-06-03T10:00:00+02:00", 1, "accepted", "the strike is on record")
    decide("2027-06-03T10:01:00+02:00", 2, "refused", "the outage was the operator's own")
    decide("2027-06-03T10:02:00+02:00", 4, "accepted", "on record")
    decide("2027-06-03T10:03:00+02:00", 5, "accepted", "on record")
    m.play()
    assert [m.ids[f"a{n}"] for n in range(1, 7)] == [1, 2, 3, 4, 5, 6]
    return m


@pytest.fixture(scope="module")
def month() -> Month:
    return exempted_month()


@pytest.fixture(scope="module")
def place(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("exemptions")
    month.write(place / "journal.sqlite")
    (place / "keys").mkdir()
    write_key(Ed25519PrivateKey.generate(), place / "keys/reports.pem", place / "operator.pub")
    rules = RULES + '\n[reports]\nsigning_key = "keys/reports.pem"\n'
    (place / "config.toml").write_text(config_with(rules), encoding="utf-8")
    return place


def store(place: Path) -> str:
    return f"sqlite:///{place / 'journal.sqlite'}"


def penalties(place: Path, format: str = "json") -> str:
    done = run(
        place, "penalties", "--month", "2027-06", "--store", store(place), "--format", format
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def statement(place: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(penalties(place))
    return found


def test_the_month_keeps_what_happened_and_lists_the_exempted_work(month: Month) -> None:
    figures = month_figures(month.records(), "2027-06")
    (voice,) = [row for row in figures.channels if row.channel == "voice"]
    assert (voice.received, voice.answered, voice.answered_within, voice.abandoned) == (6, 5, 2, 1)
    assert voice.breaches == 3
    assert voice.service_level == pytest.approx(2 / 6)
    assert [b.interaction_id for b in figures.breaches] == [2, 3, 5]
    exemptions = figures.exemptions
    assert exemptions.interactions == [3, 4]
    assert [(c.id, c.status) for c in exemptions.claims] == [
        (1, "accepted"),
        (2, "refused"),
        (3, "pending"),
        (4, "accepted"),
    ]
    (excused,) = exemptions.channels
    assert msgspec.to_builtins(excused) == {
        "channel": "voice",
        "interactions": [3, 4],
        "received": 2,
        "answered": 1,
        "answered_within": 0,
        "abandoned": 1,
        "short_abandons": 0,
        "callbacks_requested": 0,
        "callbacks_within": 0,
        "breaches": [3],
    }


def test_each_claim_shows_its_period_who_and_why(month: Month) -> None:
    claims = month_figures(month.records(), "2027-06").exemptions.claims
    assert msgspec.to_builtins(claims[0]) == {
        "id": 1,
        "start": "2027-06-01T09:55:00+02:00",
        "end": "2027-06-01T10:30:00+02:00",
        "channels": ["voice"],
        "status": "accepted",
        "reason": "transport strike",
        "claimed_by": "token:7 (supervisor)",
        "claimed_at": "2027-06-01T12:00:00+02:00",
        "decision_reason": "the strike is on record",
        "decided_by": "token:9 (authority)",
        "decided_at": "2027-06-03T10:00:00+02:00",
    }
    assert (claims[1].channels, claims[1].decided_by) == ([], "token:9 (authority)")
    assert (claims[2].decided_by, claims[2].decided_at) == ("", None)


def test_the_statement_line_by_line(statement: dict[str, Any]) -> None:
    assert statement["lines"] == [
        {
            "kind": "breaches",
            "channel": "voice",
            "amount_cents": 8000,
            "unit_cents": 4000,
            "count": 2,
            "interactions": [2, 5],
            "exempted": [3],
        },
        {
            "kind": "service_level",
            "channel": "voice",
            "amount_cents": 150000,
            "unit_cents": 5000,
            "service_level": 0.5,
            "target": 0.8,
            "points": pytest.approx(30.0),
            "figures": {
                "answered_within": 2,
                "answered": 4,
                "abandoned": 0,
                "short_abandons": 0,
                "callbacks_within": 0,
                "callbacks_requested": 0,
            },
            "exempted": [3, 4],
        },
    ]
    assert statement["total_cents"] == 158000 == sum(x["amount_cents"] for x in statement["lines"])
    assert statement["exempted"] == [3, 4]
    assert [(c["id"], c["status"]) for c in statement["exemptions"]] == [
        (1, "accepted"),
        (2, "refused"),
        (3, "pending"),
        (4, "accepted"),
    ]


def test_verify_recomputes_the_statement_and_the_report_with_their_exemptions(
    place: Path, statement: dict[str, Any]
) -> None:
    files = {"penalties": place / "penalties-2027-06.json", "month": place / "month-2027-06.json"}
    files["penalties"].write_text(penalties(place), encoding="utf-8")
    done = run(place, "month", "--month", "2027-06", "--store", store(place), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["month"]["exemptions"]["interactions"] == [3, 4]
    files["month"].write_text(done.stdout, encoding="utf-8")
    for file in files.values():
        checked = run(
            place, "verify", str(file), "--store", store(place), "--public-key", "operator.pub"
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "signature sound" in checked.stdout


def test_verify_refuses_a_statement_whose_exemption_was_dropped(place: Path) -> None:
    document = json.loads(penalties(place))
    del document["signature"]
    document["lines"][0]["exempted"] = []
    document["lines"][0]["count"] = 3
    altered = place / "altered.json"
    altered.write_text(json.dumps(document), encoding="utf-8")
    checked = run(place, "verify", str(altered), "--store", store(place))
    assert checked.returncode != 0
    assert "lines[0].count" in checked.stdout + checked.stderr
    assert "lines[0].exempted[0]" in checked.stdout + checked.stderr


def test_the_html_and_csv_name_the_exempted_work_and_every_claim(place: Path) -> None:
    page = penalties(place, "html")
    assert "Exonérations demandées" in page
    for shown in ("transport strike", "telephony outage", "acceptée", "refusée", "en attente"):
        assert shown in page
    assert "2 \u00d7 40.00 €: 2 5; exempted: 3" in page
    csv_text = penalties(place, "csv")
    assert "2 \u00d7 40.00 €: 2 5; exempted: 3" in csv_text


def test_the_months_page_and_tables_show_the_claims_and_the_exempted_work(month: Month) -> None:
    report = month_report(month.records(), "2027-06")
    page = render(report, "html", language="en").decode()
    assert "<h2>Exemptions (force majeure)</h2>" in page
    assert "Interactions exempted: 3 4" in page
    assert (
        "accepted: the strike is on record (token:9 (authority), 2027-06-03T10:00:00+02:00)" in page
    )
    assert "the authority&#x27;s CRM down" in page
    found = tables(report)
    # The previous month beside it: May meets claim 5 alone.
    assert [
        (row["month"], row["id"], row["status"], row["channels"]) for row in found["exemptions"]
    ] == [
        ("2027-06", 1, "accepted", "voice"),
        ("2027-06", 2, "refused", ""),
        ("2027-06", 3, "pending", "voice"),
        ("2027-06", 4, "accepted", "social"),
        ("2027-05", 5, "accepted", ""),
    ]
    assert found["exempted"] == [
        {"month": "2027-06", "interaction_id": 3, "channel": "voice", "breached": True},
        {"month": "2027-06", "interaction_id": 4, "channel": "voice", "breached": False},
    ]
    sheet = render(report, "csv").decode()
    assert "exempted,2027-06,3,voice,true" in sheet


def test_a_month_without_claims_has_no_exemption_section(month: Month) -> None:
    page = render(month_report(month.records(), "2027-08"), "html").decode()
    assert "Exonérations" not in page


def test_work_due_in_an_exempted_period_and_settled_the_next_month_is_exempted_there() -> None:
    # A call at 19:59 on Monday 31 May, due at 20:02, breached, abandoned the next morning: it
    # counts in June, where the accepted claim on 31 May excuses it, and is shown.
    m = Month()
    m.run("2027-05-03T08:00:00+02:00", lambda: SetPolicies(policies=make_policies()))
    m.submit("late", "voice", "phone", "2027-05-31T19:59:00+02:00")
    m.run("2027-06-01T09:00:00+02:00", lambda: Abandon(interaction_id=m.ids["late"]))
    m.run(
        "2027-06-02T09:00:00+02:00",
        lambda: ClaimExemption(
            start=at("2027-05-31T19:00:00+02:00"),
            end=at("2027-05-31T21:00:00+02:00"),
            channels=("voice",),
            reason="a storm cut the lines",
            by="token:7",
            role="supervisor",
        ),
    )
    m.run(
        "2027-06-03T09:00:00+02:00",
        lambda: DecideExemption(
            exemption_id=1, decision="accepted", reason="on record", by="token:9", role="authority"
        ),
    )
    m.play()
    may = month_figures(m.records(), "2027-05")
    assert [p.interaction_id for p in may.pending] == [1]
    assert may.exemptions.interactions == []  # pending in May: not counted there
    june = month_figures(m.records(), "2027-06")
    assert [b.interaction_id for b in june.breaches] == [1]
    assert june.exemptions.interactions == [1]
    assert [c.id for c in june.exemptions.claims] == [1]
    statement = penalty_statement(
        june, PenaltyRules(channels={"voice": ChannelRules(breach_cents=4000, point_cents=5000)})
    )
    assert statement.lines == [
        PenaltyLine(
            kind="breaches",
            channel="voice",
            amount_cents=0,
            unit_cents=4000,
            count=0,
            interactions=[],
            exempted=[1],
        )
    ]
    assert statement.total_cents == 0
