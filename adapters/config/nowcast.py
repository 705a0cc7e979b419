"""``[nowcast]``: how often the daemon simulates the rest of the day, and the what-ifs it shows.

Every ``every_minutes`` the daemon takes its engine's image and simulates the rest of the day
from it (``simulations.nowcast``) ``replications`` times in a worker process; each what-if of
``what_ifs`` is simulated beside the day as is, on the same draws. A what-if is a table:
``{ type = "move", count = 2, from_channel = "written", to_channel = "social" }`` moves two
advisors from now on; ``{ type = "call_in", channel = "voice", hour = 14 }`` calls one more
advisor in from 14:00.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from aiguillage.simulations.nowcast import WhatIf

__all__ = ["NowcastSettings"]


class NowcastSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How often, how many replications, and which what-ifs."""

    every_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] = 5
    replications: Annotated[int, msgspec.Meta(ge=1, le=200)] = 20
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 120.0
    """A nowcast still running after this is abandoned (its worker killed): the day's traffic
    read so far asks for more than the machine simulates in time."""
    what_ifs: tuple[WhatIf, ...] = ()
