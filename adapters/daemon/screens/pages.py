"""The routes that serve the screens: three page shells, their static files, and a directory.

A shell is a small HTML page in the configured language (``[daemon] screens_language``) that
loads one ES module; the module signs in (``/app/session``), then reads and acts through
``/v1``. ``GET /app/directory`` gives a signed-in page what it needs to draw its choices: the
configured reason codes, the motives with their labels, the channels, and the roster's names
(for a transfer to a named advisor). Nothing of the deployment is in a shell itself: a visitor
without a session learns nothing from it.

Every answer carries a Content-Security-Policy that lets the page load scripts, styles and
connections from the daemon only, and frames nothing; the shells are never cached.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

from aiguillage.adapters.daemon.api.routes import ANY_ROLE, caller, runtime_of
from aiguillage.engine.engine import Engine
from aiguillage.engine.policies import CHANNELS

__all__ = ["CSP", "SCREEN_ROUTES", "Directory"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_STATIC = resources.files(__package__) / "static"
_TITLES = {
    "workspace": {"fr": "Poste de travail — Aiguillage", "en": "Workspace — Aiguillage"},
    "wallboard": {"fr": "Tableau de supervision — Aiguillage", "en": "Wallboard — Aiguillage"},
    "quality": {"fr": "Audits qualité — Aiguillage", "en": "Quality audits — Aiguillage"},
}
_NO_SCRIPT = {
    "fr": "Cet écran a besoin de JavaScript.",
    "en": "This screen needs JavaScript.",
}


def _shell(screen: str, request: Request[Any, Any, Any]) -> Response[bytes]:
    language = _language(request)
    # Whether the sign-in offers the identity provider ([oidc]): a fact, not a secret.
    oidc = ' data-oidc="1"' if getattr(request.app.state, "oidc", None) is not None else ""
    title = _TITLES[screen][language]
    page = (
        f'<!doctype html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="stylesheet" href="/app/static/app.css">\n'
        f'<script type="module" src="/app/static/{screen}.js"></script>\n'
        f'</head>\n<body class="{screen}"{oidc}>\n'
        f"<noscript><p>{escape(_NO_SCRIPT[language])}</p></noscript>\n"
        '<div id="root"></div>\n</body>\n</html>\n'
    )
    return Response(page.encode(), media_type="text/html; charset=utf-8", headers=_HEADERS)


def _language(request: Request[Any, Any, Any]) -> str:
    language: str = runtime_of(request).daemon.screens_language
    return language


@get("/app/", include_in_schema=False)
async def workspace(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The advisor's workspace (a supervisor signed in here is sent to the wall)."""
    return _shell("workspace", request)


@get("/app/wallboard", include_in_schema=False)
async def wallboard(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The supervisor's wall; ``?wall=1`` for the large-screen mode."""
    return _shell("wallboard", request)


@get("/app/quality", include_in_schema=False)
async def quality(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The quality reviewer's audits: the sample drawn, and each scored on the grid."""
    return _shell("quality", request)


@get("/app/static/{name:str}", include_in_schema=False)
async def static(name: str) -> Response[bytes]:
    """A file the screens load, by name (no path: nothing outside ``static/`` is reachable)."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or suffix not in _TYPES:
        raise NotFoundException(f"no file {name!r}")
    source = _STATIC / name
    if not source.is_file():
        raise NotFoundException(f"no file {name!r}")
    return Response(
        source.read_bytes(),
        media_type=_TYPES[suffix],
        headers={**_HEADERS, "Cache-Control": "no-cache"},
    )


class Choice(msgspec.Struct, frozen=True):
    id: str
    label: str


class Directory(msgspec.Struct, frozen=True, kw_only=True):
    """What a signed-in screen draws its choices from."""

    language: str
    time_zone: str
    """The calendar's zone (``Europe/Paris``): the screens show every time in it."""
    role: str
    advisor_id: str | None
    channels: list[str]
    motives: list[Choice]
    advisors: list[Choice]
    reasons: dict[str, list[str]]
    """The configured codes: ``not_ready``, ``decline``, ``close``, and ``steer`` where the
    configuration has it."""
    skills: list[str]


@get("/app/directory", include_in_schema=False)
async def directory(request: Request[Any, Any, Any]) -> Directory:
    """Reason codes, motives, channels and the roster's names, for a signed-in screen."""
    principal = caller(request, *ANY_ROLE)
    runtime = runtime_of(request)
    reasons = runtime.settings.reasons
    codes = {
        name: list(getattr(reasons, name))
        for name in ("not_ready", "decline", "close", "steer")
        if hasattr(reasons, name)
    }

    def read(engine: Engine) -> Directory:
        policies = engine.state.policies
        return Directory(
            language=runtime.daemon.screens_language,
            time_zone=str(runtime.zone),
            role=principal.role,
            advisor_id=principal.advisor_id,
            channels=[c for c in CHANNELS if c in policies.channels],
            motives=[
                Choice(name, motive.label or name) for name, motive in policies.motives.items()
            ],
            advisors=[
                Choice(advisor.id, advisor.name or advisor.id)
                for advisor in sorted(engine.state.advisors.values(), key=lambda a: a.id)
            ],
            reasons=codes,
            skills=sorted(policies.skills),
        )

    found: Directory = await runtime.read(read)
    return found


SCREEN_ROUTES = [workspace, wallboard, quality, static, directory]
