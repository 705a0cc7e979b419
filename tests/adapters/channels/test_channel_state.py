"""A channel's typed state on a real SQLite journal: round trip, absence, reopen, a stale shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from aiguillage.adapters.channels.state import ChannelState, ChannelStateError
from aiguillage.adapters.stores.journal import JournalError, JournalUnavailable
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal

pytestmark = pytest.mark.anyio


class ImapCursor(msgspec.Struct, frozen=True):
    uidvalidity: int
    uid: int


class PageToken(msgspec.Struct, frozen=True):
    token: str


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
async def journal(path: Path) -> AsyncIterator[SQLiteJournal]:
    journal = SQLiteJournal(path)
    await journal.open()
    yield journal
    await journal.close()


async def test_a_state_reads_back_as_its_struct_and_survives_a_reopen(path: Path) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    mail = ChannelState(journal, "mail", ImapCursor)
    assert await mail.get() is None
    await mail.put(ImapCursor(uidvalidity=7, uid=41))
    await mail.put(ImapCursor(uidvalidity=7, uid=42))
    assert await mail.get() == ImapCursor(uidvalidity=7, uid=42)
    assert await journal.channel_state("mail") == b'{"uidvalidity":7,"uid":42}'
    await journal.close()

    again = SQLiteJournal(path)
    await again.open()
    try:
        assert await ChannelState(again, "mail", ImapCursor).get() == ImapCursor(7, 42)
    finally:
        await again.close()


async def test_channels_keep_their_states_apart(journal: SQLiteJournal) -> None:
    mail = ChannelState(journal, "mail", ImapCursor)
    facebook = ChannelState(journal, "facebook", PageToken)
    await mail.put(ImapCursor(1, 2))
    await facebook.put(PageToken("QVFIU"))
    assert await mail.get() == ImapCursor(1, 2)
    assert await facebook.get() == PageToken("QVFIU")


async def test_a_state_that_no_longer_decodes_is_an_error_naming_the_channel(
    journal: SQLiteJournal,
) -> None:
    await ChannelState(journal, "facebook", PageToken).put(PageToken("QVFIU"))
    with pytest.raises(ChannelStateError, match=r"channel 'facebook' is not a ImapCursor"):
        await ChannelState(journal, "facebook", ImapCursor).get()
    await journal.save_channel_state("mail", b"not json")
    with pytest.raises(ChannelStateError, match="channel 'mail'"):
        await ChannelState(journal, "mail", ImapCursor).get()


async def test_the_journal_refuses_what_it_refuses_for_raw_states(
    journal: SQLiteJournal, path: Path
) -> None:
    huge = ChannelState(journal, "x", PageToken)
    with pytest.raises(JournalError, match="over the limit"):
        await huge.put(PageToken("t" * 70_000))
    assert await huge.get() is None
    second = SQLiteJournal(path)  # not open: it does not hold the journal
    with pytest.raises(JournalUnavailable, match="is not open"):
        await ChannelState(second, "x", PageToken).put(PageToken("t"))
