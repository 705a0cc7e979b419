"""``[adapters.asterisk]``: the Asterisk the calls come from, and how calls map to the engine.

The ARI password is never in config.toml: ``password_env`` names the environment variable that
holds it. Dialled numbers map to motives (``[adapters.asterisk.numbers]``, a call to a number
not listed gets ``motive``), and each advisor who takes calls names the endpoint their phone
is reached at (``[adapters.asterisk.endpoints]``, ``"claire.martin" = "PJSIP/1001"``): an
offer to an advisor without one is left to expire, with a warning.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["AsteriskSettings"]

_Endpoint = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]+/\S+$", examples=["PJSIP/1001"])]


class AsteriskSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ari_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+/?$")] = (
        "http://127.0.0.1:8088"
    )
    """Asterisk's HTTP server (``http.conf``), without ``/ari``."""
    username: str
    """The ARI user (``ari.conf``)."""
    password_env: Annotated[str, msgspec.Meta(min_length=1)]
    """The variable holding the ARI user's password."""
    app: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$")] = "aiguillage"
    """The Stasis application the dialplan sends calls to: ``Stasis(aiguillage)``."""
    numbers: dict[str, str] = {}
    """Dialled number → motive (a configured one)."""
    motive: str = "general"
    """The motive of a call to a number not in ``numbers``."""
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "fr"
    endpoints: dict[str, _Endpoint] = {}
    """Advisor id → the endpoint their phone rings at."""
    closed_sound: str = "sound:aiguillage-closed"
    """The media played to a caller outside opening hours, before the call ends."""
    moh_class: str = "default"
    """The music-on-hold class (``musiconhold.conf``) callers hear while queued."""
    holding_bridge: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$")] = (
        "aiguillage-holding"
    )
    """The id of the holding bridge where queued callers wait."""
    reconnect_max_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    """The longest wait between two attempts to reconnect the event WebSocket."""
