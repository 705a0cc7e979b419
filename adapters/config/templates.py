"""Answer templates: the tone charter of a contact center, one Markdown file per template.

A configuration names a directory (``[templates] dir = "templates"``, relative to the config
file's directory); each file in it is one template in one language, ``<name>.<language>.md``
(``accuse-reception.fr.md``), with TOML front matter between ``+++`` lines::

    +++
    title = "Accusé de réception"
    motives = ["retard", "remboursement"]   # offered for these motives; empty = every motive
    +++
    Bonjour {customer_name},

    Nous avons bien reçu votre réclamation {reference} ({motive}).

A body names only the variables of ``VARIABLES``, each as a plain ``{name}``; braces meant
literally are doubled (``{{`` ``}}``), as with ``str.format_map``. Every file is checked when
the directory is loaded, so a typo in a variable is an error naming its file and line at start,
not a blank in a customer's answer. Rendering takes explicit values for the variables a body
names; nothing is looked up behind the caller's back.

Exceptions::

    TemplateError   a template file cannot be used: its path, line, the problem and the fix
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import msgspec

from aiguillage.adapters.config.locations import KeyLines

__all__ = [
    "VARIABLES",
    "Template",
    "TemplateError",
    "Templates",
    "TemplatesSettings",
    "load_templates",
    "parse_template",
]

VARIABLES = ("customer_name", "reference", "motive", "due_date", "advisor_name")
"""The variables a template body may name."""

_FENCE = "+++"
_FILE_NAME = re.compile(r"(?P<name>[a-z0-9][a-z0-9_-]*)\.(?P<language>[a-z]{2,3})\.md")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)$")


class TemplatesSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ``[templates]`` section: the directory of the templates, relative to the config
    file's directory; "" when the deployment has none."""

    dir: str = ""


class TemplateError(Exception):
    """A template file cannot be used; the message names the file, the line and the fix."""

    def __init__(self, path: Path, line: int | None, problem: str, fix: str) -> None:
        where = str(path) if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {problem} — fix: {fix}")
        self.path = path
        self.line = line
        self.problem = problem
        self.fix = fix


class _FrontMatter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: str
    motives: list[str] = []


class Template(msgspec.Struct, frozen=True):
    """One template in one language; ``variables`` are those its body names."""

    name: str
    language: str
    title: str
    motives: tuple[str, ...]
    body: str
    variables: frozenset[str]
    path: str

    def offered_for(self, motive: str) -> bool:
        """Whether this template is offered for interactions of ``motive``."""
        return not self.motives or motive in self.motives


class Templates:
    """The templates of a deployment, by name and language."""

    def __init__(self, templates: Iterable[Template] = ()) -> None:
        self._by_key = {(t.name, t.language): t for t in templates}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Template]:
        return iter(self._by_key.values())

    def get(self, name: str, language: str) -> Template:
        """Return a template; ``LookupError`` naming those there are in that language."""
        template = self._by_key.get((name, language))
        if template is None:
            there = sorted(n for n, lang in self._by_key if lang == language)
            raise LookupError(
                f"no template {name!r} in language {language!r}; templates in {language!r}: "
                f"{', '.join(there) or 'none'}"
            )
        return template

    def offered(self, motive: str, language: str) -> list[tuple[str, str]]:
        """Return (name, title) of the templates in ``language`` offered for ``motive``."""
        return sorted(
            (t.name, t.title)
            for t in self._by_key.values()
            if t.language == language and t.offered_for(motive)
        )

    def render(self, name: str, language: str, values: Mapping[str, str]) -> str:
        """Return the body of a template with ``values`` put in.

        ``ValueError`` when ``values`` lacks a variable the body names, or names one that no
        template may use (a typo would otherwise go unnoticed).
        """
        template = self.get(name, language)
        unknown = sorted(set(values) - set(VARIABLES))
        if unknown:
            raise ValueError(
                f"template {name!r}: unknown variables {', '.join(unknown)}; "
                f"known ones: {', '.join(VARIABLES)}"
            )
        missing = sorted(template.variables - set(values))
        if missing:
            raise ValueError(
                f"template {name!r} ({template.path}) needs a value for {', '.join(missing)}"
            )
        return template.body.format_map(values)


def load_templates(directory: Path) -> Templates:
    """Load and check every ``<name>.<language>.md`` file of ``directory``.

    Files that do not end in ``.md`` are left alone (a README.txt, an editor's backup).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise TemplateError(
            directory,
            None,
            "the templates directory does not exist or is not a directory",
            "create it, or correct `dir` in the [templates] section (relative to the "
            "config file's directory)",
        )
    return Templates(parse_template(path) for path in sorted(directory.glob("*.md")))


def parse_template(path: Path) -> Template:
    """Read and check one template file; ``TemplateError`` says what is wrong, and where."""
    match = _FILE_NAME.fullmatch(path.name)
    if match is None:
        raise TemplateError(
            path,
            None,
            "the file name is not <name>.<language>.md",
            "name it like accuse-reception.fr.md: lower-case letters, digits, '-' and '_', "
            "then a language code of two or three letters",
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateError(
            path, None, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise TemplateError(path, None, f"cannot be read: {exc.strerror}", "check it") from None
    lines = text.splitlines()
    front, body_start = _front_matter(path, lines)
    body_lines = lines[body_start:]
    variables = _variables(path, body_lines, first_line=body_start + 1)
    body = "\n".join(body_lines).strip("\n")
    if not body.strip():
        raise TemplateError(path, None, "the body is empty", "write the answer after the `+++`")
    return Template(
        name=match["name"],
        language=match["language"],
        title=front.title,
        motives=tuple(front.motives),
        body=body,
        variables=variables,
        path=str(path),
    )


def _front_matter(path: Path, lines: list[str]) -> tuple[_FrontMatter, int]:
    """Return the front matter and the index of the body's first line."""
    fix = 'start the file with a `+++` line, `title = "…"`, and a closing `+++` line'
    if not lines or lines[0].strip() != _FENCE:
        raise TemplateError(path, 1, "the file does not start with a `+++` line", fix)
    end = next((n for n in range(1, len(lines)) if lines[n].strip() == _FENCE), None)
    if end is None:
        raise TemplateError(path, 1, "the front matter opened here is never closed", fix)
    source = "\n".join(lines[1:end])
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        at = int(found[1]) + 1 if found else end  # else at the end of the front matter
        raise TemplateError(
            path, at, f"TOML syntax error in the front matter: {exc}", "correct the TOML"
        ) from None
    try:
        front = msgspec.convert(raw, _FrontMatter)
    except msgspec.ValidationError as exc:
        key = next((k for k in ("title", "motives") if f"`$.{k}`" in str(exc)), None)
        line = KeyLines(source).line_of((key,)) if key else None
        raise TemplateError(
            path,
            None if line is None else line + 1,
            f"front matter: {exc}",
            'give `title = "…"` (text) and, if any, `motives = ["…", …]` (a list of codes)',
        ) from None
    if not front.title.strip():
        raise TemplateError(path, 2, "the title is empty", "give the template a title")
    return front, end + 1


def _variables(path: Path, body_lines: list[str], first_line: int) -> frozenset[str]:
    """Return the variables the body names; ``TemplateError`` at the first it may not name."""
    found: set[str] = set()
    known = ", ".join(VARIABLES)
    for number, line in enumerate(body_lines, start=first_line):
        try:
            parsed = [part for part in string.Formatter().parse(line) if part[1] is not None]
        except ValueError as exc:
            raise TemplateError(
                path,
                number,
                f"unbalanced braces ({exc})",
                "write a variable as {customer_name}, and a literal brace as {{ or }}",
            ) from None
        for _, field, spec, conversion in parsed:
            if field not in VARIABLES:
                raise TemplateError(
                    path,
                    number,
                    f"unknown variable {{{field}}}",
                    f"use one of {known}, or double the braces ({{{{ }}}}) to write them as text",
                )
            if spec or conversion:
                raise TemplateError(
                    path,
                    number,
                    f"the variable {{{field}}} has a format or a conversion (after ':' or '!')",
                    f"write it alone, as {{{field}}}: values are given already formatted",
                )
            found.add(field)
    return frozenset(found)
