"""What every journal shares: the event codec, the chain hash, the chain walk and its seals."""

from __future__ import annotations

import msgspec
import pytest

from aiguillage.adapters.stores.journal import (
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
from aiguillage.adapters.stores.snapshot_seals import (
    SealLink,
    SnapshotSeal,
    encode_seal,
    seal_hash,
    sha256,
    snapshot_fault,
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
        assert walker.check(seq, body_format, body, stored).event == SAMPLES[seq - 1]
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


def _sealed_after(
    rows: list[tuple[int, int, bytes, str]], after: int, snapshot: int, image: bytes
) -> tuple[list[tuple[int, int, bytes, str]], SealLink]:
    """Return the chain with a seal of ``image`` (after ``snapshot``) after record ``after``."""
    body = encode_seal(SnapshotSeal(snapshot, rows[snapshot - 1][3], sha256(image)))
    link = SealLink(after, body, seal_hash(rows[after - 1][3], body))
    chained, previous = rows[:after], link.hash
    for seq, body_format, record, _ in rows[after:]:
        previous = chain_hash(previous, seq, record)
        chained.append((seq, body_format, record, previous))
    return chained, link


def _walk(walker: ChainWalker, rows: list[tuple[int, int, bytes, str]]) -> None:
    for row in rows:
        walker.check(*row)
        walker.accept(row[0], row[3])


def test_a_seal_is_a_link_of_the_chain_between_two_records() -> None:
    rows, link = _sealed_after(_chain([encode_event(e) for e in SAMPLES[:5]]), 3, 2, b"image")
    walker = ChainWalker()
    walker.feed([link])
    _walk(walker, rows)
    walker.finish()
    assert walker.seals == {2: [SnapshotSeal(2, rows[1][3], sha256(b"image"))]}
    assert walker.verification().ok
    # Without its seal, the record after it does not follow: the seal cannot be dropped.
    unsealed = ChainWalker()
    with pytest.raises(ChainBreak, match="event 4: its hash does not match its content"):
        _walk(unsealed, rows)


def test_a_seal_after_the_last_record_ends_the_chain() -> None:
    rows, link = _sealed_after(_chain([encode_event(e) for e in SAMPLES[:3]]), 3, 3, b"image")
    walker = ChainWalker()
    walker.feed([link])
    _walk(walker, rows)
    walker.finish()
    assert walker.verification().last_hash == link.hash
    assert walker.record_hash == rows[-1][3]


def test_a_seal_rewritten_for_another_image_breaks_the_chain_there() -> None:
    rows, link = _sealed_after(_chain([encode_event(e) for e in SAMPLES[:5]]), 3, 3, b"image")
    forged = encode_seal(SnapshotSeal(3, rows[2][3], sha256(b"moved deadline")))
    walker = ChainWalker()
    walker.feed([SealLink(3, forged, link.hash)])
    with pytest.raises(ChainBreak, match="the snapshot seal after event 3: its hash does not"):
        _walk(walker, rows)
    # Rewritten with its hash too, it is the next record that no longer follows.
    walker = ChainWalker()
    walker.feed([SealLink(3, forged, seal_hash(rows[2][3], forged))])
    with pytest.raises(ChainBreak, match=r"event 4: .*\(it or the snapshot seal before it"):
        _walk(walker, rows)


def test_a_seal_out_of_its_place_or_past_the_end_breaks_the_chain() -> None:
    rows, link = _sealed_after(_chain([encode_event(e) for e in SAMPLES[:3]]), 3, 2, b"image")
    walker = ChainWalker()
    walker.feed([SealLink(5, link.body, link.hash)])
    _walk(walker, rows)
    with pytest.raises(ChainBreak, match="seal is stored after event 5, past the last event 3"):
        walker.finish()
    early = encode_seal(SnapshotSeal(3, rows[2][3], sha256(b"image")))
    walker = ChainWalker()
    walker.feed([SealLink(2, early, seal_hash(rows[1][3], early))])
    with pytest.raises(ChainBreak, match="names snapshot 3, a later event"):
        _walk(walker, rows)


def test_a_snapshot_is_vouched_for_only_by_a_seal_of_its_record_and_its_image() -> None:
    seals = {4: [SnapshotSeal(4, "a" * 64, sha256(b"image"))]}
    assert snapshot_fault(4, "a" * 64, sha256(b"image"), seals) is None
    assert "changed after it was written" in str(
        snapshot_fault(4, "a" * 64, sha256(b"moved"), seals)
    )
    assert snapshot_fault(4, "b" * 64, sha256(b"image"), seals) is not None
    assert "no seal in the chain" in str(snapshot_fault(3, "a" * 64, sha256(b"image"), seals))


def test_a_seal_and_a_record_never_frame_to_the_same_bytes() -> None:
    assert seal_hash(GENESIS, b"{}") != chain_hash(GENESIS, 0, b"{}")
