"""The daemon on a real Redis: crashes of the daemon and of Redis, and a fenced failover.

Every test starts its own ``redis-server`` (``appendonly yes``, ``appendfsync always``) on a free
port, and real daemons in subprocesses; they are killed with SIGKILL or paused with SIGSTOP.
Submitters in other processes record every acknowledgement; afterwards every acknowledged
interaction is there with its id and deadline, no ``(source, external_id)`` has two, the hash
chain is intact, and the event ids (``epoch:seq``) never go back.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis

from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.stores.redis.keys import keys_of
from aiguillage.engine.engine import Engine
from tests.adapters.daemon.test_crash import _make_available, _submitters
from tests.adapters.daemon.test_daemon_journal import moved_deadline
from tests.adapters.daemons import ADMIN, INTEGRATOR, Daemon, write_config
from tests.adapters.redis_server import RedisServer

LEASE_S = 2
"""Short, so that the tests wait seconds for a lease; production keeps the default (10 s)."""


def _config(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = write_config(directory)
    text = config.read_text()
    assert "\nlease_s = 10 " in text
    config.write_text(text.replace("\nlease_s = 10 ", f"\nlease_s = {LEASE_S} ", 1))
    return config


def _daemon(directory: Path, config: Path, redis: RedisServer, *, standby: bool = False) -> Daemon:
    directory.mkdir(parents=True, exist_ok=True)
    return Daemon(directory, config, store=redis.url, standby=standby)


def _until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> float:
    """Wait until ``check()``; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def _submission(external_id: str) -> dict[str, Any]:
    return {
        "channel": "written",
        "source": "email",
        "external_id": external_id,
        "received_at": (datetime.now(UTC) - timedelta(seconds=30)).isoformat(),
        "motive": "general",
    }


def _events(daemon: Daemon) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = 0
    with daemon.client(ADMIN) as admin:
        while True:
            page = admin.get("/v1/events", params={"after": after, "limit": 1000}).json()
            rows.extend(page["events"])
            if page["next_after"] == after:
                return rows
            after = page["next_after"]


def _check_journal(daemon: Daemon, redis: RedisServer, acknowledged: list[dict[str, Any]]) -> None:
    """Everything acknowledged is readable, nothing arrived twice, ids only go forward."""
    with daemon.client(INTEGRATOR) as api:
        for record in acknowledged:
            read = api.get(f"/v1/interactions/{record['id']}")
            assert read.status_code == 200, record
            assert read.json()["external_id"] == record["external_id"]
            assert read.json()["deadline"] == record["deadline"]
            # Its own personal data: the submitters send a text, the other submissions none.
            personal = api.get(f"/v1/interactions/{record['id']}/personal-data").json()
            assert personal["external_id"] == record["external_id"]
            assert personal.get("text") in (None, f"message {record['external_id']}"), record
    ids_by_key: dict[str, set[int]] = {}
    for record in acknowledged:
        ids_by_key.setdefault(record["external_id"], set()).add(record["id"])
    assert all(len(ids) == 1 for ids in ids_by_key.values())

    rows = _events(daemon)
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    epochs = [int(row["id"].split(":")[0]) for row in rows]
    assert epochs == sorted(epochs), "an event id went back to an older epoch"
    arrivals = Counter(
        (row["event"]["source"], row["event"]["external_id"])
        for row in rows
        if row["event"]["type"] == "interaction.arrived"
    )
    assert all(count == 1 for count in arrivals.values()), "an external id arrived twice"
    engine = Engine()
    for row in rows:
        engine.apply(_decode(row["event"]))
        for advisor in engine.state.advisors.values():
            for channel, load in advisor.load.items():
                assert load <= advisor.capacity.get(channel, 0), (row, advisor)

    verified = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiguillage.adapters.cli.main",
            "replay",
            "--verify",
            "--config",
            str(daemon.config),
            "--store",
            redis.url,
        ],
        capture_output=True,
        text=True,
        cwd=daemon.directory,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{len(rows)} events, hash chain intact" in verified.stdout


def _decode(event: dict[str, Any]) -> Any:
    """Return the engine's event an API row shows (its instants back to microseconds)."""
    import typing
    from datetime import datetime

    from aiguillage.adapters.channels.events_out import instant_fields
    from aiguillage.adapters.stores.journal import decode_event
    from aiguillage.engine.events import Event
    from aiguillage.engine.instants import from_datetime

    kinds = {kind.__struct_config__.tag: kind for kind in typing.get_args(Event)}
    body = dict(event)
    for name in instant_fields(kinds[body["type"]]):
        if isinstance(body.get(name), str):
            body[name] = from_datetime(datetime.fromisoformat(body[name]))
    return decode_event(json.dumps(body).encode())


def _acknowledged(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _stop(submitters: list[subprocess.Popen[bytes]]) -> None:
    errors = []
    for submitter in submitters:
        submitter.kill()
        errors.append(submitter.communicate()[1].decode())
    assert not any("unexpected" in error for error in errors), errors


def test_sigkill_of_the_daemon_under_load_loses_and_duplicates_nothing(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    rng = random.Random(20261128)
    daemon = _daemon(tmp_path, _config(tmp_path), redis_server).start()
    acknowledged = tmp_path / "acknowledged.jsonl"
    _make_available(daemon)
    submitters = _submitters(daemon, acknowledged, 3)
    try:
        for _ in range(3):
            time.sleep(rng.uniform(0.5, 1.5))
            daemon.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            daemon.start()  # it waits for its former life's lease to lapse, then takes over
        time.sleep(1.0)
    finally:
        _stop(submitters)
    records = _acknowledged(acknowledged)
    assert len(records) > 100, "the load did not run"
    try:
        _check_journal(daemon, redis_server, records)
    finally:
        daemon.kill()


def test_sigkill_of_redis_under_load_the_daemon_recovers_by_itself(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    daemon = _daemon(tmp_path, _config(tmp_path), redis_server).start()
    acknowledged = tmp_path / "acknowledged.jsonl"
    _make_available(daemon)
    submitters = _submitters(daemon, acknowledged, 3)
    try:
        for _ in range(2):
            time.sleep(1.0)
            redis_server.kill()
            _until("the daemon says it is not ready", lambda: daemon.readyz().status_code == 503)
            time.sleep(0.5)
            redis_server.restart()
            _until("the daemon serves again", lambda: daemon.readyz().status_code == 200)
        time.sleep(1.0)
    finally:
        _stop(submitters)
    assert daemon.process is not None
    assert daemon.process.poll() is None, "the daemon died"
    records = _acknowledged(acknowledged)
    assert len(records) > 100, "the load did not run"
    try:
        _check_journal(daemon, redis_server, records)
    finally:
        daemon.kill()


def _submit_all(daemon: Daemon, external_ids: list[str]) -> list[dict[str, Any]]:
    """Submit each interaction to ``daemon``; return what was acknowledged (201 each)."""
    acknowledged = []
    with daemon.client(INTEGRATOR) as api:
        for external_id in external_ids:
            created = api.post("/v1/interactions", json=_submission(external_id))
            assert created.status_code == 201, created.text
            acknowledged.append(created.json() | {"external_id": external_id})
    return acknowledged


def _caught_up(standby: Daemon, leader: Daemon) -> int:
    """Wait until the standby's state is built to the leader's last event; return its seq."""
    written: int = leader.readyz().json()["last_seq"]
    _until(
        "the standby has followed the leader",
        lambda: standby.readyz().json()["followed_seq"] == written,
    )
    return written


def _log_events(daemon: Daemon, event: str) -> list[dict[str, Any]]:
    """The daemon's JSON log lines of one event, parsed."""
    lines = daemon.log.read_text().splitlines()
    parsed = (json.loads(text) for text in lines if text.startswith("{"))
    return [line for line in parsed if line.get("event") == event]


@contextmanager
def _leader_and_standby(directory: Path, redis: RedisServer) -> Iterator[tuple[Daemon, Daemon]]:
    """A leader serving and a standby on one Redis; both killed at the end (resumed first)."""
    config = _config(directory)
    leader = _daemon(directory / "a", config, redis).start()
    try:
        standby = _daemon(directory / "b", config, redis, standby=True).start(ready=False)
        try:
            yield leader, standby
        finally:
            standby.kill()
    finally:
        leader.resume()
        leader.kill()


def test_a_paused_leader_is_fenced_and_the_standby_takes_over(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with _leader_and_standby(tmp_path, redis_server) as (leader, standby):
        # The standby says where the leader is, on /readyz and on the API.
        _until("the standby names the leader", lambda: standby.readyz().json()["leader"])
        health = standby.readyz()
        assert health.status_code == 503
        assert health.json()["role"] == "standby"
        assert health.json()["leader"] == leader.url
        with standby.client(INTEGRATOR) as api:
            refused = api.post("/v1/interactions", json=_submission("to-the-standby"))
        assert refused.status_code == 503
        assert refused.json()["leader"] == leader.url
        assert "Retry-After" in refused.headers

        acknowledged = _submit_all(leader, [f"before-{n}" for n in range(20)])
        old_epoch = leader.readyz().json()["epoch"]
        # The standby follows the journal while it waits: its state is built to the last event.
        assert _caught_up(standby, leader) > 20

        leader.pause()
        _until("the standby takes over", lambda: standby.readyz().status_code == 200)
        assert standby.readyz().json()["epoch"] > old_epoch
        # It took over from the state it had followed, replaying nothing (the leader wrote
        # nothing more before it was paused).
        takeover = _log_events(standby, "journal replayed; serving")
        assert len(takeover) == 1, takeover
        assert takeover[0]["resumed_followed_state"] is True
        assert takeover[0]["replayed"] == 0
        assert standby.readyz().json()["store_warnings"] == []  # the test server is durable
        acknowledged += _submit_all(standby, [f"after-{n}" for n in range(20)])

        # Resumed, the old leader believes it leads until its first write or renewal: refused.
        leader.resume()
        with leader.client(INTEGRATOR) as api:
            late = api.post("/v1/interactions", json=_submission("to-the-old-leader"))
        assert late.status_code == 503, late.text
        _until(
            "the old leader steps down and names the new one",
            lambda: leader.readyz().json()["leader"] == standby.url,
        )
        assert leader.readyz().status_code == 503
        assert leader.readyz().json()["role"] == "standby"
        with standby.client(INTEGRATOR) as api:
            # Never acknowledged, never written: submitted again, it is new.
            again = api.post("/v1/interactions", json=_submission("to-the-old-leader"))
            assert again.status_code == 201, again.text
            acknowledged.append(again.json() | {"external_id": "to-the-old-leader"})
        _check_journal(standby, redis_server, acknowledged)
        epochs = {int(row["id"].split(":")[0]) for row in _events(standby)}
        assert epochs == {old_epoch, standby.readyz().json()["epoch"]}


def test_a_standby_keeps_the_state_it_followed_through_a_redis_outage(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with _leader_and_standby(tmp_path, redis_server) as (leader, standby):
        acknowledged = _submit_all(leader, [f"before-{n}" for n in range(10)])
        written = _caught_up(standby, leader)

        # Down for longer than a lease: the leader, unable to renew, steps down before its
        # lease lapses, writes or not; the standby waits where it is, its followed state kept
        # (followed_seq is None once that state is thrown away).
        redis_server.kill()
        outage = time.monotonic()
        stepped_down = None
        while time.monotonic() - outage < 1.5 * LEASE_S:
            assert standby.readyz().json()["followed_seq"] == written
            if stepped_down is None and leader.readyz().status_code == 503:
                stepped_down = time.monotonic() - outage
            time.sleep(0.05)
        assert stepped_down is not None, "the leader still says it is ready"
        assert stepped_down < LEASE_S
        redis_server.restart()

        def serving() -> Daemon | None:
            return next((d for d in (leader, standby) if d.readyz().status_code == 200), None)

        _until("a daemon serves again", lambda: serving() is not None)
        if serving() is standby:
            # It took over from the state it kept: nothing to replay, no rebuild.
            (takeover,) = _log_events(standby, "journal replayed; serving")
            assert takeover["resumed_followed_state"] is True
            assert takeover["replayed"] == 0
        else:
            now = leader.readyz().json()["last_seq"]
            _until("the standby follows on", lambda: standby.readyz().json()["followed_seq"] == now)
        assert not _log_events(standby, "following the journal from scratch")
        assert not _log_events(standby, "journal unavailable; rebuilding from it")
        assert not _log_events(standby, "engine task failed; rebuilding from the journal")
        server = serving()
        assert server is not None
        _check_journal(server, redis_server, acknowledged)


def test_a_snapshot_changed_in_redis_is_refused_at_restart_and_named_by_verify(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = _config(tmp_path)
    keys = keys_of(load_config(config).settings.deployment.domain)
    daemon = _daemon(tmp_path, config, redis_server).start()
    try:
        (created,) = _submit_all(daemon, ["sealed-1"])
        assert daemon.stop() == 0  # a clean stop writes a snapshot
        with redis.Redis.from_url(redis_server.url) as client:
            # As an intruder would: move a deadline, and the digest in the description with it.
            seq = max(int(field) for field in client.hkeys(keys.snapshots))
            altered = moved_deadline(client.get(keys.snapshot(seq)), created["id"])
            description = msgspec.msgpack.decode(client.hget(keys.snapshots, str(seq)))
            description["image_sha256"] = hashlib.sha256(altered).hexdigest()
            client.hset(keys.snapshots, str(seq), msgspec.msgpack.encode(description))
            client.set(keys.snapshot(seq), altered)
        daemon.start()
        with daemon.client(INTEGRATOR) as api:
            served = api.get(f"/v1/interactions/{created['id']}").json()
        assert served["deadline"] == created["deadline"]
        refused = _log_events(daemon, "snapshot refused: the state is rebuilt from an older "
                              "snapshot or the journal's start")  # fmt: skip
        assert [(line["level"], line["seq"]) for line in refused] == [("error", seq)]
    finally:
        daemon.kill()
    verified = subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "replay", "--verify",
         "--config", str(daemon.config), "--store", redis_server.url],
        capture_output=True, text=True, cwd=daemon.directory, check=False,
    )  # fmt: skip
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert f"snapshot {seq}: its image" in verified.stdout
