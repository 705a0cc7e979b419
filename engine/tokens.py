"""API tokens as roster data: who may call, in which role, for which advisor, and until when.

The engine holds a token by the SHA-256 of its secret, never the secret: whoever mints one shows
it once to its holder, and the journal keeps the digest. A token bound to an advisor lives no
longer than that advisor: removing the advisor revokes its tokens, and its id is retired.
Expiry is an instant on the token; whoever authenticates compares it with its own clock.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from .instants import SECOND, Instant

__all__ = ["LONGEST_LIFE", "ROLES", "Role", "Token", "is_digest"]

Role = Literal["advisor", "supervisor", "integrator", "admin", "authority", "quality"]
ROLES: tuple[Role, ...] = ("advisor", "supervisor", "integrator", "admin", "authority", "quality")
"""``advisor`` acts only for its own advisor id; the others act for nobody in particular.
``authority`` is the principal's role: it reads the reports and decides exemption claims
(``exemptions``), nothing else. ``quality`` is the quality reviewer's: it draws audit samples,
scores them against the audit grid and imports mystery-shopper results."""
LONGEST_LIFE: Final = 10 * 366 * 86_400 * SECOND
"""A token expires at most ten years after it is minted (or never, when it has no expiry)."""


class Token(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One live token: its id (for listing and revoking), its digest, role and holder."""

    id: int
    digest: str
    """The hex SHA-256 of the secret."""
    role: Role
    advisor_id: str | None = None
    label: str = ""
    minted_at: Instant
    expires_at: Instant | None = None
    """Refused from this instant on; ``None``: until revoked."""

    def expired(self, now: Instant) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def is_digest(value: str) -> bool:
    """Return whether a string is a hex SHA-256 as tokens are kept: 64 lowercase hex digits."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
