"""The monthly report's page in a real Chromium, offline (``tests.adapters.chromium``).

Apart from ``test_month_report.py``: the browser's event loop, alive for the whole module,
leaves no room for the ``anyio.run`` those tests write their journals with.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.reports.month_journal import written_month
from tests.adapters.reports.test_month_report import report


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of March 2027, written by the command (before any browser starts)."""
    folder = tmp_path_factory.mktemp("page")
    journal = folder / "journal.sqlite"
    written_month().write(journal)
    target = folder / "mars.html"
    done = report(journal, "month", "--month", "2027-03", "--store", f"sqlite:///{journal}",
                  "--output", str(target))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return target


def test_the_page_opens_offline_in_chromium(page_file: Path, tmp_path: Path, browser: Any) -> None:
    """The page as a file, in a browser with the network cut: nothing is asked of it, every
    table and chart is there. ``AIGUILLAGE_SCREENSHOTS=DIR`` keeps a screenshot of its first
    screen there (``docs/month-report.png`` in the README)."""
    target = page_file
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        asked: list[str] = []
        problems: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.on("console", lambda message: problems.append(message.text))
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(target.as_uri())
        assert asked == [target.as_uri()]
        assert problems == []
        assert page.title() == "Rapport mensuel — mars 2027"
        assert page.locator("table").count() == 5  # channels, sources, motives, typologies, pending
        assert page.locator("svg").count() == 3
        for svg in page.locator("svg").all():
            box = svg.bounding_box()
            assert box is not None
            assert box["width"] > 300
        voice = page.locator("tbody tr").first.inner_text()
        assert "Téléphone" in voice
        assert "88,2" in voice
        shot = tmp_path / "month-report.png"
        page.screenshot(path=str(shot), full_page=True)
        keep = os.environ.get("AIGUILLAGE_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(keep) / "month-report.png"))
    finally:
        context.close()
