"""The intake's mailbox against a real Dovecot: login, new mail by UID, moves, IDLE, UIDVALIDITY.

Mail is delivered by the test with APPEND over another connection, as a mail server would.
XOAUTH2 is tried against Dovecot's oauth2 passdb, which asks a token introspection endpoint
of the test's own (no network beyond loopback); the SASL string is also checked as a unit
against Google's published example. A refused token gets an error challenge before the ``NO``:
the refusal must be an authentication error, not a hang.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from aiguillage.adapters.channels.mail.imap import (
    Fetched,
    Mailbox,
    MailboxAuthError,
    MailboxError,
    mutf7,
    parse_fetch,
    parse_internaldate,
    xoauth2,
)
from tests.adapters.channels.mail.dovecot import Dovecot, Introspection, certificates
from tests.adapters.daemons import free_port

pytestmark = pytest.mark.anyio


def message(subject: str, date: str = "Mon, 1 Jan 2001 00:00:00 +0000") -> bytes:
    return (
        f"From: client@example.org\r\nTo: support@example.com\r\nDate: {date}\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n\r\nHello.\r\n"
    ).encode()


def mailbox_of(server: Dovecot, **options: Any) -> Mailbox:
    return Mailbox(server.host, server.port, tls=False, user="agent", password="secret", **options)


@pytest.fixture
async def mailbox(dovecot: Dovecot) -> AsyncIterator[Mailbox]:
    box = mailbox_of(dovecot)
    await box.connect()
    try:
        yield box
    finally:
        await box.close()


async def test_login_creates_the_folders_and_shows_the_uidvalidity(dovecot: Dovecot) -> None:
    box = mailbox_of(dovecot, processed="Traité", quarantine="Quarantine")
    await box.connect()
    try:
        assert box.connected
        assert box.uidvalidity == dovecot.uidvalidity()
        assert box.idles
    finally:
        await box.close()
    assert not box.connected
    assert dovecot.folders() == ["INBOX", "Quarantine", "Trait&AOk-"]
    await box.connect()  # the folders are there now: no second CREATE, no error
    await box.close()


@pytest.mark.parametrize(("user", "password"), [("agent", "wrong"), ("nobody", "secret")])
async def test_refused_credentials_raise_mailbox_auth_error(
    dovecot: Dovecot, user: str, password: str
) -> None:
    box = Mailbox(dovecot.host, dovecot.port, tls=False, user=user, password=password)
    with pytest.raises(MailboxAuthError):
        await box.connect()
    assert not box.connected


async def test_xoauth2_with_an_active_token_logs_in(
    dovecot_with: Callable[..., Dovecot], introspection: Introspection
) -> None:
    server = dovecot_with(oauth2_introspection=introspection.url)
    server.append(message("m0"))
    box = Mailbox(server.host, server.port, tls=False, user="agent", access_token="agent-token")
    await box.connect()
    try:
        assert introspection.asked == ["agent-token"]
        assert [m.raw for m in await box.new_mail(0)] == [message("m0")]
    finally:
        await box.close()


@pytest.mark.parametrize("token", ["expired-token", ""])
async def test_xoauth2_with_a_refused_token_is_an_auth_error(
    dovecot_with: Callable[..., Dovecot], introspection: Introspection, token: str
) -> None:
    server = dovecot_with(oauth2_introspection=introspection.url)
    box = Mailbox(server.host, server.port, tls=False, user="agent", access_token=token)
    with pytest.raises(MailboxAuthError, match="AUTHENTICATIONFAILED"):
        await asyncio.wait_for(box.connect(), 10)  # answering the error challenge: no hang
    assert not box.connected


async def test_xoauth2_where_the_server_lacks_it_is_an_auth_error(dovecot: Dovecot) -> None:
    box = Mailbox(dovecot.host, dovecot.port, tls=False, user="agent", access_token="agent-token")
    with pytest.raises(MailboxAuthError):
        await box.connect()


async def test_no_server_is_a_mailbox_error_not_an_auth_error() -> None:
    box = Mailbox("127.0.0.1", free_port(), tls=False, user="agent", password="secret")
    with pytest.raises(MailboxError) as raised:
        await box.connect()
    assert not isinstance(raised.value, MailboxAuthError)


async def test_implicit_tls_against_a_plain_server_fails_as_a_mailbox_error(
    dovecot: Dovecot,
) -> None:
    box = mailbox_of(dovecot, timeout_s=5.0)
    box.tls = True
    with pytest.raises(MailboxError) as raised:
        await box.connect()
    assert not isinstance(raised.value, MailboxAuthError)


async def test_implicit_tls_with_a_trusted_certificate(
    dovecot_with: Callable[..., Dovecot], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = certificates(tmp_path / "tls")
    server = dovecot_with(tls=tls)
    server.append(message("m0"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))  # the default context trusts the test CA
    box = Mailbox(server.host, server.tls_port, tls=True, user="agent", password="secret")
    await box.connect()
    try:
        assert [m.raw for m in await box.new_mail(0)] == [message("m0")]
    finally:
        await box.close()


async def test_an_untrusted_certificate_is_refused(
    dovecot_with: Callable[..., Dovecot], tmp_path: Path
) -> None:
    server = dovecot_with(tls=certificates(tmp_path / "tls"))
    box = Mailbox(server.host, server.tls_port, tls=True, user="agent", password="secret")
    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED") as raised:
        await box.connect()
    assert not isinstance(raised.value, MailboxAuthError)


def test_a_mailbox_needs_exactly_one_credential() -> None:
    with pytest.raises(ValueError, match="password"):
        Mailbox("h", 993, tls=True, user="u")
    with pytest.raises(ValueError, match="password"):
        Mailbox("h", 993, tls=True, user="u", password="p", access_token="t")


async def test_new_mail_after_a_uid_in_order_without_setting_seen(
    dovecot: Dovecot, mailbox: Mailbox
) -> None:
    uids = [dovecot.append(message(f"m{n}")) for n in range(4)]
    fetched = await mailbox.new_mail(uids[1])
    assert [m.uid for m in fetched] == uids[2:]
    assert [m.raw for m in fetched] == [message("m2"), message("m3")]
    assert all("\\Seen" not in dovecot.flags("INBOX", uid) for uid in uids)
    assert await mailbox.new_mail(uids[-1]) == []  # N:* names the last message: filtered out
    assert await mailbox.new_mail(uids[-1] + 10) == []


async def test_new_mail_comes_in_batches(dovecot: Dovecot) -> None:
    uids = [dovecot.append(message(f"m{n}")) for n in range(5)]
    box = mailbox_of(dovecot, batch=2)
    await box.connect()
    try:
        first = await box.new_mail(0)
        assert [m.uid for m in first] == uids[:2]
        assert await box.wait(30) is True  # a batch is left over: no waiting
        assert [m.uid for m in await box.new_mail(first[-1].uid)] == uids[2:4]
        assert [m.uid for m in await box.new_mail(uids[3])] == uids[4:]
    finally:
        await box.close()


async def test_internaldate_is_the_delivery_time_not_the_date_header(
    dovecot: Dovecot, mailbox: Mailbox
) -> None:
    delivered = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    dovecot.append(message("dated", date="Sat, 1 Jan 2000 12:00:00 -0800"), internaldate=delivered)
    [fetched] = await mailbox.new_mail(0)
    assert fetched.internaldate.tzinfo is not None
    assert fetched.internaldate == delivered


async def test_a_moved_message_leaves_the_inbox(dovecot: Dovecot, mailbox: Mailbox) -> None:
    kept, taken, refused = (dovecot.append(message(f"m{n}")) for n in range(3))
    assert await mailbox.move(taken, "Processed") is True  # a UID the session was not told of
    assert await mailbox.move(refused, "Quarantine") is True
    assert await mailbox.move(taken, "Processed") is False  # moved already
    assert dovecot.uids() == [kept]
    [processed] = dovecot.uids("Processed")
    assert dovecot.fetch("Processed", processed) == message("m1")
    assert len(dovecot.uids("Quarantine")) == 1
    assert [m.uid for m in await mailbox.new_mail(0)] == [kept]


@pytest.mark.parametrize(
    "capabilities", ["IMAP4rev1 IDLE UIDPLUS", "IMAP4rev1 IDLE"], ids=["uidplus", "plain"]
)
async def test_without_move_a_message_is_copied_then_expunged(
    dovecot_with: Callable[..., Dovecot], capabilities: str
) -> None:
    server = dovecot_with(f"imap_capability = {capabilities}")
    uids = [server.append(message(f"m{n}")) for n in range(3)]
    box = mailbox_of(server)
    await box.connect()
    try:
        assert not box._capable("MOVE")
        assert await box.move(uids[1], "Processed") is True
        if "UIDPLUS" in capabilities:
            assert await box.move(uids[1], "Processed") is False
    finally:
        await box.close()
    assert server.uids() == [uids[0], uids[2]]
    [moved] = server.uids("Processed")
    assert server.fetch("Processed", moved) == message("m1")


async def test_idle_wakes_soon_after_mail_arrives(dovecot: Dovecot) -> None:
    """Only IDLE can wake it: the time-out is 30 s. Dovecot batches its news for half a second."""
    box = mailbox_of(dovecot, poll_s=60.0)
    await box.connect()
    try:
        assert await box.new_mail(0) == []
        waiting = asyncio.create_task(box.wait(30))
        while not box.idling:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(dovecot.append, message("pushed"))
        appended = time.monotonic()
        assert await asyncio.wait_for(waiting, 30) is True
        assert time.monotonic() - appended < 2.0
        [fetched] = await box.new_mail(0)
        assert fetched.raw == message("pushed")
        assert await box.wait(0.3) is False  # nothing new: the time-out ends IDLE
        assert box.connected
    finally:
        await box.close()


async def test_mail_announced_during_a_fetch_is_not_waited_for(dovecot: Dovecot) -> None:
    """Mail delivered after new_mail's NOOP is announced during its search: wait returns."""
    box = mailbox_of(dovecot)
    await box.connect()
    try:
        await box.new_mail(0)
        await asyncio.to_thread(dovecot.append, message("late"))
        await box.move(999, "Processed")  # any command: the server announces the new mail
        assert await asyncio.wait_for(box.wait(30), 5) is True
        assert [m.raw for m in await box.new_mail(0)] == [message("late")]
    finally:
        await box.close()


async def test_without_idle_wait_polls(dovecot_with: Callable[..., Dovecot]) -> None:
    server = dovecot_with("imap_capability = IMAP4rev1 UIDPLUS MOVE")
    box = mailbox_of(server, poll_s=0.2)
    await box.connect()
    try:
        assert not box.idles
        await box.new_mail(0)
        assert await asyncio.wait_for(box.wait(30), 5) is True
        assert not box.idling
    finally:
        await box.close()


async def test_uidvalidity_changes_after_the_inbox_is_rebuilt(dovecot: Dovecot) -> None:
    dovecot.append(message("m0"))
    box = mailbox_of(dovecot)
    await box.connect()
    before = box.uidvalidity
    await box.close()
    dovecot.set_uidvalidity(before + 11)
    await box.connect()
    try:
        assert box.uidvalidity == before + 11
        assert [m.uid for m in await box.new_mail(0)] == [1]
    finally:
        await box.close()


async def test_a_rebuilt_inbox_under_a_connected_mailbox_is_an_error_then_a_new_uidvalidity(
    dovecot: Dovecot,
) -> None:
    dovecot.append(message("m0"))
    box = mailbox_of(dovecot)
    await box.connect()
    try:
        before = box.uidvalidity
        await box.new_mail(0)
        dovecot.set_uidvalidity(before + 3)
        with pytest.raises(MailboxError):
            await asyncio.wait_for(box.new_mail(0), 10)  # Dovecot hangs up: the view is stale
        await box.connect()
        assert box.uidvalidity == before + 3
    finally:
        await box.close()


async def test_a_server_that_hangs_up_is_a_mailbox_error_at_once(dovecot: Dovecot) -> None:
    box = mailbox_of(dovecot, timeout_s=30.0)
    await box.connect()
    try:
        await box.new_mail(0)
        waiting = asyncio.create_task(box.wait(60))
        while not box.idling:
            await asyncio.sleep(0.01)
        dovecot.kill()
        with pytest.raises(MailboxError):
            await asyncio.wait_for(waiting, 10)
        assert not box.connected
        with pytest.raises(MailboxError):
            await box.new_mail(0)
    finally:
        await box.close()
    for call in (box.new_mail(0), box.move(1, "Processed"), box.wait(1)):
        with pytest.raises(MailboxError, match="not connected"):
            await call


def test_xoauth2_string_is_googles_example() -> None:
    token = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
    expected = (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52"
        "YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    )
    assert xoauth2("someuser@example.com", token) == expected


def test_folder_names_in_modified_utf7() -> None:
    assert mutf7("INBOX") == "INBOX"
    assert mutf7("Traité") == "Trait&AOk-"
    assert mutf7("R&D") == "R&-D"
    assert mutf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"


def test_internaldate_keeps_its_offset() -> None:
    parsed = parse_internaldate(b'INTERNALDATE " 4-Mar-2026 05:06:07 -0330"')
    assert parsed == datetime(2026, 3, 4, 8, 36, 7, tzinfo=UTC)
    assert parsed.utcoffset() == -timedelta(hours=3, minutes=30)
    with pytest.raises(MailboxError):
        parse_internaldate(b'INTERNALDATE "4-Foo-2026 05:06:07 +0000"')


def test_a_short_literal_is_an_error_not_a_truncated_message() -> None:
    lines: list[object] = [
        b'1 FETCH (UID 7 INTERNALDATE "04-Mar-2026 05:06:07 +0000" RFC822.SIZE 10 BODY[] {4}',
        bytearray(b"abcd"),
        b")",
        b"Fetch completed.",
    ]
    with pytest.raises(MailboxError, match="4 bytes read of 10"):
        parse_fetch(lines)


def test_fetch_items_after_the_literal_and_flag_updates_are_understood() -> None:
    lines: list[object] = [
        b"3 FETCH (FLAGS (\\Seen))",
        b"1 FETCH (BODY[] {2}",
        bytearray(b"hi"),
        b' UID 9 INTERNALDATE "04-Mar-2026 05:06:07 +0000")',
        b"Fetch completed.",
    ]
    assert parse_fetch(lines) == [Fetched(9, datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), b"hi")]
