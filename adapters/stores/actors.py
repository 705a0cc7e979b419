"""Who caused a journal record: the actor, kept in the record's envelope beside the event.

The engine's events say what happened; the envelope says who made it happen, so that "who did
what, and when" has an answer for every record without the engine knowing about tokens or
channels. An actor is named by what identifies it and never by a secret:

- ``token``: a request with a minted token (``id`` its journal id, ``role``, and ``advisor`` for
  an advisor's token); ``admin``: the environment's admin token (it has no id);
- ``session``: a browser signed in through the identity provider (``id`` the subject);
- ``channel``: a channel or adapter plugin, by its name (``id``), for what it brings in and
  sends out;
- ``daemon``: the daemon itself: timers firing (SLA warnings and breaches, offers expiring),
  housekeeping, the configuration seeded at the first start;
- ``command``: a command-line tool writing to the journal (``id``: what it does).

The runtime reads the actor of a request from ``acting``, a context variable: the API sets it
for each request once the token is known, the runtime for each adapter's tasks, so the code in
between (routes, channels) does not pass it along by hand.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import msgspec

__all__ = ["DAEMON", "Actor", "acting", "acting_as", "describe"]


class Actor(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """Who caused a record (see the module docstring for ``kind``)."""

    kind: str
    id: str = ""
    role: str = ""
    advisor: str = ""


DAEMON = Actor("daemon")
"""The daemon itself: timers, housekeeping, what it does of its own accord."""

acting: ContextVar[Actor | None] = ContextVar("aiguillage_actor", default=None)
"""The actor of the work in progress in this context (a request, an adapter's task)."""


@contextlib.contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Run the block as ``actor``: what it asks the runtime to do is journaled as theirs."""
    token = acting.set(actor)
    try:
        yield
    finally:
        acting.reset(token)


def describe(actor: Actor | None) -> str:
    """Return an actor in a few words, for logs and the command line (``token 7 (advisor
    claire.martin)``, ``channel meta``, ``daemon``); ``unknown`` for a record before actors."""
    if actor is None:
        return "unknown"
    words = f"{actor.kind} {actor.id}" if actor.id else actor.kind
    detail = ", ".join(
        part
        for part in (
            actor.role if actor.role and actor.role != actor.kind else "",
            actor.advisor,
        )
        if part
    )
    return f"{words} ({detail})" if detail else words
