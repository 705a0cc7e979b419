"""The reversibility export: the whole journal, the personal data and the configuration, in files.

At the end of the contract the authority takes its data to another operator. ``export_all``
writes, from an embedded journal (read-only, beside the daemon or from a backup), JSON Lines any
tool reads: ``journal.jsonl`` (each record: seq, hash, the exact body hashed, and its event and
actor decoded), ``seals.jsonl`` (the snapshot seals, links of the same chain),
``access_log.jsonl`` (who read whose data), ``personal.jsonl`` (each interaction's personal
pieces, opened: data, digest, salt, stored_at), ``config.toml`` (the configuration as given),
``manifest.json`` (counts and chain ends), ``README.md`` (what each file holds:
docs/reversibility.md) and ``verify_export.py`` (``export_reader``: the chain re-walked with the
standard library only). Personal data is written in clear: the directory holds every customer's
data, and must be handled as the personal-data store is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import IO, Any

from aiguillage.adapters.stores import export_reader
from aiguillage.adapters.stores.journal import GENESIS, RECORD_FORMAT, JournalError
from aiguillage.adapters.stores.sqlite.journal import unavailable

__all__ = ["ExportSummary", "export_all"]

_PAGE = 5_000


class ExportSummary(dict[str, Any]):
    """What was exported: the manifest written (counts, chain ends)."""


def export_all(
    journal_path: Path, personal_path: Path, config: Path, output: Path
) -> ExportSummary:
    """Write the export of a journal file, its personal-data store and the configuration into
    ``output`` (created; it must be empty if it exists). ``JournalError`` when a file cannot be
    read."""
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise JournalError(f"{output}: not empty; give a new directory for the export")
    output.mkdir(parents=True, exist_ok=True)
    journal = _read_only(journal_path)
    try:
        with unavailable(f"sqlite://{journal_path}", "exporting"):
            # One read transaction: what a running daemon appends meanwhile is not exported,
            # and the records, seals and access log are of one instant.
            journal.execute("BEGIN")
            records, last_hash = _journal(journal, output)
            seals = _write(output / "seals.jsonl", _seals(journal))
            access = _access_log(journal, output)
            journal.execute("COMMIT")
    finally:
        journal.close()
    interactions = pieces = 0
    if personal_path.exists():
        personal = _read_only(personal_path)
        try:
            with unavailable(f"sqlite://{personal_path}", "exporting"):
                interactions, pieces = _personal(personal, output)
        finally:
            personal.close()
    else:
        (output / "personal.jsonl").write_bytes(b"")
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


def _read_only(path: Path) -> sqlite3.Connection:
    path = Path(path).absolute()
    if not path.is_file():
        raise JournalError(f"{path} does not exist or is not a file")
    with unavailable(f"sqlite://{path}", "opening read-only"):
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)


def _write(path: Path, lines: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            _line(out, line)
            count += 1
    return count


def _line(out: IO[str], line: dict[str, Any]) -> None:
    out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


def _journal(connection: sqlite3.Connection, output: Path) -> tuple[int, str]:
    """Write every record, in seq order, a page at a time; return (records, last hash)."""
    count, last_hash, after = 0, GENESIS, 0
    with (output / "journal.jsonl").open("w", encoding="utf-8") as out:
        while True:
            rows = connection.execute(
                "SELECT seq, format, CAST(body AS BLOB), hash FROM events WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after, _PAGE),
            ).fetchall()
            for seq, body_format, body, stored_hash in rows:
                text = bytes(body).decode("utf-8")
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
                count, after = count + 1, seq
            if len(rows) < _PAGE:
                break
    seals_after = connection.execute(
        "SELECT hash FROM snapshot_seals WHERE after_seq = ? ORDER BY id DESC LIMIT 1", (after,)
    ).fetchone()
    if seals_after is not None:
        return count, str(seals_after[0])
    last = connection.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return count, last_hash if last is None else str(last[0])


def _seals(connection: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    rows = connection.execute(
        "SELECT after_seq, CAST(body AS BLOB), hash FROM snapshot_seals ORDER BY id"
    )
    for after, body, stored_hash in rows:
        yield {"after": after, "body": bytes(body).decode("utf-8"), "hash": stored_hash}


def _access_log(connection: sqlite3.Connection, output: Path) -> dict[str, Any]:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    boundary: dict[str, str] = {}
    if "meta" in tables:
        boundary = dict(
            connection.execute(
                "SELECT key, value FROM meta WHERE key IN "
                "('access_trimmed_seq', 'access_trimmed_hash')"
            ).fetchall()
        )
    trimmed_seq = int(boundary.get("access_trimmed_seq", 0))
    trimmed_hash = str(boundary.get("access_trimmed_hash", GENESIS))
    entries, last_hash = 0, trimmed_hash
    with (output / "access_log.jsonl").open("w", encoding="utf-8") as out:
        if "access_log" in tables:
            rows = connection.execute(
                "SELECT seq, CAST(body AS BLOB), hash FROM access_log ORDER BY seq"
            )
            for seq, body, stored_hash in rows:
                text = bytes(body).decode("utf-8")
                entry = {"seq": seq, "hash": stored_hash, "entry": json.loads(text), "body": text}
                _line(out, entry)
                entries, last_hash = entries + 1, str(stored_hash)
    return {
        "entries": entries,
        "trimmed_seq": trimmed_seq,
        "trimmed_hash": trimmed_hash,
        "last_hash": last_hash,
    }


def _personal(connection: sqlite3.Connection, output: Path) -> tuple[int, int]:
    """Write each interaction's pieces, opened, on one line; return (interactions, pieces)."""
    interactions = pieces = 0
    rows = connection.execute(
        "SELECT interaction_id, digest, salt, data, stored_at FROM sealed "
        "ORDER BY interaction_id, stored_at, rowid"
    )
    with (output / "personal.jsonl").open("w", encoding="utf-8") as out:
        current: int | None = None
        line: list[dict[str, Any]] = []
        for interaction_id, digest, salt, data, stored_at in rows:
            if interaction_id != current and current is not None:
                _line(out, {"interaction_id": current, "pieces": line})
                interactions, line = interactions + 1, []
            current = interaction_id
            line.append(
                {
                    "digest": digest,
                    "salt": bytes(salt).hex(),
                    "stored_at": stored_at,
                    "data": json.loads(bytes(data)),
                }
            )
            pieces += 1
        if current is not None:
            _line(out, {"interaction_id": current, "pieces": line})
            interactions += 1
    return interactions, pieces
