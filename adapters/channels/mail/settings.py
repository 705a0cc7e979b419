"""``[adapters.mail]``: the mailbox the complaints arrive in, and the relay the answers leave by.

Secrets never sit in ``config.toml``: the settings name the environment variables that hold
them (``imap_password_env``, ``smtp_password_env``, the OAuth client's secret and refresh
token), and the channel refuses to start, saying which to set, when one is empty.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

import msgspec

__all__ = ["MailSettings", "is_loopback"]

_Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
_Address = Annotated[
    str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["reclamations@example.fr"])
]


class MailSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    imap_host: str
    imap_port: _Port = 993
    imap_user: str
    imap_tls: bool | None = None
    """Implicit TLS (port 993); None: on, except for a server on loopback."""
    auth: Literal["password", "xoauth2"] = "password"
    imap_password_env: str = ""
    """With ``auth = "password"``: the variable holding the mailbox's password."""
    oauth_token_url: str = ""
    """With ``auth = "xoauth2"``: the identity provider's token endpoint, where the refresh
    token is exchanged for access tokens (refreshed before they expire)."""
    oauth_client_id: str = ""
    oauth_client_secret_env: str = ""
    oauth_refresh_token_env: str = ""
    oauth_access_token_env: str = ""
    """Without ``oauth_token_url``: a variable holding an access token as it is (tests, or a
    token renewed by something else)."""
    inbox: str = "INBOX"
    processed_folder: str = "Aiguillage-traites"
    quarantine_folder: str = "Aiguillage-quarantaine"
    poll_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 60.0
    """How often to look when the server has no IDLE (and at most how long an IDLE lasts
    without news, below 29 minutes anyway)."""
    smtp_host: str
    smtp_port: _Port = 587
    smtp_security: Literal["starttls", "tls", "none"] | None = None
    """None: STARTTLS, or none for a relay on loopback; "none" elsewhere is refused."""
    smtp_user: str = ""
    smtp_password_env: str = ""
    from_address: _Address
    from_name: str = ""
    sources: tuple[str, ...] = ("email", "webform")
    """The sources whose answers leave by this channel: e-mail, and the web form's."""
    motive: str = "general"
    """The motive of a mail's interaction (an advisor may transfer it to another)."""
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "fr"
    acknowledge: bool = True
    acknowledge_window_s: Annotated[int, msgspec.Meta(ge=0)] = 86_400
    """At most one acknowledgement per sender within this (0: one per complaint)."""
    max_attachment_bytes: Annotated[int, msgspec.Meta(ge=0)] = 10 * 1024 * 1024
    max_mail_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 40 * 1024 * 1024
    """A larger mail is moved to the quarantine folder unread."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (no TLS needed on the way)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
