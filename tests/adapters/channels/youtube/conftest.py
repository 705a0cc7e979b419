"""Fixtures of the YouTube channel's contract tests: a fake YouTube Data API per test, held to
Google's discovery document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.channels.youtube.fake_youtube import FakeYoutube


@pytest.fixture
def fake_youtube() -> Iterator[FakeYoutube]:
    """A fake YouTube Data API on loopback; the test fails if a request broke its contract."""
    fake = FakeYoutube().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)
