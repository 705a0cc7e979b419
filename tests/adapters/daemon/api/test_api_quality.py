"""Quality through a running daemon: audit samples, scores, mystery shoppers, satisfaction.

An advisor closes three complaints; a quality reviewer draws a sample (the same seed draws the
same interactions), reads the grid, scores them on it (400 naming the criterion at fault, 403
for other roles, 404 for work never drawn); the channel's integrator records each customer's
rating once (409 after); mystery-shopper results come as CSV, all or none. The month's report
the daemon serves carries the scores and the ratings; `aiguillage quality import-mystery`
checks a file and imports it through the daemon.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.adapters.daemon.api.test_api import complaint
from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    ADVISOR_ID,
    INTEGRATOR,
    SUPERVISOR,
    Daemon,
    write_config,
)

PARIS = ZoneInfo("Europe/Paris")
FULL = {"tone_charter": 4, "accuracy": 2, "completeness": 4, "deadline": 0}
"""Weighted: (3 x 4 + 3 x 2 + 2 x 4 + 2 x 0) / (10 x 4) = 26 / 40 = 65 out of 100."""
MYSTERY = """date,channel,scenario,tone_charter,accuracy,completeness,deadline,comment
{day},voice,refund_request,4,4,4,4,courteous
{day},social,lost_badge,2,2,2,2,
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    place = tmp_path_factory.mktemp("quality")
    daemon = Daemon(place, write_config(place))
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.kill()


@pytest.fixture(scope="module")
def reviewer(daemon: Daemon) -> str:
    with daemon.client(ADMIN) as admin:
        minted = admin.post("/v1/tokens", json={"role": "quality", "label": "quality desk"})
    assert minted.status_code == 201, minted.text
    token: str = minted.json()["token"]
    return token


def handle_one(daemon: Daemon) -> int:
    """An interaction the advisor accepted, answered and closed; its id."""
    with daemon.client(INTEGRATOR) as integrator, daemon.client(ADVISOR) as advisor:
        created = integrator.post("/v1/interactions", json=complaint())
        assert created.status_code == 201, created.text
        interaction_id: int = created.json()["id"]
        offer_id = integrator.get(f"/v1/interactions/{interaction_id}").json()["offer_id"]
        accepted = advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer_id}/accept")
        assert accepted.status_code == 200, accepted.text
        assert advisor.post(f"/v1/interactions/{interaction_id}/response").status_code == 200
        assert advisor.post(f"/v1/interactions/{interaction_id}/close").status_code == 200
    return interaction_id


@pytest.fixture(scope="module")
def closed(daemon: Daemon) -> list[int]:
    with daemon.client(ADVISOR) as advisor:
        ready = advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
        assert ready.status_code == 200, ready.text
    return [handle_one(daemon) for _ in range(3)]


def period() -> dict[str, str]:
    now = datetime.now(PARIS)
    return {
        "from": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
    }


def drawn(daemon: Daemon, token: str, **fields: Any) -> httpx.Response:
    with daemon.client(token) as client:
        return client.post("/v1/audits/samples", json={**period(), **fields})


def test_the_same_seed_draws_the_same_sample_and_each_draw_is_journaled(
    daemon: Daemon, reviewer: str, closed: list[int]
) -> None:
    first = drawn(daemon, reviewer, per_advisor=2, seed=5)
    assert first.status_code == 201, first.text
    sample = first.json()
    assert (sample["candidates"], sample["per_advisor"], sample["seed"]) == (3, 2, 5)
    picks = [p["interaction_id"] for p in sample["picks"]]
    assert len(picks) == 2
    assert set(picks) <= set(closed)
    assert {p["advisor_id"] for p in sample["picks"]} == {ADVISOR_ID}
    again = drawn(daemon, SUPERVISOR, per_advisor=2, seed=5)
    assert again.status_code == 201, again.text
    assert [p["interaction_id"] for p in again.json()["picks"]] == picks
    with daemon.client(ADMIN) as admin:
        trail = admin.get("/v1/events", params={"limit": 5000}).json()["events"]
    draws = [row for row in trail if row["event"]["type"] == "audit.drawn"]
    assert len(draws) >= 2
    assert draws[0]["event"]["seed"] == 5
    assert [p["interaction_id"] for p in draws[0]["event"]["picks"]] == picks


def test_a_draw_is_refused_to_advisors_and_for_an_empty_period(
    daemon: Daemon, reviewer: str
) -> None:
    assert drawn(daemon, ADVISOR).status_code == 403
    bad = drawn(daemon, reviewer, until=period()["from"])
    assert bad.status_code == 400, bad.text
    assert bad.json()["field"] == "until"


def test_scores_are_checked_against_the_grid_and_listed_with_the_weighted_score(
    daemon: Daemon, reviewer: str, closed: list[int]
) -> None:
    picks = [p["interaction_id"] for p in drawn(daemon, reviewer, seed=1).json()["picks"]]
    target = picks[0]
    full = FULL
    with daemon.client(reviewer) as client:
        missing = client.post(f"/v1/audits/{target}/score", json={"scores": {"tone_charter": 4}})
        assert missing.status_code == 400
        assert missing.json()["field"] == "scores.accuracy"
        unknown = client.post(f"/v1/audits/{target}/score", json={"scores": {**full, "mood": 1}})
        assert unknown.json()["field"] == "scores.mood"
        high = client.post(f"/v1/audits/{target}/score", json={"scores": {**full, "deadline": 5}})
        assert (high.status_code, high.json()["field"]) == (400, "scores.deadline")
        never = client.post("/v1/audits/999999/score", json={"scores": full})
        assert never.status_code == 404
        scored = client.post(f"/v1/audits/{target}/score", json={"scores": full})
        assert scored.status_code == 200, scored.text
        # (3 x 4 + 3 x 2 + 2 x 4 + 2 x 0) / (10 x 4) = 26 / 40
        assert scored.json()["weighted"] == 65.0
        assert scored.json()["scored_by"].startswith("token:")
        listed = client.get("/v1/audits").json()["audits"]
    assert [a["weighted"] for a in listed if a["interaction_id"] == target] == [65.0]
    with daemon.client(SUPERVISOR) as supervisor:
        refused = supervisor.post(f"/v1/audits/{target}/score", json={"scores": full})
    assert refused.status_code == 403


def test_the_grid_is_read_by_those_who_read_the_audits(daemon: Daemon, reviewer: str) -> None:
    with daemon.client(reviewer) as client:
        answered = client.get("/v1/audits/grid")
    assert answered.status_code == 200, answered.text
    assert answered.json() == {
        "criteria": [
            {"name": "tone_charter", "weight": 3.0},
            {"name": "accuracy", "weight": 3.0},
            {"name": "completeness", "weight": 2.0},
            {"name": "deadline", "weight": 2.0},
        ],
        "scale": 4,
        "per_advisor": 5,
        "seed": 2027,
        "time_zone": "Europe/Paris",
    }
    with daemon.client(SUPERVISOR) as supervisor:
        assert supervisor.get("/v1/audits/grid").status_code == 200
    with daemon.client(ADVISOR) as advisor:
        refused = advisor.get("/v1/audits/grid")
    assert refused.status_code == 403
    assert "role `advisor` may not do this" in refused.json()["detail"]


def test_a_customer_rates_ended_work_once(daemon: Daemon, closed: list[int]) -> None:
    target = closed[0]
    with daemon.client(INTEGRATOR) as integrator:
        rated = integrator.post(f"/v1/interactions/{target}/satisfaction", json={"score": 4})
        assert rated.status_code == 201, rated.text
        assert rated.json() == {"interaction_id": target, "channel": "written", "score": 4}
        twice = integrator.post(f"/v1/interactions/{target}/satisfaction", json={"score": 2})
        assert twice.status_code == 409
        out = integrator.post(f"/v1/interactions/{closed[1]}/satisfaction", json={"score": 6})
        assert (out.status_code, out.json()["field"]) == (400, "score")
    with daemon.client(ADVISOR) as advisor:
        denied = advisor.post(f"/v1/interactions/{closed[1]}/satisfaction", json={"score": 5})
    assert denied.status_code == 403


def test_mystery_results_are_imported_all_or_none(daemon: Daemon, reviewer: str) -> None:
    day = datetime.now(PARIS).date().isoformat()
    text = MYSTERY.format(day=day)
    headers = {"content-type": "text/csv"}
    with daemon.client(reviewer) as client:
        bad = client.post(
            "/v1/mystery-shoppers",
            content=text.replace("lost_badge,2,2", "lost_badge,2,x"),
            headers=headers,
        )
        assert bad.status_code == 400
        assert bad.json()["field"] == "accuracy"
        assert "line 3" in bad.json()["detail"]
        good = client.post("/v1/mystery-shoppers", content=text, headers=headers)
        assert good.status_code == 201, good.text
        assert good.json() == {"imported": 2}
    with daemon.client(ADMIN) as admin:
        trail = admin.get("/v1/events", params={"limit": 5000}).json()["events"]
    imports = [row["event"] for row in trail if row["event"]["type"] == "mystery.imported"]
    assert [len(event["results"]) for event in imports] == [2]


def test_the_months_report_served_shows_the_scores_and_ratings(
    daemon: Daemon, reviewer: str, closed: list[int]
) -> None:
    (first, *_) = [p["interaction_id"] for p in drawn(daemon, reviewer, seed=1).json()["picks"]]
    with daemon.client(reviewer) as client:
        scored = client.post(f"/v1/audits/{first}/score", json={"scores": FULL})
    assert scored.status_code == 200, scored.text
    with daemon.client(INTEGRATOR) as integrator:
        rated = integrator.post(f"/v1/interactions/{closed[2]}/satisfaction", json={"score": 2})
    assert rated.status_code == 201, rated.text
    month = datetime.now(PARIS).strftime("%Y-%m")
    with daemon.client(SUPERVISOR) as supervisor:
        answered = supervisor.get(f"/v1/reports/month/{month}", params={"format": "json"})
    assert answered.status_code == 200, answered.text
    quality = answered.json()["month"]["quality"]
    assert quality["audits_scored"] == 1
    assert quality["audits_drawn"] >= 2
    (written,) = quality["audits"]
    assert (written["channel"], written["mean_weighted"]) == ("written", 65.0)
    (advisor,) = quality["audits_by_advisor"]
    assert advisor["advisor_id"] == ADVISOR_ID
    (rated,) = quality["satisfaction"]
    assert rated["channel"] == "written"
    assert rated["count"] >= 1


def quality_cli(place: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AIGUILLAGE_ADMIN_TOKEN=ADMIN)
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "quality", *args],
        capture_output=True,
        text=True,
        cwd=place,
        env=env,
        timeout=120,
    )


def test_the_command_checks_a_file_and_imports_it_through_the_daemon(
    daemon: Daemon, tmp_path: Path
) -> None:
    day = datetime.now(PARIS).date().isoformat()
    bad = tmp_path / "bad.csv"
    bad.write_text(MYSTERY.format(day=day).replace("lost_badge,2,2", "lost_badge,2,7"))
    refused = quality_cli(tmp_path, "import-mystery", str(bad), "--url", daemon.url)
    assert refused.returncode == 1
    assert "line 3, column accuracy" in refused.stderr
    assert "nothing imported" in refused.stderr
    good = tmp_path / "good.csv"
    good.write_text(MYSTERY.format(day=day))
    checked = quality_cli(tmp_path, "import-mystery", str(good))
    assert checked.returncode == 0, checked.stderr
    assert "2 visits, all well formed" in checked.stdout
    with daemon.client(ADMIN) as admin:
        before = admin.get("/v1/events", params={"limit": 5000}).json()["events"]
    imported = quality_cli(tmp_path, "import-mystery", str(good), "--url", daemon.url)
    assert imported.returncode == 0, imported.stderr
    assert "2 visits imported" in imported.stdout
    with daemon.client(ADMIN) as admin:
        after = admin.get("/v1/events", params={"limit": 5000}).json()["events"]
    new = [row["event"] for row in after[len(before) :]]
    assert [event["type"] for event in new] == ["mystery.imported"]
