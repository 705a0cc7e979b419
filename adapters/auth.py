"""Who is calling: bearer tokens, their roles, and WebSocket tickets.

A token is a random string shown once, when it is minted; the configuration keeps only its
SHA-256 with a role (``advisor`` bound to one advisor id, ``supervisor``, ``integrator``,
``admin``), so a leaked config file leaks no credential. ``AIGUILLAGE_ADMIN_TOKEN`` in the
environment is one more admin token, for bootstrapping and for scripts run by operators.

Browsers cannot set an ``Authorization`` header on a WebSocket, so a client exchanges its token
for a ticket: single use, valid ``ticket_ttl_s`` seconds, kept in memory only (a restart
invalidates outstanding tickets, and a client simply asks for another).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import NamedTuple

from .config import ROLES, Role, Settings, TokenSeed

__all__ = ["ADMIN_TOKEN_VARIABLE", "Principal", "Tickets", "Tokens", "digest_of", "mint"]

ADMIN_TOKEN_VARIABLE = "AIGUILLAGE_ADMIN_TOKEN"


class Principal(NamedTuple):
    """The holder of a token: its role, and for an advisor the advisor it acts as."""

    role: Role
    advisor_id: str | None = None
    label: str = ""


def digest_of(token: str) -> str:
    """Return the hex SHA-256 of a token, as the configuration stores it."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint(role: Role, advisor_id: str | None = None, label: str = "") -> tuple[str, str]:
    """Return a new token and the ``[[tokens]]`` lines that let it in."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if (role == "advisor") != (advisor_id is not None):
        raise ValueError("an advisor token needs --advisor, and only an advisor token takes it")
    token = secrets.token_urlsafe(32)
    lines = ["[[tokens]]", f'sha256 = "{digest_of(token)}"', f'role = "{role}"']
    if advisor_id is not None:
        lines.append(f'advisor = "{advisor_id}"')
    if label:
        lines.append(f"label = {_toml_string(label)}")
    return token, "\n".join(lines)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Tokens:
    """The tokens a daemon accepts, looked up by digest."""

    def __init__(self, seeds: tuple[TokenSeed, ...], admin_token: str | None = None) -> None:
        self._by_digest: dict[str, Principal] = {
            seed.sha256: Principal(seed.role, seed.advisor, seed.label) for seed in seeds
        }
        if admin_token:
            self._by_digest[digest_of(admin_token)] = Principal("admin", None, "environment")

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str]) -> Tokens:
        return cls(settings.tokens, environ.get(ADMIN_TOKEN_VARIABLE) or None)

    def authenticate(self, token: str) -> Principal | None:
        """Return who holds ``token``, or ``None`` when it is not one of ours.

        The lookup is by SHA-256, so the time it takes says nothing about how close a guess was.
        """
        return self._by_digest.get(digest_of(token))

    def __len__(self) -> int:
        return len(self._by_digest)


class Tickets:
    """Short-lived, single-use tickets that stand for a token on a WebSocket handshake."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._issued: dict[str, tuple[Principal, float]] = {}

    def issue(self, principal: Principal, now: float) -> str:
        """Return a new ticket for ``principal``; ``now`` is a monotonic clock in seconds."""
        self._expire(now)
        ticket = secrets.token_urlsafe(24)
        self._issued[ticket] = (principal, now + self.ttl_s)
        return ticket

    def redeem(self, ticket: str, now: float) -> Principal | None:
        """Return whom the ticket was issued to and spend it; ``None`` if unknown or expired."""
        issued = self._issued.pop(ticket, None)
        if issued is None or issued[1] < now:
            return None
        return issued[0]

    def _expire(self, now: float) -> None:
        for ticket in [t for t, (_, until) in self._issued.items() if until < now]:
            del self._issued[ticket]
