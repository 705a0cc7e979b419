"""Fixtures of the LinkedIn channel's contract tests: a fake REST API per test, held to the
request and response shapes LinkedIn documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.channels.linkedin.fake_linkedin import FakeLinkedin


@pytest.fixture
def fake_linkedin() -> Iterator[FakeLinkedin]:
    """A fake LinkedIn REST API on loopback; the test fails if a request broke its shapes."""
    fake = FakeLinkedin().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)
