"""What every ``aiguillage`` subcommand shares: the ``--config`` option, loading it, tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.table import Table

if TYPE_CHECKING:
    from aiguillage.adapters.config.settings import LoadedConfig

__all__ = ["ConfigOption", "HeadedTable", "load_or_exit"]

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


class HeadedTable(Table):
    """A Rich table whose header words are not cut while they fit side by side in the terminal.

    Rich narrows the widest columns evenly when a table is too wide, down to a header word's
    middle ("abandon…"). This table then widens each column to its longest header word, taking
    the width from columns wider than their own header needs, so the table keeps its width.
    """

    def _calculate_column_widths(self, console: Console, options: ConsoleOptions) -> list[int]:
        widths = super()._calculate_column_widths(console, options)
        padding = [self._get_padding_width(index) for index in range(len(self.columns))]
        # A column needs its longest header word, and can give away width down to that word or
        # its longest cell word, whichever is longer, so no figure gets cut instead.
        needs = [
            max((len(word) for word in str(column.header).split()), default=0) + padding[index]
            for index, column in enumerate(self.columns)
        ]
        keeps = [
            max(
                needs[index],
                max(
                    (Measurement.get(console, options, cell).minimum for cell in column.cells),
                    default=0,
                )
                + padding[index],
            )
            for index, column in enumerate(self.columns)
        ]
        spare = options.max_width - sum(widths)
        for index, need in enumerate(needs):
            while widths[index] < need:
                if spare > 0:
                    spare -= 1
                else:
                    donor = max(range(len(widths)), key=lambda i: widths[i] - keeps[i])
                    if widths[donor] <= keeps[donor]:
                        return widths
                    widths[donor] -= 1
                widths[index] += 1
        return widths
