"""Contract test of the announcements to queued callers: a real daemon, the fake ARI.

A caller waiting in the holding bridge hears, as playbacks on its channel, its position and the
estimated wait, again every ``announce_every_s``, until an advisor picks it up. The fake holds
every request to ARI's published contract (the fixture asserts no violation).
"""

from __future__ import annotations

from pathlib import Path

from tests.adapters.channels.asterisk.fake_ari import FakeAri
from tests.adapters.channels.asterisk.test_asterisk_flow import (
    APP,
    arrived,
    asterisk_config,
    available,
    until,
)
from tests.adapters.daemons import Daemon

WAIT = ("sound:queue-holdtime", "sound:queue-less-than")


def heard(fake: FakeAri, channel_id: str) -> list[list[str]]:
    """The media of each announcement played to ``channel_id``, in order."""
    prefix = f"/ari/channels/{channel_id}/play/aig-announce-"
    return [
        query["media"].split(",")
        for method, path, query in list(fake.requests)
        if method == "POST" and path.startswith(prefix)
    ]


def playbacks(fake: FakeAri, channel_id: str) -> list[str]:
    """The numbers of the announcements played to ``channel_id``, in order."""
    prefix = f"/ari/channels/{channel_id}/play/aig-announce-"
    return [
        path.removeprefix(prefix)
        for method, path, _ in list(fake.requests)
        if method == "POST" and path.startswith(prefix)
    ]


def minutes(media: list[str]) -> int:
    """The wait announced, in minutes: the number between "less than" and "minutes"."""
    assert media[-4:-2] == list(WAIT), media
    assert media[-1] == "sound:queue-minutes", media
    number = media[-2]
    assert number.startswith("number:"), media
    return int(number.removeprefix("number:"))


def test_queued_callers_hear_their_position_and_the_wait(fake_ari: FakeAri, tmp_path: Path) -> None:
    """Contract test: the position alone while nobody is logged in; the position and the wait
        once an advisor is, again each second; once the call is picked up, the announcement it hears
    stops and no other follows."""
    config = asterisk_config(tmp_path, fake_ari)
    text = config.read_text()
    table = 'moh_class = "default"\n'
    assert table in text
    config.write_text(
        text.replace(table, table + "announce_every_s = 1\nannounce_first_s = 0.5\n", 1)
    )
    fake_ari.playback_s = 3.0  # an announcement still plays when the next call is picked up
    daemon = Daemon(tmp_path, config, env={"ARI_PASSWORD": fake_ari.password}).start()
    try:
        until("the channel connected to ARI", lambda: fake_ari.connected(APP))
        _flow(fake_ari, daemon)
    finally:
        daemon.kill()


def _flow(fake: FakeAri, daemon: Daemon) -> None:
    # Nobody logged in: no estimate, the first caller hears only that it is next.
    first = fake.incoming_call(caller="0612345678", dialed="3975")
    arrived(daemon, first)
    told = until("the first caller hears its position", lambda: heard(fake, first))
    assert told[0] == ["sound:queue-youarenext"]

    # Claire takes the first call: she is busy with it.
    available(daemon, "claire.martin")
    until("Claire's phone rings", lambda: fake.ringing("PJSIP/1001"))
    fake.answer("PJSIP/1001")
    until(
        "the first caller left the holding bridge",
        lambda: first not in fake.bridges["aiguillage-holding"]["channels"],
    )
    first_heard = len(heard(fake, first))

    # Two callers queued behind a busy advisor: each its rank, and a wait that grows with it.
    second = fake.incoming_call(caller="0622222222", dialed="3975")
    arrived(daemon, second)
    third = fake.incoming_call(caller="0633333333", dialed="3975")
    arrived(daemon, third)
    told_second = until("the second caller hears it twice", lambda: heard(fake, second)[1:])
    told_third = until("the third caller hears it", lambda: heard(fake, third))
    for media in told_second[:2]:
        assert media[:1] == ["sound:queue-youarenext"]
        assert media[1:3] == list(WAIT)
        assert minutes(media) >= 1
    position = ["sound:queue-thereare", "number:2", "sound:queue-callswaiting"]
    assert told_third[0][:3] == position
    assert minutes(told_third[0]) >= minutes(told_second[0])

    # Julien picks the second caller up: it hears nothing more; the third is next now.
    available(daemon, "julien.bernard")
    until("Julien's phone rings", lambda: fake.ringing("PJSIP/1002"))
    fake.answer("PJSIP/1002")
    until(
        "the second caller left the holding bridge",
        lambda: second not in fake.bridges["aiguillage-holding"]["channels"],
    )
    count = len(heard(fake, second))
    # The announcement it was hearing stops: Julien does not talk over it.
    last = f"aig-announce-{playbacks(fake, second)[-1]}"
    until("the second caller's announcement stops", lambda: last in fake.stopped)
    until(
        "the third caller hears that it is next",
        lambda: any(m[:1] == ["sound:queue-youarenext"] for m in heard(fake, third)[1:]),
    )
    until("a second goes by", lambda: len(heard(fake, third)) >= 3, timeout=5)
    assert len(heard(fake, second)) == count
    assert len(heard(fake, first)) == first_heard
