"""Fixtures of the Meta channel's contract tests: a fake Graph API per test, held to Meta's
contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.channels.meta.fake_graph import FakeGraph


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    """A fake Graph API on loopback; the test fails if anything broke Meta's contract."""
    fake = FakeGraph().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)
