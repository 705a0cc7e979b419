"""Fixtures of the Asterisk channel's contract tests: a fake ARI per test, held to the contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.channels.asterisk.fake_ari import FakeAri


@pytest.fixture
def fake_ari() -> Iterator[FakeAri]:
    """A fake Asterisk on loopback; the test fails if anything broke ARI's contract."""
    fake = FakeAri().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)
