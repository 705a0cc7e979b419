"""Everything the customer wrote is shown as text on the workspace, never as markup.

An HTML mail, a web form and a social message each carry markup that would run were it ever
parsed: ``<img src=x onerror=...>`` (and ``<script>``, ``<svg onload>``, a ``javascript:``
link), in every place a customer fills: the mail's text, its sender's name, its subject and
an attachment's file name; the form's name, text and file name; the social message's author
and text. All arrive through real parts in one daemon: a real Dovecot and SMTP server for the
mail, the form's public listener over HTTP (with its cookie and token, a real PNG attached),
the API for the social message (its adapters do not exist yet). Camille, in real Chromium,
accepts each and reads it: each payload is on screen literally, the panel holds no element
the markup would have made, and nothing set ``window.__pwned``.

The pages' Content-Security-Policy would already block an inline handler; the test does not
lean on it: an element made from the customer's markup fails it, as does the request an
``<img src=x>`` makes or the console error a blocked handler leaves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.adapters.channels.mail.conftest import dovecot, dovecot_with, smtp_server
from tests.adapters.channels.mail.dovecot import Dovecot
from tests.adapters.channels.mail.smtp_server import SmtpServer
from tests.adapters.channels.mail.test_mail_flow import FROM, mail_config
from tests.adapters.channels.webform.test_form import (
    SECRET,
    Site,
    _Http,
    listen_publicly,
    webform_table,
)
from tests.adapters.daemon.screens.test_axe import _png
from tests.adapters.daemons import ADVISOR, INTEGRATOR, Daemon, free_port

# The mail's fixtures (a real Dovecot and SMTP server per test, skipped or failed as there),
# named here so that pytest finds them for this module too.
__all__ = ["dovecot", "dovecot_with", "smtp_server"]

WAIT_MS = 10_000
MADE = "img, script, iframe, svg, object, embed, a[href^='javascript' i]"
"""What the customer's markup would make if the page parsed it."""

expect: Any = None


def payload(where: str) -> str:
    """Markup that sets ``window.__pwned`` to ``where`` if a page ever parses it."""
    return f"<img src=x onerror=window.__pwned='{where}'>"


SCRIPT = "<script>window.__pwned='script'</script>"


@pytest.fixture(scope="module", autouse=True)
def _expect() -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    expect = playwright_expect


def html_mail() -> bytes:
    """A mail with only HTML to read (as some clients send), markup everywhere it can be.

    The HTML's own tags are dropped when the mail is read (``html_to_text``); what the sender
    typed as text, markup included (escaped in the HTML), is the text the advisor reads.
    """
    message = EmailMessage()
    message["From"] = Address(display_name=f"Zoé {payload('from')}", addr_spec="zoe@example.org")
    message["To"] = FROM
    message["Subject"] = f"Remboursement {payload('subject')}"
    message["Message-ID"] = "<markup-1@example.org>"
    message["Date"] = formatdate()
    typed = f"Voici ce que le site m'affiche : {payload('mail-text')} {SCRIPT}"
    message.add_alternative(
        "<html><head><script>window.__pwned='head'</script></head><body>"
        "<p>Bonjour, <b>mon passe</b> a été débité deux fois.</p>"
        "<img src=x onerror=\"window.__pwned='html'\"><script>window.__pwned='body'</script>"
        "<iframe srcdoc=\"&lt;script&gt;parent.__pwned='iframe'&lt;/script&gt;\"></iframe>"
        "<svg onload=\"window.__pwned='svg'\"></svg>"
        "<a href=\"javascript:window.__pwned='link'\">mon relevé</a>"
        f"<p>{escape(typed, quote=False)}</p></body></html>",
        subtype="html",
    )
    message.add_attachment(
        _png(), maintype="image", subtype="png", filename=f"{payload('mail-file')}.png"
    )
    return message.as_bytes()


class Screen:
    """Camille's workspace in a browser context of its own, with what went wrong in it."""

    def __init__(self, browser: Any, daemon: Daemon) -> None:
        self.context = browser.new_context(viewport={"width": 1366, "height": 768})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.fetched: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"page: {error}"))
        self.page.on("request", lambda request: self.fetched.append(request.url))
        self.page.goto(daemon.url + "/app/")
        self.page.get_by_label(re.compile("Jeton d'accès")).fill(ADVISOR)
        self.page.keyboard.press("Enter")
        expect(self.page.locator("#connection")).to_have_text("En direct")
        # From here on (the 401 of the page's first session check is before), a console
        # error is a resource that failed or a handler the CSP refused: markup was made.
        self.page.on("console", self._console)
        self.page.select_option("#state-choice", "available")
        self.page.click("#state-form button[type=submit]")
        expect(self.page.locator("#state-label")).to_have_attribute("data-state", "available")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def accept(self, channel: str, source: str, interaction_id: int | None = None) -> Any:
        """Accept the one offer pending (of ``interaction_id`` when known); its panel."""
        card = self.page.locator("li.offer")
        expect(card).to_have_count(1)
        expect(card).to_have_class(re.compile(rf"\bchannel-{channel}\b"))
        reference = re.search(r"AIG-(\d+)", card.inner_text())
        assert reference is not None, card.inner_text()
        if interaction_id is not None:
            assert int(reference.group(1)) == interaction_id
        self.page.keyboard.press("Alt+a")
        panel = self.page.locator(f"#panel-{reference.group(1)}")
        expect(panel).to_be_visible()
        expect(panel.locator(".work-header")).to_contain_text(f" — {source}")
        expect(self.page.locator("li.offer")).to_have_count(0)
        return panel

    def close(self) -> None:
        self.context.close()


def row(panel: Any, key: str) -> Any:
    """The value of one row of the customer's data (``Nom``, ``Pièces jointes 1.name``)."""
    term = panel.locator(".customer dt", has_text=re.compile(rf"^{re.escape(key)}$"))
    return term.locator("xpath=following-sibling::dd[1]")


def shows_as_text(panel: Any, thread: list[str], rows: dict[str, str]) -> None:
    """Each string is on screen as written, and nothing of the markup became an element."""
    for text in thread:
        expect(panel.locator("li.kind-customer .text")).to_contain_text(text)
    for key, value in rows.items():
        expect(row(panel, key)).to_have_text(value)
    expect(panel).to_contain_text("<img src=x onerror=")
    expect(panel.locator(MADE)).to_have_count(0)


@pytest.fixture
def site(tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer) -> Iterator[Site]:
    """Mail and web form in one daemon, a mail's motive ``refunds``: Camille may take all."""
    public_port = free_port()
    config, env = mail_config(
        tmp_path,
        dovecot,
        smtp_server,
        settings='motive = "refunds"\n',
        extra=webform_table(public_port),
    )
    listen_publicly(config, public_port)
    running = Daemon(tmp_path, config, env={**env, "WEBFORM_TEST_SECRET": SECRET}).start()
    try:
        yield Site(running, public_port)
    finally:
        running.kill()


def test_what_customers_wrote_is_shown_as_text_through_each_channel(
    browser: Any, site: Site, dovecot: Dovecot
) -> None:
    daemon = site.daemon
    camille = Screen(browser, daemon)
    page = camille.page
    try:
        # An HTML mail.
        dovecot.append(html_mail())
        mail = camille.accept("written", "email")
        shows_as_text(
            mail,
            [payload("mail-text"), SCRIPT, "mon passe a été débité deux fois"],
            {
                "Nom": f"Zoé {payload('from')}",
                "Objet": f"Remboursement {payload('subject')}",
                "Pièces jointes 1.name": f"{payload('mail-file')}.png",
            },
        )

        # The web form, posted as a browser would (its cookie and token first).
        with _Http(site, "198.51.100.20") as http:
            answer = http.post(
                {
                    "name": payload("form-name"),
                    "email": "zoe@example.org",
                    "motive": "refunds",
                    "text": f"Mon passe {payload('form-text')} {SCRIPT}",
                },
                [(f"{payload('form-file')}.png", _png(), "image/png")],
            )
        assert answer.status_code == 200, answer.text
        found = re.search(r"AIG-(\d+)", answer.text)
        assert found is not None, answer.text
        form = camille.accept("written", "webform", int(found.group(1)))
        shows_as_text(
            form,
            [payload("form-text"), SCRIPT],
            {
                "Nom": payload("form-name"),
                "Pièces jointes 1.name": f"{payload('form-file')}.png",
            },
        )

        # A social message, through the API.
        with daemon.client(INTEGRATOR) as integrator:
            posted = integrator.post(
                "/v1/interactions",
                json={
                    "channel": "social",
                    "source": "x",
                    "external_id": "dm-markup-1",
                    "motive": "refunds",
                    "customer": {"name": f"@voyageur {payload('social-name')}"},
                    "text": f"RER B {payload('social-text')} {SCRIPT}",
                },
            )
        assert posted.status_code == 201, posted.text
        social = camille.accept("social", "x", int(posted.json()["id"]))
        shows_as_text(
            social,
            [payload("social-text"), SCRIPT],
            {"Nom": f"@voyageur {payload('social-name')}"},
        )

        # Each panel again, drawn anew by a tab switch: still text.
        for number, panel in enumerate((mail, form, social), start=1):
            page.keyboard.press(f"Alt+{number}")
            expect(panel).to_be_visible()
            expect(panel.locator("li.kind-customer .text")).to_contain_text("<img src=x")
            expect(panel.locator(MADE)).to_have_count(0)
        expect(page.locator("#root").locator(MADE)).to_have_count(0)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        # No <img src=x> ever asked for its source.
        assert [url for url in camille.fetched if urlsplit(url).path.endswith("/x")] == []
        assert camille.errors == []
    finally:
        camille.close()
