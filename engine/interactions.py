"""Interactions: calls, written complaints and social messages, as the engine holds them."""

from __future__ import annotations

import msgspec

from .instants import Instant
from .policies import Channel, Typology
from .queues import Signature
from .states import InteractionStatus

__all__ = ["Interaction", "Offer", "order_key", "signature_of"]


def signature_of(language: str, skills: dict[str, int]) -> Signature:
    """Return the requirement signature that names an interaction's sub-queue."""
    return (language, tuple(sorted(skills.items())))


class Interaction(msgspec.Struct, kw_only=True, gc=False):
    """One piece of work and everything the engine knows of it.

    ``skills`` is the requirement as submitted (the motive's skill and any extra ones);
    ``need`` is the requirement in force, after relaxation steps and transfers. ``deadline`` is
    the SLA deadline in force; ``raw_deadline`` the one given at reception, which never moves
    (they differ once a credited wait for the principal moved ``deadline`` later, or a caller
    asked for a callback: ``deadline`` and ``warning_at`` are then the callback's, ``warned``
    and ``breached`` about it, and ``within_sla`` is the call's, decided when it was asked for).
    """

    id: int
    channel: Channel
    source: str
    external_id: str
    motive: str | None
    language: str
    skills: dict[str, int]
    need: dict[str, int]
    signature: Signature
    priority: int
    typology: Typology | None
    received_at: Instant
    deadline: Instant
    raw_deadline: Instant
    warning_at: Instant
    status: InteractionStatus = "queued"
    advisor_id: str | None = None
    """The advisor it is offered to or assigned to now; ``None`` once released."""
    handled_by: str | None = None
    """The advisor who last accepted it, kept after it is released (a transfer, a hand-over, a
    wait for the principal, its close): who handled ended work."""
    offer_id: int | None = None
    responded_at: Instant | None = None
    within_sla: bool | None = None
    relax_step: int = 0
    relax_from: Instant = 0
    """When the current requirement started waiting: relaxation steps count from here."""
    warned: bool = False
    breached: bool = False
    paused_at: Instant | None = None
    excluded: dict[str, Instant] = {}
    """Advisors who declined or missed it, and from when it may be offered to them again."""
    transfers: int = 0
    requeued_at: Instant | None = None
    waited_after_transfer: int = 0
    """Microseconds waited in queue after transfers, recorded apart from the SLA clock."""
    ended_at: Instant | None = None
    forget_at: Instant | None = None
    """When ended work is forgotten (the forget timer in force): the end of the retention period,
    or later, when its outbox emptied after that; ``None`` in images written before it was kept."""
    personal_digest: str = ""
    """Salted digest of the personal data given with the submission (kept outside the journal)."""
    later_digests: tuple[str, ...] = ()
    """Salted digests of the personal data added since (transfer notes, the party it was
    handed to), in journal order."""
    content_digest: str = ""
    """The submitter's digest of what it submitted (see ``Submit``); empty when none was given."""
    satisfaction: int | None = None
    """The customer's satisfaction (1 to 5) once recorded (``quality``): it is recorded once.
    ``None`` until then, and in images written before it was kept (no rating was journaled)."""
    accepted_at: Instant = 0
    """When the engine recorded its arrival (``received_at`` may be earlier: a backfill); 0 in
    images written before it was kept."""
    thread: str = ""
    """The conversation key of its source's thread, if any (see ``Submit``)."""
    follows: int | None = None
    """The interaction of the same thread before it."""
    preferred_advisor: str | None = None
    """Who handled the thread's previous interaction, or the advisor a transfer or a move
    named: offered this one first when ready."""
    messages: list[int] = []
    """The ids of its thread's messages (``State.messages``), in order."""
    callback_requested_at: Instant | None = None
    """When the caller asked to be called back (``RequestCallback``): it is a callback since."""
    callback_attempts: int = 0
    """Calls made to the customer so far (see ``RecordCallbackAttempt``)."""
    callback_dialled_at: Instant | None = None
    """When the attempt under way started: its offer accepted, the system dialling."""
    not_before: Instant = 0
    """Not offered before this instant: a callback waiting to be tried again (0: any time)."""


def order_key(interaction: Interaction) -> tuple[int, Instant, int]:
    """Return the fixed key of waiting work's place in its queue (``queues.queue_key``).

    A callback keeps the place of the call it was asked from: its raw deadline, not the
    callback's.
    """
    deadline = (
        interaction.deadline
        if interaction.callback_requested_at is None
        else interaction.raw_deadline
    )
    return (-interaction.priority, deadline, interaction.id)


class Offer(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A pending offer: one interaction reserved for one advisor until ``expires_at``."""

    id: int
    interaction_id: int
    advisor_id: str
    made_at: Instant
    expires_at: Instant
