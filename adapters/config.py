"""Load ``config.toml``, the deployment's settings, and explain every problem by line and key.

The file seeds the engine at the first start: ``LoadedConfig.seed_commands()`` gives a
``SetPolicies`` command, journaled with the SHA-256 digest of the file's bytes, then one
``AddAdvisor`` per roster entry. Later changes are commands like any other.

Loading checks the file in three passes, and a user sees every problem a pass finds:

1. TOML syntax (``tomllib``), with the line of the error;
2. types and constraints (msgspec), one problem per section and per advisor, with the key path
   (``channels.voice.sla.seconds``), its line, and the accepted keys or values;
3. meaning: references between skills, motives, advisors and channels, the calendar, the order
   of relaxation steps, and that every channel has someone to serve it.

Exceptions::

    ConfigError     the file cannot be used; ``problems`` lists each ``Problem`` found
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays
import msgspec
import msgspec.inspect as mi

from aiguillage.engine.commands import AddAdvisor, Command, SetPolicies
from aiguillage.engine.policies import (
    CHANNELS,
    BusinessHours,
    CalendarPolicy,
    Channel,
    ChannelPolicy,
    MotivePolicy,
    Policies,
    RoutingPolicy,
    SkillPolicy,
)

__all__ = [
    "ROUTING_STRATEGIES",
    "AdvisorSeed",
    "ConfigError",
    "Deployment",
    "LoadedConfig",
    "Problem",
    "Settings",
    "default_config_path",
    "load_config",
    "load_config_bytes",
    "validate_config",
]

ROUTING_STRATEGIES = ("deadline", "fifo")
"""The strategy names ``engine/routing.py`` knows."""

DomainId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
AdvisorId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$")]
SkillLevel = Annotated[int, msgspec.Meta(ge=1, le=5)]
Capacity = Annotated[int, msgspec.Meta(ge=0)]
Languages = Annotated[tuple[str, ...], msgspec.Meta(min_length=1)]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Deployment(_Section, frozen=True):
    """What this deployment is called, where it keeps its data, and the languages it serves."""

    name: str
    domain: DomainId
    """Routing domain id; it names the deployment's Redis keys (as their hash tag)."""
    data_dir: str = "var/aiguillage"
    start_date: date = date(2027, 1, 4)
    """The fixed date simulations start from, so that the same seed gives the same run."""
    languages: Languages = ("fr",)
    default_language: str = "fr"


class AdvisorSeed(_Section, frozen=True):
    """One advisor of the roster the configuration seeds (skill levels 1 to 5)."""

    id: AdvisorId
    name: str
    skills: dict[str, SkillLevel]
    languages: Languages
    capacity: dict[Channel, Capacity]
    """How many interactions of each channel the advisor may hold at once."""
    team: str | None = None


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole configuration file."""

    deployment: Deployment
    calendar: CalendarPolicy = CalendarPolicy()
    channels: dict[Channel, ChannelPolicy] = {}
    skills: dict[str, SkillPolicy] = {}
    motives: dict[str, MotivePolicy] = {}
    routing: RoutingPolicy = RoutingPolicy()
    advisors: tuple[AdvisorSeed, ...] = ()

    def policies(self) -> Policies:
        """Return the policies the engine applies, as one value."""
        return Policies(
            calendar=self.calendar,
            channels=dict(self.channels),
            skills=dict(self.skills),
            motives=dict(self.motives),
            languages=self.deployment.languages,
            default_language=self.deployment.default_language,
            routing=self.routing,
        )

    def seed_commands(self, config_digest: str = "") -> list[Command]:
        """Return the commands that seed an empty engine: the policies, then the roster."""
        commands: list[Command] = [
            SetPolicies(policies=self.policies(), config_digest=config_digest)
        ]
        commands.extend(
            AddAdvisor(
                advisor_id=advisor.id,
                name=advisor.name,
                skills=dict(advisor.skills),
                languages=advisor.languages,
                capacity=dict(advisor.capacity),
            )
            for advisor in self.advisors
        )
        return commands


class LoadedConfig(msgspec.Struct, frozen=True):
    """Settings read from a file, with where they came from and the digest of its bytes."""

    settings: Settings
    source: str
    digest: str
    """SHA-256 of the file's bytes, in hex: the ``config_digest`` journaled with the policies."""

    def seed_commands(self) -> list[Command]:
        return self.settings.seed_commands(config_digest=self.digest)


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a configuration file: where, what, and what to do about it."""

    file: str
    line: int | None
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"{self.key}: {self.message}" if self.key else self.message
        return f"{where}: {what} — fix: {self.fix}"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` says everything that is wrong."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def default_config_path() -> Path:
    """Return ``./config.toml`` when it exists, else the reference configuration shipped."""
    local = Path("config.toml")
    if local.is_file():
        return local
    return Path(str(resources.files("aiguillage.adapters") / "reference.toml"))


def load_config(path: Path) -> LoadedConfig:
    """Read and check a configuration file; raise ``ConfigError`` listing every problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problem = ("no such file", "give the path of a config.toml, or run from its directory")
    except IsADirectoryError:
        problem = ("this is a directory", "give the path of the config.toml file inside it")
    except PermissionError:
        problem = ("permission denied", "make the file readable by this user")
    except OSError as exc:
        problem = (f"cannot read the file: {exc.strerror or exc}", "check the path and the disk")
    else:
        return load_config_bytes(data, str(path))
    raise ConfigError([Problem(str(path), None, "", *problem)])


def load_config_bytes(data: bytes, source: str) -> LoadedConfig:
    """Check configuration bytes; ``source`` names them in problems (usually the path)."""
    digest = hashlib.sha256(data).hexdigest()
    raw, lines = _parse(data, source)
    settings, problems = _decode(raw, lines, source)
    if settings is None:
        raise ConfigError(problems)
    problems = [
        Problem(source, lines.line_of(key), _dotted(key), message, fix)
        for key, message, fix in _semantic_problems(settings)
    ]
    if problems:
        problems.sort(key=lambda problem: (problem.line is None, problem.line or 0))
        raise ConfigError(problems)
    return LoadedConfig(settings, source, digest)


def validate_config(path: Path) -> list[Problem]:
    """Return every problem of a configuration file; an empty list when it is usable."""
    try:
        load_config(path)
    except ConfigError as exc:
        return exc.problems
    return []


# --- pass 1: TOML syntax, and where each key is written -------------------------------------

Key = tuple[str | int, ...]

_TOML_POSITION = re.compile(
    r"^(?P<message>.*?) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$"
)
_SYNTAX_FIXES = (
    ("Invalid value", 'quote strings ("fr"), write times as 20:00:00 and lists as [ ]'),
    ("Cannot overwrite", "each key may be set only once; remove or merge the duplicate"),
    ("Cannot declare", "each table may be declared only once; merge the duplicate tables"),
    ("Expected '='", "write one `key = value` per line"),
    ("Expected newline", "put each `key = value` on its own line, and quote text values"),
    ("Unclosed", "close the bracket or brace opened here"),
    ("Unterminated", "close the string opened here with the same quote"),
    ("Illegal character", "remove the control character; a TOML file is plain UTF-8 text"),
)


def _parse(data: bytes, source: str) -> tuple[dict[str, Any], _KeyLines]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [
                Problem(
                    source,
                    line,
                    "",
                    f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                    "give a TOML file saved as UTF-8 text",
                )
            ]
        ) from None
    if not text.strip():
        fix = "start from the reference config.toml shipped with aiguillage"
        raise ConfigError([Problem(source, None, "", "the file is empty", fix)])
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(str(exc), text, source)]) from None
    except RecursionError:
        fix = "flatten the nested arrays or tables"
        raise ConfigError(
            [Problem(source, None, "", "values are nested too deeply", fix)]
        ) from None
    return raw, _KeyLines(text)


def _syntax_problem(error: str, text: str, source: str) -> Problem:
    match = _TOML_POSITION.match(error)
    message, line = error, None
    if match:
        message = match["message"]
        if match["line"]:
            line = int(match["line"])
            message = f"{message} (column {match['column']})"
        else:
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
            message = f"{message} (at the end of the file)"
    fix = next((fix for start, fix in _SYNTAX_FIXES if error.startswith(start)), None)
    fix = fix or "correct the TOML syntax of this line (https://toml.io/en/v1.0.0)"
    return Problem(source, line, "", f"TOML syntax error: {message}", fix)


_KEY_PART = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*""")


class _KeyLines:
    """Where each key path is written in a TOML text, best effort, for pointing at problems.

    Table headers, arrays of tables (counted by index), ``key = value`` lines and dotted keys
    are tracked; values spanning lines are skipped. A key not found points at its table.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[Key, int] = {}
        self._scan(text)

    def line_of(self, key: Key) -> int | None:
        for end in range(len(key), 0, -1):
            line = self._lines.get(key[:end])
            if line is not None:
                return line
        return None

    def _scan(self, text: str) -> None:
        table: Key = ()
        arrays: dict[Key, int] = {}  # array-of-tables path -> elements seen so far
        open_brackets = 0
        closing_quotes: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if closing_quotes is not None:
                if closing_quotes in line:
                    closing_quotes = None
                continue
            if open_brackets > 0:
                open_brackets += _bracket_balance(line)
                continue
            stripped = line.strip()
            if stripped.startswith("[["):
                table = self._header(stripped[2:], arrays, number, new_element=True)
            elif stripped.startswith("["):
                table = self._header(stripped[1:], arrays, number, new_element=False)
            elif stripped and not stripped.startswith("#"):
                parsed = _parse_key(stripped)
                if parsed is None or not parsed[1].startswith("="):
                    continue
                parts, value = parsed
                self._record(table + tuple(parts), number)
                value = value[1:].strip()
                quotes = value[:3]
                if quotes in ('"""', "'''") and value.count(quotes) == 1:
                    closing_quotes = quotes
                else:
                    open_brackets = _bracket_balance(value)

    def _header(self, text: str, arrays: dict[Key, int], number: int, *, new_element: bool) -> Key:
        parsed = _parse_key(text)
        if parsed is None:
            return ()
        path: Key = ()
        for part in parsed[0][:-1]:
            path += (part,)
            if path in arrays:
                path += (arrays[path] - 1,)
        path += (parsed[0][-1],)
        if new_element:
            index = arrays.get(path, 0)
            arrays[path] = index + 1
            path += (index,)
        self._record(path, number)
        return path

    def _record(self, path: Key, number: int) -> None:
        for end in range(1, len(path)):
            self._lines.setdefault(path[:end], number)
        self._lines[path] = number


def _parse_key(text: str) -> tuple[list[str], str] | None:
    """Split a (dotted) key off the start of a line; return its parts and the rest."""
    parts: list[str] = []
    position = 0
    while True:
        match = _KEY_PART.match(text, position)
        if match is None or match.end() == position:
            return None
        parts.append(next(group for group in match.groups() if group is not None))
        position = match.end()
        if not text.startswith(".", position):
            return parts, text[position:]
        position += 1


def _bracket_balance(text: str) -> int:
    """Return how many ``[`` and ``{`` a line leaves open, ignoring strings and comments."""
    balance = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            balance += 1
        elif char in "]}":
            balance -= 1
    return balance


def _dotted(key: Key) -> str:
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            bare = re.fullmatch(r"[A-Za-z0-9_-]+", part)
            text += ("." if text else "") + (part if bare else f'"{part}"')
    return text


# --- pass 2: types and constraints ----------------------------------------------------------

_ANY_KEY = "[...]"
_AT = re.compile(r"(?s)(?P<core>.*?)(?: - at (?P<at_key>`key` in )?`\$(?P<path>[^`]*)`)?")
_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|(\[\.\.\.\])")
_NOUNS = {
    "int": ("a whole number", "180"),
    "float": ("a number", "0.8"),
    "str": ("a string in double quotes", '"fr"'),
    "bool": ("true or false", "true"),
    "array": ("a list in square brackets", '["fr", "en"]'),
    "object": ("a table", "[section] or { key = value }"),
    "time": ("a local time, without quotes", "20:00:00"),
    "date": ("a date, without quotes", "2027-01-04"),
}
_PATTERN_FIXES = {
    "deployment.domain": "use lowercase letters, digits, '-' and '_', starting with a letter "
    'or a digit, such as "idfm-overflow"',
    "advisors[].id": "use letters, digits, '.', '-' and '_' only, such as \"claire.martin\"",
}
_SETTINGS_INFO = mi.type_info(Settings)


def _convert(raw: Any, type_: Any) -> Any:
    return msgspec.convert(raw, type_, builtin_types=(datetime, date, time), str_keys=True)


def _decode(
    raw: dict[str, Any], lines: _KeyLines, source: str
) -> tuple[Settings | None, list[Problem]]:
    """Decode section by section (and advisor by advisor) to report one problem for each."""
    problems: list[Problem] = []

    def problem(key: Key, message: str, fix: str) -> None:
        problems.append(Problem(source, lines.line_of(key), _dotted(key), message, fix))

    fields = {field.encode_name: field for field in msgspec.structs.fields(Settings)}
    for name in raw:
        if name not in fields:
            problem((name,), *_unknown_field(raw, (), name))
    for name, field in fields.items():
        if name not in raw:
            if field.required:
                problem((), *_missing_field(raw, (), name))
            continue
        value = raw[name]
        if get_origin(field.type) is tuple and isinstance(value, list):
            parts: Iterator[tuple[Key, Any, Any]] = (
                ((name, index), item, get_args(field.type)[0]) for index, item in enumerate(value)
            )
        else:
            parts = iter([((name,), value, field.type)])
        for prefix, part, type_ in parts:
            try:
                _convert(part, type_)
            except msgspec.ValidationError as exc:
                problem(*_explain(raw, prefix, part, type_, str(exc)))
    if not problems:
        try:
            return _convert(raw, Settings), []
        except msgspec.ValidationError as exc:  # every section passed: a safety net only
            problem(*_explain(raw, (), raw, Settings, str(exc)))
    return None, problems


def _explain(raw: Any, prefix: Key, part: Any, type_: Any, error: str) -> tuple[Key, str, str]:
    """Turn a msgspec error inside ``part`` (found at ``prefix``) into key, message and fix."""
    match = _AT.fullmatch(error)
    assert match is not None  # the pattern matches any text
    core = match["core"]
    segments: list[str | int] = []
    for name, index, any_key in _SEGMENT.findall(match["path"] or ""):
        segments.append(name or (int(index) if index else any_key))
    path = prefix + _resolve_any_keys(part, type_, segments, error)
    if match["at_key"]:
        info = _type_at(raw, path)
        allowed = _literals(info.key_type) if isinstance(info, mi.DictType) else ()
        container = _value_at(raw, path)
        bad = [k for k in container if k not in allowed] if isinstance(container, dict) else []
        key = (*path, bad[0]) if bad else path
        fix = f"use one of {_listing(allowed)} as the key"
        return key, core, fix + (_did_you_mean(bad[0], allowed) if bad else "")
    unknown = re.fullmatch(r"Object contains unknown field `(.+)`", core)
    if unknown:
        return (*path, unknown[1]), *_unknown_field(raw, path, unknown[1])
    missing = re.fullmatch(r"Object missing required field `(.+)`", core)
    if missing:
        return path, *_missing_field(raw, path, missing[1])
    return path, core, _value_fix(raw, path, core)


def _resolve_any_keys(part: Any, type_: Any, segments: list[str | int], error: str) -> Key:
    """Name the dict keys msgspec reports as ``[...]``, by replaying with one key at a time."""
    resolved: Key = ()
    for segment in segments:
        if segment != _ANY_KEY:
            resolved += (segment,)
            continue
        container = _value_at(part, resolved)
        if not isinstance(container, dict):
            break
        for key in container:
            trial = _keep_only(part, resolved, key)
            try:
                _convert(trial, type_)
            except msgspec.ValidationError as exc:
                if str(exc) == error:
                    part, resolved = trial, (*resolved, key)
                    break
        else:
            break
    return resolved


def _keep_only(raw: Any, path: Key, key: str) -> Any:
    if not path:
        return {key: raw[key]}
    inner = _keep_only(raw[path[0]], path[1:], key)
    if isinstance(raw, dict):
        return {**raw, path[0]: inner}
    return [inner if index == path[0] else item for index, item in enumerate(raw)]


def _value_at(raw: Any, path: Key) -> Any:
    for part in path:
        in_table = isinstance(raw, dict) and isinstance(part, str) and part in raw
        in_list = isinstance(raw, list) and isinstance(part, int) and part < len(raw)
        if not (in_table or in_list):
            return None
        raw = raw[part]
    return raw


def _type_at(raw: Any, path: Key) -> mi.Type | None:
    """Return the schema at a key path, choosing tagged-union members by the raw tag."""
    info: mi.Type | None = _SETTINGS_INFO
    for end, part in enumerate(path):
        info = _unwrap(info, _value_at(raw, path[:end]))
        if isinstance(info, mi.StructType):
            info = next((f.type for f in info.fields if f.encode_name == part), None)
        elif isinstance(info, mi.DictType):
            info = info.value_type
        elif isinstance(info, mi.ListType | mi.VarTupleType):
            info = info.item_type
        else:
            return None
    return _unwrap(info, _value_at(raw, path))


def _unwrap(info: mi.Type | None, raw: Any) -> mi.Type | None:
    while True:
        if isinstance(info, mi.Metadata):
            info = info.type
        elif isinstance(info, mi.UnionType):
            members = [t for t in info.types if not isinstance(t, mi.NoneType)]
            tagged = [t for t in members if isinstance(t, mi.StructType) and t.tag_field]
            chosen = [t for t in tagged if isinstance(raw, dict) and raw.get(t.tag_field) == t.tag]
            if chosen or len(members) == 1:
                info = (chosen or members)[0]
            else:
                return info
        else:
            return info


def _tags(info: mi.Type | None) -> tuple[str, list[str]] | None:
    """Return the tag field and tags of a tagged union of structs, else None."""
    if not isinstance(info, mi.UnionType):
        return None
    tagged = [t for t in info.types if isinstance(t, mi.StructType) and t.tag_field]
    if not tagged or tagged[0].tag_field is None:
        return None
    return tagged[0].tag_field, [str(t.tag) for t in tagged]


def _accepted_keys(info: mi.Type | None) -> list[str]:
    if isinstance(info, mi.StructType):
        tag = [info.tag_field] if info.tag_field else []
        return tag + [field.encode_name for field in info.fields]
    if isinstance(info, mi.DictType):
        return list(_literals(info.key_type))
    tags = _tags(info)
    return [tags[0]] if tags else []


def _literals(info: mi.Type) -> tuple[str, ...]:
    return tuple(map(str, info.values)) if isinstance(info, mi.LiteralType) else ()


def _unknown_field(raw: Any, table: Key, name: str) -> tuple[str, str]:
    accepted = _accepted_keys(_type_at(raw, table))
    fix = f"remove it or correct its spelling; accepted keys here: {', '.join(accepted)}"
    return f"unknown key `{name}`", fix + _did_you_mean(name, accepted)


def _missing_field(raw: Any, table: Key, name: str) -> tuple[str, str]:
    info = _type_at(raw, table)
    in_array = any(isinstance(part, int) for part in table)
    where = _dotted(table) if in_array else f"[{_dotted(table)}]" if table else "the file"
    tags = _tags(info)
    if tags and tags[0] == name:
        value = " or ".join(f'`{name} = "{tag}"`' for tag in tags[1])
        return f"missing required key `{name}`", f"add {value} to {where}"
    field = next((f.type for f in getattr(info, "fields", ()) if f.encode_name == name), None)
    if not isinstance(_unwrap(field, None), mi.StructType | mi.DictType):
        return f"missing required key `{name}`", f"add `{name} = …` to {where}"
    if in_array:
        return f"missing required key `{name}`", f"add `{name} = {{ … }}` to {where}"
    table_name = _dotted((*table, name))
    return f"missing table [{table_name}]", f"add a [{table_name}] table, as in the reference"


def _value_fix(raw: Any, path: Key, core: str) -> str:
    info = _type_at(raw, path)
    if core.startswith("Invalid enum value") and isinstance(info, mi.LiteralType):
        bad = _value_at(raw, path)
        return f"use one of {_listing(_literals(info))}" + _did_you_mean(str(bad), _literals(info))
    parent_tags = _tags(_type_at(raw, path[:-1])) if path else None
    if core.startswith("Invalid value") and parent_tags and parent_tags[0] == path[-1]:
        return f"use one of {_listing(parent_tags[1])}"
    if "RFC3339 encoded time" in core:
        return "write a local time without quotes, such as 20:00:00"
    if "RFC3339 encoded date" in core:
        return "write a date without quotes, such as 2027-05-17"
    expected = re.match(r"Expected `([a-z]+)[^`]*`(.*)", core)
    if expected is None:
        return "compare this value with the reference config.toml"
    noun, example = _NOUNS.get(expected[1], (f"a value of type {expected[1]}", ""))
    constraint = expected[2]
    if constraint.startswith(", got") or not constraint:
        return f"write {noun}, such as {example}" if example else f"write {noun}"
    if "matching regex" in constraint:
        generic = re.sub(r"\[\d+\]", "[]", _dotted(path))
        return _PATTERN_FIXES.get(generic, f"write a string{constraint}")
    return f"write {noun}{constraint}"


def _listing(values: Sequence[str]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


# --- pass 3: meaning ------------------------------------------------------------------------

SemanticProblem = tuple[Key, str, str]


def _semantic_problems(settings: Settings) -> list[SemanticProblem]:
    return [
        *_channel_problems(settings),
        *_skill_problems(settings),
        *_advisor_problems(settings),
        *_calendar_problems(settings),
        *_routing_problems(settings),
    ]


def _channel_problems(settings: Settings) -> Iterator[SemanticProblem]:
    routed: dict[str, Channel] = {}
    for channel in CHANNELS:
        policy = settings.channels.get(channel)
        if policy is None:
            yield (
                ("channels", channel),
                f"channel `{channel}` is not configured",
                f"add a [channels.{channel}] table with `sources` and a "
                f"[channels.{channel}.sla] table; every deployment serves " + ", ".join(CHANNELS),
            )
            continue
        for source in policy.sources:
            if source in routed:
                yield (
                    ("channels", channel, "sources"),
                    f"source `{source}` is already routed to channel `{routed[source]}`",
                    f"keep `{source}` in the sources of only one channel",
                )
            routed.setdefault(source, channel)
        if policy.hours is not None:
            yield from _hours_problems(("channels", channel, "hours"), policy.hours)
        previous = 0
        for index, step in enumerate(policy.relaxation):
            if step.after_s <= previous:
                yield (
                    ("channels", channel, "relaxation", index, "after_s"),
                    f"relaxation step after {step.after_s} s does not come after the previous "
                    f"step ({previous} s)",
                    "list the relaxation steps in order, each with a larger after_s",
                )
            previous = max(previous, step.after_s)
        if not any(a.capacity.get(channel, 0) > 0 for a in settings.advisors):
            yield (
                ("channels", channel),
                f"no advisor has capacity on channel `{channel}`",
                f"give at least one advisor a capacity such as `{{ {channel} = 1 }}`",
            )


def _skill_problems(settings: Settings) -> Iterator[SemanticProblem]:
    skills = settings.skills
    for name, skill in skills.items():
        if skill.fallback is not None and skill.fallback not in skills:
            yield (
                ("skills", name, "fallback"),
                f"fallback `{skill.fallback}` is not a defined skill",
                f"define [skills.{skill.fallback}] or use a defined skill"
                + _did_you_mean(skill.fallback, list(skills)),
            )
    reported: set[str] = set()
    for name in skills:
        chain = [name]
        while (following := skills[chain[-1]].fallback) in skills and following not in chain:
            chain.append(following)
        if following in chain and not reported.intersection(chain):
            cycle = chain[chain.index(following) :]
            reported.update(cycle)
            yield (
                ("skills", cycle[0], "fallback"),
                "skill fallbacks form a cycle: " + " → ".join([*cycle, cycle[0]]),
                "end the chain at a broad skill without a fallback, such as `general`",
            )
    for name, motive in settings.motives.items():
        if motive.skill not in skills:
            yield (
                ("motives", name, "skill"),
                f"skill `{motive.skill}` is not defined",
                f"define [skills.{motive.skill}] or name a defined skill"
                + _did_you_mean(motive.skill, list(skills)),
            )


def _advisor_problems(settings: Settings) -> Iterator[SemanticProblem]:
    languages = settings.deployment.languages
    first_with_id: dict[str, int] = {}
    for index, advisor in enumerate(settings.advisors):
        if advisor.id in first_with_id:
            yield (
                ("advisors", index, "id"),
                f"advisor id `{advisor.id}` is already used by "
                f"advisors[{first_with_id[advisor.id]}]",
                "give each advisor a unique id",
            )
        first_with_id.setdefault(advisor.id, index)
        for skill in advisor.skills:
            if skill not in settings.skills:
                yield (
                    ("advisors", index, "skills", skill),
                    f"skill `{skill}` is not defined",
                    f"define [skills.{skill}] or correct the name"
                    + _did_you_mean(skill, list(settings.skills)),
                )
        for language in advisor.languages:
            if language not in languages:
                yield (
                    ("advisors", index, "languages"),
                    f"language `{language}` is not in deployment.languages "
                    f"({', '.join(languages)})",
                    f'add "{language}" to deployment.languages or remove it from this advisor',
                )


def _calendar_problems(settings: Settings) -> Iterator[SemanticProblem]:
    calendar: CalendarPolicy = settings.calendar
    try:
        ZoneInfo(calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield (
            ("calendar", "timezone"),
            f"unknown time zone `{calendar.timezone}`",
            'give an IANA time zone such as "Europe/Paris"'
            + _did_you_mean(calendar.timezone, sorted(available_timezones())),
        )
    supported = holidays.list_supported_countries()
    if calendar.country not in supported:
        yield (
            ("calendar", "country"),
            f"no public-holiday calendar for country `{calendar.country}`",
            'give an ISO 3166 country code known to the holidays package, such as "FR"',
        )
    elif calendar.subdivision is not None and calendar.subdivision not in supported.get(
        calendar.country, []
    ):
        known = ", ".join(supported[calendar.country]) or "none"
        yield (
            ("calendar", "subdivision"),
            f"country `{calendar.country}` has no subdivision `{calendar.subdivision}`",
            f"remove the subdivision or use one of: {known}",
        )
    yield from _hours_problems(("calendar", "hours"), calendar.hours)


def _hours_problems(key: Key, hours: BusinessHours) -> Iterator[SemanticProblem]:
    if hours.opens >= hours.closes:
        yield (
            (*key, "opens"),
            f"opens at {hours.opens} but closes at {hours.closes}",
            "make `opens` earlier than `closes`; hours past midnight are not supported",
        )


def _routing_problems(settings: Settings) -> Iterator[SemanticProblem]:
    deployment = settings.deployment
    if deployment.default_language not in deployment.languages:
        yield (
            ("deployment", "default_language"),
            f"default language `{deployment.default_language}` is not in "
            f"deployment.languages ({', '.join(deployment.languages)})",
            f'add "{deployment.default_language}" to deployment.languages or pick one of them',
        )
    if settings.routing.strategy not in ROUTING_STRATEGIES:
        yield (
            ("routing", "strategy"),
            f"unknown routing strategy `{settings.routing.strategy}`",
            f"use one of {_listing(ROUTING_STRATEGIES)}"
            + _did_you_mean(settings.routing.strategy, ROUTING_STRATEGIES),
        )
