"""The ``webform`` channel: a complaint form on the public listener, a ``written`` interaction
from source ``webform`` for each complaint sent, answered by e-mail through another channel.

``GET /`` gives the form (``page``); ``POST /`` takes it, as ``multipart/form-data`` read by the
small parser below (the body's bytes as received; the stdlib's ``cgi`` is gone from 3.13).
A submission passes, in order: its origin (403 otherwise), its CSRF token, the honeypot (a
robot that fills it is thanked and nothing is submitted), the rate limits per client address
and per e-mail address (429 with ``Retry-After``), the fields (400, the form given back with
the values kept and each error beside its field). Then the complaint is submitted with its
personal data (the customer, the motive's label as subject, the text, the pass reference, the
attachments in base64) and the raw body as evidence; its external id derives from the form's
CSRF nonce, so a double click files one complaint. A new complaint is acknowledged in its
thread with its reference ``AIG-<id>`` and due date only: never the name or the text, which an
acknowledgement sent to a mistyped address would leak. The page answered says the same.

The channel has routes and no ``send``: the mail channel sends the answers (and this
acknowledgement) for source ``webform``. ``[daemon] public_max_body_bytes`` must leave room for
the attachments (``max_attachments`` times ``max_attachment_bytes``, plus the text): the
listener refuses a larger body with 413 before this channel sees it.
"""

from __future__ import annotations

import base64
import email.message
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import anyio

from aiguillage.adapters.channels import (
    AdapterContext,
    Answer,
    CommandFailed,
    Conflict,
    Inbound,
    InboundRoute,
    Rejected,
    Unavailable,
)
from aiguillage.adapters.channels.webform import checks, page
from aiguillage.adapters.channels.webform.settings import AttachmentType
from aiguillage.adapters.channels.webform.settings import Settings as WebformSettings
from aiguillage.engine.commands import Submit
from aiguillage.engine.errors import EngineError

__all__ = ["Part", "WebformChannel", "WebformError", "parse_multipart"]

_MIN_SECRET = 32
_MAX_TEXT = 10_000
_MAX_FIELD = 320
_MAX_PARTS = 40
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\".]{2,}$")
_TEXT_FIELDS = ("name", "email", "pass_reference", "motive", "text", "website", "csrf_token")
_HTML = "text/html; charset=utf-8"


class WebformError(Exception):
    """The channel cannot start; the message says what to set."""


class Part(NamedTuple):
    """One part of a multipart body."""

    name: str
    filename: str | None
    content_type: str
    data: bytes


_PARAMETER = re.compile(r';\s*([A-Za-z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Return the parts of a ``multipart/form-data`` body; ``ValueError`` when it is not one."""
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise ValueError("not multipart/form-data with a boundary")
    segments = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    parts: list[Part] = []
    for segment in segments[1:]:
        if segment.startswith(b"--"):
            return parts
        if len(parts) >= _MAX_PARTS:
            raise ValueError("too many parts")
        head, separator, data = segment.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a part without headers")
        parts.append(_part(head, data))
    raise ValueError("no closing boundary")


def _part(head: bytes, data: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    if not disposition.lower().startswith("form-data"):
        raise ValueError("a part that is not form-data")
    parameters = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _PARAMETER.finditer(disposition)
    }
    if "name" not in parameters:
        raise ValueError("a part without a name")
    filename = parameters.get("filename")
    if filename is not None:
        filename = filename.replace('\\"', '"').rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    content_type = headers.get("content-type", "text/plain")
    return Part(parameters["name"], filename, content_type, data)


class _Attachment(NamedTuple):
    name: str
    kind: AttachmentType
    data: bytes


class WebformChannel:
    """The web form plugin (see the module docstring)."""

    Settings = WebformSettings
    subscribes: frozenset[str] = frozenset({"interaction.closed"})
    """Any one type: ``run`` reads no event, it only keeps the routes served."""

    def __init__(self, context: AdapterContext[WebformSettings]) -> None:
        self.context = context
        self.settings = settings = context.settings
        secret = os.environ.get(settings.secret_env, "")
        if len(secret) < _MIN_SECRET:
            raise WebformError(
                f"set the environment variable {settings.secret_env} to a random key of "
                f"{_MIN_SECRET} characters or more (the key of the form's CSRF tokens), e.g. "
                "the output of `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        self.tokens = checks.Tokens(secret.encode())
        self.trusted = checks.networks(settings.trusted_proxies)
        self.per_address = checks.RateLimiter(settings.rate_per_address)
        self.per_email = checks.RateLimiter(settings.rate_per_email)
        self.texts = page.TEXTS[settings.language]
        self.labels = {motive.code: motive.label for motive in settings.motives}
        prefix = "__Host-" if settings.secure else ""
        self.cookie_name = f"{prefix}aiguillage-{context.name}"

    def routes(self) -> Sequence[InboundRoute]:
        return [InboundRoute("GET", "/", self.form), InboundRoute("POST", "/", self.post)]

    async def run(self) -> None:
        await anyio.sleep_forever()

    async def form(self, inbound: Inbound) -> Answer:
        cookie, set_cookie = self._cookie(inbound)
        token = self.tokens.issue(cookie, time.time())
        return self._page(200, page.form_page(self.settings, token), set_cookie)

    async def post(self, inbound: Inbound) -> Answer:
        settings, texts, now = self.settings, self.texts, time.time()
        if not checks.same_origin(
            inbound.header("origin"), inbound.header("referer"), settings.origin
        ):
            body = page.message_page(settings, "forbidden_title", texts["forbidden"])
            return self._page(403, body)
        try:
            parts = parse_multipart(inbound.header("content-type"), inbound.body)
            values = _text_values(parts)
        except ValueError:
            body = page.message_page(settings, "bad_request_title", texts["bad_request"])
            return self._page(400, body)
        cookie, set_cookie = self._cookie(inbound)
        nonce = self.tokens.nonce(values.get("csrf_token", ""), cookie, now)
        kept = {k: v for k, v in values.items() if k not in ("csrf_token", "website")}
        if nonce is None:
            return self._form_back(400, cookie, set_cookie, kept, {"form": texts["err_token"]})
        if values.get("website"):
            body = page.message_page(settings, "received_title", texts["received"], back=False)
            return self._page(200, body, set_cookie)
        wait = self._limited(inbound, values.get("email", ""), now)
        if wait is not None:
            error = {"form": texts["err_rate"].format(minutes=max(1, (wait + 59) // 60))}
            answer = self._form_back(429, cookie, set_cookie, kept, error)
            return answer._replace(headers={**answer.headers, "Retry-After": str(wait)})
        errors, attachments = self._validated(values, parts)
        if errors:
            if any(p.filename for p in parts) and "attachments" not in errors:
                errors["attachments"] = texts["err_again"]
            return self._form_back(400, cookie, set_cookie, kept, errors)
        return await self._submitted(inbound, nonce, values, attachments, cookie, set_cookie)

    async def _submitted(
        self,
        inbound: Inbound,
        nonce: str,
        values: Mapping[str, str],
        attachments: list[_Attachment],
        cookie: str,
        set_cookie: str | None,
    ) -> Answer:
        settings, texts = self.settings, self.texts
        command = Submit(
            channel="written",
            source="webform",
            external_id=self.tokens.external_id(nonce),
            motive=values["motive"],
            language=settings.language,
        )
        kept = {k: v for k, v in values.items() if k not in ("csrf_token", "website")}
        try:
            if not self.context.ready:
                raise Unavailable("not ready")
            receipt = await self.context.submit(
                command, self._personal(values, attachments), raw=inbound.body
            )
        except Unavailable as exc:
            body = page.message_page(settings, "unavailable_title", texts["unavailable"])
            retry = {"Retry-After": str(max(1, exc.retry_after_s))}
            return self._page(503, body, set_cookie, retry)
        except Conflict:
            errors = {"form": texts["err_conflict"]}
            return self._form_back(400, cookie, set_cookie, kept, errors)
        except Rejected as exc:
            errors = {"form": texts["err_rejected"].format(detail=exc.detail)}
            return self._form_back(400, cookie, set_cookie, kept, errors)
        interaction = receipt.interaction
        reference = f"AIG-{interaction.id}"
        due = page.due_date(interaction.deadline, settings.language)
        # Asked again for a resubmission too: the engine posts one acknowledgement per
        # interaction, so one lost in a crash is posted now, and a second is nothing.
        await self._acknowledge(interaction.id, reference, due)
        return self._page(200, page.thanks_page(settings, reference, due), set_cookie)

    async def _acknowledge(self, interaction_id: int, reference: str, due: str) -> None:
        text = self.texts["acknowledgement"].format(reference=reference, due=due)
        try:
            await self.context.acknowledge(interaction_id, text)
        except (Unavailable, CommandFailed, Rejected, EngineError) as exc:
            # The complaint is recorded; the page shows its reference all the same.
            self.context.log.warning(
                "acknowledgement not queued", interaction_id=interaction_id, error=str(exc)
            )

    def _personal(
        self, values: Mapping[str, str], attachments: list[_Attachment]
    ) -> dict[str, Any]:
        return {
            "customer": {"name": values["name"], "email": values["email"]},
            "subject": self.labels[values["motive"]],
            "text": values["text"],
            "pass_reference": values.get("pass_reference", ""),
            "attachments": [
                {
                    "name": a.name,
                    "content_type": checks.CONTENT_TYPES[a.kind],
                    "size": len(a.data),
                    "data": base64.b64encode(a.data).decode(),
                }
                for a in attachments
            ],
        }

    def _limited(self, inbound: Inbound, address_of_mail: str, now: float) -> int | None:
        client = checks.client_address(
            inbound.client, inbound.header("x-forwarded-for"), self.trusted
        )
        wait = self.per_address.hit(client, now)
        if wait is None and address_of_mail.strip():
            wait = self.per_email.hit(address_of_mail.strip().lower(), now)
        return wait

    def _validated(
        self, values: dict[str, str], parts: list[Part]
    ) -> tuple[dict[str, str], list[_Attachment]]:
        """Check the fields (``values`` is normalised in place); return the errors by field."""
        texts, errors = self.texts, {}
        for name in ("name", "email", "pass_reference"):
            values[name] = values.get(name, "").strip()
            if len(values[name]) > _MAX_FIELD:
                errors[name] = texts["err_field_long"].format(limit=_MAX_FIELD)
        for name in ("name", "email"):
            if not values[name]:
                errors[name] = texts["err_required"]
        if "email" not in errors and not _EMAIL.match(values["email"]):
            errors["email"] = texts["err_email"]
        if values.get("motive", "") not in self.labels:
            errors["motive"] = texts["err_motive"]
        text = values.get("text", "").replace("\r\n", "\n")
        values["text"] = text
        if not text.strip():
            errors["text"] = texts["err_required"]
        elif len(text) > _MAX_TEXT:
            errors["text"] = texts["err_long"].format(count=f"{len(text):,}".replace(",", " "))
        attachments, problem = self._attachments(parts)
        if problem:
            errors["attachments"] = problem
        order = ("name", "email", "pass_reference", "motive", "text", "attachments")
        return {name: errors[name] for name in order if name in errors}, attachments

    def _attachments(self, parts: list[Part]) -> tuple[list[_Attachment], str]:
        settings, texts = self.settings, self.texts
        files = [p for p in parts if p.name == "attachments" and (p.filename or p.data)]
        if len(files) > settings.max_attachments:
            return [], texts["err_count"].format(limit=settings.max_attachments)
        found: list[_Attachment] = []
        allowed = page.types_text(settings.allowed_types)
        for part in files:
            name = part.filename or "?"
            if len(part.data) > settings.max_attachment_bytes:
                size = page.size_text(settings.max_attachment_bytes, settings.language)
                return [], texts["err_size"].format(name=name, size=size)
            kind = checks.type_by_name(name)
            if kind is None or kind not in settings.allowed_types:
                return [], texts["err_type"].format(name=name, types=allowed)
            if checks.sniffed(part.data) != kind:
                return [], texts["err_type"].format(name=name, types=allowed)
            found.append(_Attachment(name, kind, part.data))
        return found, ""

    def _cookie(self, inbound: Inbound) -> tuple[str, str | None]:
        """The browser's cookie, and the ``Set-Cookie`` value when it has none yet."""
        for pair in inbound.header("cookie").split(";"):
            name, _, value = pair.strip().partition("=")
            if name == self.cookie_name and re.fullmatch(r"[A-Za-z0-9_-]{16,64}", value):
                return value, None
        cookie = self.tokens.new_cookie()
        secure = "; Secure" if self.settings.secure else ""
        attributes = f"Path=/; HttpOnly; SameSite=Strict; Max-Age={checks.TOKEN_TTL_S}{secure}"
        return cookie, f"{self.cookie_name}={cookie}; {attributes}"

    def _form_back(
        self,
        status: int,
        cookie: str,
        set_cookie: str | None,
        values: Mapping[str, str],
        errors: Mapping[str, str],
    ) -> Answer:
        token = self.tokens.issue(cookie, time.time())
        body = page.form_page(self.settings, token, values, errors)
        return self._page(status, body, set_cookie)

    def _page(
        self,
        status: int,
        body: bytes,
        set_cookie: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> Answer:
        headers = {**page.HEADERS, **(extra or {})}
        if set_cookie:
            headers["Set-Cookie"] = set_cookie
        return Answer(status, body, _HTML, headers)


def _text_values(parts: list[Part]) -> dict[str, str]:
    """The form's text fields (the first of each name); ``ValueError`` if not UTF-8."""
    values: dict[str, str] = {}
    for part in parts:
        if part.filename is None and part.name in _TEXT_FIELDS and part.name not in values:
            values[part.name] = part.data.decode("utf-8")
    return values
