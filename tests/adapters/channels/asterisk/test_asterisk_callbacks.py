"""Contract tests of callbacks on the telephone: a real daemon, the fake ARI in Asterisk's place.

A queued caller told a wait past the voice target is offered a callback after its announcement;
it takes it with a key, confirms its number (or keys another) and the call ends, the
interaction waiting in its place as a callback. An advisor answering the callback's offer has
the customer dialled, presenting the service's number; the customer answering is the
callback's first response, and the two are bridged. A callback never answered is tried again,
then closed. The fake holds every request to ARI's published contract (the fixture asserts no
violation); the journal is asserted afterwards.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.adapters.channels.asterisk.fake_ari import FakeAri
from tests.adapters.channels.asterisk.test_asterisk_flow import (
    ALL_DAY,
    APP,
    arrived,
    asterisk_config,
    available,
    events,
    of,
    until,
)
from tests.adapters.daemons import Daemon

HOLDING = "aiguillage-holding"
OFFER = "sound:aiguillage-callback-offer"
SERVICE = "+33142000000"
SETTINGS = (
    "announce_every_s = 1\nannounce_first_s = 0.5\n"
    'callback_endpoint = "PJSIP/{number}@trunk"\n'
    f'callback_caller_id = "{SERVICE}"\n'
    "callback_timeout_s = 8\ncallback_ring_s = 20\n"
)


def callback_config(
    directory: Path,
    fake: FakeAri,
    *,
    target_s: int = 600,
    attempts: int = 3,
    retry_s: int = 600,
    handling_s: int = 300,
    hours: str = ALL_DAY,
) -> Path:
    """``asterisk_config`` with callbacks on the phone, the voice channel's callback policy,
    no wrap-up (an advisor is free again at once) and the expected handling time."""
    config = asterisk_config(directory, fake, settings=SETTINGS, hours=hours)
    text = config.read_text()
    for old, new in (
        ("\ncallback_target_s = 7200 ", f"\ncallback_target_s = {target_s} "),
        ("\ncallback_attempts = 3 ", f"\ncallback_attempts = {attempts} "),
        ("\ncallback_retry_s = 600 ", f"\ncallback_retry_s = {retry_s} "),
        ("\nwrap_up_s = 30 ", "\nwrap_up_s = 0 "),
        ("\nmean_s = 300\nsd_s = 150\n", f"\nmean_s = {handling_s}\nsd_s = {handling_s // 4}\n"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    config.write_text(text)
    return config


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """Start a daemon on a configuration (restarting it on the same journal); each is killed
    at the end."""
    started: list[Daemon] = []

    def run(fake: FakeAri, config: Path) -> Daemon:
        daemon = Daemon(tmp_path, config, env={"ARI_PASSWORD": fake.password}).start()
        started.append(daemon)
        until("the channel connected to ARI", lambda: fake.connected(APP))
        return daemon

    try:
        yield run
    finally:
        for daemon in started:
            daemon.kill()


def played(fake: FakeAri, channel_id: str) -> list[list[str]]:
    """The media of each playback on ``channel_id``, in order."""
    prefix = f"/ari/channels/{channel_id}/play/"
    return [
        query["media"].split(",")
        for method, path, query in list(fake.requests)
        if method == "POST" and path.startswith(prefix)
    ]


def offers(fake: FakeAri, channel_id: str) -> int:
    """How many announcements to ``channel_id`` ended with the callback's offer."""
    return sum(1 for media in played(fake, channel_id) if media[-1:] == [OFFER])


def heard(fake: FakeAri, channel_id: str, sound: str) -> bool:
    return any(sound in media for media in played(fake, channel_id))


def dials(fake: FakeAri) -> list[tuple[str, dict[str, str]]]:
    """The originates of callbacks: (channel id, query)."""
    prefix = "/ari/channels/aig-callback-"
    return [
        (path.removeprefix("/ari/channels/"), query)
        for method, path, query in list(fake.requests)
        if method == "POST" and path.startswith(prefix) and "/" not in path.removeprefix(prefix)
    ]


def busy_claire(fake: FakeAri, daemon: Daemon) -> str:
    """Claire takes a first call and stays on it: the caller's channel."""
    available(daemon, "claire.martin")
    first = fake.incoming_call(caller="0611111111", dialed="3975")
    arrived(daemon, first)
    until("Claire's phone rings", lambda: fake.ringing("PJSIP/1001"))
    fake.answer("PJSIP/1001")
    until("the first caller is with Claire", lambda: first not in _held(fake))
    return first


def _held(fake: FakeAri) -> list[str]:
    return list(fake.bridges.get(HOLDING, {}).get("channels", []))


def kinds_of(daemon: Daemon, interaction: int) -> list[str]:
    return [e["type"] for e in events(daemon) if e.get("interaction_id") == interaction]


def test_a_callback_accepted_then_made(fake_ari: FakeAri, tmp_path: Path, start: Any) -> None:
    """Contract test: offered after its announcement, the caller takes the callback, confirms
    the number it calls from and hangs up: no abandon; the callback survives a SIGKILL, rings
    the next advisor free, dials the customer with the service's number, and the customer
    answering is bridged to the advisor; the end of the call closes it."""
    config = callback_config(tmp_path, fake_ari)
    daemon = start(fake_ari, config)
    busy_claire(fake_ari, daemon)
    caller = fake_ari.incoming_call(caller="0622222222", dialed="3975")
    interaction = arrived(daemon, caller)["interaction_id"]
    until("the caller is offered a callback", lambda: offers(fake_ari, caller))
    announced = next(m for m in played(fake_ari, caller) if m[-1:] == [OFFER])
    assert announced[-2] == "sound:queue-minutes"  # after the position and the wait
    fake_ari.press(caller, "1")
    until(
        "its number is read back",
        lambda: heard(fake_ari, caller, "digits:0622222222"),
    )
    confirm = next(m for m in played(fake_ari, caller) if "digits:0622222222" in m)
    assert confirm == [
        "sound:aiguillage-callback-number",
        "digits:0622222222",
        "sound:aiguillage-callback-confirm",
    ]
    fake_ari.press(caller, "1")
    (requested,) = until(
        "the callback is asked for", lambda: of(daemon, "interaction.callback_requested")
    )
    assert requested["interaction_id"] == interaction
    accepted = "sound:aiguillage-callback-accepted"
    until("the caller hears it is taken", lambda: heard(fake_ari, caller, accepted))
    until("the call ends", lambda: caller not in fake_ari.channels)
    with daemon.client() as admin:
        kept = admin.get(f"/v1/interactions/{interaction}/personal-data").json()
    assert kept["callback_numbers"] == ["0622222222"]

    # SIGKILLed with the callback waiting: the restarted daemon still knows it is one.
    daemon.kill()
    until("Asterisk sees the application gone", lambda: not fake_ari.connected(APP))
    daemon = start(fake_ari, config)

    available(daemon, "julien.bernard")
    until("Julien's phone rings", lambda: fake_ari.ringing("PJSIP/1002"))
    julien = fake_ari.answer("PJSIP/1002")
    dial = f"aig-callback-{interaction}-1"
    customer = "PJSIP/0622222222@trunk"
    until("the customer's phone rings", lambda: fake_ari.ringing(customer))
    ((dialled, query),) = dials(fake_ari)
    assert dialled == dial
    assert (query["endpoint"], query["callerId"], query["timeout"]) == (customer, SERVICE, "20")
    assert fake_ari.channels[dial]["caller"]["number"] == SERVICE
    fake_ari.answer(customer)
    until(
        "customer and advisor are bridged",
        lambda: (
            sorted(fake_ari.bridges.get(f"aig-call-{interaction}", {}).get("channels", []))
            == sorted([dial, julien])
        ),
    )
    (answered,) = of(daemon, "interaction.callback_answered")
    assert (answered["interaction_id"], answered["advisor_id"]) == (interaction, "julien.bernard")
    assert answered["attempt"] == 1

    fake_ari.hang_up(dial)
    closed = until(
        "the callback is closed",
        lambda: [e for e in of(daemon, "interaction.closed") if e["interaction_id"] == interaction],
    )
    assert closed[0]["advisor_id"] == "julien.bernard"
    until("the advisor's leg is hung up", lambda: julien not in fake_ari.channels)
    kinds = kinds_of(daemon, interaction)
    assert "interaction.abandoned" not in kinds
    assert (
        kinds.index("interaction.callback_requested")
        < kinds.index("interaction.callback_answered")
        < kinds.index("interaction.closed")
    )
    assert len(dials(fake_ari)) == 1  # dialled once


def test_a_callback_the_channel_s_state_lost_to_a_crash_is_still_made(
    fake_ari: FakeAri, tmp_path: Path, start: Any
) -> None:
    """Contract test: the daemon dies after the engine took the callback but before the
    channel's state was saved with it (the state still holds the caller's call). Restarted,
    the caller's channel is gone and its end is no abandon; the callback's offer is taken up
    from the engine, and the customer is dialled."""
    config = callback_config(tmp_path, fake_ari)
    daemon = start(fake_ari, config)
    busy_claire(fake_ari, daemon)
    caller = fake_ari.incoming_call(caller="0622222222", dialed="3975")
    interaction = arrived(daemon, caller)["interaction_id"]
    until("the caller is offered a callback", lambda: offers(fake_ari, caller))
    fake_ari.press(caller, "1")
    until("its number is read back", lambda: heard(fake_ari, caller, "digits:0622222222"))
    fake_ari.press(caller, "1")
    until("the call ends", lambda: caller not in fake_ari.channels)
    daemon.kill()
    until("Asterisk sees the application gone", lambda: not fake_ari.connected(APP))
    # The state as it was saved before the callback was taken: the caller held, waiting.
    with sqlite3.connect(daemon.journal) as db:
        (stored,) = db.execute(
            "SELECT state FROM channel_states WHERE name = 'channels.asterisk'"
        ).fetchone()
        state = json.loads(stored)
        assert state["callbacks"] == [interaction]
        state["callbacks"] = []
        state["calls"] = [
            c for c in state.get("calls", []) if c["interaction_id"] != interaction
        ] + [{"channel_id": caller, "interaction_id": interaction}]
        db.execute(
            "UPDATE channel_states SET state = ? WHERE name = 'channels.asterisk'",
            (json.dumps(state).encode(),),
        )
    daemon = start(fake_ari, config)
    available(daemon, "julien.bernard")
    until("Julien's phone rings", lambda: fake_ari.ringing("PJSIP/1002"))
    fake_ari.answer("PJSIP/1002")
    customer = "PJSIP/0622222222@trunk"
    until("the customer's phone rings", lambda: fake_ari.ringing(customer))
    ((dialled, _),) = dials(fake_ari)
    assert dialled == f"aig-callback-{interaction}-1"
    assert "interaction.abandoned" not in kinds_of(daemon, interaction)


def test_a_callback_never_answered_is_tried_again_then_closed(
    fake_ari: FakeAri, tmp_path: Path, start: Any
) -> None:
    """Contract test: the caller keys another number (a wrong one first, asked again); each
    attempt rings out: the advisor's phone is hung up, the callback tried again, and closed
    ``callback_unanswered`` after the last."""
    config = callback_config(tmp_path, fake_ari, attempts=2, retry_s=1)
    daemon = start(fake_ari, config)
    busy_claire(fake_ari, daemon)
    caller = fake_ari.incoming_call(caller="0622222222", dialed="3975")
    interaction = arrived(daemon, caller)["interaction_id"]
    until("the caller is offered a callback", lambda: offers(fake_ari, caller))
    fake_ari.press(caller, "1")
    until("its number is read back", lambda: heard(fake_ari, caller, "digits:0622222222"))
    fake_ari.press(caller, "2")
    enter = "sound:aiguillage-callback-enter"
    until("it is asked for another number", lambda: heard(fake_ari, caller, enter))
    for key in "123#":  # not a number: asked again
        fake_ari.press(caller, key)
    until(
        "it is asked again",
        lambda: sum(enter in m for m in played(fake_ari, caller)) == 2,
    )
    for key in "0711223344#":
        fake_ari.press(caller, key)
    until("the number keyed is read back", lambda: heard(fake_ari, caller, "digits:0711223344"))
    fake_ari.press(caller, "1")
    until("the callback is asked for", lambda: of(daemon, "interaction.callback_requested"))
    until("the call ends", lambda: caller not in fake_ari.channels)

    available(daemon, "julien.bernard")
    customer = "PJSIP/0711223344@trunk"
    for attempt in (1, 2):
        _ring_out(fake_ari, daemon, customer, f"aig-callback-{interaction}-{attempt}", attempt)
    missed = of(daemon, "interaction.callback_missed")
    assert [m["attempt"] for m in missed] == [1, 2]
    assert missed[0]["retry_at"] is not None
    assert missed[1]["retry_at"] is None
    closed = until(
        "the callback is closed",
        lambda: [e for e in of(daemon, "interaction.closed") if e["interaction_id"] == interaction],
    )
    assert closed[0]["reason"] == "callback_unanswered"
    kinds = kinds_of(daemon, interaction)
    assert "interaction.abandoned" not in kinds
    assert "interaction.callback_answered" not in kinds
    assert [d for d, _ in dials(fake_ari)] == [
        f"aig-callback-{interaction}-1",
        f"aig-callback-{interaction}-2",
    ]
    time.sleep(1.5)  # past the retry: nothing rings again
    assert fake_ari.ringing("PJSIP/1002") == []


def _ring_out(fake: FakeAri, daemon: Daemon, customer: str, dial: str, attempt: int) -> None:
    """Julien answers the callback's offer; the customer's phone rings out."""
    until(f"Julien's phone rings ({attempt})", lambda: fake.ringing("PJSIP/1002"))
    julien = fake.answer("PJSIP/1002")
    until(f"the customer's phone rings ({attempt})", lambda: fake.ringing(customer))
    assert dials(fake)[-1][0] == dial
    fake.no_answer(customer)
    until(f"Julien's phone is hung up ({attempt})", lambda: julien not in fake.channels)
    until(
        f"attempt {attempt} is missed",
        lambda: len(of(daemon, "interaction.callback_missed")) == attempt,
    )


def test_a_caller_whose_estimate_is_under_the_target_is_never_offered_one(
    fake_ari: FakeAri, tmp_path: Path, start: Any
) -> None:
    """Contract test: short calls ahead, an estimate within the 3 minutes: the announcements
    carry no offer, and the callback's key does nothing."""
    config = callback_config(tmp_path, fake_ari, handling_s=20)
    daemon = start(fake_ari, config)
    busy_claire(fake_ari, daemon)
    caller = fake_ari.incoming_call(caller="0622222222", dialed="3975")
    arrived(daemon, caller)
    told = until("it hears its position three times", lambda: played(fake_ari, caller)[2:])
    assert told[0][-1] == "sound:queue-minutes"  # a wait is told: within the target
    assert told[0][-2] in ("number:1", "number:2", "number:3")
    fake_ari.press(caller, "1")
    until("two more announcements", lambda: len(played(fake_ari, caller)) >= 5)
    assert offers(fake_ari, caller) == 0
    assert of(daemon, "interaction.callback_requested") == []
    assert caller in _held(fake_ari)


def test_a_callback_refused_after_closing_is_heard_and_the_call_stays_queued(
    fake_ari: FakeAri, tmp_path: Path, start: Any
) -> None:
    """Contract test: offered while it could still be made before closing, confirmed once it
    no longer can: the engine refuses it, the caller hears so and waits on, no abandon."""
    target_s, margin_s = 200, 25
    zone = ZoneInfo("Europe/Paris")
    now = datetime.now(zone)
    closing = now.replace(microsecond=0) + timedelta(seconds=target_s + margin_s + 1)
    if closing.date() != now.date():  # the day ends first: start on the next one
        time.sleep((closing.replace(hour=0, minute=0, second=0) - now).total_seconds() + 1)
        now = datetime.now(zone)
        closing = now.replace(microsecond=0) + timedelta(seconds=target_s + margin_s + 1)
    last_offer = closing - timedelta(seconds=target_s)  # a callback due by closing till then
    hours = (
        '[calendar.hours]\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        f"opens = 00:00:00\ncloses = {closing:%H:%M:%S}\nclosed_on_holidays = false\n"
    )
    config = callback_config(tmp_path, fake_ari, target_s=target_s, hours=hours)
    daemon = start(fake_ari, config)
    busy_claire(fake_ari, daemon)
    caller = fake_ari.incoming_call(caller="0622222222", dialed="3975")
    interaction = arrived(daemon, caller)["interaction_id"]
    until("the caller is offered a callback", lambda: offers(fake_ari, caller))
    # Take an offer shortly before the callback could no longer be kept (a key counts during
    # an offer and for callback_timeout_s after it; between two, it is passed over).
    time.sleep(max(0.0, (last_offer - datetime.now(zone)).total_seconds() - 2))
    number = "digits:0622222222"
    for _ in range(5):
        fake_ari.press(caller, "1")
        with contextlib.suppress(AssertionError):
            until("its number is read back", lambda: heard(fake_ari, caller, number), timeout=1)
            break
    assert heard(fake_ari, caller, number)
    time.sleep(max(0.0, (last_offer - datetime.now(zone)).total_seconds() + 0.5))
    fake_ari.press(caller, "1")
    until(
        "the caller hears the callback cannot be made",
        lambda: heard(fake_ari, caller, "sound:aiguillage-callback-unavailable"),
    )
    assert of(daemon, "interaction.callback_requested") == []
    assert caller in fake_ari.channels
    assert caller in _held(fake_ari)
    kinds = kinds_of(daemon, interaction)
    assert "interaction.abandoned" not in kinds
    # Past that point no offer follows: the announcements go on without it.
    offered = offers(fake_ari, caller)
    count = len(played(fake_ari, caller))
    until("two more announcements", lambda: len(played(fake_ari, caller)) >= count + 2)
    assert offers(fake_ari, caller) == offered


def _lists(fake: FakeAri) -> int:
    """How many times the channels were listed (once per resynchronisation)."""
    return sum(1 for r in list(fake.requests) if r[:2] == ("GET", "/ari/channels"))


def test_a_callback_dial_in_flight_at_a_reconnection_is_reconciled(
    fake_ari: FakeAri, tmp_path: Path, start: Any
) -> None:
    """Contract test: the event WebSocket drops while the customer's phone rings. Gone
    meanwhile (its end unheard): the attempt is unanswered. Still ringing: it is kept, not
    dialled again, and its answer bridges it."""
    config = callback_config(tmp_path, fake_ari, retry_s=1)
    daemon = start(fake_ari, config)
    busy_claire(fake_ari, daemon)
    caller = fake_ari.incoming_call(caller="0622222222", dialed="3975")
    interaction = arrived(daemon, caller)["interaction_id"]
    until("the caller is offered a callback", lambda: offers(fake_ari, caller))
    fake_ari.press(caller, "1")
    until("its number is read back", lambda: heard(fake_ari, caller, "digits:0622222222"))
    fake_ari.press(caller, "1")
    until("the call ends", lambda: caller not in fake_ari.channels)

    available(daemon, "julien.bernard")
    customer = "PJSIP/0622222222@trunk"
    until("Julien's phone rings", lambda: fake_ari.ringing("PJSIP/1002"))
    julien = fake_ari.answer("PJSIP/1002")
    until("the customer's phone rings", lambda: fake_ari.ringing(customer))
    fake_ari.drop_websocket()
    fake_ari.no_answer(customer)  # nobody hears of it
    until("the channel reconnected", lambda: fake_ari.connected(APP))
    (missed,) = until(
        "the attempt is unanswered", lambda: of(daemon, "interaction.callback_missed")
    )
    assert (missed["interaction_id"], missed["attempt"]) == (interaction, 1)
    until("Julien's phone is hung up", lambda: julien not in fake_ari.channels)

    until("Julien's phone rings again", lambda: fake_ari.ringing("PJSIP/1002"))
    julien = fake_ari.answer("PJSIP/1002")
    until("the customer's phone rings again", lambda: fake_ari.ringing(customer))
    listed = _lists(fake_ari)
    fake_ari.drop_websocket()
    until("the channel resynchronised", lambda: _lists(fake_ari) > listed)
    time.sleep(0.5)
    dial = f"aig-callback-{interaction}-2"
    assert fake_ari.ringing(customer) == [dial]  # kept
    fake_ari.answer(customer)
    until(
        "customer and advisor are bridged",
        lambda: (
            sorted(fake_ari.bridges.get(f"aig-call-{interaction}", {}).get("channels", []))
            == sorted([dial, julien])
        ),
    )
    (answered,) = of(daemon, "interaction.callback_answered")
    assert answered["attempt"] == 2
    assert [d for d, _ in dials(fake_ari)] == [
        f"aig-callback-{interaction}-1",
        dial,
    ]  # each attempt dialled once
    assert len(of(daemon, "interaction.callback_missed")) == 1
