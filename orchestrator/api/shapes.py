"""Every action's parameters checked against its input shape in AWS's service model, before any action runs.

botocore ships the model of Step Functions that AWS's SDKs are generated from: for each action,
its members with their types, required members, lengths, enums, ranges and patterns. Checking a
body against it here, once, means no action sees a value of the wrong type (a list of numbers
where tags belong, ``null`` for a version ARN) and every refusal is worded as AWS words it:

- a value of the wrong JSON type is a ``SerializationException`` (AWS cannot deserialize it);
- a value that breaks a constraint is a ``ValidationException``: ``1 validation error detected:
  Value 'x' at 'name' failed to satisfy constraint: Member must have length less than or equal
  to 80`` (values echoed at most 64 characters long, sensitive ones not at all).

JSON is read with limits, in the body and in the members that hold JSON in a string (``input``,
``definition``, TestState's ``variables``...): nesting deeper than ``MAX_DEPTH``, integers longer
than Python converts, NaN, Infinity and lone UTF-16 surrogates become AWS errors here rather than
a RecursionError or a ValueError deep in an action (or a row PostgreSQL cannot store).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import botocore.session

from orchestrator.asl import json_values
from orchestrator.service import ServiceError

MAX_DEPTH = 512  # deeper JSON would exhaust Python's recursion in the engine (the limit is 1,000 frames)
SHOWN = 64  # characters of a refused value echoed in a message
_SURROGATE = re.compile("[\ud800-\udfff]")
# Members holding JSON in a string, and the error AWS answers when it is not JSON it can read.
JSON_TEXT = {
    "definition": "InvalidDefinition",
    "input": "InvalidExecutionInput",
    "output": "InvalidOutput",
    "variables": "ValidationException",
    "context": "ValidationException",
    "result": "ValidationException",
    "mapItemReaderData": "ValidationException",
}
_ARN_SHAPES = {"Arn", "LongArn"}
# Members whose NUL characters are kept (escaped in storage, as the engine's own errors are), or
# refused by the action itself (a name is InvalidName, JSON text the action's own parse error);
# in any other string a NUL cannot reach a text column.
NUL_KEPT = {"error", "cause", "name", *JSON_TEXT}
# A qualified state machine ARN ends with a version number or an alias name (CharacterRestrictedName).
_VERSION = re.compile(r"[0-9]{1,10}")
_ALIAS = re.compile(r"(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]+")


@functools.cache
def _model() -> Any:
    return botocore.session.get_session().get_service_model("stepfunctions")


def read_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object, read with limits; SerializationException for anything else."""
    try:
        params = json.loads(body or b"{}", parse_constant=_no_constant, parse_float=json_values.finite_float)
    except json_values.NotJsonError as exc:
        raise _serialization(f"The request body is not JSON AWS reads: {exc}") from None
    except RecursionError:
        raise _serialization("The request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, and int()'s 4,300-digit limit
        raise _serialization(f"The request body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(params, dict):
        raise _serialization("The request body must be a JSON object")
    problem = _depth_problem(params)
    if problem is not None:
        raise _serialization(f"The request body cannot be read: {problem}")
    return params


def check(action: str, params: dict[str, Any]) -> None:
    """Raise AWS's error for the first problem of ``params`` against ``action``'s input shape.

    Members the model does not name are left alone, as AWS ignores them. Type problems come first
    (one is enough to refuse); then every constraint broken, in one ValidationException.
    """
    shape = _model().operation_model(action).input_shape
    problems: list[str] = []
    _structure(shape, params, "", problems)
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise ServiceError("ValidationException", f"{count}: " + "; ".join(problems[:10]))
    for name, code in JSON_TEXT.items():
        _check_json_text(params, name, code)
    if action in ("CreateStateMachineAlias", "UpdateStateMachineAlias"):
        _distinct_routes(params.get("routingConfiguration") or [])


# -- walking a shape ---------------------------------------------------------------------------------


def _structure(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(_violation(None, _join(path, name), "Member must not be null", sensitive=False))
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _value(member, value[name], _join(path, name), problems)


def _value(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    _expect_type(kind, value, path)
    if kind == "structure":
        _structure(shape, value, path, problems)
    elif kind == "list":
        _length(shape, len(value), value, path, problems)
        for index, item in enumerate(value, 1):
            where = f"{path}.{index}.member"
            if item is None:
                problems.append(_violation(None, where, "Member must not be null", sensitive=False))
            else:
                _value(shape.member, item, where, problems)
    elif kind == "string":
        _string(shape, value, path, problems)
    elif kind in ("integer", "long", "float", "double"):
        _range(shape, value, path, problems)


def _expect_type(kind: str, value: Any, path: str) -> None:
    expected = {
        "structure": (dict, "an object"),
        "map": (dict, "an object"),
        "list": (list, "a list"),
        "string": (str, "a string"),
        "boolean": (bool, "a boolean"),
        "integer": (int, "an integer"),
        "long": (int, "an integer"),
        "float": (int | float, "a number"),
        "double": (int | float, "a number"),
    }.get(kind)
    if expected is None:
        return
    python_type, words = expected
    if not isinstance(value, python_type) or (isinstance(value, bool) and kind != "boolean"):
        raise _serialization(f"Unexpected value type for '{path}': expected {words}")


def _string(shape: Any, value: str, path: str, problems: list[str]) -> None:
    if _SURROGATE.search(value):
        raise _serialization(f"Invalid value for '{path}': a lone UTF-16 surrogate is not a character")
    sensitive = bool(shape.metadata.get("sensitive"))
    _length(shape, len(value), value, path, problems)
    if shape.enum and value not in shape.enum:
        constraint = f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
        problems.append(_violation(value, path, constraint, sensitive))
    pattern = _pattern(shape.metadata.get("pattern"))
    if pattern is not None and not pattern.fullmatch(value):
        constraint = f"Member must satisfy regular expression pattern: {shape.metadata['pattern']}"
        problems.append(_violation(value, path, constraint, sensitive))
    if shape.name in _ARN_SHAPES:
        _check_arn(value)
    elif "\x00" in value and path.rsplit(".", 1)[-1] not in NUL_KEPT:
        constraint = "Member must not contain the NUL character (U+0000)"
        problems.append(_violation(value.replace("\x00", "\\u0000"), path, constraint, sensitive))


def _length(shape: Any, length: int, value: Any, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    sensitive = bool(shape.metadata.get("sensitive"))
    if low is not None and length < low:
        problems.append(_violation(value, path, f"Member must have length greater than or equal to {low}", sensitive))
    if high is not None and length > high:
        problems.append(_violation(value, path, f"Member must have length less than or equal to {high}", sensitive))


def _range(shape: Any, value: int | float, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.append(_violation(value, path, f"Member must have value greater than or equal to {low}", False))
    if high is not None and value > high:
        problems.append(_violation(value, path, f"Member must have value less than or equal to {high}", False))


@functools.cache
def _pattern(pattern: str | None) -> re.Pattern[str] | None:
    """The model's pattern as a Python regex; Java's ``\\p{ASCII}`` spelled out, anything else unknown skipped."""
    if pattern is None:
        return None
    try:
        return re.compile(pattern.replace(r"\p{ASCII}", r"[\x00-\x7f]"))
    except re.error:
        return None


def _check_arn(arn: str) -> None:
    """InvalidArn for an ARN no resource can have: a NUL (no text column holds one), or a state machine
    qualifier that is neither a version number in ASCII digits nor an alias name (``:²``, or an Arabic-Indic one)."""
    if "\x00" in arn:
        shown = _shown(arn.replace("\x00", "\\u0000"))
        raise ServiceError("InvalidArn", f"Invalid Arn: '{shown}'")
    parts = arn.split(":")
    if len(parts) == 8 and parts[5] == "stateMachine":
        qualifier = parts[7]
        if not (_VERSION.fullmatch(qualifier) and int(qualifier) < 2**31) and not _ALIAS.fullmatch(qualifier):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Invalid qualifier in {_shown(arn)}'")


# -- JSON in a string, and alias routes ---------------------------------------------------------------


def _check_json_text(params: dict[str, Any], name: str, code: str) -> None:
    """The member ``name`` (at the top, or in TestState's ``mock``/``stateConfiguration``), if it holds
    JSON, must be JSON the engine can hold: other syntax problems are left to the action's own words."""
    for holder in (params, params.get("mock"), params.get("stateConfiguration")):
        text = holder.get(name) if isinstance(holder, dict) else None
        if isinstance(text, str):
            problem = _json_text_problem(text)
            if problem is not None:
                raise ServiceError(code, _json_message(code, name, problem))


def _json_text_problem(text: str) -> str | None:
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=json_values.finite_float)
    except json_values.NotJsonError as exc:
        return str(exc)
    except RecursionError:
        return f"The JSON text is nested deeper than {MAX_DEPTH} levels"
    except json.JSONDecodeError:
        return None  # not JSON at all: the action says so in its own words
    except ValueError:
        return "A number has more digits than can be read (at most 4,300)"
    return _depth_problem(value)


def _json_message(code: str, name: str, problem: str) -> str:
    if code == "InvalidDefinition":
        return f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {problem}'"
    if code == "InvalidExecutionInput":
        return f"Invalid State Machine Execution Input: '{problem}'"
    return f"Invalid JSON in '{name}': {problem}"


def _depth_problem(value: Any) -> str | None:
    """Why ``value`` cannot be held: nested deeper than MAX_DEPTH, or a lone surrogate in a string
    (walked iteratively: a recursive walk would fail on the very values it looks for)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return "A string holds a lone UTF-16 surrogate, which is not a character"
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return f"The JSON text is nested deeper than {MAX_DEPTH} levels"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


def _distinct_routes(routing: list[dict[str, Any]]) -> None:
    versions = [route.get("stateMachineVersionArn") for route in routing]
    if len(set(versions)) != len(versions):
        raise ServiceError(
            "ValidationException",
            "Routing configuration must contain distinct state machine version ARNs",
            reason="INVALID_ROUTING_CONFIGURATION",
        )


# -- words --------------------------------------------------------------------------------------------


def _violation(value: Any, path: str, constraint: str, sensitive: bool) -> str:
    if value is None:
        shown = "Value null"
    elif sensitive:
        shown = "Value"  # AWS does not echo sensitive members (definitions, task tokens, inputs)
    else:
        shown = f"Value '{_shown(value)}'"
    return f"{shown} at '{path}' failed to satisfy constraint: {constraint}"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _no_constant(name: str) -> Any:
    raise json_values.NotJsonError(f"Non-standard token '{name}': NaN and Infinity are not JSON numbers")


def _serialization(message: str) -> ServiceError:
    return ServiceError("SerializationException", message)
