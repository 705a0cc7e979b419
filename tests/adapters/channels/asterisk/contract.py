"""Asterisk's published ARI contract (Swagger 1.1), read for contract tests.

The files are Asterisk's own (``shared/contracts/asterisk-ari``, beside the repository's
clone). A test needing them fails, never skips, when they are missing: a contract test that
quietly does not run would vouch for nothing.

``Contract.check_request`` says what is wrong with a request (an unknown route, method or query
parameter, a required one missing, a value outside ``allowableValues`` or of the wrong type);
``Contract.check_event`` says what is wrong with an event against ``events.json``'s models
(required fields and their types, down through the nested models).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[4]
_RESOURCES = (
    "channels",
    "bridges",
    "playbacks",
    "recordings",
    "applications",
    "events",
    "endpoints",
)


def contracts_dir() -> Path:
    """``shared/contracts`` beside the clone (``AIGUILLAGE_CONTRACTS`` overrides it); a test
    fails, never skips, when it is absent."""
    given = os.environ.get("AIGUILLAGE_CONTRACTS")
    path = Path(given) if given else ROOT.parent / "shared" / "contracts"
    if not (path / "asterisk-ari" / "resources.json").is_file():
        pytest.fail(
            f"Asterisk's ARI contract is not at {path}: check out shared/contracts beside the "
            "repository (or set AIGUILLAGE_CONTRACTS to its path); the contract tests need it"
        )
    return path


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    pattern: re.Pattern[str]
    parameters: dict[str, dict[str, Any]]
    nickname: str


class Contract:
    """The operations and models of the ARI resources the fake serves."""

    def __init__(self, directory: Path) -> None:
        self.operations: list[Operation] = []
        self.models: dict[str, dict[str, Any]] = {}
        for name in _RESOURCES:
            document = json.loads((directory / f"{name}.json").read_text())
            self.models.update(document.get("models", {}))
            for api in document["apis"]:
                template = api["path"]
                pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")
                for op in api["operations"]:
                    params = {p["name"]: p for p in op.get("parameters", [])}
                    self.operations.append(
                        Operation(op["httpMethod"], template, pattern, params, op["nickname"])
                    )
        # A literal segment wins over a placeholder (``/channels/create`` over ``/{channelId}``).
        self.operations.sort(key=lambda op: op.path.count("{"))
        event = self.models["Event"]
        self._event_types = set(event.get("subTypes", ()))

    def route(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving ``method path`` (``path`` after ``/ari``), and its path values."""
        for op in self.operations:
            found = op.pattern.match(path)
            if found and op.method == method:
                return op, found.groupdict()
        return None

    def check_request(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[Operation | None, dict[str, str], list[str]]:
        """Return the operation, its path values, and what the request breaks of the contract."""
        matched = self.route(method, path)
        if matched is None:
            known = any(op.pattern.match(path) for op in self.operations)
            why = "method not allowed on" if known else "unknown route"
            return None, {}, [f"{why}: {method} {path}"]
        op, values = matched
        problems: list[str] = []
        for name, value in query.items():
            spec = op.parameters.get(name)
            if spec is None or spec["paramType"] != "query":
                problems.append(f"{method} {op.path}: unknown query parameter {name!r}")
                continue
            problems += _check_value(f"{method} {op.path} {name}", spec, value)
        for name, spec in op.parameters.items():
            if spec.get("required") and spec["paramType"] == "query" and name not in query:
                problems.append(f"{method} {op.path}: required query parameter {name!r} missing")
        return op, values, problems

    def check_event(self, event: dict[str, Any]) -> list[str]:
        """What an event breaks of its ``events.json`` model (and Message's and Event's)."""
        kind = event.get("type")
        if kind not in self._event_types:
            return [f"unknown event type {kind!r}"]
        problems: list[str] = []
        for base in ("Message", "Event", kind):
            problems += self._check_model(str(kind), base, event, strict_extra=False)
        known = {
            *self.models["Message"]["properties"],
            *self.models["Event"]["properties"],
            *self.models[kind]["properties"],
        }
        problems += [f"{kind}: field {k!r} is not in its model" for k in event if k not in known]
        return problems

    def _check_model(
        self, where: str, model: str, value: Any, *, strict_extra: bool = True
    ) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: a {model} must be an object"]
        properties = self.models[model]["properties"]
        problems = [
            f"{where}: {model}.{name} is required"
            for name, spec in properties.items()
            if spec.get("required") and name not in value
        ]
        for name, given in value.items():
            spec = properties.get(name)
            if spec is None:
                if strict_extra:
                    problems.append(f"{where}: {model}.{name} is not in the model")
                continue
            problems += self._check_type(f"{where}.{name}", spec["type"], given, spec)
        return problems

    def _check_type(self, where: str, kind: str, value: Any, spec: dict[str, Any]) -> list[str]:
        listed = re.fullmatch(r"List\[(\w+)\]", kind)
        if listed:
            if not isinstance(value, list):
                return [f"{where}: a list expected"]
            return [p for item in value for p in self._check_type(where, listed[1], item, {})]
        simple = {
            "string": str,
            "Date": str,
            "int": int,
            "long": int,
            "double": (int, float),
            "boolean": bool,
            "object": dict,
        }
        if kind in simple:
            if not isinstance(value, simple[kind]) or (kind != "boolean" and value is True):
                return [f"{where}: {kind} expected, got {type(value).__name__}"]
            allowed = spec.get("allowableValues", {}).get("values")
            if allowed and value not in allowed:
                return [f"{where}: {value!r} is not one of {allowed}"]
            return []
        if kind in self.models:
            return self._check_model(where, kind, value)
        return [f"{where}: unknown type {kind}"]


def _check_value(where: str, spec: dict[str, Any], value: str) -> list[str]:
    kind = spec["dataType"]
    if kind in ("int", "long") and not re.fullmatch(r"-?\d+", value):
        return [f"{where}: {value!r} is not an {kind}"]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"{where}: {value!r} is not a boolean"]
    allowed = spec.get("allowableValues", {}).get("values")
    if allowed:
        values = value.split(",") if spec.get("allowMultiple") else [value]
        wrong = [v for v in values if v not in allowed]
        if wrong:
            return [f"{where}: {', '.join(wrong)} not among {allowed}"]
    return []


@cache
def contract() -> Contract:
    return Contract(contracts_dir() / "asterisk-ari")
