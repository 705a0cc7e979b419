"""Imports flow down the rooms of adapters/, and no module of adapters/ imports itself back.

Each module of ``adapters/`` lives in a room, and a room may import its own modules and those
of lower rooms only::

    cli 6 > daemon 5 > channels 4 = reports 4 > stores 3 > config 2 > adapters/*.py 1
      > engine, simulations

Rooms of the same rank (channels, reports) may not import each other, and neither engine/ nor
simulations/ may import anything of adapters/. Every import counts here, those inside functions
and under ``TYPE_CHECKING`` too: a late import still ties the rooms together. A cycle among the
modules of adapters/ is refused as well, counting only what runs at import time (module-level
imports outside ``TYPE_CHECKING``), since only those can fail on a half-initialised module.

The checker is tried first on a small synthetic tree, so this test is known to be able to fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"adapters": "aiguillage.adapters", "engine": "aiguillage.engine"}
PACKAGES["simulations"] = "aiguillage.simulations"
ADAPTERS = "aiguillage.adapters"

RANKS = {"cli": 6, "daemon": 5, "channels": 4, "reports": 4, "stores": 3, "config": 2}
TOP = 1
"""The rank of the modules directly in adapters/ (``__init__.py``)."""
CORE = {"aiguillage.engine": "engine", "aiguillage.simulations": "simulations"}
ORDER = "cli > daemon > channels = reports > stores > config > adapters/*.py > engine/simulations"


class Import(NamedTuple):
    importer: str
    imported: str
    line: int
    at_import_time: bool
    """At module level and outside ``if TYPE_CHECKING:``: it runs when the importer loads."""


class Source(NamedTuple):
    text: str
    is_package: bool


def modules_on_disk() -> dict[str, Source]:
    """Return the source of every module of adapters/, engine/ and simulations/ by its name."""
    found = {}
    for directory, package in PACKAGES.items():
        for path in sorted((ROOT / directory).rglob("*.py")):
            parts = path.relative_to(ROOT / directory).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join((package, *(parts[:-1] if is_package else parts)))
            found[name] = Source(path.read_text(encoding="utf-8"), is_package)
    return found


def imports_of(name: str, source: Source, known: Iterable[str]) -> list[Import]:
    """Return every import of a module, relative ones resolved, ``from m import sub`` naming
    the submodule when ``sub`` is one of ``known``."""
    modules = set(known)
    package = name if source.is_package else name.rpartition(".")[0]
    found: list[Import] = []
    tree = ast.parse(source.text, filename=name)
    for node, at_import_time in _walk(tree.body, at_import_time=True):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.level, node.module)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        elif isinstance(node, ast.Call) and _dynamic_import(node) is not None:
            targets = [str(_dynamic_import(node))]
        else:
            continue
        found += [Import(name, target, node.lineno, at_import_time) for target in targets]
    return found


def _walk(body: Iterable[ast.AST], *, at_import_time: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Yield every node under ``body``, and whether it runs when the module is imported."""
    for node in body:
        yield node, at_import_time
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for child in ast.iter_child_nodes(node):
                yield from _walk([child], at_import_time=False)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk([node.test], at_import_time=at_import_time)
            yield from _walk(node.body, at_import_time=False)
            yield from _walk(node.orelse, at_import_time=at_import_time)
        else:
            yield from _walk(ast.iter_child_nodes(node), at_import_time=at_import_time)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _dynamic_import(call: ast.Call) -> str | None:
    """The module of ``__import__("m")`` or ``importlib.import_module("m")`` named literally."""
    func = call.func
    named = (isinstance(func, ast.Name) and func.id in {"__import__", "import_module"}) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    if named and call.args and isinstance(call.args[0], ast.Constant):
        value = call.args[0].value
        return value if isinstance(value, str) else None
    return None


def _absolute(package: str, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)


def room_of(module: str) -> tuple[str, float] | None:
    """Return the room of a module of ours and its rank; None for another project's module."""
    for package, room in CORE.items():
        if module == package or module.startswith(package + "."):
            return room, 0
    if module == ADAPTERS:
        return "adapters", TOP
    if module.startswith(ADAPTERS + "."):
        room = module.split(".")[2]
        return (room, RANKS[room]) if room in RANKS else ("adapters", TOP)
    return None


def violations(imports: Iterable[Import]) -> list[str]:
    """Return one line per import that goes up a room, or across rooms of the same rank."""
    found = []
    for each in imports:
        importer, imported = room_of(each.importer), room_of(each.imported)
        if importer is None or imported is None:
            continue
        (room, rank), (target, target_rank) = importer, imported
        where = f"{each.importer} (line {each.line}) imports {each.imported}"
        if room in CORE.values() and target not in CORE.values():
            found.append(f"{where}: {room}/ never imports adapters/")
        elif room in CORE.values():
            continue
        elif target_rank > rank:
            found.append(
                f"{where}: {room} (rank {rank:g}) may not import {target} (rank {target_rank:g}); "
                f"imports flow down {ORDER}"
            )
        elif target_rank == rank and target != room:
            found.append(
                f"{where}: {room} and {target} share rank {rank:g}, so neither imports the other"
            )
    return found


def cycles(imports: Iterable[Import]) -> list[list[str]]:
    """Return the import cycles among adapters/ modules at import time, each as a path that
    ends where it starts (one per strongly connected group of modules)."""
    graph: dict[str, set[str]] = {}
    for each in imports:
        inside = each.imported.startswith(ADAPTERS + ".") or each.imported == ADAPTERS
        if each.at_import_time and each.importer.startswith(ADAPTERS) and inside:
            graph.setdefault(each.importer, set()).add(each.imported)
    return [_cycle_in(group, graph) for group in _tangles(graph)]


def _tangles(graph: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components with a cycle (more than one module, or a loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _cycle_in(group: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    """Return one cycle through the smallest module of a strongly connected group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, set()) & group):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def check(sources: Mapping[str, Source]) -> tuple[list[str], list[list[str]]]:
    imports = [i for name, source in sources.items() for i in imports_of(name, source, sources)]
    return violations(imports), cycles(imports)


# --- the checker on a synthetic tree ----------------------------------------------------------

A = ADAPTERS
SYNTHETIC = {
    A: Source("", is_package=True),
    f"{A}.daemon": Source("", is_package=True),
    f"{A}.daemon.runtime": Source("from aiguillage.adapters.stores import journal\n", False),
    f"{A}.daemon.api": Source("from ...channels import mail\n", is_package=True),
    f"{A}.channels": Source("", is_package=True),
    f"{A}.channels.mail": Source(
        "from aiguillage.adapters.daemon.runtime import Runtime\n"
        "from aiguillage.adapters.config import templates\n",
        False,
    ),
    f"{A}.reports.words": Source(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from aiguillage.adapters.channels.mail import Mail\n",
        False,
    ),
    f"{A}.stores": Source("", is_package=True),
    f"{A}.stores.journal": Source(
        "import msgspec\n"
        "from aiguillage.engine import events\n"
        "def lead():\n"
        "    from ..daemon import api\n"
        "    return api\n",
        False,
    ),
    f"{A}.config": Source("", is_package=True),
    f"{A}.config.templates": Source("from . import locations\n", False),
    f"{A}.config.locations": Source(
        "import importlib\n"
        "def later():\n"
        "    return importlib.import_module('aiguillage.adapters.cli.main')\n"
        "from .templates import load_templates\n",
        False,
    ),
    f"{A}.cli.main": Source("from aiguillage.adapters.daemon import api\n", False),
    "aiguillage.engine.events": Source("import msgspec\n", False),
    "aiguillage.simulations.run": Source(
        "from aiguillage.engine import events\nfrom aiguillage.adapters.stores import journal\n",
        False,
    ),
}


def test_the_checker_names_each_import_that_goes_up_or_across() -> None:
    found, _ = check(SYNTHETIC)
    assert [line.split(":")[0] for line in found] == [
        f"{A}.channels.mail (line 1) imports {A}.daemon.runtime",
        f"{A}.reports.words (line 3) imports {A}.channels.mail",
        f"{A}.stores.journal (line 4) imports {A}.daemon.api",
        f"{A}.config.locations (line 3) imports {A}.cli.main",
        "aiguillage.simulations.run (line 2) imports aiguillage.adapters.stores.journal",
    ]
    assert found[0].endswith(
        "channels (rank 4) may not import daemon (rank 5); imports flow down " + ORDER
    )
    assert "reports and channels share rank 4" in found[1]
    assert "stores (rank 3) may not import daemon (rank 5)" in found[2]
    assert "simulations/ never imports adapters/" in found[4]


def test_the_checker_names_an_import_cycle_and_ignores_late_imports() -> None:
    _, found = check(SYNTHETIC)
    # templates <-> locations at import time; locations -> cli.main is inside a function, and
    # reports.words -> channels.mail under TYPE_CHECKING: neither closes a cycle.
    assert found == [[f"{A}.config.locations", f"{A}.config.templates", f"{A}.config.locations"]]


def test_relative_imports_resolve_from_packages_and_modules() -> None:
    known = {f"{A}.daemon.api", f"{A}.channels.mail"}
    in_package = imports_of(f"{A}.daemon", Source("from .api import x\n", True), known)
    in_module = imports_of(f"{A}.daemon.runtime", Source("from . import api\n", False), known)
    up = imports_of(f"{A}.channels.mail", Source("from ...engine import events\n", False), known)
    api = imports_of(f"{A}.daemon.api", Source("from ...channels import mail\n", True), known)
    assert [i.imported for i in (*in_package, *in_module, *up, *api)] == [
        f"{A}.daemon.api",
        f"{A}.daemon.api",
        "aiguillage.engine",
        f"{A}.channels.mail",
    ]


# --- the real tree ------------------------------------------------------------------------------

SOURCES = modules_on_disk()


def test_the_tree_has_modules_in_every_room_and_their_imports_are_seen() -> None:
    rooms = {room_of(name) for name in SOURCES}
    assert {room for room, _ in filter(None, rooms)} >= {*RANKS, "adapters", *CORE.values()}
    ours = [
        found
        for name, source in SOURCES.items()
        for found in imports_of(name, source, SOURCES)
        if room_of(found.imported) is not None
    ]
    assert len(ours) > 500
    assert any(not found.at_import_time for found in ours)  # late and TYPE_CHECKING ones too


def test_imports_flow_down_the_rooms() -> None:
    found, _ = check(SOURCES)
    assert found == [], "imports against the rooms' order:\n" + "\n".join(found)


def test_no_import_cycle_among_adapters_modules() -> None:
    _, found = check(SOURCES)
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)
