"""Who is calling: bearer tokens, their roles, and WebSocket tickets.

Tokens are roster data, in the journal (see ``aiguillage.engine.tokens``): minted and revoked
by command (``/v1/tokens``, ``aiguillage token``), each with a role (``advisor`` bound to one
advisor id, ``supervisor``, ``integrator``, ``admin``, ``authority``, ``quality``) and, if
given, an expiry. A token is a random string shown once, when it is minted; the journal keeps
only its SHA-256, so neither the journal nor a backup of it holds a credential. Removing an
advisor revokes its tokens. An expired token is refused at the daemon's clock.
``AIGUILLAGE_ADMIN_TOKEN`` in the environment is one more admin token, outside the journal: it
mints the first tokens, and serves scripts run by operators.

The daemon looks a token up in the engine's table as it stands, even while a batch is being
written: a token a batch mints is known before it is durable, but nobody holds its secret until
the answer that shows it leaves, after the journal has it; a revocation is in force before it is
durable, and if the journal then fails to write it, the token is let in again after the rebuild,
as the 503 answered to the revocation says.

``[[tokens]]`` tables of ``config.toml`` are deprecated: at each start the daemon mints into
the journal each one the journal does not know yet (``import_configured``), never one it
revoked; from then on the journal rules, and deleting a table revokes nothing.

Browsers cannot set an ``Authorization`` header on a WebSocket, so a client exchanges its token
for a ticket: single use, valid ``ticket_ttl_s`` seconds, kept in memory only (a restart
invalidates outstanding tickets, and a client simply asks for another). A ticket is worth
nothing once its token is revoked or expired.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Container, Mapping, Sequence
from datetime import UTC
from typing import NamedTuple, Protocol

import structlog

from aiguillage.adapters.config.settings import TokenSeed
from aiguillage.adapters.stores.actors import Actor
from aiguillage.engine.commands import MintToken
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import EngineError
from aiguillage.engine.events import Event, TokenMinted
from aiguillage.engine.instants import Instant, to_datetime
from aiguillage.engine.tokens import Role, Token


class Serving(Protocol):
    """What authentication reads of the daemon's runtime (``Runtime`` is one), so this module
    needs nothing of the runtime's."""

    ready: bool
    engine: Engine | None
    clock: Callable[[], Instant]

    def unavailable(self) -> Exception: ...


__all__ = [
    "ADMIN_TOKEN_VARIABLE",
    "Principal",
    "Tickets",
    "Tokens",
    "Unauthenticated",
    "actor_of",
    "digest_of",
    "import_configured",
    "new_secret",
]

ADMIN_TOKEN_VARIABLE = "AIGUILLAGE_ADMIN_TOKEN"
log = structlog.get_logger("aiguillage.auth")


class Principal(NamedTuple):
    """The holder of a token: its role, and for an advisor the advisor it acts as."""

    role: Role
    advisor_id: str | None = None
    label: str = ""
    token_id: int | None = None
    """The journal's id of the token; ``None`` for the environment's admin token."""


def actor_of(principal: Principal) -> Actor:
    """Return who a principal is in the journal's envelope: its token by id (never the secret),
    the environment's admin token, or a browser session by the identity provider's subject."""
    advisor = principal.advisor_id or ""
    if principal.token_id is not None:
        return Actor("token", str(principal.token_id), principal.role, advisor)
    if principal.label.startswith("oidc "):
        return Actor("session", principal.label.removeprefix("oidc "), principal.role, advisor)
    return Actor("admin", principal.label, principal.role, advisor)


class Unauthenticated(Exception):
    """A token that lets nobody in: never minted, revoked or expired (the message says which)."""


def digest_of(token: str) -> str:
    """Return the hex SHA-256 of a token, as the journal keeps it."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> tuple[str, str]:
    """Return a new token (256 random bits, URL-safe) and its digest."""
    token = secrets.token_urlsafe(32)
    return token, digest_of(token)


class Tokens:
    """The tokens a daemon accepts: the engine's live table, and the environment's admin token.

    ``table`` returns the live tokens by digest (or raises the runtime's ``Unavailable`` while
    the engine is rebuilt); ``clock`` says when expiries are reached.
    """

    def __init__(
        self,
        table: Callable[[], Mapping[str, Token]],
        clock: Callable[[], Instant],
        admin_token: str | None = None,
        advisors: Callable[[], Container[str]] = frozenset,
    ) -> None:
        self._table = table
        self._clock = clock
        self._admin = digest_of(admin_token) if admin_token else None
        self._advisors = advisors

    @property
    def admin_digest(self) -> str | None:
        """The SHA-256 of ``AIGUILLAGE_ADMIN_TOKEN`` (``None`` when unset): a browser session
        opened with it holds a fingerprint of it, and ends when the variable changes."""
        return self._admin

    @classmethod
    def serving(cls, runtime: Serving, environ: Mapping[str, str]) -> Tokens:
        """Return the tokens of a runtime's journal, and ``AIGUILLAGE_ADMIN_TOKEN``'s."""

        def table() -> Mapping[str, Token]:
            engine = runtime.engine
            if not runtime.ready or engine is None:
                raise runtime.unavailable()
            return engine.state.tokens

        def advisors() -> Container[str]:
            engine = runtime.engine
            if not runtime.ready or engine is None:
                raise runtime.unavailable()
            return engine.state.advisors

        return cls(
            table,
            lambda: runtime.clock(),
            environ.get(ADMIN_TOKEN_VARIABLE) or None,
            advisors,
        )

    def authenticate(self, token: str) -> Principal:
        """Return who holds ``token``; raise ``Unauthenticated`` when it lets nobody in.

        The lookup is by SHA-256, so the time it takes says nothing about how close a guess was.
        """
        digest = digest_of(token)
        if digest == self._admin:
            return Principal("admin", None, "environment")
        found = self._table().get(digest)
        if found is None:
            raise Unauthenticated("this token is not known to this daemon (or it was revoked)")
        if found.expired(self._clock()):
            assert found.expires_at is not None
            expired = to_datetime(found.expires_at, UTC).isoformat()
            raise Unauthenticated(f"this token expired at {expired}; ask an admin for a new one")
        return Principal(found.role, found.advisor_id, found.label, found.id)

    def by_id(self, token_id: int) -> Principal | None:
        """Return the holder of the journal's token ``token_id``; ``None`` once it is revoked
        (by hand or with its advisor) or expired. A browser session names its token this way."""
        now = self._clock()
        for token in self._table().values():
            if token.id == token_id:
                if token.expired(now):
                    return None
                return Principal(token.role, token.advisor_id, token.label, token.id)
        return None

    def advisor_present(self, advisor_id: str) -> bool:
        """Whether the roster holds ``advisor_id`` (not removed): a session that was not opened
        with a token (OpenID Connect) ends when its advisor is removed, as a token would."""
        return advisor_id in self._advisors()

    def current(self, principal: Principal) -> Principal | None:
        """Return ``principal`` if its token still lets it in (a ticket outlives nothing)."""
        if principal.token_id is None:
            return principal
        now = self._clock()
        for token in self._table().values():
            if token.id == principal.token_id:
                return None if token.expired(now) else principal
        return None


def import_configured(engine: Engine, seeds: Sequence[TokenSeed], now: Instant) -> list[Event]:
    """Mint into the journal each ``[[tokens]]`` table the journal does not know yet.

    A token the journal holds, or revoked (on request, or with its advisor), is passed over:
    after the first import, the journal rules. One the engine refuses (its advisor unknown or
    removed) is logged and passed over. Returns the events, for the caller to journal.
    """
    state = engine.state
    events: list[Event] = []
    for index, seed in enumerate(seeds):
        if seed.sha256 in state.tokens or seed.sha256 in state.revoked_digests:
            continue
        command = MintToken(
            digest=seed.sha256,
            role=seed.role,
            advisor_id=seed.advisor,
            label=seed.label or f"config.toml tokens[{index}]",
        )
        try:
            minted = engine.handle(command, now)
        except EngineError as refused:
            log.warning(
                "token of the configuration not imported",
                key=f"tokens[{index}]",
                reason=refused.reason,
                error=str(refused),
            )
            continue
        for event in minted:
            if isinstance(event, TokenMinted):
                log.info(
                    "token of the configuration imported into the journal",
                    key=f"tokens[{index}]",
                    token_id=event.token_id,
                    role=event.role,
                    advisor_id=event.advisor_id,
                )
        events.extend(minted)
    if seeds:
        log.warning(
            "[[tokens]] in the configuration is deprecated: tokens live in the journal. Each "
            "was imported once; deleting a table revokes nothing (`aiguillage token revoke` "
            "does). Delete the [[tokens]] tables, and mint with `aiguillage token new`",
            tables=len(seeds),
        )
    return events


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
