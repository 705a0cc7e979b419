"""The nowcast through a real daemon: made in a worker process, served, journaled, on the wall."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.daemons import ADVISOR, INTEGRATOR, SUPERVISOR, Daemon, write_config


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    directory = tmp_path_factory.mktemp("nowcast")
    config = write_config(directory)
    text = config.read_text()
    every = "every_minutes = 5\nreplications = 20\n"
    assert every in text
    config.write_text(text.replace(every, "every_minutes = 60\nreplications = 3\n", 1))
    daemon = Daemon(directory, config).start()
    try:
        with daemon.client(INTEGRATOR) as client:
            for n in range(6):
                body = {
                    "channel": "social",
                    "source": "x",
                    "external_id": f"nowcast-{n}",
                    "motive": "refunds",
                    "text": "Bonjour",
                }
                assert client.post("/v1/interactions", json=body).status_code == 201
        yield daemon
    finally:
        daemon.kill()


def _latest(daemon: Daemon, after: str | None) -> dict[str, Any]:
    """Wait for a nowcast made after ``after`` (two minutes at most)."""
    deadline = time.monotonic() + 120
    with daemon.client(SUPERVISOR) as supervisor:
        while time.monotonic() < deadline:
            response = supervisor.get("/v1/nowcast")
            if response.status_code == 200 and (after is None or response.json()["at"] > after):
                result: dict[str, Any] = response.json()
                return result
            assert response.status_code in (200, 404), response.text
            time.sleep(0.2)
    raise AssertionError("no nowcast came")


@pytest.fixture(scope="module")
def made(daemon: Daemon) -> dict[str, Any]:
    """None before the first is due; one asked for, then another: the latter is returned."""
    with daemon.client(SUPERVISOR) as supervisor:
        before = supervisor.get("/v1/nowcast")
        assert before.status_code == 404
        assert "POST /v1/nowcast makes one now" in before.json()["detail"]
        asked = supervisor.post("/v1/nowcast")
        assert asked.status_code == 202, asked.text
        assert asked.json() == {"started": True, "latest_at": None}
        first = _latest(daemon, None)
        again = supervisor.post("/v1/nowcast")
        assert again.json() == {"started": True, "latest_at": first["at"]}
    return _latest(daemon, first["at"])


def test_a_supervisor_gets_the_rest_of_the_day_as_is_and_with_each_what_if(
    made: dict[str, Any],
) -> None:
    assert made["replications"] == 3
    assert [v["what_if"] for v in made["variants"]] == [
        "as is",
        "move 2 from written to social",
        "one more on social from 14:00",
    ]
    for variant in made["variants"]:
        assert {c["channel"] for c in variant["channels"]} == {"voice", "written", "social"}
        for channel in variant["channels"]:
            low, mean, high = (channel["breaches"][k] for k in ("low", "mean", "high"))
            assert low <= mean <= high
    assert made["arrived"]["social"] >= 6


def test_asking_again_while_one_is_under_way_starts_no_other(daemon: Daemon) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        answers = [supervisor.post("/v1/nowcast").json()["started"] for _ in range(3)]
    assert answers[1:] == [False, False]


def test_the_latest_nowcast_is_served_and_shown_on_the_wall(
    daemon: Daemon, made: dict[str, Any]
) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        latest = supervisor.get("/v1/nowcast")
        wall = supervisor.get("/v1/wallboard").json()
    assert latest.status_code == 200
    assert latest.json()["at"] >= made["at"]
    assert wall["nowcast"] is not None
    assert wall["nowcast"]["variants"][0]["what_if"] == "as is"


def test_what_the_supervisor_was_shown_is_journaled(daemon: Daemon, made: dict[str, Any]) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        events = supervisor.get("/v1/events", params={"limit": 5000}).json()["events"]
    published = [e["event"] for e in events if e["event"]["type"] == "nowcast.published"]
    assert published
    shown = next(p for p in published if p["seed"] == made["seed"])
    social = next(c for c in made["variants"][0]["channels"] if c["channel"] == "social")
    mean, low, high = shown["shown"]["as is"]["social"]["breaches"]
    assert (mean, low, high) == (
        social["breaches"]["mean"],
        social["breaches"]["low"],
        social["breaches"]["high"],
    )
    assert len(shown["image_sha256"]) == 64


def test_the_nowcast_is_for_supervisors_and_admins_only(daemon: Daemon) -> None:
    with daemon.client(ADVISOR) as advisor:
        assert advisor.get("/v1/nowcast").status_code == 403
        assert advisor.post("/v1/nowcast").status_code == 403


def test_a_nowcast_past_its_time_limit_is_abandoned_and_said_so(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("nowcast-slow")
    config = write_config(directory)
    text = config.read_text()
    config.write_text(
        text.replace("replications = 20\n", "replications = 20\ntimeout_s = 0.01\n", 1)
    )
    daemon = Daemon(directory, config).start()
    try:
        deadline = time.monotonic() + 60
        with daemon.client(SUPERVISOR) as supervisor:
            assert supervisor.post("/v1/nowcast").status_code == 202
            while time.monotonic() < deadline:
                answer = supervisor.get("/v1/nowcast")
                assert answer.status_code == 404
                if "timeout_s" in answer.json()["detail"]:
                    break
                time.sleep(0.2)
            assert "took more than 0.01 s ([nowcast] timeout_s)" in answer.json()["detail"]
            assert supervisor.get("/v1/wallboard").status_code == 200  # still serving
            assert supervisor.post("/v1/nowcast").status_code == 202
        started = time.monotonic()
        assert daemon.stop(timeout=30) == 0  # a nowcast under way does not hold the exit back
        assert time.monotonic() - started < 20
    finally:
        daemon.kill()


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_daemon_killed_leaves_no_nowcast_worker_behind(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("nowcast-killed")
    config = write_config(directory)
    text = config.read_text()
    config.write_text(text.replace("replications = 20\n", "replications = 2\n", 1))
    daemon = Daemon(directory, config).start()
    try:
        with daemon.client(SUPERVISOR) as supervisor:
            assert supervisor.post("/v1/nowcast").status_code == 202
        _latest(daemon, None)  # the worker process is up
        workers = _children(daemon.process.pid)
        assert workers, "the nowcast ran in no process of its own"
    finally:
        daemon.kill()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)]
