"""A day's work on the screens, in real Chromium, against a real daemon on loopback.

Two advisors and a supervisor, each in a browser context of their own, sign in with their
tokens. An e-mail (a refund: only Camille has the skill) and a social message (a disruption:
only Léa has it) arrive; each is offered to the right advisor, accepted, answered with a
template and closed with an outcome and a final motive; a message both could take is declined
by the one offered it and goes to the other. The wall shows each change (each wait is bounded
at ten seconds). A reload, then a daemon killed with SIGKILL and started again, lose nothing on
either screen. What the customer wrote, markup included, is shown as text and never runs.
axe-core finds no serious or critical fault on either screen.

With ``AIGUILLAGE_SCREENSHOTS=DIR`` the test leaves its screenshots of both screens there (the
README's come from it).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiguillage.adapters.daemon.auth import digest_of
from tests.adapters.daemon.screens.axe import summary, violations
from tests.adapters.daemons import (
    ADVISOR,
    ADVISOR_ID,
    INTEGRATOR,
    ROOT,
    SUPERVISOR,
    Daemon,
    write_config,
)

LEA = "lea.michel"
LEA_TOKEN = "lea-token-for-tests"
WAIT_MS = 10_000
"""How long the screens have to show a change (benchmarks/people.py measures the wall's lag)."""
PAYLOAD = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'

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
    directory = tmp_path_factory.mktemp("people")
    extra = (
        f'\n[[tokens]]\nsha256 = "{digest_of(LEA_TOKEN)}"\nrole = "advisor"\nadvisor = "{LEA}"\n'
        f'\n[templates]\ndir = "{ROOT / "docs" / "examples" / "templates"}"\n'
    )
    running = Daemon(directory, write_config(directory, extra)).start()
    try:
        yield running
    finally:
        running.kill()


def _screen(browser: Any, daemon: Daemon, path: str, token: str) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors = ERRORS.setdefault(id(page), [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(daemon.url + path)
    page.get_by_label(re.compile("Jeton d'accès")).fill(token)
    page.keyboard.press("Enter")
    return page


def _submit(daemon: Daemon, **fields: Any) -> int:
    with daemon.client(INTEGRATOR) as client:
        response = client.post("/v1/interactions", json=fields)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


def _available(page: Any) -> None:
    page.select_option("#state-choice", "available")
    page.click("#state-form button[type=submit]")
    expect(page.locator("#state-label")).to_have_attribute("data-state", "available")


def _card(wall: Any, channel: str, figure: str) -> Any:
    return wall.locator(f'[data-channel="{channel}"] [data-figure="{figure}"]')


def _offer(page: Any, interaction_id: int) -> Any:
    return page.locator("li.offer", has_text=f"AIG-{interaction_id}")


def _answer_and_close(page: Any, interaction_id: int, template: str, motive: str) -> None:
    panel = page.locator(f"#panel-{interaction_id}")
    expect(panel).to_be_visible()
    page.keyboard.press("Alt+r")
    expect(panel.locator("textarea.answer-text")).to_be_focused()
    panel.locator("select[name=template]").select_option(template)
    panel.locator("form.answer button[type=submit]").click()
    expect(panel.locator("li.kind-answer")).to_have_count(1)
    page.keyboard.press("Alt+c")
    expect(panel.locator("select.close-outcome")).to_be_focused()
    panel.locator("select.close-outcome").select_option("answered")
    panel.locator(f"#close-motive-{interaction_id}").select_option(motive)
    panel.locator("form.close button[type=submit]").click()
    expect(page.locator(f"#panel-{interaction_id}")).to_have_count(0)


def _offered_to(daemon: Daemon, interaction_id: int) -> str:
    """The advisor an interaction is offered to, once it is (ten seconds at most)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    with daemon.client(SUPERVISOR) as client:
        while time.monotonic() < deadline:
            view = client.get(f"/v1/interactions/{interaction_id}").json()
            if view["status"] == "offered":
                return str(view["advisor_id"])
            time.sleep(0.05)
    raise AssertionError(f"interaction {interaction_id} was never offered")


def _shot(page: Any, name: str, tmp: Path) -> None:
    page.screenshot(path=str(tmp / name))
    keep = os.environ.get("AIGUILLAGE_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(keep) / name))


def _closed_event(daemon: Daemon, interaction_id: int) -> dict[str, Any]:
    with daemon.client(SUPERVISOR) as client:
        page = client.get("/v1/events", params={"limit": 5000}).json()
    closed = [
        row["event"]
        for row in page["events"]
        if row["event"]["type"] == "interaction.closed"
        and row["event"]["interaction_id"] == interaction_id
    ]
    assert len(closed) == 1, closed
    return closed[0]


def test_two_advisors_and_a_supervisor_work_a_day_on_the_screens(
    browser: Any, daemon: Daemon, tmp_path: Path
) -> None:
    camille = _screen(browser, daemon, "/app/", ADVISOR)
    lea = _screen(browser, daemon, "/app/", LEA_TOKEN)
    wall = _screen(browser, daemon, "/app/wallboard", SUPERVISOR)
    for page in (camille, lea):
        expect(page.locator("#connection")).to_have_text("En direct")
        _available(page)
    expect(wall.locator(f'[data-advisor="{ADVISOR_ID}"] [data-state]')).to_have_attribute(
        "data-state", "available"
    )
    expect(wall.locator(f'[data-advisor="{LEA}"] [data-state]')).to_have_attribute(
        "data-state", "available"
    )

    # An e-mail about a refund: only Camille has the skill.
    mail = _submit(
        daemon,
        channel="written",
        source="email",
        external_id="<refund-1@example.org>",
        motive="refunds",
        customer={"name": "Zoé <b>Martin</b>", "email": "zoe@example.org"},
        subject="Remboursement",
        text=f"Bonjour, mon passe a été débité deux fois. {PAYLOAD}",
    )
    expect(_offer(camille, mail)).to_be_visible()
    expect(_offer(lea, mail)).to_have_count(0)
    expect(_card(wall, "written", "held")).to_have_text("1")

    # A social message about a disruption: only Léa has the skill.
    social = _submit(
        daemon,
        channel="social",
        source="x",
        external_id="dm-1",
        motive="disruptions",
        customer={"name": f"@voyageur {PAYLOAD}"},
        text=f"RER B à l'arrêt depuis 20 minutes {PAYLOAD}",
    )
    expect(_offer(lea, social)).to_be_visible()
    expect(_offer(camille, social)).to_have_count(0)
    expect(_card(wall, "social", "held")).to_have_text("1")

    # Camille accepts from the keyboard; the thread shows the customer's markup as text.
    camille.keyboard.press("Alt+a")
    panel = camille.locator(f"#panel-{mail}")
    expect(panel.locator("li.kind-customer .text")).to_contain_text("<img src=x onerror=")
    expect(panel.locator(".customer")).to_contain_text("Zoé <b>Martin</b>")
    assert panel.locator("img, script, b").count() == 0
    _shot(camille, "workspace.png", tmp_path)
    _answer_and_close(camille, mail, "remboursement-accorde", "refunds")
    expect(_card(wall, "written", "answered")).to_have_text("1")
    expect(_card(wall, "written", "held")).to_have_text("0")

    lea.locator("li.offer .accept").click()
    lea_panel = lea.locator(f"#panel-{social}")
    expect(lea_panel.locator("li.kind-customer .text")).to_contain_text("RER B")
    assert lea_panel.locator("img, script").count() == 0
    _answer_and_close(lea, social, "accuse-reception", "disruptions")
    expect(_card(wall, "social", "answered")).to_have_text("1")

    closed = _closed_event(daemon, mail)
    assert closed["reason"] == "answered"
    assert closed.get("motive") == "refunds"

    # A message both may take: the one offered it declines, and it goes to the other.
    general = _submit(
        daemon,
        channel="social",
        source="facebook",
        external_id="fb-1",
        motive="general",
        customer={"name": "Alex"},
        text="Bonjour, une question sur les horaires.",
    )
    first = _offered_to(daemon, general)
    offered, other = (camille, lea) if first == ADVISOR_ID else (lea, camille)
    expect(_offer(offered, general)).to_be_visible()
    card = _offer(offered, general)
    card.locator("select").select_option("busy")
    card.locator(".decline").click()
    expect(_offer(other, general)).to_be_visible()
    expect(_offer(offered, general)).to_have_count(0)
    other.locator("li.offer[data-offer] .accept").click()
    expect(other.locator(f"#panel-{general}")).to_be_visible()
    holder = ADVISOR_ID if other is camille else LEA
    expect(wall.locator(f'[data-advisor="{holder}"] td').nth(2)).to_contain_text("1/")

    # A reload loses nothing: the session, the state and the work in hand come back.
    other.reload()
    expect(other.locator(f"#panel-{general} li.kind-customer .text")).to_contain_text("horaires")
    expect(other.locator("#state-label")).to_have_attribute("data-state", "available")

    # Neither does a daemon killed and started again: the pages reconnect and show the same.
    daemon.kill()
    expect(other.locator("#connection")).to_have_text(re.compile("perdue"))
    daemon.start()
    expect(other.locator("#connection")).to_have_text("En direct", timeout=20_000)
    expect(wall.locator("#connection")).to_have_text("En direct", timeout=20_000)
    expect(other.locator(f"#panel-{general} li.kind-customer .text")).to_contain_text("horaires")
    expect(wall.locator(f'[data-advisor="{holder}"] [data-state]')).to_have_attribute(
        "data-state", "available"
    )
    expect(_card(wall, "social", "answered")).to_have_text("1")
    other.reload()
    expect(other.locator(f"#panel-{general}")).to_be_visible()
    _shot(wall, "wallboard.png", tmp_path)

    for page in (camille, lea, wall):
        assert page.evaluate("window.__pwned") is None
        assert ERRORS[id(page)] == []


def test_no_serious_accessibility_fault_on_either_screen(browser: Any, daemon: Daemon) -> None:
    workspace = _screen(browser, daemon, "/app/", ADVISOR)
    expect(workspace.locator("#connection")).to_have_text("En direct")
    wall = _screen(browser, daemon, "/app/wallboard", SUPERVISOR)
    expect(wall.locator("#connection")).to_have_text("En direct")
    signin = browser.new_context().new_page()
    signin.goto(daemon.url + "/app/")
    expect(signin.locator("#token")).to_be_visible()
    for page in (signin, workspace, wall):
        found = violations(page)
        assert not found, summary(found)


def test_the_pages_are_served_with_a_policy_that_runs_only_the_daemons_scripts(
    daemon: Daemon,
) -> None:
    for path in ("/app/", "/app/wallboard", "/app/static/workspace.js"):
        response = httpx.get(daemon.url + path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(daemon.url + "/app/static/..%2Fpages.py").status_code == 404
    assert httpx.get(daemon.url + "/app/static/pages.py").status_code == 404
    # The shell holds nothing of the deployment: the directory needs a session or a token.
    assert "camille" not in httpx.get(daemon.url + "/app/").text.lower()
    assert httpx.get(daemon.url + "/app/directory").status_code == 401


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon of this test's own: nobody signed in, nothing waiting."""
    extra = (
        f'\n[[tokens]]\nsha256 = "{digest_of(LEA_TOKEN)}"\nrole = "advisor"\nadvisor = "{LEA}"\n'
    )
    running = Daemon(tmp_path, write_config(tmp_path, extra)).start()
    try:
        yield running
    finally:
        running.kill()


def test_the_supervisor_steers_work_at_risk_and_advisors_from_the_wall(
    browser: Any, fresh: Daemon
) -> None:
    wall = _screen(browser, fresh, "/app/wallboard", SUPERVISOR)
    expect(wall.locator("#connection")).to_have_text("En direct")
    # A message that came in 3 h 50 min ago: past its warning, not yet breached, nobody free.
    received = datetime.now(UTC) - timedelta(hours=3, minutes=50)
    late = _submit(
        fresh,
        channel="social",
        source="instagram",
        external_id="ig-late-1",
        motive="general",
        received_at=received.isoformat(),
        customer={"name": "Sam"},
        text="Toujours pas de réponse ?",
    )
    row = wall.locator(f'#risk-rows tr[data-interaction="{late}"]')
    expect(row).to_be_visible()
    expect(row.locator("td").nth(4)).to_have_text("personne")
    before = int(row.locator("td").nth(5).inner_text())

    # Raise its priority, with a reason: the row says so, and the journal says who and why.
    row.locator(f"#steer-reason-{late}").select_option("urgent")
    row.get_by_role("button", name="Augmenter la priorité").click()
    expect(row.locator("td").nth(5)).to_have_text(str(before + 1))
    raised = _events(fresh, "interaction.reprioritised")
    assert [(e["interaction_id"], e["reason"]) for e in raised] == [(late, "urgent")]
    assert raised[0]["by"].startswith("token:")

    # Camille and Léa come in: routing offers the work to one; the supervisor moves it to the
    # other, who is offered it at once (the first is kept off it for reoffer_after_s).
    for advisor_id, token in ((ADVISOR_ID, ADVISOR), (LEA, LEA_TOKEN)):
        with fresh.client(token) as client:
            answer = client.put(f"/v1/advisors/{advisor_id}/state", json={"state": "available"})
            assert answer.status_code == 200, answer.text
    first = _offered_to(fresh, late)
    second, token = (LEA, LEA_TOKEN) if first == ADVISOR_ID else (ADVISOR_ID, ADVISOR)
    expect(row.locator("td").nth(4)).to_have_text(first)
    row.locator(f"#move-to-{late}").select_option(second)
    row.locator(f"#steer-reason-{late}").select_option("rebalance")
    row.get_by_role("button", name="Déplacer").click()
    expect(row.locator("td").nth(4)).to_have_text(second)
    moved = _events(fresh, "interaction.moved")
    assert [(e["from_advisor"], e["to_advisor"], e["reason"]) for e in moved] == [
        (first, second, "rebalance")
    ]
    with fresh.client(token) as client:
        offers = client.get(f"/v1/advisors/{second}").json()["offers"]
        accepted = client.post(f"/v1/advisors/{second}/offers/{offers[0]}/accept")
        assert accepted.status_code == 200, accepted.text
    expect(row.locator("td").nth(2)).to_have_text("En traitement")

    # The supervisor pauses that advisor: the work goes back to its place in the queue.
    advisor = wall.locator(f'#advisor-rows tr[data-advisor="{second}"]')
    advisor.locator("select").select_option("meeting")
    advisor.get_by_role("button", name="Mettre en pause").click()
    expect(advisor.locator("[data-state]")).to_have_attribute("data-state", "not_ready")
    expect(advisor.locator("[data-state]")).to_contain_text("meeting")
    expect(row.locator("td").nth(4)).not_to_have_text(second)
    expect(row.locator("td").nth(2)).to_have_text(re.compile("En file|Proposée"))
    paused = _events(fresh, "advisor.state_changed")[-1]
    assert (paused["advisor_id"], paused["state"], paused["reason"]) == (
        LEA,
        "not_ready",
        "meeting",
    )
    assert paused["by"].startswith("token:")
    assert ERRORS[id(wall)] == []


def _events(daemon: Daemon, kind: str) -> list[dict[str, Any]]:
    with daemon.client(SUPERVISOR) as client:
        rows = client.get("/v1/events", params={"limit": 5000}).json()["events"]
    return [row["event"] for row in rows if row["event"]["type"] == kind]
