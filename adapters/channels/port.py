"""The port a channel talks to: what the daemon offers it, and what it may raise.

The channel protocol (``protocol``) is written against this port, never against the daemon's
runtime: the runtime implements it. So the channels sit below the daemon, and the daemon's
internals may change without a channel noticing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from aiguillage.adapters.config.settings import Settings
from aiguillage.adapters.stores.journal import Record
from aiguillage.adapters.stores.views import InteractionOut
from aiguillage.engine.commands import Command, Submit
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import Event

__all__ = [
    "CommandFailed",
    "Conflict",
    "CursorStore",
    "Port",
    "Receipt",
    "Rejected",
    "Unavailable",
]

T = TypeVar("T")


class Unavailable(Exception):
    """The runtime cannot answer now (rebuilding, the journal cannot write, or this daemon is a
    standby and ``leader`` is the address of the one that serves): retry later."""

    def __init__(self, message: str, retry_after_s: int = 2, leader: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.leader = leader


class Rejected(Exception):
    """A value the daemon does not accept, refused before the engine sees it (the API: 400)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


class Conflict(Exception):
    """A key already given with other content (the API: 409): the same ``(source,
    external_id)`` resubmitted with another channel, motive, text, ..."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


class CommandFailed(Exception):
    """A command met a fault of ours, or was set aside after one (the API: 500).

    Nothing of it was written. The fault is logged with its traceback, once.
    """


class Receipt(msgspec.Struct, frozen=True):
    """The answer to a submission once it is durable: the interaction, and whether it is new."""

    interaction: InteractionOut
    created: bool


class CursorStore(Protocol):
    """The part of the journal a channel's context uses: its cursor and its durable state.

    Both writes are fenced: only the daemon that leads the journal can make them.
    """

    async def cursor(self, name: str) -> int: ...

    async def save_cursor(self, name: str, seq: int) -> None: ...

    async def channel_state(self, name: str) -> bytes | None: ...

    async def save_channel_state(self, name: str, state: bytes) -> None: ...


class Port(Protocol):
    """What the daemon offers its channels (the runtime implements it)."""

    @property
    def zone(self) -> ZoneInfo: ...

    @property
    def settings(self) -> Settings:
        """The daemon's configuration as loaded (a channel reads it, never changes it)."""
        ...

    @property
    def ready(self) -> bool: ...

    @property
    def recovered_at(self) -> float | None: ...

    @property
    def journal(self) -> CursorStore | None: ...

    async def records_after(self, seq: int, limit: int) -> list[Record]: ...

    def add_listener(self, listener: Callable[[Sequence[Record]], None]) -> None: ...

    def remove_listener(self, listener: Callable[[Sequence[Record]], None]) -> None: ...

    def add_erasure_listener(self, listener: Callable[[int], None]) -> None: ...

    def remove_erasure_listener(self, listener: Callable[[int], None]) -> None: ...

    async def submit(self, command: Submit, personal: dict[str, Any] | None) -> Receipt: ...

    async def execute(self, command: Command, personal: dict[str, Any] | None) -> list[Event]: ...

    async def pieces(self, interaction_id: int) -> dict[str, dict[str, Any]]:
        """Return an interaction's personal data by digest (the submission, a transfer's note,
        the party a hand-over named), only what the journal holds the digest of."""
        ...

    async def erased(self, interaction_id: int) -> bool:
        """Return whether an interaction's personal data was erased (the journal holds its
        digests, the personal-data store none of it)."""
        ...

    async def read(self, reader: Callable[[Engine], T]) -> T:
        """Run ``reader`` on the engine between batches (all it shows is durable); ``Unavailable``
        when not ready. ``reader`` must only read, and quickly: the engine waits for it."""
        ...
