"""The journal's head exported for the authority, and ``aiguillage report head-check``.

The hand-written month (``month_journal.py``) is written to a real SQLite file; its heads are
exported with ``aiguillage report head --append``, signed with the operator's key. The journal
is then cut short (its last records deleted from the file) or rewritten (an event altered and
the chain recomputed after it, so the chain alone is sound): head-check refuses each, naming
the first head the journal no longer holds.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aiguillage.adapters.reports.heads import (
    ExportedHead,
    HeadCheck,
    HeadFileError,
    head_line,
    next_export,
    read_heads,
)
from aiguillage.adapters.stores.journal import GENESIS
from tests.adapters.reports.month_journal import Month, written_month
from tests.adapters.reports.test_penalties import RULES, config_with, run
from tests.adapters.reports.test_verify import (
    rehash,
    respond_to_social_in_time_no_more,
    write_key,
)

PARIS = ZoneInfo("Europe/Paris")


def paris(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=PARIS)


def test_the_next_export_is_today_s_when_still_to_come() -> None:
    assert next_export(paris("2027-01-05T00:04:59"), "00:05", PARIS) == paris("2027-01-05T00:05")


def test_the_next_export_is_tomorrow_s_once_today_s_has_passed() -> None:
    assert next_export(paris("2027-01-05T00:05"), "00:05", PARIS) == paris("2027-01-06T00:05")


def test_the_next_export_keeps_local_time_across_the_change_to_summer_time() -> None:
    # 28 March 2027: Paris goes from UTC+1 to UTC+2 at 02:00; 00:05 is 23:05 UTC, then 22:05.
    after = next_export(paris("2027-03-28T12:00"), "00:05", PARIS)
    assert after.astimezone(UTC) == datetime(2027, 3, 28, 22, 5, tzinfo=UTC)


def test_a_head_line_is_sorted_json_with_its_offset(tmp_path: Path) -> None:
    line = head_line(1042, "ab" * 32, paris("2027-01-05T00:05"), None)
    assert line == (
        b'{"at":"2027-01-05T00:05:00+01:00","hash":"' + b"ab" * 32 + b'","position":1042}'
    )


def test_a_line_that_is_not_a_head_is_refused_naming_it(tmp_path: Path) -> None:
    file = tmp_path / "heads.jsonl"
    good = head_line(3, "cd" * 32, paris("2027-01-05T00:05"), None)
    file.write_bytes(good + b"\n" + b'{"position": 4, "hash": "nope", "at": "x"}\n')
    with pytest.raises(HeadFileError, match=r"heads.jsonl:2: hash: not 64 hexadecimal"):
        read_heads(file)


def test_a_signed_head_altered_after_signing_is_named(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    line = head_line(3, "cd" * 32, paris("2027-01-05T00:05"), key)
    file = tmp_path / "heads.jsonl"
    file.write_bytes(line.replace(b'"position":3', b'"position":2') + b"\n")
    (head,) = read_heads(file)
    assert head.signature_problem is not None
    assert "changed after it was signed" in head.signature_problem


def test_position_zero_is_the_genesis_of_every_journal() -> None:
    head = ExportedHead(position=0, hash=GENESIS, at="2027-01-05T00:05:00+01:00")
    assert HeadCheck([head]).problems() == []


@pytest.fixture(scope="module")
def month() -> Month:
    return written_month()


@pytest.fixture(scope="module")
def place(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("heads")
    month.write(place / "journal.sqlite")
    (place / "keys").mkdir()
    write_key(Ed25519PrivateKey.generate(), place / "keys/reports.pem", place / "operator.pub")
    rules = RULES + '\n[reports]\nsigning_key = "keys/reports.pem"\n'
    (place / "config.toml").write_text(config_with(rules), encoding="utf-8")
    return place


def store(path: Path) -> str:
    return f"sqlite:///{path}"


def last_seq(journal: Path) -> int:
    with sqlite3.connect(journal) as connection:
        (last,) = connection.execute("SELECT max(seq) FROM events").fetchone()
    return int(last)


@pytest.fixture
def exported(place: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the journal, and a file with two heads of it: one five events before its end
    (exported as if on the day before), and its end."""
    journal = tmp_path / "journal.sqlite"
    shutil.copy(place / "journal.sqlite", journal)
    end = last_seq(journal)
    with sqlite3.connect(journal) as connection:
        (earlier,) = connection.execute(
            "SELECT hash FROM events WHERE seq = ?", (end - 5,)
        ).fetchone()
    heads = tmp_path / "heads.jsonl"
    heads.write_bytes(head_line(end - 5, earlier, paris("2027-04-01T00:05"), None) + b"\n")
    done = run(place, "head", "--store", store(journal), "--append", str(heads))
    assert done.returncode == 0, done.stderr
    return journal, heads


def test_report_head_prints_the_signed_head_and_appends_it(
    place: Path, exported: tuple[Path, Path]
) -> None:
    journal, heads = exported
    done = run(place, "head", "--store", store(journal))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    with sqlite3.connect(journal) as connection:
        seq, hash = connection.execute(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert (printed["position"], printed["hash"]) == (seq, hash)
    assert printed["signature"]["algorithm"] == "Ed25519"
    appended = json.loads(heads.read_text().splitlines()[-1])
    assert (appended["position"], appended["hash"]) == (seq, hash)


def test_head_check_accepts_the_journal_that_holds_every_head(
    place: Path, exported: tuple[Path, Path]
) -> None:
    journal, heads = exported
    done = run(
        place, "head-check", str(heads), "--store", store(journal), "--public-key", "operator.pub"
    )
    # The first head was written by hand, unsigned: with the operator's key that is refused.
    assert done.returncode == 1
    assert "line 1:" in done.stdout
    assert "not signed" in done.stdout
    done = run(place, "head-check", str(heads), "--store", store(journal))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"the journal holds all 2 heads (the latest: event {last_seq(journal)}" in done.stdout


def test_head_check_names_the_first_head_of_a_journal_cut_short(
    place: Path, exported: tuple[Path, Path]
) -> None:
    journal, heads = exported
    end = last_seq(journal)
    with sqlite3.connect(journal) as connection:
        connection.execute("DELETE FROM events WHERE seq > ?", (end - 2,))
    done = run(place, "head-check", str(heads), "--store", store(journal))
    assert done.returncode == 1
    assert (
        f"REFUSED: 1 of 2 heads not held by the journal (it ends at event {end - 2}); "
        f"the first: line 2: the head exported at "
    ) in done.stdout
    assert f"(event {end}, hash " in done.stdout
    assert "it was cut short since this head was exported" in done.stdout


def test_head_check_names_a_head_whose_journal_was_rewritten_with_a_sound_chain(
    place: Path, month: Month, exported: tuple[Path, Path]
) -> None:
    journal, heads = exported
    end = last_seq(journal)
    altered = respond_to_social_in_time_no_more(journal, month.ids["s2"])
    assert altered <= end - 5
    rehash(journal)
    assert run(place, "head", "--store", store(journal)).returncode == 0  # the chain holds
    done = run(place, "head-check", str(heads), "--store", store(journal))
    assert done.returncode == 1
    first = next(line for line in done.stdout.splitlines() if line.startswith("DIFFERS"))
    assert first.startswith(
        f"DIFFERS line 1: the head exported at 2027-04-01T00:05:00+02:00 (event {end - 5}, hash "
    )
    assert first.endswith("the journal up to it was rewritten")
