"""Tests for the daemon's logs: one chain, JSON lines off a terminal, no personal data ever."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import msgspec
import pytest
import structlog
from structlog.testing import capture_logs
from structlog.typing import EventDict

from aiguillage.adapters.daemon.logs import (
    REDACTED,
    bind_interaction,
    configure_logging,
    get_logger,
    redact_personal_data,
    scrub,
)

CUSTOMER = {"name": "Jeanne Dupont", "phone": "+33 6 12 34 56 78", "email": "jeanne@example.fr"}
TEXT = "Mon bus n'est jamais passé, rappelez-moi au 06.12.34.56.78"
PERSONAL = ("Jeanne", "Dupont", "12 34 56 78", "12.34.56.78", "jeanne@example.fr", "jamais passé")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Leave structlog and the root logger as they were: configure_logging changes both."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def _redact(**event_dict: object) -> EventDict:
    return redact_personal_data(None, "info", dict(event_dict))


# -- the processor alone -------------------------------------------------------------------------


def test_values_under_personal_keys_are_redacted_whatever_their_type() -> None:
    redacted = _redact(
        event="interaction arrived",
        customer=CUSTOMER,
        text=TEXT,
        subject="Remboursement",
        body=b"raw mail",
        name=None,
    )
    assert redacted == {
        "event": "interaction arrived",
        "customer": REDACTED,
        "text": REDACTED,
        "subject": REDACTED,
        "body": REDACTED,
        "name": REDACTED,
    }


def test_personal_keys_are_found_at_any_depth_and_in_any_case() -> None:
    redacted = _redact(
        event="mail received",
        mail={"headers": {"Email": "a@b.fr", "Subject": "x"}, "parts": [{"TEXT": "bonjour"}]},
        customerName="Jeanne",
        sender_address="jeanne@example.fr",
        messages=["one", "two"],
    )
    assert redacted["mail"] == REDACTED  # "mail" is itself a personal key
    assert redacted["customerName"] == REDACTED
    assert redacted["sender_address"] == REDACTED
    assert redacted["messages"] == REDACTED
    nested = _redact(event="x", envelope={"to": [{"Email": "a@b.fr", "kind": "primary"}]})
    assert nested["envelope"] == {"to": [{"Email": REDACTED, "kind": "primary"}]}


def test_keys_about_personal_data_but_not_holding_it_are_kept() -> None:
    redacted = _redact(event="x", message_id=17, email_count=2, personal_digest="ab12")
    assert redacted == {"event": "x", "message_id": 17, "email_count": 2, "personal_digest": "ab12"}


@pytest.mark.parametrize(
    "phone",
    [
        "+33 6 12 34 56 78",
        "+33612345678",
        "+33 (0)6 12 34 56 78",
        "0033 6 12 34 56 78",
        "06.12.34.56.78",
        "06 12 34 56 78",
        "06-12-34-56-78",
        "0612345678",
        "+44 20 7946 0958",
        "020 7946 0958",
        "+1 (415) 555-2671",
    ],
)
def test_phone_numbers_are_scrubbed_from_free_text(phone: str) -> None:
    assert scrub(f"rappeler le {phone} demain") == f"rappeler le {REDACTED} demain"


def test_email_addresses_are_scrubbed_from_free_text() -> None:
    assert scrub("from jeanne.dupont+sav@example.co.uk, ok") == f"from {REDACTED}, ok"


@pytest.mark.parametrize(
    "kept",
    [
        "2027-01-04T09:00:00+01:00",
        "2027-01-04T08:00:00.123456Z",
        "04-01-2027 09:00",
        "123456",
        "interaction 42",
        "offer 1234567 expired after 15 s",
        "commit took 0.000512 s",
        "1798963200000000",
        "127.0.0.1:8000",
        "+5 places",
    ],
)
def test_ids_timestamps_and_durations_survive_scrubbing(kept: str) -> None:
    assert scrub(kept) == kept


def test_the_event_message_and_other_strings_are_scrubbed_not_dropped() -> None:
    redacted = _redact(event="no account for jeanne@example.fr", reason="call 0612345678", n=3)
    assert redacted == {
        "event": f"no account for {REDACTED}",
        "reason": f"call {REDACTED}",
        "n": 3,
    }


def test_structs_and_unknown_objects_are_cleaned_before_rendering() -> None:
    class Contact(msgspec.Struct):
        name: str
        channel: str

    redacted = _redact(
        event="x",
        contact=Contact("Jeanne", "voice"),
        when=datetime(2027, 1, 4),
        error=KeyError("a@b.fr"),
    )
    assert redacted["contact"] == {"name": REDACTED, "channel": "voice"}
    assert redacted["when"] == "2027-01-04T00:00:00"
    assert redacted["error"] == f"KeyError: '{REDACTED}'"


# -- through structlog ---------------------------------------------------------------------------


def test_bind_interaction_tags_every_line_inside_the_block() -> None:
    chain = [structlog.contextvars.merge_contextvars, redact_personal_data]
    with capture_logs(processors=chain) as logs:
        log = get_logger("aiguillage.test")
        with bind_interaction(42):
            log.info("offer made", advisor_id="alice")
            log.info("customer wrote", text=TEXT)
        log.info("outside")
    assert [entry.get("interaction_id") for entry in logs] == [42, 42, None]
    assert logs[1]["text"] == REDACTED


def test_capture_logs_sees_the_redacted_line() -> None:
    with capture_logs(processors=[redact_personal_data]) as logs:
        get_logger("aiguillage.test").warning("arrived", customer=CUSTOMER, interaction_id=7)
    assert logs == [
        {"event": "arrived", "customer": REDACTED, "interaction_id": 7, "log_level": "warning"}
    ]


# -- end to end: configure_logging and a real stream ---------------------------------------------


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_no_personal_data_end_to_end() -> None:
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    log = get_logger("aiguillage.runtime")
    with bind_interaction(42):
        log.info("interaction arrived", customer=CUSTOMER, text=TEXT, channel="voice")
        log.info("payload", payload={"customer": CUSTOMER, "text": TEXT, "source": "webform"})
        log.info("customer called back on %s", "+33 6 12 34 56 78")
        try:
            raise LookupError(f"no account for {CUSTOMER['email']}")
        except LookupError:
            log.exception("lookup failed")

    output = stream.getvalue()
    for personal in PERSONAL:
        assert personal not in output
    lines = _lines(stream)
    assert len(lines) == 4
    for line in lines:
        assert {"timestamp", "level", "event", "logger"} <= line.keys()
        assert line["interaction_id"] == 42
        assert datetime.fromisoformat(str(line["timestamp"])).utcoffset() is not None
        assert str(line["timestamp"]).endswith("Z")
    assert lines[0]["customer"] == REDACTED
    assert lines[0]["channel"] == "voice"
    assert lines[1]["payload"] == {"customer": REDACTED, "text": REDACTED, "source": "webform"}
    assert lines[3]["level"] == "error"
    assert "LookupError: no account for [redacted]" in str(lines[3]["exception"])


def test_standard_library_and_uvicorn_lines_go_through_the_same_chain() -> None:
    access = logging.getLogger("uvicorn.access")
    leftover = logging.StreamHandler(io.StringIO())
    access.addHandler(leftover)  # as uvicorn's own logging configuration would leave it
    access.propagate = False
    # A server another test ran in this process may have left the logger quieter.
    level, disabled = access.level, access.disabled
    access.setLevel(logging.INFO)
    access.disabled = False
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d', "10.0.0.7:5100", "GET", "/x?email=a@b.fr", "1.1", 200
        )
        logging.getLogger("some.library").warning("retrying for 0612345678")
    finally:
        access.removeHandler(leftover)
        access.setLevel(level)
        access.disabled = disabled
    lines = _lines(stream)
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("uvicorn.access", "info"),
        ("some.library", "warning"),
    ]
    assert lines[0]["event"] == f'10.0.0.7:5100 - "GET /x?email={REDACTED} HTTP/1.1" 200'
    assert lines[1]["event"] == f"retrying for {REDACTED}"


def test_a_stream_that_is_not_a_terminal_gets_json() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger("aiguillage.test").info("hello", interaction_id=3)
    assert _lines(stream)[0]["event"] == "hello"


def test_a_terminal_gets_console_lines_still_redacted() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    configure_logging(stream=stream)
    get_logger("aiguillage.test").info("arrived", customer=CUSTOMER, text=TEXT)
    output = stream.getvalue()
    assert "arrived" in output
    assert REDACTED in output
    for personal in PERSONAL:
        assert personal not in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output.splitlines()[0])


def test_lines_below_the_level_are_dropped() -> None:
    stream = io.StringIO()
    configure_logging(level="warning", stream=stream)
    log = get_logger("aiguillage.test")
    log.info("quiet")
    log.warning("loud")
    logging.getLogger("uvicorn.error").info("quiet too")
    assert [line["event"] for line in _lines(stream)] == ["loud"]


def test_configuring_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)
    get_logger("aiguillage.test").info("once")
    assert first.getvalue() == ""
    assert len(_lines(second)) == 1


def test_an_unknown_level_is_refused_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="use one of debug, info, warning, error, critical"):
        configure_logging(level="verbose", stream=io.StringIO())
