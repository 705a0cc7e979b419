"""The engine's state, and ``apply``: the only place it changes.

Dictionaries taken from events (skills, capacities) are shared with the event, never copied:
the state replaces them and never changes them in place.

``State.apply(event)`` is deterministic and makes no decision: it records what an event says
happened, keeps the queues, loads and indexes consistent, and sets the timers that follow from
the new state. Decisions (which advisor, which work, what is refused) are the engine's; their
results reach the state only as events. Replaying a journal is therefore ``apply`` in a loop.

Conversations: every message of a thread is in ``messages`` and its interaction's list; the
answers and acknowledgements still to be delivered are in ``outbox`` too. Ended work is
forgotten with its messages, but not while one of them is still in the outbox: its forget
timer then does not apply (``due.timer_applies``), and is set again when the last of them
leaves the outbox (sent, or given up), for the end of the retention period or at once when it
is past. A delivery reported for a forgotten message is refused as unknown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from .advisors import Advisor
from .calendar import BusinessCalendar
from .events import (
    AdvisorAdded,
    AdvisorRemoved,
    AdvisorStateChanged,
    AdvisorUpdated,
    AuditDrawn,
    AuditScored,
    CallbackAnswered,
    CallbackMissed,
    CallbackRequested,
    ChannelDown,
    ChannelUp,
    Event,
    ExemptionClaimed,
    ExemptionDecided,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionForgotten,
    InteractionMoved,
    InteractionRefused,
    InteractionRelaxed,
    InteractionReprioritised,
    InteractionResponded,
    InteractionTransferred,
    InteractionTransferredOut,
    JournalRegained,
    MessageBounced,
    MessageFailed,
    MessagePosted,
    MessageReceived,
    MessageSent,
    MysteryImported,
    NowcastPublished,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferRevoked,
    PoliciesSet,
    PrincipalAnswered,
    PrincipalAwaited,
    SatisfactionRecorded,
    ScheduleSet,
    ServiceAlive,
    ServiceStarted,
    ServiceStopped,
    SlaBreached,
    SlaWarning,
    TokenMinted,
    TokenRevoked,
)
from .exemptions import Exemption
from .instants import SECOND, Instant
from .interactions import Interaction, Offer, signature_of
from .messages import Message, in_outbox
from .policies import Channel, Policies
from .queues import Queues
from .ready import ReadyMasks
from .schedules import Shift, kept_since
from .sla import breach_due, warning_at
from .states import INTERACTION_TRANSITIONS, Action
from .timers import (
    FORGET,
    OFFER_EXPIRY,
    RELAXATION,
    REOFFER,
    SLA_BREACH,
    SLA_WARNING,
    WRAP_UP_END,
    Timers,
)
from .tokens import Token

__all__ = ["State"]


class State:
    """Advisors, interactions, offers, queues and timers, changed only by ``apply``."""

    def __init__(self) -> None:
        self.policies = Policies()
        self.config_digest = ""
        self.calendar = BusinessCalendar(self.policies.calendar)
        self.advisors: dict[str, Advisor] = {}
        self.interactions: dict[int, Interaction] = {}
        self.by_external: dict[tuple[str, str], int] = {}
        self.offers: dict[int, Offer] = {}
        self.ended_offers: dict[int, tuple[str, Instant]] = {}
        """Offer id -> (how it ended, when), so a late accept is told why it is refused."""
        self.ended_order: deque[tuple[Instant, int]] = deque()
        """``ended_offers`` as ``(when, offer id)``, oldest first: forgetting purges from here."""
        self.queues = Queues()
        self.timers = Timers()
        self.bits = ReadyMasks()
        self.index = self.bits.index
        """Each advisor's bit in the ready masks (the masks' own table, read by routing)."""
        self.ready = self.bits.masks
        """Per channel, a bit mask of the advisors who may be offered one more interaction of it
        now (the masks' own table, changed in place, read by routing)."""
        self.next_interaction_id = 1
        self.next_offer_id = 1
        self.profile_version = 0
        """Grows when policies or a profile change, so eligibility caches know to refresh."""
        self.retired_advisors: set[str] = set()
        """Ids of removed advisors: never given to anyone else."""
        self.tokens: dict[str, Token] = {}
        """The live API tokens, by the SHA-256 of their secret."""
        self.revoked_digests: set[str] = set()
        """Digests of revoked tokens: never let in again."""
        self.next_token_id = 1
        self.messages: dict[int, Message] = {}
        """Every message of the live interactions' threads, by id."""
        self.outbox: dict[int, Message] = {}
        """The answers and acknowledgements still to be delivered: posted, or failed with a
        retry to come (the same objects as in ``messages``)."""
        self.threads: dict[tuple[str, str], int] = {}
        """``(source, thread key)`` -> the thread's latest interaction."""
        self.next_message_id = 1
        self.schedules: dict[str, tuple[Shift, ...]] = {}
        """Planned shifts by local day (``YYYY-MM-DD``): the last week's days and those ahead
        (see ``schedules``); routing never reads them."""
        self.exemptions: dict[int, Exemption] = {}
        """Every exemption claim, by id, as it stands (see ``exemptions``); kept for good."""
        self.next_exemption_id = 1
        # ``appliers`` (below) is what ``apply`` dispatches on, by event type; the engine's hot
        # paths read it directly to save a call per event.
        # Routing hints: what the engine's routing pass must look at next (advisors with new
        # room, interactions newly waiting). Not part of the state proper: replay clears them
        # and snapshots leave them out.
        self.pending_advisors: dict[str, None] = {}
        self.pending_interactions: dict[int, None] = {}
        self.appliers: dict[type[Any], Callable[[Any], None]] = {
            PoliciesSet: self._policies_set,
            AdvisorAdded: self._advisor_added,
            AdvisorUpdated: self._advisor_updated,
            AdvisorRemoved: self._advisor_removed,
            TokenMinted: self._token_minted,
            TokenRevoked: self._token_revoked,
            AdvisorStateChanged: self._advisor_state_changed,
            InteractionArrived: self._arrived,
            InteractionRefused: self._refused,
            InteractionRelaxed: self._relaxed,
            OfferMade: self._offer_made,
            OfferAccepted: self._offer_accepted,
            OfferDeclined: self._offer_returned,
            OfferExpired: self._offer_returned,
            OfferRevoked: self._offer_returned,
            InteractionResponded: self._responded,
            InteractionTransferred: self._transferred,
            InteractionTransferredOut: self._transferred_out,
            PrincipalAwaited: self._principal_awaited,
            PrincipalAnswered: self._principal_answered,
            InteractionAbandoned: self._abandoned,
            InteractionClosed: self._closed,
            CallbackRequested: self._callback_requested,
            CallbackAnswered: self._callback_answered,
            CallbackMissed: self._callback_missed,
            SlaWarning: self._sla_warning,
            SlaBreached: self._sla_breached,
            InteractionForgotten: self._forgotten,
            MessageReceived: self._message_received,
            MessagePosted: self._message_posted,
            MessageSent: self._message_sent,
            MessageFailed: self._message_failed,
            MessageBounced: self._message_bounced,
            InteractionReprioritised: self._reprioritised,
            InteractionMoved: self._moved,
            ScheduleSet: self._schedule_set,
            ExemptionClaimed: self._exemption_claimed,
            ExemptionDecided: self._exemption_decided,
            ServiceStarted: self._about_the_service,
            ServiceStopped: self._about_the_service,
            ServiceAlive: self._about_the_service,
            JournalRegained: self._about_the_service,
            ChannelDown: self._about_the_service,
            ChannelUp: self._about_the_service,
            NowcastPublished: _keeps_nothing,
            AuditDrawn: self._kept_for_reports,
            AuditScored: self._kept_for_reports,
            MysteryImported: self._kept_for_reports,
            SatisfactionRecorded: self._satisfaction_recorded,
        }

    def apply(self, event: Event) -> None:
        """Record one event."""
        self.appliers[type(event)](event)

    # -- advisors --------------------------------------------------------------------------

    def refresh(self, advisor: Advisor) -> None:
        """Bring the ready masks up to date after an advisor's state, load or profile changed."""
        if self.bits.refresh(advisor, self.policies.routing.mixing):
            self.pending_advisors[advisor.id] = None

    def members(self, mask: int) -> list[str]:
        """Return the ids of the advisors whose bits are set in a mask, in roster order."""
        return self.bits.members(mask)

    def ready_advisors(self, channel: Channel) -> list[str]:
        """Return the advisors who may be offered one more interaction of a channel now."""
        return self.bits.members(self.ready[channel])

    def _release(self, interaction: Interaction, at: Instant) -> None:
        """Free the advisor slot an interaction held (offered or assigned)."""
        advisor = self.advisors[interaction.advisor_id]  # type: ignore[index]
        advisor.load[interaction.channel] -= 1
        del advisor.holding[interaction.id]
        if not advisor.holding:
            advisor.idle_since = at
        interaction.advisor_id = None
        if self.bits.refresh(advisor, self.policies.routing.mixing):  # self.refresh, inlined
            self.pending_advisors[advisor.id] = None

    def _policies_set(self, event: PoliciesSet) -> None:
        if event.policies.calendar != self.policies.calendar:
            self.calendar = BusinessCalendar(event.policies.calendar)
        before = self.policies
        self.policies = event.policies
        self.config_digest = event.config_digest
        self.profile_version += 1
        for advisor in self.advisors.values():
            self.refresh(advisor)
        self._rearm_timers(before)

    def _rearm_timers(self, before: Policies) -> None:
        """Set again the timers that follow from channel policies that changed.

        Relaxation steps count from when the requirement started waiting, a warning falls at
        the configured share of the time to the deadline, an offer expires its time-out after
        it was made: each is set anew from the new policies (one already due fires at the next
        ``advance``), and the old timer no longer applies when it comes due. A deadline once
        given never moves.
        """
        channels, previous = self.policies.channels, before.channels
        changed = {
            name: policy for name, policy in channels.items() if previous.get(name) != policy
        }
        if not changed:
            return
        timers = self.timers
        for interaction in self.interactions.values():
            policy = changed.get(interaction.channel)
            if policy is None or interaction.ended_at is not None:
                continue
            old = previous.get(interaction.channel)
            if interaction.status in ("queued", "offered") and (
                old is None or old.relaxation != policy.relaxation
            ):
                self._set_relaxation_timer(interaction)
            if (
                interaction.responded_at is None
                and interaction.paused_at is None
                and not interaction.warned
            ):
                # A callback's time runs from when it was asked for.
                start = interaction.callback_requested_at or interaction.received_at
                due = warning_at(start, interaction.deadline, policy.warning_fraction)
                if due != interaction.warning_at:
                    interaction.warning_at = due
                    timers.set(due, SLA_WARNING, interaction.id)
        for offer_id, offer in list(self.offers.items()):
            interaction = self.interactions[offer.interaction_id]
            policy = changed.get(interaction.channel)
            if policy is None:
                continue
            expires_at = offer.made_at + policy.offer_timeout_s * SECOND
            if expires_at != offer.expires_at:
                self.offers[offer_id] = msgspec.structs.replace(offer, expires_at=expires_at)
                timers.set(expires_at, OFFER_EXPIRY, offer_id)

    def _advisor_added(self, event: AdvisorAdded) -> None:
        self.advisors[event.advisor_id] = Advisor(
            id=event.advisor_id,
            name=event.name,
            skills=event.skills,
            languages=event.languages,
            capacity=event.capacity,
            idle_since=event.at,
        )
        self.bits.seat(event.advisor_id)
        self.profile_version += 1

    def _advisor_updated(self, event: AdvisorUpdated) -> None:
        advisor = self.advisors[event.advisor_id]
        advisor.name = event.name
        advisor.skills = event.skills
        advisor.languages = event.languages
        advisor.capacity = event.capacity
        self.profile_version += 1
        self.refresh(advisor)
        # New skills may open sub-queues it could not serve before: let it look again.
        if self.bits.open_to(advisor.id):
            self.pending_advisors[advisor.id] = None

    def _advisor_removed(self, event: AdvisorRemoved) -> None:
        del self.advisors[event.advisor_id]
        self.retired_advisors.add(event.advisor_id)
        self.profile_version += 1
        self.bits.unseat(event.advisor_id)

    def _token_minted(self, event: TokenMinted) -> None:
        self.tokens[event.digest] = Token(
            id=event.token_id,
            digest=event.digest,
            role=event.role,
            advisor_id=event.advisor_id,
            label=event.label,
            minted_at=event.at,
            expires_at=event.expires_at,
        )
        self.next_token_id = max(self.next_token_id, event.token_id + 1)

    def _token_revoked(self, event: TokenRevoked) -> None:
        for digest, token in self.tokens.items():
            if token.id == event.token_id:
                del self.tokens[digest]
                self.revoked_digests.add(digest)
                return

    def _advisor_state_changed(self, event: AdvisorStateChanged) -> None:
        advisor = self.advisors[event.advisor_id]
        previous = advisor.state
        advisor.state = event.state
        advisor.reason = event.reason
        advisor.state_since = event.at
        advisor.wrap_until = event.until
        if event.state == "wrap_up" and event.until is not None:
            self.timers.set(event.until, WRAP_UP_END, advisor.id)
        if event.state == "available":
            advisor.missed = 0
            if previous == "offline" or not advisor.holding:
                advisor.idle_since = event.at
        self.refresh(advisor)

    # -- interactions ----------------------------------------------------------------------

    def _enqueue(self, interaction: Interaction) -> None:
        # The key is order_key(interaction), spelled out: this runs per arrival.
        deadline = (
            interaction.deadline
            if interaction.callback_requested_at is None
            else interaction.raw_deadline
        )
        self.queues.push(
            interaction.id,
            interaction.channel,
            interaction.signature,
            (-interaction.priority, deadline, interaction.id),
        )
        self.pending_interactions[interaction.id] = None

    def _set_relaxation_timer(self, interaction: Interaction) -> None:
        steps = self.policies.channels[interaction.channel].relaxation
        step = interaction.relax_step
        if step < len(steps):
            due = interaction.relax_from + steps[step].after_s * SECOND
            self.timers.set(due, RELAXATION, interaction.id, step + 1)

    def _set_sla_timers(self, interaction: Interaction) -> None:
        timers = self.timers
        if not interaction.warned:
            timers.set(interaction.warning_at, SLA_WARNING, interaction.id)
        timers.set(breach_due(interaction.deadline), SLA_BREACH, interaction.id)

    def _kept_for_reports(self, event: Event) -> None:
        """Audits and mystery shoppers change no state: the journal keeps them for the reports."""

    def _satisfaction_recorded(self, event: SatisfactionRecorded) -> None:
        interaction = self.interactions.get(event.interaction_id)
        if interaction is not None:
            interaction.satisfaction = event.score

    def _refused(self, event: InteractionRefused) -> None:
        """Work turned away never entered the state: the journal keeps it for the reports."""

    def _about_the_service(self, event: Event) -> None:
        """The service's own comings and goings route nothing: the journal keeps them for the
        reports (its availability)."""

    def _arrived(self, event: InteractionArrived) -> None:
        interaction = Interaction(
            id=event.interaction_id,
            channel=event.channel,
            source=event.source,
            external_id=event.external_id,
            motive=event.motive,
            language=event.language,
            skills=event.skills,
            need=event.skills,
            signature=signature_of(event.language, event.skills),
            priority=event.priority,
            typology=event.typology,
            received_at=event.received_at,
            deadline=event.deadline,
            raw_deadline=event.deadline,
            warning_at=event.warning_at,
            relax_from=event.at,
            personal_digest=event.personal_digest,
            content_digest=event.content_digest,
            accepted_at=event.at,
            thread=event.thread,
            follows=event.follows,
            preferred_advisor=event.preferred_advisor,
        )
        self.interactions[interaction.id] = interaction
        self.by_external[(event.source, event.external_id)] = interaction.id
        if event.thread:
            self.threads[(event.source, event.thread)] = interaction.id
        if interaction.id >= self.next_interaction_id:
            self.next_interaction_id = interaction.id + 1
        self._enqueue(interaction)
        self._set_sla_timers(interaction)
        self._set_relaxation_timer(interaction)

    def _relaxed(self, event: InteractionRelaxed) -> None:
        interaction = self.interactions[event.interaction_id]
        interaction.relax_step = event.step
        interaction.need = event.skills
        interaction.signature = signature_of(interaction.language, interaction.need)
        if interaction.status == "queued":
            self._enqueue(interaction)
        self._set_relaxation_timer(interaction)

    def _offer_made(self, event: OfferMade) -> None:
        interaction = self.interactions[event.interaction_id]
        self.queues.remove(interaction.id)
        _move(interaction, "offer")
        interaction.advisor_id = event.advisor_id
        interaction.offer_id = event.offer_id
        advisor = self.advisors[event.advisor_id]
        advisor.load[interaction.channel] += 1
        advisor.holding[interaction.id] = None
        self.offers[event.offer_id] = Offer(
            id=event.offer_id,
            interaction_id=interaction.id,
            advisor_id=event.advisor_id,
            made_at=event.at,
            expires_at=event.expires_at,
        )
        if event.offer_id >= self.next_offer_id:
            self.next_offer_id = event.offer_id + 1
        self.timers.set(event.expires_at, OFFER_EXPIRY, event.offer_id)
        if self.bits.refresh(advisor, self.policies.routing.mixing):  # self.refresh, inlined
            self.pending_advisors[advisor.id] = None

    def _offer_accepted(self, event: OfferAccepted) -> None:
        offer_id = event.offer_id
        del self.offers[offer_id]
        self.ended_offers[offer_id] = ("accepted", event.at)
        self.ended_order.append((event.at, offer_id))
        interaction = self.interactions[event.interaction_id]
        _move(interaction, "accept")
        interaction.offer_id = None
        interaction.handled_by = event.advisor_id
        if interaction.excluded:
            interaction.excluded = {}
        if interaction.requeued_at is not None:
            interaction.waited_after_transfer += event.at - interaction.requeued_at
            interaction.requeued_at = None
        if interaction.callback_requested_at is not None:
            interaction.callback_dialled_at = event.at  # accepting a callback dials it
        self.advisors[event.advisor_id].missed = 0

    def _offer_returned(self, event: OfferDeclined | OfferExpired | OfferRevoked) -> None:
        """A declined, missed or withdrawn offer: the interaction goes back to its place."""
        del self.offers[event.offer_id]
        self._offer_ended(event.offer_id, _OUTCOMES[type(event)], event.at)
        interaction = self.interactions[event.interaction_id]
        advisor = self.advisors[event.advisor_id]
        if isinstance(event, OfferExpired):
            advisor.missed += 1
        _move(interaction, _RETURNS[type(event)])
        interaction.offer_id = None
        self._release(interaction, event.at)
        if not isinstance(event, OfferRevoked):
            again = event.at + self.policies.routing.reoffer_after_s * SECOND
            interaction.excluded = {**interaction.excluded, advisor.id: again}
            self.timers.set(again, REOFFER, interaction.id)
        self._enqueue(interaction)

    def _responded(self, event: InteractionResponded) -> None:
        interaction = self.interactions[event.interaction_id]
        interaction.responded_at = event.at
        interaction.within_sla = event.within_sla

    def _requeue(self, interaction: Interaction, at: Instant) -> None:
        """Put work back in its queue with its submitted requirement, relaxation restarted."""
        interaction.need = interaction.skills
        interaction.signature = signature_of(interaction.language, interaction.need)
        interaction.relax_step = 0
        interaction.relax_from = at
        self._enqueue(interaction)
        self._set_relaxation_timer(interaction)

    def _transferred(self, event: InteractionTransferred) -> None:
        interaction = self.interactions[event.interaction_id]
        self._release(interaction, event.at)
        _move(interaction, "transfer")
        interaction.channel = event.channel
        interaction.motive = event.motive
        interaction.skills = event.skills
        interaction.transfers += 1
        interaction.requeued_at = event.at
        if event.note_digest:
            interaction.later_digests += (event.note_digest,)
        if event.to_advisor is not None:
            interaction.preferred_advisor = event.to_advisor
            # Not straight back to who transferred it (free at once without a wrap-up).
            self._exclude(interaction, event.advisor_id, event.at)
        self._requeue(interaction, event.at)

    def _exclude(self, interaction: Interaction, advisor_id: str, at: Instant) -> None:
        """Offer an interaction to an advisor again only after the re-offer delay."""
        again = at + self.policies.routing.reoffer_after_s * SECOND
        interaction.excluded = {**interaction.excluded, advisor_id: again}
        self.timers.set(again, REOFFER, interaction.id)

    def _transferred_out(self, event: InteractionTransferredOut) -> None:
        interaction = self.interactions[event.interaction_id]
        self._release(interaction, event.at)
        _move(interaction, "transfer_out")
        if event.party_digest:
            interaction.later_digests += (event.party_digest,)
        self._ended(interaction, event.at)

    def _principal_awaited(self, event: PrincipalAwaited) -> None:
        interaction = self.interactions[event.interaction_id]
        self._release(interaction, event.at)
        _move(interaction, "await_principal")
        if event.pauses_clock:
            interaction.paused_at = event.at

    def _principal_answered(self, event: PrincipalAnswered) -> None:
        interaction = self.interactions[event.interaction_id]
        _move(interaction, "principal_answered")
        was_paused = interaction.paused_at is not None
        interaction.paused_at = None
        interaction.deadline = event.deadline
        interaction.warning_at = event.warning_at
        # The advisor who waited for the principal resumes the work: offered it first.
        interaction.preferred_advisor = interaction.handled_by
        self._requeue(interaction, event.at)
        # Timers that came due during the pause were dropped; set them again for the deadline
        # now in force (a timer that already fired is not fired twice: see warned, breached).
        if was_paused and interaction.responded_at is None:
            self._set_sla_timers(interaction)

    def _abandoned(self, event: InteractionAbandoned) -> None:
        interaction = self.interactions[event.interaction_id]
        if interaction.status == "offered":
            self._end_offer(interaction, "abandoned", event.at)
        self.queues.remove(interaction.id)
        _move(interaction, "abandon")
        self._ended(interaction, event.at)

    def _closed(self, event: InteractionClosed) -> None:
        interaction = self.interactions[event.interaction_id]
        if interaction.status == "assigned":
            self._release(interaction, event.at)
        else:  # only unassigned work can be waiting in a queue
            self.queues.remove(interaction.id)
        _move(interaction, "close")
        if event.motive is not None:
            interaction.motive = event.motive
        self._ended(interaction, event.at)

    # -- callbacks -------------------------------------------------------------------------

    def _callback_requested(self, event: CallbackRequested) -> None:
        """The call ended; the work waits on in its place, with the callback's deadline."""
        interaction = self.interactions[event.interaction_id]
        _move(interaction, "request_callback")
        interaction.callback_requested_at = event.at
        interaction.within_sla = event.within_sla
        interaction.deadline = event.deadline
        interaction.warning_at = event.warning_at
        # The call's warning and breach were the call's: the callback's come with its deadline.
        interaction.warned = False
        interaction.breached = False
        if event.number_digest:
            interaction.later_digests += (event.number_digest,)
        self._enqueue(interaction)  # the same key, so the same place: routed again
        self._set_sla_timers(interaction)

    def _callback_answered(self, event: CallbackAnswered) -> None:
        interaction = self.interactions[event.interaction_id]
        _move(interaction, "callback_answered")
        interaction.callback_attempts = event.attempt
        interaction.responded_at = event.at

    def _callback_missed(self, event: CallbackMissed) -> None:
        interaction = self.interactions[event.interaction_id]
        interaction.callback_attempts = event.attempt
        interaction.callback_dialled_at = None
        if event.retry_at is None:
            return  # the last attempt: the close that follows releases it
        self._release(interaction, event.at)
        _move(interaction, "callback_missed")
        interaction.not_before = event.retry_at
        self._enqueue(interaction)  # its place, relaxation kept; offered from retry_at
        self.timers.set(event.retry_at, REOFFER, interaction.id)

    # -- supervisor steering ---------------------------------------------------------------

    def _reprioritised(self, event: InteractionReprioritised) -> None:
        interaction = self.interactions[event.interaction_id]
        _move(interaction, "prioritise")
        interaction.priority = event.priority
        self._enqueue(interaction)  # the place its new key gives, relaxation kept

    def _moved(self, event: InteractionMoved) -> None:
        interaction = self.interactions[event.interaction_id]
        held = interaction.status == "assigned"
        if held:
            self._release(interaction, event.at)
            interaction.requeued_at = event.at
        _move(interaction, "move")
        same = (
            event.channel == interaction.channel
            and event.motive == interaction.motive
            and event.skills == interaction.skills
        )
        if not same:
            self.queues.remove(interaction.id)  # it may change channel: out of the old queue
            interaction.channel = event.channel
            interaction.motive = event.motive
            interaction.skills = event.skills
        if event.note_digest:
            interaction.later_digests += (event.note_digest,)
        if event.to_advisor is not None:
            interaction.preferred_advisor = event.to_advisor
        if event.from_advisor is not None:
            self._exclude(interaction, event.from_advisor, event.at)
        if held or not same:
            self._requeue(interaction, event.at)  # the requirement as given, relaxed anew
        else:
            self._enqueue(interaction)  # its place, relaxation kept: routed again

    def _end_offer(self, interaction: Interaction, outcome: str, at: Instant) -> None:
        offer_id = interaction.offer_id
        assert offer_id is not None
        del self.offers[offer_id]
        self._offer_ended(offer_id, outcome, at)
        interaction.offer_id = None
        self._release(interaction, at)

    def _offer_ended(self, offer_id: int, outcome: str, at: Instant) -> None:
        self.ended_offers[offer_id] = (outcome, at)
        self.ended_order.append((at, offer_id))

    def _ended(self, interaction: Interaction, at: Instant) -> None:
        interaction.ended_at = at
        # The period in force when the work ends; a later policy moves only later endings.
        forget_at = interaction.forget_at = at + self.policies.retention.live_after_close_s * SECOND
        self.timers.set(forget_at, FORGET, interaction.id)

    def _forgotten(self, event: InteractionForgotten) -> None:
        interaction = self.interactions.pop(event.interaction_id)
        by_external = self.by_external
        key = (interaction.source, interaction.external_id)
        if by_external.get(key) == interaction.id:
            del by_external[key]
        for message_id in interaction.messages:
            message = self.messages.pop(message_id)
            self.outbox.pop(message_id, None)
            key = (interaction.source, message.external_id)
            if message.external_id and by_external.get(key) == interaction.id:
                del by_external[key]
        thread = (interaction.source, interaction.thread)
        if interaction.thread and self.threads.get(thread) == interaction.id:
            del self.threads[thread]
        # Offers end in time order, so the ones old enough to forget are at the front.
        cutoff = event.at - self.policies.retention.live_after_close_s * SECOND
        ended_order = self.ended_order
        while ended_order and ended_order[0][0] < cutoff:
            del self.ended_offers[ended_order.popleft()[1]]

    # -- messages --------------------------------------------------------------------------

    def _add_message(self, interaction: Interaction, message: Message) -> None:
        self.messages[message.id] = message
        interaction.messages.append(message.id)
        if message.id >= self.next_message_id:
            self.next_message_id = message.id + 1
        digest = message.digest
        if (
            digest
            and digest != interaction.personal_digest
            and digest not in interaction.later_digests
        ):
            interaction.later_digests += (digest,)

    def _message_received(self, event: MessageReceived) -> None:
        interaction = self.interactions[event.interaction_id]
        message = Message(
            id=event.message_id,
            interaction_id=interaction.id,
            kind="customer",
            author=None,
            at=event.at,
            digest=event.digest,
            state="received",
            external_id=event.external_id,
        )
        self._add_message(interaction, message)
        if event.external_id:
            self.by_external[(event.source, event.external_id)] = interaction.id

    def _message_posted(self, event: MessagePosted) -> None:
        interaction = self.interactions[event.interaction_id]
        message = Message(
            id=event.message_id,
            interaction_id=interaction.id,
            kind=event.kind,
            author=event.author,
            at=event.at,
            digest=event.digest,
            state="internal" if event.kind == "note" else "posted",
            template=event.template,
        )
        self._add_message(interaction, message)
        if message.state == "posted":
            self.outbox[message.id] = message

    def _message_sent(self, event: MessageSent) -> None:
        message = self.messages[event.message_id]
        message.state = "sent"
        message.peer_id = event.peer_id
        message.retry_at = None
        if event.evidence_digest:
            interaction = self.interactions[message.interaction_id]
            interaction.later_digests += (event.evidence_digest,)
        self._delivered(message, event.at)

    def _message_failed(self, event: MessageFailed) -> None:
        message = self.messages[event.message_id]
        message.state = "failed"
        message.reason = event.reason
        message.attempts = event.attempts
        message.retry_at = event.retry_at
        if in_outbox(message):
            self.outbox[message.id] = message
        else:
            self._delivered(message, event.at)

    def _message_bounced(self, event: MessageBounced) -> None:
        message = self.messages[event.message_id]
        message.state = "bounced"
        message.reason = event.reason

    def _delivered(self, message: Message, at: Instant) -> None:
        """A message left the outbox: ended work waiting for it may now be forgotten."""
        if self.outbox.pop(message.id, None) is None:
            return
        interaction = self.interactions[message.interaction_id]
        if interaction.ended_at is None or self.sending(interaction):
            return
        forget_at = interaction.ended_at + self.policies.retention.live_after_close_s * SECOND
        # The timer set at the end may have come due meanwhile: this one replaces it, so that a
        # replay, which holds both, forgets it when the live engine did.
        forget_at = interaction.forget_at = max(forget_at, at)
        self.timers.set(forget_at, FORGET, interaction.id)

    def sending(self, interaction: Interaction) -> bool:
        """Return whether one of an interaction's messages is still in the outbox."""
        outbox = self.outbox
        return bool(outbox) and any(m in outbox for m in interaction.messages)

    def _sla_warning(self, event: SlaWarning) -> None:
        self.interactions[event.interaction_id].warned = True

    def _sla_breached(self, event: SlaBreached) -> None:
        self.interactions[event.interaction_id].breached = True

    # -- schedules ---------------------------------------------------------------------------

    def _schedule_set(self, event: ScheduleSet) -> None:
        oldest = kept_since(event.at, self.calendar.zone)
        schedules = {day: shifts for day, shifts in self.schedules.items() if day >= oldest}
        if event.shifts:
            schedules[event.day] = event.shifts
        else:
            schedules.pop(event.day, None)
        self.schedules = dict(sorted(schedules.items()))

    # -- exemptions --------------------------------------------------------------------------

    def _exemption_claimed(self, event: ExemptionClaimed) -> None:
        self.exemptions[event.exemption_id] = Exemption(
            id=event.exemption_id,
            start=event.start,
            end=event.end,
            channels=event.channels,
            reason=event.reason,
            claimed_by=event.by,
            claimed_role=event.role,
            claimed_at=event.at,
        )
        self.next_exemption_id = max(self.next_exemption_id, event.exemption_id + 1)

    def _exemption_decided(self, event: ExemptionDecided) -> None:
        self.exemptions[event.exemption_id] = msgspec.structs.replace(
            self.exemptions[event.exemption_id],
            status=event.decision,
            decision_reason=event.reason,
            decided_by=event.by,
            decided_role=event.role,
            decided_at=event.at,
        )


_RETURNS: dict[type[Any], Action] = {
    OfferDeclined: "decline",
    OfferExpired: "expire",
    OfferRevoked: "revoke",
}
_OUTCOMES: dict[type[Any], str] = {
    OfferDeclined: "declined",
    OfferExpired: "expired",
    OfferRevoked: "revoked",
}


def _keeps_nothing(event: Event) -> None:
    """A record for the audit trail only (a nowcast shown): the state does not change."""


def _move(interaction: Interaction, action: Action) -> None:
    """Change an interaction's status as the transition table says (the engine checked it)."""
    status = _TRANSITIONS.get((interaction.status, action))
    assert status is not None, f"{interaction.status} cannot {action}: the engine should refuse"
    interaction.status = status


_TRANSITIONS = INTERACTION_TRANSITIONS
