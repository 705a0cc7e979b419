"""Reading a received mail: its headers, its text, its attachments, and whether a person wrote it.

``parse`` never raises on what a mailbox holds. Mail arrives from every client and server there
is, and some of it is broken: a multipart without its boundary, base64 cut short, a charset that
does not exist or is not the one declared. What cannot be read is said in ``problems`` (short
sentences the advisor reads beside the message) and everything else is kept, so a complaint is
never lost because its sender's software was careless.

The text is the ``text/plain`` the sender wrote; a mail with only HTML gets its HTML turned into
plain text (``html_to_text``), never rendered: the advisor's screen shows no remote image, runs
no script, and follows no link. Every other part is an attachment, kept up to a size.

Not every mail is a complaint: ``auto`` says why one is not (``classify``): an auto-reply,
a mailing list, a delivery report. Those are never acknowledged (an acknowledgement to an
auto-reply starts a loop) and a delivery failure (``bounce``) marks the answer it returns as
bounced. Identity: ``message_id`` when the mail has one, else ``digest_id(raw)``.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import hashlib
import re
from email.header import decode_header, make_header
from email.message import Message
from email.utils import collapse_rfc2231_value, getaddresses
from html.parser import HTMLParser

import msgspec

__all__ = [
    "Attachment",
    "Bounce",
    "ParsedMail",
    "classify",
    "decode_bytes",
    "decode_header_text",
    "digest_id",
    "html_to_text",
    "parse",
]

MiB = 1024 * 1024


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A part that is not the text: its name as the sender gave it, and its bytes if kept."""

    name: str
    content_type: str
    size: int
    data: bytes | None
    """None when over the size limit (``problems`` says so)."""


class Bounce(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery failure: which message could not be delivered, to whom, and why."""

    original_message_id: str
    """The Message-ID of the message returned (angle brackets stripped)."""
    recipient: str
    status: str
    """The RFC 3463 status (``5.1.1``), or empty when a non-standard report gives none."""
    diagnostic: str


class ParsedMail(msgspec.Struct, frozen=True, kw_only=True):
    """What a received mail says, as far as it could be read."""

    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    from_address: str = ""
    from_name: str = ""
    reply_to: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    date_header: str = ""
    """As written: informational, never trusted as the time of receipt."""
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    problems: tuple[str, ...] = ()
    auto: str = ""
    """Empty for a mail a person wrote; else why it is not a complaint."""
    bounce: Bounce | None = None


def digest_id(raw: bytes) -> str:
    """The identity of a mail without a Message-ID: the digest of its bytes."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def parse(
    raw: bytes, *, max_attachment_bytes: int = 10 * MiB, max_attachments: int = 20
) -> ParsedMail:
    """Read ``raw`` (the bytes as received); never raises."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        return _parsed(message, _Reader(max_attachment_bytes, max_attachments))
    except Exception as error:  # the parser is tolerant; this is the last line of defence
        return ParsedMail(
            text=decode_bytes(raw, None)[0],
            problems=(
                f"The message could not be read as a mail ({error}); its raw text is shown.",
            ),
        )


def _parsed(message: Message, reader: _Reader) -> ParsedMail:
    reader.read(message)
    text = reader.text()
    from_address, from_name = reader.address(message, "From", required=True)
    try:
        auto, bounce = classify(message, text)
    except Exception as error:
        auto, bounce = "", None
        reader.problems.append(f"Whether a program sent the message could not be read ({error}).")
    return ParsedMail(
        message_id=_message_id(header(message, "Message-ID")),
        in_reply_to=_message_id(header(message, "In-Reply-To")),
        references=message_ids(header(message, "References")),
        from_address=from_address,
        from_name=from_name,
        reply_to=reader.address(message, "Reply-To")[0],
        to=reader.addresses(message, "To"),
        cc=reader.addresses(message, "Cc"),
        subject=decode_header_text(header(message, "Subject")),
        date_header=decode_header_text(header(message, "Date")),
        text=text,
        attachments=tuple(reader.attachments),
        problems=tuple(dict.fromkeys(reader.problems)),
        auto=auto,
        bounce=bounce,
    )


def header(message: Message, name: str) -> str:
    """The first ``name`` header as written (folding undone, 8-bit text decoded), or ``""``."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return _unfold(_raw_text(str(value)))
    return ""


def decode_header_text(value: str) -> str:
    """A header's text on one line, its RFC 2047 encoded words decoded, whatever their charset."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", _decoded_words(value)).strip()


def _decoded_words(value: str) -> str:
    if "=?" not in value:
        return value.strip()
    try:
        return str(make_header(decode_header(value))).strip()
    except (LookupError, UnicodeError, email.errors.HeaderParseError, ValueError):
        pass
    try:
        chunks = decode_header(value)
    except Exception:
        return value.strip()
    return "".join(
        chunk if isinstance(chunk, str) else decode_bytes(chunk, charset)[0]
        for chunk, charset in chunks
    ).strip()


def message_ids(value: str) -> tuple[str, ...]:
    """The ids in a References or In-Reply-To header, in order, brackets stripped."""
    found = re.findall(r"<([^<>\s]+)>", value)
    return tuple(dict.fromkeys(found if found else value.split()))


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str]:
    """``data`` as text: in ``charset``, else UTF-8, else Latin-1; and a problem, if any.

    ISO-8859-1 is read as windows-1252, as browsers do: mail clients declare it for text typed
    with Windows' curly quotes and euro sign (and Latin-1 as windows-1252 where it can be).
    """
    declared = (charset or "").strip().strip('"').lower()
    said = f"declared the charset {declared}" if declared else "declared no charset"
    if declared:
        try:
            return data.decode(_WINDOWS.get(declared, declared)), ""
        except LookupError:
            said = f"declared an unknown charset ({declared})"
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problem = f"A text part {said} and was not UTF-8; it was read as Latin-1."
        try:
            return data.decode("cp1252"), problem
        except UnicodeDecodeError:
            return data.decode("latin-1", errors="replace"), problem
    if not declared:
        return text, ""
    if said.startswith("declared an unknown"):
        return text, f"A text part {said}; it was read as UTF-8."
    return text, f"A text part {said} but was not in it; it was read as UTF-8."


_WINDOWS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
}


def html_to_text(html: str) -> str:
    """HTML as the plain text a reader sees: paragraphs and line breaks kept, nothing run."""
    converter = _HTMLText()
    converter.feed(html)
    converter.close()
    return converter.result()


class _Reader:
    """Walks a message's parts: the text parts, the attachments, and what could not be read."""

    def __init__(self, max_attachment_bytes: int, max_attachments: int) -> None:
        self.max_bytes = max_attachment_bytes
        self.max_attachments = max_attachments
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.dropped = 0
        self.problems: list[str] = []

    def read(self, message: Message) -> None:
        self._walk_safely(message, depth=0)
        if self.dropped:
            self.problems.append(
                f"{self.dropped} more attachment(s) were not kept "
                f"(at most {self.max_attachments} are)."
            )

    def text(self) -> str:
        plain = [part.strip("\n") for part in self.plain if part.strip()]
        if plain or not self.html:
            return "\n\n".join(plain)
        converted = []
        for html in self.html:
            try:
                converted.append(html_to_text(html))
            except Exception:
                self.problems.append("The HTML text could not be read; it is shown as written.")
                converted.append(html)
        return "\n\n".join(part for part in converted if part)

    def address(self, message: Message, name: str, *, required: bool = False) -> tuple[str, str]:
        pairs = self._pairs(message, name)
        if not pairs:
            if required:
                self.problems.append(f"The {name} address could not be read.")
            return "", ""
        return pairs[0][1], pairs[0][0]

    def addresses(self, message: Message, name: str) -> tuple[str, ...]:
        return tuple(address for _, address in self._pairs(message, name))

    def _pairs(self, message: Message, name: str) -> list[tuple[str, str]]:
        value = header(message, name)
        if not value:
            return []
        try:
            pairs = getaddresses([value])
        except Exception:
            pairs = []
        found = [
            (decode_header_text(display), address.strip())
            for display, address in pairs
            if "@" in address
        ]
        if not found:
            loose = re.search(r"[^\s<>,;\"]+@[^\s<>,;\"]+", value)
            if loose:
                found = [("", loose.group(0))]
        return found

    def _walk_safely(self, part: Message, depth: int) -> None:
        try:
            self._walk(part, depth)
        except Exception as error:
            self.problems.append(f"A part of the message could not be read ({error}).")

    def _walk(self, part: Message, depth: int) -> None:
        if depth > 20:
            self.problems.append("The message nests parts too deeply; the deepest were skipped.")
            return
        content_type = part.get_content_type()
        payload = part.get_payload()
        if content_type.startswith("multipart/"):
            if isinstance(payload, list):
                for child in payload:
                    if isinstance(child, Message):
                        self._walk_safely(child, depth + 1)
                if any(isinstance(d, _UNCLOSED) for d in part.defects):
                    self.problems.append("The message ends before its last part was closed.")
                return
            self.problems.append(
                "The message's parts could not be separated (its MIME boundary is missing); "
                "its raw text is shown."
            )
            self.plain.append(decode_bytes(self._decoded(part), None)[0])
            return
        if content_type == "message/rfc822" or content_type == "message/global":
            self._keep_message(part)
            return
        data = self._decoded(part)
        if self._is_body(part, content_type):
            text, problem = decode_bytes(data, part.get_content_charset())
            if problem:
                self.problems.append(problem)
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            (self.plain if content_type == "text/plain" else self.html).append(text)
            return
        self._keep(_filename(part), content_type, data)

    def _decoded(self, part: Message) -> bytes:
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        if not isinstance(data, bytes):
            data = _undecoded(part.get_payload())
        if any(isinstance(d, _BASE64_DEFECTS) for d in part.defects):
            self.problems.append(
                "A part's base64 encoding is damaged; what could be decoded is kept."
            )
        return data

    @staticmethod
    def _is_body(part: Message, content_type: str) -> bool:
        if content_type not in ("text/plain", "text/html"):
            return False
        return part.get_content_disposition() != "attachment" and not _filename(part)

    def _keep_message(self, part: Message) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            subject = decode_header_text(header(inner, "Subject")) or "message"
            try:
                data = inner.as_bytes()
            except Exception:
                data = str(inner).encode("utf-8", "replace")
            self._keep(_filename(part) or f"{subject}.eml", part.get_content_type(), data)
        else:
            self._keep(_filename(part), part.get_content_type(), self._decoded(part))

    def _keep(self, name: str, content_type: str, data: bytes) -> None:
        if len(self.attachments) >= self.max_attachments:
            self.dropped += 1
            return
        kept: bytes | None = data
        if len(data) > self.max_bytes:
            kept = None
            self.problems.append(
                f"The attachment {name or content_type!r} ({_size(len(data))}) is over the "
                f"{_size(self.max_bytes)} limit; it was not kept."
            )
        self.attachments.append(
            Attachment(name=name, content_type=content_type, size=len(data), data=kept)
        )


def _undecoded(payload: object) -> bytes:
    """A payload the parser kept as text, or split into blocks (message/delivery-status)."""
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    if isinstance(payload, list):
        return b"".join(block.as_bytes() for block in payload if isinstance(block, Message))
    return b""


_UNCLOSED = email.errors.CloseBoundaryNotFoundDefect
_BASE64_DEFECTS = (
    email.errors.InvalidBase64CharactersDefect,
    email.errors.InvalidBase64PaddingDefect,
    email.errors.InvalidBase64LengthDefect,
)


def _filename(part: Message) -> str:
    """The part's file name as given, decoded, without any folder or control character."""
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:
        return ""
    if isinstance(name, tuple):  # an RFC 2231 value get_param left undecoded
        name = collapse_rfc2231_value(name)
    decoded = decode_header_text(re.sub(r"[\x00-\x1f\x7f]", "", _raw_text(str(name))))
    base = decoded.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(char for char in base if char.isprintable()).strip()


def _size(count: int) -> str:
    if count >= MiB:
        return f"{count / MiB:.1f} MiB"
    if count >= 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count} bytes"


def _message_id(value: str) -> str:
    ids = message_ids(value)
    return ids[0] if ids else ""


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).strip()


def _raw_text(value: str) -> str:
    """Text the parser kept as undecodable bytes (8-bit headers): read as UTF-8, else Latin-1."""
    if not any("\udc80" <= char <= "\udcff" for char in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return decode_bytes(data, None)[0]


def classify(message: Message, text: str) -> tuple[str, Bounce | None]:
    """Why ``message`` is not a complaint (empty when it may be one), and the bounce it reports.

    ``text`` is the message's text as ``parse`` read it. Delivery reports come first (they
    also carry ``Auto-Submitted``), then the notices of mail servers that write no standard
    report, then the headers auto-responders, lists and bulk senders set.
    """
    report = _delivery_report(message)
    if report is not None:
        return report
    sender = _from_local_part(message)
    if sender in ("mailer-daemon", "postmaster"):
        return _server_notice(message, text, sender)
    return _automatic(message), None


def _delivery_report(message: Message) -> tuple[str, Bounce | None] | None:
    if message.get_content_type() != "multipart/report":
        return None
    try:
        report_type = str(message.get_param("report-type") or "").lower()
    except Exception:
        report_type = ""
    if report_type == "disposition-notification":
        return "A read receipt (a disposition notification), not written by a person.", None
    if report_type != "delivery-status":
        return f"An automatic report ({report_type or 'of no known type'}).", None
    recipients = [block for block in _status_blocks(message) if _STATUS_FIELDS & block.keys()]
    failed = [block for block in recipients if _failed(block)]
    if not failed:
        if any(_delayed(block) for block in recipients):
            return "A delivery delay report: the message is still being tried.", None
        return "A delivery status report that reports no failure.", None
    original = _returned_message_id(message)
    if not original:
        return "A delivery failure report that does not say which message failed.", None
    first = failed[0]
    bounce = Bounce(
        original_message_id=original,
        recipient=_after_type(first.get("final-recipient") or first.get("original-recipient", "")),
        status=_status(first.get("status", "")),
        diagnostic=_after_type(first.get("diagnostic-code", ""))[:_DIAGNOSTIC_LENGTH],
    )
    return "A delivery failure report (a bounce).", bounce


_STATUS_FIELDS = frozenset({"final-recipient", "original-recipient", "action", "status"})
_DIAGNOSTIC_LENGTH = 500
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_MESSAGE_ID_LINE = re.compile(r"^[ \t>]*message-id:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)


def _failed(block: dict[str, str]) -> bool:
    """RFC 3464's Action says; the Status class only when there is none: a server that gives
    up after days of temporary failures reports ``Action: failed`` with a 4.x.x status."""
    action = block.get("action", "").strip().lower()
    return action.startswith("failed") if action else _status_class(block) == "5"


def _delayed(block: dict[str, str]) -> bool:
    action = block.get("action", "").strip().lower()
    return action.startswith("delayed") if action else _status_class(block) == "4"


def _status_class(block: dict[str, str]) -> str:
    return _status(block.get("status", ""))[:1]


def _status(value: str) -> str:
    found = _STATUS.search(value)
    return found.group(1) if found else ""


def _after_type(value: str) -> str:
    """``rfc822; someone@example.com`` or ``smtp; 550 ...`` without its type."""
    kind, separator, rest = value.partition(";")
    return (rest if separator else kind).strip().strip("<>").strip()


def _status_blocks(message: Message) -> list[dict[str, str]]:
    """The field blocks of the report's message/delivery-status part, names in lower case."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            return [
                {key.lower(): _unfold(_raw_text(str(value))) for key, value in block.raw_items()}
                for block in payload
                if isinstance(block, Message)
            ]
        if isinstance(payload, str):
            return [_fields(chunk) for chunk in re.split(r"\r?\n[ \t]*\r?\n", payload)]
    return []


def _fields(chunk: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in _unfold(chunk).splitlines():
        name, separator, value = line.partition(":")
        if separator:
            fields.setdefault(name.strip().lower(), value.strip())
    return fields


def _returned_message_id(message: Message) -> str:
    """The Message-ID of the message a report returns, from its returned part or its text."""
    for part in message.walk():
        content_type = part.get_content_type()
        payload = part.get_payload()
        if content_type in ("message/rfc822", "message/global") and isinstance(payload, list):
            inner = payload[0] if payload else None
            if isinstance(inner, Message) and (found := _message_id(header(inner, "Message-ID"))):
                return found
        elif content_type in ("text/rfc822-headers", "message/global-headers"):
            try:
                data = part.get_payload(decode=True)
            except Exception:
                data = None
            headers = decode_bytes(data, None)[0] if isinstance(data, bytes) else str(payload)
            if found_line := _MESSAGE_ID_LINE.search(headers):
                return found_line.group(1)
    return ""


def _from_local_part(message: Message) -> str:
    addresses = getaddresses([header(message, "From")])
    address = addresses[0][1] if addresses else ""
    return address.partition("@")[0].strip().lower()


def _server_notice(message: Message, text: str, sender: str) -> tuple[str, Bounce | None]:
    """A notice from ``MAILER-DAEMON`` or ``postmaster`` without a standard report."""
    original = _returned_message_id(message)
    if not original and (found := _MESSAGE_ID_LINE.search(text)):
        original = found.group(1)
    statuses = _STATUS.findall(text)
    subject = decode_header_text(header(message, "Subject"))
    delayed = not any(status.startswith("5") for status in statuses) and (
        any(status.startswith("4") for status in statuses) or "delay" in subject.lower()
    )
    if delayed:
        return f"A delivery delay notice from {sender}: the message is still being tried.", None
    if not original:
        return f"A notice from {sender} that does not say which message it concerns.", None
    bounce = Bounce(
        original_message_id=original,
        recipient=_failed_recipient(message, text),
        status=next((status for status in statuses if status.startswith("5")), ""),
        diagnostic=_diagnostic(text, subject),
    )
    return f"A delivery failure notice from {sender} (a bounce).", bounce


def _failed_recipient(message: Message, text: str) -> str:
    listed = header(message, "X-Failed-Recipients").split(",")[0].strip()
    if listed:
        return listed
    for pattern in (
        r"^\s*final-recipient:[^;\n]*;\s*<?([^<>\s]+@[^<>\s]+?)>?\s*$",
        r"^\s*<([^<>\s]+@[^<>\s]+)>:?",
        r"^\s+([^<>\s:]+@[^<>\s:]+)\s*$",
    ):
        if found := re.search(pattern, text, re.IGNORECASE | re.MULTILINE):
            return found.group(1)
    return ""


def _diagnostic(text: str, subject: str) -> str:
    if found := re.search(r"^\s*diagnostic-code:\s*(.+)$", text, re.IGNORECASE | re.MULTILINE):
        return _after_type(found.group(1))[:_DIAGNOSTIC_LENGTH]
    for line in text.splitlines():
        if _STATUS.search(line) or re.search(r"\b5\d\d\b", line):
            return line.strip()[:_DIAGNOSTIC_LENGTH]
    return subject[:_DIAGNOSTIC_LENGTH]


def _automatic(message: Message) -> str:
    """Why the headers say a program sent ``message``, or ``""``."""
    auto_submitted = header(message, "Auto-Submitted")
    if auto_submitted and auto_submitted.split(";")[0].strip().lower() != "no":
        return f"An automatic message (Auto-Submitted: {auto_submitted})."
    precedence = header(message, "Precedence").lower()
    if precedence in ("bulk", "junk", "list"):
        return f"A bulk or list message (Precedence: {precedence})."
    if _has(message, "List-Id"):
        return f"A mailing-list message (List-Id: {header(message, 'List-Id')})."
    if _has(message, "X-Auto-Response-Suppress"):
        return "An automatic message: it asks not to be answered (X-Auto-Response-Suppress)."
    if _has(message, "Return-Path") and header(message, "Return-Path").replace(" ", "") == "<>":
        return "A message with a null reverse-path (Return-Path: <>), as mail servers send."
    for name in ("X-Autoreply", "X-Autorespond"):
        if _has(message, name):
            return f"An automatic reply ({name})."
    return ""


def _has(message: Message, name: str) -> bool:
    wanted = name.lower()
    return any(key.lower() == wanted for key, _ in message.raw_items())


_SKIPPED = frozenset({"script", "style", "title", "template"})
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table", "pre", "hr"}
)
_LINES = frozenset({"div", "li", "tr", "section", "article", "header", "footer", "dd", "dt"})


class _HTMLText(HTMLParser):
    """Collects the visible text of an HTML document, with its paragraphs and line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skipping: list[str] = []
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.skipping.clear()
        elif tag in _SKIPPED:
            self.skipping.append(tag)
        self._break(tag)
        if tag == "li":
            self.pieces.append("- ")
        elif tag in ("td", "th"):
            self.pieces.append(" ")
        elif tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skipping:
            while self.skipping and self.skipping.pop() != tag:
                pass
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        self._break(tag)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.pre:
            self.pieces.append(data)
            return
        text = re.sub(r"\s+", " ", data)
        if not self.pieces or self.pieces[-1].endswith("\n") or self.pieces[-1] == "- ":
            text = text.lstrip(" ")
        self.pieces.append(text)

    def _break(self, tag: str) -> None:
        if tag in _PARAGRAPHS:
            self.pieces.append("\n\n")
        elif tag == "br" or (tag in _LINES and self.pieces and not self.pieces[-1].endswith("\n")):
            self.pieces.append("\n")

    def result(self) -> str:
        text = "".join(self.pieces).replace("\xa0", " ")
        lines = [line.rstrip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
