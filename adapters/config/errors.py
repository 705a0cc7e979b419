"""Say what is wrong with a configuration file, where, and what to do about it.

The two checks that rest on a dependency translate its errors here, at one seam:

1. ``parse_toml``: TOML syntax (``tomllib.TOMLDecodeError``), with the line of the error;
2. ``decode_sections``: types and constraints against a msgspec schema
   (``msgspec.ValidationError``), one problem per section and per element of an array of
   tables, with the key path, and the accepted keys or values.

Problems found by key path are ``KeyProblem``s; ``located`` gives them their lines.

``Problem`` and ``ConfigError`` are part of ``aiguillage.adapters.config.settings``'s API;
import them from there.

Exceptions::

    ConfigError     the file cannot be used; ``problems`` lists each ``Problem`` found
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from typing import Any, NamedTuple, TypeVar, get_args, get_origin

import msgspec
import msgspec.inspect as mi

from aiguillage.adapters.config.locations import Key, KeyLines, dotted

__all__ = [
    "ConfigError",
    "KeyProblem",
    "Problem",
    "decode_sections",
    "did_you_mean",
    "listing",
    "located",
    "parse_toml",
]

Schema = TypeVar("Schema", bound=msgspec.Struct)

KeyProblem = tuple[Key, str, str]
"""One thing wrong at a key path: the key path, what is wrong, and what to do about it."""


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


def located(source: str, lines: KeyLines, found: Iterable[KeyProblem]) -> list[Problem]:
    """Return each problem found by key path as a ``Problem`` at its line of ``source``."""
    return [
        Problem(source, lines.line_of(key), dotted(key), message, fix)
        for key, message, fix in found
    ]


def listing(values: Sequence[str]) -> str:
    """Return values quoted as TOML strings and separated by commas, for a fix to offer."""
    return ", ".join(f'"{value}"' for value in values)


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """Return `` (did you mean `…`?)`` naming the closest candidate, or "" if none is close."""
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


# --- pass 1: TOML syntax --------------------------------------------------------------------

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


def parse_toml(data: bytes, source: str) -> tuple[dict[str, Any], KeyLines]:
    """Parse TOML bytes and locate their keys; raise ``ConfigError`` with the line of an error."""
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
    return raw, KeyLines(text)


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
_CODE = (
    "use a code of lowercase letters, digits and '_', starting with a letter, such as "
    '"lunch": the journal keeps it for good, so it is never free text'
)
_PATTERN_FIXES = {
    "deployment.domain": "use lowercase letters, digits, '-' and '_', starting with a letter "
    'or a digit, such as "idfm-overflow"',
    "advisors[].id": "use letters, digits, '.', '-' and '_' only, such as \"claire.martin\"",
    "reasons.not_ready[]": _CODE,
    "reasons.decline[]": _CODE,
    "reasons.close[]": _CODE,
    "reasons.steer[]": _CODE,
}
_type_info = functools.cache(mi.type_info)  # built once per schema, like a msgspec decoder


class _Document(NamedTuple):
    """A parsed TOML document and the schema it is decoded to, walked together by key path."""

    raw: dict[str, Any]
    schema: mi.Type


def _convert(raw: Any, type_: Any) -> Any:
    return msgspec.convert(raw, type_, builtin_types=(datetime, date, time), str_keys=True)


def decode_sections(
    raw: dict[str, Any], schema: type[Schema]
) -> tuple[Schema | None, list[KeyProblem]]:
    """Decode a document section by section, to report one problem for each section.

    Arrays of tables are decoded element by element (advisor by advisor). The decoded value is
    returned only when nothing is wrong; otherwise it is None and the problems say why.
    """
    document = _Document(raw, _type_info(schema))
    problems: list[KeyProblem] = []
    fields = {field.encode_name: field for field in msgspec.structs.fields(schema)}
    for name in raw:
        if name not in fields:
            problems.append(((name,), *_unknown_field(document, (), name)))
    for name, field in fields.items():
        if name not in raw:
            if field.required:
                problems.append(((), *_missing_field(document, (), name)))
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
                problems.append(_explain(document, prefix, part, type_, str(exc)))
    if not problems:
        try:
            return _convert(raw, schema), []
        except msgspec.ValidationError as exc:  # every section passed: a safety net only
            problems.append(_explain(document, (), raw, schema, str(exc)))
    return None, problems


def _explain(document: _Document, prefix: Key, part: Any, type_: Any, error: str) -> KeyProblem:
    """Turn a msgspec error inside ``part`` (found at ``prefix``) into key, message and fix."""
    match = _AT.fullmatch(error)
    assert match is not None  # the pattern matches any text
    core = match["core"]
    segments: list[str | int] = []
    for name, index, any_key in _SEGMENT.findall(match["path"] or ""):
        segments.append(name or (int(index) if index else any_key))
    path = prefix + _resolve_any_keys(part, type_, segments, error)
    if match["at_key"]:
        info = _type_at(document, path)
        allowed = _literals(info.key_type) if isinstance(info, mi.DictType) else ()
        container = _value_at(document.raw, path)
        bad = [k for k in container if k not in allowed] if isinstance(container, dict) else []
        key = (*path, bad[0]) if bad else path
        fix = f"use one of {listing(allowed)} as the key"
        return key, core, fix + (did_you_mean(bad[0], allowed) if bad else "")
    unknown = re.fullmatch(r"Object contains unknown field `(.+)`", core)
    if unknown:
        return (*path, unknown[1]), *_unknown_field(document, path, unknown[1])
    missing = re.fullmatch(r"Object missing required field `(.+)`", core)
    if missing:
        return path, *_missing_field(document, path, missing[1])
    return path, core, _value_fix(document, path, core)


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


def _type_at(document: _Document, path: Key, *, unwrap: bool = True) -> mi.Type | None:
    """Return the schema at a key path, choosing tagged-union members by the raw tag.

    ``unwrap=False`` keeps the ``Metadata`` (constraints, examples) of the last part.
    """
    info: mi.Type | None = document.schema
    for end, part in enumerate(path):
        info = _unwrap(info, _value_at(document.raw, path[:end]))
        if isinstance(info, mi.StructType):
            info = next((f.type for f in info.fields if f.encode_name == part), None)
        elif isinstance(info, mi.DictType):
            info = info.value_type
        elif isinstance(info, mi.ListType | mi.VarTupleType):
            info = info.item_type
        else:
            return None
    return _unwrap(info, _value_at(document.raw, path)) if unwrap else info


def _unwrap(info: mi.Type | None, raw: Any) -> mi.Type | None:
    while True:
        if isinstance(info, mi.Metadata):
            info = info.type
        elif isinstance(info, mi.UnionType):
            members = [t for t in info.types if not isinstance(t, mi.NoneType)]
            tagged = _tagged_structs(members)
            chosen = [t for t in tagged if isinstance(raw, dict) and raw.get(t.tag_field) == t.tag]
            if chosen or len(members) == 1:
                info = (chosen or members)[0]
            else:
                return info
        else:
            return info


def _tagged_structs(types: Iterable[mi.Type]) -> list[mi.StructType]:
    return [t for t in types if isinstance(t, mi.StructType) and t.tag_field]


def _tags(info: mi.Type | None) -> tuple[str, list[str]] | None:
    """Return the tag field and tags of a tagged union of structs, else None."""
    if not isinstance(info, mi.UnionType):
        return None
    tagged = _tagged_structs(info.types)
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


def _unknown_field(document: _Document, table: Key, name: str) -> tuple[str, str]:
    accepted = _accepted_keys(_type_at(document, table))
    fix = f"remove it or correct its spelling; accepted keys here: {', '.join(accepted)}"
    return f"unknown key `{name}`", fix + did_you_mean(name, accepted)


def _missing_field(document: _Document, table: Key, name: str) -> tuple[str, str]:
    info = _type_at(document, table)
    in_array = any(isinstance(part, int) for part in table)
    where = dotted(table) if in_array else f"[{dotted(table)}]" if table else "the file"
    tags = _tags(info)
    if tags and tags[0] == name:
        value = " or ".join(f'`{name} = "{tag}"`' for tag in tags[1])
        return f"missing required key `{name}`", f"add {value} to {where}"
    field = next((f.type for f in getattr(info, "fields", ()) if f.encode_name == name), None)
    if not isinstance(_unwrap(field, None), mi.StructType | mi.DictType):
        return f"missing required key `{name}`", f"add `{name} = …` to {where}"
    if in_array:
        return f"missing required key `{name}`", f"add `{name} = {{ … }}` to {where}"
    table_name = dotted((*table, name))
    return f"missing table [{table_name}]", f"add a [{table_name}] table, as in the reference"


def _examples(document: _Document, path: Key) -> list[str]:
    """Return the examples a schema gives for a value (``msgspec.Meta(examples=…)``)."""
    info = _type_at(document, path, unwrap=False)
    schema = info.extra_json_schema if isinstance(info, mi.Metadata) else None
    return [str(example) for example in (schema or {}).get("examples", ())]


def _value_fix(document: _Document, path: Key, core: str) -> str:
    info = _type_at(document, path)
    if core.startswith("Invalid enum value") and isinstance(info, mi.LiteralType):
        bad = _value_at(document.raw, path)
        return f"use one of {listing(_literals(info))}" + did_you_mean(str(bad), _literals(info))
    parent_tags = _tags(_type_at(document, path[:-1])) if path else None
    if core.startswith("Invalid value") and parent_tags and parent_tags[0] == path[-1]:
        return f"use one of {listing(parent_tags[1])}"
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
        generic = re.sub(r"\[\d+\]", "[]", dotted(path))
        examples = _examples(document, path)
        shown = f"write a string such as {listing(examples[:1])}" if examples else ""
        return _PATTERN_FIXES.get(generic, shown or f"write a string{constraint}")
    return f"write {noun}{constraint}"
