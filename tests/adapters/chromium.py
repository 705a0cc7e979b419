"""A real Chromium for the browser tests: Debian's, driven by Playwright, one per module.

Playwright never downloads a browser of its own here: it drives ``/usr/bin/chromium``. Without
it the tests are skipped, unless ``AIGUILLAGE_REQUIRE_BROWSER=1`` (CI), where they fail. A test
module or conftest imports the fixtures ``browser`` and ``page`` from here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("AIGUILLAGE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and AIGUILLAGE_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (Debian's chromium); the browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in a context of its own: no cookie or storage shared between tests."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
