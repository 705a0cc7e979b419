"""The mail channel from end to end, in a real daemon, with a real Dovecot and a real SMTP server.

A complaint appended to the mailbox becomes written work from source ``email`` with its text in
the personal store, its ``received_at`` the server's INTERNALDATE; the customer is acknowledged
at once; an auto-reply gets nothing; an advisor's answer leaves as a mail threaded on the
complaint; the customer's reply joins the same interaction; a bounce marks the answer bounced.
Then the same with the daemon SIGKILLed at points of the flow: nothing lost, and a mail sent
again only after a crash, with the same Message-ID.
"""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from aiguillage.adapters.channels.mail.smtp import message_id_for
from aiguillage.adapters.daemon.outbox import idempotency_key
from tests.adapters.channels.mail.dovecot import Dovecot
from tests.adapters.channels.mail.smtp_server import SmtpServer
from tests.adapters.daemons import ADVISOR, ADVISOR_ID, Daemon, write_config
from tests.adapters.killer import Killer

FROM = "reclamations@idfm.example"
DEPLOYMENT = "Île-de-France Mobilités — service client en débordement"


def mail(
    message_id: str,
    text: str,
    *,
    sender: str = "Jeanne Dupont <jeanne@example.org>",
    subject: str = "Remboursement",
    headers: str = "",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {FROM}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{message_id}>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0100\r\n{headers}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n"
    ).encode()


def dsn(original_id: str) -> bytes:
    """A Postfix-style delivery status notification about one of our mails."""
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        f"To: {FROM}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.org>\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; jeanne@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {FROM}\r\nTo: jeanne@example.org\r\nMessage-ID: <{original_id}>\r\n"
        "Subject: Re: Remboursement\r\n\r\n--B--\r\n"
    ).encode()


def mail_config(
    directory: Path, dovecot: Dovecot, smtp: SmtpServer, *, settings: str = "", extra: str = ""
) -> tuple[Path, dict[str, str]]:
    """A configuration with ``[adapters.mail]`` on these servers, and the environment it needs.

    ``settings`` are more lines of the mail table (``motive = "refunds"``), ``extra`` more
    tables after it (another channel's), for the tests that run the mail beside other parts.
    """
    table = (
        f'\n[adapters.mail]\nimap_host = "127.0.0.1"\nimap_port = {dovecot.port}\n'
        f'imap_user = "{dovecot.user}"\nimap_password_env = "MAIL_PASSWORD"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\nfrom_address = "{FROM}"\n'
        "poll_s = 1\n"
    )
    config = write_config(directory, table + settings + extra)
    text = config.read_text().replace("\nfirst_retry_s = 30 ", "\nfirst_retry_s = 0.2 ", 1)
    config.write_text(text)
    return config, {"MAIL_PASSWORD": dovecot.password}


def start_daemon(directory: Path, dovecot: Dovecot, smtp: SmtpServer) -> Daemon:
    config, env = mail_config(directory, dovecot, smtp)
    return Daemon(directory, config, env=env).start()


def until(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
            if found:
                return found
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def written(daemon: Daemon) -> list[dict[str, Any]]:
    """The written work listed now; nothing while the daemon restarts (503)."""
    with daemon.client() as admin:
        page = admin.get("/v1/interactions", params={"channel": "written"})
    return list(page.json()["interactions"]) if page.status_code == 200 else []


def parsed(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def answer_id(key_message_id: int) -> str:
    return message_id_for(idempotency_key(DEPLOYMENT, key_message_id), "idfm.example")


def test_a_mail_becomes_work_is_acknowledged_answered_joined_and_bounced(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    daemon = start_daemon(tmp_path, dovecot, smtp_server)
    try:
        internaldate = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
        dovecot.append(
            mail("c1@example.org", "Mon passe a été débité deux fois."), internaldate=internaldate
        )
        (work,) = until("the mail is work", lambda: written(daemon))
        assert (work["source"], work["external_id"]) == ("email", "c1@example.org")
        assert datetime.fromisoformat(work["received_at"]) == internaldate  # never Date:
        with daemon.client() as admin:
            kept = admin.get(f"/v1/interactions/{work['id']}/personal-data").json()
        assert kept["text"].strip() == "Mon passe a été débité deux fois."
        assert kept["customer"] == {"name": "Jeanne Dupont", "email": "jeanne@example.org"}
        assert kept["message_id"] == "c1@example.org"
        # The acknowledgement: at once, threaded, automatic, with the reference and no text.
        (ack,) = until("the acknowledgement", lambda: smtp_server.received)
        assert ack.recipients == ("jeanne@example.org",)
        acknowledgement = parsed(ack.raw)
        assert acknowledgement["Auto-Submitted"] == "auto-replied"
        assert acknowledgement["In-Reply-To"] == "<c1@example.org>"
        body = acknowledgement.get_content()
        assert f"AIG-{work['id']}" in body
        assert "débité" not in body
        until("the mail left the inbox", lambda: dovecot.uids("INBOX") == [])
        assert len(dovecot.uids("Aiguillage-traites")) == 1

        # An auto-reply is not a complaint: no work, no acknowledgement, moved all the same.
        dovecot.append(
            mail(
                "ooo@example.org",
                "Je suis absent.",
                sender="Paul <paul@example.org>",
                headers="Auto-Submitted: auto-replied\r\n",
            )
        )
        until("the auto-reply left the inbox", lambda: dovecot.uids("INBOX") == [])
        assert len(written(daemon)) == 1
        assert len(smtp_server.received) == 1

        # The advisor answers; the answer is a mail in the customer's thread.
        with daemon.client(ADVISOR) as advisor:
            advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})

            def offered() -> list[int]:
                return list(advisor.get(f"/v1/advisors/{ADVISOR_ID}").json()["offers"])

            (offer,) = until("the offer", offered)
            assert (
                advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer}/accept").status_code == 200
            )
            posted = advisor.post(
                f"/v1/interactions/{work['id']}/messages",
                json={"text": "Nous vous remboursons sous huit jours."},
            )
            assert posted.status_code == 201, posted.text
            message_id = posted.json()["message"]["id"]
        (_, sent) = until("the answer", lambda: smtp_server.received[1:] and smtp_server.received)
        answer = parsed(sent.raw)
        ours = answer_id(message_id)
        assert answer["Message-ID"] == f"<{ours}>"
        assert answer["In-Reply-To"] == "<c1@example.org>"
        assert "<c1@example.org>" in answer["References"]
        assert "Auto-Submitted" not in answer
        assert answer.get_content().strip() == "Nous vous remboursons sous huit jours."

        # The customer's reply joins the same interaction.
        dovecot.append(
            mail(
                "c2@example.org",
                "Merci, et pour le second débit ?",
                headers=f"In-Reply-To: <{ours}>\r\nReferences: <c1@example.org> <{ours}>\r\n",
            )
        )

        def thread() -> list[dict[str, Any]]:
            with daemon.client() as admin:
                found = admin.get(f"/v1/interactions/{work['id']}/messages").json()
            return list(found["messages"])

        until("the reply joined", lambda: [m["kind"] for m in thread()].count("customer") == 2)
        assert len(written(daemon)) == 1

        # A bounce of the answer marks it bounced.
        dovecot.append(dsn(ours))

        def bounced() -> bool:
            return any(m["id"] == message_id and m["state"] == "bounced" for m in thread())

        until("the answer bounced", bounced)
        assert len(smtp_server.received) == 2  # a bounce is never acknowledged
    finally:
        daemon.kill()


def test_sigkill_at_points_of_the_flow_loses_no_mail_and_sends_again_only_after_a_crash(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    daemon = start_daemon(tmp_path, dovecot, smtp_server)
    killer = Killer(daemon, {("appended", 3), ("posted", 2), ("accepted", 4), ("accepted", 9)})
    first_taken: dict[str, float] = {}

    def taken(received: Any) -> None:
        message_id = parsed(received.raw)["Message-ID"]
        first_taken.setdefault(message_id, time.monotonic())
        killer.at("accepted", restart_later=True)

    smtp_server.on_message = taken
    count = 6
    try:
        for number in range(count):
            dovecot.append(
                mail(
                    f"k{number}@example.org",
                    f"Réclamation {number}",
                    sender=f"Client {number} <client{number}@example.org>",
                )
            )
            killer.at("appended")

        def listed() -> list[dict[str, Any]] | None:
            found = written(daemon)
            return found if len(found) == count else None

        works = {w["external_id"]: w["id"] for w in until("every mail is work", listed, timeout=90)}
        assert set(works) == {f"k{n}@example.org" for n in range(count)}  # none twice
        with daemon.client(ADVISOR) as advisor:
            answered: set[int] = set()

            def work() -> bool:
                read = advisor.get(f"/v1/advisors/{ADVISOR_ID}")
                if read.status_code != 200:
                    return False  # restarting
                state = read.json()
                if state["state"] == "offline":
                    advisor.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "available"})
                for offer in state["offers"]:
                    advisor.post(f"/v1/advisors/{ADVISOR_ID}/offers/{offer}/accept")
                for interaction_id in state["holding"]:
                    thread = advisor.get(f"/v1/interactions/{interaction_id}/messages")
                    if thread.status_code != 200:
                        continue
                    kinds = [m["kind"] for m in thread.json()["messages"]]
                    if "answer" not in kinds:
                        posted = advisor.post(
                            f"/v1/interactions/{interaction_id}/messages",
                            json={"text": f"Réponse {interaction_id}"},
                        )
                        if posted.status_code != 201:
                            continue
                        killer.at("posted")
                        kinds.append("answer")
                    advisor.post(f"/v1/interactions/{interaction_id}/close")
                    answered.add(interaction_id)
                return answered == set(works.values())

            until("every complaint is answered", work, timeout=120)

        def sent() -> list[dict[str, Any]] | None:
            with daemon.client() as admin:
                read = [admin.get(f"/v1/interactions/{i}/messages") for i in works.values()]
            if any(r.status_code != 200 for r in read):
                return None  # restarting
            threads = [r.json()["messages"] for r in read]
            out = [m for thread in threads for m in thread if m["kind"] == "answer"]
            return out if all(m["state"] == "sent" for m in out) else None

        answers = until("every answer is sent", sent, timeout=90)
        killer.join()  # every planned kill happened, and every restart
    finally:
        daemon.kill()
    received: dict[str, int] = {}
    for message in smtp_server.received:
        message_id = parsed(message.raw)["Message-ID"]
        received[message_id] = received.get(message_id, 0) + 1
    # Every answer reached the relay, under its own Message-ID.
    assert len(answers) == count
    for answer in answers:
        assert f"<{answer_id(answer['id'])}>" in received
    # A mail is sent again only after a crash while it was in flight, with the same Message-ID.
    for message_id, times in received.items():
        crashes = killer.crashes_since(first_taken[message_id])
        assert times <= 1 + crashes, (message_id, times, crashes)
    assert max(received.values()) >= 2, "no mail was caught in flight"


def test_a_broken_mail_is_work_with_its_problems_and_a_refused_one_is_set_aside(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    daemon = start_daemon(tmp_path, dovecot, smtp_server)
    try:
        broken = (
            b"From: Marc <marc@example.org>\r\nTo: reclamations@idfm.example\r\n"
            b"Subject: =?utf-8?q?R=C3=A9clamation?=\r\nMessage-ID: <broken@example.org>\r\n"
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="X"\r\n\r\n'
            b"--X\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLe texte lisible.\r\n"
            b"--X\r\nContent-Type: application/pdf; name=billet.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n%%% pas du base64 %%%\r\n"
        )  # and no closing boundary
        dovecot.append(broken)
        # Older than [daemon] backfill_days: the daemon refuses it, the intake goes on.
        dovecot.append(
            mail("ancient@example.org", "Vieux message."),
            internaldate=datetime(1990, 1, 1, tzinfo=UTC),
        )
        dovecot.append(mail("after@example.org", "Arrivé après."))
        until("the readable ones are work", lambda: len(written(daemon)) == 2)
        works = {w["external_id"]: w["id"] for w in written(daemon)}
        assert set(works) == {"broken@example.org", "after@example.org"}
        with daemon.client() as admin:
            kept = admin.get(f"/v1/interactions/{works['broken@example.org']}/personal-data")
        assert kept.json()["text"].strip() == "Le texte lisible."
        assert kept.json()["subject"] == "Réclamation"
        assert kept.json()["problems"]  # what could not be read, said in words
        until("the inbox is empty", lambda: dovecot.uids("INBOX") == [])
        assert len(dovecot.uids("Aiguillage-quarantaine")) == 1
    finally:
        daemon.kill()
