"""The core stays pure: nothing in engine/ imports I/O, a clock, randomness or the outer layers.

The core never does I/O, reads the clock or draws randomness; this test walks every module of
``engine/`` and fails when an import crosses that line. An allow-list, not a deny-list: a new
dependency of the core must be added here on purpose, with the reviewer's eyes on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"

ALLOWED = {
    "__future__",
    "bisect",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "hashlib",
    "heapq",
    "holidays",
    "itertools",
    "math",
    "msgspec",
    "mypy_extensions",
    "typing",
    "zoneinfo",
}
# The core must never import these, whatever the allow-list says.
FORBIDDEN = {
    "aiguillage.adapters",
    "aiguillage.simulations",
    "adapters",
    "simulations",
    "anyio",
    "asyncio",
    "http",
    "logging",
    "multiprocessing",
    "os",
    "random",
    "redis",
    "secrets",
    "socket",
    "sqlite3",
    "structlog",
    "subprocess",
    "threading",
    "time",
    "trio",
    "urllib",
    "uvloop",
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            found.append((node.lineno, "__import__"))
    return found


MODULES = sorted(ENGINE.glob("*.py"))


def test_the_engine_has_modules_to_check() -> None:
    assert len(MODULES) >= 10


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_engine_module_imports_only_pure_modules(path: Path) -> None:
    for line, module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in FORBIDDEN, (
            f"engine/{path.name}:{line} imports {module}: the core does no I/O, clock or randomness"
        )
        assert module not in FORBIDDEN, (
            f"engine/{path.name}:{line} imports {module}: the core does no I/O, clock or randomness"
        )
        assert top in ALLOWED, (
            f"engine/{path.name}:{line} imports {module}, not on the core's allow-list"
        )


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import time\nfrom os import path\nx = __import__('random')\n")
    assert imported_modules(sneaky) == [(1, "time"), (2, "os"), (3, "__import__")]
