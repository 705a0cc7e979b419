"""Which advisors may be offered work now, per channel, as bit masks.

Each advisor gets a bit when it joins the roster, in the order advisors join. A removed
advisor's slot stays taken, so no advisor ever inherits another's bit and a mask read before a
removal never names the wrong person. A channel's mask holds the bits of the advisors who may be
offered one more interaction of it now: "waiting for work and eligible" is then one integer AND,
whatever the size of the roster.
"""

from __future__ import annotations

from .advisors import Advisor, open_channels
from .policies import CHANNELS, Channel, MixingPolicy

__all__ = ["ReadyMasks"]


class ReadyMasks:
    """The advisors' bits, and per channel the mask of those who may take one more now."""

    __slots__ = ("_ids", "_open", "index", "masks")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        """Each advisor's bit, given in the order advisors were added."""
        self._ids: list[str | None] = []
        self.masks: dict[Channel, int] = dict.fromkeys(CHANNELS, 0)
        self._open: dict[str, tuple[Channel, ...]] = {}
        """Per advisor, the channels it was last found open to: ``masks`` as rows."""

    @property
    def seats(self) -> list[str | None]:
        """Return the advisor ids in bit order, ``None`` where an advisor was removed."""
        return list(self._ids)

    def seat(self, advisor_id: str | None) -> None:
        """Give the next bit to an advisor; ``None`` keeps a removed advisor's slot taken."""
        if advisor_id is not None:
            self.index[advisor_id] = len(self._ids)
        self._ids.append(advisor_id)

    def unseat(self, advisor_id: str) -> None:
        """Clear a removed advisor's bits; its slot stays taken."""
        self._open.pop(advisor_id, None)
        position = self.index.pop(advisor_id)
        self._ids[position] = None
        keep = ~(1 << position)
        masks = self.masks
        for channel, mask in masks.items():
            masks[channel] = mask & keep

    def open_to(self, advisor_id: str) -> tuple[Channel, ...]:
        """Return the channels an advisor was last found open to."""
        return self._open.get(advisor_id, ())

    def refresh(self, advisor: Advisor, mixing: MixingPolicy) -> bool:
        """Bring an advisor's bits up to date; return whether a channel opened to it."""
        advisor_id = advisor.id
        open_now = open_channels(advisor, mixing)
        if self._open.get(advisor_id) == open_now:
            return False
        self._open[advisor_id] = open_now
        bit = 1 << self.index[advisor_id]
        masks = self.masks
        became_ready = False
        for channel in CHANNELS:
            mask = masks[channel]
            if channel in open_now:
                if not mask & bit:
                    masks[channel] = mask | bit
                    became_ready = True
            elif mask & bit:
                masks[channel] = mask ^ bit
        return became_ready

    def members(self, mask: int) -> list[str]:
        """Return the ids of the advisors whose bits are set in a mask, in roster order."""
        ids = self._ids
        found: list[str] = []
        bits = bin(mask)[:1:-1]  # least significant bit first
        position = bits.find("1")
        while position >= 0:
            advisor_id = ids[position]
            if advisor_id is not None:  # a removed advisor's bit is always cleared; be sure
                found.append(advisor_id)
            position = bits.find("1", position + 1)
        return found
