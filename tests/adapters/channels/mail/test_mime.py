"""Reading received mail: raw mails as clients and servers write them, some of them broken."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguillage.adapters.channels.mail.mime import digest_id, html_to_text, parse


def mail(*lines: str | bytes) -> bytes:
    """A raw mail, its lines joined with CRLF as on the wire."""
    return b"\r\n".join(line.encode() if isinstance(line, str) else line for line in lines)


HEADERS = (
    "Return-Path: <jeanne@example.fr>",
    "From: Jeanne Martin <jeanne@example.fr>",
    "To: Service client <contact@shop.example>, other@shop.example",
    "Cc: copie@example.fr",
    "Subject: Ma commande",
    "Date: Mon, 30 Nov 2026 09:12:00 +0100",
    "Message-ID: <abc.123@mail.example.fr>",
    "MIME-Version: 1.0",
)


def test_a_plain_mail_gives_its_headers_and_text() -> None:
    raw = mail(
        *HEADERS,
        "In-Reply-To: <ans-1@shop.example>",
        "References: <first@example.fr>",
        "  <ans-1@shop.example>",
        "Reply-To: Jeanne <jeanne.perso@example.org>",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "Hello,",
        "my parcel has not arrived.",
        "",
    )
    parsed = parse(raw)
    assert parsed.message_id == "abc.123@mail.example.fr"
    assert parsed.in_reply_to == "ans-1@shop.example"
    assert parsed.references == ("first@example.fr", "ans-1@shop.example")
    assert (parsed.from_address, parsed.from_name) == ("jeanne@example.fr", "Jeanne Martin")
    assert parsed.reply_to == "jeanne.perso@example.org"
    assert parsed.to == ("contact@shop.example", "other@shop.example")
    assert parsed.cc == ("copie@example.fr",)
    assert parsed.subject == "Ma commande"
    assert parsed.date_header == "Mon, 30 Nov 2026 09:12:00 +0100"
    assert parsed.text == "Hello,\nmy parcel has not arrived."
    assert parsed.attachments == ()
    assert parsed.problems == ()
    assert parsed.auto == ""
    assert parsed.bounce is None


def test_an_html_only_mail_is_read_as_text_without_scripts_or_styles() -> None:
    raw = mail(
        *HEADERS,
        "Content-Type: text/html; charset=utf-8",
        "",
        "<html><head><title>Ignored</title><style>p { color: red }</style></head>",
        "<body><script>alert('x')</script><p>Bonjour,</p><p>Ligne 1<br>Ligne&nbsp;2 &amp; "
        "&eacute;t&#233; &lt;ok&gt;</p><ul><li>un</li><li>deux</li></ul>"
        '<img src="https://tracker.example/p.gif"></body></html>',
    )
    parsed = parse(raw)
    assert parsed.text == "Bonjour,\n\nLigne 1\nLigne 2 & été <ok>\n\n- un\n- deux"
    assert "alert" not in parsed.text
    assert "color" not in parsed.text
    assert "Ignored" not in parsed.text


def test_html_to_text_keeps_preformatted_text_and_survives_unclosed_tags() -> None:
    assert html_to_text("<pre>a\n  b</pre><p>x<div>y") == "a\n  b\n\nx\ny"
    assert html_to_text("Un<br><br>Deux<div><div>Trois</div></div>") == "Un\n\nDeux\nTrois"
    assert html_to_text("<html><head><meta charset=utf-8><title>T</title><p>Texte") == "Texte"


def test_multipart_alternative_prefers_the_plain_text() -> None:
    raw = mail(
        *HEADERS,
        'Content-Type: multipart/alternative; boundary="b1"',
        "",
        "This is a multi-part message in MIME format.",
        "--b1",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Le colis est arriv=C3=A9 ab=C3=AEm=C3=A9, une tr=C3=A8s longue ligne coup=",
        "=C3=A9e en deux.",
        "--b1",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<p>HTML version</p>",
        "--b1--",
        "",
    )
    parsed = parse(raw)
    assert parsed.text == "Le colis est arrivé abîmé, une très longue ligne coupée en deux."
    assert parsed.attachments == ()
    assert parsed.problems == ()


def test_an_empty_plain_alternative_gives_way_to_the_html() -> None:
    raw = mail(
        *HEADERS,
        'Content-Type: multipart/alternative; boundary="b1"',
        "",
        "--b1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        " ",
        "--b1",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<div>Le texte est ici.</div>",
        "--b1--",
    )
    assert parse(raw).text == "Le texte est ici."


def test_base64_body_and_windows_1252_declared_as_iso_8859_1() -> None:
    body = "Le prix était 10 € \u2013 \u2018trop\u2019".encode("cp1252")
    raw = mail(
        *HEADERS,
        "Content-Type: text/plain; charset=iso-8859-1",
        "Content-Transfer-Encoding: base64",
        "",
        base64.encodebytes(body).decode().strip(),
    )
    parsed = parse(raw)
    assert parsed.text == "Le prix était 10 € \u2013 \u2018trop\u2019"
    assert parsed.problems == ()


def test_iso_8859_1_8bit_body() -> None:
    raw = mail(
        *HEADERS,
        "Content-Type: text/plain; charset=ISO-8859-1",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Ça coûte très cher.".encode("latin-1"),
    )
    assert parse(raw).text == "Ça coûte très cher."


def test_windows_1252_declared_as_such() -> None:
    raw = mail(
        *HEADERS,
        "Content-Type: text/plain; charset=windows-1252",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "L=92envoi co=FBte 5=80.",
    )
    assert parse(raw).text == "L\u2019envoi coûte 5€."


def test_a_wrong_or_unknown_charset_falls_back_and_says_so() -> None:
    utf8_declared_latin = mail(
        *HEADERS,
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Déçu".encode("latin-1"),
    )
    parsed = parse(utf8_declared_latin)
    assert parsed.text == "Déçu"
    assert parsed.problems == (
        "A text part declared the charset utf-8 and was not UTF-8; it was read as Latin-1.",
    )
    unknown = mail(
        *HEADERS,
        "Content-Type: text/plain; charset=x-no-such-charset",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Déçu".encode(),
    )
    parsed = parse(unknown)
    assert parsed.text == "Déçu"
    assert parsed.problems == (
        "A text part declared an unknown charset (x-no-such-charset); it was read as UTF-8.",
    )


def test_rfc_2047_subject_and_names_and_8bit_headers() -> None:
    raw = mail(
        "From: =?ISO-8859-1?Q?Fran=E7ois_M=FCller?= <francois@example.de>",
        "To: =?utf-8?B?U2VydmljZSBjbGllbnQsIMOpcXVpcGU=?= <contact@shop.example>",
        "Subject: =?utf-8?q?R=C3=A9clamation_?=",
        " =?utf-8?b?Y29tbWFuZGUgbsKwNDI=?= urgent",
        "Reply-To: ",
        "Message-ID: <x@example.de>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Texte",
    )
    parsed = parse(raw)
    assert parsed.from_name == "François Müller"
    assert parsed.from_address == "francois@example.de"
    assert parsed.to == ("contact@shop.example",)
    assert parsed.subject == "Réclamation commande n°42 urgent"
    assert parsed.reply_to == ""
    injected = parse(mail("Subject: =?utf-8?q?Colis=0D=0ABcc:_x@example.net?=", "", "x"))
    assert injected.subject == "Colis Bcc: x@example.net"
    raw_8bit = mail(
        "From: Zoé <zoe@example.fr>",
        "Subject: Commande livrée à moitié",
        "",
        "x",
    )
    parsed = parse(raw_8bit)
    assert parsed.subject == "Commande livrée à moitié"
    assert parsed.from_name == "Zoé"


def attachment_mail(*parts: str) -> bytes:
    return mail(
        *HEADERS,
        'Content-Type: multipart/mixed; boundary="==mixed=="',
        "",
        "--==mixed==",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Voir la pièce jointe.",
        *parts,
        "--==mixed==--",
        "",
    )


def test_rfc_2231_and_rfc_2047_attachment_names() -> None:
    pdf = b"%PDF-1.4 fake" * 10
    raw = attachment_mail(
        "--==mixed==",
        "Content-Type: application/pdf",
        "Content-Disposition: attachment;",
        " filename*0*=utf-8''facture%20n%C2%B0;",
        " filename*1*=%2042%20%C3%A9t%C3%A9.pdf",
        "Content-Transfer-Encoding: base64",
        "",
        base64.encodebytes(pdf).decode().strip(),
        "--==mixed==",
        'Content-Type: image/jpeg; name="=?utf-8?B?cGhvdG8gY29saXMuanBn?="',
        "Content-Transfer-Encoding: base64",
        "",
        base64.b64encode(b"\xff\xd8\xff jpeg").decode(),
    )
    parsed = parse(raw)
    assert parsed.text == "Voir la pièce jointe."
    first, second = parsed.attachments
    assert (first.name, first.content_type, first.size, first.data) == (
        "facture n° 42 été.pdf",
        "application/pdf",
        len(pdf),
        pdf,
    )
    assert (second.name, second.content_type, second.data) == (
        "photo colis.jpg",
        "image/jpeg",
        b"\xff\xd8\xff jpeg",
    )
    assert parsed.problems == ()


def test_attachment_names_lose_their_folders() -> None:
    raw = attachment_mail(
        "--==mixed==",
        'Content-Type: application/octet-stream; name="..\\\\..\\\\evil\x07.exe"',
        "",
        "x",
        "--==mixed==",
        'Content-Disposition: attachment; filename="/etc/passwd"',
        "",
        "y",
    )
    assert [a.name for a in parse(raw).attachments] == ["evil.exe", "passwd"]


def test_an_oversized_attachment_is_listed_without_its_bytes() -> None:
    big = b"x" * 3000
    raw = attachment_mail(
        "--==mixed==",
        'Content-Type: application/octet-stream; name="big.bin"',
        "Content-Transfer-Encoding: base64",
        "",
        base64.encodebytes(big).decode().strip(),
        "--==mixed==",
        'Content-Type: text/plain; name="small.txt"',
        "",
        "small",
    )
    parsed = parse(raw, max_attachment_bytes=2048)
    big_one, small = parsed.attachments
    assert (big_one.name, big_one.size, big_one.data) == ("big.bin", 3000, None)
    assert small.data == b"small"
    assert parsed.problems == (
        "The attachment 'big.bin' (2.9 KiB) is over the 2.0 KiB limit; it was not kept.",
    )


def test_attachments_beyond_the_limit_are_counted_not_kept() -> None:
    parts: list[str] = []
    for index in range(5):
        parts += ["--==mixed==", f'Content-Type: text/csv; name="{index}.csv"', "", "a,b"]
    parsed = parse(attachment_mail(*parts), max_attachments=3)
    assert [a.name for a in parsed.attachments] == ["0.csv", "1.csv", "2.csv"]
    assert parsed.problems == ("2 more attachment(s) were not kept (at most 3 are).",)


def test_a_multipart_without_its_boundary_keeps_the_raw_text() -> None:
    raw = mail(
        *HEADERS,
        "Content-Type: multipart/mixed",
        "",
        "--something",
        "Content-Type: text/plain",
        "",
        "Mon colis est cassé.",
        "--something--",
    )
    parsed = parse(raw)
    assert "Mon colis est cassé." in parsed.text
    assert parsed.message_id == "abc.123@mail.example.fr"
    assert parsed.problems == (
        "The message's parts could not be separated (its MIME boundary is missing); "
        "its raw text is shown.",
    )


def test_a_boundary_never_found_keeps_the_raw_text() -> None:
    raw = mail(
        *HEADERS,
        'Content-Type: multipart/mixed; boundary="nowhere"',
        "",
        "Only text, no parts.",
    )
    parsed = parse(raw)
    assert parsed.text == "Only text, no parts."
    assert len(parsed.problems) == 1


def test_a_damaged_base64_keeps_what_decodes_and_says_so() -> None:
    good = base64.b64encode(b"Bonjour, ma commande est en retard.").decode()
    raw = mail(
        *HEADERS,
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        good[:20] + "!!*" + good[20:-2],
    )
    parsed = parse(raw)
    assert parsed.text.startswith("Bonjour, ma commande")
    assert parsed.problems[0] == (
        "A part's base64 encoding is damaged; what could be decoded is kept."
    )


def test_an_unclosed_last_part_is_kept_and_noted() -> None:
    raw = mail(
        *HEADERS,
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "Le texte",
    )
    parsed = parse(raw)
    assert parsed.text == "Le texte"
    assert parsed.problems == ("The message ends before its last part was closed.",)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"From: <<<@@@>>>\r\nTo: ,,,;;\r\nContent-Type: multipart/\r\n\r\n--\r\n--",
        b'Content-Type: text/plain; charset="\r\nContent-Transfer-Encoding: base64\r\n\r\n=',
        b"Subject: =?bogus?Q?abc?= =?utf-8?B?####?=\r\n\r\nbody",
        b"Content-Type: message/rfc822\r\n\r\nnot a message",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse(raw)
    assert isinstance(parsed.text, str)
    assert parsed.bounce is None


def test_no_message_id_is_empty_and_the_digest_identifies_the_mail() -> None:
    raw = mail("From: a@example.fr", "Subject: x", "", "body")
    parsed = parse(raw)
    assert parsed.message_id == ""
    assert digest_id(raw) == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert digest_id(raw) != digest_id(raw + b"!")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "An automatic message (Auto-Submitted: auto-replied)."),
        (
            "Auto-Submitted: auto-generated",
            "An automatic message (Auto-Submitted: auto-generated).",
        ),
        ("Precedence: bulk", "A bulk or list message (Precedence: bulk)."),
        ("Precedence: junk", "A bulk or list message (Precedence: junk)."),
        ("Precedence: list", "A bulk or list message (Precedence: list)."),
        (
            "List-Id: Promotions <promo.shop.example>",
            "A mailing-list message (List-Id: Promotions <promo.shop.example>).",
        ),
        (
            "X-Auto-Response-Suppress: All",
            "An automatic message: it asks not to be answered (X-Auto-Response-Suppress).",
        ),
        ("X-Autoreply: yes", "An automatic reply (X-Autoreply)."),
    ],
)
def test_auto_replies_and_bulk_mail_are_not_complaints(header: str, reason: str) -> None:
    raw = mail(*HEADERS, header, "Content-Type: text/plain", "", "Je suis absent.")
    parsed = parse(raw)
    assert parsed.auto == reason
    assert parsed.bounce is None


def test_a_null_reverse_path_is_not_a_complaint() -> None:
    raw = mail("Return-Path: <>", *HEADERS[1:], "", "Notice")
    assert parse(raw).auto == (
        "A message with a null reverse-path (Return-Path: <>), as mail servers send."
    )


def test_a_person_s_mail_saying_auto_submitted_no_is_a_complaint() -> None:
    raw = mail(*HEADERS, "Auto-Submitted: no", "Precedence: first-class", "", "Plainte")
    assert parse(raw).auto == ""


POSTFIX_DSN = mail(
    "Return-Path: <>",
    "From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)",
    "Subject: Undelivered Mail Returned to Sender",
    "To: contact@shop.example",
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    "Content-Type: multipart/report; report-type=delivery-status;",
    '\tboundary="8F2A3C1E4.1764500000/mx.shop.example"',
    "Message-Id: <20261130091500.8F2A3C1E4@mx.shop.example>",
    "",
    "This is a MIME-encapsulated message.",
    "",
    "--8F2A3C1E4.1764500000/mx.shop.example",
    "Content-Description: Notification",
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "This is the mail system at host mx.shop.example.",
    "",
    "I'm sorry to have to inform you that your message could not",
    "be delivered to one or more recipients.",
    "",
    "<jeanne@example.fr>: host mx.example.fr[192.0.2.7] said: 550 5.1.1",
    "    <jeanne@example.fr>: Recipient address rejected: User unknown",
    "",
    "--8F2A3C1E4.1764500000/mx.shop.example",
    "Content-Description: Delivery report",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.shop.example",
    "X-Postfix-Queue-ID: 8F2A3C1E4",
    "Arrival-Date: Mon, 30 Nov 2026 09:14:58 +0100 (CET)",
    "",
    "Final-Recipient: rfc822; jeanne@example.fr",
    "Original-Recipient: rfc822;jeanne@example.fr",
    "Action: failed",
    "Status: 5.1.1",
    "Remote-MTA: dns; mx.example.fr",
    "Diagnostic-Code: smtp; 550 5.1.1 <jeanne@example.fr>: Recipient address",
    "    rejected: User unknown",
    "",
    "--8F2A3C1E4.1764500000/mx.shop.example",
    "Content-Description: Undelivered Message",
    "Content-Type: message/rfc822",
    "",
    "From: Service client <contact@shop.example>",
    "To: jeanne@example.fr",
    "Subject: Re: Ma commande",
    "Message-ID: <out-42-1@shop.example>",
    "Auto-Submitted: auto-replied",
    "",
    "Bonjour, votre commande est partie.",
    "",
    "--8F2A3C1E4.1764500000/mx.shop.example--",
    "",
)


def test_a_postfix_dsn_is_a_bounce() -> None:
    parsed = parse(POSTFIX_DSN)
    assert parsed.auto == "A delivery failure report (a bounce)."
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "out-42-1@shop.example"
    assert parsed.bounce.recipient == "jeanne@example.fr"
    assert parsed.bounce.status == "5.1.1"
    assert parsed.bounce.diagnostic == (
        "550 5.1.1 <jeanne@example.fr>: Recipient address    rejected: User unknown"
    )
    assert parsed.text.startswith("This is the mail system")
    assert [a.content_type for a in parsed.attachments] == [
        "message/delivery-status",
        "message/rfc822",
    ]
    report, returned = parsed.attachments
    assert report.data is not None
    assert b"Final-Recipient: rfc822; jeanne@example.fr" in report.data
    assert returned.name == "Re: Ma commande.eml"
    assert returned.data is not None
    assert parse(returned.data).message_id == "out-42-1@shop.example"


EXCHANGE_DSN = mail(
    "From: postmaster@outlook.example",
    "To: <contact@shop.example>",
    "Date: Mon, 30 Nov 2026 08:20:11 +0000",
    'Content-Type: multipart/report; report-type="delivery-status";',
    '\tboundary="_000_DB9PR01MB0001_"',
    "Content-Language: fr-FR",
    "Message-ID: <a1b2c3d4-0000@DB9PR01MB0001.eurprd01.prod.outlook.example>",
    "Subject: =?iso-8859-1?Q?Non_remis=A0:_Re:_Ma_commande?=",
    "Auto-Submitted: auto-replied",
    "X-MS-Exchange-Message-Is-Ndr: ",
    "MIME-Version: 1.0",
    "",
    "--_000_DB9PR01MB0001_",
    "Content-Type: multipart/alternative; differences=Content-Type;",
    '\tboundary="_002_DB9PR01MB0001_"',
    "",
    "--_002_DB9PR01MB0001_",
    'Content-Type: text/plain; charset="iso-8859-1"',
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Impossible de remettre le message =E0 ces destinataires ou groupes :",
    "",
    "nobody@outlook.example",
    "L'adresse n'a pas =E9t=E9 trouv=E9e.",
    "",
    "--_002_DB9PR01MB0001_",
    'Content-Type: text/html; charset="iso-8859-1"',
    "",
    "<html><body><p>Impossible de remettre</p></body></html>",
    "--_002_DB9PR01MB0001_--",
    "",
    "--_000_DB9PR01MB0001_",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns;DB9PR01MB0001.eurprd01.prod.outlook.example",
    "Received-From-MTA: dns;mx.shop.example",
    "Arrival-Date: Mon, 30 Nov 2026 08:20:09 +0000",
    "",
    "Final-Recipient: rfc822;nobody@outlook.example",
    "Action: failed",
    "Status: 5.1.10",
    "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by",
    " SMTP address lookup",
    "",
    "--_000_DB9PR01MB0001_",
    "Content-Type: text/rfc822-headers",
    "",
    "Received: from mx.shop.example (192.0.2.1) by DB9PR01MB0001 with Microsoft SMTP",
    "From: Service client <contact@shop.example>",
    "To: <nobody@outlook.example>",
    "Subject: Re: Ma commande",
    "Message-ID:",
    " <out-43-2@shop.example>",
    "",
    "--_000_DB9PR01MB0001_--",
    "",
)


def test_an_exchange_dsn_is_a_bounce() -> None:
    parsed = parse(EXCHANGE_DSN)
    assert parsed.subject == "Non remis : Re: Ma commande".replace(" :", "\xa0:")
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "out-43-2@shop.example"
    assert parsed.bounce.recipient == "nobody@outlook.example"
    assert parsed.bounce.status == "5.1.10"
    assert parsed.bounce.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    assert parsed.text.startswith("Impossible de remettre le message à ces destinataires")
    assert parsed.problems == ()


def test_a_delayed_dsn_is_automatic_not_a_bounce() -> None:
    delayed = (
        POSTFIX_DSN.replace(b"Action: failed", b"Action: delayed")
        .replace(b"Status: 5.1.1", b"Status: 4.4.1")
        .replace(b"Diagnostic-Code: smtp; 550 5.1.1", b"Diagnostic-Code: X-Postfix; 451 4.4.1")
    )
    parsed = parse(delayed)
    assert parsed.bounce is None
    assert parsed.auto == "A delivery delay report: the message is still being tried."


def test_a_dsn_that_gave_up_after_temporary_failures_is_a_bounce() -> None:
    expired = POSTFIX_DSN.replace(b"Status: 5.1.1", b"Status: 4.4.7")
    parsed = parse(expired)
    assert parsed.bounce is not None
    assert parsed.bounce.status == "4.4.7"


def test_a_dsn_without_the_returned_message_is_automatic_without_a_bounce() -> None:
    cut = POSTFIX_DSN.split(b"--8F2A3C1E4.1764500000/mx.shop.example\r\nContent-Description: Und")
    parsed = parse(cut[0] + b"--8F2A3C1E4.1764500000/mx.shop.example--\r\n")
    assert parsed.bounce is None
    assert parsed.auto == "A delivery failure report that does not say which message failed."


def test_a_read_receipt_is_automatic() -> None:
    raw = mail(
        "From: jeanne@example.fr",
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"',
        "",
        "--r",
        "Content-Type: text/plain",
        "",
        "Read.",
        "--r--",
    )
    assert parse(raw).auto == (
        "A read receipt (a disposition notification), not written by a person."
    )


QMAIL_BOUNCE = mail(
    "Return-Path: <>",
    "From: MAILER-DAEMON@mail.example.net",
    "To: contact@shop.example",
    "Subject: failure notice",
    "",
    "Hi. This is the qmail-send program at mail.example.net.",
    "I'm afraid I wasn't able to deliver your message to the following addresses.",
    "This is a permanent error; I've given up. Sorry it didn't work out.",
    "",
    "<paul@example.net>:",
    "Sorry, no mailbox here by that name. (#5.1.1)",
    "",
    "--- Below this line is a copy of the message.",
    "",
    "Return-Path: <contact@shop.example>",
    "From: Service client <contact@shop.example>",
    "Message-ID: <out-44-1@shop.example>",
    "Subject: Re: Remboursement",
    "",
    "Bonjour Paul,",
)


def test_a_non_standard_mailer_daemon_bounce_with_the_original_id() -> None:
    parsed = parse(QMAIL_BOUNCE)
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "out-44-1@shop.example"
    assert parsed.bounce.recipient == "paul@example.net"
    assert parsed.bounce.status == "5.1.1"
    assert parsed.bounce.diagnostic == "Sorry, no mailbox here by that name. (#5.1.1)"
    assert parsed.auto == "A delivery failure notice from mailer-daemon (a bounce)."


def test_a_mailer_daemon_notice_without_the_original_id_is_only_automatic() -> None:
    raw = QMAIL_BOUNCE.replace(b"Message-ID: <out-44-1@shop.example>\r\n", b"")
    parsed = parse(raw)
    assert parsed.bounce is None
    assert parsed.auto == "A notice from mailer-daemon that does not say which message it concerns."


def test_a_postmaster_delay_notice_is_not_a_bounce() -> None:
    raw = mail(
        "From: Postmaster <postmaster@example.org>",
        "Subject: Delivery delayed",
        "",
        "Your message has not been delivered yet (4.4.7); we keep trying.",
        "Message-ID: <out-45-1@shop.example>",
    )
    parsed = parse(raw)
    assert parsed.bounce is None
    assert parsed.auto.startswith("A delivery delay notice from postmaster")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([POSTFIX_DSN, EXCHANGE_DSN, QMAIL_BOUNCE]),
    st.integers(min_value=0, max_value=4000),
    st.binary(max_size=40),
)
def test_damaged_real_mails_never_raise(raw: bytes, cut: int, noise: bytes) -> None:
    parsed = parse(raw[:cut] + noise + raw[cut + len(noise) :])
    assert isinstance(parsed.problems, tuple)
