"""Fixtures of the X channel's contract tests: a fake X API per test, held to X's OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.channels.x.fake_x import FakeX


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    """A fake X API on loopback; the test fails if a request broke X's OpenAPI contract."""
    fake = FakeX().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)
