"""Sealing: personal data out of commands, the external id keyed, the journal's key checked."""

from __future__ import annotations

from structlog.testing import capture_logs

from aiguillage.adapters.stores.personal import digest, keyed_id
from aiguillage.adapters.stores.sealing import check_key, seal_free_text, seal_submission, shown
from aiguillage.engine.commands import (
    Close,
    PostMessage,
    RecordDelivery,
    RequestCallback,
    Submit,
    Transfer,
    TransferOut,
)
from aiguillage.engine.engine import Engine

T0 = 1_796_112_000_000_000
KEY = b"k" * 32
ENGINE = Engine()
"""An empty engine: the commands sealed here name no message it holds."""
MESSAGE_ID = "<20270104.4711.jeanne@example.org>"


def nothing_known(key: tuple[str, str]) -> bool:
    return False


def test_a_submission_carries_the_keyed_id_and_the_digest_of_its_piece() -> None:
    command = Submit(channel="written", source="email", external_id=MESSAGE_ID)
    sealed_command, piece = seal_submission(command, {"text": "Bonjour"}, KEY, nothing_known, T0)
    assert sealed_command.external_id == keyed_id(KEY, MESSAGE_ID)
    assert sealed_command.personal_digest == piece.digest == digest(piece.salt, piece.data)
    assert b"jeanne@example.org" in piece.data
    assert b"jeanne" not in sealed_command.external_id.encode()


def test_an_external_id_an_earlier_version_journaled_in_clear_is_still_recognised() -> None:
    command = Submit(channel="social", source="x", external_id="post-1")
    journaled_in_clear = {("x", "post-1")}
    sealed_command, _ = seal_submission(command, None, KEY, journaled_in_clear.__contains__, T0)
    assert sealed_command.external_id == "post-1"


def test_a_note_and_a_party_leave_only_their_digest_in_the_command() -> None:
    transfer = Transfer(advisor_id="A1", interaction_id=4)
    sealed_transfer, note = seal_free_text(transfer, {"note": "06 12 34 56 78"}, T0, ENGINE)
    assert isinstance(sealed_transfer, Transfer)
    assert note is not None
    assert (note.interaction_id, sealed_transfer.note_digest) == (4, note.digest)
    handed, party = seal_free_text(
        TransferOut(advisor_id="A1", interaction_id=4), {"party": "P"}, T0, ENGINE
    )
    assert isinstance(handed, TransferOut)
    assert party is not None
    assert handed.party_digest == party.digest
    assert seal_free_text(Close(interaction_id=4), {"note": "x"}, T0, ENGINE) == (
        Close(interaction_id=4),
        None,
    )


def test_a_message_and_the_evidence_of_its_sending_are_sealed_under_its_interaction() -> None:
    posted, text = seal_free_text(
        PostMessage(interaction_id=4, advisor_id="A1", kind="answer", digest=""),
        {"message": "Bonjour"},
        T0,
        ENGINE,
    )
    assert isinstance(posted, PostMessage)
    assert text is not None
    assert (text.interaction_id, posted.digest) == (4, text.digest)
    # No such message: nothing is sealed, and the engine refuses the report, naming it.
    report = RecordDelivery(message_id=7, outcome="sent")
    assert seal_free_text(report, {"evidence": {"bytes": "eA=="}}, T0, ENGINE) == (report, None)


def test_pieces_are_shown_as_the_submission_then_notes_parties_and_messages_in_order() -> None:
    pieces = [
        {"external_id": "e", "text": "t"},
        {"note": "n1"},
        {"message": "an answer"},
        {"note": "n2"},
        {"external_id": "e2", "text": "a later message"},
        {"party": "p"},
    ]
    assert shown(pieces) == {
        "external_id": "e",
        "text": "t",
        "notes": ["n1", "n2"],
        "parties": ["p"],
        "messages": [
            {"text": "an answer"},
            {"external_id": "e2", "text": "a later message"},
        ],
    }


def test_a_number_to_call_back_leaves_only_its_digest_and_is_shown_apart() -> None:
    asked, number = seal_free_text(
        RequestCallback(interaction_id=4), {"callback_number": "+33 6 12 34 56 78"}, T0, ENGINE
    )
    assert isinstance(asked, RequestCallback)
    assert number is not None
    assert (number.interaction_id, asked.number_digest) == (4, number.digest)
    assert b"+33 6 12 34 56 78" in number.data
    pieces = [{"external_id": "e"}, {"callback_number": "+33 6 12 34 56 78"}]
    assert shown(pieces) == {
        "external_id": "e",
        "notes": [],
        "parties": [],
        "messages": [],
        "callback_numbers": ["+33 6 12 34 56 78"],
    }


def test_ids_keyed_with_another_key_are_reported_as_an_error() -> None:
    other = b"o" * 32
    keys = [("x", keyed_id(other, "1")), ("x", keyed_id(KEY, "2")), ("x", "clear")]
    with capture_logs() as logs:
        check_key(keys, KEY)
        check_key(keys[1:], KEY)
    assert [(log["log_level"], log["interactions"]) for log in logs] == [("error", 1)]
