"""Exemptions (force majeure): periods a supervisor claims relief for, and the authority decides.

A strike or an outage of the authority's own systems may excuse missed deadlines. The party
that pays does not grant itself relief: a supervisor claims a period (``ClaimExemption``: from,
until, the channels or all of them, a reason), and only the ``authority`` role accepts or refuses
it (``DecideExemption``), once. Both are journaled with who did it (``by``: ``token:7``) and why;
the reports apply accepted periods only (``adapters/reports/exemptions.py``).

Like every handler, each function here reads the state, checks the command and returns the
events that follow, changing nothing; ``State`` applies them. Claims are kept in the state for
good (a few a year): the report of any month, and its recheck, needs every decision.

Refusals: ``InvalidPeriod`` (until not after from), ``InvalidCommand`` (reason ``invalid_claim``:
no reason or author, an unknown channel; ``authority_only``: a decision by another role),
``UnknownExemption`` (no such claim), ``AlreadyDecided`` (a claim is decided once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, Protocol

import msgspec

from .commands import ClaimExemption, DecideExemption
from .errors import AlreadyDecided, InvalidCommand, InvalidPeriod, UnknownExemption
from .events import Event, ExemptionClaimed, ExemptionDecided
from .instants import Instant
from .policies import CHANNELS, Channel

__all__ = ["DECIDER", "EXEMPTION_HANDLERS", "MAX_REASON", "Exemption", "ExemptionStatus"]

ExemptionStatus = Literal["pending", "accepted", "refused"]

DECIDER: Final = "authority"
"""The one role whose decision on a claim the engine records."""

MAX_REASON: Final = 1000
"""A reason is a sentence or two (it names no person: the journal cannot be erased)."""


class Exemption(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One claimed period ``[start, end)``, as it stands: pending, accepted or refused."""

    id: int
    start: Instant
    end: Instant
    channels: tuple[Channel, ...] = ()
    """The channels it covers; empty: every channel."""
    reason: str
    claimed_by: str
    claimed_role: str = ""
    claimed_at: Instant
    status: ExemptionStatus = "pending"
    decision_reason: str = ""
    decided_by: str = ""
    decided_role: str = ""
    decided_at: Instant | None = None


class _Claims(Protocol):
    """What the handlers read of the state (``State`` is one): no import of it, no cycle."""

    @property
    def exemptions(self) -> Mapping[int, Exemption]: ...

    @property
    def next_exemption_id(self) -> int: ...


def _text(value: str, what: str) -> None:
    if not value.strip():
        raise InvalidCommand(f"{what} must be given", reason="invalid_claim")
    if len(value) > MAX_REASON:
        raise InvalidCommand(
            f"{what} is {len(value)} characters long: at most {MAX_REASON}", reason="invalid_claim"
        )


def _claim(state: _Claims, command: ClaimExemption, now: Instant) -> list[Event]:
    if command.end <= command.start:
        raise InvalidPeriod(
            f"the period ends ({command.end}) no later than it starts ({command.start}): until "
            "must be after from"
        )
    for channel in command.channels:
        if channel not in CHANNELS:
            raise InvalidCommand(
                f"channel {channel!r} is not one of {', '.join(CHANNELS)}", reason="invalid_claim"
            )
    if len(set(command.channels)) != len(command.channels):
        raise InvalidCommand("a channel is named twice", reason="invalid_claim")
    _text(command.reason, "reason")
    _text(command.by, "by (who claims)")
    return [
        ExemptionClaimed(
            at=now,
            exemption_id=state.next_exemption_id,
            start=command.start,
            end=command.end,
            channels=tuple(sorted(command.channels, key=CHANNELS.index)),
            reason=command.reason,
            by=command.by,
            role=command.role,
        )
    ]


def _decide(state: _Claims, command: DecideExemption, now: Instant) -> list[Event]:
    exemption = state.exemptions.get(command.exemption_id)
    if exemption is None:
        raise UnknownExemption(f"no exemption claim {command.exemption_id}")
    if command.role != DECIDER:
        raise InvalidCommand(
            f"role {command.role or 'none'!r} may not decide a claim: only the {DECIDER} does "
            "(the party that pays does not grant itself relief)",
            reason="authority_only",
        )
    if exemption.status != "pending":
        raise AlreadyDecided(
            f"exemption claim {exemption.id} was {exemption.status} already, by "
            f"{exemption.decided_by}: a claim is decided once"
        )
    _text(command.reason, "reason")
    _text(command.by, "by (who decides)")
    return [
        ExemptionDecided(
            at=now,
            exemption_id=exemption.id,
            decision=command.decision,
            reason=command.reason,
            by=command.by,
            role=command.role,
        )
    ]


EXEMPTION_HANDLERS: dict[type[Any], Callable[[_Claims, Any, Instant], list[Event]]] = {
    ClaimExemption: _claim,
    DecideExemption: _decide,
}
