"""Snapshots: the engine's state as versioned bytes, so a restart replays only a short tail.

An image holds the state proper, what no event left in the journal can be recomputed from
cheaply: the policies, the roster, every interaction and offer, the timers as they stand, the
counters. What is derived from those (the queues, the ready masks, the indexes) is rebuilt on
restore, so an image never holds two copies of one fact that could disagree. Routing hints are
left out, as after a replay: the engine's next ``advance`` or ``handle`` works from the state.

The image is a msgspec Struct encoded as MessagePack, each field under its name, so a field
added later with a default still reads older images of the same format. ``format`` changes only
when an image of the old format can no longer be read as the new one; an image in a format this
code does not read is refused with ``SnapshotFormatError``, and the state is then rebuilt by
replaying the journal from its start, which every version can do.

Fields added within format 1 (read as their default from an older image): ``tokens``,
``revoked_digests``, ``next_token_id`` and ``retired_advisors``. An image from before them held
no token (the journal had none), but its removed advisors' ids are not known to it: an id
removed before such an image, and not again since, is retired only once the state is rebuilt
from the journal's start.
"""

from __future__ import annotations

import msgspec

from .advisors import Advisor
from .calendar import BusinessCalendar
from .errors import SnapshotFormatError
from .exemptions import Exemption
from .instants import Instant
from .interactions import Interaction, Offer, order_key
from .messages import Message, in_outbox
from .policies import Policies
from .schedules import Shift
from .sla import BREACH_AFTER
from .state import State
from .timers import SLA_BREACH, Timer, Timers
from .tokens import Token

__all__ = ["SNAPSHOT_FORMAT", "dump_state", "read_image", "restore_state"]

SNAPSHOT_FORMAT = 6
"""The image format this code writes.

6: exemptions: every exemption claim as it stands, and the next claim's id. A format-5 image is
read too: it had no claim (the journal had none). The format changes for the reason 4 did: an
older version must not read an image without them and write its next image without them.

5: callbacks: each interaction's callback fields (when it was asked for, the attempts, the one
under way, the instant before which it is not offered again). A format-4 image is read too:
its interactions read them as their defaults (no callback: the journal had none). The format
changes for the reason 4 did: an older version must not read an image without them.

4: schedules: the planned shifts of the days kept. A format-3 image is read too, upgraded on
the way: it had no schedule (the journal had none). The format changes, rather than gaining a
field with a default, so that an older version refuses a format-4 image and rebuilds from the
journal, instead of reading it without its schedules and writing its next image without them.

3: conversations: the messages of the live interactions' threads, the threads' latest
interactions, the message counter. A format-2 image is read too, upgraded on the way: it had no
message, no thread, and its next message id is 1.

2: breach timers are due one microsecond after the deadline, and every interaction keeps its
raw deadline beside the one in force. A format-1 image is read too, upgraded on the way: its
breach timers move one microsecond later, and each interaction's raw deadline is the one in
force (what a format-1 image knew of it; a deadline once given never moved earlier).
"""

_UPGRADABLE = frozenset({1, 2, 3, 4, 5})
"""Older formats read by upgrading them (``_upgraded``)."""


class _Header(msgspec.Struct):
    """The one field every format shares: read first, so a foreign image is told apart early."""

    format: int


class _Image(msgspec.Struct, kw_only=True):
    format: int
    now: Instant
    """The latest instant the engine had seen: a restored engine refuses anything earlier."""
    policies: Policies
    config_digest: str
    roster: list[Advisor | None]
    """Advisors in the order of their bits, ``None`` where one was removed, so that every
    advisor keeps its bit and nobody inherits a removed one's."""
    interactions: list[Interaction]
    by_external: list[tuple[str, str, int]]
    """``(source, external_id, interaction id)``."""
    offers: list[Offer]
    ended_offers: list[tuple[int, str, Instant]]
    """``(offer id, how it ended, when)`` in the order they ended: forgetting purges the oldest."""
    timers: list[Timer]
    timer_sequence: int
    next_interaction_id: int
    next_offer_id: int
    profile_version: int
    tokens: list[Token] = []
    revoked_digests: list[str] = []
    next_token_id: int = 1
    retired_advisors: list[str] = []
    messages: list[Message] = []
    """In the order they were numbered; the outbox is rebuilt from their states."""
    threads: list[tuple[str, str, int]] = []
    """``(source, thread key, latest interaction id)``."""
    next_message_id: int = 1
    schedules: list[tuple[str, list[Shift]]] = []
    """``(day, its shifts)``, oldest day first."""
    exemptions: list[Exemption] = []
    """By id."""
    next_exemption_id: int = 1


_ENCODER = msgspec.msgpack.Encoder()
_HEADER = msgspec.msgpack.Decoder(_Header)
_IMAGE = msgspec.msgpack.Decoder(_Image)


def dump_state(state: State, now: Instant = 0) -> bytes:
    """Return an image of the state; ``now`` is the latest instant the engine had seen."""
    advisors = state.advisors
    image = _Image(
        format=SNAPSHOT_FORMAT,
        now=now,
        policies=state.policies,
        config_digest=state.config_digest,
        roster=[None if seat is None else advisors[seat] for seat in state.bits.seats],
        interactions=list(state.interactions.values()),
        by_external=[(source, ext, i) for (source, ext), i in state.by_external.items()],
        offers=list(state.offers.values()),
        ended_offers=[(offer_id, how, at) for offer_id, (how, at) in state.ended_offers.items()],
        timers=list(state.timers),
        timer_sequence=state.timers.sequence,
        next_interaction_id=state.next_interaction_id,
        next_offer_id=state.next_offer_id,
        profile_version=state.profile_version,
        tokens=list(state.tokens.values()),
        revoked_digests=sorted(state.revoked_digests),
        next_token_id=state.next_token_id,
        retired_advisors=sorted(state.retired_advisors),
        messages=list(state.messages.values()),
        threads=[(source, key, i) for (source, key), i in state.threads.items()],
        next_message_id=state.next_message_id,
        schedules=[(day, list(shifts)) for day, shifts in state.schedules.items()],
        exemptions=list(state.exemptions.values()),
        next_exemption_id=state.next_exemption_id,
    )
    return _ENCODER.encode(image)


def restore_state(data: bytes) -> State:
    """Return the state an image holds; refused with ``SnapshotFormatError``."""
    return read_image(data)[0]


def read_image(data: bytes) -> tuple[State, Instant]:
    """Return the state an image holds and the latest instant its engine had seen."""
    image = _decode(data)
    state = State()
    if image.policies.calendar != state.policies.calendar:
        state.calendar = BusinessCalendar(image.policies.calendar)
    state.policies = image.policies
    state.config_digest = image.config_digest
    for advisor in image.roster:
        state.bits.seat(None if advisor is None else advisor.id)
        if advisor is not None:
            state.advisors[advisor.id] = advisor
    for advisor in state.advisors.values():
        state.refresh(advisor)
    queues = state.queues
    for interaction in image.interactions:
        state.interactions[interaction.id] = interaction
        if interaction.status == "assigned" and interaction.handled_by is None:
            interaction.handled_by = interaction.advisor_id  # an image older than the field
        # Exactly the queued ones wait in a queue: an offer, a hold, a pause or an end took
        # every other one out.
        if interaction.status == "queued":
            queues.push(
                interaction.id,
                interaction.channel,
                interaction.signature,
                order_key(interaction),
            )
    state.by_external = {(source, ext): i for source, ext, i in image.by_external}
    state.offers = {offer.id: offer for offer in image.offers}
    for offer_id, how, at in image.ended_offers:
        state.ended_offers[offer_id] = (how, at)
        state.ended_order.append((at, offer_id))
    state.timers = Timers.restored(image.timers, image.timer_sequence)
    state.next_interaction_id = image.next_interaction_id
    state.next_offer_id = image.next_offer_id
    state.profile_version = image.profile_version
    state.tokens = {token.digest: token for token in image.tokens}
    state.revoked_digests = set(image.revoked_digests)
    state.next_token_id = image.next_token_id
    state.retired_advisors = set(image.retired_advisors)
    state.messages = {message.id: message for message in image.messages}
    state.outbox = {message.id: message for message in image.messages if in_outbox(message)}
    state.threads = {(source, key): i for source, key, i in image.threads}
    state.next_message_id = image.next_message_id
    state.schedules = {day: tuple(shifts) for day, shifts in image.schedules}
    state.exemptions = {exemption.id: exemption for exemption in image.exemptions}
    state.next_exemption_id = image.next_exemption_id
    state.pending_advisors.clear()
    state.pending_interactions.clear()
    return state, image.now


def _decode(data: bytes) -> _Image:
    """Decode an image, translating every way it can fail into ``SnapshotFormatError``."""
    try:
        found = _HEADER.decode(data).format
    except msgspec.MsgspecError as exc:
        raise SnapshotFormatError(
            f"this is not a snapshot this code can read ({exc}): it is damaged or is something "
            "else; rebuild the state by replaying the journal from its start",
            reason="snapshot_unreadable",
        ) from exc
    if found in _UPGRADABLE:
        return _upgraded(data, found)
    if found != SNAPSHOT_FORMAT:
        remedy = (
            "it was written by a newer version of Aiguillage: upgrade, or rebuild the state by "
            "replaying the journal from its start"
            if found > SNAPSHOT_FORMAT
            else "rebuild the state by replaying the journal from its start (the next snapshot "
            f"is then written in format {SNAPSHOT_FORMAT})"
        )
        raise SnapshotFormatError(
            f"the snapshot is in format {found}, and this code reads format {SNAPSHOT_FORMAT} "
            f"only: {remedy}"
        )
    try:
        return _IMAGE.decode(data)
    except msgspec.MsgspecError as exc:
        raise SnapshotFormatError(
            f"the snapshot (format {found}) cannot be read ({exc}): it is damaged; rebuild the "
            "state by replaying the journal from its start",
            reason="snapshot_unreadable",
        ) from exc


def _upgraded(data: bytes, found: int) -> _Image:
    """Read an image of an older format as the current one (``SnapshotFormatError`` if not).

    Formats 2 to 5 need nothing done: what formats 3 to 6 add reads as its default (no
    messages, no schedules, no callbacks, no exemption claims).
    """
    try:
        raw = msgspec.msgpack.decode(data)
        if found == 1:
            for interaction in raw["interactions"]:
                interaction.setdefault("raw_deadline", interaction["deadline"])
            raw["timers"] = [
                [due + BREACH_AFTER if kind == SLA_BREACH else due, sequence, kind, subject, mark]
                for due, sequence, kind, subject, mark in raw["timers"]
            ]
        raw["format"] = SNAPSHOT_FORMAT
        return msgspec.convert(raw, _Image)
    except (msgspec.MsgspecError, KeyError, TypeError, ValueError) as exc:
        raise SnapshotFormatError(
            f"the snapshot (format {found}) cannot be read ({exc}): it is damaged; rebuild the "
            "state by replaying the journal from its start",
            reason="snapshot_unreadable",
        ) from exc
