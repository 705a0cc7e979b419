"""Logs: one structlog processor chain, configured in one place, that never writes personal data.

The daemon logs JSON lines (one object per line: ``timestamp`` in ISO 8601 UTC, ``level``,
``logger``, ``event`` and the bound fields) when its stream is not a terminal, which is how a
service manager or a log shipper reads them; on a terminal it logs structlog's readable console
lines. The standard library's ``logging`` (uvicorn's ``uvicorn.error`` and ``uvicorn.access``,
and any library) goes through the same chain, through ``structlog.stdlib.ProcessorFormatter``,
so every line of the process has one format and one redaction.

Customer names, phone numbers, e-mail addresses and message texts are personal data under the
GDPR; the daemon keeps them in an erasable store, and a log line would be a copy nobody can
erase. So ``redact_personal_data`` runs on every line, just before rendering: it replaces the
value of any personal key (``customer``, ``name``, ``email``, ``text``, … at any depth) with
``[redacted]``, and scrubs e-mail addresses and phone numbers from every other string, the
message and the exception text included. It is deliberately greedy: a lost detail in a log
line costs less than a copy of personal data. A name written into a message cannot be told from
any other word, so personal values go under their keys (``log.info("arrived", customer=...)``),
never into the message.

Convention: every line about an interaction carries ``interaction_id``. Inside a request or a
task that works on one interaction, ``with bind_interaction(42): ...`` tags every line logged
within it (structlog context variables); elsewhere pass ``interaction_id=`` to the call.

When uvicorn runs the API, start it with ``log_config=None``: uvicorn then installs no handlers
of its own, and its loggers reach the root handler set up here (``configure_logging`` also
removes handlers a previous uvicorn configuration left and lets its loggers propagate).
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime, time
from enum import Enum
from typing import Any, TextIO

import msgspec
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "PERSONAL_KEYS",
    "REDACTED",
    "bind_interaction",
    "configure_logging",
    "get_logger",
    "redact_personal_data",
    "scrub",
]

REDACTED = "[redacted]"

PERSONAL_KEYS: frozenset[str] = frozenset(
    {
        # identities
        "customer",
        "name",
        "firstname",
        "lastname",
        "fullname",
        "surname",
        "username",
        "nom",
        "prenom",
        "prénom",
        "author",
        "handle",
        "sender",
        "recipient",
        # contact details
        "email",
        "mail",
        "courriel",
        "phone",
        "telephone",
        "téléphone",
        "tel",
        "mobile",
        "address",
        "adresse",
        # what customers wrote, and what advisors wrote about them
        "subject",
        "text",
        "body",
        "message",
        "content",
        "comment",
        "note",
    }
)
"""Words that make a key personal, alone or as one word of it (``customer_name``, ``eMail``)."""

# A key whose last word says it is about the data, not the data: ``message_id``, ``email_count``.
_ABOUT_THE_DATA = frozenset({"id", "ids", "count", "digest", "hash", "length", "len"})

# structlog's own bookkeeping, left as it is: ``exc_info`` is rendered (and then scrubbed) by
# ``format_exc_info``, which runs before the redaction in the chain built here.
_UNTOUCHED = frozenset({"exc_info", "_record", "_from_structlog"})

_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
# International numbers: +33 6 12 34 56 78, +33 (0)6 12 34 56 78, +44 20 7946 0958, 0033 6….
# The digit count (8 to 15, as E.164) is checked after the match.
_INTERNATIONAL_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)\d{1,3}(?:[ .\-]?\(\d{1,4}\))?(?:[ .\-]?\d{1,4}){2,7}(?!\w)"
)
# National numbers with a trunk 0: 0612345678, 06 12 34 56 78, 06.12.34.56.78, 020 7946 0958.
# One separator throughout, so that a date and a time (04-01-2027 09:00) are never taken for one.
_NATIONAL_PHONE = re.compile(r"(?<![\w+])0\d{1,4}([ .\-]?)\d{2,4}(?:\1\d{2,4}){1,3}(?!\w)")
_DIGITS = re.compile(r"\d")


def _phone(minimum: int, maximum: int) -> Any:
    def replace(match: re.Match[str]) -> str:
        digits = len(_DIGITS.findall(match.group(0)))
        return REDACTED if minimum <= digits <= maximum else match.group(0)

    return replace


_replace_international = _phone(8, 15)
_replace_national = _phone(9, 12)


def scrub(text: str) -> str:
    """Return a text with its e-mail addresses and phone numbers replaced by ``[redacted]``.

    Ids (``123456``, ``interaction 42``), ISO timestamps (``2027-01-04T09:00:00+01:00``) and
    durations are left alone: a national number starts with a trunk 0 and has 9 to 12 digits,
    an international one starts with ``+`` or ``00`` and has 8 to 15.
    """
    if "@" in text:
        text = _EMAIL.sub(REDACTED, text)
    if "0" in text or "+" in text:
        text = _INTERNATIONAL_PHONE.sub(_replace_international, text)
        text = _NATIONAL_PHONE.sub(_replace_national, text)
    return text


@functools.lru_cache(maxsize=1024)
def _is_personal(key: str) -> bool:
    """Return whether a key names personal data (cached: a program logs few distinct keys)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()
    words = [word for word in re.split(r"[^0-9a-zà-ÿ]+", spaced) if word]
    if not words or (len(words) > 1 and words[-1] in _ABOUT_THE_DATA):
        return False
    for word in words:
        if word in PERSONAL_KEYS:
            return True
        if word.endswith("es") and word[:-2] in PERSONAL_KEYS:  # addresses
            return True
        if word.endswith("s") and word[:-1] in PERSONAL_KEYS:  # names, emails, messages
            return True
    return False


def _clean(value: Any) -> Any:
    """Return a value fit for a log line: personal keys redacted, strings scrubbed.

    Values JSON cannot hold become strings here, so that no renderer ever falls back to a
    ``repr`` that nobody scrubbed (a msgspec Struct becomes its fields, then is cleaned).
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return _clean_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(item) for item in value]
    if isinstance(value, msgspec.Struct):
        return _clean(msgspec.to_builtins(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return _clean(value.value)
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    return scrub(repr(value))


def _clean_mapping(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    cleaned: dict[Any, Any] = {}
    for key, value in mapping.items():
        name = key if isinstance(key, str) else str(key)
        cleaned[scrub(name) if isinstance(key, str) else key] = (
            REDACTED if _is_personal(name) else _clean(value)
        )
    return cleaned


def redact_personal_data(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Processor: redact personal values by key and scrub e-mails and phone numbers elsewhere.

    The value of a personal key (see ``PERSONAL_KEYS``; case-insensitive, at any depth of dicts
    and lists) becomes ``[redacted]`` whatever it is, unless the key's last word says it is
    about the data (``message_id``, ``email_count``). Every other string, the ``event`` message
    and a rendered ``exception`` included, has its e-mail addresses and phone numbers scrubbed.
    Run it after ``format_exc_info``, so that exception texts are strings by then.
    """
    for key, value in list(event_dict.items()):
        if key in _UNTOUCHED:
            continue
        if _is_personal(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _clean(value)
    return event_dict


def bind_interaction(interaction_id: int) -> AbstractContextManager[None]:
    """Tag every line logged inside the ``with`` block, in this task, with ``interaction_id``.

    It uses structlog's context variables: an asyncio task started inside the block inherits
    the tag, and the tag is removed on leaving the block.
    """
    return structlog.contextvars.bound_contextvars(interaction_id=interaction_id)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a logger whose lines name ``name`` (use the module's dotted name)."""
    return structlog.stdlib.get_logger(name)


# Marks the handler configure_logging installs, so that configuring again replaces it.
_HANDLER_NAME = "aiguillage"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_LEVELS = ("debug", "info", "warning", "error", "critical")


def configure_logging(
    *, json: bool | None = None, level: str = "info", stream: TextIO | None = None
) -> None:
    """Send every log line of the process, structlog's and the standard library's, to a stream.

    ``json=None`` chooses JSON lines unless ``stream`` (standard error by default) is a
    terminal. ``level`` is one of debug, info, warning, error, critical. Calling it again
    replaces the previous configuration.
    """
    if level.lower() not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(_LEVELS)}")
    numeric_level = logging.getLevelName(level.upper())
    stream = sys.stderr if stream is None else stream
    is_terminal = _is_terminal(stream)
    if json is None:
        json = not is_terminal

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    # What every line gets, whoever logged it.
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=is_terminal)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The exception becomes text before redaction, so its message is scrubbed too;
            # the console renderer then prints that text instead of a traceback with locals.
            structlog.processors.format_exc_info,
            redact_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached, so that configuring again (tests, a reload) reaches every logger.
        cache_logger_on_first_use=False,
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return False
