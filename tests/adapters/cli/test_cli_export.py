"""``aiguillage export-all`` and ``aiguillage retention`` on a real daemon's SQLite journal: the
export is checked by its own reader (standalone, standard library only), a byte changed in the
exported journal is found, and the retention command says what would go and what went."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
import redis

from aiguillage.adapters.stores.redis.journal import RedisJournal
from aiguillage.adapters.stores.redis.keys import keys_of
from tests.adapters.daemons import ADMIN, INTEGRATOR, SUPERVISOR, Daemon, running, write_config
from tests.adapters.redis_server import RedisServer

TEXT = "Mon passe Navigo a été débité deux fois.\nMerci de me rembourser."


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiguillage.adapters.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def exported(daemon: Daemon) -> Path:
    with daemon.client(INTEGRATOR) as api:
        for n in range(3):
            if n == 2:
                assert daemon.stop() == 0  # a stop keeps a snapshot, its seal in the chain
                daemon.start()
            created = api.post(
                "/v1/interactions",
                json={
                    "channel": "written",
                    "source": "webform",
                    "external_id": f"form-{n}",
                    "received_at": "2026-11-23T09:00:00+01:00",
                    "motive": "refunds",
                    "customer": {"name": "Zoé Lefèvre", "email": f"zoe{n}@example.org"},
                    "subject": "Remboursement",
                    "text": TEXT,
                },
            )
            assert created.status_code == 201, created.text
    with daemon.client(SUPERVISOR) as supervisor:
        read = supervisor.get(f"/v1/interactions/{created.json()['id']}/personal-data")
        assert read.status_code == 200, read.text
    output = daemon.directory / "export"
    done = cli(
        "export-all", "--config", str(daemon.config), "--store", daemon.store,
        "--output", str(output), cwd=daemon.directory,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return output


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_the_export_holds_the_journal_the_personal_data_and_the_configuration(
    daemon: Daemon, exported: Path
) -> None:
    records = lines(exported / "journal.jsonl")
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    arrived = [r for r in records if r["event"]["type"] == "interaction.arrived"]
    assert len(arrived) == 3
    assert all(
        r["by"] == {"kind": "token", "id": r["by"]["id"], "role": "integrator"} for r in arrived
    )
    personal = lines(exported / "personal.jsonl")
    assert sorted(p["pieces"][0]["data"]["customer"]["email"] for p in personal) == [
        "zoe0@example.org",
        "zoe1@example.org",
        "zoe2@example.org",
    ]
    assert TEXT not in (exported / "journal.jsonl").read_text("utf-8")
    assert [e["entry"]["route"] for e in lines(exported / "access_log.jsonl")] == [
        f"GET /v1/interactions/{personal[-1]['interaction_id']}/personal-data"
    ]
    assert (exported / "config.toml").read_bytes() == daemon.config.read_bytes()
    (seal,) = lines(exported / "seals.jsonl")
    assert 0 < seal["after"] < len(records)
    assert "journal.jsonl" in (exported / "README.md").read_text("utf-8")


def test_the_standalone_reader_verifies_the_export_without_the_project(exported: Path) -> None:
    # -I: isolated, neither this project nor its environment's packages on the path.
    checked = subprocess.run(
        [sys.executable, "-I", str(exported / "verify_export.py"), str(exported)],
        capture_output=True, text=True, cwd="/", timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the export checks out" in checked.stdout
    assert "3 pieces of 3 interactions, each matching its digest; 3 held by the journal" in (
        checked.stdout
    )


def test_a_byte_changed_in_the_exported_journal_is_found(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(exported), str(copy)], check=True)
    journal = copy / "journal.jsonl"
    text = journal.read_text("utf-8")
    at = text.index('"motive\\":\\"refunds')
    changed = text[:at] + text[at:].replace("refunds", "refundz", 1)
    journal.write_text(changed, "utf-8")
    checked = cli("export-all", "verify", str(copy), cwd=tmp_path)
    assert checked.returncode == 1
    line = text[:at].count("\n") + 1
    assert f"FAULT journal.jsonl line {line}:" in checked.stdout
    assert "the export is BROKEN" in checked.stdout


def test_a_piece_of_personal_data_changed_in_the_export_is_found(
    exported: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(exported), str(copy)], check=True)
    personal = copy / "personal.jsonl"
    personal.write_text(personal.read_text("utf-8").replace("Zoé", "Zoë", 1), "utf-8")
    checked = cli("export-all", "verify", str(copy), cwd=tmp_path)
    assert checked.returncode == 1
    assert "FAULT personal.jsonl line 1:" in checked.stdout


def test_an_export_refuses_a_directory_that_is_not_empty(daemon: Daemon, exported: Path) -> None:
    again = cli(
        "export-all", "--config", str(daemon.config), "--store", daemon.store,
        "--output", str(exported), cwd=daemon.directory,
    )  # fmt: skip
    assert again.returncode == 1
    assert "not empty" in again.stderr


def test_retention_says_what_would_go_then_removes_it_and_the_journal_still_verifies(
    tmp_path: Path,
) -> None:
    own = Daemon(tmp_path).start()
    try:
        with own.client(INTEGRATOR) as api:
            for external_id in ("old", "new", "waiting"):
                created = api.post(
                    "/v1/interactions",
                    json={"channel": "social", "source": "x", "external_id": external_id,
                          "text": "Bus 42 en retard"},
                )  # fmt: skip
                assert created.status_code == 201, created.text
            closed = api.post("/v1/interactions/1/close", json={"reason": "no_answer_needed"})
            assert closed.status_code == 200, closed.text
    finally:
        assert own.stop() == 0
    # Two days pass for the first piece (closed) and the third (still open: kept).
    with sqlite3.connect(tmp_path / "journal.personal.sqlite") as personal:
        personal.execute(
            "UPDATE sealed SET stored_at = stored_at - ? WHERE interaction_id IN (1, 3)",
            (2 * 86_400 * 1_000_000,),
        )
    own.config.write_text(
        own.config.read_text()
        .replace("messages_days = 365", "messages_days = 1")
        .replace("recordings_days = 183", "recordings_days = 1")
    )
    retention = ("retention", "--config", str(own.config), "--store", own.store)
    would = cli(*retention, cwd=tmp_path)
    assert would.returncode == 0, would.stderr
    assert "messages: 1 days, stored before " in would.stdout
    assert "would remove 1\n" in would.stdout
    assert "recordings: 1 days, deleted daily by the call channel" in would.stdout
    went = cli(*retention, "--apply", cwd=tmp_path)
    assert went.returncode == 0, went.stderr
    assert "messages: 1 days, stored before " in went.stdout
    assert ": removed 1\n" in went.stdout
    with sqlite3.connect(tmp_path / "journal.personal.sqlite") as personal:
        kept = personal.execute("SELECT interaction_id FROM sealed ORDER BY interaction_id")
        assert kept.fetchall() == [(2,), (3,)]
    assert "would remove 0\n" in cli(*retention, cwd=tmp_path).stdout
    with sqlite3.connect(tmp_path / "journal.sqlite") as journal:
        (body,) = journal.execute("SELECT CAST(body AS BLOB) FROM access_log").fetchone()
    erasure = json.loads(body)
    assert (erasure["interaction_id"], erasure["kind"], erasure["reason"]) == (
        1,
        "erasure",
        "retention",
    )
    assert erasure["by"]["id"].startswith("retention by ")
    verified = cli("replay", "--verify", "--config", str(own.config), "--store", own.store,
                   cwd=tmp_path)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_changed_snapshot_seal_in_the_export_is_found(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(exported), str(copy)], check=True)
    seals = copy / "seals.jsonl"
    (seal,) = lines(seals)
    changed = seal["body"].replace('"snapshot":', '"snapshot": ', 1)
    seals.write_text(json.dumps({**seal, "body": changed}) + "\n", "utf-8")
    checked = cli("export-all", "verify", str(copy), cwd=tmp_path)
    assert checked.returncode == 1
    assert f"FAULT seals.jsonl: the seal after record {seal['after']} does not follow" in (
        checked.stdout
    )


def aged_on_redis(url: str, interaction_ids: tuple[int, ...], days: int) -> None:
    """Move the pieces of these interactions ``days`` back in time, as if stored then."""
    client = redis.Redis.from_url(url)
    with client:
        (stored,) = list(client.scan_iter("*:personal:stored"))
        prefix = stored.removesuffix(b"stored")
        for interaction_id in interaction_ids:
            key = prefix + str(interaction_id).encode()
            for digest, value in client.hgetall(key).items():
                salt, data, at = msgspec.msgpack.decode(value)
                at -= days * 86_400 * 1_000_000
                client.hset(key, digest, msgspec.msgpack.encode((salt, data, at)))
                client.zadd(stored, {f"{interaction_id}:{digest.decode()}": at})


def test_on_redis_retention_removes_beside_the_leader_and_both_chains_verify(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    own = Daemon(tmp_path, store=redis_server.url).start()
    try:
        with own.client(INTEGRATOR) as api:
            for external_id in ("old", "new", "waiting"):
                created = api.post(
                    "/v1/interactions",
                    json={"channel": "social", "source": "x", "external_id": external_id,
                          "text": "Bus 42 en retard"},
                )  # fmt: skip
                assert created.status_code == 201, created.text
            closed = api.post("/v1/interactions/1/close", json={"reason": "no_answer_needed"})
            assert closed.status_code == 200, closed.text
        aged_on_redis(redis_server.url, (1, 3), 2)  # the third is still open: kept
        config = tmp_path / "short.toml"
        config.write_text(
            own.config.read_text()
            .replace("messages_days = 365", "messages_days = 1")
            .replace("recordings_days = 183", "recordings_days = 1")
        )
        retention = ("retention", "--config", str(config), "--store", own.store)
        would = cli(*retention, cwd=tmp_path)
        assert would.returncode == 0, would.stderr
        assert "would remove 1\n" in would.stdout
        went = cli(*retention, "--apply", cwd=tmp_path)
        assert went.returncode == 0, went.stderr
        assert "messages: 1 days, stored before " in went.stdout
        assert ": removed 1\n" in went.stdout
        assert "would remove 0\n" in cli(*retention, cwd=tmp_path).stdout
        with own.client(SUPERVISOR) as supervisor:
            assert supervisor.get("/v1/interactions/1/personal-data").status_code == 404
            for kept in (2, 3):  # read by the leader: its entries chain on the command's
                read = supervisor.get(f"/v1/interactions/{kept}/personal-data")
                assert read.status_code == 200, read.text
        with own.client(ADMIN) as auditor:
            log = auditor.get("/v1/access-log")
            assert log.status_code == 200, log.text
        found = [(e["interaction_id"], e["kind"], e["by"]["kind"]) for e in log.json()["entries"]]
        assert found == [(1, "erasure", "command"), (2, "read", "token"), (3, "read", "token")]
        verified = cli("replay", "--verify", "--config", str(own.config), "--store", own.store,
                       cwd=tmp_path)  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "access log, 3 entries, hash chain intact" in verified.stdout
    finally:
        assert own.stop() == 0


def test_on_redis_the_export_holds_the_archived_records_and_the_reader_verifies_it(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    own = Daemon(tmp_path, store=redis_server.url).start()
    try:
        with own.client(INTEGRATOR) as api:
            for n in range(3):
                if n:  # each stop keeps a snapshot; the second archives what precedes the first
                    assert own.stop() == 0
                    own.start()
                created = api.post(
                    "/v1/interactions",
                    json={"channel": "written", "source": "webform", "external_id": f"r-{n}",
                          "received_at": "2026-11-23T09:00:00+01:00", "motive": "refunds",
                          "customer": {"name": "Zoé Lefèvre", "email": f"zoe{n}@example.org"},
                          "subject": "Remboursement", "text": TEXT},
                )  # fmt: skip
                assert created.status_code == 201, created.text
        with own.client(SUPERVISOR) as supervisor:
            assert supervisor.get("/v1/interactions/3/personal-data").status_code == 200
        archived = sorted((tmp_path / "var/aiguillage/archive").glob("*.jsonl"))
        assert archived, "no record was archived: the export would not read the archive"
        output = tmp_path / "export"
        done = cli(
            "export-all", "--config", str(own.config), "--store", own.store,
            "--output", str(output), cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    finally:
        assert own.stop() == 0
    records = lines(output / "journal.jsonl")
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    first_in_stream = int(archived[-1].name.split("-")[-1].split(".")[0]) + 1
    assert 1 < first_in_stream <= len(records)  # from the archive, then from the stream
    assert len(lines(output / "seals.jsonl")) >= 2
    personal = lines(output / "personal.jsonl")
    assert sorted(p["pieces"][0]["data"]["customer"]["email"] for p in personal) == [
        "zoe0@example.org",
        "zoe1@example.org",
        "zoe2@example.org",
    ]
    assert [e["entry"]["route"] for e in lines(output / "access_log.jsonl")] == [
        "GET /v1/interactions/3/personal-data"
    ]
    checked = subprocess.run(
        [sys.executable, "-I", str(output / "verify_export.py"), str(output)],
        capture_output=True, text=True, cwd="/", timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "3 pieces of 3 interactions, each matching its digest; 3 held by the journal" in (
        checked.stdout
    )
    # Without the archive, and no daemon running: refused, naming what is missing.
    (tmp_path / "var/aiguillage/archive").rename(tmp_path / "elsewhere")
    again = cli(
        "export-all", "--config", str(own.config), "--store", own.store,
        "--output", str(tmp_path / "again"), cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 1
    said = " ".join(again.stderr.split())
    assert "does not hold them all (event 1 is missing)" in said
    # What it wrote before the error stays: the message names a new directory, not this one.
    assert "run the export again into a new, empty directory" in said
    assert any((tmp_path / "again").iterdir())


def test_on_redis_the_commands_name_a_domain_that_holds_no_journal(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = str(write_config(tmp_path))
    for command in (
        ("retention",),
        ("subject", "search", "--email", "jeanne@example.org"),
        ("erase", "1", "--reason", "subject_request"),
        ("export-all", "--output", str(tmp_path / "export")),
    ):
        done = cli(*command, "--config", config, "--store", redis_server.url, cwd=tmp_path)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        said = " ".join(done.stderr.split())
        assert "(domain idfm-overflow): no journal here" in said, (command, said)
        assert "check the URL and the domain" in said


def test_on_redis_the_commands_beside_a_leader_of_an_earlier_version_wait_for_the_upgrade(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = str(write_config(tmp_path))

    async def a_journal() -> None:
        journal = RedisJournal(redis_server.url, domain="idfm-overflow", archive_dir=tmp_path)
        await journal.open()
        await journal.close()

    anyio.run(a_journal)
    keys = keys_of("idfm-overflow")
    with redis.Redis.from_url(redis_server.url) as client:  # as the earlier version stores
        client.hset(keys.personal, "7", msgspec.msgpack.encode((b"salt", b'{"text":"x"}')))
        client.zadd(keys.personal_stored, {"7": 1})
    for command in (
        ("retention",),
        ("subject", "search", "--email", "jeanne@example.org"),
        ("export-all", "--output", str(tmp_path / "export")),  # it would leave the record out
    ):
        done = cli(*command, "--config", config, "--store", redis_server.url, cwd=tmp_path)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        said = " ".join(done.stderr.split())
        assert "(interactions: 1)" in said, said
        assert "the leader is of an earlier version: run " in said, said
        assert "after the upgrade" in said, said
    with redis.Redis.from_url(redis_server.url) as client:
        assert client.hkeys(keys.personal) == [b"7"]
    assert not (tmp_path / "export").exists()
