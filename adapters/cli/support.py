"""What every ``aiguillage`` subcommand shares: the ``--config`` option and loading it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from aiguillage.adapters.config.settings import LoadedConfig

__all__ = ["ConfigOption", "load_or_exit"]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Configuration file; by default ./config.toml, else the reference shipped.",
        show_default=False,
    ),
]


def load_or_exit(path: Path | None) -> LoadedConfig:
    """Load a configuration, or print each problem with its line on stderr and exit 1."""
    # Imported here: a command's --help, and the commands that read no configuration, start
    # without the settings' whole tree of tables.
    from aiguillage.adapters.config.settings import ConfigError, default_config_path, load_config

    path = path if path is not None else default_config_path()
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        count = len(exc.problems)
        typer.echo(f"{count} problem{'s' if count > 1 else ''} in {path}", err=True)
        raise typer.Exit(1) from None
