"""The mail channel: complaints in from an IMAP mailbox, answers out through an SMTP relay.

Intake. The channel watches the inbox (IMAP IDLE, re-issued before 29 minutes; a poll where the
server has no IDLE). Each mail is read with ``BODY.PEEK`` (``\\Seen`` is never touched: people
open this mailbox too), submitted, and only once the interaction is durable moved to the
processed folder (``MOVE``, or copy and delete). So a crash at any point loses nothing: a mail
still in the inbox is read again, and its idempotency key (``source`` ``email`` and its
``Message-ID``, or a digest of its bytes when it has none) makes it the same message. The cursor,
the UID with its UIDVALIDITY, is the channel's durable state; when the UIDVALIDITY changes, the
inbox is read again from its start, and the keys again make that harmless. ``received_at`` is
the server's INTERNALDATE, never the sender's ``Date:``.

What is not a complaint is never acknowledged and never becomes work: auto-replies (RFC 3834),
bulk and list mail, a null reverse-path; a delivery status notification (RFC 3464) about one of
our answers marks that answer bounced. A mail in a thread (``In-Reply-To``, ``References``)
joins its interaction while it is open, or opens a follow-up once it is closed. A malformed mail
becomes work with what could be read and the list of what could not (``problems`` in its personal
data); one the daemon refuses (too old for ``[daemon] backfill_days``) goes to the quarantine
folder, with a log line. Nothing stops the intake.

A new complaint gets an acknowledgement of receipt at once (its reference and the date the
answer is due; ``Auto-Submitted: auto-replied``), at most one per sender within
``acknowledge_window_s``; it stops no clock. Answers and acknowledgements, for the sources
``email`` and ``webform``, leave through the relay with our own ``Message-ID`` (made from the
outbox's idempotency key, so a send repeated after a crash is the same mail) and
``In-Reply-To``/``References``, so that the customer's client threads them.
"""

from __future__ import annotations

import base64
import os
import re
import time
from datetime import datetime
from typing import Any

import anyio
import msgspec
import structlog

from aiguillage.adapters.channels import (
    AdapterContext,
    Conflict,
    Outgoing,
    Rejected,
    SendFailed,
    Sent,
    Unavailable,
)
from aiguillage.adapters.channels.mail.imap import Fetched, Mailbox, MailboxAuthError, MailboxError
from aiguillage.adapters.channels.mail.mime import ParsedMail, digest_id, parse
from aiguillage.adapters.channels.mail.oauth import AccessTokens
from aiguillage.adapters.channels.mail.settings import MailSettings, is_loopback
from aiguillage.adapters.channels.mail.smtp import Submission, compose, message_id_for
from aiguillage.engine.commands import Submit
from aiguillage.engine.errors import EngineError
from aiguillage.engine.instants import from_datetime

__all__ = ["MailChannel", "MailState", "our_message"]

log = structlog.get_logger("aiguillage.channels.mail")

_OURS = re.compile(r"message\.(\d+)@")
"""Our Message-IDs end ``…message.<id>@<domain>`` (``smtp.message_id_for``)."""

_ACKNOWLEDGEMENT = {
    "fr": (
        "Bonjour,\n\nNous avons bien reçu votre réclamation, enregistrée sous la référence "
        "{reference}. Vous recevrez une réponse au plus tard le {due_date}.\n\n"
        "Merci de rappeler cette référence dans vos échanges avec nous.\n\n"
        "Ceci est un message automatique.\n"
    ),
    "en": (
        "Hello,\n\nWe have received your complaint, recorded under the reference {reference}. "
        "You will receive an answer by {due_date} at the latest.\n\n"
        "Please quote this reference when you write to us.\n\nThis message was sent "
        "automatically.\n"
    ),
}
_DUE = {"fr": "%d/%m/%Y à %H:%M", "en": "%Y-%m-%d at %H:%M"}


class MailState(msgspec.Struct, frozen=True, kw_only=True):
    """Where the intake is: the inbox's UIDVALIDITY and the last UID dealt with."""

    uidvalidity: int = 0
    last_uid: int = 0


def our_message(message_id: str) -> int | None:
    """Return the outbox's message id of one of our Message-IDs, or None."""
    found = _OURS.search(message_id)
    return int(found.group(1)) if found else None


def reference(interaction_id: int) -> str:
    return f"AIG-{interaction_id}"


class MailChannel:
    """The ``mail`` plugin: see the module docstring."""

    Settings = MailSettings
    subscribes: frozenset[str] = frozenset()

    def __init__(self, context: AdapterContext[MailSettings]) -> None:
        self.context = context
        settings = self.settings = context.settings
        self.sources = frozenset(settings.sources)
        self._password = _secret(settings.imap_password_env) if settings.auth == "password" else ""
        self._tokens = AccessTokens.of(settings) if settings.auth == "xoauth2" else None
        smtp_password = _secret(settings.smtp_password_env) if settings.smtp_user else ""
        security = settings.smtp_security or (
            "none" if is_loopback(settings.smtp_host) else "starttls"
        )
        if security == "none" and not is_loopback(settings.smtp_host):
            raise ValueError(
                'smtp_security = "none" sends mail in clear: allowed only to a relay on '
                'loopback; use "starttls" or "tls"'
            )
        self._relay = Submission(
            settings.smtp_host,
            settings.smtp_port,
            security=security,
            user=settings.smtp_user or None,
            password=smtp_password or None,
        )
        self._domain = settings.from_address.rpartition("@")[2]
        self._acknowledged: dict[str, float] = {}
        """Senders acknowledged lately (monotonic time), in memory: after a restart a sender
        may get one acknowledgement more, never a flood."""

    # -- intake --------------------------------------------------------------------------------

    async def run(self) -> None:
        state = self.context.state(MailState)
        settings = self.settings
        tls = (
            settings.imap_tls
            if settings.imap_tls is not None
            else not is_loopback(settings.imap_host)
        )
        while True:  # a lost connection raises: the supervisor starts the channel again
            credential = await self._credential()
            mailbox = Mailbox(
                settings.imap_host,
                settings.imap_port,
                tls=tls,
                user=settings.imap_user,
                password=credential if settings.auth == "password" else None,
                access_token=credential if settings.auth == "xoauth2" else None,
                inbox=settings.inbox,
                processed=settings.processed_folder,
                quarantine=settings.quarantine_folder,
                poll_s=settings.poll_s,
            )
            try:
                await mailbox.connect()
            except MailboxAuthError as exc:
                self.context.report("needs_reauthorisation", f"IMAP: {exc}")
                raise
            except MailboxError as exc:
                self.context.report("degraded", f"IMAP: {exc}")
                raise
            self.context.report("ok")
            try:
                await self._watch(mailbox, state)
            except MailboxError as exc:
                self.context.report("degraded", f"IMAP: {exc}")
                raise
            finally:
                with anyio.CancelScope(shield=True):
                    await mailbox.close()

    async def _watch(self, mailbox: Mailbox, state: Any) -> None:
        cursor = await _read_state(state)
        if cursor.uidvalidity != mailbox.uidvalidity:
            if cursor.uidvalidity:
                log.warning(
                    "the inbox's UIDVALIDITY changed: it is read again from its start; the "
                    "idempotency keys keep every mail one message",
                    before=cursor.uidvalidity,
                    now=mailbox.uidvalidity,
                )
            cursor = MailState(uidvalidity=mailbox.uidvalidity, last_uid=0)
            await state.put(cursor)
        while True:
            batch = await mailbox.new_mail(cursor.last_uid)
            for fetched in batch:
                await self._take(mailbox, fetched)
                cursor = MailState(uidvalidity=cursor.uidvalidity, last_uid=fetched.uid)
                await state.put(cursor)
            if not batch:
                await mailbox.wait(min(self.settings.poll_s, 25 * 60))

    async def _take(self, mailbox: Mailbox, fetched: Fetched) -> None:
        """Make one mail durable work (or a bounce, or nothing), then move it out of the inbox."""
        settings = self.settings
        if len(fetched.raw) > settings.max_mail_bytes:
            log.warning("a mail over max_mail_bytes was quarantined", uid=fetched.uid)
            await mailbox.move(fetched.uid, settings.quarantine_folder)
            return
        parsed = parse(fetched.raw, max_attachment_bytes=settings.max_attachment_bytes)
        if parsed.bounce is not None:
            await self._bounced(parsed)
        elif parsed.auto:
            log.info("not a complaint: left unanswered", uid=fetched.uid, why=parsed.auto)
        else:
            try:
                await self._submit(parsed, fetched)
            except (Rejected, Conflict, EngineError) as exc:
                # Refused for good (too old, its Message-ID reused for other work, a motive
                # not configured): set aside for a person, and the intake goes on.
                log.warning(
                    "a mail the daemon refuses was quarantined",
                    uid=fetched.uid,
                    error=type(exc).__name__,
                    detail=str(exc),
                )
                await mailbox.move(fetched.uid, settings.quarantine_folder)
                return
        await mailbox.move(fetched.uid, settings.processed_folder)

    async def _submit(self, parsed: ParsedMail, fetched: Fetched) -> None:
        settings = self.settings
        external_id = parsed.message_id or digest_id(fetched.raw)
        thread = parsed.references[0] if parsed.references else parsed.in_reply_to or external_id
        command = Submit(
            channel="written",
            source="email",
            external_id=external_id,
            thread=thread,
            received_at=from_datetime(fetched.internaldate),
            motive=settings.motive,
            language=settings.language,
        )
        personal: dict[str, Any] = {
            "customer": {"name": parsed.from_name, "email": parsed.reply_to or parsed.from_address},
            "subject": parsed.subject,
            "text": parsed.text,
            "message_id": parsed.message_id,
            "references": [
                *parsed.references,
                *([parsed.in_reply_to] if parsed.in_reply_to else []),
            ],
            "attachments": [
                {
                    "name": a.name,
                    "content_type": a.content_type,
                    "size": a.size,
                    **({"data": base64.b64encode(a.data).decode()} if a.data is not None else {}),
                }
                for a in parsed.attachments
            ],
        }
        if parsed.problems:
            personal["problems"] = list(parsed.problems)
        while True:
            try:
                receipt = await self.context.submit(command, personal, raw=fetched.raw)
                break
            except Unavailable:
                await anyio.sleep(1)  # rebuilding, or a standby: the mail waits in the inbox
        interaction = receipt.interaction
        # Its own interaction (not one it joined), new or resubmitted: the engine posts one
        # acknowledgement per interaction, so asking again after a crash loses none and sends
        # none twice.
        opened = interaction.external_id == external_id
        sender = str(personal["customer"]["email"]).lower()
        if opened and settings.acknowledge and sender and self._may_acknowledge(sender):
            await self._acknowledge(interaction.id, interaction.deadline)

    def _may_acknowledge(self, sender: str) -> bool:
        now, window = time.monotonic(), self.settings.acknowledge_window_s
        for address, at in list(self._acknowledged.items()):
            if now - at >= window:
                del self._acknowledged[address]
        if sender in self._acknowledged:
            return False
        self._acknowledged[sender] = now
        return True

    async def _acknowledge(self, interaction_id: int, deadline: str) -> None:
        language = self.settings.language
        due = datetime.fromisoformat(deadline).strftime(_DUE.get(language, _DUE["en"]))
        text = _ACKNOWLEDGEMENT.get(language, _ACKNOWLEDGEMENT["en"]).format(
            reference=reference(interaction_id), due_date=due
        )
        try:
            await self.context.acknowledge(interaction_id, text)
        except (Unavailable, EngineError) as exc:  # the complaint is safe; the receipt is not
            log.warning("no acknowledgement", interaction_id=interaction_id, error=str(exc))

    async def _bounced(self, parsed: ParsedMail) -> None:
        bounce = parsed.bounce
        assert bounce is not None
        message_id = our_message(bounce.original_message_id)
        if message_id is None:
            log.info(
                "a bounce of a mail that is not one of our answers", id=bounce.original_message_id
            )
            return
        reason = f"{bounce.status} {bounce.diagnostic}".strip()
        try:
            await self.context.bounced(message_id, reason or "bounced")
        except EngineError as exc:  # unknown, or not sent: nothing to mark
            log.info("a bounce that marks nothing", message_id=message_id, error=str(exc))

    async def _credential(self) -> str:
        if self._tokens is not None:
            try:
                return await self._tokens.access_token()
            except PermissionError as exc:
                self.context.report("needs_reauthorisation", str(exc))
                raise
        return self._password

    # -- sending -------------------------------------------------------------------------------

    async def send(self, outgoing: Outgoing) -> Sent:
        if not outgoing.received:
            raise SendFailed("the interaction has no customer message to answer", permanent=True)
        first, last = outgoing.received[0], outgoing.received[-1]
        customer = last.get("customer") or first.get("customer") or {}
        to = str(customer.get("email") or "")
        if not to:
            raise SendFailed("the customer gave no e-mail address", permanent=True)
        in_reply_to = str(last.get("message_id") or "")
        references = [str(r) for r in last.get("references") or ()]
        subject = str(first.get("subject") or "")
        if not subject or outgoing.kind == "acknowledgement":
            subject = f"{reference(outgoing.interaction_id)} {subject}".strip()
        message = compose(
            from_address=self.settings.from_address,
            from_name=self.settings.from_name,
            to_address=to,
            subject=subject,
            text=outgoing.text,
            message_id=message_id_for(outgoing.idempotency_key, self._domain),
            in_reply_to=in_reply_to,
            references=references,
            auto_submitted=outgoing.kind == "acknowledgement",
            reference_header=reference(outgoing.interaction_id),
        )
        peer_id = await self._relay.send(message)
        return Sent(peer_id=peer_id, evidence=message.as_bytes())


async def _read_state(state: Any) -> MailState:
    found = await state.get()
    return found if isinstance(found, MailState) else MailState()


def _secret(variable: str) -> str:
    value = os.environ.get(variable, "") if variable else ""
    if not value:
        what = variable or "the variable named by the setting"
        raise ValueError(f"set {what} in the daemon's environment (a secret of [adapters.mail])")
    return value
