"""``--help`` of every command shows its texts as written, and ``--version`` names the release.

The commands are found by walking the application, so a command added later is covered too.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from aiguillage.adapters.cli.main import COMMANDS as LISTED
from aiguillage.adapters.cli.main import app

runner = CliRunner()


Command = TyperCommand | TyperGroup


def _commands(
    command: object, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Command]]:
    assert isinstance(command, TyperCommand | TyperGroup)
    yield path, command
    if isinstance(command, TyperGroup):
        # Asked by name, as the command line asks: the root imports its subcommands when asked.
        context = typer.Context(command)
        for name in command.list_commands(context):
            yield from _commands(command.get_command(context, name), (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _squeezed(text: str) -> str:
    """The text without whitespace, so that wrapping at any width does not matter."""
    return "".join(text.split())


def _texts_as_written(command: Command) -> list[str]:
    texts = [command.help.partition("\f")[0]] if command.help else []
    texts += [param.help for param in command.params if getattr(param, "help", None)]
    return texts


def test_the_walk_finds_the_commands_and_their_subcommands() -> None:
    assert {("serve",), ("replay",), ("erase",), ("token", "new"), ("staff", "plan")} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "aiguillage")
def test_help_exits_zero_and_shows_every_text_as_written(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    shown = _squeezed(result.stdout)
    for text in _texts_as_written(COMMANDS[path]):
        assert _squeezed(text) in shown, text


@pytest.mark.parametrize("name", list(LISTED))
def test_the_root_lists_each_subcommand_with_its_own_line_of_help(name: str) -> None:
    # The root lists its subcommands from a table, without importing them: each line must be
    # the one the subcommand itself gives, as the listing would show it at any width.
    listed = TyperCommand(name=name, help=LISTED[name].help)
    assert listed.get_short_help_str(limit=1000) == COMMANDS[(name,)].get_short_help_str(limit=1000)


def test_the_root_lists_every_subcommand_once() -> None:
    assert [path[0] for path in COMMANDS if len(path) == 1] == list(LISTED)


def test_brackets_in_help_texts_are_shown_literally() -> None:
    serve = _squeezed(runner.invoke(app, ["serve", "--help"]).stdout)
    assert _squeezed("redis://[[user]:password@]host[:port][/db]") in serve
    assert _squeezed("([daemon] host)") in serve
    token_new = _squeezed(runner.invoke(app, ["token", "new", "--help"]).stdout)
    assert _squeezed("journal.sqlite in [deployment] data_dir") in token_new


def test_the_installed_command_prints_its_help() -> None:
    script = Path(sys.executable).with_name("aiguillage")
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "check-config" in result.stdout
    assert "serve" in result.stdout


def test_version_prints_the_installed_distribution_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"aiguillage {version('aiguillage')}"


def test_a_mistyped_command_is_answered_with_the_close_names() -> None:
    result = runner.invoke(app, ["simulat"])
    assert result.exit_code == 2
    assert "No such command 'simulat'. Did you mean 'simulate', 'sla'?" in result.stderr
