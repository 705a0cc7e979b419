"""The SQLite journal on real files: durable batches, recovery, one writer, a verifiable chain."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from aiguillage.adapters.stores.journal import (
    CHANNEL_STATE_LIMIT,
    GENESIS,
    InteractionView,
    JournalCorrupt,
    JournalError,
    JournalFormatError,
    JournalLocked,
    JournalUnavailable,
    chain_hash,
    encode_event,
    encode_record,
)
from aiguillage.adapters.stores.snapshot_seals import SnapshotSeal, encode_seal, seal_hash, sha256
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal, backup, verify_file
from aiguillage.engine import events

pytestmark = pytest.mark.anyio

T0 = 1_796_112_000_000_000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite"


@pytest.fixture
async def journal(path: Path) -> AsyncIterator[SQLiteJournal]:
    journal = SQLiteJournal(path)
    await journal.open()
    yield journal
    await journal.close()


def arrived(interaction_id: int, external_id: str = "", at: int = T0) -> events.Event:
    return events.InteractionArrived(
        at=at,
        interaction_id=interaction_id,
        channel="social",
        source="x",
        external_id=external_id or f"post-{interaction_id}",
        motive=None,
        language="fr",
        skills={"general": 1},
        priority=1,
        typology=None,
        received_at=at,
        deadline=at + 3_600_000_000,
        warning_at=at + 3_000_000_000,
    )


def closed(interaction_id: int, at: int = T0) -> events.Event:
    return events.InteractionClosed(at=at, interaction_id=interaction_id)


def batch(first_id: int, count: int) -> list[events.Event]:
    return [arrived(first_id + n, at=T0 + n) for n in range(count)]


def view(interaction_id: int, source: str, external_id: str, accepted_at: int) -> InteractionView:
    body = f'{{"id": {interaction_id}}}'.encode()
    return InteractionView(interaction_id, source, external_id, accepted_at, body)


@pytest.fixture
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection to the file, as an operator (or an intruder) would have."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        yield connection


async def test_an_append_returns_the_last_seq_of_its_batch(journal: SQLiteJournal) -> None:
    assert await journal.append(batch(1, 3), []) == 3
    assert await journal.append(batch(4, 2), []) == 5


async def test_reopening_gives_back_the_same_records_seqs_and_hashes(path: Path) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 3), [])
    await journal.append([closed(2), arrived(4)], [])
    written = await journal.records_after(0, 100)
    await journal.close()

    again = SQLiteJournal(path)
    recovery = await again.open()
    await again.close()
    assert recovery.records == written
    assert [r.seq for r in recovery.records] == [1, 2, 3, 4, 5]
    assert recovery.records[3].event == closed(2)
    assert (recovery.image, recovery.image_seq) == (None, 0)
    assert (recovery.last_seq, recovery.last_hash) == (5, written[-1].hash)


async def test_the_hashes_chain_each_record_to_the_one_before(journal: SQLiteJournal) -> None:
    await journal.append(batch(1, 3), [])
    previous = GENESIS
    for record in await journal.records_after(0, 10):
        body = encode_record(record.event, record.by)
        assert record.hash == chain_hash(previous, record.seq, body)
        previous = record.hash


async def test_records_after_pages_through_the_journal(journal: SQLiteJournal) -> None:
    await journal.append(batch(1, 5), [])
    assert [r.seq for r in await journal.records_after(2, 2)] == [3, 4]
    assert await journal.records_after(5, 10) == []


async def test_the_history_of_an_interaction_is_its_records(journal: SQLiteJournal) -> None:
    await journal.append([arrived(1), arrived(2), closed(1)], [])
    assert [r.seq for r in await journal.history(1)] == [1, 3]


async def test_recovery_is_the_latest_snapshot_and_only_the_tail(path: Path) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 5), [])
    await journal.save_snapshot(5, b"engine after 5")
    await journal.append(batch(6, 3), [])
    await journal.close()

    again = SQLiteJournal(path)
    recovery = await again.open()
    await again.close()
    assert (recovery.image, recovery.image_seq) == (b"engine after 5", 5)
    assert [r.seq for r in recovery.records] == [6, 7, 8]
    assert recovery.last_seq == 8


async def test_only_the_last_two_snapshots_are_kept(
    journal: SQLiteJournal, raw: sqlite3.Connection
) -> None:
    await journal.append(batch(1, 6), [])
    for seq in (2, 4, 6):
        await journal.save_snapshot(seq, f"after {seq}".encode())
    assert raw.execute("SELECT seq FROM snapshots ORDER BY seq").fetchall() == [(4,), (6,)]


async def test_a_snapshot_that_does_not_match_its_event_is_passed_over(path: Path) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 6), [])
    await journal.save_snapshot(3, b"after 3")
    await journal.save_snapshot(6, b"after 6")
    await journal.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("UPDATE snapshots SET hash = ? WHERE seq = 6", ("f" * 64,))

    again = SQLiteJournal(path)
    recovery = await again.open()
    await again.close()
    assert (recovery.image, recovery.image_seq) == (b"after 3", 3)
    assert [r.seq for r in recovery.records] == [4, 5, 6]
    assert recovery.notes == ["snapshot 6 passed over: it does not match event 6"]


async def test_an_image_changed_after_its_seal_is_refused_logged_and_named_by_verify(
    path: Path,
) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 6), [])
    await journal.save_snapshot(3, b"after 3")
    await journal.save_snapshot(6, b"after 6")
    await journal.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        # What an intruder with the file does: rewrite the image (a deadline moved, say).
        raw.execute("UPDATE snapshots SET image = ? WHERE seq = 6", (b"after 6, altered",))

    again = SQLiteJournal(path)
    with capture_logs() as logs:
        recovery = await again.open()
    await again.close()
    assert (recovery.image, recovery.image_seq) == (b"after 3", 3)
    assert [r.seq for r in recovery.records] == [4, 5, 6]
    assert len(recovery.notes) == 1
    assert recovery.notes[0].startswith("snapshot 6 passed over: its image (SHA-256")
    assert "changed after it was written" in recovery.notes[0]
    refused = [line for line in logs if line["event"].startswith("snapshot refused")]
    assert [(line["log_level"], line["seq"]) for line in refused] == [("error", 6)]

    result = verify_file(path)
    assert (result.ok, result.checked, result.first_break) == (False, 6, None)
    assert "but snapshot 6: its image" in result.reason
    assert result.snapshots[0] == "snapshot 3: sealed in the chain, its image matches"
    assert result.snapshots[1].startswith("snapshot 6: its image (SHA-256")


async def test_a_seal_rewritten_to_vouch_for_a_changed_image_breaks_the_chain(
    path: Path,
) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 4), [])
    await journal.save_snapshot(4, b"after 4")
    await journal.append(batch(5, 2), [])
    await journal.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("UPDATE snapshots SET image = ? WHERE seq = 4", (b"after 4, altered",))
        ((event_hash,),) = raw.execute("SELECT hash FROM events WHERE seq = 4").fetchall()
        forged = encode_seal(SnapshotSeal(4, event_hash, sha256(b"after 4, altered")))
        raw.execute(
            "UPDATE snapshot_seals SET body = ?, hash = ?",
            (forged, seal_hash(event_hash, forged)),
        )
    result = verify_file(path)
    assert (result.ok, result.checked, result.first_break) == (False, 4, 5)
    assert "or the snapshot seal before it changed" in result.reason
    with pytest.raises(JournalCorrupt, match="event 5: its hash does not match"):
        await SQLiteJournal(path).open()


async def test_records_chain_to_the_seal_before_them_and_recovery_resumes_past_it(
    path: Path,
) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 5), [])
    await journal.save_snapshot(3, b"after 3")  # written while 4 and 5 were appended
    await journal.append(batch(6, 1), [])
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        ((after, link_hash),) = raw.execute("SELECT after_seq, hash FROM snapshot_seals")
    assert after == 5
    (sixth,) = await journal.records_after(5, 1)
    assert sixth.hash == chain_hash(link_hash, 6, encode_record(sixth.event, sixth.by))
    await journal.close()

    again = SQLiteJournal(path)
    recovery = await again.open()
    assert (recovery.image, recovery.image_seq) == (b"after 3", 3)
    assert [r.seq for r in recovery.records] == [4, 5, 6]
    assert recovery.last_hash == sixth.hash
    await again.save_snapshot(6, b"after 6")  # the chain now ends with its seal
    await again.close()
    last = SQLiteJournal(path)
    recovery = await last.open()
    assert (recovery.image, recovery.records) == (b"after 6", [])
    await last.append(batch(7, 1), [])  # chained to that seal
    await last.close()
    result = verify_file(path)
    assert (result.ok, result.checked) == (True, 7), result.reason
    assert result.snapshots == [
        "snapshot 3: sealed in the chain, its image matches",
        "snapshot 6: sealed in the chain, its image matches",
    ]


async def test_a_journal_of_format_1_is_read_and_its_unsealed_snapshot_passed_over(
    path: Path,
) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 4), [])
    await journal.save_snapshot(4, b"after 4")
    await journal.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:  # as the last version wrote
        raw.execute("DROP TABLE snapshot_seals")
        raw.execute("UPDATE meta SET value = '1' WHERE key = 'journal_format'")
    result = verify_file(path)
    assert (result.ok, result.checked) == (True, 4)
    assert result.snapshots[0].startswith("snapshot 4: no seal in the chain vouches for it")

    again = SQLiteJournal(path)
    with capture_logs() as logs:
        recovery = await again.open()
    await again.close()
    assert (recovery.image, [r.seq for r in recovery.records]) == (None, [1, 2, 3, 4])
    assert [line["log_level"] for line in logs if line.get("seq") == 4] == ["warning"]
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        assert raw.execute("SELECT value FROM meta WHERE key = 'journal_format'").fetchone() == (
            "2",
        )


async def test_a_snapshot_after_a_record_not_yet_written_is_refused(
    journal: SQLiteJournal,
) -> None:
    await journal.append(batch(1, 2), [])
    with pytest.raises(ValueError, match="no record 3 to snapshot after"):
        await journal.save_snapshot(3, b"too early")


async def test_a_second_writer_is_refused_with_the_pid_of_the_first(
    journal: SQLiteJournal, path: Path
) -> None:
    second = SQLiteJournal(path)
    with pytest.raises(JournalLocked, match=rf"journal\.sqlite\.lock .*PID {os.getpid()}\)"):
        await second.open()
    await second.close()


HOLDER = """
import sys, anyio
from pathlib import Path
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal

async def main() -> None:
    journal = SQLiteJournal(Path(sys.argv[1]))
    await journal.open()
    print("open", flush=True)
    sys.stdin.readline()
    await journal.close()

anyio.run(main)
"""


async def test_a_daemon_in_another_process_is_named_by_its_pid(path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=environment,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        assert holder.stdout.readline() == "open\n"
        with pytest.raises(JournalLocked, match=rf"\(PID {holder.pid}\)"):
            await SQLiteJournal(path).open()
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.close()


async def test_the_lock_is_released_on_close(journal: SQLiteJournal, path: Path) -> None:
    await journal.close()
    second = SQLiteJournal(path)
    await second.open()
    await second.close()


async def test_a_changed_body_is_named_by_verify_and_refused_by_recovery(
    journal: SQLiteJournal, raw: sqlite3.Connection, path: Path
) -> None:
    await journal.append(batch(1, 6), [])
    raw.execute("UPDATE events SET body = ? WHERE seq = 4", (encode_event(arrived(99)),))

    for result in (await journal.verify(), verify_file(path)):
        assert (result.ok, result.checked, result.first_break) == (False, 3, 4)
        assert result.reason == (
            "event 4: its hash does not match its content "
            "(it or event 3 changed after it was written)"
        )
    await journal.close()
    with pytest.raises(JournalCorrupt, match="event 4: its hash does not match"):
        await SQLiteJournal(path).open()


async def test_a_body_rewritten_as_text_in_sql_is_named_not_a_crash(
    journal: SQLiteJournal, raw: sqlite3.Connection, path: Path
) -> None:
    await journal.append(batch(1, 3), [])
    raw.execute("UPDATE events SET body = replace(body, 'post-2', 'post-9') WHERE seq = 2")
    assert raw.execute("SELECT typeof(body) FROM events WHERE seq = 2").fetchone() == ("text",)
    assert verify_file(path).first_break == 2
    assert (await journal.verify()).first_break == 2


async def test_a_rewritten_hash_breaks_the_chain_at_the_next_event(
    journal: SQLiteJournal, raw: sqlite3.Connection, path: Path
) -> None:
    await journal.append(batch(1, 6), [])
    (previous,) = raw.execute("SELECT hash FROM events WHERE seq = 3").fetchone()
    forged = encode_record(arrived(4, external_id="forged", at=T0 + 3), None)
    raw.execute(
        "UPDATE events SET body = ?, hash = ? WHERE seq = 4",
        (forged, chain_hash(previous, 4, forged)),
    )
    result = verify_file(path)
    assert (result.checked, result.first_break) == (4, 5)
    assert "(it or event 4 changed after it was written)" in result.reason


async def test_a_deleted_event_is_named_as_a_gap(
    journal: SQLiteJournal, raw: sqlite3.Connection, path: Path
) -> None:
    await journal.append(batch(1, 6), [])
    raw.execute("DELETE FROM events WHERE seq = 4")
    result = verify_file(path)
    assert (result.ok, result.checked, result.first_break) == (False, 3, 4)
    assert result.reason == "event 4 missing: the sequence jumps from 3 to 5"


async def test_a_changed_column_is_named_by_verify(
    journal: SQLiteJournal, raw: sqlite3.Connection
) -> None:
    await journal.append(batch(1, 3), [])
    raw.execute("UPDATE events SET interaction_id = 42 WHERE seq = 2")
    result = await journal.verify()
    assert result.first_break == 2
    assert "columns (at, type, interaction_id) do not match its body" in result.reason


async def test_an_unknown_event_format_is_refused_on_open_and_named_by_verify(
    journal: SQLiteJournal, raw: sqlite3.Connection, path: Path
) -> None:
    await journal.append(batch(1, 4), [])
    raw.execute("UPDATE events SET format = 3 WHERE seq = 3")
    assert (
        verify_file(path).reason == "event 3: format 3 is unknown to this version (reads 1 and 2)"
    )
    await journal.close()
    with pytest.raises(
        JournalFormatError, match=r"event 3: format 3 is unknown.*\(reads 1 and 2\)"
    ):
        await SQLiteJournal(path).open()


async def test_an_unknown_journal_format_is_refused_with_what_to_do(path: Path) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("UPDATE meta SET value = '3' WHERE key = 'journal_format'")
    with pytest.raises(
        JournalFormatError,
        match=r"journal format 3 is unknown to this version \(reads up to 2\); run the version",
    ):
        await SQLiteJournal(path).open()
    with pytest.raises(JournalFormatError, match="journal format 3"):
        verify_file(path)


async def test_an_append_blocked_past_the_busy_timeout_is_unavailable_and_leaves_nothing(
    path: Path,
) -> None:
    journal = SQLiteJournal(path, busy_timeout_s=0.2)
    await journal.open()
    await journal.append(batch(1, 2), [])
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(JournalUnavailable, match="database is locked"):
            await journal.append(batch(3, 2), [view(3, "x", "post-3", T0)])
        other.execute("ROLLBACK")
        assert other.execute("SELECT max(seq) FROM events").fetchone() == (2,)
        assert other.execute("SELECT count(*) FROM interactions").fetchone() == (0,)
    with pytest.raises(JournalUnavailable, match="close the journal and open it again"):
        await journal.append(batch(3, 1), [])
    await journal.close()

    again = SQLiteJournal(path)
    recovery = await again.open()
    assert recovery.last_seq == 2
    assert await again.append(batch(3, 2), []) == 4
    assert (await again.verify()).ok
    await again.close()


async def test_a_disk_full_midway_through_a_batch_leaves_nothing_of_it(path: Path) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 2), [])
    # SQLite's own way to fill the disk on demand: no more pages than the file has now.
    # max_page_count belongs to one connection, so it has to be the journal's.
    connection = journal._connection
    assert connection is not None
    (pages,) = connection.execute("PRAGMA page_count").fetchone()
    connection.execute(f"PRAGMA max_page_count = {pages}")
    too_big = InteractionView(3, "x", "post-3", T0, b"x" * 100_000)
    with pytest.raises(JournalUnavailable, match="full"):
        await journal.append(batch(3, 2), [too_big])
    await journal.close()

    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("SELECT max(seq) FROM events").fetchone() == (2,)
        assert raw.execute("SELECT count(*) FROM interactions").fetchone() == (0,)
    again = SQLiteJournal(path)
    await again.open()
    assert await again.append(batch(3, 1), [too_big]) == 3
    assert await again.view(3) == too_big.body
    await again.close()


async def test_an_upserted_view_is_read_back_and_replaced(journal: SQLiteJournal) -> None:
    await journal.append([arrived(1)], [view(1, "x", "post-1", T0)])
    assert await journal.view(1) == b'{"id": 1}'
    replaced = InteractionView(1, "x", "post-1", T0, b'{"id": 1, "state": "closed"}')
    await journal.append([closed(1)], [replaced])
    assert await journal.view(1) == replaced.body
    assert await journal.view(2) is None


async def test_an_external_key_is_found_only_within_the_window(journal: SQLiteJournal) -> None:
    await journal.append([], [view(1, "x", "post-1", T0), view(2, "email", "post-1", T0 + 5)])
    assert await journal.find_external("x", "post-1", since=T0) == 1
    assert await journal.find_external("x", "post-1", since=T0 + 1) is None
    assert await journal.find_external("email", "post-1", since=T0) == 2
    assert await journal.find_external("x", "post-2", since=0) is None


async def test_recent_keys_are_those_received_since(journal: SQLiteJournal) -> None:
    views = [view(n, "x", f"post-{n}", T0 + n) for n in (1, 2, 3)]
    await journal.append([], views)
    assert await journal.recent_keys(T0 + 2) == [
        ("x", "post-2", 2, T0 + 2),
        ("x", "post-3", 3, T0 + 3),
    ]


async def test_a_backup_taken_while_open_verifies_and_recovers(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    await journal.append(batch(1, 4), [view(1, "x", "post-1", T0)])
    target = tmp_path / "backups" / "journal.sqlite"
    backup(journal.path, target)
    result = verify_file(target)
    assert (result.ok, result.checked) == (True, 4)

    restored = SQLiteJournal(target)
    recovery = await restored.open()
    assert recovery.records == await journal.records_after(0, 10)
    assert await restored.view(1) == b'{"id": 1}'
    await restored.close()


async def test_verification_reads_in_chunks_and_still_finds_a_late_break(
    journal: SQLiteJournal, raw: sqlite3.Connection, path: Path
) -> None:
    for first in range(1, 31, 3):
        await journal.append(batch(first, 3), [])
    assert verify_file(path, chunk_size=4) == (await journal.verify())
    assert verify_file(path, chunk_size=4).checked == 30
    raw.execute("UPDATE events SET body = ? WHERE seq = 27", (encode_event(arrived(99)),))
    result = verify_file(path, chunk_size=4)
    assert (result.checked, result.first_break) == (26, 27)


async def test_an_intact_chain_ends_at_the_last_hash(journal: SQLiteJournal, path: Path) -> None:
    assert verify_file(path).last_hash == GENESIS
    last = await journal.append(batch(1, 3), [])
    (record,) = await journal.records_after(last - 1, 1)
    result = verify_file(path)
    assert (result.ok, result.first_break, result.last_hash) == (True, None, record.hash)
    assert result.reason == "3 events checked: the chain is intact"


async def test_a_missing_file_is_not_verified(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="does not exist"):
        verify_file(tmp_path / "nowhere.sqlite")


async def test_a_channel_state_round_trips_is_replaced_and_survives_a_reopen(path: Path) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    assert await journal.channel_state("mail") is None
    await journal.save_channel_state("mail", b'{"uidvalidity": 7, "uid": 41}')
    await journal.save_channel_state("mail", b'{"uidvalidity": 7, "uid": 42}')
    await journal.save_channel_state("x", b"\x00\xff not text")
    assert await journal.channel_state("mail") == b'{"uidvalidity": 7, "uid": 42}'
    await journal.close()

    again = SQLiteJournal(path)
    await again.open()
    assert await again.channel_state("mail") == b'{"uidvalidity": 7, "uid": 42}'
    assert await again.channel_state("x") == b"\x00\xff not text"
    assert await again.channel_state("facebook") is None
    await again.close()


async def test_a_file_written_before_channel_states_gets_their_table_when_opened(
    path: Path,
) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    await journal.append(batch(1, 2), [])
    await journal.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:  # as the last version wrote
        raw.execute("DROP TABLE channel_states")

    again = SQLiteJournal(path)
    recovery = await again.open()
    assert recovery.last_seq == 2
    assert await again.channel_state("mail") is None
    await again.save_channel_state("mail", b"{}")
    assert await again.channel_state("mail") == b"{}"
    await again.close()
    assert verify_file(path).ok


async def test_a_channel_state_is_saved_only_by_the_writer_that_holds_the_journal(
    journal: SQLiteJournal, path: Path
) -> None:
    second = SQLiteJournal(path)
    with pytest.raises(JournalLocked):
        await second.open()
    with pytest.raises(JournalUnavailable, match="is not open"):
        await second.save_channel_state("mail", b"from the second daemon")
    await second.close()
    assert await journal.channel_state("mail") is None


async def test_a_writer_whose_append_failed_saves_no_channel_state_until_reopened(
    path: Path,
) -> None:
    journal = SQLiteJournal(path, busy_timeout_s=0.2)
    await journal.open()
    await journal.save_channel_state("mail", b"before")
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(JournalUnavailable, match="database is locked"):
            await journal.append(batch(1, 1), [])
        other.execute("ROLLBACK")
    with pytest.raises(JournalUnavailable, match="close the journal and open it again"):
        await journal.save_channel_state("mail", b"after the failure")
    await journal.close()

    again = SQLiteJournal(path)
    await again.open()
    assert await again.channel_state("mail") == b"before"
    await again.close()


async def test_a_channel_state_over_64_kib_is_refused_and_nothing_is_kept(
    journal: SQLiteJournal,
) -> None:
    await journal.save_channel_state("mail", b"x" * CHANNEL_STATE_LIMIT)
    with pytest.raises(JournalError, match=r"channel 'mail' is 65537 bytes, over the limit"):
        await journal.save_channel_state("mail", b"y" * (CHANNEL_STATE_LIMIT + 1))
    assert await journal.channel_state("mail") == b"x" * 65536
