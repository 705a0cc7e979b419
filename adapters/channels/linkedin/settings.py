"""``[adapters.linkedin]``: the organisation page whose comments are taken, and the API version.

The OAuth access token (scopes ``r_organization_social`` and ``w_organization_social``, granted
by a page administrator; it lasts 60 days) is read from a file or a variable named here, or
from the encrypted store that ``[adapters.<name>.oauth]`` names (refreshed by the channel);
never from ``config.toml``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from aiguillage.adapters.channels.social.oauth import OAuthSettings

__all__ = ["LinkedinSettings"]

_Env = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class LinkedinSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The settings of the ``linkedin`` plugin (see ``channel``)."""

    oauth_vendor: ClassVar[str] = "linkedin"

    organization_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,20}$")]
    """The organisation (``urn:li:organization:<id>``) whose posts' comments are taken, and
    which answers."""
    token_env: _Env | None = None
    """The variable holding the OAuth access token (read at start)..."""
    token_file: str | None = None
    """... or the file holding it (read again whenever it changes: no restart to renew it)..."""
    oauth: OAuthSettings | None = None
    """... or ``[adapters.<name>.oauth]``: the grant kept in an encrypted store that
    ``aiguillage channel authorize`` fills, and refreshed before it expires."""
    linkedin_version: Annotated[str, msgspec.Meta(pattern=r"^20[0-9]{2}(0[1-9]|1[0-2])$")] = (
        "202411"
    )
    """The ``LinkedIn-Version`` (``YYYYMM``) every request names; LinkedIn retires a version
    about a year after it is released: move to a newer one before."""
    api_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+/?$")] = (
        "https://api.linkedin.com"
    )
    """Where the REST API is (a test's fake)."""
    daily_calls: Annotated[int, msgspec.Meta(ge=100)] = 50_000
    """The calls the app may make a day (LinkedIn shows its limits in the Developer Portal's
    Analytics tab); they reset at midnight UTC. Past them LinkedIn answers 429."""
    reserve_for_answers: Annotated[int, msgspec.Meta(ge=0)] = 500
    """Calls polls never make: kept for answers."""
    recent_posts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    """The organisation's posts most recently modified whose comments are polled."""
    poll_every_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] | None = None
    """A fixed interval between polls; none: the polls are spread over the day's calls."""
    least_poll_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    overlap_s: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 3600
    first_look_back_s: Annotated[int, msgspec.Meta(ge=0, le=30 * 86_400)] = 86_400
    reply_threads: Annotated[int, msgspec.Meta(ge=0, le=500)] = 50
    """At most this many open threads are searched for new replies at each poll."""
    motive: str = "general"
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "fr"
    answered_elsewhere_reason: str = "answered"
    """The ``[reasons] close`` code an interaction is closed with when the organisation's own
    reply in its thread was typed on LinkedIn (not sent from here): the clock stops there."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0

    def __post_init__(self) -> None:
        given = [self.token_env, self.token_file, self.oauth]
        if sum(g is not None for g in given) != 1:
            raise ValueError(
                "give the OAuth access token by exactly one of token_env (a variable, read at "
                "start), token_file (a file, read again when it changes) or "
                "[adapters.<name>.oauth] (a store that `aiguillage channel authorize` fills)"
            )
        if self.reserve_for_answers >= self.daily_calls:
            raise ValueError(
                f"reserve_for_answers ({self.reserve_for_answers}) must be below daily_calls "
                f"({self.daily_calls}), or polls could never run"
            )

    @property
    def organization(self) -> str:
        return f"urn:li:organization:{self.organization_id}"
