"""Sending an answer by mail: the message as clients thread it, and its submission over SMTP.

``compose`` writes the answer: plain UTF-8 text, threaded under the customer's mail
(In-Reply-To, References) so their client shows one conversation, and marked
``Auto-Submitted: auto-replied`` when no person wrote it (an acknowledgement), so that
auto-responders on the other side do not answer it (RFC 3834) and no loop starts.

Its Message-ID comes from the outbox's idempotency key (``message_id_for``): the same at every
attempt, so an answer sent again after a crash is the same message to every server and client
that deduplicates on it, and a bounce that returns it names the answer it concerns.

``Submission`` hands the message to the organisation's submission server (port 587 with
STARTTLS by default; 465 with TLS; plain SMTP only to a relay on this machine). Its failures
are the channel protocol's: a recipient the server refuses for good (5xx) fails the answer at
once (``SendFailed(permanent=True)``), and so does a message it refuses for good at DATA (too
large, refused as spam); a temporary refusal (4xx), a time-out, a lost connection, a sender
the server refuses (the channel's configuration, which an operator can fix) are retried by the
outbox; refused or missing credentials (``NeedsReauthorisation``) want an operator. STARTTLS is
required, never skipped: a server that does not offer it fails the send.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Iterable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Literal

import aiosmtplib

from aiguillage.adapters.channels import NeedsReauthorisation, SendFailed

__all__ = ["Security", "Submission", "compose", "message_id_for"]

Security = Literal["starttls", "tls", "none"]

_ANSWERED = re.compile(r"^\s*(re|tr|fwd?|aw|sv)\s*:", re.IGNORECASE)
_AUTHENTICATION_CODES = frozenset({530, 534, 535, 538})


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID of the message sent under ``idempotency_key`` (without angle brackets).

    Letters, digits, ``-`` and ``_`` are kept, ``:`` becomes ``.``, and any other character
    is written ``=XX`` (each byte of its UTF-8): distinct keys give distinct ids, and each id is
    an RFC 5322 ``dot-atom``.
    """
    local = "".join(_id_char(char) for char in idempotency_key)
    if not local or local.startswith(".") or local.endswith(".") or ".." in local:
        local = "".join(_id_char(char, colon=False) for char in idempotency_key) or "="
    return f"{local}@{domain.strip().lower()}"


def _id_char(char: str, *, colon: bool = True) -> str:
    if char.isascii() and (char.isalnum() or char in "-_"):
        return char
    if char == ":" and colon:
        return "."
    return "".join(f"={byte:02X}" for byte in char.encode())


def compose(
    from_address: str,
    from_name: str,
    to_address: str,
    subject: str,
    text: str,
    message_id: str,
    in_reply_to: str = "",
    references: Iterable[str] = (),
    auto_submitted: bool = False,
    reference_header: str | None = None,
    *,
    now: datetime | None = None,
) -> EmailMessage:
    """The answer as a mail, ready to submit.

    ``message_id``, ``in_reply_to`` and ``references`` are ids with or without their angle
    brackets; References lists the thread's ``references`` then ``in_reply_to``, each once.
    The subject gets ``Re:`` when the mail answers one (``in_reply_to``), unless it has it
    already. ``reference_header``: the interaction's reference, sent as
    ``X-Aiguillage-Reference`` so a reply that loses its threading headers still finds it.
    Line breaks and control characters in the subject and names become spaces (a subject
    decoded from the customer's mail cannot add headers). Raises ``ValueError`` for an address
    that cannot be written.
    """
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=_one_line(from_name), addr_spec=from_address)
    message["To"] = Address(addr_spec=to_address)
    message["Subject"] = (
        _answer_subject(_one_line(subject)) if _bare(in_reply_to) else _one_line(subject)
    )
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = f"<{_bare(message_id)}>"
    if _bare(in_reply_to):
        message["In-Reply-To"] = f"<{_bare(in_reply_to)}>"
    thread = [_bare(reference) for reference in (*references, in_reply_to)]
    ids = list(dict.fromkeys(reference for reference in thread if reference))
    if ids:
        message["References"] = " ".join(f"<{reference}>" for reference in ids)
    if auto_submitted:
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
    if reference_header:
        message["X-Aiguillage-Reference"] = _one_line(reference_header)
    message.set_content(text, charset="utf-8", cte=None if text.isascii() else "quoted-printable")
    return message


def _answer_subject(subject: str) -> str:
    return subject if _ANSWERED.match(subject) else f"Re: {subject}".rstrip()


def _one_line(value: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


class Submission:
    """The submission server the channel sends through."""

    def __init__(
        self,
        host: str,
        port: int = 587,
        security: Security = "starttls",
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"security must be starttls, tls or none, not {security!r}")
        if security == "none" and not _is_loopback(host):
            raise ValueError(
                f"security 'none' sends the mail and the password in clear: only to a relay on "
                f"this machine (a loopback address), not to {host!r}; use starttls or tls"
            )
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self.password = password
        self.timeout = timeout
        self.tls_context = tls_context

    def __repr__(self) -> str:
        return (
            f"Submission(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"user={self.user!r})"
        )

    async def send(self, message: EmailMessage) -> str:
        """Submit ``message`` to its To, Cc and Bcc; return its Message-ID (no brackets)."""
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.user,
                password=self.password,
                timeout=self.timeout,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                tls_context=self.tls_context,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise _recipients_refused(error.recipients) from error
        except aiosmtplib.SMTPRecipientRefused as error:
            raise _recipients_refused([error]) from error
        except aiosmtplib.SMTPResponseException as error:
            raise _refused(error) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise SendFailed(f"The submission server {self._where()} failed: {error}") from error
        return _bare(str(message.get("Message-ID", "")))

    def _where(self) -> str:
        return f"{self.host}:{self.port}"


def _recipients_refused(refusals: list[aiosmtplib.SMTPRecipientRefused]) -> SendFailed:
    said = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in refusals)
    permanent = all(500 <= refusal.code < 600 for refusal in refusals)
    if permanent:
        return SendFailed(f"The server refused the recipient ({said}).", permanent=True)
    return SendFailed(f"The server refused the recipient for now ({said}); it will be retried.")


def _refused(error: aiosmtplib.SMTPResponseException) -> SendFailed:
    reply = f"{error.code} {error.message}"
    if error.code in _AUTHENTICATION_CODES:
        return NeedsReauthorisation(f"The submission server refused the credentials ({reply}).")
    if isinstance(error, aiosmtplib.SMTPDataError) and 500 <= error.code < 600:
        return SendFailed(f"The server refused the message ({reply}).", permanent=True)
    return SendFailed(f"The submission server refused to send ({reply}).")


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
