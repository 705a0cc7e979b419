"""Find the line where each key path is written in a TOML text, to point a user at it.

``tomllib`` returns values without their positions; ``KeyLines`` reads the text a second time
to recover them, and ``dotted`` writes a key path the way the user wrote it.
"""

from __future__ import annotations

import re

__all__ = ["Key", "KeyLines", "dotted"]

Key = tuple[str | int, ...]
"""A key path: table and key names, and the index of each element of an array of tables."""

_BARE_KEY = r"[A-Za-z0-9_-]+"
_KEY_PART = re.compile(rf"""\s*(?:({_BARE_KEY})|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*""")


class KeyLines:
    """Where each key path is written in a TOML text, best effort, for pointing at problems.

    Table headers, arrays of tables (counted by index), ``key = value`` lines and dotted keys
    are tracked; values spanning lines are skipped. A key not found points at its table.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[Key, int] = {}
        self._scan(text)

    def line_of(self, key: Key) -> int | None:
        """Return the line of a key path, else of its closest enclosing table, else None."""
        for end in range(len(key), 0, -1):
            line = self._lines.get(key[:end])
            if line is not None:
                return line
        return None

    def _scan(self, text: str) -> None:
        table: Key = ()
        arrays: dict[Key, int] = {}  # array-of-tables path -> elements seen so far
        open_brackets = 0
        closing_quotes: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if closing_quotes is not None:
                if closing_quotes in line:
                    closing_quotes = None
                continue
            if open_brackets > 0:
                open_brackets += _bracket_balance(line)
                continue
            stripped = line.strip()
            if stripped.startswith("[["):
                table = self._header(stripped[2:], arrays, number, new_element=True)
            elif stripped.startswith("["):
                table = self._header(stripped[1:], arrays, number, new_element=False)
            elif stripped and not stripped.startswith("#"):
                parsed = _parse_key(stripped)
                if parsed is None or not parsed[1].startswith("="):
                    continue
                parts, value = parsed
                self._record(table + tuple(parts), number)
                value = value[1:].strip()
                quotes = value[:3]
                if quotes in ('"""', "'''") and value.count(quotes) == 1:
                    closing_quotes = quotes
                else:
                    open_brackets = _bracket_balance(value)

    def _header(self, text: str, arrays: dict[Key, int], number: int, *, new_element: bool) -> Key:
        parsed = _parse_key(text)
        if parsed is None:
            return ()
        path: Key = ()
        for part in parsed[0][:-1]:
            path += (part,)
            if path in arrays:
                path += (arrays[path] - 1,)
        path += (parsed[0][-1],)
        if new_element:
            index = arrays.get(path, 0)
            arrays[path] = index + 1
            path += (index,)
        self._record(path, number)
        return path

    def _record(self, path: Key, number: int) -> None:
        for end in range(1, len(path)):
            self._lines.setdefault(path[:end], number)
        self._lines[path] = number


def dotted(key: Key) -> str:
    """Write a key path as a user would: ``channels.voice.sla``, ``advisors[3].id``."""
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            bare = re.fullmatch(_BARE_KEY, part)
            text += ("." if text else "") + (part if bare else f'"{part}"')
    return text


def _parse_key(text: str) -> tuple[list[str], str] | None:
    """Split a (dotted) key off the start of a line; return its parts and the rest."""
    parts: list[str] = []
    position = 0
    while True:
        match = _KEY_PART.match(text, position)
        if match is None or match.end() == position:
            return None
        parts.append(next(group for group in match.groups() if group is not None))
        position = match.end()
        if not text.startswith(".", position):
            return parts, text[position:]
        position += 1


def _bracket_balance(text: str) -> int:
    """Return how many ``[`` and ``{`` a line leaves open, ignoring strings and comments."""
    balance = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            balance += 1
        elif char in "]}":
            balance -= 1
    return balance
