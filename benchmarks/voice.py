"""300 calls through the Asterisk channel, against the fake ARI: ringing latency, resynchronisation.

Asterisk does not run here: the fake of the contract tests stands in its place
(``tests/adapters/channels/asterisk/fake_ari.py``: ARI's routes and event WebSocket on loopback,
every request held to Asterisk's published Swagger, which ``AIGUILLAGE_CONTRACTS`` or
``shared/contracts`` beside the clone must hold). A real daemon (``aiguillage serve``, a fresh
SQLite journal in a temporary directory) runs the reference configuration with ``--advisors``
voice advisors added to its roster, each with its phone (``PJSIP/1001``...), voice open all day,
no wrap-up (a call's end frees its advisor at once) and offers ringing up to 60 s.

(1) Ringing latency. ``--calls`` calls enter the Stasis application while every advisor is
    offline, and wait on hold. The advisors then become available one by one
    (``PUT /v1/advisors/{id}/state``); from then on each phone that rings is answered, and as
    soon as caller and advisor are bridged the advisor hangs up, which frees it for the next
    call. Measured for each offer: from the advisor becoming free (just before its ``PUT``, or
    just before the fake sends the hang-up's events) to the fake receiving the originate
    (``POST /ari/channels/aig-offer-N``), one clock on both ends. Aim: p99 < 50 ms. Every call
    must be rung exactly once. Two rounds of ``--calls`` calls each: "one by one", one advisor
    freed at a time, the next once the previous call is bridged, so that each offer is timed
    alone (the aim's case: a call centre frees an advisor every few seconds at most); then
    "all at once" (unless ``--one-by-one-only``), every advisor hanging up the moment its call
    is bridged, so that the daemon serves as fast as it can and each latency includes the
    queueing behind the other calls' steps. Each latency is split at the engine's decision
    (``offer.made``'s ``at`` in the journal): the engine's share (the ARI event read, the
    command, the decision) and the channel's (from the decision to the originate request).
(2) Resynchronisation. ``--calls`` new calls: the first ``--advisors`` in conversation, the rest
    on hold, ``--unseen`` of them entering as the WebSocket breaks (their ``StasisStart`` lost).
    The fake drops the event WebSocket; while it is down ``--gone`` queued callers and
    ``--ended`` conversations hang up, unheard. Measured from the drop: the channel's
    reconnection, its reading of the lists (``GET /ari/channels``, ``/ari/bridges``), and the
    instant the last call was reconciled: every unseen call held (its ``addChannel``), every gone
    caller abandoned and every ended conversation closed (the daemon's hang-up or bridge removal
    after the engine's command). Then the engine is read back: each call one interaction, none
    lost, none doubled, each in the status its channel says.

    python benchmarks/voice.py [--calls 300] [--advisors 30] [--unseen 10] [--gone 20]
        [--ended 5] [--one-by-one-only] [--keep]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import machine, pressure, quantiles  # noqa: E402

from aiguillage.adapters.cli.simulate import deployment_of  # noqa: E402
from aiguillage.adapters.config.settings import load_config  # noqa: E402
from aiguillage.simulations.run import simulate  # noqa: E402
from tests.adapters.channels.asterisk.fake_ari import FakeAri  # noqa: E402
from tests.adapters.daemons import SUPERVISOR, Daemon, write_config  # noqa: E402

APP = "aiguillage"
HOLDING = "aiguillage-holding"
OFFER = "/ari/channels/aig-offer-"
AIM_P99_S = 0.050
SKILLS = "{ general = 3, fares_passes = 3, disruptions = 3, lost_property = 3 }"
ALL_DAY = (
    '[calendar.hours]\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
    "opens = 00:00:00\ncloses = 23:59:59\nclosed_on_holidays = false\n"
)


def advisor_id(n: int) -> str:
    return f"voice.{n + 1:03d}"


def endpoint(n: int) -> str:
    return f"PJSIP/{1001 + n}"


def configure(directory: Path, fake: FakeAri, advisors: int) -> Path:
    """The reference configuration, ``advisors`` voice advisors with phones added to its roster,
    voice open all day with no wrap-up, ``[adapters.asterisk]`` on the fake."""
    phones = "".join(f'"{advisor_id(n)}" = "{endpoint(n)}"\n' for n in range(advisors))
    table = (
        f'\n[adapters.asterisk]\nari_url = "{fake.url}"\nusername = "{fake.username}"\n'
        f'password_env = "ARI_PASSWORD"\napp = "{APP}"\nmotive = "general"\n'
        'closed_sound = "sound:aiguillage-closed"\nmoh_class = "default"\n'
        '[adapters.asterisk.numbers]\n"3975" = "fares_passes"\n'
        f"[adapters.asterisk.endpoints]\n{phones}"
    )
    path = write_config(directory, table)
    text = path.read_text()
    start = text.index("[calendar.hours]")
    text = text[:start] + ALL_DAY + text[text.index("\n# ---", start) :]
    roster = "".join(
        f'[[advisors]]\nid = "{advisor_id(n)}"\nname = "Conseiller {n + 1}"\n'
        f'languages = ["fr", "en"]\nskills = {SKILLS}\n'
        "capacity = { voice = 1, written = 0, social = 0 }\n\n"
        for n in range(advisors)
    )
    text = text.replace("# --- daemon ---", roster + "# --- daemon ---", 1)
    for old, new in (
        ("\noffer_timeout_s = 15 ", "\noffer_timeout_s = 60 "),
        ("\nwrap_up_s = 30 ", "\nwrap_up_s = 0 "),
    ):
        if old not in text:
            raise SystemExit(
                f"config.toml: no {old.strip()!r} for voice; this script needs updating"
            )
        text = text.replace(old, new, 1)
    path.write_text(text)
    return path


def until(what: str, check: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting until {what}")
        time.sleep(0.005)


def holding(fake: FakeAri) -> set[str]:
    with fake._lock:  # the fake's server thread changes its bridges meanwhile
        return set(fake.bridges.get(HOLDING, {}).get("channels", []))


def bridged(fake: FakeAri, channel_id: str) -> str | None:
    """The call bridge where ``channel_id`` talks to someone, if any."""
    with fake._lock:
        for bridge_id, bridge in fake.bridges.items():
            if bridge_id.startswith("aig-call-") and channel_id in bridge["channels"]:
                return bridge_id if len(bridge["channels"]) == 2 else None
    return None


def requests_since(fake: FakeAri, start: int) -> list[tuple[float, str, str, dict[str, str]]]:
    """``(received at, method, path, query)`` of the requests the fake received from ``start``."""
    count = len(fake.requests)
    return [(fake.received_at[i], *fake.requests[i]) for i in range(start, count)]


def available(admin: httpx.Client, advisor: str, state: str = "available") -> None:
    done = admin.put(f"/v1/advisors/{advisor}/state", json={"state": state})
    if done.status_code != 200:
        raise SystemExit(f"PUT state of {advisor}: {done.status_code} {done.text}")


def queue_calls(fake: FakeAri, count: int, first: int) -> tuple[list[str], float]:
    """``count`` calls entering the application; their channels, and the seconds until all wait
    on hold."""
    started = time.time()
    calls = [fake.incoming_call(caller=f"06{first + n:08d}", dialed="3975") for n in range(count)]
    until("the calls wait on hold", lambda: set(calls) <= holding(fake))
    return calls, time.time() - started


def ringing_latency(
    args: argparse.Namespace,
    fake: FakeAri,
    daemon: Daemon,
    *,
    serial: bool,
    first: int,
) -> dict[str, Any]:
    """Queue the calls, then serve them all (see the module docstring); the figures.

    ``serial``: one advisor becomes free at a time, the next only once the previous one's call
    is bridged, so that each offer is timed alone. Otherwise every advisor hangs up as soon as
    its call is bridged: the daemon serves as fast as it can, and the latency includes the
    queueing behind the other calls' steps.
    """
    phones = {endpoint(n): advisor_id(n) for n in range(args.advisors)}
    with daemon.client() as admin:
        for advisor in phones.values():
            available(admin, advisor, "offline")
    calls, held_s = queue_calls(fake, args.calls, first)
    free_at: dict[str, tuple[float, str]] = {}
    samples: dict[str, list[float]] = {"state": [], "close": []}
    ringing: dict[str, str] = {}  # phone -> its answered channel, until bridged
    talking: list[tuple[str, str]] = []  # (phone, channel) bridged, oldest first
    offline = list(phones)
    originated: Counter[str] = Counter()
    timed: list[tuple[int, float, float]] = []  # (offer id, freed at, originate received at)
    bridged_calls = 0
    seen = len(fake.requests)
    started = time.time()
    with daemon.client() as admin:

        def free_one() -> None:
            if offline:
                phone = offline.pop(0)
                free_at[phone] = (time.time(), "state")
                available(admin, phones[phone])
            elif talking:
                phone, channel_id = talking.pop(0)
                if bridged_calls < len(calls):
                    free_at[phone] = (time.time(), "close")
                fake.hang_up(channel_id)  # the advisor ends the call: free again

        if not serial:
            while offline:
                free_one()
        while bridged_calls < len(calls) or talking:
            if time.time() - started > 300:
                raise SystemExit(f"only {bridged_calls} of {len(calls)} calls bridged in 300 s")
            news = requests_since(fake, seen)
            seen += len(news)
            for at, method, path, query in news:
                if method == "POST" and path.startswith(OFFER):
                    originated[path] += 1
                    if query["endpoint"] in free_at:
                        freed, how = free_at.pop(query["endpoint"])
                        samples[how].append(at - freed)
                        timed.append((int(path.removeprefix(OFFER)), freed, at))
            for phone in phones:
                if phone not in ringing and fake.ringing(phone):
                    ringing[phone] = fake.answer(phone)
            for phone, channel_id in list(ringing.items()):
                if bridged(fake, channel_id):
                    del ringing[phone]
                    talking.append((phone, channel_id))
                    bridged_calls += 1
            if not serial:
                while talking:
                    free_one()
            elif not free_at and not ringing and (offline or talking):
                free_one()
            time.sleep(0.001)
    elapsed = time.time() - started
    until("every caller's leg is hung up", lambda: not set(calls) & set(fake.channels))
    decided = {
        e["event"]["offer_id"]: datetime.fromisoformat(e["event"]["at"]).timestamp()
        for e in journal(daemon)
        if e["event"]["type"] == "offer.made"
    }
    return {
        "queued": f"{len(calls)} calls entered and waited on hold in {held_s:.2f} s",
        "all": quantiles(samples["state"] + samples["close"]),
        "from PUT state": quantiles(samples["state"]),
        "from the hang-up that freed the advisor": quantiles(samples["close"]),
        "of which free -> offer.made's at (ARI event, engine)": quantiles(
            [decided[o] - freed for o, freed, _ in timed]
        ),
        "of which offer.made's at -> originate (the channel)": quantiles(
            [at - decided[o] for o, _, at in timed]
        ),
        "served": f"{bridged_calls} calls bridged in {elapsed:.1f} s",
        "rung twice": sum(1 for c in originated.values() if c > 1),
        "originates": sum(originated.values()),
    }


def resynchronisation(
    args: argparse.Namespace, fake: FakeAri, daemon: Daemon, report: dict[str, Any]
) -> None:
    # The advisors are all available again: the first calls are offered at once.
    kept = args.calls - args.unseen
    calls, _ = queue_calls(fake, kept, 2 * args.calls)
    talks: dict[str, str] = {}  # caller channel -> its advisor's channel
    phones = [endpoint(n) for n in range(args.advisors)]
    while len(talks) < min(args.advisors, kept):
        for phone in phones:
            if fake.ringing(phone):
                advisor_channel = fake.answer(phone)
                until("the call is bridged", lambda c=advisor_channel: bridged(fake, c))
                bridge = bridged(fake, advisor_channel)
                with fake._lock:
                    (caller,) = [
                        c for c in fake.bridges[str(bridge)]["channels"] if c != advisor_channel
                    ]
                talks[caller] = advisor_channel
        time.sleep(0.001)
    unseen = [
        fake.incoming_call(caller=f"07{n:08d}", dialed="3975", lost_in_flight=True)
        for n in range(args.unseen)
    ]
    calls += unseen
    queued = [c for c in calls if c in holding(fake)]
    gone = queued[: args.gone]
    ended = list(talks)[: args.ended]
    bridges = {c: bridged(fake, c) for c in ended}
    mark = len(fake.requests)
    dropped = time.time()
    fake.drop_websocket()
    for caller in gone + ended:
        fake.hang_up(caller)  # unheard: no WebSocket holds the application
    until("the channel reconnected", lambda: fake.connected(APP))

    def reconciled() -> float | None:
        done: dict[str, float] = {}
        for at, method, path, query in requests_since(fake, mark):
            if method == "POST" and path == f"/ari/bridges/{HOLDING}/addChannel":
                for channel_id in query["channel"].split(","):
                    done.setdefault(f"held {channel_id}", at)
            elif method == "DELETE" and path.startswith("/ari/channels/"):
                done.setdefault(f"hung up {path.rsplit('/', 1)[1]}", at)
            elif method == "DELETE" and path.startswith("/ari/bridges/"):
                done.setdefault(f"destroyed {path.rsplit('/', 1)[1]}", at)
        wanted = [f"held {c}" for c in unseen] + [f"hung up {c}" for c in gone]
        wanted += [f"destroyed {b}" for b in bridges.values()]
        if all(w in done for w in wanted):
            return max(done[w] for w in wanted)
        return None

    finished = until("the calls are reconciled", reconciled, timeout=60)
    after = requests_since(fake, mark)
    socket = next(at for at, _, path, _ in after if path == "/ari/events")
    listed = max(
        next(at for at, m, p, _ in after if m == "GET" and p == path)
        for path in ("/ari/channels", "/ari/bridges")
    )
    interactions = voice_interactions(daemon)
    by_channel = Counter(i["external_id"] for i in interactions)
    status = {i["external_id"]: i["status"] for i in interactions}
    lost = [c for c in calls if by_channel[c] == 0]
    doubled = [c for c in calls if by_channel[c] > 1]
    expected = dict.fromkeys(gone, "abandoned") | dict.fromkeys(ended, "closed")
    wrong = [
        (c, status.get(c))
        for c in calls
        if (status.get(c) in ("abandoned", "closed", None)) != (c in expected)
        or (c in expected and status.get(c) != expected[c])
    ]
    arrived = Counter(
        e["event"]["interaction_id"]
        for e in journal(daemon)
        if e["event"]["type"] == "interaction.arrived"
    )
    report["resynchronisation"] = {
        "calls in the system at the drop": (
            f"{len(calls)}: {len(talks)} in conversation, {len(calls) - len(talks)} on hold "
            f"({len(unseen)} of them unseen: their StasisStart lost with the WebSocket)"
        ),
        "while down": f"{len(gone)} callers on hold and {len(ended)} conversations hung up",
        "drop -> WebSocket reopened": f"{(socket - dropped) * 1000:.0f} ms",
        "reopened -> lists read": f"{(listed - socket) * 1000:.0f} ms",
        "reopened -> all reconciled": f"{(finished - socket) * 1000:.0f} ms",
        "drop -> all reconciled": f"{(finished - dropped) * 1000:.0f} ms",
        "lost": len(lost),
        "doubled": len(doubled),
        "status not as the channel says": wrong[:5] if wrong else 0,
        "interactions arrived twice in the journal": sum(1 for n in arrived.values() if n > 1),
    }


def voice_interactions(daemon: Daemon) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    with daemon.client(SUPERVISOR) as supervisor:
        while True:
            page = supervisor.get(
                "/v1/interactions", params={"channel": "voice", "limit": 1000, "after": after}
            ).json()
            found += page["interactions"]
            if page["next_after"] is None:
                return found
            after = page["next_after"]


def journal(daemon: Daemon) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = 0
    with daemon.client(SUPERVISOR) as supervisor:
        while True:
            page = supervisor.get("/v1/events", params={"after": after, "limit": 5000}).json()
            if not page["events"]:
                return rows
            rows.extend(page["events"])
            after = page["next_after"]


BUSY_FACTOR = 10
"""The busy day: the reference deployment's calls times this, on a Monday (its start date)."""


def estimate_error() -> dict[str, Any]:
    """What the simulator measures of the estimate (``simulations.told``) on a busy day: the
    reference roster and configuration, with BUSY_FACTOR times the calls."""
    loaded = load_config(ROOT / "config.toml")
    deployment = deployment_of(loaded)
    scenario = deployment.scenario
    volumes = {
        source: count * BUSY_FACTOR if source == "phone" else count
        for source, count in scenario.volumes.items()
    }
    scenario = msgspec.structs.replace(scenario, volumes=volumes)
    busy = dataclasses.replace(deployment, scenario=scenario)
    voice = next(c for c in simulate(busy, days=1).channels if c.channel == "voice")
    return {
        "day": deployment.start.isoformat(),
        "estimated": voice.estimated,
        "late": voice.estimate_late_share,
        "mae_s": voice.estimate_mae_s,
        "over": voice.estimate_over_share,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--advisors", type=int, default=30)
    parser.add_argument("--unseen", type=int, default=10)
    parser.add_argument("--gone", type=int, default=20)
    parser.add_argument("--ended", type=int, default=5)
    parser.add_argument(
        "--one-by-one-only", action="store_true", help="skip the round where all hang up at once"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not 0 < args.advisors <= 999 or args.calls <= args.advisors + args.unseen + args.gone:
        parser.error("needs 1-999 advisors and more calls than advisors + --unseen + --gone")
    if args.ended > args.advisors:
        parser.error("--ended must be at most --advisors")
    directory = Path(tempfile.mkdtemp(prefix="aiguillage-voice-"))
    load_before = [round(x, 2) for x in os.getloadavg()]
    stalled, started = pressure(), time.time()
    fake = FakeAri().start()
    daemon = Daemon(
        directory, configure(directory, fake, args.advisors), env={"ARI_PASSWORD": fake.password}
    )
    report: dict[str, Any] = {}
    try:
        daemon.start()
        until("the channel connected to ARI", lambda: fake.connected(APP), timeout=30)
        report["one by one"] = ringing_latency(args, fake, daemon, serial=True, first=0)
        if not args.one_by_one_only:
            report["all at once"] = ringing_latency(
                args, fake, daemon, serial=False, first=args.calls
            )
        resynchronisation(args, fake, daemon, report)
    except BaseException:
        print(f"the run failed; the daemon's log: {daemon.log}", file=sys.stderr)
        raise
    finally:
        exit_status = daemon.stop() if daemon.process else None
        fake.stop()
    elapsed = time.time() - started
    print(f"machine: {json.dumps(machine())}; load average before the run {load_before}")
    print(
        f"run: {args.calls} calls, {args.advisors} voice advisors, daemon exit status "
        f"{exit_status}, {elapsed:.1f} s; ARI contract violations: {len(fake.violations)}"
    )
    for problem in fake.violations[:5]:
        print(f"  violation: {problem}")
    print(
        "(1) ringing latency, from an advisor free to the originate: "
        f"aim p99 < {AIM_P99_S * 1000:.0f} ms"
    )
    for mode in ("one by one", "all at once"):
        for key, value in report.get(mode, {}).items():
            print(f"    {mode}, {key}: {value}")
    print("(2) after an ARI WebSocket drop:")
    for key, value in report["resynchronisation"].items():
        print(f"    {key}: {value}")
    told = estimate_error()
    print(
        f"(3) the estimate's error on a simulated busy day ({BUSY_FACTOR}x the reference "
        f"deployment's calls, {told['day']}): {told['estimated']} callers told; "
        f"{told['late']:.1%} waited more than 60 s beyond it (aim <= 10 %); "
        f"mean absolute error {told['mae_s']:.0f} s; {told['over']:.0%} told too long"
    )
    print(
        "machine pressure during the run (PSI, some task waiting): "
        + ", ".join(
            f"{k} {(v - stalled[k]) / elapsed:.0%}" for k, v in pressure().items() if k in stalled
        )
    )
    print(f"rerun: python benchmarks/voice.py {shlex.join(sys.argv[1:])}".rstrip())
    if args.keep:
        print(f"kept: {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
