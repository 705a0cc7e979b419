"""Optionally compile the simulator's hot modules with mypyc; pyproject.toml holds the rest.

A plain ``pip install .`` builds the pure-Python package. ``AIGUILLAGE_COMPILE=1`` compiles the
modules below to C extensions (simulations about 1.5 times faster, the same results bit for
bit; the README, "A compiled build"). mypyc type-checks them first, so the build needs
mypy and the typed packages they import, installed beforehand with ``--no-build-isolation``::

    pip install 'mypy[mypyc]>=1.10' setuptools wheel msgspec holidays numpy
    AIGUILLAGE_COMPILE=1 pip install --no-build-isolation .

Refused for an editable install (``-e``): the extensions would sit beside the sources, and
Python would load them instead of the ``.py`` files being edited.

The package folders are mapped at install time (aiguillage.engine -> engine/, ...), and mypy
names modules after their folders: it is given a view of the tree with the folders named as they
install (as .ci/run does). setuptools' build_ext puts each extension through the same mapping.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
PACKAGES = ("engine", "simulations", "adapters")

# The simulator's hot path (cProfile of ``simulate queue`` and of a simulated year). The modules
# that define msgspec.Struct classes (events, commands, advisors, interactions, policies) stay
# interpreted: mypyc would make those classes native ones, which msgspec cannot build on.
COMPILED = [
    "engine/engine.py",
    "engine/state.py",
    "engine/handlers.py",
    "engine/queues.py",
    "engine/timers.py",
    "engine/ready.py",
    "engine/due.py",
    "engine/routing.py",
    "engine/sla.py",
    "engine/roster.py",
    "engine/states.py",
    "simulations/kernel.py",
    "simulations/queue.py",
    "simulations/results.py",
]


def _view() -> Path:
    """Return a folder where aiguillage/<package> links to each package folder."""
    view = ROOT / "build" / "mypyc-view"
    (view / "aiguillage").mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        link = view / "aiguillage" / package
        if not link.is_symlink():
            link.symlink_to(ROOT / package, target_is_directory=True)
    return view


def _extensions() -> list[object]:
    if os.environ.get("AIGUILLAGE_COMPILE") != "1":
        return []
    if "editable_wheel" in sys.argv:
        raise SystemExit(
            "AIGUILLAGE_COMPILE=1 with pip install -e: the compiled modules would shadow the "
            "sources being edited; install the compiled build without -e, or unset the variable"
        )
    try:
        from mypyc.build import mypycify
    except ImportError:
        raise SystemExit(
            "AIGUILLAGE_COMPILE=1 needs mypyc in the build environment: pip install "
            "'mypy[mypyc]>=1.10' setuptools wheel msgspec holidays numpy, then pip install "
            "--no-build-isolation ."
        ) from None
    view = _view()
    # mypy names modules from the view's root, given as the one package base (MYPYPATH with
    # --explicit-package-bases): <view>/aiguillage/engine/engine.py is aiguillage.engine.engine.
    os.environ["MYPYPATH"] = str(view)
    paths = [str(view / "aiguillage" / path) for path in COMPILED]
    return mypycify(
        ["--config-file", str(ROOT / "pyproject.toml"), "--explicit-package-bases", *paths],
        opt_level="3",
        target_dir=str(ROOT / "build" / "mypyc"),
        # The group's shared library goes inside the package, not at the top level.
        group_name="aiguillage.engine.native",
    )


setup(ext_modules=_extensions())
