"""OAuth 2.0 access tokens for IMAP's XOAUTH2: a refresh token exchanged, and renewed in time.

Large hosted mailboxes accept no password over IMAP any more: the channel authenticates with
an access token, which lives an hour or so. With ``oauth_token_url``, the refresh token and the
client's credentials (from the environment) are exchanged at that endpoint for an access token
(RFC 6749, section 6), kept until a minute before it expires. A provider that refuses the
refresh token (``invalid_grant``) needs someone to authorise the channel again: that raises
``PermissionError``, and the channel reports ``needs_reauthorisation``. Without a token URL, the
access token is read as it is from ``oauth_access_token_env``.
"""

from __future__ import annotations

import os
import time

import httpx

from aiguillage.adapters.channels.mail.settings import MailSettings

__all__ = ["AccessTokens"]

_EARLY_S = 60.0
"""A token is renewed this long before it expires."""


class AccessTokens:
    """Gives a valid access token, refreshing it when needed."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        fixed: str = "",
    ) -> None:
        self._url, self._client_id = token_url, client_id
        self._secret, self._refresh = client_secret, refresh_token
        self._token, self._until = fixed, float("inf") if fixed else 0.0

    @classmethod
    def of(cls, settings: MailSettings) -> AccessTokens:
        """Return the token source the settings describe; ``ValueError`` naming what to set."""
        if not settings.oauth_token_url:
            token = os.environ.get(settings.oauth_access_token_env, "")
            if not token:
                raise ValueError(
                    'auth = "xoauth2" needs oauth_token_url (with oauth_client_id, '
                    "oauth_client_secret_env and oauth_refresh_token_env), or "
                    "oauth_access_token_env naming a variable that holds an access token"
                )
            return cls("", "", "", "", fixed=token)
        missing = [
            name
            for name, value in (
                ("oauth_client_id", settings.oauth_client_id),
                ("oauth_client_secret_env", os.environ.get(settings.oauth_client_secret_env, "")),
                ("oauth_refresh_token_env", os.environ.get(settings.oauth_refresh_token_env, "")),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                f'auth = "xoauth2" with oauth_token_url needs {", ".join(missing)} '
                "(the *_env settings name variables set in the daemon's environment)"
            )
        return cls(
            settings.oauth_token_url,
            settings.oauth_client_id,
            os.environ[settings.oauth_client_secret_env],
            os.environ[settings.oauth_refresh_token_env],
        )

    async def access_token(self) -> str:
        """Return a token valid for at least a minute more."""
        if self._token and time.monotonic() < self._until:
            return self._token
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh,
            "client_id": self._client_id,
            "client_secret": self._secret,
        }
        async with httpx.AsyncClient(timeout=15) as client:
            response = await client.post(self._url, data=form)
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        if response.status_code in (400, 401) and body.get("error") in (
            "invalid_grant",
            "invalid_client",
            "unauthorized_client",
        ):
            raise PermissionError(
                f"the identity provider refused the refresh token ({body.get('error')}): "
                "authorise the mailbox again and set the new refresh token"
            )
        response.raise_for_status()
        self._token = str(body["access_token"])
        self._until = time.monotonic() + float(body.get("expires_in", 3600)) - _EARLY_S
        refreshed = body.get("refresh_token")
        if isinstance(refreshed, str) and refreshed:
            self._refresh = refreshed  # rotated by the provider: the new one from now on
        return self._token
