"""Keep what a configuration with type problems still says, so its meaning can be checked too.

When pass 2 (types and constraints) finds problems, ``salvage`` drops each value it refused
and decodes the rest, so pass 3 (meaning) reports the problems that do not depend on them in
the same run. ``Salvaged.independent`` keeps a problem of meaning only when it cannot come from
a dropped value: it lies outside the tables that lost a value, and names neither them nor a
dropped key.
Unknown keys mean nothing, so dropping them hides nothing. When a dropped value leaves an
element of an array of tables (an advisor) or a required section unreadable, nothing is
salvaged: the array's indices, or the whole file, would no longer be the user's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, NamedTuple

from aiguillage.adapters.config.errors import KeyProblem, Schema, decode_sections
from aiguillage.adapters.config.locations import Key, dotted

__all__ = ["Salvaged", "salvage"]

_ROUNDS = 8
"""Dropping a required value can make its table unreadable in turn; a few rounds suffice."""


class Salvaged(NamedTuple):
    """What could be read, and what was dropped to read it."""

    settings: Any
    scopes: list[Key]
    """Tables that lost a value: a problem of meaning inside them may come from the loss."""
    names: set[str]
    """Keys that were dropped: a problem naming one may come from the loss."""

    def independent(self, found: Iterable[KeyProblem]) -> list[KeyProblem]:
        """Return the problems that cannot have been caused by a dropped value."""
        return [
            (key, message, fix)
            for key, message, fix in found
            if not any(_related(key, scope) for scope in self.scopes)
            and not any(dotted(scope) in message for scope in self.scopes if scope)
            and not any(f"`{name}`" in message for name in self.names)
        ]


def salvage(
    raw: dict[str, Any], problems: list[KeyProblem], schema: type[Schema]
) -> Salvaged | None:
    """Drop the values ``problems`` point at until ``raw`` decodes; None when it never does."""
    readable = copy.deepcopy(raw)
    scopes: list[Key] = []
    names: set[str] = set()
    for _ in range(_ROUNDS):
        for key, message, _fix in problems:
            if message.startswith("unknown key"):
                if not _drop(readable, key):
                    return None
                continue
            if message.startswith("missing"):  # key is the table lacking it: drop the table
                if not key or isinstance(key[-1], int):
                    return None
                dropped_table = True
            else:
                dropped_table = isinstance(_value_at(readable, key), dict)
            if not key or not _drop(readable, key):
                return None
            scopes.append(key if dropped_table else key[:-1])
            if isinstance(key[-1], str):
                names.add(key[-1])
        settings, problems = decode_sections(readable, schema)
        if settings is not None:
            return Salvaged(settings, scopes, names)
    return None


def _related(key: Key, scope: Key) -> bool:
    """Whether one key path lies inside the other."""
    shorter = min(len(key), len(scope))
    return key[:shorter] == scope[:shorter]


def _value_at(raw: Any, key: Key) -> Any:
    for part in key:
        in_table = isinstance(raw, dict) and part in raw
        in_list = isinstance(raw, list) and isinstance(part, int) and part < len(raw)
        if not (in_table or in_list):
            return None
        raw = raw[part]
    return raw


def _drop(raw: dict[str, Any], key: Key) -> bool:
    """Remove the value at a key path; False when it is not there or is a table of an array."""
    container = _value_at(raw, key[:-1])
    last = key[-1]
    if isinstance(container, dict) and last in container:
        del container[last]
        return True
    if isinstance(container, list) and isinstance(last, int) and last < len(container):
        if isinstance(container[last], dict):
            return False  # removing an advisor would renumber the ones after it
        del container[last]
        return True
    return False
