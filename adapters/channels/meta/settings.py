"""``[adapters.meta]``: the Meta app, the Page and the Instagram account it serves.

Secrets never sit in ``config.toml``: the settings name the environment variables that hold the
app secret (the key of the webhook's signatures) and the verify token (the webhook's
subscription handshake), and the file or variable that holds the Page access token.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["MetaSettings"]

_Env = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,32}$", examples=["104857600000000"])]


class MetaSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The settings of the ``meta`` plugin (see ``channel``)."""

    page_id: _Id
    """The Facebook Page whose messages and comments are taken, and which answers."""
    instagram_id: _Id | None = None
    """The Instagram professional account linked to the Page; none: Instagram is not served."""
    app_id: _Id | None = None
    """The Meta app's id: an echo of a message sent by this app is one of our answers; an echo
    from another app (Meta Business Suite) is an answer typed there."""
    app_secret_env: _Env = "AIGUILLAGE_META_APP_SECRET"
    """The variable holding the app secret, which signs the webhook's deliveries."""
    verify_token_env: _Env = "AIGUILLAGE_META_VERIFY_TOKEN"
    """The variable holding the verify token given to Meta with the webhook's URL."""
    page_token_env: _Env | None = None
    """The variable holding the Page access token (read at start)..."""
    page_token_file: str | None = None
    """... or the file holding it (read again whenever it changes: no restart to renew it)."""
    graph_version: Annotated[str, msgspec.Meta(pattern=r"^v[0-9]{1,3}\.[0-9]$")] = "v21.0"
    """The Graph API version every request names; Meta retires each about two years after it
    is released: move to a newer one before."""
    graph_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+/?$")] = (
        "https://graph.facebook.com"
    )
    """Where the Graph API is (a test's fake)."""
    human_agent_tag: bool = False
    """Answer private messages for seven days (tag ``HUMAN_AGENT``) rather than 24 hours:
    only once Meta approved the app for the Human Agent permission."""
    motive: str = "general"
    """The motive of a message's interaction (an advisor may transfer it to another)."""
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "fr"
    urgent_before_s: Annotated[int, msgspec.Meta(ge=0)] = 7200
    """Waiting work whose messaging window closes within this is given ``urgent_priority``
    (0: never)."""
    urgent_priority: Annotated[int, msgspec.Meta(ge=0, le=9)] = 9
    urgent_reason: str = "urgent"
    """The ``[reasons] steer`` code the priority is journaled with."""
    urgency_every_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    """How often the windows are looked at."""
    answered_elsewhere_reason: str = "answered"
    """The ``[reasons] close`` code an interaction is closed with when its answer was typed in
    Meta's own tools (an echo from another app): the clock stops there."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    """How long one Graph API request may take."""

    def __post_init__(self) -> None:
        if (self.page_token_env is None) == (self.page_token_file is None):
            raise ValueError(
                "give the Page access token by exactly one of page_token_env (a variable, read "
                "at start) or page_token_file (a file, read again when it changes)"
            )

    @property
    def window_s(self) -> int:
        """How long after the customer's latest message a private answer may be sent."""
        return 7 * 86_400 if self.human_agent_tag else 86_400
