"""The mail tests' servers do what the tests rely on: Dovecot stores and lists, SMTP records.

Both are driven here with the standard library's clients, independent of the channel's code.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.adapters.channels.mail.dovecot import Dovecot
from tests.adapters.channels.mail.smtp_server import SmtpServer

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\n\r\nbody\r\n"


def test_appended_mail_is_listed_and_fetched_byte_for_byte(dovecot: Dovecot) -> None:
    first = dovecot.append(MESSAGE)
    second = dovecot.append(MESSAGE.replace(b"hello", b"again"))
    assert (first, second) == (1, 2)
    assert dovecot.uids() == [1, 2]
    assert dovecot.fetch("INBOX", 2) == MESSAGE.replace(b"hello", b"again")
    assert dovecot.uids(user="other") == []


def test_folders_are_created_and_deleted(dovecot: Dovecot) -> None:
    dovecot.create("Processed")
    dovecot.create("Quarantine area")
    assert dovecot.folders() == ["INBOX", "Processed", "Quarantine area"]
    dovecot.append(MESSAGE, folder="Quarantine area")
    assert dovecot.uids("Quarantine area") == [1]
    dovecot.delete("Processed")
    assert dovecot.folders() == ["INBOX", "Quarantine area"]


def test_inbox_uidvalidity_changes_when_asked(dovecot: Dovecot) -> None:
    dovecot.append(MESSAGE)
    before = dovecot.uidvalidity()
    dovecot.set_uidvalidity(before + 7)
    assert dovecot.uidvalidity() == before + 7
    assert dovecot.uids() == [1]


def test_a_recreated_folder_has_a_new_uidvalidity(dovecot: Dovecot) -> None:
    dovecot.create("Processed")
    dovecot.append(MESSAGE, folder="Processed")
    before = dovecot.uidvalidity("Processed")
    dovecot.delete("Processed")
    dovecot.create("Processed")
    assert dovecot.uidvalidity("Processed") != before
    assert dovecot.uids("Processed") == []


def test_a_killed_dovecot_restarts_with_its_mail(dovecot: Dovecot) -> None:
    dovecot.append(MESSAGE)
    dovecot.kill()
    dovecot.start()
    assert dovecot.uids() == [1]


@pytest.fixture
def guarded() -> Iterator[SmtpServer]:
    server = SmtpServer(credentials=("relay", "relay-secret")).start()
    try:
        yield server
    finally:
        server.stop()


def test_an_accepted_message_is_recorded(smtp_server: SmtpServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        refused = client.sendmail("a@example.org", ["b@example.org", "c@example.org"], MESSAGE)
    assert refused == {}
    [received] = smtp_server.received
    assert received.sender == "a@example.org"
    assert received.recipients == ("b@example.org", "c@example.org")
    assert received.raw == MESSAGE


def test_a_refused_recipient_gets_550_and_the_others_the_message() -> None:
    server = SmtpServer(refused=["Nobody@example.org"]).start()
    try:
        with smtplib.SMTP(server.host, server.port, timeout=10) as client:
            recipients = ["nobody@example.org", "b@example.org"]
            refused = client.sendmail("a@example.org", recipients, MESSAGE)
            assert refused["nobody@example.org"][0] == 550
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("a@example.org", ["nobody@example.org"], MESSAGE)
        assert [r.recipients for r in server.received] == [("b@example.org",)]
    finally:
        server.stop()


def test_the_next_messages_fail_with_451_then_pass(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(2)
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as failure:
                client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
            assert failure.value.smtp_code == 451
            client.rset()
        client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
    assert len(smtp_server.received) == 1


def test_auth_is_required_and_checked(guarded: SmtpServer) -> None:
    with smtplib.SMTP(guarded.host, guarded.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
        assert refused.value.smtp_code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("relay", "wrong")
    with smtplib.SMTP(guarded.host, guarded.port, timeout=10) as client:
        client.login("relay", "relay-secret")
        client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
    assert [r.sender for r in guarded.received] == ["a@example.org"]


def test_internaldate_is_kept_as_given(dovecot: Dovecot) -> None:
    when = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    uid = dovecot.append(MESSAGE, internaldate=when)
    client = dovecot.connect()
    try:
        client.select("INBOX", readonly=True)
        _, data = client.uid("FETCH", str(uid), "(INTERNALDATE)")
    finally:
        client.logout()
    assert b'"04-Mar-2021 05:06:07 +0000"' in (data[0] or b"")
