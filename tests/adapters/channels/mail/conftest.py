"""Fixtures of the mail channel's tests: a real Dovecot and a real SMTP server per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.adapters.channels.mail.dovecot import INSTALL, Dovecot, available
from tests.adapters.channels.mail.smtp_server import SmtpServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot of the test's own; CI (``AIGUILLAGE_REQUIRE_MAIL``) fails without one."""
    if not available():
        if os.environ.get("AIGUILLAGE_REQUIRE_MAIL") == "1":
            pytest.fail(f"dovecot is not installed, and CI requires the mail tests: {INSTALL}")
        pytest.skip(f"dovecot is not installed: {INSTALL}")
    server = Dovecot(users={"agent": "secret", "other": "other-secret"}).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server that accepts everything, without AUTH."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
