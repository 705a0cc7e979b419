"""Contract tests of the Asterisk channel's telephone features: transfers from the phone.

A real daemon, the fake ARI in Asterisk's place (every request held to ARI's published
contract), and the journal asserted afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.adapters.channels.asterisk.fake_ari import FakeAri
from tests.adapters.channels.asterisk.test_asterisk_flow import (
    APP,
    arrived,
    available,
    events,
    of,
    until,
)
from tests.adapters.daemons import ERASURE, Daemon

HOLDING = "aiguillage-holding"
RATP = "PJSIP/+33142000000@trunk"
PARTIES = f'[adapters.asterisk.parties]\n"ratp" = "{RATP}"\n'


def picked_up(fake: FakeAri, daemon: Daemon, caller: str, endpoint: str) -> tuple[int, str]:
    """Ring ``endpoint`` for the call on ``caller`` and answer it: (interaction, advisor leg)."""
    interaction = arrived(daemon, caller)["interaction_id"]
    until(f"{endpoint} rings", lambda: fake.ringing(endpoint))
    advisor = fake.answer(endpoint)
    bridge = f"aig-call-{interaction}"
    until(
        "caller and advisor are bridged",
        lambda: (
            sorted(fake.bridges.get(bridge, {}).get("channels", [])) == sorted([caller, advisor])
        ),
    )
    return interaction, advisor


def on_hold(fake: FakeAri, caller: str) -> bool:
    return caller in fake.bridges.get(HOLDING, {}).get("channels", [])


def transfer(daemon: Daemon, interaction: int, path: str, body: dict[str, Any]) -> None:
    with daemon.client() as admin:
        done = admin.post(f"/v1/interactions/{interaction}/{path}", json=body)
    assert done.status_code == 200, done.text


def test_a_call_transferred_to_an_advisor_then_to_a_group_rings_again(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: each transfer puts the caller back on hold (the advisor's leg hung up,
    the call's bridge gone), the same interaction and clock; the next offer rings the next
    phone, and its pick-up bridges the caller again."""
    daemon = run_daemon(fake_ari)
    available(daemon, "claire.martin")
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
    interaction, claire = picked_up(fake_ari, daemon, caller, "PJSIP/1001")

    available(daemon, "julien.bernard")
    transfer(daemon, interaction, "transfer", {"to_advisor": "julien.bernard"})
    until("the caller is back on hold", lambda: on_hold(fake_ari, caller))
    until("claire's leg is hung up", lambda: claire not in fake_ari.channels)
    until("the call's bridge is gone", lambda: f"aig-call-{interaction}" not in fake_ari.bridges)
    assert caller in fake_ari.channels
    _, julien = picked_up(fake_ari, daemon, caller, "PJSIP/1002")
    assert not on_hold(fake_ari, caller)

    # To a skill group: the motive's group; claire takes it when ready again.
    available(daemon, "claire.martin")
    transfer(daemon, interaction, "transfer", {"motive": "general"})
    until("the caller is back on hold", lambda: on_hold(fake_ari, caller))
    until("julien's leg is hung up", lambda: julien not in fake_ari.channels)
    phones = ("PJSIP/1001", "PJSIP/1002")
    rung = until("a phone rings", lambda: [e for e in phones if fake_ari.ringing(e)])
    last = fake_ari.answer(rung[0])
    until(
        "caller and advisor are bridged",
        lambda: (
            sorted(fake_ari.bridges.get(f"aig-call-{interaction}", {}).get("channels", []))
            == sorted([caller, last])
        ),
    )
    fake_ari.hang_up(caller)
    (closed,) = until("the call is closed", lambda: of(daemon, "interaction.closed"))

    journal = [e for e in events(daemon) if e.get("interaction_id") == interaction]
    kinds = [e["type"] for e in journal]
    assert kinds.count("interaction.arrived") == 1
    assert kinds.count("interaction.transferred") == 2
    assert kinds.count("offer.accepted") == 3
    assert kinds.count("interaction.responded") == 1  # the clock stopped at the first pick-up
    assert "interaction.abandoned" not in kinds
    first, second = [e for e in journal if e["type"] == "interaction.transferred"]
    assert (first["advisor_id"], first["to_advisor"]) == ("claire.martin", "julien.bernard")
    assert (second["advisor_id"], second["motive"]) == ("julien.bernard", "general")
    accepted = [e["advisor_id"] for e in journal if e["type"] == "offer.accepted"]
    assert accepted[:2] == ["claire.martin", "julien.bernard"]
    assert closed["advisor_id"] == accepted[2]
    assert kinds.index("interaction.transferred") < kinds.index("interaction.closed")


def test_a_call_transferred_out_is_put_through_to_the_party(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: the party the advisor names is dialled at its configured number, the
    caller on hold meanwhile, then bridged to it; when the party hangs up, the caller's leg
    ends; the interaction is transferred out, never closed nor abandoned."""
    daemon = run_daemon(fake_ari, tables=PARTIES)
    available(daemon, "claire.martin")
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
    interaction, claire = picked_up(fake_ari, daemon, caller, "PJSIP/1001")

    transfer(daemon, interaction, "transfer-out", {"party": "ratp"})
    (party,) = until("the party's number rings", lambda: fake_ari.ringing(RATP))
    assert party == f"aig-out-{interaction}"
    assert on_hold(fake_ari, caller)  # music while it rings
    until("claire's leg is hung up", lambda: claire not in fake_ari.channels)
    (originated,) = [r for r in fake_ari.requests if r[1] == f"/ari/channels/{party}"]
    assert originated[2]["endpoint"] == RATP
    assert originated[2]["timeout"] == "45"
    fake_ari.answer(RATP)
    bridge = f"aig-call-{interaction}"
    until(
        "caller and party are bridged",
        lambda: sorted(fake_ari.bridges.get(bridge, {}).get("channels", [])) == [caller, party],
    )
    fake_ari.hang_up(party)
    until("the caller's leg is hung up", lambda: caller not in fake_ari.channels)
    until("the bridge is gone", lambda: bridge not in fake_ari.bridges)

    kinds = [e["type"] for e in events(daemon) if e.get("interaction_id") == interaction]
    assert kinds.count("interaction.transferred_out") == 1
    assert "interaction.closed" not in kinds
    assert "interaction.abandoned" not in kinds
    with daemon.client() as admin:
        kept = admin.get(f"/v1/interactions/{interaction}/personal-data").json()
    assert kept["parties"] == ["ratp"]


def test_a_call_transferred_out_to_a_party_with_no_number_hears_the_message(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: a party with no number, and one that does not answer: the caller hears
    ``party_unavailable_sound``, then the call ends; each interaction is transferred out."""
    daemon = run_daemon(
        fake_ari,
        settings='party_unavailable_sound = "sound:custom/orientation"\n',
        tables=PARTIES,
    )
    available(daemon, "claire.martin")
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
    interaction, _ = picked_up(fake_ari, daemon, caller, "PJSIP/1001")
    transfer(daemon, interaction, "transfer-out", {"party": "prefecture"})
    until("the call ends", lambda: caller not in fake_ari.channels)
    plays = [r for r in fake_ari.requests if "/play/" in r[1] and caller in r[1]]
    assert [p[2]["media"] for p in plays] == ["sound:custom/orientation"]
    after = fake_ari.events_of(caller)
    assert after.index("PlaybackFinished") < after.index("ChannelHangupRequest")
    assert fake_ari.ringing(RATP) == []

    available(daemon, "claire.martin")
    again = fake_ari.incoming_call(caller="0699999999", dialed="3975")
    second, _ = picked_up(fake_ari, daemon, again, "PJSIP/1001")
    transfer(daemon, second, "transfer-out", {"party": "ratp"})
    until("the party's number rings", lambda: fake_ari.ringing(RATP))
    fake_ari.no_answer(RATP)
    until("the call ends", lambda: again not in fake_ari.channels)
    plays = [r for r in fake_ari.requests if "/play/" in r[1] and again in r[1]]
    assert [p[2]["media"] for p in plays] == ["sound:custom/orientation"]

    out = [e["interaction_id"] for e in of(daemon, "interaction.transferred_out")]
    assert sorted(out) == sorted([interaction, second])
    assert of(daemon, "interaction.closed") == []
    assert of(daemon, "interaction.abandoned") == []


HEADERS = 'headers = ["X-Motive", "X-Context", "X-Dossier"]\nmotive_header = "x-motive"\n'


def test_the_switchboards_sip_headers_are_kept_and_name_the_motive(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: each configured header the call brings is read from its channel and
    kept in the erasable store as its ``context``; the motive header names the motive (over
    the dialled number's); a header missing, or naming no motive, is passed over."""
    daemon = run_daemon(fake_ari, settings=HEADERS)
    context = {"X-Motive": "refunds", "X-Context": "Mme Vasseur, remboursement Navigo"}
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975", headers=context)
    work = arrived(daemon, caller)
    assert work["motive"] == "refunds"  # not 3975's fares_passes
    with daemon.client() as admin:
        kept = admin.get(f"/v1/interactions/{work['interaction_id']}/personal-data").json()
    assert kept["context"] == context  # X-Dossier was not in the INVITE
    assert "Vasseur" not in str(events(daemon))
    reads = [r[2]["variable"] for r in fake_ari.requests if r[1].endswith(f"{caller}/variable")]
    assert reads[:3] == [
        "PJSIP_HEADER(read,X-Motive)",
        "PJSIP_HEADER(read,X-Context)",
        "PJSIP_HEADER(read,X-Dossier)",
    ]

    unknown = fake_ari.incoming_call(dialed="3975", headers={"x-motive": "nothing-of-ours"})
    assert arrived(daemon, unknown)["motive"] == "fares_passes"
    plain = fake_ari.incoming_call(dialed="0800")
    second = arrived(daemon, plain)
    assert second["motive"] == "general"
    with daemon.client() as admin:
        kept = admin.get(f"/v1/interactions/{second['interaction_id']}/personal-data").json()
    assert "context" not in kept


MENU = (
    '[adapters.asterisk.menu]\nprompt = "sound:custom/menu"\ntimeout_s = 1\n'
    'default = "general"\nchoices = { "1" = "refunds", "2" = "lost_property" }\n'
)


def test_the_key_pressed_in_the_menu_is_the_motive_and_the_call_waits_for_it(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: a call no header nor dialled number gives a motive is answered and hears
    the prompt; it is submitted only once a key of the menu (a key that is not is passed
    over) or the time-out chose; the key cuts the prompt short. A dialled number with a motive
    skips the menu; a caller hanging up in it is no work."""
    fake_ari.playback_s = 3.0  # a prompt long enough to press during it
    daemon = run_daemon(fake_ari, tables=MENU)
    caller = fake_ari.incoming_call(caller="0612345678", dialed="0800")
    until("the prompt plays", lambda: "PlaybackStarted" in fake_ari.events_of(caller))
    with daemon.client() as admin:
        assert (
            admin.get("/v1/interactions", params={"channel": "voice"}).json()["interactions"] == []
        )  # not submitted while it chooses
    fake_ari.press(caller, "9")  # not in the menu
    fake_ari.press(caller, "2")
    work = arrived(daemon, caller)
    assert work["motive"] == "lost_property"
    (prompt,) = [r for r in fake_ari.requests if r[1].endswith(f"/play/aig-menu-{caller}")]
    assert prompt[2]["media"] == "sound:custom/menu"
    assert fake_ari.stopped == [f"aig-menu-{caller}"]
    assert fake_ari.variables[caller]["AIGUILLAGE_MOTIVE"] == "lost_property"
    until("the caller waits on hold", lambda: on_hold(fake_ari, caller))

    fake_ari.playback_s = 0.2
    silent = fake_ari.incoming_call(caller="0622222222", dialed="0800")
    assert arrived(daemon, silent)["motive"] == "general"  # the time-out's default
    direct = fake_ari.incoming_call(caller="0633333333", dialed="3975")
    assert arrived(daemon, direct)["motive"] == "fares_passes"
    assert [r for r in fake_ari.requests if r[1].endswith(f"aig-menu-{direct}")] == []
    gone = fake_ari.incoming_call(caller="0644444444", dialed="0800")
    until("the prompt plays", lambda: "PlaybackStarted" in fake_ari.events_of(gone))
    fake_ari.hang_up(gone)

    time.sleep(2)  # longer than the menu's time-out: nothing more comes of the call gone
    motives = {e["interaction_id"]: e["motive"] for e in of(daemon, "interaction.arrived")}
    assert sorted(motives.values()) == ["fares_passes", "general", "lost_property"]
    assert of(daemon, "interaction.refused") == []


def test_a_recorded_call_is_announced_then_deleted_by_erasure_and_by_retention(
    fake_ari: FakeAri, run_daemon: Any
) -> None:
    """Contract test: the caller hears that the call is recorded before it is bridged; the
    call's bridge is recorded under the interaction's id and day; erasing the interaction's
    personal data deletes it, and recordings older than the retention go at the channel's
    start (the daily pass), others' files untouched."""
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    recent = f"aig-rec-998-{today - timedelta(days=182):%Y%m%d}"
    old = f"aig-rec-999-{today - timedelta(days=184):%Y%m%d}"
    fake_ari.stored.update({recent: "wav", old: "wav", "voicemail-1001": "wav"})
    daemon = run_daemon(
        fake_ari, settings='record = true\nrecord_announcement = "sound:custom/enregistre"\n'
    )
    until("the old recording is deleted", lambda: old not in fake_ari.stored)
    assert set(fake_ari.stored) == {recent, "voicemail-1001"}

    available(daemon, "claire.martin")
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
    interaction, advisor = picked_up(fake_ari, daemon, caller, "PJSIP/1001")
    heard = fake_ari.events_of(caller)
    assert heard.index("PlaybackFinished") < heard.index("ChannelEnteredBridge")
    (notice,) = [r for r in fake_ari.requests if r[1].endswith(f"/play/aig-notice-{caller}")]
    assert notice[2]["media"] == "sound:custom/enregistre"
    bridge = f"aig-call-{interaction}"
    name = f"aig-rec-{interaction}-{today:%Y%m%d}"
    until("the call is recorded", lambda: fake_ari.recording.get(bridge) == name)
    (record,) = [r for r in fake_ari.requests if r[1] == f"/ari/bridges/{bridge}/record"]
    assert (record[2]["name"], record[2]["format"]) == (name, "wav")

    fake_ari.hang_up(advisor)
    until("the call is closed", lambda: of(daemon, "interaction.closed"))
    until("the recording is over", lambda: bridge not in fake_ari.recording)
    assert name in fake_ari.stored
    assert [e["type"] for e in fake_ari.sent if e["type"].startswith("Recording")] == [
        "RecordingStarted",
        "RecordingFinished",
    ]
    with daemon.client() as admin:
        erased = admin.delete(f"/v1/interactions/{interaction}/personal-data", params=ERASURE)
    assert erased.status_code == 200, erased.text
    until("the recording is deleted", lambda: name not in fake_ari.stored)
    assert set(fake_ari.stored) == {recent, "voicemail-1001"}
    kinds = [e["type"] for e in events(daemon) if e.get("interaction_id") == interaction]
    assert kinds.count("offer.accepted") == kinds.count("interaction.closed") == 1


def test_a_recording_erased_while_the_channel_was_not_running_is_deleted_when_it_starts(
    fake_ari: FakeAri, run_daemon: Any, tmp_path: Path
) -> None:
    """Contract test: ``aiguillage erase`` on a stopped daemon's store reaches no listener; the
    channel's pass at its start finds the erased interaction's recording and deletes it."""
    settings = "record = true\n"
    daemon = run_daemon(fake_ari, settings=settings)
    fake_ari.stored["voicemail-1001"] = "wav"
    available(daemon, "claire.martin")
    caller = fake_ari.incoming_call(caller="0612345678", dialed="3975")
    interaction, advisor = picked_up(fake_ari, daemon, caller, "PJSIP/1001")
    name = f"aig-rec-{interaction}-{datetime.now(ZoneInfo('Europe/Paris')):%Y%m%d}"
    until("the call is recorded", lambda: fake_ari.recording.get(f"aig-call-{interaction}"))
    fake_ari.hang_up(advisor)
    until("the call is closed", lambda: of(daemon, "interaction.closed"))
    until("the recording is over", lambda: name in fake_ari.stored)
    daemon.kill()
    until("Asterisk sees the application gone", lambda: not fake_ari.connected(APP))
    erased = subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "erase", str(interaction),
         "--reason", "subject_request", "--config", str(daemon.config), "--store", f"sqlite:///{daemon.journal}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert erased.returncode == 0, erased.stderr
    assert name in fake_ari.stored  # nobody heard it
    run_daemon(fake_ari, settings=settings)
    until("the recording is deleted", lambda: name not in fake_ari.stored)
    assert set(fake_ari.stored) == {"voicemail-1001"}
