"""The access token a channel sends with, and what it does once the platform refuses it.

A platform's token may expire or be revoked (Meta's error 190, X's code 89, a 401): the channel
then "needs re-authorisation" (``/readyz``, the metrics, the wallboard) until an operator gives
it a new one, and its answers wait in the outbox meanwhile. The token is read from a file
(``token_file``: a secret mounted by systemd's credentials, Kubernetes, a vault agent) or from
an environment variable (``token_env``). A file is read again whenever it changes, so a renewed
token is taken at the next send without a restart; a variable is read once, at the channel's
start (renew it in the daemon's environment and restart the daemon). The third way is OAuth
(``[adapters.<name>.oauth]``): the grant is kept in an encrypted store that ``aiguillage channel
authorize`` fills, and the channel refreshes the token itself (``social.refreshing``);
``token_source`` gives whichever the settings name, both with ``fresh()`` and ``refuse()``.

While the token refused is still the one in place, nothing is sent with it (the platform would
count each attempt against the app): ``current`` raises ``NeedsReauthorisation`` at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from aiguillage.adapters.channels.outgoing import NeedsReauthorisation
from aiguillage.adapters.channels.social.oauth import OAuthSettings
from aiguillage.adapters.channels.social.refreshing import OAuthToken
from aiguillage.adapters.channels.social.token_store import StoreError

__all__ = ["Token", "TokenError", "token_source"]


class TokenError(Exception):
    """No token can be read at the channel's start; the message says what to set."""


class Token:
    """One channel's access token (see the module docstring)."""

    def __init__(self, *, env: str = "", file: str = "", what: str = "the access token") -> None:
        if bool(env) == bool(file):
            raise TokenError(f"give {what} by exactly one of token_env or token_file")
        self._what = what
        self._file = Path(file) if file else None
        self._stamp: tuple[int, int] | None = None
        self._value = ""
        self.refused: str = ""
        """Why the platform refused the token in place, or empty."""
        self._refused_value: str | None = None
        if env:
            self._value = os.environ.get(env, "").strip()
            if not self._value:
                raise TokenError(f"set the environment variable {env} to {what}")
        else:
            self._read()
            if not self._value:
                raise TokenError(f"write {what} in the file {file} (it is empty or missing)")

    def _read(self) -> None:
        assert self._file is not None
        try:
            stat = self._file.stat()
        except OSError:
            return  # gone for a moment (a rotation replacing it): keep the one in place
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            value = self._file.read_text(encoding="utf-8").strip()
        except OSError:
            return
        self._stamp = stamp
        if value:
            self._value = value

    def current(self) -> str:
        """Return the token to send with; ``NeedsReauthorisation`` while the platform's refusal
        of this very token stands (a renewed one clears it)."""
        if self._file is not None:
            self._read()
        if self._refused_value is not None:
            if self._value == self._refused_value:
                raise NeedsReauthorisation(
                    f"{self.refused}; waiting for {self._what} to be renewed"
                )
            self._refused_value, self.refused = None, ""
        return self._value

    async def fresh(self) -> str:
        """``current()``, as the OAuth token's ``fresh()`` is awaited."""
        return self.current()

    def refuse(self, value: str, reason: str) -> NeedsReauthorisation:
        """Remember that the platform refused ``value``; return the error to raise."""
        if value == self._value:
            self._refused_value, self.refused = value, reason
        return NeedsReauthorisation(reason)


def token_source(
    *,
    env: str = "",
    file: str = "",
    oauth: OAuthSettings | None = None,
    vendor: str,
    channel: str,
    what: str,
    on_refused: Callable[[str], None],
    names: tuple[str, str] = ("token_env", "token_file"),
) -> Token | OAuthToken:
    """The token a channel's settings name: a variable, a file, or an OAuth store (exactly
    one); ``TokenError`` saying what to set when it cannot be had at start."""
    if oauth is None:
        return Token(env=env, file=file, what=what)
    if env or file:
        raise TokenError(f"give {what} by exactly one of {names[0]}, {names[1]} or [oauth]")
    source = OAuthToken(oauth, vendor=vendor, channel=channel, what=what, on_refused=on_refused)
    try:
        source.check()
    except (StoreError, ValueError) as exc:
        raise TokenError(f"oauth: {exc}") from None
    return source
