"""``[penalties]`` and ``[reports]``: what the contract charges, and the key signing reports.

``[penalties]`` states the contract's rules the penalty statement applies (``reports.penalties``):
per channel, an amount per breach (``breach_eur``; by default the channel's ``penalty_eur``,
which also weighs urgency in routing), an amount per point of service level under the channel's
monthly target (``point_eur``) and a cap per month (``cap_eur``); and a cap on the month's total
(``cap_eur`` of the table itself). Without the table, ``aiguillage report penalties`` refuses,
saying to add it.

``[reports] signing_key`` names the Ed25519 private key (PEM, or the 32 raw bytes) that signs
the reports and statements written as JSON, relative to the configuration file; its public half
goes to the authority, which checks them with ``aiguillage report verify``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from aiguillage.engine.policies import Channel

__all__ = ["ChannelPenalties", "PenaltySettings", "ReportSettings"]

_Euros = Annotated[float, msgspec.Meta(ge=0)]


class ChannelPenalties(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One channel's penalties, in euros."""

    breach_eur: _Euros | None = None
    """Per interaction whose deadline was missed; none: the channel's ``penalty_eur``."""
    point_eur: _Euros = 0.0
    """Per point (1 %) of service level under the channel's ``target_share`` over the month,
    pro rata (4.5 points under it cost 4.5 times this)."""
    cap_eur: _Euros | None = None
    """The most this channel's penalties add up to in a month; none: no cap."""


class PenaltySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The contract's penalties: each channel's, and a cap on the month's total."""

    channels: dict[Channel, ChannelPenalties] = {}
    """``[penalties.channels.<channel>]``; a channel left out charges its ``penalty_eur`` per
    breach and nothing else."""
    cap_eur: _Euros | None = None
    """The most the month's penalties add up to, all channels together; none: no cap."""


class ReportSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How the authority's reports are signed."""

    signing_key: str = ""
    """The Ed25519 private key file (PEM or 32 raw bytes), relative to the configuration file.
    Empty: the reports are not signed."""
