"""Snapshot seals: each snapshot's digest is a link of the hash chain, so the chain vouches for it.

A snapshot lets a restart skip replaying the journal up to its record, so an image changed
after it was written (a deadline moved, a customer's priority raised) would be served as if the
journal said so. Keeping the hash of record ``seq`` beside the image does not prevent that: who
can rewrite the image can rewrite what is kept beside it. So when a store keeps a snapshot, it
also appends a *seal* to the chain, in the same transaction (SQLite) or script (Redis)::

    record L  ──►  seal {snapshot: N, hash: <hash of record N>, image_sha256: …}  ──►  record L+1

The seal follows the last record written when the snapshot is kept (L, with N <= L: a snapshot
is written in the background while batches go on), has no seq of its own, and its hash
(``seal_hash``) chains to the link before it; the next record chains to the seal. So the seal
is protected like any record: changing it breaks the chain at the next record, or changes the
journal's last hash, which is what ``aiguillage replay --verify`` prints to be kept apart. A
store that recovers loads an image only when a seal in the part of the chain it walks names
that snapshot, the same record hash and the image's SHA-256 (``snapshot_fault``); otherwise it
passes the snapshot over, says so in the log, and rebuilds from an older snapshot or from the
journal's start. Event consumers never see seals: they are not events and take no seq.

Why a link rather than a marker event or a side table: a marker event would teach the engine's
vocabulary about the store and take a seq that every reader of events would have to skip; a
separate table of digests, chained only to itself, would be rewritten whole by whoever rewrites
an image. A link in the chain needs neither, and what remains of a Redis journal after trimming
still verifies: a trim moves the seals before its boundary to the archive with the records, and
the snapshots kept are never older than the boundary, so their seals are still in Redis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import msgspec
import structlog

__all__ = [
    "UNREADABLE_IMAGE",
    "SealLink",
    "SnapshotSeal",
    "decode_seal",
    "encode_seal",
    "pass_over",
    "seal_hash",
    "seals_by_snapshot",
    "sha256",
    "snapshot_fault",
]

log = structlog.get_logger("aiguillage.journal")


class SnapshotSeal(msgspec.Struct, frozen=True):
    """What a seal says: the image kept after record ``snapshot`` (of hash ``hash``) has this
    SHA-256."""

    snapshot: int
    hash: str
    image_sha256: str


class SealLink(msgspec.Struct, frozen=True):
    """A seal as a store keeps it: after which record it sits, its body and its chain hash."""

    after: int
    body: bytes
    hash: str


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(SnapshotSeal)


def sha256(image: bytes) -> str:
    """Return the hex SHA-256 of an image."""
    return hashlib.sha256(image).hexdigest()


def encode_seal(seal: SnapshotSeal) -> bytes:
    """Return the body of a seal as the chain hashes it (msgspec JSON)."""
    return _ENCODER.encode(seal)


def decode_seal(body: bytes) -> SnapshotSeal:
    """Return the seal a body holds; ``msgspec.DecodeError`` if it holds none."""
    return _DECODER.decode(body)


def seal_hash(previous: str, body: bytes) -> str:
    """Return the chain hash of a seal that follows the link of hash ``previous``.

    Framed like a record's (``chain_hash``), with the word ``snapshot`` where a record has its
    decimal seq, so no seal and no record ever frame to the same bytes.
    """
    digest = hashlib.sha256(f"{previous}\nsnapshot\n".encode("ascii"))
    digest.update(body)
    return digest.hexdigest()


def seals_by_snapshot(links: Iterable[SealLink]) -> dict[int, list[SnapshotSeal]]:
    """Return the seals of ``links`` by the snapshot they name (a link that is no seal: none)."""
    found: dict[int, list[SnapshotSeal]] = {}
    for link in links:
        try:
            seal = decode_seal(link.body)
        except msgspec.DecodeError:
            continue  # the chain walk over it says so
        found.setdefault(seal.snapshot, []).append(seal)
    return found


def snapshot_fault(
    seq: int, record_hash: str, image_sha256: str, seals: Mapping[int, list[SnapshotSeal]]
) -> str | None:
    """Return why the image after record ``seq`` may not be loaded, or None if a seal vouches.

    ``record_hash`` is the chain's hash of record ``seq``, ``seals`` those of the chain walked.
    """
    named = seals.get(seq, [])
    if not named:
        return (
            "no seal in the chain vouches for it (it was written before snapshots were sealed, "
            "or by something other than the journal's writer)"
        )
    for seal in named:
        if seal.hash == record_hash and seal.image_sha256 == image_sha256:
            return None
    return (
        f"its image (SHA-256 {image_sha256[:16]}…) is not the one sealed in the chain "
        f"({named[-1].image_sha256[:16]}…): it changed after it was written"
    )


UNREADABLE_IMAGE = "this version's engine cannot read its image (another format)"
"""Why a snapshot is passed over when the engine refused its image (``SnapshotFormatError``)."""


def pass_over(where: str, seq: int, reason: str, notes: list[str], *, changed: bool) -> None:
    """Note and log a snapshot that recovery will not load: it rebuilds from an older one.

    An error when the snapshot ``changed`` after its seal was written (someone rewrote it);
    a warning otherwise (unsealed by an older version, not whole, or of a lost history).
    """
    notes.append(f"snapshot {seq} passed over: {reason}")
    say = log.error if changed else log.warning
    say(
        "snapshot refused: the state is rebuilt from an older snapshot or the journal's start",
        store=where,
        seq=seq,
        reason=reason,
    )
