"""The accessibility helper finds what it must, and only that, under the pages' strict CSP.

Small static pages are served over real HTTP on loopback with the policy the people's pages
have (``script-src 'self'``, no inline script), so that the helper is shown to work where it
will be used: one page with known serious and critical faults, one with only a moderate one,
and one with none at all.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.adapters.daemon.screens.axe import (
    AXE_SHA256,
    AXE_VERSION,
    IMPACTS,
    SCRIPT,
    summary,
    violations,
)

CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'"


def _png() -> bytes:
    """A white PNG of one pixel, so that the pages' images load."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width"></head><body>{body}</body></html>'
    ).encode()


PAGES = {
    # An image without a text alternative (image-alt, critical), a field without a label
    # (label, critical), a button with no name (button-name, critical); and an inline script
    # that the CSP must block: it would retitle the page.
    "/faulty": _page(
        "Offres",
        '<main><h1>Offres</h1><img src="/logo.png">'
        '<form><input type="text" name="motif"><button type="submit"></button></form>'
        "<script>document.title = 'inline script ran'</script></main>",
    ),
    # Only a moderate fault: no level-one heading (page-has-heading-one).
    "/moderate": _page("Offres", "<main><p>Aucune offre en attente.</p></main>"),
    "/clean": _page(
        "Offres",
        '<main><h1>Offres</h1><img src="/logo.png" alt="Île-de-France Mobilités">'
        '<form><label for="motif">Motif</label><input id="motif" type="text" name="motif">'
        '<button type="submit">Envoyer</button></form></main>',
    ),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/logo.png":
            body, kind = _png(), "image/png"
        elif self.path in PAGES:
            body, kind = PAGES[self.path], "text/html; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_serious_and_critical_faults_are_reported_with_their_elements(page: Any, site: str) -> None:
    answer = page.goto(site + "/faulty")
    assert answer.headers["content-security-policy"] == CSP
    found = violations(page)
    # The page's CSP was in force throughout: its inline script never ran.
    assert page.title() == "Offres"
    by_id = {violation["id"]: violation for violation in found}
    assert set(by_id) == {"image-alt", "label", "button-name"}, summary(found)
    assert by_id["image-alt"]["targets"] == ["img"]
    assert by_id["label"]["targets"] == ["input"]
    assert by_id["button-name"]["targets"] == ["button"]
    assert all(violation["impact"] in ("serious", "critical") for violation in found)
    assert by_id["image-alt"]["help"] == "Images must have alternative text"
    assert by_id["image-alt"]["help_url"].startswith("https://dequeuniversity.com/rules/axe/4.14/")
    message = summary(found)
    assert f"3 accessibility violation(s) (axe-core {AXE_VERSION})" in message
    assert "- critical image-alt: Images must have alternative text" in message
    assert "    input" in message.splitlines()


def test_a_clean_page_has_no_violation_at_any_impact(page: Any, site: str) -> None:
    page.goto(site + "/clean")
    found = violations(page, IMPACTS)
    assert found == [], summary(found)


def test_impacts_choose_what_is_reported(page: Any, site: str) -> None:
    page.goto(site + "/moderate")
    assert violations(page) == []
    assert [v["id"] for v in violations(page, ("moderate",))] == ["page-has-heading-one"]
    with pytest.raises(ValueError, match="unknown impacts"):
        violations(page, ("severe",))


def test_each_document_gets_the_script_again_after_a_navigation(page: Any, site: str) -> None:
    page.goto(site + "/clean")
    assert violations(page) == []
    page.goto(site + "/faulty")
    assert page.evaluate("typeof window.axe") == "undefined"
    assert {v["id"] for v in violations(page)} == {"image-alt", "label", "button-name"}


def test_the_vendored_script_is_the_published_one() -> None:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.read_bytes()).digest()).decode()
    assert digest == AXE_SHA256
    readme = (SCRIPT.parent / "README.md").read_text()
    assert f"axe-core {AXE_VERSION}" in readme
    assert f"sha256-{AXE_SHA256}" in readme
