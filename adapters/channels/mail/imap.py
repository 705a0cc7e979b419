"""The mailbox the mail channel's intake watches: new mail by UID, moved out once taken, IDLE.

The intake keeps a cursor ``(uidvalidity, uid)`` in its durable state and asks for the mail
after it: ``new_mail(after_uid)`` reads at most ``batch`` messages with ``BODY.PEEK[]``, so
the mailbox's ``\\Seen`` flags stay the humans' (a shared mailbox is read in a mail client
too). A message the channel has taken is moved to the ``processed`` folder, one it refuses to
``quarantine``; both folders are created at connection when missing. UIDs only mean something
with the UIDVALIDITY they came with: when it changes, the server has renumbered the folder and
the caller must rescan it, not trust its cursor.

A server shows a session new messages only once it has announced them (``* n EXISTS``), which
it does at the end of a command or during IDLE: ``new_mail`` therefore starts with a NOOP, so
that its search sees everything delivered so far. ``wait`` blocks until the server says new mail
is there (IDLE, RFC 2177) or the time-out passes, re-issued by the caller well before servers
drop an idle client (29 minutes; here 25 at most); servers without IDLE are polled every
``poll_s``. It returns at once when a batch was left over, or when the server announced mail
during ``new_mail``'s search or fetch (the client notes every EXISTS it receives), since that
mail may not be in the batch and the server will not announce it again.

Authentication is LOGIN with a password, or SASL XOAUTH2 with an OAuth2 access token (Microsoft
365, Google): ``AUTHENTICATE XOAUTH2`` with the initial response ``xoauth2(user, token)``. A
server that refuses the token sends an error challenge first; it is answered with an empty line
to get the final ``NO``. TLS is implicit (port 993) with the default SSL context: certificates
and host names are always checked.

Folder names are given as text and sent in IMAP's modified UTF-7 (RFC 3501 5.1.3), quoted: a
French deployment's ``Traité`` is ``Trait&AOk-`` on the wire.

Exceptions::

    MailboxAuthError   the server refused the credentials (a password changed, a token expired
                       or revoked): the channel reports that it needs re-authorisation
    MailboxError       anything else: refused or lost connection, TLS failure, time-out, a
                       command the server refused; the caller reconnects later
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from base64 import b64encode
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import aioimaplib  # type: ignore[import-untyped]
import msgspec

__all__ = ["Fetched", "Mailbox", "MailboxAuthError", "MailboxError", "mutf7", "xoauth2"]

IDLE_AT_MOST_S = 25 * 60.0
"""Servers may drop a client idle for 30 minutes (RFC 2177 says re-issue IDLE within 29)."""

TRANSIENT_CODES = (b"[UNAVAILABLE]", b"[SERVERBUG]", b"[INUSE]", b"[LIMIT]")
"""``NO`` codes after LOGIN that say the server cannot now, not that the credentials are wrong."""

MONTHS = {
    name: number
    for number, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
INTERNALDATE = re.compile(
    rb'INTERNALDATE "\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"'
)
FETCH_START = re.compile(rb"^\d+ FETCH \(")
FETCH_UID = re.compile(rb"\bUID (\d+)")
FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
LOGGED_IN = (aioimaplib.NONAUTH, aioimaplib.AUTH, aioimaplib.SELECTED)
MOVED = re.compile(rb"^\d+ EXPUNGE")
EXISTS = re.compile(rb"^\* \d+ EXISTS")

T = TypeVar("T")


class MailboxError(Exception):
    """The mailbox cannot be reached or refused a command; try again later."""


class MailboxAuthError(MailboxError):
    """The server refused the credentials: a person must renew them."""


class Fetched(msgspec.Struct, frozen=True):
    """One message as delivered: its UID, when the server received it, its exact bytes."""

    uid: int
    internaldate: datetime
    raw: bytes


def xoauth2(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response for ``user`` with an OAuth2 access token, in base64."""
    return b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode("ascii")


def mutf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7: ASCII as is (``&`` as ``&-``), the rest in base64."""
    out: list[str] = []
    pending: list[str] = []

    def shift() -> None:
        if pending:
            encoded = b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for character in name:
        if " " <= character <= "~":
            shift()
            out.append("&-" if character == "&" else character)
        else:
            pending.append(character)
    shift()
    return "".join(out)


def _folder(name: str) -> str:
    return str(aioimaplib.quoted(mutf7(name)))


def parse_internaldate(line: bytes) -> datetime:
    """The aware datetime of an ``INTERNALDATE "DD-Mon-YYYY HH:MM:SS +HHMM"`` in ``line``."""
    found = INTERNALDATE.search(line)
    if found is None or found.group(2).decode().title() not in MONTHS:
        raise MailboxError(f"no INTERNALDATE the server could mean in {line[:200]!r}")
    day, month, year, hour, minute, second, sign, zone_h, zone_m = found.groups()
    offset = timedelta(hours=int(zone_h), minutes=int(zone_m)) * (-1 if sign == b"-" else 1)
    return datetime(
        int(year),
        MONTHS[month.decode().title()],
        int(day),
        int(hour),
        int(minute),
        int(second),
        tzinfo=UTC if not offset else timezone(offset),
    )


def parse_fetch(lines: list[Any]) -> list[Fetched]:
    """The messages of a ``UID FETCH (UID INTERNALDATE RFC822.SIZE BODY.PEEK[])`` answer.

    Each message is a line opening ``n FETCH (``, its literal (the bytes), and the line closing
    it; items may come in any order around the literal. Unsolicited FETCH answers (another
    client changed flags) carry no body and are left out.
    """
    fetched: list[Fetched] = []
    text, raw = b"", None

    def close() -> None:
        uid = FETCH_UID.search(text)
        if uid is None or raw is None:
            return
        size = FETCH_SIZE.search(text)
        number = int(uid.group(1))
        if size is not None and int(size.group(1)) != len(raw):
            raise MailboxError(f"message {number}: {len(raw)} bytes read of {int(size.group(1))}")
        fetched.append(Fetched(number, parse_internaldate(text), raw))

    for line in lines:
        if isinstance(line, bytearray):
            raw = bytes(line)
        elif isinstance(line, bytes) and FETCH_START.match(line):
            close()
            text, raw = line, None
        elif isinstance(line, bytes):
            text += b" " + line
    close()
    return sorted(fetched, key=lambda message: message.uid)


class _XOAuth2(aioimaplib.Command):  # type: ignore[misc]
    """``AUTHENTICATE XOAUTH2`` that answers the server's error challenge with an empty line."""

    def __init__(self, protocol: Any, response: str) -> None:
        tag = protocol.new_tag()
        super().__init__("AUTHENTICATE", tag, "XOAUTH2", response, loop=protocol.loop)
        self._protocol = protocol
        self._challenged = False

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        if result == "Pending" and isinstance(line, bytes) and line.startswith(b"+"):
            self._challenged = True
        super().append_to_resp(line, result)

    def flush(self) -> None:
        if self._challenged:
            self._challenged = False
            self._protocol.send("")


class Mailbox:
    """One IMAP connection to a mailbox, its inbox selected; see the module's docstring.

    One caller at a time: IMAP is one conversation, and IDLE holds it until ``wait`` returns.
    After a ``MailboxError``, ``connect`` again (it closes what is left first).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        user: str,
        password: str | None = None,
        access_token: str | None = None,
        inbox: str = "INBOX",
        processed: str = "Processed",
        quarantine: str = "Quarantine",
        batch: int = 100,
        poll_s: float = 60.0,
        timeout_s: float = 30.0,
    ) -> None:
        if (password is None) == (access_token is None):
            raise ValueError("give a password or an OAuth2 access token, not both nor neither")
        self.host, self.port, self.tls, self.user = host, port, tls, user
        self._password, self._access_token = password, access_token
        self.inbox, self.processed, self.quarantine = inbox, processed, quarantine
        self.batch, self.poll_s, self.timeout_s = batch, poll_s, timeout_s
        self.uidvalidity = 0
        self._client: Any = None
        self._announced = False
        self._left_over = False
        self._lost = False
        self._gone = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._client is not None and not self._lost

    @property
    def idling(self) -> bool:
        """Whether an IDLE is under way, the server to announce new mail."""
        return self._client is not None and bool(self._client.has_pending_idle())

    @property
    def idles(self) -> bool:
        """Whether the server announces new mail (IDLE) rather than being polled."""
        return self._capable("IDLE")

    async def connect(self) -> None:
        """Connect, authenticate, create the folders when missing and select the inbox."""
        await self.close()
        self._lost = False
        try:
            if self.tls:
                client = aioimaplib.IMAP4_SSL(
                    self.host, self.port, timeout=self.timeout_s, ssl_context=_tls_context()
                )
            else:
                client = aioimaplib.IMAP4(self.host, self.port, timeout=self.timeout_s)
        except (OSError, aioimaplib.AioImapException) as error:
            raise MailboxError(f"cannot connect to {self.host}:{self.port}: {error!r}") from error
        self._watch(client.protocol)
        self._client = client
        try:
            await self._guard(client.wait_hello_from_server(), "greeting")
            await self._authenticate()
            await self._guard(client.protocol.capability(), "CAPABILITY")
            for folder in (self.processed, self.quarantine):
                await self._ensure(folder)
            selected = await self._ok(client.select(_folder(self.inbox)), "SELECT")
        except BaseException:
            await self.close()
            raise
        self.uidvalidity = _uidvalidity(selected.lines)

    async def _authenticate(self) -> None:
        client = self._client
        if self._password is not None:
            login = client.login(aioimaplib.quoted(self.user), self._password)
            response = await self._guard(login, "LOGIN")
        else:
            command = _XOAuth2(client.protocol, xoauth2(self.user, self._access_token or ""))
            executed = client.protocol.execute(command, scrub=self._access_token)
            response = await self._guard(asyncio.wait_for(executed, self.timeout_s), "XOAUTH2")
            if response.result == "OK":
                client.protocol.state = aioimaplib.AUTH
        if response.result == "OK":
            return
        said = b" ".join(line for line in response.lines if isinstance(line, bytes))
        if any(code in said for code in TRANSIENT_CODES):
            raise MailboxError(f"{self.host} cannot log in now: {said.decode(errors='replace')}")
        raise MailboxAuthError(f"{self.host} refused {self.user}: {said.decode(errors='replace')}")

    async def _ensure(self, folder: str) -> None:
        listed = await self._ok(self._client.list('""', _folder(folder)), "LIST")
        if not any(line.startswith(b"(") for line in listed.lines if isinstance(line, bytes)):
            await self._ok(self._client.create(_folder(folder)), f"CREATE {folder}")

    async def new_mail(self, after_uid: int) -> list[Fetched]:
        """The inbox's messages after ``after_uid``, in UID order, ``batch`` at most."""
        await self._ok(self._live().noop(), "NOOP")
        self._announced = False
        uids = await self._uids_after(after_uid)
        self._left_over = len(uids) > self.batch
        if not uids:
            return []
        first, last = uids[0], uids[: self.batch][-1]
        parts = "(UID INTERNALDATE RFC822.SIZE BODY.PEEK[])"
        response = await self._ok(self._client.uid("fetch", f"{first}:{last}", parts), "FETCH")
        return [m for m in parse_fetch(response.lines) if after_uid < m.uid <= last]

    async def _uids_after(self, after_uid: int) -> list[int]:
        search = self._client.uid_search(f"UID {after_uid + 1}:*", charset=None)
        response = await self._ok(search, "SEARCH")
        found = (int(word) for line in response.lines[:-1] for word in line.split())
        return sorted(uid for uid in found if uid > after_uid)  # N:* always names the last one

    async def move(self, uid: int, folder: str) -> bool:
        """Move a message out of the inbox; False when the inbox has no such UID (moved already).

        ``UID MOVE`` when the server has it, else ``UID COPY``, ``\\Deleted`` and an expunge
        (``UID EXPUNGE`` with UIDPLUS, else a plain EXPUNGE of every message so flagged). A UID
        the session has not been told of yet is not found: the move is tried again after a NOOP.
        """
        self._live()
        moved = await self._move(uid, folder)
        if moved is False:
            await self._ok(self._client.noop(), "NOOP")
            moved = await self._move(uid, folder)
        return moved is not False

    async def _move(self, uid: int, folder: str) -> bool | None:
        target = _folder(folder)
        if self._capable("MOVE"):
            response = await self._ok(self._client.uid("move", str(uid), target), "MOVE")
            return any(_moved(line) for line in response.lines)
        copied = await self._ok(self._client.uid("copy", str(uid), target), "COPY")
        found = any(_moved(line) for line in copied.lines)
        if self._capable("UIDPLUS") and not found:
            return False
        flagged = self._client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
        await self._ok(flagged, "STORE")
        if self._capable("UIDPLUS"):
            await self._ok(self._client.uid("expunge", str(uid)), "UID EXPUNGE")
            return True
        await self._ok(self._client.expunge(), "EXPUNGE")
        return None

    async def wait(self, timeout_s: float) -> bool:
        """Until new mail may be there (True) or ``timeout_s`` passed (False, with IDLE)."""
        self._live()
        if self._announced or self._left_over:
            return True
        if not self._capable("IDLE"):
            await asyncio.sleep(min(self.poll_s, timeout_s))
            return True
        return await self._idle(min(timeout_s, IDLE_AT_MOST_S))

    async def _idle(self, timeout_s: float) -> bool:
        client = self._client
        queue: asyncio.Queue[Any] = client.protocol.idle_queue
        while not queue.empty():
            queue.get_nowait()
        idle = await self._guard(client.idle_start(timeout=timeout_s + 60), "IDLE")
        woken = False
        deadline = time.monotonic() + timeout_s
        try:
            while not woken and not self._lost:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    pushed = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                woken = any(_announces_mail(line) for line in pushed)
        finally:
            if not self._lost:
                client.idle_done()
        if self._lost:
            raise MailboxError(f"{self.host}: connection lost while idle")
        ended = await self._guard(asyncio.wait_for(idle, self.timeout_s), "IDLE")
        if ended.result != "OK":
            raise MailboxError(f"{self.host} ended IDLE with {ended.result}: {ended.lines!r}")
        return woken

    async def close(self) -> None:
        """Log out (briefly, the connection may be gone) and drop the connection.

        A TLS connection closes after both sides said so: that is waited for, two seconds at
        most, then the socket is closed regardless.
        """
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if not self._lost and client.get_state() in LOGGED_IN:
                await asyncio.wait_for(client.logout(), min(self.timeout_s, 5.0))
        except (OSError, TimeoutError, aioimaplib.AioImapException):
            pass
        finally:
            _drop(client)
            await self._closed(client)

    async def _closed(self, client: Any) -> None:
        transport = client.protocol.transport
        if transport is None:
            return
        try:
            await asyncio.wait_for(self._gone.wait(), 2.0)
        except TimeoutError:
            transport.abort()

    def _live(self) -> Any:
        if self._client is None or self._lost:
            raise MailboxError(f"{self.host}:{self.port}: not connected")
        return self._client

    def _capable(self, capability: str) -> bool:
        return self._client is not None and bool(self._client.has_capability(capability))

    def _watch(self, protocol: Any) -> None:
        """Note every EXISTS the server sends, and fail the commands under way when it hangs up.

        aioimaplib drops the untagged answers no command asked for, and leaves a command waiting
        for its time-out when the connection is gone: both are hooked here.
        """
        untagged = protocol._untagged_response

        def noting(line: bytes) -> Any:
            if EXISTS.match(line):
                self._announced = True
            return untagged(line)

        gone = self._gone = asyncio.Event()

        def lost(error: Exception | None) -> None:
            gone.set()
            if self._client is None or self._client.protocol is not protocol:
                return  # a connection closed before: its end must not mark the new one lost
            self._lost = True
            pending = [protocol.pending_sync_command, *protocol.pending_async_commands.values()]
            for command in pending:
                if command is not None:
                    command._exception = aioimaplib.Abort(f"connection lost: {error!r}")
                    command.close(b"connection lost", "BYE")
            protocol.idle_queue.put_nowait([b"connection lost"])

        protocol._untagged_response = noting
        protocol.conn_lost_cb = lost

    async def _guard(self, pending: Awaitable[T], what: str) -> T:
        if self._client is None:
            raise MailboxError(f"{what}: not connected")
        try:
            return await pending
        except (OSError, TimeoutError, aioimaplib.AioImapException) as error:
            raise MailboxError(f"{self.host}:{self.port} {what}: {error!r}") from error

    async def _ok(self, pending: Awaitable[Any], what: str) -> Any:
        response = await self._guard(pending, what)
        if self._lost:
            raise MailboxError(f"{self.host}: connection lost during {what}")
        if response.result != "OK":
            raise MailboxError(f"{self.host} refused {what}: {response.result} {response.lines!r}")
        return response


def _drop(client: Any) -> None:
    """Close the connection, or give up opening it: no transport is left to the collector."""
    opening = client._client_task
    if not opening.done():
        opening.cancel()
    elif not opening.cancelled() and opening.exception() is None:
        transport, _ = opening.result()
        transport.close()
    if client.protocol.transport is not None:
        client.protocol.transport.close()


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


def _uidvalidity(lines: list[Any]) -> int:
    for line in lines:
        found = UIDVALIDITY.search(line) if isinstance(line, bytes) else None
        if found:
            return int(found.group(1))
    raise MailboxError(f"SELECT gave no UIDVALIDITY: {lines!r}")


def _moved(line: Any) -> bool:
    return isinstance(line, bytes) and (b"[COPYUID " in line or MOVED.match(line) is not None)


def _announces_mail(line: Any) -> bool:
    return isinstance(line, bytes) and line.endswith((b"EXISTS", b"RECENT"))
