"""Terminal tables of the ``aiguillage`` commands: their header words are never cut.

Apart from ``support``, so that a command that prints JSON, or only its help, imports no Rich.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.table import Table

__all__ = ["HeadedTable"]


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
