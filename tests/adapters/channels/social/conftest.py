"""Fixtures of the social channels' OAuth tests: a fake authorization server per test, held to
RFC 6749 and RFC 7636 (``fake_oauth``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.channels.social.fake_oauth import FakeOAuth
from tests.adapters.daemons import free_port


@pytest.fixture
def fake_oauth() -> Iterator[FakeOAuth]:
    """A fake OAuth 2.0 server on loopback; the test fails if a request broke its contract."""
    fake = FakeOAuth(redirect_uri=f"http://127.0.0.1:{free_port()}/callback").start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)
