"""Which adapter plugins ``config.toml`` enables, and whether their tables fit them.

A plugin is a class registered in the ``aiguillage.adapters`` entry-point group of its
distribution (``channels.protocol`` says what the class must be). Its ``[adapters.<name>]``
table is checked against the class's ``Settings`` here, with the whole file, so that
``check-config`` and ``serve`` name the line, the key and the fix of every problem at once.
This module only finds and checks plugins; running them is the daemon's work.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, NamedTuple

import msgspec

from aiguillage.adapters.config.errors import KeyProblem, decode_sections, did_you_mean

__all__ = ["ENTRY_POINT_GROUP", "EnabledAdapter", "configured_adapters", "installed_adapters"]

ENTRY_POINT_GROUP = "aiguillage.adapters"


class EnabledAdapter(NamedTuple):
    """An adapter to start: its name in config.toml, its plugin, its class, its settings."""

    name: str
    plugin: str
    factory: type[Any]
    """The plugin's class (an ``Adapter`` of ``channels.protocol``), checked for its shape."""
    settings: msgspec.Struct


def installed_adapters() -> dict[str, list[EntryPoint]]:
    """Return the entry points of the ``aiguillage.adapters`` group, by name."""
    found: dict[str, list[EntryPoint]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        same = found.setdefault(entry.name, [])
        if all(other.value != entry.value for other in same):  # one distribution seen twice
            same.append(entry)
    return found


def configured_adapters(
    tables: Mapping[str, Mapping[str, Any]],
) -> tuple[list[EnabledAdapter], list[KeyProblem]]:
    """Return the enabled adapters of the ``[adapters]`` tables, and every problem found."""
    installed = installed_adapters()
    enabled: list[EnabledAdapter] = []
    problems: list[KeyProblem] = []
    for name, table in tables.items():
        adapter, found = _configured(name, dict(table), installed)
        problems.extend(found)
        if adapter is not None:
            enabled.append(adapter)
    return enabled, problems


def _configured(
    name: str, table: dict[str, Any], installed: dict[str, list[EntryPoint]]
) -> tuple[EnabledAdapter | None, list[KeyProblem]]:
    key = ("adapters", name)
    plugin, on = table.get("plugin", name), table.get("enabled", True)
    if not isinstance(on, bool):
        return None, [((*key, "enabled"), "Expected `bool`", "write true or false")]
    if not isinstance(plugin, str):
        fix = 'write the name of an installed adapter in double quotes, such as "webhook"'
        return None, [((*key, "plugin"), "Expected `str`", fix)]
    entries = installed.get(plugin, [])
    at = (*key, "plugin") if "plugin" in table else key
    if not entries:
        if not on:
            return None, []
        names = ", ".join(sorted(installed)) or "none"
        return None, [
            (
                at,
                f"no adapter `{plugin}` is installed (installed: {names})",
                "install the distribution that provides it (`pip install …`), correct the name"
                + did_you_mean(plugin, list(installed))
                + ", or set enabled = false",
            )
        ]
    if len(entries) > 1:
        providers = " and ".join(f"{_distribution(e)} ({e.value})" for e in entries)
        return None, [
            (at, f"two distributions provide adapter `{plugin}`: {providers}", "uninstall one")
        ]
    factory, problem = _load(entries[0])
    if factory is None:
        fix = f"reinstall {_distribution(entries[0])}, or set enabled = false"
        return None, [(at, problem, fix)]
    # The adapter's settings with ours, decoded as the whole document would be, so that
    # problems name their full key path (`adapters.webhook.url`) and table.
    table_type = msgspec.defstruct(
        "AdapterTable",
        [("enabled", bool, True), ("plugin", str, name)],
        bases=(factory.Settings,),
        kw_only=True,
        forbid_unknown_fields=True,
    )
    tables = msgspec.defstruct("Adapters", [("adapter", table_type)], rename={"adapter": name})
    document = msgspec.defstruct("Document", [("adapters", tables)])
    decoded: Any  # of a type made here: its fields are known to us, not to the type checker
    decoded, problems = decode_sections({"adapters": {name: table}}, document)
    if decoded is None:
        return None, problems
    if not on:
        return None, []
    full = decoded.adapters.adapter
    fields = msgspec.structs.fields(factory.Settings)
    settings = factory.Settings(**{f.name: getattr(full, f.name) for f in fields})
    return EnabledAdapter(name, plugin, factory, settings), []


def _load(entry: EntryPoint) -> tuple[type[Any] | None, str]:
    """Import an adapter class and check its shape; else None and what is wrong."""
    try:
        factory = entry.load()
    except Exception as exc:
        return None, f"adapter `{entry.name}` ({entry.value}) cannot be loaded: {_text(exc)}"
    settings = getattr(factory, "Settings", None)
    subscribes = getattr(factory, "subscribes", None)
    if not isinstance(factory, type):
        wrong = "it is not a class"
    elif not (isinstance(settings, type) and issubclass(settings, msgspec.Struct)):
        wrong = "its `Settings` is not a msgspec Struct"
    elif subscribes is not None and not isinstance(subscribes, frozenset):
        wrong = "its `subscribes` is not a frozenset of event types"
    elif {"enabled", "plugin"} & {field.name for field in msgspec.structs.fields(settings)}:
        wrong = "its `Settings` has a field `enabled` or `plugin`, which config.toml keeps"
    elif not inspect.iscoroutinefunction(getattr(factory, "run", None)):
        wrong = "it has no `async def run(self)`"
    else:
        return factory, ""
    return None, f"adapter `{entry.name}` ({entry.value}) is not an adapter: {wrong}"


def _distribution(entry: EntryPoint) -> str:
    dist = entry.dist
    return "the distribution that provides it" if dist is None else f"{dist.name} {dist.version}"


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
