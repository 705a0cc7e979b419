"""What the runtime does with personal data: sealed out of commands, shown against the journal.

A job's personal data never reaches the engine: ``seal_submission`` and ``seal_free_text`` put
it in a piece for the personal-data store (see ``personal``) and give the engine a command that
carries only its digest, and a submission's external id as a keyed digest (and its content too:
``content_digest``, which tells a resubmission apart from a reuse of its key). What is shown of an
interaction is only what the journal holds the digest of (``personal.opened``, ``shown``), and
a recovery removes what a batch stored and the journal never got (``discard_unjournaled``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import msgspec
import structlog

from aiguillage.adapters.stores.personal import (
    KEYED,
    PersonalStore,
    Sealed,
    key_id,
    keyed_id,
    sealed,
)
from aiguillage.adapters.stores.views import personal_digests
from aiguillage.engine.commands import (
    Command,
    Move,
    PostMessage,
    RecordDelivery,
    RequestCallback,
    Submit,
    Transfer,
    TransferOut,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.instants import Instant

__all__ = [
    "check_key",
    "content_digest",
    "discard_unjournaled",
    "seal_free_text",
    "seal_submission",
    "shown",
]

log = structlog.get_logger("aiguillage.runtime")

_DIGEST_FIELD: dict[type[Any], str] = {
    Transfer: "note_digest",
    Move: "note_digest",
    TransferOut: "party_digest",
    PostMessage: "digest",
    RecordDelivery: "evidence_digest",
    RequestCallback: "number_digest",
}
"""Commands whose free text is personal data, and the field that carries its digest."""


def seal_submission(
    command: Submit,
    personal: dict[str, Any] | None,
    key: bytes,
    known: Callable[[tuple[str, str]], bool],
    now: Instant,
) -> tuple[Submit, Sealed]:
    """Return the submission as the journal holds it, and its piece (interaction id 0).

    The piece holds the personal data given and the external id as given; the command, the
    digest of the piece, the ``content_digest`` of what was given, and the external id keyed
    with ``key``, or as an earlier version journaled it in clear when that one is ``known``
    (within the idempotency window).
    """
    given = command.external_id
    external_id = keyed_id(key, given) if given else given  # an empty one, the engine refuses
    if not known((command.source, external_id)) and known((command.source, given)):
        external_id = given
    piece = sealed(0, {**(personal or {}), "external_id": given}, now)
    sealed_command = msgspec.structs.replace(
        command,
        external_id=external_id,
        personal_digest=piece.digest,
        content_digest=content_digest(command, personal, key),
    )
    return sealed_command, piece


def content_digest(command: Submit, personal: dict[str, Any] | None, key: bytes) -> str:
    """Return the keyed digest of what routes a submission, the same for the same routing.

    It covers channel, motive, language, skills, priority and typology: a key reused for other
    work routes it elsewhere. Not ``received_at``, which a relay may stamp anew at each retry,
    and not the personal data (customer, subject, text): a digest of it would outlive its
    erasure in the journal, and the 200-or-409 answer to a guessed text would confirm it.
    ``personal`` is taken for the signature's sake and left out.
    """
    content = (
        command.channel,
        command.motive,
        command.language,
        command.skills,
        command.priority,
        command.typology,
    )
    return keyed_id(key, "submission:" + _CANONICAL.encode(content).decode())


_CANONICAL = msgspec.json.Encoder(order="sorted")


def seal_free_text(
    command: Command, personal: dict[str, Any] | None, now: Instant, engine: Engine
) -> tuple[Command, Sealed | None]:
    """Return a transfer, a move, a hand-over, a message or a callback asked for carrying the
    digest of its free text, and its piece.

    ``personal`` is ``{"note": …}``, ``{"party": …}``, ``{"message": …}``, for a message sent
    ``{"evidence": …}`` (the bytes the peer took), or for a callback ``{"callback_number": …}``
    (the number to call); other commands carry no free text and come back as they are.
    """
    if not personal or not isinstance(
        command, Transfer | Move | TransferOut | PostMessage | RecordDelivery | RequestCallback
    ):
        return command, None
    if isinstance(command, RecordDelivery):
        message = engine.state.messages.get(command.message_id)
        if message is None:
            return command, None  # the engine refuses it, naming the message
        interaction_id = message.interaction_id
    else:
        interaction_id = command.interaction_id
    piece = sealed(interaction_id, personal, now)
    field = _DIGEST_FIELD[type(command)]
    return msgspec.structs.replace(command, **{field: piece.digest}), piece


def shown(pieces: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return the pieces of one interaction as the API shows them: the submission's fields,
    then ``notes``, ``parties`` and ``messages`` in the order they were added, and
    ``callback_numbers`` when a caller asked to be called back.

    ``messages`` holds what was written in the thread after the submission: the customer's
    later messages (each as its channel submitted it) and the texts of answers and notes;
    ``evidence_sent``, when a channel kept any, the bytes of each answer as sent (base64); the
    bytes received are in each message's own ``evidence``.
    """
    merged: dict[str, Any] | None = None
    notes, parties, messages, evidence, numbers = [], [], [], [], []
    for piece in pieces:
        if "evidence" in piece and len(piece) == 1:
            evidence.append(piece["evidence"])
        elif "callback_number" in piece and len(piece) == 1:
            numbers.append(piece["callback_number"])
        elif "note" in piece:
            notes.append(piece["note"])
        elif "party" in piece:
            parties.append(piece["party"])
        elif "message" in piece:
            messages.append({"text": piece["message"]})
        elif merged is None:
            merged = dict(piece)
        else:
            messages.append(piece)
    shown = {
        **_without_bytes(merged or {}),
        "notes": notes,
        "parties": parties,
        "messages": [_without_bytes(message) for message in messages],
    }
    if numbers:
        shown["callback_numbers"] = numbers
    return {**shown, "evidence_sent": evidence} if evidence else shown


def _without_bytes(piece: dict[str, Any]) -> dict[str, Any]:
    """A piece with its attachments named, typed and sized, not their bytes (served apart,
    to staff only: ``daemon.api.attachments``)."""
    attachments = piece.get("attachments")
    if not isinstance(attachments, list):
        return piece
    listed = [
        {k: v for k, v in item.items() if k != "data"} if isinstance(item, dict) else item
        for item in attachments
    ]
    return {**piece, "attachments": listed}


async def discard_unjournaled(personal: PersonalStore, engine: Engine) -> None:
    """Remove the personal data that batches stored and the journal never got.

    A batch stores its personal data before it appends its events; when the append fails (a
    full disk, a lost lock) or the daemon dies between the two, the data stays, under an id
    the next interaction is given. A batch runs at an instant no earlier than the engine's, so
    such data was stored at or after the last instant the journal knows (``engine.now``): only
    the pieces stored since are looked at, and each stays if the interaction it is stored
    under is live and holds its digest (work stored that recently cannot have left the live
    state). Nothing is served without that digest anyway; this removes what would otherwise
    wait for its erasure or its retention.
    """
    interactions = engine.state.interactions
    unjournaled = []
    for interaction_id, piece in await personal.stored_since(engine.now):
        interaction = interactions.get(interaction_id)
        if interaction is None or piece not in personal_digests(interaction):
            unjournaled.append((interaction_id, piece))
    if unjournaled:
        removed = await personal.discard(unjournaled)
        log.warning(
            "removed personal data whose events never reached the journal",
            pieces=removed,
            interaction_ids=sorted({interaction_id for interaction_id, _ in unjournaled}),
        )


def check_key(keys: Collection[tuple[str, str]], key: bytes) -> None:
    """Say loudly when the external ids of the idempotency window were keyed with another key.

    That is a personal-data store lost and made again, or restored from elsewhere: a
    resubmission of those interactions is then not recognised, and creates a new one.
    """
    ours = f"{KEYED}{key_id(key)}:"
    others = sum(1 for _, ext in keys if ext.startswith(KEYED) and not ext.startswith(ours))
    if others:
        log.error(
            "the external ids of the idempotency window were keyed with another key than the "
            "personal-data store's: a resubmission of those interactions creates a new one; "
            "restore the personal-data store that holds the key (see docs/operations.md)",
            interactions=others,
            key_id=key_id(key),
        )
