"""Fixtures of the adapters' tests: a real redis-server per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.redis_server import INSTALL, RedisServer, available


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` of the test's own; CI (``AIGUILLAGE_REQUIRE_REDIS``) fails without one."""
    if not available():
        if os.environ.get("AIGUILLAGE_REQUIRE_REDIS"):
            pytest.fail(f"redis-server is not on PATH, and CI requires the Redis tests: {INSTALL}")
        pytest.skip(f"redis-server is not on PATH: {INSTALL}")
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.kill()
