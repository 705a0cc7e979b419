"""Signed reports, and ``aiguillage report verify`` recomputing them from a real SQLite journal.

The hand-written month (``month_journal.py``) is the journal; the operator's configuration
names an Ed25519 key; the authority holds its public half. An event altered in the journal, a
journal cut short, a report altered after it was signed, or signed with another key: each is
refused, naming what differs.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aiguillage.adapters.stores.journal import chain_hash
from tests.adapters.reports.month_journal import Month, written_month
from tests.adapters.reports.test_penalties import RULES, config_with, run


def write_key(key: Ed25519PrivateKey, private: Path, public: Path) -> None:
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


@pytest.fixture(scope="module")
def month() -> Month:
    return written_month()


@pytest.fixture(scope="module")
def place(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("verify")
    month.write(place / "journal.sqlite")
    (place / "keys").mkdir()
    write_key(Ed25519PrivateKey.generate(), place / "keys/reports.pem", place / "operator.pub")
    rules = RULES + '\n[reports]\nsigning_key = "keys/reports.pem"\n'
    (place / "config.toml").write_text(config_with(rules), encoding="utf-8")
    return place


def store(path: Path) -> str:
    return f"sqlite:///{path}"


def written(place: Path, name: str, *args: str) -> Path:
    done = run(place, *args, "--format", "json", "--store", store(place / "journal.sqlite"))
    assert done.returncode == 0, done.stderr
    target = place / name
    target.write_text(done.stdout, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def statement(place: Path) -> Path:
    return written(place, "penalties-2027-03.json", "penalties", "--month", "2027-03")


@pytest.fixture(scope="module")
def report(place: Path) -> Path:
    return written(place, "report-2027-03.json", "month", "--month", "2027-03", "--language", "en")


def verify(place: Path, file: Path, journal: Path, *more: str) -> Any:
    return run(place, "verify", str(file), "--store", store(journal), *more)


def test_a_signed_statement_and_report_match_the_journal(
    place: Path, statement: Path, report: Path
) -> None:
    for file, kind in ((statement, "penalty statement"), (report, "month's report")):
        done = verify(place, file, place / "journal.sqlite", "--public-key", "operator.pub")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "signature sound (the key given)" in done.stdout
        assert f"{kind}, journal up to event" in done.stdout
        assert done.stdout.rstrip().endswith("matches the journal")
        assert "DIFFERS" not in done.stdout
    signature = json.loads(statement.read_text())["signature"]
    assert signature["algorithm"] == "Ed25519"


def test_an_event_altered_in_the_journal_is_refused(
    place: Path, statement: Path, month: Month, tmp_path: Path
) -> None:
    altered = tmp_path / "altered.sqlite"
    shutil.copy(place / "journal.sqlite", altered)
    seq = respond_to_social_in_time_no_more(altered, month.ids["s2"])
    done = verify(place, statement, altered)
    assert done.returncode == 1
    assert f"event {seq}: its hash does not match its content" in done.stdout
    # s2 no longer in time: social's service level falls to 1 / 3, and its line rises.
    assert "lines[2].service_level: the report says 0.6666666666666666" in done.stdout
    assert "REFUSED" in done.stdout


def test_an_altered_journal_rehashed_throughout_is_refused_by_its_head_hash(
    place: Path, statement: Path, month: Month, tmp_path: Path
) -> None:
    altered = tmp_path / "rehashed.sqlite"
    shutil.copy(place / "journal.sqlite", altered)
    respond_to_social_in_time_no_more(altered, month.ids["s2"])
    rehash(altered)
    done = verify(place, statement, altered)
    assert done.returncode == 1
    assert "the journal up to it is not the one the report was computed from" in done.stdout
    assert "hash does not match" not in done.stdout  # the chain itself holds
    assert "lines[2].amount_cents" in done.stdout


def test_a_journal_cut_short_is_refused(place: Path, report: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.sqlite"
    shutil.copy(place / "journal.sqlite", cut)
    with sqlite3.connect(cut) as connection:
        (last,) = connection.execute("SELECT max(seq) FROM events").fetchone()
        connection.execute("DELETE FROM events WHERE seq > ?", (last - 5,))
    done = verify(place, report, cut)
    assert done.returncode == 1
    assert f"it ends at event {last - 5}, and the report read up to event {last}" in done.stdout


def test_a_report_altered_after_it_was_signed_is_refused(
    place: Path, statement: Path, tmp_path: Path
) -> None:
    document = json.loads(statement.read_text())
    document["total_cents"] = 90_000
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(document))
    done = verify(place, changed, place / "journal.sqlite")
    assert done.returncode == 1
    assert "signature: the signature does not match the report" in done.stdout
    assert "total_cents: the report says 90000, the journal gives 100000" in done.stdout


def test_a_report_signed_with_another_key_is_refused(
    place: Path, statement: Path, tmp_path: Path
) -> None:
    write_key(Ed25519PrivateKey.generate(), tmp_path / "other.pem", tmp_path / "other.pub")
    done = verify(place, statement, place / "journal.sqlite", "--public-key",
                  str(tmp_path / "other.pub"))  # fmt: skip
    assert done.returncode == 1
    assert "signed with another key than the public key given" in done.stdout


def test_an_unsigned_report_is_refused_when_a_key_is_given(
    place: Path, statement: Path, tmp_path: Path
) -> None:
    document = json.loads(statement.read_text())
    del document["signature"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(document))
    alone = verify(place, bare, place / "journal.sqlite")
    assert alone.returncode == 0, alone.stdout
    assert "not signed (only its figures are checked)" in alone.stdout
    given = verify(place, bare, place / "journal.sqlite", "--public-key", "operator.pub")
    assert given.returncode == 1
    assert "signature: the report is not signed" in given.stdout


def test_a_file_that_is_no_report_is_said_plainly(place: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    done = verify(place, other, place / "journal.sqlite")
    assert done.returncode == 1
    assert "neither a month's report" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_signing_key_that_cannot_be_read_names_the_setting(place: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_with(RULES + '\n[reports]\nsigning_key = "none.pem"\n'), "utf-8")
    done = run(place, "month", "--month", "2027-03", "--format", "json", "--config", str(config),
               "--store", store(place / "journal.sqlite"))  # fmt: skip
    assert done.returncode == 1
    assert "config.toml: reports.signing_key: cannot read" in done.stderr


# -- altering a journal ----------------------------------------------------------------------------


def respond_to_social_in_time_no_more(path: Path, interaction_id: int) -> int:
    """Turn s2's response, in time, into one late, in the file; return its seq."""
    with sqlite3.connect(path) as connection:
        seq, body = connection.execute(
            "SELECT seq, CAST(body AS BLOB) FROM events WHERE interaction_id = ? "
            "AND type = 'interaction.responded'",
            (interaction_id,),
        ).fetchone()
        assert b'"within_sla":true' in body
        connection.execute(
            "UPDATE events SET body = ? WHERE seq = ?",
            (body.replace(b'"within_sla":true', b'"within_sla":false'), seq),
        )
    return int(seq)


def rehash(path: Path) -> None:
    """Rewrite every hash of the chain so that it holds again (a forger's last step)."""
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM snapshot_seals").fetchone() == (0,)
        previous = "0" * 64
        rows = connection.execute("SELECT seq, CAST(body AS BLOB) FROM events ORDER BY seq")
        for seq, body in rows.fetchall():
            previous = chain_hash(previous, seq, body)
            connection.execute("UPDATE events SET hash = ? WHERE seq = ?", (previous, seq))
