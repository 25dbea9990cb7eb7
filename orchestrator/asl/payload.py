"""JSONPath payload templates: Parameters, ResultSelector, ItemSelector and JSONPath Assign.

A template is JSON in which any key ending in ``.$`` takes its value from a path (``$.x`` on the
input, ``$$.x`` on the context object, ``$name.x`` on a workflow variable) or from an intrinsic
function; the key loses its ``.$``. Templates are compiled once, when the definition is parsed, into
a tree of nodes, so running one is a walk with no string inspection.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.asl import intrinsics, paths
from orchestrator.asl.errors import RUNTIME, FieldError


@dataclass(frozen=True, slots=True)
class Env:
    """What a template, a path or an intrinsic may read besides the state's data."""

    context: Mapping[str, Any]
    variables: Mapping[str, Any]
    rng: random.Random


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class PathRef:
    path: str  # "$..." on the data, "$$..." on the context object, "$name..." on a variable
    key: str  # the template key, for messages ("value.$")


@dataclass(frozen=True, slots=True)
class IntrinsicCall:
    call: intrinsics.Call
    key: str


@dataclass(frozen=True, slots=True)
class ObjectNode:
    items: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class ArrayNode:
    items: tuple[Node, ...]


Node = Literal | PathRef | IntrinsicCall | ObjectNode | ArrayNode


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled payload template; ``source`` is the JSON it came from."""

    root: Node
    source: Any


class TemplateProblem(ValueError):
    """A template that cannot be compiled; ``location`` is a JSON pointer below the template."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


def compile_template(source: Any, problems: list[TemplateProblem] | None = None) -> Template:
    """Compile ``source``; problems are appended to ``problems`` (or the first one is raised)."""
    found: list[TemplateProblem] = [] if problems is None else problems
    before = len(found)
    root = _compile(source, "", found)
    if problems is None and len(found) > before:
        raise found[before]
    return Template(root=root, source=source)


def _compile(value: Any, location: str, problems: list[TemplateProblem]) -> Node:
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            here = f"{location}/{_pointer_escape(key)}"
            if isinstance(key, str) and key.endswith(".$") and len(key) > 2:
                items.append((key[:-2], _compile_dynamic(key, item, here, problems)))
            else:
                items.append((key, _compile(item, here, problems)))
        if all(isinstance(node, Literal) for _, node in items):
            return Literal(value)
        return ObjectNode(tuple(items))
    if isinstance(value, list):
        nodes = tuple(_compile(item, f"{location}/{i}", problems) for i, item in enumerate(value))
        if all(isinstance(node, Literal) for node in nodes):
            return Literal(value)
        return ArrayNode(nodes)
    return Literal(value)


def _compile_dynamic(key: str, value: Any, location: str, problems: list[TemplateProblem]) -> Node:
    if not isinstance(value, str):
        problems.append(TemplateProblem(location, f"The value of '{key}' must be a path or an intrinsic function"))
        return Literal(value)
    if value.startswith("$"):
        problem = check_path_reference(value)
        if problem:
            problems.append(TemplateProblem(location, problem))
            return Literal(value)
        return PathRef(value, key)
    if intrinsics.looks_like_intrinsic(value):
        try:
            return IntrinsicCall(intrinsics.parse(value), key)
        except intrinsics.IntrinsicSyntaxError as exc:
            problems.append(TemplateProblem(location, str(exc)))
            return Literal(value)
    problems.append(
        TemplateProblem(location, f"The value of '{key}' must be a path ($...) or an intrinsic function (States...)")
    )
    return Literal(value)


def check_path_reference(path: str) -> str | None:
    """A problem with a path as a template may use it (data, context or variable), or None."""
    if path.startswith("$$"):
        return paths.check_path(path[1:])
    variable = paths.variable_reference(path)
    if variable is not None:
        return paths.check_path(variable[1])
    return paths.check_path(path)


def _pointer_escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def resolve(template: Template, data: Any, env: Env) -> Any:
    """Run a compiled template against ``data``; returns fresh JSON (literals are shared, never mutated)."""
    return _resolve(template.root, data, env)


def _resolve(node: Node, data: Any, env: Env) -> Any:
    match node:
        case Literal(value):
            return value
        case PathRef(path, key):
            return read_reference(path, data, env, field=key)
        case IntrinsicCall(call, key):
            return intrinsics.evaluate(call, lambda p: read_reference(p, data, env, field=key), env.rng)
        case ObjectNode(items):
            return {key: _resolve(child, data, env) for key, child in items}
        case ArrayNode(items):
            return [_resolve(child, data, env) for child in items]
    raise TypeError(f"not a template node: {node!r}")


def read_reference(path: str, data: Any, env: Env, *, field: str | None) -> Any:
    """Read a path that may point into the data, the context object (``$$``) or a variable.

    A definite path that finds nothing raises `FieldError` (States.Runtime) in AWS's words, naming
    ``field`` when there is one.
    """
    source = data
    try:
        if path.startswith("$$"):
            source = env.context
            return paths.read(path[1:], source)
        variable = paths.variable_reference(path)
        if variable is not None:
            name, rest = variable
            if name not in env.variables:
                raise FieldError(RUNTIME, f"The variable '{name}' referenced by '{path}' is not defined")
            source = env.variables[name]
            return paths.read(rest, source)
        return paths.read(path, source)
    except paths.PathNotFound as exc:
        if field is None:
            raise
        raise FieldError(
            RUNTIME,
            f"The JSONPath '{path}' specified for the field '{field}' could not be found "
            f"in the input '{to_json_text(source)}'",
        ) from exc


def to_json_text(value: Any) -> str:
    """Compact JSON text, as AWS renders values inside messages."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
