"""The web form in a real daemon, driven by a real Chromium (Playwright) and by plain HTTP.

The daemon runs the reference configuration with ``[adapters.webform]`` enabled (the plugin
as installed, through its entry point) and its public listener on a free port. A person fills
the form with the keyboard only; robots and other sites post to it with httpx. What the form
accepted is read back through the API, as an administrator.
"""

from __future__ import annotations

import base64
import concurrent.futures
import re
import secrets
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import msgspec
import pytest

from aiguillage.adapters.channels import AdapterContext, Inbound, Unavailable
from aiguillage.adapters.channels.webform.channel import WebformChannel
from aiguillage.adapters.channels.webform.page import COLOURS, STYLE
from aiguillage.adapters.channels.webform.settings import Settings
from tests.adapters.daemons import INTEGRATOR, Daemon, free_port, write_config

SECRET = secrets.token_urlsafe(32)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
COMPLAINT = "Le bus 42 est passé en avance de dix minutes et je l'ai manqué."


def webform_table(public_port: int) -> str:
    """The ``[adapters.webform]`` of these tests: its form at ``public_port``, three motives."""
    return f"""
[adapters.webform]
public_url = "http://127.0.0.1:{public_port}"
motives = [
  {{ code = "refunds", label = "Demande de remboursement" }},
  {{ code = "disruptions", label = "Perturbation, retard, suppression" }},
  {{ code = "staff_complaints", label = "Comportement du personnel" }},
]
trusted_proxies = ["127.0.0.0/8"]
rate_per_address = {{ count = 20, per_s = 600 }}
rate_per_email = {{ count = 3, per_s = 3600 }}
secret_env = "WEBFORM_TEST_SECRET"
"""


def listen_publicly(config: Path, public_port: int) -> None:
    """Move the daemon's public listener (the reference's 8081) to ``public_port``."""
    text = config.read_text()
    text = text.replace("\npublic_port = 8081 ", f"\npublic_port = {public_port} ", 1)
    assert f"public_port = {public_port}" in text
    config.write_text(text)


def _config(directory: Path, public_port: int) -> Path:
    config = write_config(directory, webform_table(public_port))
    listen_publicly(config, public_port)
    text = config.read_text()
    # Three attachments of 5 MiB, in base64-free multipart: the listener must take 16 MiB.
    text = text.replace(
        "\npublic_max_body_bytes = 26214400 ", "\npublic_max_body_bytes = 16777216 ", 1
    )
    assert "public_max_body_bytes = 16777216" in text
    config.write_text(text)
    return config


class Site:
    def __init__(self, daemon: Daemon, public_port: int) -> None:
        self.daemon = daemon
        self.origin = f"http://127.0.0.1:{public_port}"
        self.form = f"{self.origin}/channels/webform/"

    def interactions(self) -> list[dict[str, Any]]:
        with self.daemon.client() as admin:
            found: list[dict[str, Any]] = admin.get("/v1/interactions").json()["interactions"]
        return found

    def personal(self, interaction_id: int) -> dict[str, Any]:
        with self.daemon.client() as admin:
            answer = admin.get(f"/v1/interactions/{interaction_id}/personal-data")
            assert answer.status_code == 200, answer.text
            kept: dict[str, Any] = answer.json()
        return kept

    def attachment(self, interaction_id: int, number: int) -> httpx.Response:
        with self.daemon.client() as admin:
            return admin.get(f"/v1/interactions/{interaction_id}/attachments/{number}")

    def messages(self, interaction_id: int) -> list[dict[str, Any]]:
        with self.daemon.client() as admin:
            answer = admin.get(f"/v1/interactions/{interaction_id}/messages")
            assert answer.status_code == 200, answer.text
            found: list[dict[str, Any]] = answer.json()["messages"]
        return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("webform")
    public_port = free_port()
    config = _config(directory, public_port)
    daemon = Daemon(directory, config, env={"WEBFORM_TEST_SECRET": SECRET}).start()
    try:
        yield Site(daemon, public_port)
    finally:
        daemon.kill()


def _tab_to(page: Any, element_id: str) -> None:
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == element_id


class _Http:
    """A client that got the form first (its cookie and token), as a browser would."""

    def __init__(self, site: Site, address: str) -> None:
        self.site = site
        self.client = httpx.Client(
            headers={"X-Forwarded-For": address, "Origin": site.origin}, timeout=10
        )

    def token(self) -> str:
        answer = self.client.get(self.site.form)
        assert answer.status_code == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', answer.text)
        assert found is not None
        return found.group(1)

    def post(
        self,
        fields: dict[str, str],
        files: list[tuple[str, bytes, str]] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        data = {"csrf_token": self.token() if token is None else token, **fields}
        multipart: list[tuple[str, tuple[str, bytes, str]]] = [
            ("attachments", file) for file in files or []
        ]
        if not multipart:
            multipart = [("attachments", ("", b"", "application/octet-stream"))]
        return self.client.post(self.site.form, data=data, files=multipart, headers=headers)

    def __enter__(self) -> _Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def _complaint(email: str = "lea.martin@example.fr", text: str = COMPLAINT) -> dict[str, str]:
    return {"name": "Léa Martin", "email": email, "motive": "disruptions", "text": text}


def test_a_complaint_sent_with_the_keyboard_only_becomes_written_work(
    site: Site, page: Any, tmp_path: Path
) -> None:
    before = {i["id"] for i in site.interactions()}
    ticket = tmp_path / "billet.png"
    ticket.write_bytes(PNG)
    answer = page.goto(site.form)
    assert answer.status == 200
    headers = answer.headers
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    _tab_to(page, "name")
    page.keyboard.type("Léa Martin")
    _tab_to(page, "email")
    page.keyboard.type("lea.martin@example.fr")
    _tab_to(page, "pass_reference")
    page.keyboard.type("NAV-123456")
    _tab_to(page, "motive")
    page.keyboard.type("Pert")  # typeahead on the focused list
    assert page.evaluate("document.activeElement.value") == "disruptions"
    _tab_to(page, "text")
    page.keyboard.type(COMPLAINT)
    _tab_to(page, "attachments")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(ticket))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    # The style really applies: a visible focus, no CSP violation dropped it.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    body = page.inner_text("main")
    found = re.search(r"AIG-(\d+)", body)
    assert found is not None, body
    assert "au plus tard le" in body
    assert re.search(r"\d{4} à \d{1,2} h \d{2}", body), body
    assert page.title().startswith("Réclamation enregistrée")
    interaction_id = int(found.group(1))
    assert interaction_id not in before
    (interaction,) = [i for i in site.interactions() if i["id"] == interaction_id]
    assert (interaction["channel"], interaction["source"]) == ("written", "webform")
    assert (interaction["motive"], interaction["language"]) == ("disruptions", "fr")
    kept = site.personal(interaction_id)
    assert kept["customer"] == {"name": "Léa Martin", "email": "lea.martin@example.fr"}
    assert kept["subject"] == "Perturbation, retard, suppression"
    assert kept["text"] == COMPLAINT
    assert kept["pass_reference"] == "NAV-123456"
    (attachment,) = kept["attachments"]
    assert (attachment["name"], attachment["content_type"]) == ("billet.png", "image/png")
    assert attachment["size"] == len(PNG)
    assert "data" not in attachment  # the bytes are served apart, to staff only
    download = site.attachment(interaction_id, 1)
    assert download.status_code == 200, download.text
    assert download.content == PNG
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment;")
    with site.daemon.client(INTEGRATOR) as integrator:  # staff only
        path = f"/v1/interactions/{interaction_id}/attachments/1"
        assert integrator.get(path).status_code == 403
    assert COMPLAINT.encode() in base64.b64decode(kept["evidence"]["bytes"])

    # The acknowledgement is queued in the thread: the reference, never the text or the name.
    acknowledgements = [m for m in site.messages(interaction_id) if m["kind"] == "acknowledgement"]
    assert len(acknowledgements) == 1
    text = acknowledgements[0]["text"]
    assert f"AIG-{interaction_id}" in text
    assert COMPLAINT not in text
    assert "Léa" not in text
    assert "Martin" not in text


def test_errors_are_listed_and_shown_beside_their_fields_with_the_values_kept(
    site: Site, page: Any
) -> None:
    before = len(site.interactions())
    page.goto(site.form)
    page.fill("#name", "Jean <b>Dupont</b>")
    page.fill("#email", "jean.dupont-at-example.fr")
    page.fill("#text", "Mon message")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.title().startswith("Erreur")
    summary = page.locator(".summary")
    assert summary.get_attribute("role") == "alert"
    links = summary.locator("a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
        "#email",
        "#motive",
    ]
    email = page.locator("#email")
    assert email.get_attribute("aria-invalid") == "true"
    described = (email.get_attribute("aria-describedby") or "").split()
    assert "email-error" in described
    assert "adresse e-mail valide" in page.inner_text("#email-error")
    assert page.locator("#motive").get_attribute("aria-invalid") == "true"
    assert page.locator("#name").get_attribute("aria-invalid") is None
    # The values typed are kept (and escaped, not interpreted).
    assert email.input_value() == "jean.dupont-at-example.fr"
    assert page.locator("#name").input_value() == "Jean <b>Dupont</b>"
    assert page.locator("#text").input_value() == "Mon message"
    # A link of the summary takes the focus to its field.
    links.nth(0).focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "email"
    assert len(site.interactions()) == before


def test_a_filled_honeypot_is_thanked_and_creates_nothing(site: Site, page: Any) -> None:
    before = len(site.interactions())
    page.goto(site.form)
    hidden = page.locator(".hp")
    assert hidden.get_attribute("aria-hidden") == "true"
    assert page.locator("#website").get_attribute("tabindex") == "-1"
    page.fill("#name", "Robot")
    page.fill("#email", "robot@example.fr")
    page.select_option("#motive", "refunds")
    page.fill("#text", "Achetez maintenant")
    page.locator("#website").fill("https://spam.example", force=True)
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    assert navigation.value.status == 200
    assert "Merci" in page.inner_text("main")
    assert "AIG-" not in page.inner_text("main")
    assert len(site.interactions()) == before


def test_a_post_from_another_origin_or_without_a_token_is_refused(site: Site) -> None:
    before = len(site.interactions())
    with _Http(site, "198.51.100.10") as http:
        foreign = http.post(_complaint(), headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert "text/html" in foreign.headers["content-type"]
        assert foreign.headers["x-content-type-options"] == "nosniff"
        forged = http.post(_complaint(), token="nonce.1800000000.00ff")
        assert forged.status_code == 400
        assert "expiré" in forged.text
        assert COMPLAINT.replace("'", "&#x27;") in forged.text  # given back, kept
    # No cookie: the token of another browser is worth nothing.
    with _Http(site, "198.51.100.10") as http:
        token = http.token()
    with _Http(site, "198.51.100.10") as other:
        stolen = other.post(_complaint(), token=token)
        assert stolen.status_code == 400
    assert len(site.interactions()) == before


def test_a_double_submission_files_one_complaint(site: Site) -> None:
    with _Http(site, "198.51.100.11") as http:
        token = http.token()
        first = http.post(_complaint("double@example.fr"), token=token)
        second = http.post(_complaint("double@example.fr"), token=token)
    assert first.status_code == second.status_code == 200
    (reference,) = set(re.findall(r"AIG-\d+", first.text))
    assert reference in second.text
    interaction_id = int(reference.removeprefix("AIG-"))
    kinds = [m["kind"] for m in site.messages(interaction_id)]
    assert kinds.count("acknowledgement") == 1


def test_the_rate_limits_answer_429_with_retry_after(site: Site) -> None:
    with _Http(site, "198.51.100.12") as http:
        for _ in range(3):  # three to one e-mail address, within the hour
            assert http.post(_complaint("pressé@example.fr", text="")).status_code == 400
        limited = http.post(_complaint("pressé@example.fr"))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 3000
        assert "Trop d&#x27;envois" in limited.text
        assert "Léa Martin" in limited.text  # the form given back, filled
    with _Http(site, "198.51.100.13") as http:
        answers = [http.post({}).status_code for _ in range(21)]
    assert answers == [400] * 20 + [429]


def test_attachments_whose_bytes_are_not_their_type_or_too_many_are_refused(
    site: Site,
) -> None:
    before = len(site.interactions())
    with _Http(site, "198.51.100.14") as http:
        fake = http.post(
            _complaint("fichier@example.fr"), [("facture.pdf", b"MZ\x90\x00exe", "application/pdf")]
        )
        assert fake.status_code == 400
        assert "n&#x27;est pas dans un format accepté" in fake.text
        assert 'id="attachments" name="attachments" multiple' in fake.text
        assert re.search(r'id="attachments"[^>]*aria-invalid="true"', fake.text)
        renamed = http.post(_complaint("fichier@example.fr"), [("photo.exe", PNG, "image/png")])
        assert renamed.status_code == 400
        many = [(f"p{n}.png", PNG, "image/png") for n in range(4)]
        too_many = http.post(_complaint("fichier2@example.fr"), many)
        assert too_many.status_code == 400
        assert "3 fichiers au plus" in too_many.text
    assert len(site.interactions()) == before


class _Audit(HTMLParser):
    """Collects what an accessibility audit of the form needs."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.title = ""
        self.in_title = False
        self.labels: set[str] = set()
        self.fields: list[dict[str, str | None]] = []
        self.legends = 0
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang") or ""
        self.in_title = tag == "title"
        if tag == "label" and found.get("for"):
            self.labels.add(str(found["for"]))
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.fields.append(found)
        self.legends += tag == "legend"
        self.scripts += tag == "script"
        for name in ("src", "href"):
            value = found.get(name) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_form_passes_an_automated_accessibility_audit(site: Site) -> None:
    answer = httpx.get(site.form)
    audit = _Audit()
    audit.feed(answer.text)
    assert audit.lang == "fr"
    assert audit.title.strip()
    names = [field.get("id") for field in audit.fields]
    assert names == [
        "name", "email", "pass_reference", "motive", "text", "attachments", "website"
    ]  # fmt: skip
    unlabelled = [n for n in names if n not in audit.labels]
    assert unlabelled == []
    for field in audit.fields:
        if field.get("id") in ("name", "email"):
            assert field.get("autocomplete") == field.get("id")
        if "required" in field:
            assert f'{field["id"]}">' in answer.text
    assert answer.text.count("(obligatoire)") == 4  # said in words, not by colour alone
    assert audit.legends == 2
    assert audit.scripts == 0
    assert audit.external == []
    # Every colour pair the style sets, and every colour it writes, reaches 4.5:1.
    written = set(re.findall(r"(?<![-\w])color:\s*(#[0-9a-f]{6})", STYLE))
    assert written <= {fg for fg, _ in COLOURS.values()}
    for name, (foreground, background) in COLOURS.items():
        assert _contrast(foreground, background) >= 4.5, name
    assert re.search(r"background:\s*#ffffff", STYLE)
    assert ":focus-visible" in STYLE


def test_without_its_secret_the_channel_does_not_start_and_says_what_to_set(
    tmp_path: Path,
) -> None:
    public_port = free_port()
    config = _config(tmp_path, public_port)
    daemon = Daemon(tmp_path, config, env={"WEBFORM_TEST_SECRET": ""}).start()
    try:
        deadline = time.monotonic() + 20
        while True:
            adapter = daemon.readyz().json()["adapters"]["webform"]
            if "WEBFORM_TEST_SECRET" in str(adapter):
                break
            assert time.monotonic() < deadline, adapter
            time.sleep(0.2)
    finally:
        daemon.kill()


class _Unavailable:
    """A daemon whose journal cannot write now: every submission is ``Unavailable``."""

    zone = ZoneInfo("Europe/Paris")
    ready = True
    recovered_at = 0.0
    journal = None

    def __init__(self) -> None:
        self.submitted = 0

    async def records_after(self, seq: int, limit: int) -> list[Any]:
        return []

    def add_listener(self, listener: Any) -> None:
        pass

    def remove_listener(self, listener: Any) -> None:
        pass

    async def submit(self, command: Any, personal: Any) -> Any:
        self.submitted += 1
        raise Unavailable("the journal cannot write", retry_after_s=7)

    async def execute(self, command: Any, personal: Any) -> Any:
        raise AssertionError("nothing to execute")

    @property
    def settings(self) -> Any:
        raise AssertionError("no configuration to read")

    async def read(self, reader: Any) -> Any:
        raise Unavailable("the journal cannot write", retry_after_s=7)


def _channel(port: _Unavailable, language: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("WEBFORM_TEST_SECRET", SECRET)
    settings = msgspec.convert(
        {
            "public_url": "https://reclamations.example.fr",
            "language": language,
            "motives": [{"code": "refunds", "label": "Refunds"}],
            "secret_env": "WEBFORM_TEST_SECRET",
        },
        Settings,
    )
    return WebformChannel(AdapterContext(port, "webform", settings))


def _run(handler: Any, inbound: Inbound) -> Any:
    """Run a handler in a thread of its own: Playwright's loop may hold this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, handler, inbound).result()


def _inbound(method: str, headers: dict[str, str], body: bytes = b"") -> Inbound:
    return Inbound(method, "/", {}, headers, body, "203.0.113.5:40000")


def test_while_the_daemon_cannot_write_the_form_answers_503_and_to_try_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = _Unavailable()
    channel = _channel(port, "fr", monkeypatch)
    form = _run(channel.form, _inbound("GET", {}))
    cookie = form.headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith("__Host-aiguillage-webform=")  # https: a host-only cookie
    assert "; Secure" in form.headers["Set-Cookie"]
    assert "SameSite=Strict" in form.headers["Set-Cookie"]
    assert "HttpOnly" in form.headers["Set-Cookie"]
    token = re.search(rb'name="csrf_token" value="([^"]+)"', form.body)
    assert token is not None
    fields = {**_complaint(), "motive": "refunds", "csrf_token": token.group(1).decode()}
    request = httpx.Request(
        "POST", "https://x/", data=fields, files=[("attachments", ("", b"", "text/plain"))]
    )
    headers = {
        "origin": "https://reclamations.example.fr",
        "content-type": request.headers["content-type"],
        "cookie": cookie,
    }
    answer = _run(channel.post, _inbound("POST", headers, request.read()))
    assert port.submitted == 1
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "7"
    assert "réessayez dans un instant" in answer.body.decode()
    assert "text/html" in answer.content_type


def test_the_form_speaks_english_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    channel = _channel(_Unavailable(), "en", monkeypatch)
    body = _run(channel.form, _inbound("GET", {})).body.decode()
    assert '<html lang="en">' in body
    assert "<title>File a complaint</title>" in body
    assert "Full name (required)" in body
    assert "3 files at most, of 5 MB each at most; accepted formats: PDF, PNG, JPEG." in body
