"""A data subject's access and erasure by address, against a real daemon: a search by e-mail
finds the customer's interactions across channels; an erasure by phone number leaves no byte of
the customer's data in any file of the deployment (journal, personal store, their ``-wal``
files, the daemon's log), and ``replay --verify`` still verifies."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.adapters.daemon.api.test_api import assert_error, complaint
from tests.adapters.daemon.test_access_log import replay_verify
from tests.adapters.daemons import ADMIN, INTEGRATOR, SUPERVISOR, Daemon, running
from tests.adapters.redis_server import RedisServer

JEANNE = {"name": "Jeanne Martin", "email": "jeanne.martin@example.org"}
GASPARD_PHONE = "+33 6 98 76 54 32"
GASPARD = {"name": "Gaspard Lheureux", "phone": GASPARD_PHONE}
GASPARD_TEXT = "Gaspard Lheureux attend le remboursement de son abonnement Imagine R."


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    yield from running(tmp_path)


def submit(daemon: Daemon, **fields: Any) -> int:
    with daemon.client(INTEGRATOR) as api:
        created = api.post("/v1/interactions", json=complaint(**fields))
        assert created.status_code == 201, created.text
        interaction_id: int = created.json()["id"]
        return interaction_id


def entries(daemon: Daemon) -> list[dict[str, Any]]:
    with daemon.client(ADMIN) as auditor:
        page = auditor.get("/v1/access-log", params={"limit": 5000})
        assert page.status_code == 200, page.text
        found: list[dict[str, Any]] = page.json()["entries"]
        return found


def test_a_subject_access_by_e_mail_finds_the_customer_across_channels(daemon: Daemon) -> None:
    form = submit(daemon, customer=JEANNE)
    mail = submit(daemon, source="email", customer={**JEANNE, "email": "Jeanne.Martin@Example.ORG"})
    social = submit(daemon, channel="social", source="facebook", customer=JEANNE)
    submit(daemon, customer={"name": "Paul Durand", "email": "paul@example.org"})
    submit(daemon, channel="voice", source="phone", customer=GASPARD, text=None)
    with daemon.client(SUPERVISOR) as supervisor:
        found = supervisor.post("/v1/subjects/search", json={"email": " JEANNE.martin@example.org"})
        assert found.status_code == 200, found.text
        assert found.json()["interaction_ids"] == [form, mail, social]
        exported = supervisor.post("/v1/subjects/export", json={"email": JEANNE["email"]})
        assert exported.status_code == 200, exported.text
    interactions = exported.json()["interactions"]
    assert [i["interaction"]["id"] for i in interactions] == [form, mail, social]
    assert [i["interaction"]["channel"] for i in interactions] == ["written", "written", "social"]
    for one in interactions:
        assert one["personal_data"]["customer"]["name"] == "Jeanne Martin"
        assert one["events"][0]["event"]["type"] == "interaction.arrived"
    requests = [e for e in entries(daemon) if e["kind"] == "subject_access"]
    assert [(e["rows"], e["by"]["role"]) for e in requests] == [(3, "supervisor")] * 2
    assert requests[0]["subject"] == found.json()["subject"]
    assert "jeanne" not in str(entries(daemon)).lower()  # the address is never logged


def test_a_bad_address_or_role_is_refused(daemon: Daemon) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        assert_error(
            supervisor.post("/v1/subjects/search", json={"email": "nobody"}),
            400, "invalid_request", "email",
        )  # fmt: skip
        assert_error(
            supervisor.post("/v1/subjects/search", json={"phone": "12"}),
            400, "invalid_request", "phone",
        )  # fmt: skip
        assert_error(supervisor.post("/v1/subjects/search", json={}), 400, "invalid_request")
        refused = supervisor.post(
            "/v1/subjects/erase", json={"phone": GASPARD_PHONE, "reason": "subject_request"}
        )
        assert_error(refused, 403, "forbidden")
    with daemon.client(ADMIN) as admin:
        assert_error(
            admin.post("/v1/subjects/erase", json={"phone": GASPARD_PHONE}),
            400, "invalid_request", "reason",
        )  # fmt: skip
    with daemon.client(INTEGRATOR) as integrator:
        assert_error(
            integrator.post("/v1/subjects/search", json={"phone": GASPARD_PHONE}), 403, "forbidden"
        )


NEEDLES = [
    b"Gaspard",
    b"Lheureux",
    b"698765432",
    b"98 76 54 32",
    "Gaspard".encode("utf-16-le"),
]


def leaks(directory: Path) -> list[str]:
    """Every file under ``directory`` holding a byte of the customer's data, and what."""
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            body = path.read_bytes()
            found += [f"{path.name}: {needle!r}" for needle in NEEDLES if needle in body]
    return found


def test_an_erasure_by_phone_leaves_no_byte_of_the_customer_and_the_journal_verifies(
    daemon: Daemon,
) -> None:
    call = submit(daemon, channel="voice", source="phone", customer=GASPARD, text=None)
    form = submit(
        daemon, customer={"name": "Gaspard Lheureux", "phone": "06.98.76.54.32"}, text=GASPARD_TEXT
    )
    other = submit(daemon, customer=JEANNE)
    with daemon.client(SUPERVISOR) as supervisor:  # read once, so that it was shown and logged
        for interaction_id in (call, form):
            read = supervisor.get(f"/v1/interactions/{interaction_id}/personal-data")
            assert read.status_code == 200, read.text
    assert leaks(daemon.directory)  # the needles do find the data while it is held
    with daemon.client(ADMIN) as admin:
        erased = admin.post(
            "/v1/subjects/erase", json={"phone": "0698765432", "reason": "subject_request"}
        )
        assert erased.status_code == 200, erased.text
        assert erased.json()["erased"] == [call, form]
        for interaction_id in (call, form):
            gone = admin.get(f"/v1/interactions/{interaction_id}/personal-data")
            assert_error(gone, 404, "not_found")
        kept = admin.get(f"/v1/interactions/{other}/personal-data")
        assert kept.json()["customer"]["name"] == "Jeanne Martin"
        again = admin.post("/v1/subjects/search", json={"phone": GASPARD_PHONE})
        assert again.json()["interaction_ids"] == []
    wal = sorted(p.name for p in daemon.directory.glob("*-wal"))
    assert "journal.sqlite-wal" in wal  # read while the daemon runs: its -wal files too
    assert leaks(daemon.directory) == []
    assert daemon.stop() == 0
    assert leaks(daemon.directory) == []
    assert b"Jeanne Martin" in (daemon.directory / "journal.personal.sqlite").read_bytes()
    kinds = [e["kind"] for e in entries(daemon.start())]
    assert kinds.count("subject_erasure") == 1
    assert kinds.count("erasure") == 2
    verified = replay_verify(daemon)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def command(daemon: Daemon, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", "subject", *arguments,
         "--config", str(daemon.config), "--store", daemon.store],
        capture_output=True, text=True, cwd=daemon.directory, timeout=60,
    )  # fmt: skip


def test_the_subject_command_searches_exports_and_erases_beside_the_daemon(
    daemon: Daemon,
) -> None:
    form = submit(daemon, customer=JEANNE)
    call = submit(daemon, channel="voice", source="phone", customer=GASPARD, text=None)
    searched = command(daemon, "search", "--email", "JEANNE.MARTIN@example.org")
    assert searched.returncode == 0, searched.stderr
    assert searched.stdout.split() == [str(form)]
    exported = command(daemon, "export", "--phone", "0698765432")
    assert exported.returncode == 0, exported.stderr
    (one,) = json.loads(exported.stdout)["interactions"]
    assert one["interaction_id"] == call
    assert one["personal_data"]["customer"]["name"] == "Gaspard Lheureux"
    assert one["events"][0]["event"]["type"] == "interaction.arrived"
    refused = command(daemon, "erase", "--phone", "0698765432", "--reason", "whim")
    assert refused.returncode == 2
    assert "[reasons] erase" in refused.stderr
    erased = command(daemon, "erase", "--phone", "0698765432", "--reason", "subject_request")
    assert erased.returncode == 0, erased.stderr
    with daemon.client(ADMIN) as admin:
        gone = admin.get(f"/v1/interactions/{call}/personal-data")
        assert_error(gone, 404, "not_found")
    kinds = [(e["kind"], e["by"]["kind"]) for e in entries(daemon)]
    assert kinds == [
        ("subject_access", "command"),
        ("subject_access", "command"),
        ("read", "command"),
        ("subject_erasure", "command"),
        ("erasure", "command"),
    ]
    assert replay_verify(daemon).returncode == 0


def redis_values(url: str) -> dict[str, bytes]:
    """Every key of a Redis server and all it holds (each member, field and entry), as bytes."""
    client = redis.Redis.from_url(url)
    held: dict[str, bytes] = {}
    with client:
        for name in client.scan_iter(count=1000):
            kind = client.type(name).decode()
            parts: list[Any]
            if kind == "string":
                parts = [client.get(name)]
            elif kind == "hash":
                parts = [b for pair in client.hgetall(name).items() for b in pair]
            elif kind == "set":
                parts = list(client.smembers(name))
            elif kind == "zset":
                parts = [member for member, _ in client.zrange(name, 0, -1, withscores=True)]
            elif kind == "stream":
                parts = [
                    b for _, fields in client.xrange(name) for pair in fields.items() for b in pair
                ]
            else:
                parts = client.lrange(name, 0, -1)
            held[name.decode()] = b"\n".join(parts)
    return held


def test_on_redis_an_erasure_by_phone_leaves_no_byte_of_the_customer_in_any_key(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    daemon = Daemon(tmp_path, store=redis_server.url).start()
    try:
        call = submit(daemon, channel="voice", source="phone", customer=GASPARD, text=None)
        form = submit(
            daemon,
            customer={"name": "Gaspard Lheureux", "phone": "06.98.76.54.32"},
            text=GASPARD_TEXT,
        )
        submit(daemon, customer=JEANNE)
        with daemon.client(ADMIN) as admin:
            found = admin.post("/v1/subjects/search", json={"phone": "0698765432"})
            assert found.json()["interaction_ids"] == [call, form]
            subject = found.json()["subject"].removeprefix("subject:").encode()
            held = redis_values(redis_server.url)
            assert any(subject in name.encode() for name in held)  # the index names it
            assert [n for n, v in held.items() if any(x in v for x in NEEDLES)]
            erased = admin.post(
                "/v1/subjects/erase", json={"phone": GASPARD_PHONE, "reason": "subject_request"}
            )
            assert erased.json()["erased"] == [call, form]
            assert_error(admin.get(f"/v1/interactions/{call}/personal-data"), 404, "not_found")
            again = admin.post("/v1/subjects/search", json={"phone": GASPARD_PHONE})
            assert again.json()["interaction_ids"] == []
        held = redis_values(redis_server.url)
        assert [n for n, v in held.items() if any(x in n.encode() + v for x in NEEDLES)] == []
        # Its keyed digest is in the access log only, which records the request by it.
        holding = [n for n, v in held.items() if subject in n.encode() + v]
        assert [n.rpartition("}:")[2] for n in holding] == ["access"]
        assert any(b"Jeanne Martin" in v for v in held.values())
        assert [e["kind"] for e in entries(daemon)] == [
            "subject_access",
            "subject_erasure",
            "erasure",
            "erasure",
            "subject_access",
        ]
        verified = replay_verify(daemon)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        assert daemon.stop() == 0


def test_on_redis_the_subject_command_searches_exports_and_erases_beside_the_leader(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    daemon = Daemon(tmp_path, store=redis_server.url).start()
    try:
        form = submit(daemon, customer=JEANNE)
        call = submit(daemon, channel="voice", source="phone", customer=GASPARD, text=None)
        again = submit(
            daemon,
            customer={"name": "Gaspard Lheureux", "phone": "06.98.76.54.32"},
            text=GASPARD_TEXT,
        )
        searched = command(daemon, "search", "--email", "JEANNE.MARTIN@example.org")
        assert searched.returncode == 0, searched.stderr
        assert searched.stdout.split() == [str(form)]
        exported = command(daemon, "export", "--phone", "0698765432")
        assert exported.returncode == 0, exported.stderr
        found = json.loads(exported.stdout)["interactions"]
        assert [one["interaction_id"] for one in found] == [call, again]
        assert found[1]["personal_data"]["text"] == GASPARD_TEXT
        assert found[0]["events"][0]["event"]["type"] == "interaction.arrived"
        assert [n for n, v in redis_values(redis_server.url).items() if b"Gaspard" in v]
        erased = command(daemon, "erase", "--phone", "+33698765432", "--reason", "subject_request")
        assert erased.returncode == 0, erased.stderr
        assert erased.stdout.split("\n")[:2] == [
            f"interaction {call}: personal data erased",
            f"interaction {again}: personal data erased",
        ]
        with daemon.client(ADMIN) as admin:
            assert_error(admin.get(f"/v1/interactions/{call}/personal-data"), 404, "not_found")
            kept = admin.get(f"/v1/interactions/{form}/personal-data")  # the leader writes on
            assert kept.json()["customer"]["name"] == "Jeanne Martin"
        held = redis_values(redis_server.url)
        assert [n for n, v in held.items() if any(x in n.encode() + v for x in NEEDLES)] == []
        kinds = [(e["kind"], e["by"]["kind"]) for e in entries(daemon)]
        assert kinds == [
            ("subject_access", "command"),
            ("subject_access", "command"),
            ("read", "command"),
            ("read", "command"),
            ("subject_erasure", "command"),
            ("erasure", "command"),
            ("erasure", "command"),
            ("read", "admin"),  # the leader appends after the command, chained on
        ]
        verified = replay_verify(daemon)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        assert daemon.stop() == 0
