"""The quality reviewer's audits, in real Chromium, against a real daemon on loopback.

Camille closes three complaints. A quality reviewer signs in at ``/app/quality`` with a token
of role ``quality``, draws a sample of the month (two per advisor and channel), opens one drawn
interaction and scores it on the grid: a score out of range comes back as the daemon's 400,
shown beside the criterion it names, and nothing is journaled; the corrected scores are, with
the weighted score the daemon computed, which the list, the API, the journal and the month's
report then show. An advisor who opens the page is told the audits are not for its role and
is shown none; a supervisor may read them but not score, and is told so. A reviewer signing in
at the workspace or the wall is sent to the audits, and so is an integrator, to be told there.
axe-core finds no serious or critical fault on the page in any of those states, in French or
in English, and every sentence the page says is in both languages.

With ``AIGUILLAGE_SCREENSHOTS=DIR`` the first test leaves its screenshot there (the README's).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from aiguillage.adapters.daemon.screens.pages import CSP
from tests.adapters.daemon.api.test_api_quality import handle_one
from tests.adapters.daemon.screens.axe import summary, violations
from tests.adapters.daemon.screens.test_people import _shot
from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    ADVISOR_ID,
    INTEGRATOR,
    ROOT,
    SUPERVISOR,
    Daemon,
    write_config,
)

PARIS = ZoneInfo("Europe/Paris")
STATIC = ROOT / "adapters" / "daemon" / "screens" / "static"
WAIT_MS = 10_000
FULL = {"tone_charter": 4, "accuracy": 2, "completeness": 4, "deadline": 0}
"""Weighted: (3 x 4 + 3 x 2 + 2 x 4 + 2 x 0) / (10 x 4) = 26 / 40 = 65 out of 100."""

KEY = r"\b(?:quality|criterion|wall|app)\.[a-z_]+"
"""A key of ``strings.js`` shown as itself: the page's language has no sentence for it."""

expect: Any = None
ERRORS: dict[int, list[str]] = {}
"""The script errors of each page, by ``id(page)``."""


@pytest.fixture(scope="module", autouse=True)
def _expect() -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    expect = playwright_expect


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    place = tmp_path_factory.mktemp("quality-screen")
    running = Daemon(place, write_config(place)).start()
    try:
        yield running
    finally:
        running.kill()


@pytest.fixture(scope="module")
def reviewer(daemon: Daemon) -> str:
    with daemon.client(ADMIN) as admin:
        minted = admin.post("/v1/tokens", json={"role": "quality", "label": "quality desk"})
    assert minted.status_code == 201, minted.text
    token: str = minted.json()["token"]
    return token


@pytest.fixture(scope="module")
def closed(daemon: Daemon) -> list[int]:
    with daemon.client(ADVISOR) as advisor:
        ready = advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
        assert ready.status_code == 200, ready.text
    return [handle_one(daemon) for _ in range(3)]


def _screen(browser: Any, daemon: Daemon, path: str, token: str, **options: Any) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, **options)
    page = context.new_page()
    errors = ERRORS.setdefault(id(page), [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(daemon.url + path)
    page.get_by_label(re.compile("Jeton d'accès")).fill(token)
    page.keyboard.press("Enter")
    return page


def _events(daemon: Daemon, kind: str) -> list[dict[str, Any]]:
    with daemon.client(SUPERVISOR) as client:
        rows = client.get("/v1/events", params={"limit": 5000}).json()["events"]
    return [row["event"] for row in rows if row["event"]["type"] == kind]


def _audit_row(page: Any, interaction_id: int) -> Any:
    return page.locator(f'#audit-rows tr[data-interaction="{interaction_id}"]')


def test_a_reviewer_draws_opens_and_scores_an_audit_on_the_page(
    browser: Any, daemon: Daemon, reviewer: str, closed: list[int], tmp_path: Path
) -> None:
    # A browser far from Paris: the page counts the days in the deployment's zone, not its own.
    page = _screen(browser, daemon, "/app/quality", reviewer, timezone_id="America/Montreal")
    expect(page.locator("#audit-none")).to_be_visible()
    criteria = page.locator("#grid-criteria li")
    expect(criteria).to_have_count(4)
    expect(criteria.first).to_have_text("Ton et charte — poids 3 (30 %)")

    # A period that ends before it starts: the daemon's 400 names `until`, shown beside it.
    today = datetime.now(PARIS)
    until = page.locator("#draw-until")
    expect(until).to_have_value(today.date().isoformat())
    until.fill((today.replace(day=1) - timedelta(days=2)).date().isoformat())
    page.get_by_role("button", name="Tirer").click()
    expect(page.locator("#draw-until-error")).to_have_text(
        "until must be after from: the period would be empty"
    )
    expect(until).to_have_attribute("aria-invalid", "true")
    expect(until).to_be_focused()
    assert _events(daemon, "audit.drawn") == []

    # A sample of the month so far, two per advisor and channel, with seed 5.
    until.fill(today.date().isoformat())
    page.get_by_label(re.compile("Par conseiller et par canal")).fill("2")
    page.get_by_label(re.compile("Graine")).fill("5")
    page.get_by_role("button", name="Tirer").click()
    expect(page.locator("#draw-result")).to_have_text(
        "2 interaction(s) tirée(s) parmi 3 clôturée(s) (graine 5)."
    )
    (drawn,) = _events(daemon, "audit.drawn")
    picks = [p["interaction_id"] for p in drawn["picks"]]
    assert len(picks) == 2
    assert set(picks) <= set(closed)
    assert (drawn["per_advisor"], drawn["seed"]) == (2, 5)
    # The period the page sent: the first of the month at midnight in Paris, to tomorrow's.
    first = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    tomorrow = (today + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert datetime.fromisoformat(drawn["start"]) == first, drawn
    assert datetime.fromisoformat(drawn["end"]) == tomorrow, drawn
    summary_row = page.locator(
        f'#summary-rows tr[data-channel="written"][data-advisor="{ADVISOR_ID}"]'
    )
    expect(summary_row.locator('[data-figure="drawn"]')).to_have_text("2")
    expect(summary_row.locator('[data-figure="left"]')).to_have_text("2")
    target = picks[0]
    row = _audit_row(page, target)
    expect(row.locator("[data-status]")).to_have_text("À noter")

    # Open it: what the audit list gives of it, and the grid to score.
    row.get_by_role("button", name=f"Noter AIG-{target}").click()
    panel = page.locator("#audit-panel")
    expect(panel.locator("#audit-title")).to_have_text(f"Audit de AIG-{target}")
    expect(panel.locator("#audit-title")).to_be_focused()
    expect(panel.locator("#audit-details")).to_contain_text(ADVISOR_ID)
    expect(panel.get_by_text("poids 2 (20 %)")).to_have_count(2)

    # A score out of range: the daemon refuses it and names the criterion; nothing journaled.
    for name, score in FULL.items():
        panel.locator(f"#score-{name}").fill(str(score))
    panel.locator("#score-deadline").fill("5")
    panel.get_by_role("button", name="Enregistrer les notes").click()
    expect(panel.locator("#score-error")).to_contain_text("score 5 is out of range: from 0 to 4")
    expect(panel.locator("#score-deadline")).to_have_attribute("aria-invalid", "true")
    expect(panel.locator("#score-deadline")).to_be_focused()
    expect(panel.locator("#score-deadline-error")).to_contain_text("out of range")
    expect(panel.locator("#score-accuracy")).not_to_have_attribute("aria-invalid", "true")
    assert _events(daemon, "audit.scored") == []

    # Corrected: journaled with the daemon's weighted score, and shown in the list.
    panel.locator("#score-deadline").fill("0")
    panel.get_by_role("button", name="Enregistrer les notes").click()
    expect(panel.locator("#score-result")).to_have_text(
        f"AIG-{target} notée : 65 / 100, calculé par le serveur."
    )
    expect(panel.locator("#score-error")).to_be_empty()
    expect(panel.locator("#score-deadline")).not_to_have_attribute("aria-invalid", "true")
    expect(row.locator("[data-status]")).to_have_text("Notée")
    expect(row.locator('[data-figure="weighted"]')).to_have_text("65 / 100")
    expect(panel.locator("#audit-weighted")).to_have_text("65 / 100")
    expect(summary_row.locator('[data-figure="scored"]')).to_have_text("1")
    expect(summary_row.locator('[data-figure="left"]')).to_have_text("1")

    (scored,) = _events(daemon, "audit.scored")
    assert (scored["interaction_id"], scored["scores"], scored["weighted"]) == (
        target,
        FULL,
        65.0,
    )
    with daemon.client(reviewer) as client:
        listed = client.get("/v1/audits").json()["audits"]
    (audit,) = [a for a in listed if a["interaction_id"] == target]
    assert (audit["scores"], audit["weighted"]) == (FULL, 65.0)
    assert audit["scored_by"].startswith("token:")
    month = today.strftime("%Y-%m")
    with daemon.client(SUPERVISOR) as supervisor:
        report = supervisor.get(f"/v1/reports/month/{month}", params={"format": "json"})
    assert report.status_code == 200, report.text
    quality = report.json()["month"]["quality"]
    assert quality["audits_scored"] == 1
    assert [(a["channel"], a["mean_weighted"]) for a in quality["audits"]] == [("written", 65.0)]

    _shot(page, "quality.png", tmp_path)
    shown = page.locator("#root").inner_text()
    assert not re.search(KEY, shown), shown  # no key shown for want of its sentence

    # A reload reads it all back from the daemon.
    page.reload()
    expect(_audit_row(page, target).locator("[data-status]")).to_have_text("Notée")
    expect(_audit_row(page, picks[1]).locator("[data-status]")).to_have_text("À noter")
    assert ERRORS[id(page)] == []


def test_a_reviewer_signing_in_at_the_workspace_is_sent_to_the_audits(
    browser: Any, daemon: Daemon, reviewer: str
) -> None:
    page = _screen(browser, daemon, "/app/", reviewer)
    expect(page).to_have_url(daemon.url + "/app/quality")
    expect(page.locator("#draw-form")).to_be_visible()
    page.goto(daemon.url + "/app/wallboard")
    expect(page).to_have_url(daemon.url + "/app/quality")
    expect(page.locator("#draw-form")).to_be_visible()
    assert ERRORS[id(page)] == []


def test_a_role_with_no_screen_is_told_so_at_the_audits_not_sent_back_and_forth(
    browser: Any, daemon: Daemon
) -> None:
    for path in ("/app/", "/app/wallboard"):
        page = _screen(browser, daemon, path, INTEGRATOR)
        expect(page).to_have_url(daemon.url + "/app/quality")
        expect(page.locator("#refusal")).to_contain_text("votre rôle (integrator)")
        expect(page.get_by_role("link", name="Aller à votre écran")).to_have_count(0)
        assert ERRORS[id(page)] == []


def test_an_advisor_is_told_the_audits_are_not_for_its_role_and_sees_none(
    browser: Any, daemon: Daemon, reviewer: str, closed: list[int]
) -> None:
    with daemon.client(reviewer) as client:
        sample = client.post(
            "/v1/audits/samples",
            json={"from": "2020-01-01T00:00:00+01:00", "until": "2100-01-01T00:00:00+01:00"},
        )
    assert sample.status_code == 201, sample.text
    page = _screen(browser, daemon, "/app/quality", ADVISOR)
    refusal = page.locator("#refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("votre rôle (advisor) ne peut pas lire les audits")
    expect(refusal).to_contain_text("role `advisor` may not do this")
    expect(page.get_by_role("link", name="Aller à votre écran")).to_have_attribute("href", "/app/")
    expect(page.locator("#audit-table, #draw-form, #grid-criteria")).to_have_count(0)
    text = page.locator("#root").inner_text()
    assert not any(f"AIG-{i}" in text for i in closed), text
    assert ERRORS[id(page)] == []


def test_a_supervisor_reads_the_audits_but_is_refused_the_scoring(
    browser: Any, daemon: Daemon, reviewer: str, closed: list[int]
) -> None:
    with daemon.client(reviewer) as client:
        sample = client.post(
            "/v1/audits/samples",
            json={"from": "2020-01-01T00:00:00+01:00", "until": "2100-01-01T00:00:00+01:00"},
        )
    assert sample.status_code == 201, sample.text
    target = sample.json()["picks"][0]["interaction_id"]
    before = len(_events(daemon, "audit.scored"))
    page = _screen(browser, daemon, "/app/quality", SUPERVISOR)
    expect(page.get_by_text("Seul le rôle quality note les audits")).to_be_visible()
    _audit_row(page, target).locator("button.open").click()
    panel = page.locator("#audit-panel")
    for name, score in FULL.items():
        panel.locator(f"#score-{name}").fill(str(score))
    panel.get_by_role("button", name="Enregistrer les notes").click()
    expect(panel.locator("#score-error")).to_have_text(
        "Refusé : role `supervisor` may not do this; it needs one of: quality"
    )
    assert len(_events(daemon, "audit.scored")) == before
    assert ERRORS[id(page)] == []


def test_no_serious_accessibility_fault_on_the_audits(
    browser: Any, daemon: Daemon, reviewer: str, closed: list[int]
) -> None:
    signin = browser.new_context().new_page()
    signin.goto(daemon.url + "/app/quality")
    expect(signin.locator("#token")).to_be_visible()
    found = violations(signin)
    assert not found, summary(found)

    page = _screen(browser, daemon, "/app/quality", reviewer)
    expect(page.locator("#draw-form")).to_be_visible()
    page.get_by_role("button", name="Tirer").click()
    expect(page.locator("#draw-result")).not_to_be_empty()
    page.locator("#audit-rows button.open").first.click()
    panel = page.locator("#audit-panel")
    expect(panel).to_be_visible()
    panel.locator("#score-accuracy").fill("")  # not scored: a 400 naming it
    panel.get_by_role("button", name="Enregistrer les notes").click()
    expect(panel.locator("#score-accuracy-error")).to_contain_text("is not scored")
    found = violations(page)
    assert not found, summary(found)

    refused = _screen(browser, daemon, "/app/quality", ADVISOR)
    expect(refused.locator("#refusal")).to_be_visible()
    found = violations(refused)
    assert not found, summary(found)


def test_the_page_is_a_shell_served_under_the_screens_policy(daemon: Daemon) -> None:
    shell = httpx.get(daemon.url + "/app/quality")
    assert shell.status_code == 200
    assert shell.headers["content-security-policy"] == CSP
    assert shell.headers["cache-control"] == "no-store"
    assert '<script type="module" src="/app/static/quality.js">' in shell.text
    assert "<title>Audits qualité — Aiguillage</title>" in shell.text
    # Nothing of the deployment is in it: the grid and the audits need a session or a token.
    assert "tone_charter" not in shell.text
    assert httpx.get(daemon.url + "/v1/audits/grid").status_code == 401
    assert httpx.get(daemon.url + "/v1/audits").status_code == 401
    script = httpx.get(daemon.url + "/app/static/quality.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")


def test_every_sentence_of_the_audits_is_in_both_languages() -> None:
    words = (STATIC / "strings.js").read_text(encoding="utf-8")
    french, english = (
        set(re.findall(r'^    "([a-z_.]+)":', block, re.MULTILINE))
        for block in re.split(r"^  en: \{$", words, maxsplit=1, flags=re.MULTILINE)
    )
    assert french == english, french ^ english
    used = set(re.findall(r'\bt\(\s*"([a-z_.]+)"', (STATIC / "quality.js").read_text()))
    assert {"quality.refused", "quality.submit", "wall.channel"} <= used
    assert used <= french, used - french


def test_the_audits_speak_english_when_the_screens_do(browser: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.read_text()
    assert 'screens_language = "fr"' in text
    config.write_text(text.replace('screens_language = "fr"', 'screens_language = "en"', 1))
    english = Daemon(tmp_path, config).start()
    try:
        with english.client(ADMIN) as admin:
            minted = admin.post("/v1/tokens", json={"role": "quality", "label": "quality desk"})
        assert minted.status_code == 201, minted.text
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.goto(english.url + "/app/quality")
        page.get_by_label("Access token (required)").fill(minted.json()["token"])
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Quality audits")
        expect(page.locator("#grid-criteria li").first).to_have_text(
            "Tone and charter — weight 3 (30 %)"
        )
        page.get_by_role("button", name="Draw").click()
        expect(page.locator("#draw-result")).to_have_text(
            "0 interaction(s) drawn among 0 closed (seed 2027)."
        )
        expect(page.locator("#audit-none")).to_have_text("No interaction drawn yet.")
        # No sentence is missing from the English words: none shows as its key.
        shown = page.locator("#root").inner_text()
        assert not re.search(KEY, shown), shown
        found = violations(page)
        assert not found, summary(found)
    finally:
        english.kill()
