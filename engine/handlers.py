"""Decisions: what each command and each timer means, as a list of events.

Every function here reads the state, checks the command against the policies and the state,
and returns the events that follow, without changing anything: the engine applies them. A
function raises before returning anything, so a refused command leaves no trace in the state
(a submission to a closed channel carries the event that records the refusal, for the journal:
see ``ChannelClosed``). Routing
(who gets which work) is decided separately, in ``engine.py``, once the events are applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import sla
from .commands import (
    Abandon,
    Accept,
    AwaitPrincipal,
    Close,
    Decline,
    PostMessage,
    PrincipalAnswered,
    PublishNowcast,
    RecordCallbackAttempt,
    RecordDelivery,
    RecordResponse,
    RequestCallback,
    SetSchedule,
    Submit,
    Transfer,
    TransferOut,
)
from .errors import (
    CallbackRefused,
    ChannelClosed,
    IllegalTransition,
    InvalidCommand,
    NotYourWork,
    UnknownInteraction,
    UnknownMessage,
    UnknownOffer,
)
from .events import (
    AdvisorStateChanged,
    CallbackAnswered,
    CallbackMissed,
    CallbackRequested,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionRefused,
    InteractionResponded,
    InteractionTransferred,
    InteractionTransferredOut,
    MessageBounced,
    MessageFailed,
    MessagePosted,
    MessageReceived,
    MessageSent,
    NowcastPublished,
    OfferAccepted,
    OfferDeclined,
    ScheduleSet,
)
from .events import PrincipalAnswered as PrincipalAnsweredEvent
from .events import PrincipalAwaited as PrincipalAwaitedEvent
from .exemptions import EXEMPTION_HANDLERS
from .instants import SECOND, Instant, to_datetime
from .interactions import Interaction, Offer
from .messages import Message, in_outbox
from .policies import ChannelPolicy, ElapsedSla
from .quality import QUALITY_HANDLERS
from .roster import ROSTER_HANDLERS, check_profile, revoke_offers
from .schedules import ScheduleError, check_schedule
from .state import State
from .states import OPEN_STATUSES, Action, interaction_next
from .steering import STEERING_HANDLERS, check_preferred, requirement, withdrawn

__all__ = ["COMMAND_HANDLERS", "callback_deadline"]

Handler = Callable[[State, Any, Instant], list[Event]]


# -- lookups that explain themselves ----------------------------------------------------------


def _interaction(state: State, interaction_id: int) -> Interaction:
    interaction = state.interactions.get(interaction_id)
    if interaction is None:
        raise UnknownInteraction(f"no interaction {interaction_id}")
    return interaction


def _channel(state: State, channel: str) -> ChannelPolicy:
    policy = state.policies.channels.get(channel)  # type: ignore[call-overload]
    if policy is None:
        configured = ", ".join(state.policies.channels) or "none yet"
        raise InvalidCommand(f"channel {channel!r} is not configured (configured: {configured})")
    return policy  # type: ignore[no-any-return]


def _transition(interaction: Interaction, action: Action) -> None:
    if interaction_next(interaction.status, action) is None:
        raise IllegalTransition(
            f"interaction {interaction.id} is {interaction.status}: it cannot be {_PAST[action]}"
        )


_PAST: dict[Action, str] = {
    "offer": "offered",
    "accept": "accepted",
    "decline": "declined",
    "expire": "expired",
    "revoke": "revoked",
    "respond": "answered (it must be held by an advisor)",
    "transfer": "transferred (it must be held by an advisor)",
    "transfer_out": "transferred out (it must be held by an advisor)",
    "await_principal": "put on hold for the principal (it must be held by an advisor)",
    "principal_answered": "resumed (it is not waiting for the principal)",
    "abandon": "abandoned",
    "close": "closed",
    "request_callback": "called back (a callback is asked for while the caller waits)",
    "callback_answered": "reported as a callback answered (it must be held by an advisor)",
    "callback_missed": "reported as a callback missed (it must be held by an advisor)",
}


def _held_by(interaction: Interaction, advisor_id: str, action: Action) -> None:
    _transition(interaction, action)
    if interaction.advisor_id != advisor_id:
        holder = "nobody" if interaction.advisor_id is None else repr(interaction.advisor_id)
        raise NotYourWork(
            f"interaction {interaction.id} is held by {holder}, not by {advisor_id!r}"
        )


# -- interactions -------------------------------------------------------------------------------


def _submit(state: State, command: Submit, now: Instant) -> list[Event]:
    if (command.source, command.external_id) in state.by_external:
        return []
    policies = state.policies
    channel = policies.channels.get(command.channel)
    if channel is None:
        channel = _channel(state, command.channel)  # raises, saying which channels exist
    if command.source not in channel.sources:
        known = ", ".join(channel.sources)
        raise InvalidCommand(
            f"source {command.source!r} does not feed channel {command.channel} (sources: {known})"
        )
    if not command.external_id:
        raise InvalidCommand("external_id must not be empty")
    received = now if command.received_at is None else command.received_at
    if received > now:
        raise InvalidCommand("received_at is later than now: the interaction has not arrived yet")
    # A message joins its thread's open work whatever the channel's hours: the work is here.
    follows: Interaction | None = None
    if command.thread:
        latest = state.threads.get((command.source, command.thread))
        follows = None if latest is None else state.interactions[latest]
        if follows is not None and follows.status in OPEN_STATUSES:
            return [_received(state.next_message_id, follows.id, command, now)]
    priority = channel.default_priority if command.priority is None else command.priority
    if not 0 <= priority <= 9:
        raise InvalidCommand(f"priority {priority} is out of range: it goes from 0 to 9")
    language = command.language or policies.default_language
    if language not in policies.languages:
        raise InvalidCommand(
            f"unknown language {language!r}; known: {', '.join(policies.languages)}"
        )
    typology = command.typology
    if command.channel == "written":
        typology = typology or "simple"
    elif typology is not None:
        raise InvalidCommand("typology applies to written complaints only")
    needs: dict[str, int] = {}
    if command.motive is not None:
        motive = policies.motives.get(command.motive)
        if motive is None:
            known = ", ".join(policies.motives) or "none configured"
            raise InvalidCommand(f"unknown motive {command.motive!r}; known: {known}")
        needs[motive.skill] = motive.level
    if command.skills:
        check_profile(policies, command.skills, None, None)
        for skill, level in command.skills.items():
            needs[skill] = max(level, needs.get(skill, 0))
    if channel.refuse_when_closed and not state.calendar.is_open(received, channel.hours):
        local = to_datetime(received, state.calendar.zone).isoformat()
        refused = InteractionRefused(
            at=now,
            channel=command.channel,
            source=command.source,
            external_id=command.external_id,
            motive=command.motive,
            received_at=received,
            reason=ChannelClosed.reason,
        )
        raise ChannelClosed(f"the {command.channel} channel is closed at {local}", refused)
    rule = channel.sla
    if type(rule) is ElapsedSla:  # the common case, without the general rule's dispatch
        deadline = received + rule.seconds * SECOND
    else:
        deadline = sla.deadline(rule, received, state.calendar, channel.hours)
    arrived: list[Event] = [
        InteractionArrived(
            at=now,
            interaction_id=state.next_interaction_id,
            channel=command.channel,
            source=command.source,
            external_id=command.external_id,
            motive=command.motive,
            language=language,
            skills=needs,
            priority=priority,
            typology=typology,
            received_at=received,
            deadline=deadline,
            warning_at=sla.warning_at(received, deadline, channel.warning_fraction),
            personal_digest=command.personal_digest,
            content_digest=command.content_digest,
            thread=command.thread,
            follows=None if follows is None else follows.id,
            preferred_advisor=None if follows is None else follows.handled_by,
        )
    ]
    # Every thread starts with the customer's message (a submission without personal data has
    # no text to hold).
    if command.thread or command.personal_digest:
        arrived.append(_received(state.next_message_id, state.next_interaction_id, command, now))
    return arrived


def _received(message_id: int, interaction_id: int, command: Submit, now: Instant) -> Event:
    return MessageReceived(
        at=now,
        interaction_id=interaction_id,
        message_id=message_id,
        digest=command.personal_digest,
        external_id=command.external_id,
        source=command.source,
    )


def _pending_offer(state: State, offer_id: int, advisor_id: str, now: Instant) -> Offer:
    offer = state.offers.get(offer_id)
    if offer is None:
        ended = state.ended_offers.get(offer_id)
        if ended is None:
            raise UnknownOffer(f"no offer {offer_id}")
        raise IllegalTransition(f"offer {offer_id} is no longer pending: it was {ended[0]}")
    if offer.advisor_id != advisor_id:
        raise NotYourWork(f"offer {offer_id} was made to {offer.advisor_id!r}, not {advisor_id!r}")
    if offer.expires_at <= now:
        raise IllegalTransition(f"offer {offer_id} expired", reason="offer_expired")
    return offer


def _responded(interaction: Interaction, advisor_id: str, now: Instant) -> Event:
    return InteractionResponded(
        at=now,
        interaction_id=interaction.id,
        advisor_id=advisor_id,
        within_sla=sla.answered_within(now, interaction.deadline),
    )


def _accept(state: State, command: Accept, now: Instant) -> list[Event]:
    offer = _pending_offer(state, command.offer_id, command.advisor_id, now)
    interaction = state.interactions[offer.interaction_id]
    events: list[Event] = [
        OfferAccepted(
            at=now,
            offer_id=offer.id,
            interaction_id=offer.interaction_id,
            advisor_id=offer.advisor_id,
        )
    ]
    # Picking up a call is its first response: the voice clock measures the wait in queue. A
    # callback's is the customer answering it (``RecordCallbackAttempt``).
    if (
        interaction.channel == "voice"
        and interaction.responded_at is None
        and interaction.callback_requested_at is None
    ):
        events.append(_responded(interaction, offer.advisor_id, now))
    return events


def _decline(state: State, command: Decline, now: Instant) -> list[Event]:
    offer = _pending_offer(state, command.offer_id, command.advisor_id, now)
    return [
        OfferDeclined(
            at=now,
            offer_id=offer.id,
            interaction_id=offer.interaction_id,
            advisor_id=offer.advisor_id,
            reason=command.reason,
        )
    ]


def _record_response(state: State, command: RecordResponse, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _held_by(interaction, command.advisor_id, "respond")
    if interaction.responded_at is not None:
        raise IllegalTransition(
            f"interaction {interaction.id} already had its first response", reason="responded"
        )
    _not_a_callback(interaction, "its first response is the customer answering the call back")
    return [_responded(interaction, command.advisor_id, now)]


def _not_a_callback(interaction: Interaction, why: str) -> None:
    if interaction.callback_requested_at is not None:
        raise CallbackRefused(
            f"interaction {interaction.id} is a callback: {why} (RecordCallbackAttempt)",
            reason="callback",
        )


def _wrap_up(state: State, interaction: Interaction, advisor_id: str, now: Instant) -> list[Event]:
    """Return the wrap-up that follows an advisor's release of held work, if any."""
    seconds = state.policies.channels[interaction.channel].wrap_up_s
    if seconds == 0:
        return []
    advisor = state.advisors[advisor_id]
    if advisor.state != "available":
        return []
    until = now + seconds * SECOND
    return [
        *revoke_offers(state, advisor, "advisor went wrap_up", now),
        AdvisorStateChanged(at=now, advisor_id=advisor_id, state="wrap_up", until=until),
    ]


def _transfer(state: State, command: Transfer, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _held_by(interaction, command.advisor_id, "transfer")
    channel, motive, needs = requirement(
        state, interaction, command.channel, command.motive, command.skills
    )
    if command.to_advisor is not None:
        check_preferred(state, command.to_advisor, interaction, needs)
    return [
        InteractionTransferred(
            at=now,
            interaction_id=interaction.id,
            advisor_id=command.advisor_id,
            channel=channel,
            motive=motive,
            skills=needs,
            note_digest=command.note_digest,
            to_advisor=command.to_advisor,
        ),
        *_wrap_up(state, interaction, command.advisor_id, now),
    ]


def _transfer_out(state: State, command: TransferOut, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _held_by(interaction, command.advisor_id, "transfer_out")
    events: list[Event] = []
    # Handing a complaint to the competent party is its handling (typology "transfer"): when
    # nothing was answered before, the hand-over is the first response (not a callback's:
    # the call's outcome was decided when it was asked for, and the customer was not reached).
    if interaction.responded_at is None and interaction.callback_requested_at is None:
        events.append(_responded(interaction, command.advisor_id, now))
    events.append(
        InteractionTransferredOut(
            at=now,
            interaction_id=interaction.id,
            advisor_id=command.advisor_id,
            party_digest=command.party_digest,
        )
    )
    return events + _wrap_up(state, interaction, command.advisor_id, now)


def _await_principal(state: State, command: AwaitPrincipal, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _held_by(interaction, command.advisor_id, "await_principal")
    policy = state.policies.channels[interaction.channel]
    pauses = (
        policy.credit_principal_wait
        and interaction.typology in policy.pause_on_principal
        and interaction.responded_at is None
    )
    return [
        PrincipalAwaitedEvent(
            at=now,
            interaction_id=interaction.id,
            advisor_id=command.advisor_id,
            pauses_clock=pauses,
        ),
        *_wrap_up(state, interaction, command.advisor_id, now),
    ]


def _principal_answered(state: State, command: PrincipalAnswered, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    _transition(interaction, "principal_answered")
    deadline, warning = interaction.deadline, interaction.warning_at
    if interaction.paused_at is not None:
        policy = state.policies.channels[interaction.channel]
        deadline = sla.credit_wait(
            deadline, interaction.paused_at, now, state.calendar, policy.hours
        )
        warning = sla.warning_at(interaction.received_at, deadline, policy.warning_fraction)
    return [
        PrincipalAnsweredEvent(
            at=now, interaction_id=interaction.id, deadline=deadline, warning_at=warning
        )
    ]


def _abandon(state: State, command: Abandon, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    if interaction.status == "assigned":
        raise IllegalTransition(
            f"interaction {interaction.id} was already picked up: close it instead of abandoning"
        )
    _transition(interaction, "abandon")
    if interaction.callback_requested_at is not None:
        raise CallbackRefused(
            f"interaction {interaction.id} is a callback: the caller hung up when asking for it, "
            "and it waits to be called back; close it to give it up",
            reason="callback_abandoned",
        )
    return [InteractionAbandoned(at=now, interaction_id=interaction.id)]


def _close(state: State, command: Close, now: Instant) -> list[Event]:
    interaction = state.interactions.get(command.interaction_id)
    if interaction is None:
        interaction = _interaction(state, command.interaction_id)  # raises, saying which
    advisor_id = command.advisor_id
    if advisor_id is not None:
        _held_by(interaction, advisor_id, "close")
    else:
        _transition(interaction, "close")
    motive = command.motive
    if motive is None:
        motive = interaction.motive
    elif motive not in state.policies.motives:
        known = ", ".join(state.policies.motives) or "none configured"
        raise InvalidCommand(f"unknown motive {motive!r}; known: {known}")
    events: list[Event] = [
        InteractionClosed(
            at=now,
            interaction_id=interaction.id,
            advisor_id=advisor_id,
            reason=command.reason,
            motive=motive,
        )
    ]
    if interaction.status == "assigned" and interaction.advisor_id is not None:
        events += _wrap_up(state, interaction, interaction.advisor_id, now)
    return events


# -- callbacks ----------------------------------------------------------------------------------


def callback_deadline(state: State, interaction: Interaction, now: Instant) -> Instant:
    """Return the deadline of a callback asked for now, or raise ``CallbackRefused`` when its
    channel offers none or could not make it before closing today.

    Due the channel's ``callback_target_s`` after now, and never earlier than the call was. The
    simulator asks it too, to offer a callback only when one can be made.
    """
    policy = state.policies.channels[interaction.channel]
    if policy.callback_target_s == 0:
        raise CallbackRefused(
            f"the {interaction.channel} channel offers no callback (its callback_target_s is 0)",
            reason="callbacks_off",
        )
    deadline = max(now + policy.callback_target_s * SECOND, interaction.deadline)
    calendar = state.calendar
    hours = policy.hours or state.policies.calendar.hours
    span = calendar.opening_of(calendar.local_date(now), hours)
    if span is None or not span[0] <= now < span[1] or deadline > span[1]:
        due = to_datetime(deadline, calendar.zone).isoformat()
        closes = (
            "it is closed now"
            if span is None or not span[0] <= now < span[1]
            else f"it closes at {to_datetime(span[1], calendar.zone).isoformat()}"
        )
        raise CallbackRefused(
            f"a callback asked for now would be due at {due}, and the {interaction.channel} "
            f"channel cannot make it before closing: {closes}",
            reason="callback_after_closing",
        )
    return deadline


def _request_callback(state: State, command: RequestCallback, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    status = "queued" if interaction.status == "offered" else interaction.status
    if interaction_next(status, "request_callback") is None:
        raise IllegalTransition(
            f"interaction {interaction.id} is {interaction.status}: a callback is asked for "
            "while the caller waits (queued or offered)"
        )
    asked = interaction.callback_requested_at
    if asked is not None:
        local = to_datetime(asked, state.calendar.zone).isoformat()
        raise CallbackRefused(
            f"interaction {interaction.id} is a callback already (asked for at {local})",
            reason="already_callback",
        )
    deadline = callback_deadline(state, interaction, now)
    policy = state.policies.channels[interaction.channel]
    return [
        *withdrawn(interaction, "callback requested", now),
        CallbackRequested(
            at=now,
            interaction_id=interaction.id,
            waited=now - interaction.received_at,
            within_sla=sla.answered_within(now, interaction.deadline),
            deadline=deadline,
            warning_at=sla.warning_at(now, deadline, policy.warning_fraction),
            number_digest=command.number_digest,
        ),
    ]


def _record_callback_attempt(
    state: State, command: RecordCallbackAttempt, now: Instant
) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    outcome = command.outcome
    if outcome not in ("answered", "unanswered"):
        raise InvalidCommand(f"outcome {outcome!r} is not one of: answered, unanswered")
    answered = outcome == "answered"
    action: Action = "callback_answered" if answered else "callback_missed"
    _held_by(interaction, command.advisor_id, action)
    if interaction.callback_requested_at is None:
        raise CallbackRefused(
            f"interaction {interaction.id} is not a callback: nobody asked to be called back",
            reason="not_a_callback",
        )
    if interaction.responded_at is not None:
        raise IllegalTransition(
            f"callback {interaction.id} reached the customer already", reason="responded"
        )
    attempt = interaction.callback_attempts + 1
    dialled = now if interaction.callback_dialled_at is None else interaction.callback_dialled_at
    on_time = sla.answered_within(dialled, interaction.deadline)
    advisor_id = command.advisor_id
    if answered:
        return [
            CallbackAnswered(
                at=now,
                interaction_id=interaction.id,
                advisor_id=advisor_id,
                attempt=attempt,
                dialled_at=dialled,
                on_time=on_time,
            )
        ]
    policy = state.policies.channels[interaction.channel]
    last = attempt >= policy.callback_attempts
    events: list[Event] = [
        CallbackMissed(
            at=now,
            interaction_id=interaction.id,
            advisor_id=advisor_id,
            attempt=attempt,
            dialled_at=dialled,
            on_time=on_time,
            retry_at=None if last else now + policy.callback_retry_s * SECOND,
        )
    ]
    if last:
        events.append(
            InteractionClosed(
                at=now,
                interaction_id=interaction.id,
                advisor_id=advisor_id,
                reason="callback_unanswered",
                motive=interaction.motive,
            )
        )
    return events + _wrap_up(state, interaction, advisor_id, now)


# -- messages -----------------------------------------------------------------------------------


def _post_message(state: State, command: PostMessage, now: Instant) -> list[Event]:
    interaction = _interaction(state, command.interaction_id)
    if not command.digest:
        raise InvalidCommand("digest must not be empty: it names the message's sealed text")
    kind, advisor_id = command.kind, command.advisor_id
    posted = MessagePosted(
        at=now,
        interaction_id=interaction.id,
        message_id=state.next_message_id,
        kind=kind,
        author=advisor_id,
        digest=command.digest,
        template=command.template,
    )
    if kind == "acknowledgement":
        if advisor_id is not None:
            raise InvalidCommand("an acknowledgement is posted by the system: no advisor_id")
        if interaction.status not in OPEN_STATUSES:
            raise IllegalTransition(
                f"interaction {interaction.id} is {interaction.status}: it cannot be acknowledged"
            )
        messages = state.messages
        if any(messages[i].kind == "acknowledgement" for i in interaction.messages):
            return []  # acknowledged already: a channel asking again after a crash changes nothing
        return [posted]
    if advisor_id is None:
        raise InvalidCommand(f"an advisor writes an {kind}: advisor_id is missing")
    if kind == "answer" and interaction.channel == "voice":
        raise InvalidCommand(f"interaction {interaction.id} is a call: picking up answers it")
    _held_by(interaction, advisor_id, "respond")
    # The first answer to written or social work is its first response: the clock stops.
    if kind == "answer" and interaction.responded_at is None:
        return [posted, _responded(interaction, advisor_id, now)]
    return [posted]


def _message(state: State, message_id: int) -> Message:
    message = state.messages.get(message_id)
    if message is None:
        raise UnknownMessage(f"no message {message_id}")
    return message


def _record_delivery(state: State, command: RecordDelivery, now: Instant) -> list[Event]:
    message = _message(state, command.message_id)
    outcome = command.outcome
    if command.retry_at is not None and outcome != "failed":
        raise InvalidCommand(f"retry_at goes with a failed delivery, not a {outcome} one")
    if message.kind not in ("answer", "acknowledgement"):
        raise IllegalTransition(f"message {message.id} is a {message.kind}: it is not delivered")
    if message.state == outcome != "failed":
        return []  # the same report again
    allowed = message.state == "sent" if outcome == "bounced" else in_outbox(message)
    if not allowed:
        raise IllegalTransition(
            f"message {message.id} is {_delivery(message)}: it cannot be {outcome}",
            reason=f"message_{message.state}",
        )
    interaction_id, message_id = message.interaction_id, message.id
    if outcome == "sent":
        return [
            MessageSent(
                at=now,
                interaction_id=interaction_id,
                message_id=message_id,
                peer_id=command.peer_id,
                evidence_digest=command.evidence_digest,
            )
        ]
    if outcome == "bounced":
        return [
            MessageBounced(
                at=now, interaction_id=interaction_id, message_id=message_id, reason=command.reason
            )
        ]
    return [
        MessageFailed(
            at=now,
            interaction_id=interaction_id,
            message_id=message_id,
            reason=command.reason,
            attempts=message.attempts + 1,
            retry_at=command.retry_at,
        )
    ]


def _delivery(message: Message) -> str:
    if message.state != "failed":
        return message.state
    return "failed, to be tried again" if message.retry_at is not None else "failed and given up"


# -- schedules ----------------------------------------------------------------------------------


def _set_schedule(state: State, command: SetSchedule, now: Instant) -> list[Event]:
    """Journal a day's shifts; advisors not in the roster are refused (a typo, not a person)."""
    try:
        check_schedule(command.day, command.shifts, state.calendar.zone, now)
    except ScheduleError as exc:
        where = "" if exc.index is None else f"shift {exc.index + 1}: "
        raise InvalidCommand(f"{where}{exc}", reason="invalid_schedule") from None
    for index, shift in enumerate(command.shifts):
        if shift.advisor_id not in state.advisors:
            raise InvalidCommand(
                f"shift {index + 1}: no advisor {shift.advisor_id!r} in the roster",
                reason="unknown_advisor",
            )
    return [ScheduleSet(at=now, day=command.day, shifts=command.shifts)]


def _publish_nowcast(state: State, command: PublishNowcast, now: Instant) -> list[Event]:
    return [
        NowcastPublished(
            at=now,
            image_at=command.image_at,
            image_seq=command.image_seq,
            image_sha256=command.image_sha256,
            seed=command.seed,
            replications=command.replications,
            arrived=dict(command.arrived),
            level=dict(command.level),
            shown=command.shown,
        )
    ]


COMMAND_HANDLERS: dict[type[Any], Handler] = {
    **ROSTER_HANDLERS,
    PublishNowcast: _publish_nowcast,
    **STEERING_HANDLERS,
    **EXEMPTION_HANDLERS,
    **QUALITY_HANDLERS,
    Submit: _submit,
    Accept: _accept,
    Decline: _decline,
    RecordResponse: _record_response,
    Transfer: _transfer,
    TransferOut: _transfer_out,
    AwaitPrincipal: _await_principal,
    PrincipalAnswered: _principal_answered,
    Abandon: _abandon,
    Close: _close,
    RequestCallback: _request_callback,
    RecordCallbackAttempt: _record_callback_attempt,
    PostMessage: _post_message,
    RecordDelivery: _record_delivery,
    # schedules
    SetSchedule: _set_schedule,
}
