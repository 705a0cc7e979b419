"""``aiguillage quality``: mystery-shopper results, checked here and imported through the daemon.

``import-mystery FILE --url URL`` reads the CSV (columns in ``reports.mystery_csv``), checks it
against the configuration's ``[quality]`` grid and, when every line is right, sends it to the
running daemon's ``POST /v1/mystery-shoppers`` with the admin token in
``AIGUILLAGE_ADMIN_TOKEN``; the daemon checks it again and journals every visit, or none.
Without ``--url`` it checks the file only. A problem is printed with its line and column, and
the command exits 1 having imported nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.daemon.auth import ADMIN_TOKEN_VARIABLE
from aiguillage.adapters.reports.mystery_csv import MysteryCsvError, read_mystery

__all__ = ["quality_app"]

quality_app = typer.Typer(
    no_args_is_help=True,
    help="Quality: mystery-shopper results (audits: the page /app/quality, or /v1/audits).",
)


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(1)


@quality_app.command("import-mystery")
def import_mystery(
    file: Annotated[Path, typer.Argument(help="The CSV file of the visits, UTF-8.")],
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The running daemon (http://127.0.0.1:8080); the admin token is read from "
            f"{ADMIN_TOKEN_VARIABLE}. Without it: check the file only.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check mystery-shopper results against the audit grid, and import them all, or none."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{file}: {exc}") from None
    try:
        results = read_mystery(text, load_or_exit(config).settings.quality)
    except MysteryCsvError as exc:
        raise _fail(f"{file}: {exc}; nothing imported") from None
    if url is None:
        print(f"{file}: {len(results)} visits, all well formed (give --url to import them)")
        return
    admin = os.environ.get(ADMIN_TOKEN_VARIABLE)
    if not admin:
        raise _fail(f"--url needs an admin token in {ADMIN_TOKEN_VARIABLE}")
    import httpx  # imported here: checking a file needs no HTTP client

    try:
        response = httpx.post(
            url.rstrip("/") + "/v1/mystery-shoppers",
            content=text.encode("utf-8"),
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "text/csv"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise _fail(f"{url}: {exc}; nothing imported") from None
    if response.status_code != 201:
        raise _fail(f"{url}: {response.status_code} {response.text[:500]}; nothing imported")
    print(f"{file}: {response.json()['imported']} visits imported")
