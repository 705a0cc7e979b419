"""``aiguillage channel``: authorise a social channel through its platform's OAuth consent.

``authorize NAME`` runs the authorization-code grant with PKCE (``channels.social.oauth``) for
the channel ``[adapters.NAME]`` whose ``[adapters.NAME.oauth]`` table names the store, the key
and the client: it prints the consent URL, waits for the platform's redirect on the loopback
address of ``redirect_uri`` (or, with ``--paste``, reads the address the browser was sent to,
for a server without a browser), checks ``state``, exchanges the code, and writes the grant to
the encrypted store. A running daemon takes it at its next call, no restart. ``new-key`` prints
a key for the store's variable.
"""

from __future__ import annotations

import http.server
import ipaddress
import os
import secrets
import socket
import sys
import time
from typing import Annotated, Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import httpx
import typer

from aiguillage.adapters.channels.social import oauth
from aiguillage.adapters.channels.social.token_store import StoreError, TokenStore, new_key
from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.config.plugins import configured_adapters

__all__ = ["channel_app"]

channel_app = typer.Typer(
    no_args_is_help=True,
    help="Authorise a social channel through its platform's OAuth consent.",
)


class Redirect(NamedTuple):
    code: str
    state: str
    error: str


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@channel_app.command("new-key")
def new_key_command() -> None:
    """Print a new random key for the variable named by [adapters.NAME.oauth] key_env."""
    typer.echo(new_key())


@channel_app.command("authorize")
def authorize(
    name: Annotated[str, typer.Argument(help="The channel: its [adapters.NAME] table.")],
    config: ConfigOption = None,
    paste: Annotated[
        bool,
        typer.Option(
            "--paste",
            help="Read the address the browser was sent to from the input instead of "
            "listening for it (a server without a browser).",
        ),
    ] = False,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the consent.", min=1)
    ] = 600.0,
) -> None:
    """Run the platform's OAuth consent for channel NAME and keep its grant in the store."""
    loaded = load_or_exit(config)
    enabled, _ = configured_adapters(loaded.settings.adapters)
    found = next((a for a in enabled if a.name == name), None)
    if found is None:
        names = ", ".join(a.name for a in enabled) or "none"
        raise _fail(f"{loaded.source}: no enabled adapter [adapters.{name}] (enabled: {names})")
    settings: Any = found.settings
    vendor = getattr(found.factory.Settings, "oauth_vendor", None)
    table: oauth.OAuthSettings | None = getattr(settings, "oauth", None)
    if vendor is None:
        raise _fail(f"[adapters.{name}]: the {found.plugin} channel takes no OAuth grant")
    if table is None:
        raise _fail(
            f"{loaded.source}: [adapters.{name}] has no [adapters.{name}.oauth] table; add one "
            'with store = "<file>" and client_id_env = "<variable>" (see the README)'
        )
    client_id = os.environ.get(table.client_id_env, "").strip()
    if not client_id:
        raise _fail(f"set the environment variable {table.client_id_env} to the client's id")
    secret = ""
    if table.client_secret_env:
        secret = os.environ.get(table.client_secret_env, "").strip()
        if not secret:
            raise _fail(
                f"set the environment variable {table.client_secret_env} to the client's secret"
            )
    store = TokenStore(table.store, key_env=table.key_env, channel=name)
    try:
        store.check_key()
    except StoreError as exc:
        raise _fail(str(exc)) from None
    endpoints = table.endpoints(vendor)
    verifier, challenge = oauth.pkce_pair()
    state = secrets.token_urlsafe(24)
    url = oauth.authorization_url(endpoints, client_id, table.redirect_uri, state, challenge)
    listener = None if paste else _listen(table.redirect_uri)
    typer.echo(f"Open this address in a browser, signed in as the account {name} acts for:")
    typer.echo(url)
    if listener is None:
        typer.echo("Then paste here the address the browser was sent to:")
        redirect = _parse(sys.stdin.readline().strip())
    else:
        typer.echo(f"Waiting for the platform's answer on {table.redirect_uri} ...")
        redirect = _wait(listener, timeout_s)
    if redirect.error:
        raise _fail(f"the platform did not grant access: {redirect.error}")
    if not secrets.compare_digest(redirect.state, state):
        raise _fail("the answer's state is not the one sent (a forged or stale redirect)")
    if not redirect.code:
        raise _fail("the address has no code: paste the whole address the browser was sent to")
    request = oauth.code_request(
        endpoints, oauth.Client(client_id, secret), redirect.code, table.redirect_uri, verifier
    )
    try:
        with httpx.Client(timeout=30) as http:
            grant = oauth.granted(request.send(http))
    except httpx.HTTPError as exc:
        raise _fail(f"the token endpoint did not answer: {type(exc).__name__}") from None
    except oauth.OAuthError as exc:
        raise _fail(str(exc)) from None
    if not grant.scopes:
        grant.scopes = list(endpoints.scopes)
    try:
        with store.locked():
            store.save(grant)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    expiry = (
        f"expires in {(grant.expires_at - time.time()) / 3600:.1f} h"
        if grant.expires_at is not None
        else "expiry not said"
    )
    refresh = "with a refresh token" if grant.refresh_token else "WITHOUT a refresh token"
    typer.echo(
        f"Authorised {name}: access token {expiry}, {refresh}, scopes {' '.join(grant.scopes)}; "
        f"kept in {store.path}. A running daemon takes it at its next call."
    )


class _Catch(http.server.BaseHTTPRequestHandler):
    path_expected = "/"
    caught: Redirect | None = None

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.path_expected:
            self.send_error(404)
            return
        type(self).caught = _parse(self.path)
        body = b"<!doctype html><p>Done: you may close this window and return to the terminal."
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal shows the consent's progress, not an access log


class _ListenerV6(http.server.HTTPServer):
    address_family = socket.AF_INET6


def _listen(redirect_uri: str) -> http.server.HTTPServer:
    parts = urlsplit(redirect_uri)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise _fail(
            f"redirect_uri {redirect_uri} is not an http:// loopback address to listen on; "
            "use --paste"
        )
    port = parts.port or 80
    handler = type("Catch", (_Catch,), {"path_expected": parts.path or "/", "caught": None})
    try:
        bound = "127.0.0.1" if host == "localhost" else host
        server_class = _ListenerV6 if ":" in bound else http.server.HTTPServer
        server = server_class((bound, port), handler)
    except OSError as exc:
        raise _fail(
            f"cannot listen on {host}:{port} ({exc.strerror}): free it, or use --paste"
        ) from None
    server.timeout = 0.5
    return server


def _wait(server: http.server.HTTPServer, timeout_s: float) -> Redirect:
    handler: Any = server.RequestHandlerClass
    deadline = time.monotonic() + timeout_s
    try:
        while handler.caught is None:
            if time.monotonic() > deadline:
                raise _fail(f"no answer from the platform within {timeout_s:g} s")
            server.handle_request()
    finally:
        server.server_close()
    caught: Redirect = handler.caught
    return caught


def _parse(address: str) -> Redirect:
    """The code, state and error of a redirect's address (RFC 6749, sections 4.1.2 and 4.1.2.1)."""
    query = dict(parse_qsl(urlsplit(address).query, keep_blank_values=True))
    error = query.get("error", "")
    if error and query.get("error_description"):
        error += f" ({query['error_description']})"
    return Redirect(query.get("code", ""), query.get("state", ""), error)
