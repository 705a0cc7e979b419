"""The ``aiguillage`` command line: one entry point, one subcommand per task.

``app`` is the root Typer application. A subcommand is a Typer application or a command function
in a sibling module, named in ``COMMANDS`` with its line of help: the root imports a subcommand's
module only when that subcommand runs or shows its help (``cli.lazy``), so ``aiguillage --help``
and a short command do not pay for the daemon, the channels or numpy. ``main()`` is the
console-script entry point.

Expected failures (a configuration that does not check out, a file that cannot be read) print
what is wrong on stderr and exit with status 1, never with a traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer

from aiguillage.adapters.cli.lazy import Lazy, LazyGroup

__all__ = ["COMMANDS", "app", "main"]

_CLI = "aiguillage.adapters.cli"

COMMANDS = {
    "demo": Lazy(
        f"{_CLI}.demo:demo",
        "Run a morning of a deployment in virtual time and show the routing at work.",
    ),
    "serve": Lazy(
        f"{_CLI}.serve:serve",
        "Run the routing daemon: the engine, its journal, the HTTP and WebSocket API.",
    ),
    "replay": Lazy(
        f"{_CLI}.serve:replay",
        "Check a journal: with --verify, every event's hash chain, naming the first break, and"
        " each snapshot stored against the seal the chain holds of it.",
    ),
    "erase": Lazy(
        f"{_CLI}.serve:erase",
        "Erase an interaction's personal data (customer, subject, text); the journal stays"
        " valid. The erasure is recorded in the access log: this command (with the system user)"
        " and why.",
    ),
    "retention": Lazy(
        f"{_CLI}.retention:retention",
        "Print what each category's retention period removes: what would go, or with --apply"
        " what went (messages, attachments, access log; recordings are the call channel's).",
    ),
    "check-config": Lazy(
        f"{_CLI}.check_config:check_config",
        "Check a configuration file and summarise it; list every problem with its line.",
    ),
    "sla": Lazy(f"{_CLI}.sla:sla_app", "SLA deadlines."),
    "simulate": Lazy(
        f"{_CLI}.simulate:simulate_app",
        "Simulate the configured deployment in virtual time: service levels, waits, penalties.",
    ),
    "staff": Lazy(
        f"{_CLI}.staff:staff_app",
        "Staffing: advisors for a queue of calls (erlang), or per half-hour over a week (plan).",
    ),
    "subject": Lazy(
        f"{_CLI}.subject:subject_app",
        "A data subject's access and erasure by e-mail or phone (GDPR art. 15 and 17).",
    ),
    "export-all": Lazy(
        f"{_CLI}.retention:export_app",
        "Write the reversibility export (journal, personal data, configuration), or check one.",
    ),
    "token": Lazy(
        f"{_CLI}.tokens:token_app",
        "API tokens: mint, list and revoke them (they live in the journal).",
    ),
    "report": Lazy(
        f"{_CLI}.report:report_app",
        "The authority's reports, from the journal: a month, or a year month by month.",
    ),
    "quality": Lazy(
        f"{_CLI}.quality:quality_app",
        "Quality: mystery-shopper results (audits: the page /app/quality, or /v1/audits).",
    ),
    "channel": Lazy(
        f"{_CLI}.channel:channel_app",
        "Authorise a social channel through its platform's OAuth consent.",
    ),
    "nowcast": Lazy(
        f"{_CLI}.nowcast:nowcast_app",
        "Simulate the rest of the day from a journal, as the daemon's nowcast would have then.",
    ),
}
"""Every subcommand, in the order ``aiguillage --help`` lists them."""


class _Root(LazyGroup):
    lazy = COMMANDS


app = typer.Typer(
    name="aiguillage",
    cls=_Root,
    no_args_is_help=True,
    add_completion=False,
    # Help texts are shown as written: they name TOML tables ("[daemon] host", "[[tokens]]")
    # and URLs ("redis://host[:port][/db]") that Rich would read as markup. The mode given
    # here is the one every subcommand and mounted application is built with.
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    if asked:
        # Imported here: reading the distribution's metadata costs the other commands' start.
        from importlib.metadata import version

        typer.echo(f"aiguillage {version('aiguillage')}")
        raise typer.Exit


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the installed version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Route a contact center's calls, written complaints and social-media messages."""
    # A callback keeps each command a subcommand (``aiguillage check-config``), even while the
    # application has a single one.


def main() -> None:
    """Run the command line (the ``aiguillage`` console script)."""
    app()


if __name__ == "__main__":
    main()
