"""Contract tests of the Asterisk channel: a real daemon, and the fake ARI in Asterisk's place.

Each flow scripts callers and phones on the fake (which holds every request to ARI's published
contract) and asserts the journal afterwards: a call answered within the clock, a caller who
hangs up while queued, an offer nobody answers going to the next advisor, a call outside
opening hours hearing the closed message (and journaled as refused), a call at 20:00:00
refused and one at 19:59:59 queued, the event WebSocket dropped while calls come and go, then
resynchronised, and the daemon SIGKILLed with calls in progress, or while calls keep coming
in, then restarted. They are contract tests, not integration tests: Asterisk itself does not
run here.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.adapters.channels.asterisk.fake_ari import FakeAri, StasisFailed
from tests.adapters.channels.test_webhook import journaled
from tests.adapters.daemons import Daemon, write_config
from tests.adapters.redis_server import RedisServer

APP = "aiguillage"
PHONES = {"claire.martin": "PJSIP/1001", "julien.bernard": "PJSIP/1002"}
ALL_DAY = (
    '[calendar.hours]\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
    "opens = 00:00:00\ncloses = 23:59:59\nclosed_on_holidays = false\n"
)
REFERENCE_HOURS = (
    '[calendar.hours]\ndays = ["mon", "tue", "wed", "thu", "fri", "sat"]\n'
    "opens = 07:00:00\ncloses = 20:00:00\nclosed_on_holidays = true\n"
)
NEVER = (
    '[calendar.hours]\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
    "opens = 00:00:00\ncloses = 00:00:01\nclosed_on_holidays = false\n"
)


def asterisk_config(
    directory: Path, fake: FakeAri, *, hours: str = ALL_DAY, settings: str = "", tables: str = ""
) -> Path:
    """A configuration whose voice channel follows ``hours``, its offers ringing 3 s, with
    ``[adapters.asterisk]`` on the fake (``settings``: more of its keys; ``tables``: more of
    its sub-tables)."""
    endpoints = "".join(f'"{a}" = "{e}"\n' for a, e in PHONES.items())
    table = (
        f'\n[adapters.asterisk]\nari_url = "{fake.url}"\nusername = "{fake.username}"\n'
        f'password_env = "ARI_PASSWORD"\napp = "{APP}"\nmotive = "general"\n'
        'closed_sound = "sound:aiguillage-closed"\nmoh_class = "default"\n'
        f"{settings}"
        f'[adapters.asterisk.numbers]\n"3975" = "fares_passes"\n'
        f"[adapters.asterisk.endpoints]\n{endpoints}{tables}"
    )
    config = write_config(directory, table)
    text = config.read_text()
    start = text.index("[calendar.hours]")
    end = text.index("\n# ---", start)
    text = text[:start] + hours + text[end:]
    text = text.replace("\noffer_timeout_s = 15 ", "\noffer_timeout_s = 3 ", 1)
    config.write_text(text)
    return config


def asterisk_daemon(directory: Path, fake: FakeAri, **options: str) -> Daemon:
    """A daemon on the fake (see ``asterisk_config``), once its channel holds the application."""
    config = asterisk_config(directory, fake, **options)
    daemon = Daemon(directory, config, env={"ARI_PASSWORD": fake.password}).start()
    until("the channel connected to ARI", lambda: fake.connected(APP))
    return daemon


def until(what: str, check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
            if found:
                return found
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def available(daemon: Daemon, *advisors: str) -> None:
    with daemon.client() as admin:
        for advisor in advisors:
            done = admin.put(f"/v1/advisors/{advisor}/state", json={"state": "available"})
            assert done.status_code == 200, done.text


def events(daemon: Daemon) -> list[dict[str, Any]]:
    """The journal's events, through the API."""
    return [row["event"] for row in journaled(daemon)]


def of(daemon: Daemon, kind: str) -> list[dict[str, Any]]:
    return [e for e in events(daemon) if e["type"] == kind]


def arrived(daemon: Daemon, channel_id: str) -> dict[str, Any]:
    """The ``interaction.arrived`` of the call on ``channel_id`` (the journal keys external ids:
    the API shows them as given)."""

    def listed() -> list[int]:
        with daemon.client() as admin:
            page = admin.get("/v1/interactions", params={"channel": "voice"})
        rows = page.json()["interactions"] if page.status_code == 200 else []
        return [w["id"] for w in rows if w["external_id"] == channel_id]

    (interaction,) = until("the call is work", listed)
    (event,) = [e for e in of(daemon, "interaction.arrived") if e["interaction_id"] == interaction]
    return event


def test_a_call_answered_within_the_clock(fake_ari: FakeAri, run_daemon: Any) -> None:
    """Contract test: submitted, held with music, rung once, bridged on the pick-up, closed."""
    daemon = run_daemon(fake_ari)
    available(daemon, "claire.martin")
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
    work = arrived(daemon, caller)
    assert (work["channel"], work["source"], work["motive"]) == ("voice", "phone", "fares_passes")
    interaction = work["interaction_id"]
    with daemon.client() as admin:
        kept = admin.get(f"/v1/interactions/{interaction}/personal-data").json()
    assert kept["customer"]["phone"] == "0612345678"
    assert kept["dialled"] == "3975"
    # Answered, waiting in the holding bridge with music, the interaction's id on the channel.
    until(
        "the caller waits on hold",
        lambda: caller in fake_ari.bridges["aiguillage-holding"]["channels"],
    )
    assert fake_ari.channels[caller]["state"] == "Up"
    assert fake_ari.moh["aiguillage-holding"] == "default"
    assert fake_ari.variables[caller]["AIGUILLAGE_INTERACTION"] == str(interaction)

    (ringing,) = until("the advisor's phone rings", lambda: fake_ari.ringing("PJSIP/1001"))
    (offer,) = of(daemon, "offer.made")
    assert ringing == f"aig-offer-{offer['offer_id']}"
    assert fake_ari.answer("PJSIP/1001") == ringing
    bridge = f"aig-call-{interaction}"
    until(
        "caller and advisor are bridged",
        lambda: (
            sorted(fake_ari.bridges.get(bridge, {}).get("channels", []))
            == sorted([caller, ringing])
        ),
    )
    assert of(daemon, "offer.accepted")[0]["offer_id"] == offer["offer_id"]
    # The pick-up is the call's first response: within the 180 s clock.
    (responded,) = of(daemon, "interaction.responded")
    assert responded["interaction_id"] == interaction
    assert responded["within_sla"] is True
    assert responded["advisor_id"] == "claire.martin"
    assert caller not in fake_ari.bridges["aiguillage-holding"]["channels"]

    fake_ari.hang_up(caller)
    (closed,) = until("the call is closed", lambda: of(daemon, "interaction.closed"))
    assert closed["interaction_id"] == interaction
    assert closed["advisor_id"] == "claire.martin"
    until("the advisor's leg is hung up", lambda: ringing not in fake_ari.channels)
    until("the call's bridge is gone", lambda: bridge not in fake_ari.bridges)
    kinds = [e["type"] for e in events(daemon) if e.get("interaction_id") == interaction]
    assert kinds.index("interaction.arrived") < kinds.index("offer.made")
    assert (
        kinds.index("offer.made")
        < kinds.index("offer.accepted")
        < kinds.index("interaction.closed")
    )
    originated = [
        r
        for r in fake_ari.requests
        if r[0] == "POST" and r[1].startswith("/ari/channels/aig-offer-")
    ]
    assert len(originated) == 1  # rung once


def test_a_caller_hanging_up_while_queued_abandons(fake_ari: FakeAri, run_daemon: Any) -> None:
    """Contract test: a caller who hangs up on hold is an abandon, never a close."""
    daemon = run_daemon(fake_ari)
    caller = fake_ari.incoming_call(caller="0700000000", dialed="0800")
    work = arrived(daemon, caller)
    assert work["motive"] == "general"  # a number not mapped: the default motive
    until(
        "the caller waits on hold",
        lambda: caller in fake_ari.bridges["aiguillage-holding"]["channels"],
    )
    fake_ari.hang_up(caller)
    (abandoned,) = until("the call is abandoned", lambda: of(daemon, "interaction.abandoned"))
    assert abandoned["interaction_id"] == work["interaction_id"]
    assert of(daemon, "interaction.closed") == []


def test_an_unanswered_offer_goes_to_the_next_advisor(fake_ari: FakeAri, run_daemon: Any) -> None:
    """Contract test: a phone nobody answers stops ringing when its offer expires, and the
    next advisor's rings; the advisor hanging up closes the call."""
    daemon = run_daemon(fake_ari)
    available(daemon, *PHONES)
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
    work = arrived(daemon, caller)

    def rings() -> list[tuple[str, str]]:
        return [(e, c) for e in PHONES.values() for c in fake_ari.ringing(e)]

    ((first_phone, first),) = until("a phone rings", rings)
    (expired,) = until("the offer expires", lambda: of(daemon, "offer.expired"), timeout=15)
    assert first == f"aig-offer-{expired['offer_id']}"
    second_phone = next(e for e in PHONES.values() if e != first_phone)
    until("the next advisor's phone rings", lambda: fake_ari.ringing(second_phone))
    until("the first phone stopped ringing", lambda: first not in fake_ari.channels)
    second = fake_ari.answer(second_phone)
    until("caller and advisor are bridged", lambda: of(daemon, "offer.accepted"))
    (accepted,) = of(daemon, "offer.accepted")
    assert second == f"aig-offer-{accepted['offer_id']}"
    assert accepted["advisor_id"] != expired["advisor_id"]
    fake_ari.hang_up(second)  # the advisor ends the call
    (closed,) = until("the call is closed", lambda: of(daemon, "interaction.closed"))
    assert closed["interaction_id"] == work["interaction_id"]
    until("the caller's leg is hung up", lambda: caller not in fake_ari.channels)


def test_a_call_outside_opening_hours_hears_the_closed_message(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: refused by the engine (``closed``), the caller hears the closed message,
    then the call ends; no work is created, and the journal keeps the refusal."""
    daemon = run_daemon(fake_ari, hours=NEVER)
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
    until("the call ends", lambda: caller not in fake_ari.channels)
    assert fake_ari.events_of(caller) == [
        "StasisStart",
        "ChannelStateChange",
        "PlaybackStarted",
        "PlaybackFinished",
        "ChannelHangupRequest",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    (play,) = [r for r in fake_ari.requests if "/play" in r[1]]
    assert play[2]["media"] == "sound:aiguillage-closed"
    assert of(daemon, "interaction.arrived") == []
    (refused,) = of(daemon, "interaction.refused")
    assert (refused["channel"], refused["source"], refused["motive"], refused["reason"]) == (
        "voice",
        "phone",
        "fares_passes",
        "closed",
    )
    assert refused["external_id"] not in (caller, "")  # keyed, as an arrival's


def test_a_dropped_websocket_is_resynchronised(fake_ari: FakeAri, run_daemon: Any) -> None:
    """Contract test: ARI keeps no events for a dropped WebSocket; what happened meanwhile is
    found again from the lists of channels, nothing lost and nothing counted twice."""
    daemon = run_daemon(fake_ari)
    gone = fake_ari.incoming_call(caller="0611111111", dialed="3975")
    left_while_away = arrived(daemon, gone)
    stays = fake_ari.incoming_call(caller="0622222222", dialed="3975")
    staying = arrived(daemon, stays)
    holding = fake_ari.bridges
    until(
        "both wait on hold", lambda: {gone, stays} <= set(holding["aiguillage-holding"]["channels"])
    )
    # A call enters the application as the WebSocket breaks: its StasisStart is lost.
    unseen = fake_ari.incoming_call(caller="0633333333", dialed="3975", lost_in_flight=True)
    fake_ari.drop_websocket()
    # While no WebSocket is open: a caller hangs up, unheard; a new call cannot enter.
    fake_ari.hang_up(gone)
    with pytest.raises(StasisFailed):
        fake_ari.incoming_call(caller="0644444444", dialed="3975", app=APP)
    until("the channel reconnected", lambda: fake_ari.connected(APP))
    (abandoned,) = until(
        "the caller gone meanwhile abandoned", lambda: of(daemon, "interaction.abandoned")
    )
    assert abandoned["interaction_id"] == left_while_away["interaction_id"]
    came = arrived(daemon, unseen)
    until(
        "the unseen caller waits on hold",
        lambda: unseen in holding["aiguillage-holding"]["channels"],
    )
    assert fake_ari.variables[unseen]["AIGUILLAGE_INTERACTION"] == str(came["interaction_id"])
    # The caller who stayed is the same work, once; every call is work once.
    work = [e["interaction_id"] for e in of(daemon, "interaction.arrived")]
    ids = {left_while_away["interaction_id"], staying["interaction_id"], came["interaction_id"]}
    assert sorted(work) == sorted(ids)
    # And the calls are served as before the drop.
    available(daemon, "claire.martin")
    (ringing,) = until("a phone rings", lambda: fake_ari.ringing("PJSIP/1001"))
    assert ringing.startswith("aig-offer-")
    fake_ari.answer("PJSIP/1001")
    (accepted,) = until("a pick-up", lambda: of(daemon, "offer.accepted"))
    assert accepted["interaction_id"] in {staying["interaction_id"], came["interaction_id"]}


def test_a_daemon_killed_with_calls_in_progress_takes_them_up_again(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: SIGKILLed with one call in conversation and one queued, the daemon
    restarted abandons the caller who left meanwhile and leaves the conversation bridged."""
    daemon = run_daemon(fake_ari)
    available(daemon, "claire.martin")
    talking = fake_ari.incoming_call(caller="0611111111", dialed="3975")
    first = arrived(daemon, talking)
    advisor = until("the advisor's phone rings", lambda: fake_ari.ringing("PJSIP/1001"))[0]
    fake_ari.answer("PJSIP/1001")
    bridge = f"aig-call-{first['interaction_id']}"
    until(
        "caller and advisor are bridged",
        lambda: len(fake_ari.bridges.get(bridge, {}).get("channels", [])) == 2,
    )
    queued = fake_ari.incoming_call(caller="0622222222", dialed="3975")
    second = arrived(daemon, queued)
    until(
        "the second caller waits on hold",
        lambda: queued in fake_ari.bridges["aiguillage-holding"]["channels"],
    )

    daemon.kill()
    until("Asterisk sees the application gone", lambda: not fake_ari.connected(APP))
    fake_ari.hang_up(queued)  # while no daemon listens: nobody hears of it
    daemon = run_daemon(fake_ari)

    (abandoned,) = until(
        "the caller gone meanwhile abandoned", lambda: of(daemon, "interaction.abandoned")
    )
    assert abandoned["interaction_id"] == second["interaction_id"]
    # The call in conversation is left as it is: still bridged, nobody rung again.
    assert sorted(fake_ari.bridges[bridge]["channels"]) == sorted([talking, advisor])
    assert [c for e in PHONES.values() for c in fake_ari.ringing(e)] == []
    fake_ari.hang_up(advisor)
    (closed,) = until("the call is closed", lambda: of(daemon, "interaction.closed"))
    assert (closed["interaction_id"], closed["advisor_id"]) == (
        first["interaction_id"],
        "claire.martin",
    )
    until("the caller's leg is hung up", lambda: talking not in fake_ari.channels)
    assert len(of(daemon, "interaction.arrived")) == 2  # every call once


def test_only_the_leader_holds_the_application_and_a_standby_takes_the_calls_over(
    tmp_path: Path, fake_ari: FakeAri, redis_server: RedisServer
) -> None:
    """Contract test: a standby never connects (a second connection would take the application
    over); when the leader dies, calls fail over to the dialplan's fallback until the standby
    leads, then it holds the application and serves the calls the leader left queued."""
    config = asterisk_config(tmp_path, fake_ari)
    env = {"ARI_PASSWORD": fake_ari.password}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    leader = Daemon(tmp_path / "a", config, store=redis_server.url, env=env).start()
    standby = Daemon(tmp_path / "b", config, store=redis_server.url, env=env, standby=True)
    try:
        until("the leader holds the application", lambda: fake_ari.connected(APP))
        standby.start(ready=False)
        until("the standby waits", lambda: standby.readyz().json().get("role") == "standby")
        queued = fake_ari.incoming_call(caller="0611111111", dialed="3975")
        work = arrived(leader, queued)
        until(
            "the caller waits on hold",
            lambda: queued in fake_ari.bridges["aiguillage-holding"]["channels"],
        )
        sockets = [r for r in fake_ari.requests if r[1] == "/ari/events"]
        assert len(sockets) == 1  # the standby never connected
        assert [e for e in fake_ari.sent if e["type"] == "ApplicationReplaced"] == []

        leader.kill()
        until("the application is inactive", lambda: not fake_ari.connected(APP))
        with pytest.raises(StasisFailed):  # the dialplan's fallback takes this one
            fake_ari.incoming_call(caller="0622222222", dialed="3975", app=APP)
        until("the standby leads", lambda: standby.readyz().status_code == 200, timeout=60)
        until("the standby holds the application", lambda: fake_ari.connected(APP))
        available(standby, "claire.martin")
        (ringing,) = until("a phone rings", lambda: fake_ari.ringing("PJSIP/1001"))
        fake_ari.answer("PJSIP/1001")
        (accepted,) = until("the pick-up", lambda: of(standby, "offer.accepted"))
        assert accepted["interaction_id"] == work["interaction_id"]
        assert ringing == f"aig-offer-{accepted['offer_id']}"
        assert len(of(standby, "interaction.arrived")) == 1
    finally:
        standby.kill()
        leader.kill()


def test_a_call_at_2000_is_closed_and_one_at_195959_is_queued(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test, on the reference opening hours (Monday to Saturday, 07:00 to 20:00, Paris):
    a call whose channel Asterisk created at 20:00:00 on a Thursday is refused ``closed`` (the
    closed message, then the end of the call); one created a second earlier is queued."""
    daemon = run_daemon(fake_ari, hours=REFERENCE_HOURS)
    paris = ZoneInfo("Europe/Paris")
    thursday = datetime(2025, 12, 4, tzinfo=paris)
    just_before = thursday.replace(hour=19, minute=59, second=59)
    last = fake_ari.incoming_call(caller="0611111111", dialed="3975", created=just_before)
    late = fake_ari.incoming_call(
        caller="0622222222", dialed="3975", created=thursday.replace(hour=20)
    )
    work = arrived(daemon, last)
    until(
        "the last caller waits on hold",
        lambda: last in fake_ari.bridges["aiguillage-holding"]["channels"],
    )
    until("the late call ends", lambda: late not in fake_ari.channels)
    assert "sound:aiguillage-closed" in [
        r[2].get("media") for r in fake_ari.requests if r[1].endswith(f"/play/aig-closed-{late}")
    ]
    (refused,) = of(daemon, "interaction.refused")
    assert refused["reason"] == "closed"
    assert refused["received_at"].startswith("2025-12-04T20:00:00")
    assert work["received_at"].startswith("2025-12-04T19:59:59")
    assert [e["interaction_id"] for e in of(daemon, "interaction.arrived")] == [
        work["interaction_id"]
    ]


def test_calls_coming_in_while_the_daemon_is_killed_and_restarted_are_each_work_once(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: calls keep coming in (one every 50 ms) while the daemon is SIGKILLed and
    started again. Each call that entered the application (some while the dead daemon's
    WebSocket was not yet seen closed: their StasisStart lost) is work exactly once and waits
    on hold; each that came while no daemon held the application failed over to the
    dialplan's fallback. None lost, none doubled."""
    daemon = run_daemon(fake_ari)
    entered: list[str] = []
    stop = threading.Event()

    def calls() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            with contextlib.suppress(StasisFailed):
                entered.append(
                    fake_ari.incoming_call(caller=f"06{number:08d}", dialed="3975", app=APP)
                )
            time.sleep(0.05)

    caller = threading.Thread(target=calls)
    caller.start()
    try:
        until("a few calls are work", lambda: len(entered) >= 10)
        daemon.kill()
        before = len(entered)
        daemon = run_daemon(fake_ari)
        until("more calls came in since", lambda: len(entered) >= before + 10)
    finally:
        stop.set()
        caller.join()
    assert fake_ari.failed, "no call came while the application was inactive"

    def work() -> dict[str, int]:
        with daemon.client() as admin:
            page = admin.get("/v1/interactions", params={"channel": "voice", "limit": 1000})
        rows = page.json()["interactions"] if page.status_code == 200 else []
        return {w["external_id"]: w["id"] for w in rows}

    until("every call is work", lambda: set(work()) >= set(entered), timeout=60)
    assert set(work()) == set(entered)
    arrivals = [e["interaction_id"] for e in of(daemon, "interaction.arrived")]
    assert sorted(arrivals) == sorted(work().values())  # each once
    until(
        "every call waits on hold",
        lambda: set(fake_ari.bridges["aiguillage-holding"]["channels"]) == set(entered),
        timeout=60,
    )


def test_calls_past_what_the_state_holds_go_to_the_dialplans_fallback(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: the calls in progress are kept in the journal's 64 KiB of channel state.
    1,200 calls at once: some 900 are taken and kept (a queued call is two ids), the others
    are sent on to the dialplan's ``fallback`` label (``continue``), none both, none lost; and
    the state held them all: the daemon killed and restarted takes every one up again."""
    daemon = run_daemon(fake_ari)
    callers = [fake_ari.incoming_call(caller=f"06{n:08d}", dialed="3975") for n in range(1200)]

    def holding() -> set[str]:
        return set(fake_ari.bridges.get("aiguillage-holding", {}).get("channels", []))

    until(
        "every call is held or sent on",
        lambda: holding() | set(fake_ari.continued) == set(callers),
        timeout=120,
    )
    held, sent_on = holding(), set(fake_ari.continued)
    assert not held & sent_on
    assert len(held) >= 850, len(held)  # some 520 when each call kept every field
    assert sent_on, "the state never filled"
    assert {q["label"] for q in fake_ari.continued.values()} == {"fallback"}
    arrivals = of(daemon, "interaction.arrived")
    assert len(arrivals) == len(held)  # the calls sent on are no work here

    daemon.kill()
    until("Asterisk sees the application gone", lambda: not fake_ari.connected(APP))
    left = sorted(held)[0]
    fake_ari.hang_up(left)  # unheard: found again from the state, and abandoned
    daemon = run_daemon(fake_ari)
    (abandoned,) = until(
        "the caller gone is abandoned", lambda: of(daemon, "interaction.abandoned")
    )
    assert abandoned["interaction_id"] == int(fake_ari.variables[left]["AIGUILLAGE_INTERACTION"])
    assert len(of(daemon, "interaction.arrived")) == len(held)  # none doubled
    until("the others wait on hold still", lambda: holding() == held - {left})
