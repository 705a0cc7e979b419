"""The monthly report's page is opened in a real Chromium (``tests.adapters.chromium``)."""

from tests.adapters.chromium import browser

__all__ = ["browser"]
