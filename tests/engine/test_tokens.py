"""API tokens as roster data: minted and revoked by command, gone with their advisor, replayed.

An advisor's id is retired when the advisor is removed: nobody else is ever given it, so nobody
inherits its tokens or its history.
"""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from aiguillage.engine.commands import (
    AddAdvisor,
    MintToken,
    RemoveAdvisor,
    RevokeToken,
    SetAdvisorState,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import EngineError, InvalidCommand, Refused, UnknownToken
from aiguillage.engine.events import AdvisorRemoved, TokenMinted, TokenRevoked
from aiguillage.engine.instants import SECOND

from .conftest import TUESDAY_10H, JournaledEngine, add_advisor, replayed

T0 = TUESDAY_10H
HOUR = 3600 * SECOND


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mint(engine: Engine, secret: str, now: int = T0, **fields: object) -> TokenMinted:
    fields.setdefault("role", "advisor" if "advisor_id" in fields else "supervisor")
    (minted,) = engine.handle(MintToken(digest=digest(secret), **fields), now)  # type: ignore[arg-type]
    assert isinstance(minted, TokenMinted)
    return minted


def remove(engine: Engine, advisor_id: str, now: int = T0) -> list[object]:
    engine.handle(SetAdvisorState(advisor_id=advisor_id, state="offline"), now)
    return list(engine.handle(RemoveAdvisor(advisor_id=advisor_id), now))


@pytest.fixture
def floor(engine: JournaledEngine) -> JournaledEngine:
    add_advisor(engine, "A1", T0)
    add_advisor(engine, "A2", T0)
    return engine


def test_a_minted_token_is_kept_by_digest_with_its_role_holder_and_expiry(
    floor: JournaledEngine,
) -> None:
    minted = mint(floor, "s1", advisor_id="A1", expires_at=T0 + HOUR, label="poste 12")
    token = floor.state.tokens[digest("s1")]
    assert (token.id, token.role, token.advisor_id) == (minted.token_id, "advisor", "A1")
    assert (token.minted_at, token.expires_at, token.label) == (T0, T0 + HOUR, "poste 12")
    assert not token.expired(T0 + HOUR - 1)
    assert token.expired(T0 + HOUR)


def test_tokens_are_numbered_in_order(floor: JournaledEngine) -> None:
    assert [mint(floor, secret).token_id for secret in ("a", "b", "c")] == [1, 2, 3]


def test_removing_an_advisor_revokes_its_tokens_and_only_them(floor: JournaledEngine) -> None:
    first = mint(floor, "s1", advisor_id="A1")
    second = mint(floor, "s2", advisor_id="A1")
    mint(floor, "other", advisor_id="A2")
    mint(floor, "staff")
    events = remove(floor, "A1")
    assert events == [
        TokenRevoked(at=T0, token_id=first.token_id, reason="advisor removed"),
        TokenRevoked(at=T0, token_id=second.token_id, reason="advisor removed"),
        AdvisorRemoved(at=T0, advisor_id="A1"),
    ]
    assert sorted(floor.state.tokens) == sorted([digest("other"), digest("staff")])


def test_a_removed_advisors_id_is_never_given_again(floor: JournaledEngine) -> None:
    remove(floor, "A1")
    with pytest.raises(InvalidCommand) as refused:
        floor.handle(AddAdvisor(advisor_id="A1", skills={"general": 3}), T0 + SECOND)
    assert refused.value.reason == "retired"
    assert "never given to someone else" in refused.value.message
    assert "A1" not in floor.state.advisors


def test_a_removed_advisors_id_stays_retired_after_replay_and_restore(
    floor: JournaledEngine,
) -> None:
    remove(floor, "A1")
    for rebuilt in (replayed(floor.journal), Engine.from_image(floor.image())):
        with pytest.raises(InvalidCommand, match="never given"):
            rebuilt.handle(AddAdvisor(advisor_id="A1"), T0 + SECOND)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"advisor_id": "nobody"}, "unknown_advisor"),
        ({"advisor_id": "A1", "role": "supervisor"}, "advisor_binding"),
        ({"role": "advisor"}, "advisor_binding"),
        ({"expires_at": T0}, "expired"),
        ({"expires_at": T0 + 11 * 366 * 24 * HOUR}, "too_far"),
    ],
)
def test_a_mint_that_cannot_be_is_refused(
    floor: JournaledEngine, fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        mint(floor, "s", **fields)
    assert refused.value.reason == reason
    assert floor.state.tokens == {}


def test_a_token_for_a_removed_advisor_is_refused(floor: JournaledEngine) -> None:
    remove(floor, "A1")
    with pytest.raises(InvalidCommand) as refused:
        mint(floor, "s", advisor_id="A1")
    assert refused.value.reason == "retired"


def test_an_unknown_role_or_a_digest_that_is_not_one_is_refused(floor: JournaledEngine) -> None:
    with pytest.raises(InvalidCommand, match="unknown role"):
        floor.handle(MintToken(digest=digest("s"), role="boss"), T0)  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand, match="64 hex digits"):
        floor.handle(MintToken(digest="s3cret", role="admin"), T0)


def test_a_revoked_token_is_gone_and_never_let_in_again(floor: JournaledEngine) -> None:
    minted = mint(floor, "s1")
    assert floor.handle(RevokeToken(token_id=minted.token_id), T0 + SECOND) == [
        TokenRevoked(at=T0 + SECOND, token_id=minted.token_id, reason="revoked")
    ]
    assert floor.state.tokens == {}
    with pytest.raises(Refused) as again:
        mint(floor, "s1", now=T0 + 2 * SECOND)
    assert again.value.reason == "token_revoked"


def test_the_same_token_is_not_minted_twice(floor: JournaledEngine) -> None:
    mint(floor, "s1")
    with pytest.raises(Refused) as again:
        mint(floor, "s1")
    assert again.value.reason == "token_exists"


def test_revoking_twice_or_an_unknown_token_is_refused(floor: JournaledEngine) -> None:
    minted = mint(floor, "s1")
    floor.handle(RevokeToken(token_id=minted.token_id), T0)
    with pytest.raises(Refused, match="already revoked"):
        floor.handle(RevokeToken(token_id=minted.token_id), T0)
    with pytest.raises(UnknownToken):
        floor.handle(RevokeToken(token_id=99), T0)


def test_tokens_replay_and_restore_to_the_same_state(floor: JournaledEngine) -> None:
    mint(floor, "s1", advisor_id="A1")
    mint(floor, "s2", advisor_id="A2", expires_at=T0 + HOUR)
    revoked = mint(floor, "s3")
    floor.handle(RevokeToken(token_id=revoked.token_id), T0)
    remove(floor, "A1")
    for rebuilt in (replayed(floor.journal), Engine.from_image(floor.image())):
        assert rebuilt.snapshot() == floor.snapshot()
        assert list(rebuilt.state.tokens) == [digest("s2")]
        assert rebuilt.state.revoked_digests == {digest("s1"), digest("s3")}
        assert mint(rebuilt, "s4").token_id == 4


def test_an_image_from_before_tokens_reads_with_none_and_no_retired_id(
    floor: JournaledEngine,
) -> None:
    fields = msgspec.msgpack.decode(floor.image())
    for added in ("tokens", "revoked_digests", "next_token_id", "retired_advisors"):
        del fields[added]
    restored = Engine.from_image(msgspec.msgpack.encode(fields))
    assert (restored.state.tokens, restored.state.revoked_digests) == ({}, set())
    assert restored.state.retired_advisors == set()
    assert mint(restored, "s1").token_id == 1


def test_a_refused_mint_leaves_the_state_untouched(floor: JournaledEngine) -> None:
    before = floor.snapshot()
    with pytest.raises(EngineError):
        mint(floor, "s", advisor_id="nobody")
    assert floor.snapshot() == before
