"""What every journal shares: the event codec, the chain hash and the chain walk."""

from __future__ import annotations

import msgspec
import pytest

from aiguillage.adapters.journal import (
    EVENT_FORMAT,
    GENESIS,
    ChainBreak,
    ChainWalker,
    JournalCorrupt,
    JournalFormatError,
    chain_hash,
    decode_event,
    encode_event,
    event_type,
    interaction_of,
)
from aiguillage.engine import events
from tests.engine.test_events import EVENT_SAMPLES

SAMPLES: list[events.Event] = list(EVENT_SAMPLES.values())
"""One event of every type in the vocabulary (the engine's tests keep the list complete)."""
ARRIVED: events.InteractionArrived = EVENT_SAMPLES["interaction.arrived"]


@pytest.mark.parametrize("event", SAMPLES, ids=event_type)
def test_an_event_decodes_to_what_was_encoded(event: events.Event) -> None:
    assert decode_event(encode_event(event)) == event


def test_a_body_is_tagged_json_with_the_wire_tag() -> None:
    body = encode_event(ARRIVED)
    assert msgspec.json.decode(body)["type"] == "interaction.arrived"
    assert event_type(ARRIVED) == "interaction.arrived"


def test_the_interaction_of_an_event_is_its_interaction_id_if_it_has_one() -> None:
    assert interaction_of(ARRIVED) == ARRIVED.interaction_id
    assert interaction_of(EVENT_SAMPLES["advisor.added"]) is None


def test_a_body_that_is_not_an_event_is_refused() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_event(b'{"type": "interaction.teleported", "at": 0}')


def test_the_chain_hash_is_sha256_hex() -> None:
    digest = chain_hash(GENESIS, 1, b"{}")
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_the_chain_hash_depends_on_the_previous_hash_the_seq_and_the_body() -> None:
    base = chain_hash(GENESIS, 1, b"{}")
    assert chain_hash(GENESIS, 2, b"{}") != base
    assert chain_hash("1" * 64, 1, b"{}") != base
    assert chain_hash(GENESIS, 1, b"{ }") != base
    assert chain_hash(GENESIS, 1, b"{}") == base


def test_the_framing_keeps_seq_and_body_apart() -> None:
    # Without a separator, seq 1 with body "2{}" and seq 12 with body "{}" would collide.
    assert chain_hash(GENESIS, 1, b"2{}") != chain_hash(GENESIS, 12, b"{}")


def _chain(bodies: list[bytes]) -> list[tuple[int, int, bytes, str]]:
    rows, previous = [], GENESIS
    for seq, body in enumerate(bodies, start=1):
        previous = chain_hash(previous, seq, body)
        rows.append((seq, EVENT_FORMAT, body, previous))
    return rows


def test_a_walk_accepts_a_sound_chain_and_ends_at_its_last_hash() -> None:
    rows = _chain([encode_event(event) for event in SAMPLES])
    walker = ChainWalker()
    for seq, body_format, body, stored in rows:
        assert walker.check(seq, body_format, body, stored) == SAMPLES[seq - 1]
        walker.accept(seq, stored)
    result = walker.verification()
    assert (result.ok, result.checked, result.last_hash) == (True, len(SAMPLES), rows[-1][3])


def test_a_walk_names_the_first_missing_events() -> None:
    rows = _chain([encode_event(event) for event in SAMPLES])
    walker = ChainWalker()
    walker.accept(1, rows[0][3])
    with pytest.raises(ChainBreak, match="events 2 to 3 missing: the sequence jumps from 1 to 4"):
        walker.check(*rows[3])


def test_a_break_for_an_unknown_format_becomes_a_format_error_saying_what_to_do() -> None:
    broken = ChainBreak(
        5, "event 5: format 2 is unknown to this version (reads 1)", unknown_format=True
    )
    error = broken.error("sqlite:///j.sqlite")
    assert isinstance(error, JournalFormatError)
    assert "event 5: format 2" in str(error)
    assert "restore a backup" in str(error)
    assert isinstance(ChainBreak(5, "event 5: changed").error("here"), JournalCorrupt)
