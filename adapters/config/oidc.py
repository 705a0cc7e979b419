"""``[oidc]``: signing people in through the organisation's OpenID Connect provider.

Optional: without the table, people sign in with a token (``POST /app/session``). With it,
``GET /app/oidc/login`` sends them to the provider, and its answer opens the same browser
session (see ``daemon.api.oidc``). The provider's claims say who is who: a claim naming the
role (``role_claim``), or groups mapped to roles (``group_roles``), and, for advisors, a claim
naming the advisor's id in the roster.

The client secret never sits in ``config.toml``: ``client_secret_env`` names the environment
variable that holds it, and the daemon refuses to start when it is empty.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from aiguillage.engine.tokens import Role

__all__ = ["OidcSettings"]

_Url = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/]+(/\S*)?$")]
_Claim = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:/-]*$")]


class OidcSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The provider, this daemon as its client, and how its claims map to roles."""

    issuer: _Url
    """The provider's issuer URL, as its ID tokens name it; its discovery document is at
    ``<issuer>/.well-known/openid-configuration``."""
    client_id: Annotated[str, msgspec.Meta(min_length=1)]
    client_secret_env: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = (
        "AIGUILLAGE_OIDC_CLIENT_SECRET"
    )
    """The environment variable holding the client secret."""
    redirect_url: _Url
    """This daemon's ``/app/oidc/callback`` as the browser reaches it, registered with the
    provider (``https://desk.example.fr/app/oidc/callback``)."""
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    role_claim: _Claim = ""
    """A claim whose value is the role (``advisor``, ``supervisor``, ``integrator``,
    ``admin``). Empty: the role comes from the groups."""
    group_claim: _Claim = "groups"
    """The claim listing the person's groups, for ``group_roles``."""
    group_roles: dict[str, Role] = {}
    """Group -> role; the first group of this table (in its order) the person is in wins."""
    advisor_claim: _Claim = "preferred_username"
    """For role ``advisor``: the claim holding the advisor's id in the roster."""
    after_sign_in: Annotated[str, msgspec.Meta(pattern=r"^/[^/\\]")] = "/app/"
    """Where the browser goes once signed in: a path of this daemon (never another site)."""

    def __post_init__(self) -> None:
        if not self.role_claim and not self.group_roles:
            raise ValueError(
                'say how people get a role: role_claim = "<claim>", or a table '
                "[oidc.group_roles] mapping groups to roles"
            )
        if "openid" not in self.scopes:
            raise ValueError('scopes must include "openid"')
        for name, url in (("issuer", self.issuer), ("redirect_url", self.redirect_url)):
            if urlsplit(url).scheme != "https" and not _loopback(urlsplit(url).hostname):
                raise ValueError(f"{name} must be an https:// URL (http only on loopback)")


def _loopback(host: str | None) -> bool:
    if host in (None, ""):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False
