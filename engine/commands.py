"""Commands: what the outside world asks of the engine.

Commands are frozen msgspec Structs in one tagged union (``tag_field="command"``), so the API,
the simulator and tests build the same values. The engine checks every command against its
policies and state (see ``errors.py``); decoding at the edges checks only the wire format.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .audits import AuditPick, MysteryResult
from .instants import Instant
from .policies import Channel, Policies, Typology
from .schedules import Shift
from .tokens import Role

__all__ = [
    "Abandon",
    "Accept",
    "AddAdvisor",
    "AdvisorState",
    "AwaitPrincipal",
    "CallbackOutcome",
    "ClaimExemption",
    "Close",
    "Command",
    "DecideExemption",
    "Decline",
    "DrawAudit",
    "ImportMystery",
    "MintToken",
    "Move",
    "PostMessage",
    "PrincipalAnswered",
    "Prioritise",
    "PublishNowcast",
    "RecordCallbackAttempt",
    "RecordDelivery",
    "RecordResponse",
    "RecordSatisfaction",
    "RemoveAdvisor",
    "RequestCallback",
    "RevokeToken",
    "ScoreAudit",
    "SetAdvisorState",
    "SetPolicies",
    "SetSchedule",
    "Submit",
    "Transfer",
    "TransferOut",
    "UpdateAdvisor",
]

AdvisorState = Literal["offline", "available", "not_ready", "wrap_up"]


class _Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="command", gc=False):
    pass


class SetPolicies(_Command, frozen=True, tag="policies.set"):
    """Put policies in force; ``config_digest`` names the configuration they came from."""

    policies: Policies
    config_digest: str = ""


class AddAdvisor(_Command, frozen=True, tag="advisor.add"):
    """Add an advisor to the roster, logged out."""

    advisor_id: str
    name: str = ""
    skills: dict[str, int] = {}
    languages: tuple[str, ...] = ()
    capacity: dict[Channel, int] = {}


class UpdateAdvisor(_Command, frozen=True, tag="advisor.update"):
    """Change an advisor's skills, languages or capacity; ``None`` keeps the current value.

    A value replaces the whole map: a capacity that leaves out a channel gives it none.
    """

    advisor_id: str
    name: str | None = None
    skills: dict[str, int] | None = None
    languages: tuple[str, ...] | None = None
    capacity: dict[Channel, int] | None = None


class RemoveAdvisor(_Command, frozen=True, tag="advisor.remove"):
    """Remove a logged-out advisor from the roster."""

    advisor_id: str


class MintToken(_Command, frozen=True, tag="token.mint"):
    """Let a new API token in: its secret's SHA-256, role, advisor (role ``advisor`` only),
    expiry and label. The engine numbers it; the secret itself never reaches the engine."""

    digest: str
    role: Role
    advisor_id: str | None = None
    expires_at: Instant | None = None
    label: str = ""


class RevokeToken(_Command, frozen=True, tag="token.revoke"):
    """Refuse a token from now on; its digest is never let in again."""

    token_id: int


class SetAdvisorState(_Command, frozen=True, tag="advisor.set_state"):
    """Log in (``available`` from ``offline``), log out (``offline``), pause or resume.

    ``wrap_up`` is set by the engine after work is closed and cannot be asked for. ``reason``
    is a code (``lunch``), never free text: it is journaled as it is.
    """

    advisor_id: str
    state: AdvisorState
    reason: str = ""
    by: str = ""
    """Who set it when not the advisor itself: a supervisor (``token:7``). Set by someone
    else, ``not_ready`` or ``offline`` first sends the work the advisor holds back to its place
    in the queue (``InteractionMoved``), where the advisor's own log-out is refused."""


class Submit(_Command, frozen=True, tag="interaction.submit"):
    """A new interaction, or a customer message joining one. The same ``(source, external_id)``
    twice creates nothing.

    With a ``thread`` (a conversation key the channel gives: a mail thread's root Message-ID, a
    social conversation id), the message joins the thread's latest interaction while it is open;
    when it has ended, or the thread is new, the message opens a new interaction that follows
    the thread's previous one and is offered first to the advisor who handled that one.
    """

    channel: Channel
    source: str
    external_id: str
    received_at: Instant | None = None
    """When it reached the contact center; the command's instant when absent."""
    motive: str | None = None
    language: str | None = None
    skills: dict[str, int] = {}
    """Skills required in addition to the motive's, with their minimum level."""
    priority: int | None = None
    typology: Typology | None = None
    personal_digest: str = ""
    """Salted digest of the personal data kept outside the journal."""
    content_digest: str = ""
    """The caller's digest of the submission as given, carried to the interaction so that a
    resubmission of the same key with other content can be told apart; the engine only carries
    it."""
    thread: str = ""


class Accept(_Command, frozen=True, tag="offer.accept"):
    advisor_id: str
    offer_id: int


class Decline(_Command, frozen=True, tag="offer.decline"):
    """Decline an offer; ``reason`` is a code (``busy``), never free text."""

    advisor_id: str
    offer_id: int
    reason: str = ""


class RecordResponse(_Command, frozen=True, tag="interaction.respond"):
    """The first answer to a message or complaint: it stops the SLA clock."""

    advisor_id: str
    interaction_id: int


class Transfer(_Command, frozen=True, tag="interaction.transfer"):
    """Send held work back to a queue, keeping its context, place and SLA clock.

    With ``to_advisor``, the work is offered first to that advisor when it is ready for it,
    as a thread's follow-up is to who handled the thread before.
    """

    advisor_id: str
    interaction_id: int
    channel: Channel | None = None
    motive: str | None = None
    skills: dict[str, int] | None = None
    note_digest: str = ""
    """Salted digest of the advisor's note, kept outside the journal like personal data."""
    to_advisor: str | None = None


class TransferOut(_Command, frozen=True, tag="interaction.transfer_out"):
    """Hand held work to an external competent party; this ends it here."""

    advisor_id: str
    interaction_id: int
    party_digest: str = ""
    """Salted digest of who the party is, kept outside the journal like personal data."""


class AwaitPrincipal(_Command, frozen=True, tag="interaction.await_principal"):
    """Held work now waits for the principal's input; the advisor is freed."""

    advisor_id: str
    interaction_id: int


class PrincipalAnswered(_Command, frozen=True, tag="interaction.principal_answered"):
    """The principal answered: the interaction goes back to its queue."""

    interaction_id: int


class Abandon(_Command, frozen=True, tag="interaction.abandon"):
    """The customer left before being served (a caller hung up)."""

    interaction_id: int


class Close(_Command, frozen=True, tag="interaction.close"):
    """Close an interaction; ``advisor_id`` when an advisor closes its own work.

    ``reason`` is a code, journaled as it is: ``no_answer_needed`` when an advisor closes spam
    or a thank-you without answering it.
    """

    interaction_id: int
    advisor_id: str | None = None
    reason: str = ""
    motive: str | None = None
    """The final motive, one of the configured ones, when the work turned out to be about
    something else than it was submitted for; ``None`` keeps the interaction's."""


class RequestCallback(_Command, frozen=True, tag="interaction.request_callback"):
    """A waiting caller asks to be called back instead of waiting on: the call ends, and the
    interaction keeps its place in the queue as a callback.

    The call's clock stops here: its wait so far decides whether it met the SLA. The callback
    is due ``callback_target_s`` after this (never earlier than the call was), and must be due
    before the channel closes today; a queued or offered call only (an offer is withdrawn).
    ``number_digest``: salted digest of the number to call, kept outside the journal like
    personal data.
    """

    interaction_id: int
    number_digest: str = ""


CallbackOutcome = Literal["answered", "unanswered"]


class RecordCallbackAttempt(_Command, frozen=True, tag="interaction.callback_attempt"):
    """How the call to the customer went, reported for the advisor who holds the callback.

    An attempt starts when the advisor accepts the callback's offer (the system dials then).
    ``answered``: the customer is reached, the callback's first response. ``unanswered`` (no
    answer, busy, a failed call): the callback goes back to its place in the queue, offered
    again ``callback_retry_s`` later, or is closed with reason ``callback_unanswered`` after
    the channel's ``callback_attempts``.
    """

    interaction_id: int
    advisor_id: str
    outcome: CallbackOutcome


class PostMessage(_Command, frozen=True, tag="message.post"):
    """Add an advisor's answer or note, or the system's acknowledgement, to a thread.

    An answer or a note is written by the advisor holding the work; an acknowledgement by the
    system (``advisor_id`` ``None``) on any open interaction, once: asking again (a channel that
    does not know whether it did, after a crash) changes nothing. A call has no written answer.
    The first answer to a written or social interaction is its first response: it stops the SLA
    clock; a note or an acknowledgement stops no clock. ``digest`` names the sealed text in the
    personal store; ``template`` the template it was written from, if any.
    """

    interaction_id: int
    advisor_id: str | None
    kind: Literal["answer", "note", "acknowledgement"]
    digest: str
    template: str = ""


class RecordDelivery(_Command, frozen=True, tag="message.record_delivery"):
    """What the channel did with an answer or acknowledgement: ``sent`` (``peer_id``: the id the
    peer gave it), ``failed`` (with ``retry_at``: tried again then; without: given up), or
    ``bounced`` after it was sent. A repeated ``sent`` or ``bounced`` report changes nothing."""

    message_id: int
    outcome: Literal["sent", "failed", "bounced"]
    peer_id: str = ""
    reason: str = ""
    retry_at: Instant | None = None
    evidence_digest: str = ""
    """With ``sent``: the digest of the bytes sent, sealed in the personal store."""


# -- supervisor steering -------------------------------------------------------------------------
# A supervisor's hand on the queues: journaled with who (``by``: ``token:7``, a label) and why
# (``reason``: a code), like every command, so the audit trail answers "who moved my work".


class Prioritise(_Command, frozen=True, tag="interaction.prioritise"):
    """Give waiting work another priority (0 to 9): it takes the place its new key gives.

    Offered work loses its offer first; held, waiting or ended work is refused.
    """

    interaction_id: int
    priority: int
    by: str
    reason: str


class Move(_Command, frozen=True, kw_only=True, tag="interaction.move"):
    """Send queued, offered or held work back to its place in the queue, keeping its SLA
    clock, with another channel, motive or skills when given, and offered first to
    ``to_advisor`` when named (see ``Transfer``).

    An offer is withdrawn; held work is taken from its holder, whose slot is freed without a
    wrap-up. ``note_digest`` as ``Transfer``'s.
    """

    interaction_id: int
    to_advisor: str | None = None
    channel: Channel | None = None
    motive: str | None = None
    skills: dict[str, int] | None = None
    by: str
    reason: str
    note_digest: str = ""


# -- schedules ----------------------------------------------------------------------------------


class SetSchedule(_Command, frozen=True, tag="schedule.set"):
    """Journal one day's planned shifts (``schedules``), replacing that day's previous ones.

    ``day`` is a local date, ``YYYY-MM-DD``; each shift starts on it. No shift clears the day.
    """

    day: str
    shifts: tuple[Shift, ...] = ()


# -- exemptions ---------------------------------------------------------------------------------
# Force majeure: relief claimed by the operator's supervisors, granted or refused by the
# authority alone (``exemptions``). ``by`` names who did it (``token:7``), ``role`` its role.


class ClaimExemption(_Command, frozen=True, kw_only=True, tag="exemption.claim"):
    """Claim relief for a period ``[start, end)`` (a strike, an outage of the authority's own
    systems) on some channels, or all when none is named; ``reason`` says why, in words."""

    start: Instant
    end: Instant
    channels: tuple[Channel, ...] = ()
    reason: str
    by: str
    role: str = ""


class DecideExemption(_Command, frozen=True, kw_only=True, tag="exemption.decide"):
    """The authority accepts or refuses a pending claim, once, saying why."""

    exemption_id: int
    decision: Literal["accepted", "refused"]
    reason: str
    by: str
    role: str = ""


class PublishNowcast(_Command, frozen=True, tag="nowcast.publish"):
    """Journal a nowcast shown to supervisors (``events.NowcastPublished``); the state keeps
    nothing of it."""

    image_at: Instant
    image_seq: int
    image_sha256: str
    seed: int
    replications: int
    arrived: dict[str, int] = {}
    level: dict[str, float] = {}
    shown: dict[str, dict[str, dict[str, tuple[float, float, float]]]] = {}


# -- quality ------------------------------------------------------------------------------------
# Audits, mystery shoppers and customer satisfaction (``quality``). The adapters draw the sample
# (the engine draws no random numbers) and weigh the scores by the grid in the configuration;
# the engine checks what it can and journals them.


class DrawAudit(_Command, frozen=True, kw_only=True, tag="audit.draw"):
    """Record a sample drawn for an audit: the period, the draw's parameters and the picks."""

    start: Instant
    end: Instant
    per_advisor: int
    seed: int
    picks: tuple[AuditPick, ...] = ()


class ScoreAudit(_Command, frozen=True, kw_only=True, tag="audit.score"):
    """Record a reviewer's scores of a drawn interaction (see ``AuditScored``)."""

    interaction_id: int
    channel: Channel
    advisor_id: str
    scores: dict[str, int]
    weighted: float


class RecordSatisfaction(_Command, frozen=True, kw_only=True, tag="satisfaction.record"):
    """Record the customer's satisfaction (1 to 5) with an ended interaction, once."""

    interaction_id: int
    score: int


class ImportMystery(_Command, frozen=True, kw_only=True, tag="mystery.import"):
    """Record mystery-shopper results, all of them or (refused) none."""

    results: tuple[MysteryResult, ...]


Command = (
    SetPolicies
    | AddAdvisor
    | UpdateAdvisor
    | RemoveAdvisor
    | MintToken
    | RevokeToken
    | SetAdvisorState
    | Submit
    | Accept
    | Decline
    | RecordResponse
    | Transfer
    | TransferOut
    | AwaitPrincipal
    | PrincipalAnswered
    | Abandon
    | Close
    | RequestCallback
    | RecordCallbackAttempt
    | PostMessage
    | RecordDelivery
    # supervisor steering
    | Prioritise
    | Move
    # schedules
    | SetSchedule
    # exemptions
    | ClaimExemption
    | DecideExemption
    # supervision
    | PublishNowcast
    # quality
    | DrawAudit
    | ScoreAudit
    | RecordSatisfaction
    | ImportMystery
)
