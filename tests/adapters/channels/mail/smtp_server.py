"""A real SMTP server for tests: aiosmtpd's ``Controller`` on a free loopback port, in its thread.

Every accepted message is recorded (envelope sender, recipients, raw bytes) in a list guarded by
a lock, since the server answers from its own thread while the test reads from another.
Behaviours a relay shows to a sender can be asked for: AUTH required (PLAIN and LOGIN offered
without TLS, loopback only), given recipients refused with 550, the next N messages failed with
a temporary 451.

AUTH is required by refusing ``MAIL FROM`` before a successful AUTH (530), rather than with
aiosmtpd's ``auth_required``, whose warning about AUTH without TLS is meant for real servers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.adapters.daemons import free_port


class Received(msgspec.Struct, frozen=True):
    sender: str
    recipients: tuple[str, ...]
    raw: bytes


class SmtpServer:
    """Records what it accepts; ``start``/``stop`` run and end the server's thread."""

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        refused: Iterable[str] = (),
        fail_next: int = 0,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.credentials = credentials
        self.refused = {address.lower() for address in refused}
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._fail_next = fail_next
        self.on_message: Callable[[Received], None] | None = None
        """Called with each message accepted, before the 250 goes back (the tests kill the
        sender there: it has sent the mail and not heard that it was taken)."""
        self._controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            authenticator=self._authenticate if credentials else None,
            auth_require_tls=False,
        )

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` messages' DATA with 451 (try again later)."""
        with self._lock:
            self._fail_next = count

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        user, password = self.credentials
        granted = data.login.decode() == user and data.password.decode() == password
        return AuthResult(success=granted, handled=False, auth_data=data)

    def take_failure(self) -> bool:
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return True
            return False

    def record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.server.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.server.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.server.take_failure():
            return "451 4.3.0 Temporary failure, try again later"
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        received = Received(sender, tuple(envelope.rcpt_tos), raw)
        self.server.record(received)
        if self.server.on_message is not None:
            self.server.on_message(received)
        return "250 2.0.0 Message accepted for delivery"
