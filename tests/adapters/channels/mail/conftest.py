"""Fixtures of the mail channel's tests: a real Dovecot and a real SMTP server per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.adapters.channels.mail.dovecot import INSTALL, Dovecot, Introspection, available
from tests.adapters.channels.mail.smtp_server import SmtpServer

USERS = {"agent": "secret", "other": "other-secret"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def require_dovecot() -> None:
    """Skip without Dovecot; CI (``AIGUILLAGE_REQUIRE_MAIL=1``) fails instead."""
    if not available():
        if os.environ.get("AIGUILLAGE_REQUIRE_MAIL") == "1":
            pytest.fail(f"dovecot is not installed, and CI requires the mail tests: {INSTALL}")
        pytest.skip(f"dovecot is not installed: {INSTALL}")


@pytest.fixture
def dovecot_with() -> Iterator[Callable[..., Dovecot]]:
    """Start Dovecots with extra configuration lines (``imap_capability = ...``), TLS, XOAUTH2."""
    require_dovecot()
    started: list[Dovecot] = []

    def start(settings: str = "", **options: Any) -> Dovecot:
        server = Dovecot(users=USERS, settings=settings, **options)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def dovecot(dovecot_with: Callable[..., Dovecot]) -> Dovecot:
    """A Dovecot of the test's own, users ``agent`` and ``other``."""
    return dovecot_with()


@pytest.fixture
def introspection() -> Iterator[Introspection]:
    """An OAuth2 introspection endpoint for which ``agent-token`` is ``agent``'s access token."""
    endpoint = Introspection({"agent-token": "agent"}).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server that accepts everything, without AUTH."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
