"""``[penalties]`` and ``[reports]``: what the contract charges, and the key signing reports.

``[penalties]`` states the contract's rules the penalty statement applies (``reports.penalties``):
per channel, an amount per breach (``breach_eur``; by default the channel's ``penalty_eur``,
which also weighs urgency in routing), an amount per point of service level under the channel's
monthly target (``point_eur``), an amount per interaction transferred where the contract sets
one (``transfer_eur``, none by default) and a cap per month (``cap_eur``); an amount per started
hour of the service's unavailability beyond an allowed share of the opening hours
(``unavailable_hour_eur``, ``allowed_unavailable_share``); and a cap on the month's total
(``cap_eur`` of the table itself). Without the table, ``aiguillage report penalties`` refuses,
saying to add it.

``[reports] signing_key`` names the Ed25519 private key (PEM, or the 32 raw bytes) that signs
the reports and statements written as JSON, relative to the configuration file; its public half
goes to the authority, which checks them with ``aiguillage report verify``.

``[reports.head_export]`` sends the journal's head (its latest position and hash) every day at
``at`` (local time) to a ``file`` the authority keeps (one line appended per day) and/or a ``url``
(POSTed, retried with back-off until accepted), so that a journal cut short or rewritten later
is detected (``aiguillage report head-check``; see ``reports.heads``).

``[reports.plan."YYYY-MM".<channel>]`` states the month's plan, per channel: the interactions
planned (``received``) and, if the plan sets one, its service level (``service_level``); the
month's report then shows each beside the actual, with the gap (``reports.month_plan``).
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

from aiguillage.engine.policies import Channel

__all__ = [
    "ChannelPenalties",
    "HeadExportSettings",
    "PenaltySettings",
    "PlannedChannel",
    "ReportSettings",
]

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
    transfer_eur: _Euros = 0.0
    """Per interaction an advisor transferred (sent back to a queue) at least once, counted in
    the month; 0 (the default): transfers cost nothing."""


class PenaltySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The contract's penalties: each channel's, and a cap on the month's total."""

    channels: dict[Channel, ChannelPenalties] = {}
    """``[penalties.channels.<channel>]``; a channel left out charges its ``penalty_eur`` per
    breach and nothing else."""
    cap_eur: _Euros | None = None
    """The most the month's penalties add up to, all channels together; none: no cap."""
    unavailable_hour_eur: _Euros = 0.0
    """Per started hour the service was unavailable within opening hours, beyond
    ``allowed_unavailable_share`` of the month's opening time; 0: unavailability costs nothing."""
    allowed_unavailable_share: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    """The share of the month's opening time the service may be unavailable without penalty
    (0.005: 99.5 % availability owed)."""


class HeadExportSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where and when the daemon exports the journal's head, every day."""

    file: str = ""
    """A file the authority keeps (a mounted share, say), relative to the configuration file:
    one line appended per export. Empty: none."""
    url: str = ""
    """An ``http://`` or ``https://`` address the authority receives each export at, POSTed as
    JSON. Empty: none."""
    at: Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "00:05"
    """When, each day, in the business calendar's time zone (``HH:MM``)."""
    secret_env: str = ""
    """The environment variable holding the secret the POSTs are signed with (HMAC-SHA256, as
    the ``webhook`` adapter signs its deliveries). Empty: the POSTs carry no HMAC (the line is
    still signed with ``signing_key`` when there is one)."""
    backoff_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 5.0
    """The wait before the first retry of a POST; each further retry waits twice longer, up to
    an hour."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    """How long one POST may take before it counts as failed."""

    def __post_init__(self) -> None:
        # msgspec reports a ValueError raised here with the table's path.
        if not self.file and not self.url:
            raise ValueError("give a file, a url or both, to export the journal's head to")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r}: give an http:// or https:// address")


class PlannedChannel(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One channel's plan for one month."""

    received: Annotated[int, msgspec.Meta(ge=0)]
    """The interactions planned, counted as the report counts them (in the month of their
    deadline)."""
    service_level: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    """The service level planned, a share (0.8 for 80 %); none: the channel's target."""


class ReportSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How the authority's reports are signed, and where the journal's head is exported."""

    signing_key: str = ""
    """The Ed25519 private key file (PEM or 32 raw bytes), relative to the configuration file.
    Empty: the reports are not signed."""
    head_export: HeadExportSettings | None = None
    """``[reports.head_export]``; none: the head is exported only on demand."""
    plan: dict[str, dict[Channel, PlannedChannel]] = {}
    """``[reports.plan."YYYY-MM".<channel>]``: the months' plans; a month left out has none."""

    def __post_init__(self) -> None:
        for month in self.plan:
            if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
                raise ValueError(
                    f'plan: {month!r} is not a month: name each as "YYYY-MM", such as '
                    '[reports.plan."2027-03".voice]'
                )
