"""A command group that imports a subcommand's module only when that subcommand is asked for.

``aiguillage --help`` lists every subcommand from a table (its name, where it lives, its line of
help) without importing any of them; ``aiguillage simulate queue`` imports ``cli.simulate`` and
what it needs, not the daemon, the channels or the reports. The table's lines of help are the
subcommands' own (a test compares them), so the listing reads as it would if each were imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any, NamedTuple

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

__all__ = ["Lazy", "LazyGroup"]


class Lazy(NamedTuple):
    """Where a subcommand lives (``"package.module:attribute"``) and its line of help."""

    target: str
    """A ``typer.Typer`` application (mounted as a group) or a command function."""
    help: str
    """The first paragraph of the subcommand's help, as ``aiguillage --help`` lists it."""


def _mounted(name: str, target: str, rich_markup_mode: Any) -> TyperCommand | TyperGroup:
    """Import ``target`` and build its command as ``add_typer`` or ``command`` would mount it."""
    module, _, attribute = target.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer(rich_markup_mode=rich_markup_mode, add_completion=False)
    if isinstance(found, typer.Typer):
        holder.add_typer(found, name=name)
    else:
        holder.command(name)(found)
    # A callback makes the holder a group, whatever it holds, so the command is built as it is
    # under the root; the holder itself is then dropped.
    holder.callback()(_nothing)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    command = group.commands[name]
    assert isinstance(command, TyperCommand | TyperGroup)
    return command


def _nothing() -> None:
    """Do nothing: the holder's callback, which only makes it a group."""


class LazyGroup(TyperGroup):
    """A group whose subcommands are imported from ``lazy`` when one is run or its help shown.

    A subclass sets ``lazy``, in the order ``--help`` lists them; commands registered on the
    Typer application itself come after.
    """

    lazy: Mapping[str, Lazy] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.lazy, *(name for name in self.commands if name not in self.lazy)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.commands[cmd_name] = _mounted(
                cmd_name, self.lazy[cmd_name].target, self.rich_markup_mode
            )
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.lazy and args[0] not in self.commands:
            # Typer suggests the names close to a mistyped one among the commands already built:
            # the close ones are built first, so the error names them as it would without lazy.
            for name in get_close_matches(args[0], list(self.lazy)):
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            # Typer coerces a flag's value through pydantic unless it is a bool: left at None
            # when not given, this group's --help would import pydantic for each subcommand's.
            option.default = False
        return option

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Listed from the table's lines of help, laid out by the group's own code, so that the
        # listing imports nothing and reads as it would with every subcommand imported.
        listed = TyperGroup(
            name=self.name,
            commands=[
                *(TyperCommand(name=name, help=entry.help) for name, entry in self.lazy.items()),
                *(command for name, command in self.commands.items() if name not in self.lazy),
            ],
            rich_markup_mode=self.rich_markup_mode,
        )
        listed.format_commands(ctx, formatter)
