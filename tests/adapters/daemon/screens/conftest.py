"""The screens' tests run in a real Chromium (``tests.adapters.chromium``)."""

from tests.adapters.chromium import browser, page

__all__ = ["browser", "page"]
