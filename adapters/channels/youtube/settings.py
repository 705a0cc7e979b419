"""``[adapters.youtube]``: the YouTube channel whose comments are taken, and the day's quota.

The OAuth access token (scope ``youtube.force-ssl``, the channel owner's consent) is read from
a file or a variable named here, or from the encrypted store that ``[adapters.<name>.oauth]``
names (refreshed by the channel); never from ``config.toml``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from aiguillage.adapters.channels.social.oauth import OAuthSettings

__all__ = ["YoutubeSettings"]

_Env = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_ChannelId = Annotated[str, msgspec.Meta(pattern=r"^UC[A-Za-z0-9_-]{22}$")]
_VideoId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{11}$")]


class YoutubeSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The settings of the ``youtube`` plugin (see ``channel``)."""

    oauth_vendor: ClassVar[str] = "google"

    channel_id: _ChannelId
    """The YouTube channel (``UC…``) whose videos' comments are taken, and which answers."""
    video_ids: list[_VideoId] = []
    """Poll only these videos' comments (one list call each); none: every video of the
    channel at once (``allThreadsRelatedToChannelId``, one call)."""
    token_env: _Env | None = None
    """The variable holding the OAuth access token (read at start)..."""
    token_file: str | None = None
    """... or the file holding it (read again whenever it changes: no restart to renew it)..."""
    oauth: OAuthSettings | None = None
    """... or ``[adapters.<name>.oauth]``: the grant kept in an encrypted store that
    ``aiguillage channel authorize`` fills, and refreshed before it expires."""
    api_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+/?$")] = (
        "https://youtube.googleapis.com"
    )
    """Where the YouTube Data API is (a test's fake)."""
    daily_quota: Annotated[int, msgspec.Meta(ge=100)] = 10_000
    """The units the Google Cloud project may spend a day (10,000 unless Google granted
    more); they reset at midnight, Pacific time."""
    reserve_for_answers: Annotated[int, msgspec.Meta(ge=0)] = 2_000
    """Units polls never spend: kept for answers (50 each)."""
    poll_every_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] | None = None
    """A fixed interval between polls; none: the polls are spread over the day's quota."""
    least_poll_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    """The shortest interval the spread over the day may give."""
    overlap_s: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 3600
    """How far behind its high-water mark a comment is still looked for (made visible late,
    held for review then published)."""
    first_look_back_s: Annotated[int, msgspec.Meta(ge=0, le=30 * 86_400)] = 86_400
    """With no high-water mark yet (the channel's first start), how far back comments are
    taken."""
    reply_threads: Annotated[int, msgspec.Meta(ge=0, le=500)] = 50
    """At most this many open threads are searched for new replies at each poll (one call
    each), most recent first."""
    motive: str = "general"
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "fr"
    answered_elsewhere_reason: str = "answered"
    """The ``[reasons] close`` code an interaction is closed with when the channel's own reply
    in its thread was typed in YouTube Studio (not sent from here): the clock stops there."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0

    def __post_init__(self) -> None:
        given = [self.token_env, self.token_file, self.oauth]
        if sum(g is not None for g in given) != 1:
            raise ValueError(
                "give the OAuth access token by exactly one of token_env (a variable, read at "
                "start), token_file (a file, read again when it changes) or "
                "[adapters.<name>.oauth] (a store that `aiguillage channel authorize` fills)"
            )
        if self.reserve_for_answers >= self.daily_quota:
            raise ValueError(
                f"reserve_for_answers ({self.reserve_for_answers}) must be below daily_quota "
                f"({self.daily_quota}), or polls could never run"
            )
