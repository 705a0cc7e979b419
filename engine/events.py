"""Events: everything that happened, in one tagged union.

The journal, the API's event stream, the audit trail and the reports all speak this one
vocabulary. Each event is a frozen msgspec Struct with an explicit tag (``tag_field="type"``),
so renaming a class never changes the wire format; a field added later always gets a default.
``at`` is the instant the engine recorded the event; timer events also carry ``due``, the
instant the timer was due, which differs from ``at`` when a daemon was down when it fell due.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .audits import AuditPick, MysteryResult
from .commands import AdvisorState
from .instants import Instant
from .messages import MessageKind
from .policies import Channel, Policies, Typology
from .schedules import Shift
from .tokens import Role

__all__ = [
    "AdvisorAdded",
    "AdvisorRemoved",
    "AdvisorStateChanged",
    "AdvisorUpdated",
    "AuditDrawn",
    "AuditScored",
    "CallbackAnswered",
    "CallbackMissed",
    "CallbackRequested",
    "ChannelDown",
    "ChannelUp",
    "Event",
    "ExemptionClaimed",
    "ExemptionDecided",
    "InteractionAbandoned",
    "InteractionArrived",
    "InteractionClosed",
    "InteractionForgotten",
    "InteractionMoved",
    "InteractionRefused",
    "InteractionRelaxed",
    "InteractionReprioritised",
    "InteractionResponded",
    "InteractionTransferred",
    "InteractionTransferredOut",
    "JournalRegained",
    "MessageBounced",
    "MessageFailed",
    "MessagePosted",
    "MessageReceived",
    "MessageSent",
    "MysteryImported",
    "NowcastPublished",
    "OfferAccepted",
    "OfferDeclined",
    "OfferExpired",
    "OfferMade",
    "OfferRevoked",
    "PoliciesSet",
    "PrincipalAnswered",
    "PrincipalAwaited",
    "SatisfactionRecorded",
    "ScheduleSet",
    "ServiceAlive",
    "ServiceStarted",
    "ServiceStopped",
    "SlaBreached",
    "SlaWarning",
    "TokenMinted",
    "TokenRevoked",
]


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    at: Instant


class PoliciesSet(_Event, frozen=True, tag="policies.set"):
    policies: Policies
    config_digest: str = ""


class AdvisorAdded(_Event, frozen=True, tag="advisor.added"):
    advisor_id: str
    name: str
    skills: dict[str, int]
    languages: tuple[str, ...]
    capacity: dict[Channel, int]


class AdvisorUpdated(_Event, frozen=True, tag="advisor.updated"):
    """The advisor's whole profile after the change."""

    advisor_id: str
    name: str
    skills: dict[str, int]
    languages: tuple[str, ...]
    capacity: dict[Channel, int]


class AdvisorRemoved(_Event, frozen=True, tag="advisor.removed"):
    advisor_id: str


class TokenMinted(_Event, frozen=True, tag="token.minted"):
    """A token let in: the SHA-256 of its secret (never the secret), role, holder, expiry."""

    token_id: int
    digest: str
    role: Role
    advisor_id: str | None = None
    expires_at: Instant | None = None
    label: str = ""


class TokenRevoked(_Event, frozen=True, tag="token.revoked"):
    """A token refused from now on: revoked on request, or its advisor removed."""

    token_id: int
    reason: str = ""


class AdvisorStateChanged(_Event, frozen=True, tag="advisor.state_changed"):
    """``until`` is the end of a wrap-up; ``due`` is set when a timer made the change."""

    advisor_id: str
    state: AdvisorState
    reason: str = ""
    until: Instant | None = None
    due: Instant | None = None
    by: str = ""
    """Who set it when not the advisor itself or the engine (``SetAdvisorState.by``)."""


class InteractionArrived(_Event, frozen=True, tag="interaction.arrived", omit_defaults=True):
    """New work. With a ``thread``, it is that thread's latest interaction; ``follows`` is the
    thread's previous one, and ``preferred_advisor`` who handled it (offered the work first)."""

    interaction_id: int
    channel: Channel
    source: str
    external_id: str
    motive: str | None
    language: str
    skills: dict[str, int]
    """The full requirement: the motive's skill and any extra skills, with minimum levels."""
    priority: int
    typology: Typology | None
    received_at: Instant
    deadline: Instant
    warning_at: Instant
    personal_digest: str = ""
    content_digest: str = ""
    """The submitter's digest of what it submitted (see ``Submit``); empty when none was given."""
    thread: str = ""
    follows: int | None = None
    preferred_advisor: str | None = None


class InteractionRefused(_Event, frozen=True, tag="interaction.refused"):
    """A submission turned away, so that reports count the calls a closed line refused.

    ``reason``: ``closed``, the channel was outside its opening hours at ``received_at`` (the
    caller was told so: ``ChannelClosed``). No interaction exists: nothing waits, nothing is
    offered, and replaying the event leaves the state as it was. ``(source, external_id)`` is
    the key it was submitted with, kept as ``InteractionArrived`` keeps it.
    """

    channel: Channel
    source: str
    external_id: str
    motive: str | None
    received_at: Instant
    reason: str


class InteractionRelaxed(_Event, frozen=True, tag="interaction.relaxed"):
    """A relaxation step widened who may take the interaction; ``skills`` is the new need."""

    interaction_id: int
    step: int
    skills: dict[str, int]
    due: Instant


class OfferMade(_Event, frozen=True, tag="offer.made"):
    """Why this advisor got this interaction.

    ``rule`` names the decision: ``idle_advisor``, the interaction found the best of the
    advisors waiting for work (``candidates``: how many of them were eligible and free to take
    it; ``score``: the winner's advisor score); ``freed_advisor``, an advisor took the most
    urgent work it may serve (``candidates``: how many queue heads it compared; ``score``: the
    winner's work score); ``preferred_advisor``, a thread's follow-up went to who handled its
    previous interaction, or transferred or moved work to the advisor named, waiting for work
    (``candidates`` and ``score`` as for ``idle_advisor``, the score that advisor's).
    ``strategy`` names the strategy that scored, ``step`` the relaxation step in force (0 is
    the requirement as submitted).
    """

    offer_id: int
    interaction_id: int
    advisor_id: str
    expires_at: Instant
    rule: str
    strategy: str
    step: int
    candidates: int
    score: float


class OfferAccepted(_Event, frozen=True, tag="offer.accepted"):
    offer_id: int
    interaction_id: int
    advisor_id: str


class OfferDeclined(_Event, frozen=True, tag="offer.declined"):
    offer_id: int
    interaction_id: int
    advisor_id: str
    reason: str = ""


class OfferExpired(_Event, frozen=True, tag="offer.expired"):
    offer_id: int
    interaction_id: int
    advisor_id: str
    due: Instant


class OfferRevoked(_Event, frozen=True, tag="offer.revoked"):
    """An offer withdrawn because its advisor paused or logged out."""

    offer_id: int
    interaction_id: int
    advisor_id: str
    reason: str


class InteractionResponded(_Event, frozen=True, tag="interaction.responded"):
    """The first response (a call picked up, a first answer sent): the SLA clock stops."""

    interaction_id: int
    advisor_id: str
    within_sla: bool


class InteractionTransferred(
    _Event, frozen=True, tag="interaction.transferred", omit_defaults=True
):
    """Back to a queue with its context kept; its place and SLA clock are unchanged.

    ``note_digest`` is the salted digest of the advisor's note, which is personal data and
    kept outside the journal. Journals written before digests hold the note's text as ``note``:
    it is read past (an unknown field), so it reaches no reader of the events. ``to_advisor``:
    the advisor it is offered first (see ``Transfer``).
    """

    interaction_id: int
    advisor_id: str
    channel: Channel
    motive: str | None
    skills: dict[str, int]
    note_digest: str = ""
    to_advisor: str | None = None


class InteractionTransferredOut(
    _Event, frozen=True, tag="interaction.transferred_out", omit_defaults=True
):
    """Handed to a party outside; ``party_digest`` as ``note_digest`` above (and an old
    journal's ``party`` read past alike)."""

    interaction_id: int
    advisor_id: str
    party_digest: str = ""


class PrincipalAwaited(_Event, frozen=True, tag="interaction.principal_awaited"):
    interaction_id: int
    advisor_id: str
    pauses_clock: bool


class PrincipalAnswered(_Event, frozen=True, tag="interaction.principal_answered"):
    """The principal answered; ``deadline`` and ``warning_at`` are those now in force. The work
    queues again, offered first to the advisor who waited for the answer (when ready).

    ``deadline`` is later than before when the wait was credited (see ``sla.credit_wait``).
    """

    interaction_id: int
    deadline: Instant
    warning_at: Instant


class InteractionAbandoned(_Event, frozen=True, tag="interaction.abandoned"):
    interaction_id: int


class InteractionClosed(_Event, frozen=True, tag="interaction.closed", omit_defaults=True):
    """``reason``: as the ``Close`` command gave it (``no_answer_needed``), or empty.

    ``motive``: the interaction's motive as it was closed (the one ``Close`` gave, else the one
    it had), so that reports count closed work by outcome and by final motive; ``None`` when it
    had none, and in journals written before it was kept.
    """

    interaction_id: int
    advisor_id: str | None = None
    reason: str = ""
    motive: str | None = None


class CallbackRequested(_Event, frozen=True, tag="interaction.callback_requested"):
    """A waiting caller asked to be called back (``RequestCallback``); the call ended.

    ``waited``: microseconds the caller waited; ``within_sla``: whether that met the call's
    SLA, the call's outcome for the service level (its clock stops here). ``deadline`` and
    ``warning_at``: the callback's, in force from now on. The interaction keeps its place in
    the queue. ``number_digest``: as ``RequestCallback``'s.
    """

    interaction_id: int
    waited: int
    within_sla: bool
    deadline: Instant
    warning_at: Instant
    number_digest: str = ""


class CallbackAnswered(_Event, frozen=True, tag="interaction.callback_answered"):
    """The customer answered attempt ``attempt`` (from 1): the callback's first response.

    ``dialled_at``: when the attempt started (its offer accepted); ``on_time``: whether that was
    at or before the callback's deadline. The call's ``within_sla`` is not changed.
    """

    interaction_id: int
    advisor_id: str
    attempt: int
    dialled_at: Instant
    on_time: bool


class CallbackMissed(_Event, frozen=True, tag="interaction.callback_missed"):
    """Attempt ``attempt`` did not reach the customer (``dialled_at``, ``on_time`` as for
    ``CallbackAnswered``). With ``retry_at``, the callback is back in its place in the queue
    and offered again from then; ``None``: that was the last attempt, and the close follows
    (``interaction.closed``, reason ``callback_unanswered``)."""

    interaction_id: int
    advisor_id: str
    attempt: int
    dialled_at: Instant
    on_time: bool
    retry_at: Instant | None


class MessageReceived(_Event, frozen=True, tag="message.received", omit_defaults=True):
    """A customer message in an interaction's thread: its first one (right after its arrival),
    or one that joined it; ``(source, external_id)`` is the key it was submitted with."""

    interaction_id: int
    message_id: int
    digest: str
    external_id: str
    source: str


class MessagePosted(_Event, frozen=True, tag="message.posted", omit_defaults=True):
    """An answer or a note (``author``: its advisor) or an acknowledgement (``author`` None)."""

    interaction_id: int
    message_id: int
    kind: MessageKind
    author: str | None
    digest: str
    template: str = ""


class MessageSent(_Event, frozen=True, tag="message.sent", omit_defaults=True):
    """``evidence_digest``: the digest of the bytes sent, kept in the personal store as the
    evidence a dispute over the answer needs (empty when the channel gave none)."""

    interaction_id: int
    message_id: int
    peer_id: str = ""
    evidence_digest: str = ""


class MessageFailed(_Event, frozen=True, tag="message.failed", omit_defaults=True):
    """A delivery failed; ``attempts`` counts the failures so far; ``retry_at`` None: given up."""

    interaction_id: int
    message_id: int
    reason: str = ""
    attempts: int = 1
    retry_at: Instant | None = None


class MessageBounced(_Event, frozen=True, tag="message.bounced", omit_defaults=True):
    """A sent message came back undelivered."""

    interaction_id: int
    message_id: int
    reason: str = ""


class InteractionForgotten(_Event, frozen=True, tag="interaction.forgotten"):
    """Ended work left the live state (see ``RetentionPolicy``); the journal keeps its history.

    Offers that ended more than the retention period before ``at`` are forgotten with it.
    """

    interaction_id: int
    due: Instant


class SlaWarning(_Event, frozen=True, tag="sla.warning"):
    interaction_id: int
    deadline: Instant
    due: Instant


class SlaBreached(_Event, frozen=True, tag="sla.breached"):
    """No answer by the deadline; ``due`` is one microsecond after it (``sla.breach_due``)."""

    interaction_id: int
    due: Instant


# -- supervisor steering -------------------------------------------------------------------------


class InteractionReprioritised(_Event, frozen=True, tag="interaction.reprioritised"):
    """Waiting work given another priority by ``by`` for ``reason`` (see ``Prioritise``)."""

    interaction_id: int
    priority: int
    previous: int
    by: str
    reason: str


class InteractionMoved(
    _Event, frozen=True, kw_only=True, tag="interaction.moved", omit_defaults=True
):
    """Work sent back to its place in the queue by ``by`` for ``reason``, its SLA clock kept.

    ``from_advisor``: the advisor who held it, or was offered it (that offer's
    ``offer.revoked`` comes just before), ``None`` when it was waiting; that advisor is not
    offered it again before the re-offer delay. ``to_advisor``: the advisor it is offered first.
    ``channel``, ``motive`` and ``skills``: its requirement from now on. Written by ``Move``,
    and for each interaction an advisor held when a supervisor set it ``not_ready`` or
    ``offline`` (``SetAdvisorState.by``; ``reason`` is then the state change's).
    ``note_digest`` as ``InteractionTransferred``'s.
    """

    interaction_id: int
    from_advisor: str | None = None
    to_advisor: str | None = None
    channel: Channel
    motive: str | None
    skills: dict[str, int]
    by: str
    reason: str
    note_digest: str = ""


# -- schedules ----------------------------------------------------------------------------------


class ScheduleSet(_Event, frozen=True, tag="schedule.set"):
    """One day's planned shifts, replacing that day's previous ones; days more than
    ``schedules.KEPT_DAYS`` before the local date of ``at`` are dropped from the state."""

    day: str
    shifts: tuple[Shift, ...] = ()


# -- exemptions ---------------------------------------------------------------------------------


class ExemptionClaimed(_Event, frozen=True, kw_only=True, tag="exemption.claimed"):
    """Relief claimed for ``[start, end)`` on ``channels`` (empty: all), pending a decision;
    ``exemption_id`` numbers the claim. ``by``: who claimed it (``token:7``), ``role``: its role."""

    exemption_id: int
    start: Instant
    end: Instant
    channels: tuple[Channel, ...] = ()
    reason: str
    by: str
    role: str = ""


class ExemptionDecided(_Event, frozen=True, kw_only=True, tag="exemption.decided"):
    """The authority's decision on a claim: ``accepted`` (the reports apply it) or ``refused``."""

    exemption_id: int
    decision: Literal["accepted", "refused"]
    reason: str
    by: str
    role: str = ""


# -- the service's availability -----------------------------------------------------------------
# Written by the daemon about itself and its channels, for the authority's report: the engine
# applies them as no-ops (replay leaves the state as it was), as it does ``interaction.refused``.


class ServiceStarted(_Event, frozen=True, tag="service.started", omit_defaults=True):
    """The daemon started serving this journal.

    ``previous``: ``first`` (an empty journal), ``stopped`` (the journal's last record was a
    ``service.stopped``) or ``crashed`` (it ended without saying so: killed, a power cut, a
    leader that vanished). ``last_alive``: the last instant the journal knew the service alive
    before this start (the latest of its last record's and its latest snapshot's), ``None``
    for the first start: the service was unavailable from then to ``at``. ``channels``: the
    channel adapters enabled, whose availability the reports give from now on.
    """

    previous: str
    last_alive: Instant | None = None
    channels: tuple[str, ...] = ()


class ServiceStopped(_Event, frozen=True, tag="service.stopped"):
    """The daemon stopped serving, on purpose (``reason``: ``signal``)."""

    reason: str


class ServiceAlive(_Event, frozen=True, tag="service.alive"):
    """A liveness mark, written only when nothing else was journaled for a while, so that the
    start after a crash knows how late the service was still alive."""


class JournalRegained(_Event, frozen=True, tag="journal.regained"):
    """The daemon serves again after it stopped acknowledging at ``lost_at`` for ``reason``
    (its journal could not write, or a fault of ours made it rebuild): it was unavailable
    from ``lost_at`` to ``at``. Nothing could be journaled meanwhile, hence one record after."""

    lost_at: Instant
    reason: str


class ChannelDown(_Event, frozen=True, tag="channel.down"):
    """A channel adapter (``channel``: its name in ``[adapters]``) stopped working at ``since``
    for ``reason`` (its peer unreachable, refusing it, or the adapter failing)."""

    channel: str
    since: Instant
    reason: str


class ChannelUp(_Event, frozen=True, tag="channel.up"):
    """A channel adapter down since its last ``channel.down`` works again since ``since``."""

    channel: str
    since: Instant


class NowcastPublished(_Event, frozen=True, tag="nowcast.published"):
    """A nowcast of the rest of the day was shown to supervisors (``PublishNowcast``).

    What it was made from: ``image_at``, the instant of the engine's image, and ``image_seq``,
    the last journal record the image reflects; ``image_sha256``, the image's digest; the
    ``seed`` and ``replications``; per channel the arrivals so far (``arrived``) and the level
    applied to the plan for the rest of the day (``level``). What was shown: ``shown``, per
    variant (``as is``, then each what-if in words), per channel, per figure
    (``breaches``, ``penalties_eur``, ``service_level``), its ``[mean, low, high]``. The state
    keeps nothing of it: it is a record of what was shown, for the audit trail.
    """

    image_at: Instant
    image_seq: int
    image_sha256: str
    seed: int
    replications: int
    arrived: dict[str, int] = {}
    level: dict[str, float] = {}
    shown: dict[str, dict[str, dict[str, tuple[float, float, float]]]] = {}


# -- quality ------------------------------------------------------------------------------------
# The engine applies these as no-ops, except a satisfaction, which marks its interaction rated
# (recorded once): the journal keeps them for the quality reports (``engine.quality``).


class AuditDrawn(_Event, frozen=True, kw_only=True, tag="audit.drawn"):
    """A reproducible sample of the interactions closed in ``[start, end)``: at most
    ``per_advisor`` per advisor and channel, drawn with ``seed``; ``picks`` by interaction id."""

    start: Instant
    end: Instant
    per_advisor: int
    seed: int
    picks: tuple[AuditPick, ...] = ()


class AuditScored(_Event, frozen=True, kw_only=True, tag="audit.scored"):
    """A reviewer's scores of a drawn interaction against the audit grid: each criterion's
    score, and the weighted score (0 to 100) under the grid's weights at the time. A later
    scoring of the same interaction replaces it."""

    interaction_id: int
    channel: Channel
    advisor_id: str
    scores: dict[str, int]
    weighted: float


class SatisfactionRecorded(_Event, frozen=True, kw_only=True, tag="satisfaction.recorded"):
    """The customer's satisfaction with one ended interaction, 1 (worst) to 5, recorded once."""

    interaction_id: int
    channel: Channel
    advisor_id: str | None = None
    score: int


class MysteryImported(_Event, frozen=True, kw_only=True, tag="mystery.imported"):
    """Mystery-shopper results imported at once (one file), in the file's order."""

    results: tuple[MysteryResult, ...] = ()


Event = (
    PoliciesSet
    | AdvisorAdded
    | AdvisorUpdated
    | AdvisorRemoved
    | TokenMinted
    | TokenRevoked
    | AdvisorStateChanged
    | InteractionArrived
    | InteractionRefused
    | InteractionRelaxed
    | OfferMade
    | OfferAccepted
    | OfferDeclined
    | OfferExpired
    | OfferRevoked
    | InteractionResponded
    | InteractionTransferred
    | InteractionTransferredOut
    | PrincipalAwaited
    | PrincipalAnswered
    | InteractionAbandoned
    | InteractionClosed
    | CallbackRequested
    | CallbackAnswered
    | CallbackMissed
    | InteractionForgotten
    | SlaWarning
    | SlaBreached
    | MessageReceived
    | MessagePosted
    | MessageSent
    | MessageFailed
    | MessageBounced
    # supervisor steering
    | InteractionReprioritised
    | InteractionMoved
    # schedules
    | ScheduleSet
    # exemptions
    | ExemptionClaimed
    | ExemptionDecided
    # the service's availability
    | ServiceStarted
    | ServiceStopped
    | ServiceAlive
    | JournalRegained
    | ChannelDown
    | ChannelUp
    # supervision
    | NowcastPublished
    # quality
    | AuditDrawn
    | AuditScored
    | SatisfactionRecorded
    | MysteryImported
)
