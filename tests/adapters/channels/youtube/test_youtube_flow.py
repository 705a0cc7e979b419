"""Contract tests of the YouTube channel in a real daemon, against a fake YouTube Data API on
loopback that validates every request against Google's discovery document (``fake_youtube``).

Flows: comments found by polling after the daemon was down for an hour (nothing missed,
nothing twice, across pages and the same second); a customer's reply in an open thread joining
its interaction; an answer inserted as a reply and not taken back as a comment; a reply typed
in YouTube Studio taken as the answer, which stops the clock; the polls
stopping at the units reserved for answers, which still go out, and the daily quota exhausted
at Google holding every call; an expired token.
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
from tests.adapters.channels.youtube.fake_youtube import CHANNEL_ID, FakeYoutube
from tests.adapters.daemons import ADMIN, Daemon, write_config

ADVISOR = "camille.laurent"


class Youtube:
    """A daemon with the ``youtube`` channel, and what an advisor does to it."""

    def __init__(self, directory: Path, fake: FakeYoutube, **settings: Any) -> None:
        self.fake = fake
        self.token_file = directory / "youtube-token"
        self.token_file.write_text("yt-token-1\n")
        values = {"poll_every_s": 0.2, "overlap_s": 600, **settings}
        extra = (
            "\n[adapters.youtube]\n"
            f'channel_id = "{CHANNEL_ID}"\ntoken_file = "{self.token_file}"\n'
            f'api_url = "{fake.url}"\n'
            + "".join(f"{key} = {value}\n" for key, value in values.items())
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

    def quota(self) -> dict[str, Any]:
        found: dict[str, Any] = self.daemon.readyz().json()["adapters"]["youtube"]["quota"]
        return found

    def answer(self, count: int, text: Callable[[int], str], *, close: bool = True) -> list[int]:
        """The advisor answers ``count`` interactions offered to her (closing each when asked)."""
        self.api("PUT", f"/v1/advisors/{ADVISOR}/state", json={"state": "available"})
        answered: list[int] = []
        deadline = time.monotonic() + 60
        while len(answered) < count:
            assert time.monotonic() < deadline, f"only {answered} answered"
            advisor = self.api("GET", f"/v1/advisors/{ADVISOR}").json()
            for offer in advisor["offers"]:
                self.api("POST", f"/v1/advisors/{ADVISOR}/offers/{offer}/accept")
            for interaction_id in advisor["holding"]:
                if interaction_id in answered:
                    continue
                self.api(
                    "POST",
                    f"/v1/interactions/{interaction_id}/messages",
                    json={"text": text(interaction_id), "advisor_id": ADVISOR},
                )
                answered.append(interaction_id)
                if close:
                    self.api(
                        "POST",
                        f"/v1/interactions/{interaction_id}/close",
                        json={"advisor_id": ADVISOR, "reason": "answered"},
                    )
            time.sleep(0.05)
        return answered


def _until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.1)


@pytest.fixture
def youtube(tmp_path: Path, fake_youtube: FakeYoutube) -> Iterator[Youtube]:
    running = Youtube(tmp_path, fake_youtube)
    try:
        yield running
    finally:
        running.daemon.kill()


def _texts(youtube: Youtube) -> list[str]:
    return sorted(t for i in youtube.interactions() for t in youtube.customer(i["id"]))


def test_comments_written_while_the_daemon_was_down_for_an_hour_are_found_once(
    youtube: Youtube, fake_youtube: FakeYoutube
) -> None:
    fake_youtube.page_size = 2  # the paging back to the mark is exercised
    now = time.time()
    before = now - 3 * 3600
    fake_youtube.comment("Avant : le bus 12 est-il dévié ?", at=before)
    youtube.daemon.start()
    _until(lambda: len(youtube.interactions()) == 1, "the first comment taken")
    youtube.daemon.kill()
    # An hour down: customers go on writing; one comment of the same second as the one taken,
    # made visible only now (held for review, then published).
    fake_youtube.comment("Pendant : ligne 4 en panne ?", at=now - 3500)
    fake_youtube.comment("Pendant : et le RER B ?", at=now - 2000)
    fake_youtube.comment("Pendant : même seconde", at=before)
    fake_youtube.comment("Pendant : dernière question", at=now - 60)
    youtube.daemon.start()
    expected = sorted(
        [
            "Avant : le bus 12 est-il dévié ?",
            "Pendant : ligne 4 en panne ?",
            "Pendant : et le RER B ?",
            "Pendant : même seconde",
            "Pendant : dernière question",
        ]
    )
    _until(lambda: _texts(youtube) == expected, "every comment, once")
    # The catch-up paged back to the mark (two a page), through the comments of the same
    # second as the mark.
    tokens = [p.get("pageToken") for m, p in fake_youtube.calls if m.endswith("Threads.list")]
    assert max(int(t) for t in tokens if t) == 4
    # Many more polls: nothing taken twice, and each poll now stops at its first page, where
    # the mark is.
    caught_up = len(tokens)
    _until(
        lambda: fake_youtube.method_calls("youtube.commentThreads.list") > caught_up + 10,
        "more polls",
    )
    assert _texts(youtube) == expected
    interactions = youtube.interactions()
    assert all(i["source"] == "youtube" and i["channel"] == "social" for i in interactions)
    assert sorted(i["external_id"] for i in interactions) == sorted(
        c for c, r in fake_youtube.comments.items() if "parentId" not in r["snippet"]
    )
    tokens = [p.get("pageToken") for m, p in fake_youtube.calls if m.endswith("Threads.list")]
    assert tokens[caught_up + 1 :] == [None] * (len(tokens) - caught_up - 1)


def test_a_reply_in_an_open_thread_joins_its_interaction_and_the_answer_is_a_reply(
    youtube: Youtube, fake_youtube: FakeYoutube
) -> None:
    top = fake_youtube.comment("Le métro est-il ouvert ce soir ?")
    youtube.daemon.start()
    (interaction,) = _until(youtube.interactions, "the comment taken")
    assert interaction["external_id"] == top
    fake_youtube.comment("Précision : la ligne 1", parent=top)
    _until(lambda: len(youtube.customer(interaction["id"])) == 2, "the reply taken")
    assert youtube.customer(interaction["id"]) == [
        "Le métro est-il ouvert ce soir ?",
        "Précision : la ligne 1",
    ]
    assert [i["id"] for i in youtube.interactions()] == [interaction["id"]]
    (answered,) = youtube.answer(1, lambda i: "Oui, jusqu'à 1 h 15.")
    (sent,) = _until(lambda: [m for m in youtube.answers(answered) if m["state"] == "sent"], "sent")
    (inserted,) = fake_youtube.inserted
    assert inserted["snippet"]["parentId"] == top
    assert inserted["snippet"]["textOriginal"] == "Oui, jusqu'à 1 h 15."
    assert sent["peer_id"] == inserted["id"]
    insert = [p for m, p in fake_youtube.calls if m == "youtube.comments.insert"]
    assert insert == [{"part": "snippet"}]
    # Our reply is in the thread now: polls pass over it; the customer's next reply, after
    # the answer, opens the next interaction of the same thread.
    calls = fake_youtube.method_calls("youtube.comments.list")
    _until(lambda: fake_youtube.method_calls("youtube.comments.list") > calls + 3, "polls")
    assert len(youtube.interactions()) == 1
    thanks = fake_youtube.comment("Merci !", parent=top)
    _until(lambda: len(youtube.interactions()) == 2, "the next turn")
    latest = max(youtube.interactions(), key=lambda i: i["id"])
    assert latest["external_id"] == thanks
    assert youtube.customer(latest["id"]) == ["Merci !"]


def _closed(youtube: Youtube) -> dict[int, InteractionClosed]:
    return {
        r.event.interaction_id: r.event
        for r in read_file(youtube.daemon.journal)
        if isinstance(r.event, InteractionClosed)
    }


def test_a_reply_typed_in_youtube_studio_is_an_answer_that_stops_the_clock(
    youtube: Youtube, fake_youtube: FakeYoutube
) -> None:
    # While the daemon was down: a question, the channel's reply typed in YouTube Studio, and
    # the customer's next question under it.
    now = time.time()
    top = fake_youtube.comment("Le bus 38 passe-t-il ?", at=now - 300)
    fake_youtube.comment("Oui, toutes les 10 min.", parent=top, author=CHANNEL_ID, at=now - 200)
    later = fake_youtube.comment("Et dimanche ?", parent=top, at=now - 100)
    youtube.daemon.start()
    found = _until(lambda: len(youtube.interactions()) == 2 and youtube.interactions(), "taken")
    first, second = sorted(found, key=lambda i: i["id"])
    assert (first["external_id"], first["status"]) == (top, "closed")
    assert second["external_id"] == later
    assert second["status"] != "closed"
    assert youtube.customer(second["id"]) == ["Et dimanche ?"]
    # Live: the next reply typed in Studio closes the open interaction, with the channel's
    # answered_elsewhere_reason, by no advisor.
    fake_youtube.comment("Oui, toutes les 20 min.", parent=top, author=CHANNEL_ID)
    _until(lambda: second["id"] in _closed(youtube), "closed by the reply typed in Studio")
    closed = _closed(youtube)
    assert (closed[first["id"]].reason, closed[first["id"]].advisor_id) == ("answered", None)
    assert (closed[second["id"]].reason, closed[second["id"]].advisor_id) == ("answered", None)
    assert fake_youtube.inserted == []
    assert len(youtube.interactions()) == 2  # the channel's replies are no customer's work


def test_a_reply_of_the_channel_s_found_late_does_not_close_later_work(
    youtube: Youtube, fake_youtube: FakeYoutube
) -> None:
    now = time.time()
    top = fake_youtube.comment("Le tram roule-t-il ?", at=now - 400)
    fake_youtube.comment("Oui.", parent=top, author=CHANNEL_ID, at=now - 300)
    later = fake_youtube.comment("Et ce soir ?", parent=top, at=now - 100)
    youtube.daemon.start()
    found = _until(lambda: len(youtube.interactions()) == 2 and youtube.interactions(), "taken")
    second = max(found, key=lambda i: i["id"])
    assert second["external_id"] == later
    # A reply the channel wrote before the customer's next question, made visible only now
    # (held for review): it answered the first question, not the second.
    fake_youtube.comment("Oui, jusqu'à minuit.", parent=top, author=CHANNEL_ID, at=now - 200)
    calls = fake_youtube.method_calls("youtube.comments.list")
    _until(lambda: fake_youtube.method_calls("youtube.comments.list") > calls + 3, "polls")
    assert youtube.api("GET", f"/v1/interactions/{second['id']}").json()["status"] != "closed"
    assert second["id"] not in _closed(youtube)


def test_polls_stop_at_the_units_reserved_for_answers_which_still_go_out(
    tmp_path: Path, fake_youtube: FakeYoutube
) -> None:
    youtube = Youtube(tmp_path, fake_youtube, daily_quota=130, reserve_for_answers=100)
    first = fake_youtube.comment("Question 1")
    second = fake_youtube.comment("Question 2")
    youtube.daemon.start()
    try:
        _until(lambda: len(youtube.interactions()) == 2, "both comments")
        _until(lambda: youtube.quota()["left_for_polls"] == 0, "the polls' units spent")
        time.sleep(1.0)  # five more poll times: nothing called
        assert fake_youtube.units == 30
        quota = youtube.quota()
        assert (quota["left"], quota["reserved_for_answers"], quota["daily"]) == (100, 100, 130)
        metrics = httpx.get(youtube.daemon.url + "/metrics").text
        assert 'aiguillage_channel_quota_left{adapter="youtube"} 100.0' in metrics
        answered = youtube.answer(2, lambda i: f"Réponse {i}")
        _until(
            lambda: all([m["state"] for m in youtube.answers(i)] == ["sent"] for i in answered),
            "both answers sent",
        )
        assert sorted(c["snippet"]["parentId"] for c in fake_youtube.inserted) == sorted(
            [first, second]
        )
        assert fake_youtube.units == 130
        assert youtube.quota()["left"] == 0
    finally:
        youtube.daemon.kill()


def test_quota_exhausted_at_google_holds_every_call_until_the_reset(
    youtube: Youtube, fake_youtube: FakeYoutube
) -> None:
    fake_youtube.comment("Bonjour ?")
    youtube.daemon.start()
    (interaction,) = _until(youtube.interactions, "the comment taken")
    fake_youtube.daily_quota = fake_youtube.units  # another client of the project spent it
    _until(lambda: youtube.quota()["left"] == 0, "the quota seen exhausted")
    calls = len(fake_youtube.calls)
    youtube.answer(1, lambda i: "Bonjour, que pouvons-nous faire ?")
    (failed,) = _until(
        lambda: [m for m in youtube.answers(interaction["id"]) if m["state"] == "failed"],
        "the answer held",
    )
    assert failed["reason"].startswith("quota_exhausted"), failed
    assert failed["retry_at"] is not None  # it waits for the reset, not given up
    time.sleep(1.0)
    assert len(fake_youtube.calls) == calls  # nothing more called today
    assert fake_youtube.inserted == []
    assert 0 < youtube.quota()["resets_in_s"] <= 86_400


def test_an_expired_token_needs_re_authorisation_and_the_renewed_one_resumes(
    youtube: Youtube, fake_youtube: FakeYoutube
) -> None:
    youtube.daemon.start()
    fake_youtube.expire("yt-token-1")
    _until(
        lambda: (
            youtube.daemon.readyz().json()["adapters"]["youtube"]["health"]
            == "needs_reauthorisation"
        ),
        "needs re-authorisation",
    )
    fake_youtube.tokens.add("yt-token-2")
    fake_youtube.comment("Toujours là ?")
    youtube.token_file.write_text("yt-token-2\n")
    _until(lambda: len(youtube.interactions()) == 1, "the comment taken with the new token")
    _until(lambda: youtube.daemon.readyz().json()["adapters"]["youtube"]["health"] == "ok", "ok")
