"""An access token read from a channel's encrypted store and refreshed before it expires.

``fresh()`` returns the access token to send with. Within ``refresh_before_s`` of its expiry
(or once the platform answered 401 to it: ``refuse``), it first asks the token endpoint for a
new one with the refresh token, and writes the new grant to the store (a rotated refresh token
on disk before the old one is forgotten). Then:

- the refresh refused (``invalid_grant``: revoked, expired, already used), or an expired token
  without a refresh token: ``NeedsReauthorisation``, reported to the channel's health, and
  nothing more is asked of the token endpoint until ``aiguillage channel authorize`` writes a
  new grant to the store; the store is read again whenever its file changes, no restart;
- the token endpoint down while the token is still valid: the token is used, and the refresh
  tried again at the next call; once the token expired: ``TokenUnavailable`` (an ``Unavailable``
  for the polls, which wait, and a temporary ``SendFailed`` for the outbox, which retries).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import anyio
import httpx

from aiguillage.adapters.channels.outgoing import NeedsReauthorisation, SendFailed
from aiguillage.adapters.channels.port import Unavailable
from aiguillage.adapters.channels.social import oauth
from aiguillage.adapters.channels.social.token_store import Grant, StoreError, TokenStore

__all__ = ["OAuthToken", "TokenUnavailable"]


class TokenUnavailable(Unavailable, SendFailed):
    """No valid access token now, for a reason that passes (the token endpoint is down)."""

    def __init__(self, reason: str) -> None:
        Exception.__init__(self, reason)
        self.retry_after_s, self.leader = 5, None
        self.reason, self.permanent = reason, False


class OAuthToken:
    """One channel's token from its store (see the module docstring)."""

    def __init__(
        self,
        settings: oauth.OAuthSettings,
        *,
        vendor: str,
        channel: str,
        what: str,
        on_refused: Callable[[str], None] = lambda reason: None,
        timeout_s: float = 10.0,
    ) -> None:
        self._settings = settings
        self._endpoints = settings.endpoints(vendor)
        self._channel = channel
        self._what = what
        self._on_refused = on_refused
        self._timeout_s = timeout_s
        self.store = TokenStore(settings.store, key_env=settings.key_env, channel=channel)
        self._client_id = os.environ.get(settings.client_id_env, "").strip()
        self._client_secret = (
            os.environ.get(settings.client_secret_env, "").strip()
            if settings.client_secret_env
            else ""
        )
        self._grant: Grant | None = None
        self._stamp: tuple[int, int] | None = None
        self._stale = False
        """The platform refused the access token in place: refresh before using it again."""
        self._after_refusal = ""
        """The access token a refresh after a refusal gave: refused too, no second refresh."""
        self.refused = ""
        """Why the grant in place cannot give a token (authorise again), or empty."""
        self.refreshes = 0
        self._unsaved = False
        """A refresh's grant could not be written: written again before it is used."""
        self._lock = anyio.Lock()

    def check(self) -> None:
        """At the channel's start: raise ``StoreError`` (naming the file and the fix) when the
        store cannot be read, or ``ValueError`` when the client's id is not set. A store not
        written yet is not an error: the channel waits for ``channel authorize``."""
        if not self._client_id:
            raise ValueError(f"set the environment variable {self._settings.client_id_env}")
        self._read()

    def _read(self) -> None:
        stamp = self.store.stamp()
        if stamp == self._stamp:
            return
        grant = self.store.load()
        self._stamp = stamp
        if grant is not None and not self._unsaved and grant != self._grant:
            self._grant, self._stale, self.refused = grant, False, ""
            self._after_refusal = ""

    def _needs(self, reason: str, *, hold: bool = True) -> NeedsReauthorisation:
        if hold:
            self.refused = reason
        self._on_refused(reason)
        return NeedsReauthorisation(reason)

    async def fresh(self) -> str:
        """The access token to send with, refreshed first when it is about to expire."""
        async with self._lock:
            try:
                self._read()
            except StoreError as exc:
                raise self._needs(str(exc), hold=False) from None
            grant = self._grant
            if grant is None:
                raise self._needs(
                    f"needs re-authorisation: no grant in {self.store.path} yet; run "
                    f"`aiguillage channel authorize {self._channel}`",
                    hold=False,
                )
            if self.refused:
                raise NeedsReauthorisation(self.refused)
            if self._unsaved:
                try:
                    await anyio.to_thread.run_sync(self.store.save, grant)
                except StoreError as exc:
                    raise TokenUnavailable(f"{self._what} is not kept: {exc}") from None
                self._unsaved, self._stamp = False, self.store.stamp()
            if not self._stale and not self._expiring(grant):
                return grant.access_token
            if not grant.refresh_token:
                raise self._needs(
                    f"needs re-authorisation: {self._what} expired and the platform gave no "
                    f"refresh token; run `aiguillage channel authorize {self._channel}`"
                )
            try:
                return await self._refresh(grant)
            except oauth.GrantRefused as exc:
                raise self._needs(
                    f"needs re-authorisation: {exc}; run `aiguillage channel authorize "
                    f"{self._channel}`"
                ) from None
            except StoreError as exc:
                raise TokenUnavailable(f"{self._what} was refreshed but not kept: {exc}") from None
            except (oauth.OAuthError, httpx.HTTPError) as exc:
                why = exc if isinstance(exc, oauth.OAuthError) else type(exc).__name__
                if not self._stale and not self._expired(grant):
                    return grant.access_token  # still valid: the refresh is tried again later
                raise TokenUnavailable(f"{self._what} could not be refreshed: {why}") from None

    async def _refresh(self, grant: Grant) -> str:
        after_refusal = self._stale
        renewed = await anyio.to_thread.run_sync(self._refresh_locked, grant)
        self._grant, self._stale = renewed, False
        self._after_refusal = renewed.access_token if after_refusal else ""
        self._stamp = self.store.stamp()
        return renewed.access_token

    def _refresh_locked(self, grant: Grant) -> Grant:
        """Under the store's lock: the grant another process just wrote (a refresh of its own,
        a new consent) if there is one, else a refresh of ``grant``, written before returned."""
        with self.store.locked():
            kept = self.store.load()
            if kept is not None and kept != grant:
                if not self._expiring(kept):
                    return kept
                grant = kept
            client = oauth.Client(self._client_id, self._client_secret)
            request = oauth.refresh_request(self._endpoints, client, grant.refresh_token)
            with httpx.Client(timeout=self._timeout_s) as http:
                renewed = oauth.granted(request.send(http), grant)
            # The new grant on disk before the old refresh token is forgotten: the platform
            # may already have revoked the old one (rotation). A failure to write is not
            # hidden, but the new grant is still used for as long as this process runs.
            try:
                self.store.save(renewed)
            except StoreError:
                self._grant, self._unsaved = renewed, True
                raise
            self.refreshes += 1
            return renewed

    def _expiring(self, grant: Grant) -> bool:
        if grant.expires_at is None:
            return False
        return time.time() >= grant.expires_at - self._settings.refresh_before_s

    def _expired(self, grant: Grant) -> bool:
        return grant.expires_at is not None and time.time() >= grant.expires_at

    def refuse(self, value: str, reason: str) -> NeedsReauthorisation:
        """The platform answered 401 to ``value``: the next ``fresh()`` refreshes it once; a
        refresh refused then needs re-authorisation."""
        if self._grant is not None and value == self._grant.access_token:
            if value == self._after_refusal:
                return self._needs(
                    f"{reason}; refused again after a refresh: run `aiguillage channel "
                    f"authorize {self._channel}`"
                )
            self._stale = True
        return NeedsReauthorisation(reason)
