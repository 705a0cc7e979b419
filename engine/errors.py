"""Errors raised by the engine.

Like h11, the engine tells apart "you called me wrong" from "the state refuses this"::

    EngineError
    ├── InvalidCommand        the command itself is malformed: an unknown channel, a priority
    │   │                     out of range, an instant earlier than the engine's clock
    │   ├── ClockWentBackwards
    │   └── InvalidPeriod     an exemption claimed for a period that ends no later than it starts
    ├── Refused               the command is well formed but the current state refuses it
    │   ├── UnknownInteraction / UnknownAdvisor / UnknownOffer / UnknownToken / UnknownMessage
    │   │   / UnknownExemption
    │   ├── AlreadyDecided     an exemption claim decided already (a claim is decided once)
    │   ├── AlreadyRated       an interaction's customer satisfaction recorded already (once)
    │   ├── IllegalTransition  the interaction's or advisor's status does not allow it
    │   ├── NotYourWork        an advisor acted on work it does not hold
    │   ├── ChannelClosed      reason ``closed``: the channel is outside its opening hours;
    │   │                      its ``event`` is the refusal, for the journal to keep
    │   └── CallbackRefused    a callback cannot be asked for or reported (see its reasons)
    └── SnapshotFormatError   a snapshot this code cannot read (another format, damaged bytes):
                              the state is rebuilt from the journal instead

    ApplyFailed               not an ``EngineError``: applying the events of a decided command
                              failed, so the state may be half-changed; drop the engine and
                              rebuild it from the journal

Every error carries ``reason``, a short stable code for programs, and a message for people.
A refused command leaves the engine's state untouched; so does any other exception raised while
a command is decided (in ``handlers.py`` and ``roster.py``), before its first event is applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import InteractionRefused

__all__ = [
    "AlreadyDecided",
    "AlreadyRated",
    "ApplyFailed",
    "CallbackRefused",
    "ChannelClosed",
    "ClockWentBackwards",
    "EngineError",
    "IllegalTransition",
    "InvalidCommand",
    "InvalidPeriod",
    "NotYourWork",
    "Refused",
    "SnapshotFormatError",
    "UnknownAdvisor",
    "UnknownExemption",
    "UnknownInteraction",
    "UnknownMessage",
    "UnknownOffer",
    "UnknownToken",
]


class EngineError(Exception):
    """Base of every error the engine raises."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidCommand(EngineError):
    """The command is malformed, whatever the state: fix the caller."""

    reason = "invalid"


class ClockWentBackwards(InvalidCommand):
    """An instant earlier than one the engine has already seen."""

    reason = "clock_went_backwards"


class InvalidPeriod(InvalidCommand):
    """An exemption claimed for a period whose end (until) is not after its start (from)."""

    reason = "invalid_period"


class Refused(EngineError):
    """The command is well formed, but the current state refuses it."""

    reason = "refused"


class UnknownInteraction(Refused):
    reason = "unknown_interaction"


class UnknownAdvisor(Refused):
    reason = "unknown_advisor"


class UnknownOffer(Refused):
    reason = "unknown_offer"


class UnknownToken(Refused):
    reason = "unknown_token"


class UnknownMessage(Refused):
    reason = "unknown_message"


class UnknownExemption(Refused):
    reason = "unknown_exemption"


class AlreadyDecided(Refused):
    reason = "already_decided"


class AlreadyRated(Refused):
    reason = "already_rated"


class IllegalTransition(Refused):
    reason = "illegal_transition"


class NotYourWork(Refused):
    reason = "not_your_work"


class ChannelClosed(Refused):
    """The channel is outside its opening hours: the work is turned away, not queued.

    Unlike the other refusals, this one is a fact worth keeping (a report counts the calls a
    closed line refused): ``event`` is the ``InteractionRefused`` that says so, decided by the
    engine like any event. The state is untouched; a caller that journals the event keeps the
    replay exact, since applying it changes nothing.
    """

    reason = "closed"

    def __init__(self, message: str, event: InteractionRefused) -> None:
        super().__init__(message)
        self.event = event

    def __reduce__(self) -> tuple[type[ChannelClosed], tuple[str, InteractionRefused]]:
        # Pickled with its event (to another process), not with the message alone.
        return type(self), (self.message, self.event)


class CallbackRefused(Refused):
    """A callback refused, for ``reason``: ``callbacks_off``, the channel offers none
    (``callback_target_s`` is 0); ``already_callback``, the caller asked already;
    ``callback_after_closing``, it would be due after the channel closes today (or the channel
    is closed now); ``not_a_callback``, an attempt reported for work that is not one;
    ``callback_abandoned``, a callback abandoned (the caller hung up on purpose: close it)."""

    reason = "callback_refused"


class SnapshotFormatError(EngineError):
    """A snapshot of the state that this code cannot read: rebuild from the journal instead.

    ``reason`` is ``snapshot_format`` when the snapshot is in a format this code does not read,
    ``snapshot_unreadable`` when its bytes are damaged or are not a snapshot at all.
    """

    reason = "snapshot_format"


class ApplyFailed(Exception):
    """Applying a decided command's events (or routing after them) raised: a bug of ours.

    Unlike every other error here, the state may now be half-changed: the caller must throw the
    engine away and rebuild it from the journal. ``__cause__`` is the original exception.
    """
