"""An answer typed in a platform's own tools (Meta Business Suite, X's app), seen as an echo.

The platforms report back what the account sends, whoever sent it (Meta and X as echoes; the
polled networks, YouTube and LinkedIn, as a comment by the account itself found in a thread).
One that is not one of our answers (the channel tells its own by what it attached or by the id
the platform gave) stops the clock of the open interaction in its thread:
``close_answered_elsewhere`` closes it with the channel's ``answered_elsewhere_reason`` (checked
at start by ``reason_problem``), unless the interaction already holds an answer of ours (sent,
or on its way, its echo ahead of its record) or the echo's id is one of ours.
"""

from __future__ import annotations

from typing import Any

from aiguillage.adapters.channels.port import Rejected
from aiguillage.adapters.channels.protocol import AdapterContext
from aiguillage.engine.commands import Close
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import EngineError
from aiguillage.engine.instants import Instant
from aiguillage.engine.states import OPEN_STATUSES

__all__ = ["close_answered_elsewhere", "reason_problem"]


async def close_answered_elsewhere(
    context: AdapterContext[Any],
    *,
    source: str,
    thread: str,
    peer_id: str,
    reason: str,
    at: Instant | None = None,
) -> int | None:
    """Close the open interaction of ``thread`` an echo answered; return its id, or None when
    there is nothing to close (no open interaction, the echo is one of our answers, or it was
    written at ``at``, before the interaction's first message: a poll may find it late)."""

    def answered_here(engine: Engine) -> int | None:
        state = engine.state
        interaction_id = state.threads.get((source, thread))
        interaction = state.interactions.get(interaction_id or 0)
        if interaction is None or interaction.status not in OPEN_STATUSES:
            return None
        if at is not None and at < interaction.received_at:
            return None
        messages = [state.messages[i] for i in interaction.messages if i in state.messages]
        if any(m.peer_id == peer_id or m.kind == "answer" for m in messages):
            return None
        return interaction.id

    interaction_id = await context.read(answered_here)
    if interaction_id is None:
        return None
    try:
        await context.execute(Close(interaction_id=interaction_id, reason=reason))
    except (EngineError, Rejected) as exc:
        context.log.info(
            "an answer typed elsewhere closes nothing",
            interaction_id=interaction_id,
            error=str(exc),
        )
        return None
    context.log.info(
        "answered in the platform's own tools: the interaction is closed",
        interaction_id=interaction_id,
        source=source,
    )
    return interaction_id


def reason_problem(context: AdapterContext[Any], reason: str) -> str | None:
    """What is wrong with a channel's ``answered_elsewhere_reason``, or None: it must be one
    of the ``[reasons] close`` codes."""
    close = context.daemon_settings.reasons.close
    if reason in close:
        return None
    return (
        f"[adapters.{context.name}] answered_elsewhere_reason = {reason!r} is not one of "
        f"[reasons] close ({', '.join(close)}): use one of them"
    )
