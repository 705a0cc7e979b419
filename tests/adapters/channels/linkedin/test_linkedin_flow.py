"""Contract tests of the LinkedIn channel in a real daemon, against a fake LinkedIn REST API on
loopback (``fake_linkedin``). LinkedIn publishes no machine-readable contract for these
endpoints: the fake follows the request and response shapes of its documentation.

Flows: a comment on the organisation's post in, a customer's reply joining it, the answer out
as a reply (not taken back as a comment); a reply typed on LinkedIn taken as the answer, which
stops the clock; a 429 holding every call, polls and answers, until
the next day's limits; an expired token needing re-authorisation, then renewed; a post
mentioning the organisation answered by a comment on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiguillage.adapters.stores.sqlite.journal import read_file
from aiguillage.engine.events import InteractionClosed
from tests.adapters.channels.linkedin.fake_linkedin import (
    ORGANIZATION,
    ORGANIZATION_ID,
    VERSION,
    FakeLinkedin,
)
from tests.adapters.daemons import ADMIN, Daemon, write_config

ADVISOR = "camille.laurent"


class Linkedin:
    """A daemon with the ``linkedin`` channel, and what an advisor does to it."""

    def __init__(self, directory: Path, fake: FakeLinkedin) -> None:
        self.token_file = directory / "linkedin-token"
        self.token_file.write_text("li-token-1\n")
        extra = (
            "\n[adapters.linkedin]\n"
            f'organization_id = "{ORGANIZATION_ID}"\ntoken_file = "{self.token_file}"\n'
            f'api_url = "{fake.url}"\nlinkedin_version = "{VERSION}"\n'
            "poll_every_s = 0.2\noverlap_s = 600\n"
        )
        config = write_config(directory, extra)
        text = config.read_text()
        for old, new in (
            ("\nfirst_retry_s = 30 ", "\nfirst_retry_s = 0.2 "),
            ("\nmax_retry_s = 1800 ", "\nmax_retry_s = 1 "),
        ):
            assert old in text
            text = text.replace(old, new, 1)
        config.write_text(text)
        self.daemon = Daemon(directory, config)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(
            method,
            self.daemon.url + path,
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=5,
            **kwargs,
        )
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response

    def interactions(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/v1/interactions").json()["interactions"])

    def thread(self, interaction_id: int) -> list[dict[str, Any]]:
        return list(
            self.api("GET", f"/v1/interactions/{interaction_id}/messages").json()["messages"]
        )

    def customer(self, interaction_id: int) -> list[str]:
        return [m["text"] for m in self.thread(interaction_id) if m["kind"] == "customer"]

    def answers(self, interaction_id: int) -> list[dict[str, Any]]:
        return [m for m in self.thread(interaction_id) if m["kind"] == "answer"]

    def adapter(self) -> dict[str, Any]:
        found: dict[str, Any] = self.daemon.readyz().json()["adapters"]["linkedin"]
        return found

    def answer(self, text: str) -> int:
        """The advisor takes the one interaction offered, answers and closes it."""
        self.api("PUT", f"/v1/advisors/{ADVISOR}/state", json={"state": "available"})
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "nothing offered"
            advisor = self.api("GET", f"/v1/advisors/{ADVISOR}").json()
            for offer in advisor["offers"]:
                self.api("POST", f"/v1/advisors/{ADVISOR}/offers/{offer}/accept")
            if advisor["holding"]:
                break
            time.sleep(0.05)
        (interaction_id,) = advisor["holding"]
        self.api(
            "POST",
            f"/v1/interactions/{interaction_id}/messages",
            json={"text": text, "advisor_id": ADVISOR},
        )
        self.api(
            "POST",
            f"/v1/interactions/{interaction_id}/close",
            json={"advisor_id": ADVISOR, "reason": "answered"},
        )
        return int(interaction_id)


def _until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.1)


@pytest.fixture
def linkedin(tmp_path: Path, fake_linkedin: FakeLinkedin) -> Iterator[Linkedin]:
    running = Linkedin(tmp_path, fake_linkedin)
    try:
        yield running
    finally:
        running.daemon.kill()


def test_a_comment_in_and_a_reply_out(linkedin: Linkedin, fake_linkedin: FakeLinkedin) -> None:
    post = fake_linkedin.post()
    top = fake_linkedin.comment(post, "Le tram T3 circule-t-il demain ?")
    linkedin.daemon.start()
    (interaction,) = _until(linkedin.interactions, "the comment taken")
    assert (interaction["source"], interaction["channel"]) == ("linkedin", "social")
    assert interaction["external_id"] == top
    fake_linkedin.comment(top, "Pendant la grève, je veux dire")
    _until(lambda: len(linkedin.customer(interaction["id"])) == 2, "the reply joined")
    answered = linkedin.answer("Oui, un tram sur deux.")
    assert answered == interaction["id"]
    (sent,) = _until(
        lambda: [m for m in linkedin.answers(answered) if m["state"] == "sent"], "sent"
    )
    (reply,) = fake_linkedin.replies
    assert reply["parentComment"] == top
    assert reply["actor"] == ORGANIZATION
    assert reply["message"]["text"] == "Oui, un tram sur deux."
    assert sent["peer_id"] == reply["commentUrn"]
    calls = len(fake_linkedin.calls)
    _until(lambda: len(fake_linkedin.calls) > calls + 10, "more polls")
    assert len(linkedin.interactions()) == 1  # our reply is not a customer's comment
    assert linkedin.adapter()["quota"]["left"] < linkedin.adapter()["quota"]["daily"]


def test_a_reply_typed_on_linkedin_is_an_answer_that_stops_the_clock(
    linkedin: Linkedin, fake_linkedin: FakeLinkedin
) -> None:
    # While the daemon was down: a question, the organisation's reply typed on LinkedIn, and
    # the customer's next question under it.
    now = time.time()
    post = fake_linkedin.post()
    top = fake_linkedin.comment(post, "La ligne 2 est-elle en grève ?", at=now - 300)
    fake_linkedin.comment(top, "Oui, jusqu'à 18 h.", actor=ORGANIZATION, at=now - 200)
    later = fake_linkedin.comment(top, "Et demain ?", at=now - 100)
    linkedin.daemon.start()
    found = _until(lambda: len(linkedin.interactions()) == 2 and linkedin.interactions(), "taken")
    first, second = sorted(found, key=lambda i: i["id"])
    assert (first["external_id"], first["status"]) == (top, "closed")
    assert second["external_id"] == later
    assert second["status"] != "closed"
    assert linkedin.customer(second["id"]) == ["Et demain ?"]
    # Live: the next reply typed on LinkedIn closes the open interaction, with the channel's
    # answered_elsewhere_reason, by no advisor.
    fake_linkedin.comment(top, "Demain aussi.", actor=ORGANIZATION)
    _until(lambda: second["id"] in _closed(linkedin), "closed by the reply typed on LinkedIn")
    closed = _closed(linkedin)
    assert (closed[first["id"]].reason, closed[first["id"]].advisor_id) == ("answered", None)
    assert (closed[second["id"]].reason, closed[second["id"]].advisor_id) == ("answered", None)
    assert fake_linkedin.replies == []
    assert len(linkedin.interactions()) == 2  # the organisation's replies are no customer's


def _closed(linkedin: Linkedin) -> dict[int, InteractionClosed]:
    return {
        r.event.interaction_id: r.event
        for r in read_file(linkedin.daemon.journal)
        if isinstance(r.event, InteractionClosed)
    }


def test_a_429_holds_every_call_until_the_next_days_limits(
    linkedin: Linkedin, fake_linkedin: FakeLinkedin
) -> None:
    post = fake_linkedin.post()
    fake_linkedin.comment(post, "Bonjour ?")
    linkedin.daemon.start()
    (interaction,) = _until(linkedin.interactions, "the comment taken")
    fake_linkedin.limited = 1
    _until(lambda: linkedin.adapter()["quota"]["left"] == 0, "the day's limit met")
    calls = len(fake_linkedin.calls)
    linkedin.answer("Bonjour, que pouvons-nous faire ?")
    (failed,) = _until(
        lambda: [m for m in linkedin.answers(interaction["id"]) if m["state"] == "failed"],
        "the answer held",
    )
    assert failed["reason"].startswith("rate_limited"), failed
    assert failed["retry_at"] is not None
    time.sleep(1.0)  # polls and retries meanwhile: none reaches LinkedIn
    assert len(fake_linkedin.calls) == calls
    assert fake_linkedin.replies == []
    quota = linkedin.adapter()["quota"]
    assert 0 < quota["resets_in_s"] <= 86_400
    metrics = httpx.get(linkedin.daemon.url + "/metrics").text
    assert 'aiguillage_channel_quota_left{adapter="linkedin"} 0.0' in metrics


def test_an_expired_token_needs_re_authorisation_until_renewed(
    linkedin: Linkedin, fake_linkedin: FakeLinkedin
) -> None:
    post = fake_linkedin.post()
    linkedin.daemon.start()
    fake_linkedin.expired.add("li-token-1")
    _until(lambda: linkedin.adapter()["health"] == "needs_reauthorisation", "refused")
    assert "401" in linkedin.adapter()["health_detail"]
    fake_linkedin.comment(post, "Toujours là ?")
    fake_linkedin.tokens.add("li-token-2")
    linkedin.token_file.write_text("li-token-2\n")
    _until(lambda: len(linkedin.interactions()) == 1, "taken with the renewed token")
    _until(lambda: linkedin.adapter()["health"] == "ok", "ok")


def test_a_post_mentioning_the_organisation_is_answered_by_a_comment_on_it(
    linkedin: Linkedin, fake_linkedin: FakeLinkedin
) -> None:
    linkedin.daemon.start()
    mention = fake_linkedin.mention("Merci @Réseau pour le bus de nuit, mais il était en retard")
    (interaction,) = _until(linkedin.interactions, "the mention taken")
    assert (interaction["source"], interaction["external_id"]) == ("linkedin", mention)
    assert linkedin.customer(interaction["id"]) == [
        "Merci @Réseau pour le bus de nuit, mais il était en retard"
    ]
    linkedin.answer("Merci, nous transmettons au dépôt.")
    _until(lambda: fake_linkedin.replies, "the comment posted")
    (comment,) = fake_linkedin.replies
    assert comment["object"] == mention
    assert "parentComment" not in comment
    assert comment["message"]["text"] == "Merci, nous transmettons au dépôt."
    calls = len(fake_linkedin.calls)
    _until(lambda: len(fake_linkedin.calls) > calls + 10, "more polls")
    assert len(linkedin.interactions()) == 1  # the mention is taken once
