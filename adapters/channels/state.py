"""A channel's durable state, typed: a msgspec Struct kept as JSON in the journal.

A mail channel resumes from an IMAP UID with its UIDVALIDITY, a social network from a page token
or a high-water mark: more than the one integer of an adapter's cursor. The journal keeps such a
state as opaque bytes (at most 64 KiB), written only by the daemon that leads it, like cursors;
``ChannelState`` gives a channel its own Struct back. A stored state that no longer decodes (its
Struct changed incompatibly between versions) is an error naming the channel, never a silent
fresh start, which would fetch every message again or skip some.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

import msgspec

__all__ = ["ChannelState", "ChannelStateError", "StateStore"]

T = TypeVar("T", bound=msgspec.Struct)


class ChannelStateError(Exception):
    """A channel's stored state cannot be read as the Struct the channel expects."""


class StateStore(Protocol):
    """The part of the journal that keeps channels' states (both stores implement it)."""

    async def channel_state(self, name: str) -> bytes | None: ...

    async def save_channel_state(self, name: str, state: bytes) -> None: ...


class ChannelState(Generic[T]):
    """The state of channel ``name``, read and written as a ``type_``."""

    def __init__(self, store: StateStore, name: str, type_: type[T]) -> None:
        self._store = store
        self.name = name
        self._type = type_
        self._decoder = msgspec.json.Decoder(type_)

    async def get(self) -> T | None:
        """Return the state saved last, or None if the channel never saved one."""
        stored = await self._store.channel_state(self.name)
        if stored is None:
            return None
        try:
            return self._decoder.decode(stored)
        except msgspec.DecodeError as exc:
            raise ChannelStateError(
                f"the stored state of channel {self.name!r} is not a {self._type.__name__} "
                f"({exc}): it was written by another version of the channel; save a new one "
                "explicitly (or remove it) once you know where the channel should resume"
            ) from None

    async def put(self, value: T) -> None:
        """Keep ``value`` durably; fenced and size-limited by the journal (``JournalError``)."""
        await self._store.save_channel_state(self.name, msgspec.json.encode(value))
