"""The reversibility export: the whole journal, the personal data and the configuration, in files.

At the end of the contract the authority takes its data to another operator. ``export_all``
writes, from a store whose journal and access log are read as of one instant and personal data
after them, as it is then (``ExportSource``: ``sqlite.export`` reads an embedded journal
read-only, beside the daemon or from a backup; ``redis.export`` a domain beside its leader, the
archived records from the archive files), JSON Lines any tool reads:
``journal.jsonl`` (each record: seq, hash, the exact body hashed, and its event and actor
decoded), ``seals.jsonl`` (the snapshot seals, links of the same chain), ``access_log.jsonl``
(who read whose data), ``personal.jsonl`` (each interaction's personal pieces, opened: data,
digest, salt, stored_at), ``config.toml`` (the configuration as given), ``manifest.json``
(counts and chain ends), ``README.md`` (what each file holds: docs/reversibility.md) and
``verify_export.py`` (``export_reader``: the chain re-walked with the standard library only).
Personal data is written in clear: the directory holds every customer's data, and must be
handled as the personal-data store is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import AsyncIterator, Sequence
from importlib import resources
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

from aiguillage.adapters.stores import export_reader
from aiguillage.adapters.stores.journal import RECORD_FORMAT, JournalError
from aiguillage.adapters.stores.personal import Sealed

__all__ = ["SEAL", "Chained", "ExportSource", "ExportSummary", "export_all", "prepared"]


class ExportSummary(dict[str, Any]):
    """What was exported: the manifest written (counts, chain ends)."""


class Chained(NamedTuple):
    """A link of a chain as stored: a record (its seq and format), a seal (``format`` 0, the
    seq of the record it follows) or an access-log entry, with the exact body hashed and its
    hash."""

    seq: int
    format: int
    body: bytes
    hash: str


SEAL = 0
"""The ``format`` of a seal among the journal's links."""


class ExportSource(Protocol):
    """A store read for an export: the records, seals and access log as of one instant (what
    a running daemon appends meanwhile is left out, so they end where ``ends`` says); the
    personal data as it is when its turn comes, so a piece stored or erased meanwhile is in the
    export or not, depending on when."""

    description: str

    def chain(self) -> AsyncIterator[Sequence[Chained]]:
        """Every record in seq order, a page at a time, and every snapshot seal (``SEAL``),
        the seals in chain order among themselves."""
        ...

    def access_entries(self) -> AsyncIterator[Sequence[Chained]]:
        """The access log's entries after its trimmed boundary, in seq order."""
        ...

    def pieces(self) -> AsyncIterator[Sequence[Sealed]]:
        """Every piece of personal data, by interaction id (an interaction's pieces together,
        oldest first), a page at a time."""
        ...

    async def ends(self) -> tuple[str, tuple[int, str]]:
        """Where the journal's chain ends (the last record's hash, or its seal's after it),
        and the access log's trimmed boundary (seq, hash)."""
        ...


def prepared(output: Path) -> Path:
    """Return the export's directory, created; ``JournalError`` if it exists and is not empty."""
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise JournalError(f"{output}: not empty; give a new directory for the export")
    output.mkdir(parents=True, exist_ok=True)
    return output


async def export_all(source: ExportSource, config: Path, output: Path) -> ExportSummary:
    """Write the export of a store and the configuration into ``output`` (see ``prepared``).
    ``JournalError`` when the store cannot be read."""
    output = prepared(output)
    records, seals = await _journal(source, output)
    last_hash, boundary = await source.ends()
    access = await _access_log(source, output, boundary)
    interactions, pieces = await _personal(source, output)
    shutil.copyfile(config, output / "config.toml")
    reader = Path(export_reader.__file__)
    shutil.copyfile(reader, output / "verify_export.py")
    readme = resources.files("aiguillage.adapters.stores") / "reversibility.md"
    (output / "README.md").write_text(readme.read_text("utf-8"), "utf-8")
    manifest = ExportSummary(
        format=export_reader.EXPORT_FORMAT,
        journal={"records": records, "last_hash": last_hash, "seals": seals},
        access_log=access,
        personal={"interactions": interactions, "pieces": pieces},
        config_sha256=hashlib.sha256((output / "config.toml").read_bytes()).hexdigest(),
    )
    (output / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return manifest


def _line(out: IO[str], line: dict[str, Any]) -> None:
    out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


async def _journal(source: ExportSource, output: Path) -> tuple[int, int]:
    """Write every record, in seq order, and every seal; return how many of each."""
    records = seals = 0
    with (
        (output / "journal.jsonl").open("w", encoding="utf-8") as out,
        (output / "seals.jsonl").open("w", encoding="utf-8") as sealed,
    ):
        async for page in source.chain():
            for seq, body_format, body, stored_hash in page:
                text = body.decode("utf-8")
                if body_format == SEAL:
                    _line(sealed, {"after": seq, "body": text, "hash": stored_hash})
                    seals += 1
                    continue
                decoded = json.loads(text)
                event, by = (
                    (decoded["event"], decoded.get("by"))
                    if body_format == RECORD_FORMAT
                    else (decoded, None)
                )
                _line(
                    out,
                    {
                        "seq": seq,
                        "hash": stored_hash,
                        "format": body_format,
                        "by": by,
                        "event": event,
                        "body": text,
                    },
                )
                records += 1
    return records, seals


async def _access_log(
    source: ExportSource, output: Path, boundary: tuple[int, str]
) -> dict[str, Any]:
    trimmed_seq, trimmed_hash = boundary
    entries, last_hash = 0, trimmed_hash
    with (output / "access_log.jsonl").open("w", encoding="utf-8") as out:
        async for page in source.access_entries():
            for seq, _, body, stored_hash in page:
                text = body.decode("utf-8")
                _line(
                    out, {"seq": seq, "hash": stored_hash, "entry": json.loads(text), "body": text}
                )
                entries, last_hash = entries + 1, stored_hash
    return {
        "entries": entries,
        "trimmed_seq": trimmed_seq,
        "trimmed_hash": trimmed_hash,
        "last_hash": last_hash,
    }


async def _personal(source: ExportSource, output: Path) -> tuple[int, int]:
    """Write each interaction's pieces, opened, on one line; return (interactions, pieces)."""
    interactions = pieces = 0
    with (output / "personal.jsonl").open("w", encoding="utf-8") as out:
        current: int | None = None
        line: list[dict[str, Any]] = []
        async for page in source.pieces():
            for piece in page:
                if piece.interaction_id != current and current is not None:
                    _line(out, {"interaction_id": current, "pieces": line})
                    interactions, line = interactions + 1, []
                current = piece.interaction_id
                line.append(
                    {
                        "digest": piece.digest,
                        "salt": piece.salt.hex(),
                        "stored_at": piece.stored_at,
                        "data": json.loads(piece.data),
                    }
                )
                pieces += 1
        if current is not None:
            _line(out, {"interaction_id": current, "pieces": line})
            interactions += 1
    return interactions, pieces
