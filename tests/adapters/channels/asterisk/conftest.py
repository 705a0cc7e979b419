"""Fixtures of the Asterisk channel's contract tests: a fake ARI per test, held to the contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.channels.asterisk.fake_ari import FakeAri
from tests.adapters.channels.asterisk.test_asterisk_flow import asterisk_daemon
from tests.adapters.daemons import Daemon


@pytest.fixture
def fake_ari() -> Iterator[FakeAri]:
    """A fake Asterisk on loopback; the test fails if anything broke ARI's contract."""
    fake = FakeAri().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)


@pytest.fixture
def run_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start a daemon on the fake (``asterisk_daemon``'s options); each is killed at the end."""
    started: list[Daemon] = []

    def start(fake: FakeAri, **options: Any) -> Daemon:
        started.append(asterisk_daemon(tmp_path, fake, **options))
        return started[-1]

    try:
        yield start
    finally:
        for daemon in started:
            daemon.kill()
