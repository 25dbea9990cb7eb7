"""A state's input and output processing, in both query languages.

JSONPath: InputPath -> Parameters -> (work) -> ResultSelector -> ResultPath -> OutputPath.
JSONata: Arguments -> (work) -> Output, with ``$states`` bound to the input, the context object
and the result or error output. Assign, in both, is evaluated against the values at state entry.
"""

from __future__ import annotations

import json
import random
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.asl import jsonata, paths
from orchestrator.asl.errors import (
    DATA_LIMIT_EXCEEDED,
    RESULT_PATH_MATCH_FAILURE,
    RUNTIME,
    FieldError,
    StatesError,
)
from orchestrator.asl.model import ABSENT, Assign, State
from orchestrator.asl.payload import Env as PayloadEnv
from orchestrator.asl.payload import Template, read_reference, resolve

MAX_PAYLOAD_BYTES = 262_144


@dataclass(frozen=True, slots=True)
class Scope:
    """What the expressions of one state see: the context object, the variables, randomness."""

    context: Mapping[str, Any]
    variables: Mapping[str, Any]
    rng: random.Random

    @property
    def payload_env(self) -> PayloadEnv:
        return PayloadEnv(self.context, self.variables, self.rng)

    def states(self, state_input: Any, **more: Any) -> dict[str, Any]:
        """The ``$states`` binding of a JSONata expression."""
        return {"input": state_input, "context": self.context, **more}


def visible_variables(own: Mapping[str, Any], outer: Mapping[str, Any]) -> Mapping[str, Any]:
    """A run's own variables over those of the runs around it."""
    return ChainMap(dict(own), dict(outer)) if outer else own


# -- JSONPath ------------------------------------------------------------------------------------


def apply_input_path(state: State, data: Any, scope: Scope) -> Any:
    return select(state.input_path, data, scope, "InputPath")


def apply_output_path(state: State, data: Any, scope: Scope) -> Any:
    return select(state.output_path, data, scope, "OutputPath")


def select(path: str | None, data: Any, scope: Scope, field: str) -> Any:
    """InputPath / OutputPath: ``null`` gives ``{}``; a path that finds nothing is States.Runtime."""
    if path is None:
        return {}
    if path == "$":
        return data
    try:
        return read_reference(path, data, scope.payload_env, field=None)
    except paths.PathNotFound as exc:
        raise FieldError(RUNTIME, f"Invalid path '{path}' : {exc.message}") from exc


def apply_template(template: Template | None, data: Any, scope: Scope) -> Any:
    return data if template is None else resolve(template, data, scope.payload_env)


def apply_result_path(path: str | None, raw_input: Any, result: Any) -> Any:
    """ResultPath: where the result goes in the state's raw input (``null`` discards it)."""
    if path is None:
        return raw_input
    if path == "$":
        return result
    try:
        return paths.write(raw_input, path, result)
    except paths.PathWriteError as exc:
        raise StatesError(
            RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ResultPath '{path}' to input '{to_text(raw_input)}': {exc}",
        ) from exc


# -- JSONata -------------------------------------------------------------------------------------


def evaluate_jsonata(template: Any, field: str, scope: Scope, states: dict[str, Any]) -> Any:
    """Resolve a JSONata field's template (literals stay as they are)."""
    return jsonata.resolve_template(template, field=field, states=states, variables=scope.variables, rng=scope.rng)


def jsonata_output(state: State, scope: Scope, states: dict[str, Any], default: Any) -> Any:
    if state.output is ABSENT:
        return default
    return evaluate_jsonata(state.output, "Output", scope, states)


# -- Assign --------------------------------------------------------------------------------------


def evaluate_assign(
    assign: Assign | None, scope: Scope, jsonpath_data: Any, states: dict[str, Any] | None
) -> dict[str, Any]:
    """The variables an Assign block sets; every value sees the variables as they were at entry."""
    if assign is None:
        return {}
    if assign.jsonata is not None:
        values = evaluate_jsonata(assign.jsonata, "Assign", scope, states or {})
        return dict(values)
    assert assign.jsonpath is not None
    return dict(resolve(assign.jsonpath, jsonpath_data, scope.payload_env))


# -- size ----------------------------------------------------------------------------------------


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def to_text(value: Any) -> str:
    """Compact JSON text (one shared encoder: json.dumps builds a new one per call)."""
    return _ENCODER.encode(value)


def payload_bytes(value: Any) -> int:
    """The size AWS counts: UTF-8 bytes of the JSON text."""
    if value is None or isinstance(value, bool | int | float):
        return 8
    if isinstance(value, str) and len(value) < 1000:
        return len(value) + 2
    return len(to_text(value).encode())


def check_size(value: Any, who: str) -> None:
    """States.DataLimitExceeded when ``value`` is over 256 KiB; ``who`` names the state or task."""
    if payload_bytes(value) > MAX_PAYLOAD_BYTES:
        raise StatesError(
            DATA_LIMIT_EXCEEDED,
            f"The state/task '{who}' returned a result with a size exceeding the maximum number of bytes "
            "service limit.",
        )
