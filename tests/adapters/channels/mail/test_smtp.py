"""Composing answers and submitting them to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from aiguillage.adapters.channels import NeedsReauthorisation, SendFailed
from aiguillage.adapters.channels.mail.mime import parse
from aiguillage.adapters.channels.mail.smtp import Security, Submission, compose, message_id_for

pytestmark = pytest.mark.anyio

USER, PASSWORD = "contact@shop.example", "s3cret-pässword"
TEXT = (
    "Bonjour Jeanne,\n\nVotre colis a été réexpédié ; il arrivera lundi. Désolés pour ce "
    "désagrément, nous vous remboursons les frais de port (4,90 €).\n\nL'équipe — Service client"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Handler:
    """Accepts every recipient but two: nobody@ (550, for good) and later@ (451, for now)."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 <nobody@example.fr>: Recipient address rejected: User unknown"
        if address.startswith("later@"):
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Ok: queued"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False)
        login, password = data.login.decode(), data.password.decode()
        if (login, password) != (USER, PASSWORD):
            return AuthResult(success=False, handled=False)
        self.logins.append(login)
        return AuthResult(success=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    handler: Handler
    port: int


def run(handler: Handler, **options: Any) -> Iterator[Server]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield Server(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from run(Handler())


@pytest.fixture
def auth_server() -> Iterator[Server]:
    handler = Handler()
    yield from run(
        handler, authenticator=handler.authenticate, auth_required=True, auth_require_tls=False
    )


def answer(to: str = "jeanne@example.fr", **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "from_address": "contact@shop.example",
        "from_name": "Service client Boutique Éloïse",
        "to_address": to,
        "subject": "Ma commande n°42",
        "text": TEXT,
        "message_id": message_id_for("acme:message:42", "shop.example"),
        "in_reply_to": "<abc.123@mail.example.fr>",
        "references": ("first@example.fr", "<abc.123@mail.example.fr>"),
        "auto_submitted": False,
        "reference_header": "INT-000042",
    }
    return compose(**(fields | changes))


def plain(server: Server, **options: Any) -> Submission:
    return Submission("127.0.0.1", server.port, security="none", timeout=5, **options)


def test_message_ids_from_idempotency_keys() -> None:
    assert message_id_for("acme:message:42", "Shop.Example") == "acme.message.42@shop.example"
    keys = ["a:b", "a.b", "a/b", "a=2Fb", ":a", "a::b", "é", "a b", ""]
    ids = [message_id_for(key, "shop.example") for key in keys]
    assert len(set(ids)) == len(keys)
    atom = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
    for message_id in ids:
        assert re.fullmatch(rf"{atom}(\.{atom})*@shop\.example", message_id), message_id


def test_compose_threads_the_answer_under_the_customer_mail() -> None:
    now = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
    message = answer(now=now)
    assert message["Message-ID"] == "<acme.message.42@shop.example>"
    assert message["In-Reply-To"] == "<abc.123@mail.example.fr>"
    assert message["References"] == "<first@example.fr> <abc.123@mail.example.fr>"
    assert message["Subject"] == "Re: Ma commande n°42"
    assert message["To"] == "jeanne@example.fr"
    assert message["From"].addresses[0].display_name == "Service client Boutique Éloïse"
    assert message["X-Aiguillage-Reference"] == "INT-000042"
    assert parsedate_to_datetime(message["Date"]) == now
    assert message["Date"].endswith("+0000")
    assert message["Auto-Submitted"] is None
    assert message["X-Auto-Response-Suppress"] is None
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] in ("quoted-printable", "8bit")
    assert message.get_content().rstrip("\n") == TEXT


def test_an_acknowledgement_is_marked_auto_submitted() -> None:
    message = answer(auto_submitted=True, reference_header=None)
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["X-Aiguillage-Reference"] is None


def test_line_breaks_in_a_subject_add_no_header() -> None:
    message = answer(subject="Colis\r\nBcc: spy@example.net", from_name="Service\nclient")
    assert message["Subject"] == "Re: Colis Bcc: spy@example.net"
    assert message["Bcc"] is None
    assert message["From"].addresses[0].display_name == "Service client"


def test_a_new_mail_has_no_threading_headers() -> None:
    message = answer(in_reply_to="", references=())
    assert message["Subject"] == "Ma commande n°42"
    assert message["In-Reply-To"] is None
    assert message["References"] is None


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: Colis", "RE: Colis"),
        ("Re:Colis", "Re:Colis"),
        ("TR: Colis", "TR: Colis"),
        ("Fwd: Colis", "Fwd: Colis"),
        ("Colis", "Re: Colis"),
        ("Retard", "Re: Retard"),
    ],
)
def test_the_subject_gets_re_once(subject: str, expected: str) -> None:
    assert answer(subject=subject)["Subject"] == expected


async def test_an_answer_reaches_the_server_with_its_headers_and_accents(server: Server) -> None:
    message = answer()
    accepted = await plain(server).send(message)
    assert accepted == "acme.message.42@shop.example"
    ((mail_from, recipients, content),) = server.handler.received
    assert (mail_from, recipients) == ("contact@shop.example", ["jeanne@example.fr"])
    received = parse(content)
    assert received.text == TEXT
    assert received.message_id == "acme.message.42@shop.example"
    assert received.in_reply_to == "abc.123@mail.example.fr"
    assert received.references == ("first@example.fr", "abc.123@mail.example.fr")
    assert received.subject == "Re: Ma commande n°42"
    assert received.from_name == "Service client Boutique Éloïse"
    assert received.problems == ()
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert parsed["X-Aiguillage-Reference"] == "INT-000042"


async def test_an_acknowledgement_received_is_read_as_automatic(server: Server) -> None:
    await plain(server).send(answer(auto_submitted=True))
    ((_, _, content),) = server.handler.received
    assert parse(content).auto == "An automatic message (Auto-Submitted: auto-replied)."


async def test_a_refused_recipient_is_a_permanent_failure(server: Server) -> None:
    with pytest.raises(SendFailed) as failed:
        await plain(server).send(answer(to="nobody@example.fr"))
    assert failed.value.permanent
    assert not isinstance(failed.value, NeedsReauthorisation)
    assert "550 5.1.1" in failed.value.reason
    assert "User unknown" in failed.value.reason
    assert server.handler.received == []


async def test_a_temporary_refusal_is_retried(server: Server) -> None:
    with pytest.raises(SendFailed) as failed:
        await plain(server).send(answer(to="later@example.fr"))
    assert not failed.value.permanent
    assert "451 4.3.0" in failed.value.reason
    assert server.handler.received == []


async def test_no_server_is_a_failure_to_retry() -> None:
    with pytest.raises(SendFailed) as failed:
        await Submission("127.0.0.1", free_port(), security="none", timeout=5).send(answer())
    assert not failed.value.permanent
    assert not isinstance(failed.value, NeedsReauthorisation)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_refused_credentials_need_reauthorisation(auth_server: Server) -> None:
    with pytest.raises(NeedsReauthorisation) as failed:
        await plain(auth_server, user=USER, password="wrong").send(answer())
    assert "535" in failed.value.reason
    assert auth_server.handler.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_missing_credentials_need_reauthorisation(auth_server: Server) -> None:
    with pytest.raises(NeedsReauthorisation) as failed:
        await plain(auth_server).send(answer())
    assert "530" in failed.value.reason
    assert auth_server.handler.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_accepted_credentials_send(auth_server: Server) -> None:
    accepted = await plain(auth_server, user=USER, password=PASSWORD).send(answer())
    assert accepted == "acme.message.42@shop.example"
    assert auth_server.handler.logins == [USER]
    assert len(auth_server.handler.received) == 1


def test_plain_smtp_only_to_this_machine() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Submission("smtp.example.net", 25, security="none")
    assert Submission("localhost", 25, security="none").security == "none"
    assert Submission("::1", 25, security="none").security == "none"
    assert Submission("smtp.example.net").security == "starttls"
    assert "pässword" not in repr(Submission("smtp.example.net", user=USER, password=PASSWORD))


async def test_starttls_is_required_not_skipped(server: Server) -> None:
    with pytest.raises(SendFailed, match="STARTTLS"):
        await Submission("127.0.0.1", server.port, timeout=5).send(answer())
    assert server.handler.received == []


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


async def test_starttls_with_credentials(tls_files: tuple[Path, Path]) -> None:
    key, cert = tls_files
    handler = Handler()
    servers = run(
        handler,
        tls_context=server_context(key, cert),
        require_starttls=True,
        authenticator=handler.authenticate,
        auth_required=True,
    )
    running = next(servers)
    try:
        await check_tls(running, "starttls", cert)
    finally:
        servers.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_implicit_tls_with_credentials(tls_files: tuple[Path, Path]) -> None:
    key, cert = tls_files
    handler = Handler()
    servers = run(
        handler,
        ssl_context=server_context(key, cert),
        authenticator=handler.authenticate,
        auth_required=True,
        auth_require_tls=False,  # the session is TLS, but aiosmtpd counts only STARTTLS as TLS
    )
    running = next(servers)
    try:
        await check_tls(running, "tls", cert)
    finally:
        servers.close()


def server_context(key: Path, cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def check_tls(server: Server, security: Security, cert: Path) -> None:
    """Sends with a context trusting ``cert``, then fails to with the system's."""
    trusting = ssl.create_default_context(cafile=str(cert))
    submission = Submission(
        "127.0.0.1", server.port, security, USER, PASSWORD, timeout=5, tls_context=trusting
    )
    assert await submission.send(answer()) == "acme.message.42@shop.example"
    assert server.handler.logins == [USER]
    assert len(server.handler.received) == 1
    untrusted = Submission("127.0.0.1", server.port, security, USER, PASSWORD, timeout=5)
    with pytest.raises(SendFailed) as failed:
        await untrusted.send(answer())
    assert not failed.value.permanent
    assert len(server.handler.received) == 1
