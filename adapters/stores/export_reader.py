"""Read and check a reversibility export (``aiguillage export-all``) with the standard library only.

This file is copied into each export as ``verify_export.py``, so that whoever receives the data
(the authority, the next operator) can check it with any Python 3.10 or later, without this
project: ``python3 verify_export.py DIR``. It re-walks the journal's hash chain from
``journal.jsonl`` and ``seals.jsonl``, and the access log's from ``access_log.jsonl``, checks
each line's decoded copy against the bytes it hashed, each personal piece's digest against its
salt and data (and that the journal holds that digest), and the counts and chain ends against
``manifest.json``. The files are described in ``README.md`` (docs/reversibility.md).

Exit status: 0 when everything checks out, 1 with the first fault of each file otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["EXPORT_FORMAT", "canonical", "main", "verify_export"]

EXPORT_FORMAT = 1
"""The layout of an export's files, as ``manifest.json`` names it."""

GENESIS = "0" * 64
RECORD_FORMAT = 2
"""A journal body that is ``{"event": …, "by": …}``; format 1 is the bare event."""


def canonical(data: Any) -> bytes:
    """Return the canonical JSON a personal piece was sealed over: keys sorted, no spaces."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify_export(directory: Path) -> list[str]:
    """Return the faults found in an export (empty: it checks out), and print what was checked."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return [f"manifest.json: cannot be read ({exc})"]
    if manifest.get("format") != EXPORT_FORMAT:
        return [f"manifest.json: format {manifest.get('format')!r}; this reader reads 1"]
    faults: list[str] = []
    digests: set[str] = set()
    for check in (_journal, _access_log, _personal, _config):
        try:
            fault = check(directory, manifest, digests)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fault = f"{check.__name__.strip('_')}: unreadable ({exc!r})"
        if fault is not None:
            faults.append(fault)
    return faults


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            yield number, json.loads(line)


def _chain(previous: str, frame: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{previous}\n{frame}\n".encode("ascii"))
    digest.update(body)
    return digest.hexdigest()


def _strings(value: Any, found: set[str]) -> None:
    """Collect the 64-hex-digit strings of an event: the digests it carries."""
    if isinstance(value, str):
        if len(value) == 64:
            found.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, found)
    elif isinstance(value, list):
        for item in value:
            _strings(item, found)


def _journal(directory: Path, manifest: dict[str, Any], digests: set[str]) -> str | None:
    seals = [line for _, line in _lines(directory / "seals.jsonl")]
    seals.reverse()
    previous, seq = GENESIS, 0
    for number, line in _lines(directory / "journal.jsonl"):
        while seals and seals[-1]["after"] < line["seq"]:
            seal = seals.pop()
            previous = _chain(previous, "snapshot", seal["body"].encode())
            if previous != seal["hash"]:
                return f"seals.jsonl: the seal after record {seal['after']} does not follow"
        if line["seq"] != seq + 1:
            return f"journal.jsonl line {number}: seq {line['seq']} follows seq {seq}"
        seq = line["seq"]
        body = line["body"].encode()
        previous = _chain(previous, str(seq), body)
        if previous != line["hash"]:
            return f"journal.jsonl line {number}: record {seq}'s hash does not match its body"
        decoded = json.loads(body)
        event, by = (
            (decoded["event"], decoded.get("by"))
            if line["format"] == RECORD_FORMAT
            else (decoded, None)
        )
        if (event, by) != (line["event"], line["by"]):
            return f"journal.jsonl line {number}: event or by differ from the body hashed"
        _strings(event, digests)
    for seal in reversed(seals):
        previous = _chain(previous, "snapshot", seal["body"].encode())
        if previous != seal["hash"]:
            return f"seals.jsonl: the seal after record {seal['after']} does not follow"
    expected = manifest["journal"]
    if (seq, previous) != (expected["records"], expected["last_hash"]):
        return (
            f"journal.jsonl: {seq} records ending at {previous}; manifest.json says "
            f"{expected['records']} ending at {expected['last_hash']}"
        )
    print(f"journal: {seq} records chained, ending at {previous}")
    return None


def _access_log(directory: Path, manifest: dict[str, Any], _: set[str]) -> str | None:
    expected = manifest["access_log"]
    seq, previous = expected["trimmed_seq"], expected["trimmed_hash"]
    checked = 0
    for number, line in _lines(directory / "access_log.jsonl"):
        if line["seq"] != seq + 1:
            return f"access_log.jsonl line {number}: seq {line['seq']} follows seq {seq}"
        seq = line["seq"]
        body = line["body"].encode()
        previous = _chain(previous, str(seq), body)
        if previous != line["hash"]:
            return f"access_log.jsonl line {number}: entry {seq}'s hash does not match its body"
        if json.loads(body) != line["entry"]:
            return f"access_log.jsonl line {number}: entry differs from the body hashed"
        checked += 1
    if (checked, previous) != (expected["entries"], expected["last_hash"]):
        return (
            f"access_log.jsonl: {checked} entries ending at {previous}; manifest.json says "
            f"{expected['entries']} ending at {expected['last_hash']}"
        )
    print(f"access log: {checked} entries chained after entry {expected['trimmed_seq']}")
    return None


def _personal(directory: Path, manifest: dict[str, Any], digests: set[str]) -> str | None:
    interactions = pieces = unjournaled = 0
    for number, line in _lines(directory / "personal.jsonl"):
        interactions += 1
        for piece in line["pieces"]:
            pieces += 1
            sealed = hmac.new(bytes.fromhex(piece["salt"]), canonical(piece["data"]), "sha256")
            if not hmac.compare_digest(sealed.hexdigest(), piece["digest"]):
                return (
                    f"personal.jsonl line {number}: a piece of interaction "
                    f"{line['interaction_id']} does not give its digest"
                )
            unjournaled += piece["digest"] not in digests
    expected = manifest["personal"]
    if (interactions, pieces) != (expected["interactions"], expected["pieces"]):
        return (
            f"personal.jsonl: {interactions} interactions, {pieces} pieces; manifest.json says "
            f"{expected['interactions']} and {expected['pieces']}"
        )
    print(
        f"personal data: {pieces} pieces of {interactions} interactions, each matching its "
        f"digest; {pieces - unjournaled} held by the journal"
    )
    return None


def _config(directory: Path, manifest: dict[str, Any], _: set[str]) -> str | None:
    found = hashlib.sha256((directory / "config.toml").read_bytes()).hexdigest()
    if found != manifest["config_sha256"]:
        return "config.toml: its SHA-256 is not the one manifest.json gives"
    print(f"configuration: config.toml, SHA-256 {found}")
    return None


def main(argv: list[str] | None = None) -> int:
    """Check the export directory named on the command line; 0 when it checks out."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print("usage: python3 verify_export.py DIRECTORY", file=sys.stderr)
        return 2
    faults = verify_export(Path(arguments[0]))
    for fault in faults:
        print(f"FAULT {fault}")
    print("the export checks out" if not faults else f"the export is BROKEN ({len(faults)})")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
