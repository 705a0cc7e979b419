"""Accessibility checks of a page in a real browser, with the vendored axe-core.

``violations(page)`` runs axe-core (``vendor/axe.min.js``, see ``vendor/README.md``) in a
Playwright page as it stands and returns what it found at the given impacts; ``summary`` turns
that into lines a failed assertion shows::

    found = violations(page)
    assert not found, summary(found)

How the script gets into the page: the people's pages are served with a strict
``Content-Security-Policy`` (``script-src 'self'``), so ``page.add_script_tag(content=...)``,
an inline ``<script>``, is blocked like any other inline script. ``bypass_csp=True`` on the
browser context would let it in, but would switch the policy off for the whole page under test,
and a page that only works without its CSP would then pass. Instead the source is handed to
``page.evaluate``: Playwright runs it through the DevTools protocol (``Runtime.evaluate``) in
the page's main world, which the page's CSP does not govern, so the policy stays in force for
everything the page itself does. axe-core needs neither ``eval`` nor inline scripts of its own.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

__all__ = ["AXE_SHA256", "AXE_VERSION", "IMPACTS", "SCRIPT", "summary", "violations"]

AXE_VERSION = "4.14.1"
AXE_SHA256 = "KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw="
"""The file's SHA-256 in base64, as the package's ``sri-history.json`` publishes it."""
IMPACTS = ("minor", "moderate", "serious", "critical")
SCRIPT = Path(__file__).with_name("vendor") / "axe.min.js"
_RUN = """async (impacts) => {
  const results = await window.axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((found) => impacts.includes(found.impact))
    .map((found) => ({
      id: found.id,
      impact: found.impact,
      help: found.help,
      help_url: found.helpUrl,
      targets: found.nodes.map((node) => node.target.flat(Infinity).join(" >>> ")),
    }));
}"""


@functools.cache
def _source() -> str:
    source = SCRIPT.read_text(encoding="utf-8")
    if f"axe v{AXE_VERSION}" not in source[:200]:
        raise RuntimeError(f"{SCRIPT} is not axe-core {AXE_VERSION}; see vendor/README.md")
    return source


def violations(
    page: Any, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """The axe-core violations of ``page`` (a Playwright sync ``Page``) at these impacts.

    Each is ``{id, impact, help, help_url, targets}``, ``targets`` the CSS selectors of the
    offending elements (``>>>`` crossing into a frame or a shadow root). The script is injected
    once per document: a navigation starts a new one, and the next call injects it again.
    """
    unknown = sorted(set(impacts) - set(IMPACTS))
    if unknown:
        raise ValueError(f"unknown impacts {unknown}; axe-core's are {list(IMPACTS)}")
    if not page.evaluate("typeof window.axe === 'object' && typeof window.axe.run === 'function'"):
        page.evaluate(_source())  # not add_script_tag: the page's CSP would block it (see above)
        version = page.evaluate("window.axe && window.axe.version")
        if version != AXE_VERSION:
            raise RuntimeError(f"axe-core did not load in {page.url} (found {version!r})")
    found: list[dict[str, Any]] = page.evaluate(_RUN, list(impacts))
    return found


def summary(found: list[dict[str, Any]]) -> str:
    """One line per violation and one per element, for an assertion's message."""
    lines = [f"{len(found)} accessibility violation(s) (axe-core {AXE_VERSION}):"]
    for violation in found:
        lines.append(
            f"- {violation['impact']} {violation['id']}: {violation['help']} "
            f"({violation['help_url']})"
        )
        lines.extend(f"    {target}" for target in violation["targets"])
    return "\n".join(lines)
