"""``[adapters.x]``: the X account the channel serves, and how X reaches it.

Secrets never sit in ``config.toml``: the settings name the environment variable that holds the
app's consumer secret (the key of the Account Activity webhook's CRC answers and signatures),
and the file or variable that holds the account's user token (it sends the answers and reads
mentions and direct messages), and, for the replay after downtime, the app's bearer token.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from aiguillage.adapters.channels.social.oauth import OAuthSettings

__all__ = ["XSettings"]

_Env = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,19}$", examples=["2244994945"])]


class XSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The settings of the ``x`` plugin (see ``channel``)."""

    oauth_vendor: ClassVar[str] = "x"

    user_id: _Id
    """The account whose direct messages and mentions are taken, and which answers."""
    mode: Literal["webhook", "polling"] = "webhook"
    """``webhook``: X's Account Activity delivers (a paid access level); ``polling``: the
    channel reads the mentions and direct-message endpoints every ``poll_every_s``."""
    poll_every_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    first_look_back_s: Annotated[int, msgspec.Meta(ge=0, le=30 * 86_400)] = 86_400
    """Polling, with no high-water mark yet (the channel's first poll): how far back mentions
    and direct messages are taken, page after page."""
    app_id: _Id | None = None
    """The X app's id: a direct message sent by this app (``source_app_id``) is one of our
    answers; one sent from another app (X's own) is an answer typed there."""
    consumer_secret_env: _Env = "AIGUILLAGE_X_CONSUMER_SECRET"
    """The variable holding the app's consumer secret (webhook mode)."""
    user_token_env: _Env | None = None
    """The variable holding the account's user access token (read at start)..."""
    user_token_file: str | None = None
    """... or the file holding it (read again whenever it changes: no restart to renew it)..."""
    oauth: OAuthSettings | None = None
    """... or ``[adapters.<name>.oauth]``: OAuth 2.0 user context, the grant kept in an
    encrypted store that ``aiguillage channel authorize`` fills, refreshed (2 h tokens, rotating
    refresh tokens with ``offline.access``)."""
    bearer_token_env: _Env | None = None
    """The variable holding the app's bearer token, for the webhook replay after downtime."""
    webhook_id: _Id | None = None
    """The webhook X registered for the app: with ``bearer_token_env``, deliveries missed
    while the daemon was down (up to 24 hours) are replayed at start."""
    api_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+/?$")] = "https://api.x.com"
    """Where the X API is (a test's fake)."""
    motive: str = "general"
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "fr"
    answered_elsewhere_reason: str = "answered"
    """The ``[reasons] close`` code an interaction is closed with when its answer was typed in
    X's own app: the clock stops there."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0

    def __post_init__(self) -> None:
        given = [self.user_token_env, self.user_token_file, self.oauth]
        if sum(g is not None for g in given) != 1:
            raise ValueError(
                "give the account's user token by exactly one of user_token_env (a variable, "
                "read at start), user_token_file (a file, read again when it changes) or "
                "[adapters.<name>.oauth] (a store that `aiguillage channel authorize` fills)"
            )
        if (self.webhook_id is None) != (self.bearer_token_env is None):
            raise ValueError(
                "the replay after downtime needs both webhook_id and bearer_token_env "
                "(or neither: no replay)"
            )
