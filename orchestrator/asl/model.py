"""The typed model of a state machine: what `asl.parse` builds from a definition.

Every class here is a frozen dataclass holding plain values, built once per definition and shared by
every execution of it. Field names are the ASL keys in snake_case. A field that the definition leaves
out holds its ASL default (``"$"`` for InputPath, OutputPath and ResultPath); JSON ``null`` is
``None``. Fields that hold JSONata templates keep the raw JSON value, because ``None`` is a value
there; "not given" is the ``ABSENT`` marker.

JSONPath payload templates (Parameters, ResultSelector, ItemSelector, Assign) are compiled at parse
time into `asl.payload.Template` trees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from orchestrator.asl.payload import Template

JSONPATH: Final = "JSONPath"
JSONATA: Final = "JSONata"


class _Absent:
    """The marker for a JSONata field the definition leaves out (JSON null is a value there)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Final = _Absent()


@dataclass(frozen=True, slots=True, kw_only=True)
class Retrier:
    """One entry of ``Retry``: which errors it retries, how often and how long it waits."""

    error_equals: tuple[str, ...]
    interval_seconds: int = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None
    jitter_strategy: str = "NONE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Catcher:
    """One entry of ``Catch``: which errors it handles and where the execution goes then."""

    error_equals: tuple[str, ...]
    next: str
    result_path: str | None = "$"
    output: Any = ABSENT  # JSONata
    assign: Assign | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Assign:
    """An ``Assign`` block: variable name -> JSONPath template or JSONata template."""

    jsonpath: Template | None = None
    jsonata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """The fields every state shares."""

    name: str
    type: str
    query_language: str = JSONPATH
    comment: str | None = None
    next: str | None = None
    end: bool = False
    input_path: str | None = "$"
    output_path: str | None = "$"
    assign: Assign | None = None
    output: Any = ABSENT  # JSONata

    @property
    def is_jsonata(self) -> bool:
        return self.query_language == JSONATA


@dataclass(frozen=True, slots=True, kw_only=True)
class PassState(State):
    result: Any = ABSENT
    parameters: Template | None = None
    result_path: str | None = "$"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskState(State):
    resource: str
    parameters: Template | None = None
    arguments: Any = ABSENT  # JSONata
    result_selector: Template | None = None
    result_path: str | None = "$"
    timeout_seconds: Any = None  # int, or a JSONata template
    timeout_seconds_path: str | None = None
    heartbeat_seconds: Any = None
    heartbeat_seconds_path: str | None = None
    credentials: Any = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DataTest:
    """A JSONPath comparison: ``Variable`` and one operator with its operand."""

    variable: str
    operator: str  # the base operator, e.g. "NumericLessThan"; *Path variants set operand_is_path
    operand: Any
    operand_is_path: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BooleanRule:
    """``And`` / ``Or`` over several rules, or ``Not`` over one."""

    operator: str  # "And" | "Or" | "Not"
    rules: tuple[Rule, ...]


Rule = DataTest | BooleanRule


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceRule:
    """A top-level Choice rule: a JSONPath rule or a JSONata ``Condition``, and where it leads."""

    next: str
    rule: Rule | None = None  # JSONPath
    condition: Any = ABSENT  # JSONata: true/false or "{% ... %}"
    assign: Assign | None = None
    output: Any = ABSENT  # JSONata


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceState(State):
    choices: tuple[ChoiceRule, ...]
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitState(State):
    seconds: Any = None  # int, or a JSONata template
    timestamp: Any = None  # str, or a JSONata template
    seconds_path: str | None = None
    timestamp_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SucceedState(State):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class FailState(State):
    error: Any = None  # str, or a JSONata template
    cause: Any = None
    error_path: str | None = None  # a path or one of the allowed intrinsic functions
    cause_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """A ``{StartAt, States}`` block: the machine itself, a Parallel branch or a Map's processor."""

    start_at: str
    states: dict[str, State]
    query_language: str = JSONPATH
    comment: str | None = None
    processor_mode: str = "INLINE"  # Map ItemProcessor.ProcessorConfig.Mode
    execution_type: str | None = None  # Map ItemProcessor.ProcessorConfig.ExecutionType
    is_parallel_branch: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelState(State):
    branches: tuple[Scope, ...]
    parameters: Template | None = None
    arguments: Any = ABSENT
    result_selector: Template | None = None
    result_path: str | None = "$"
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MapState(State):
    processor: Scope
    items_path: str = "$"
    items: Any = ABSENT  # JSONata
    item_selector: Template | None = None
    item_selector_jsonata: Any = ABSENT
    max_concurrency: Any = 0  # int, or a JSONata template
    max_concurrency_path: str | None = None
    tolerated_failure_percentage: Any = None
    tolerated_failure_percentage_path: str | None = None
    tolerated_failure_count: Any = None
    tolerated_failure_count_path: str | None = None
    item_reader: dict[str, Any] | None = None
    item_batcher: dict[str, Any] | None = None
    result_writer: dict[str, Any] | None = None
    label: str | None = None
    result_selector: Template | None = None
    result_path: str | None = "$"
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()

    @property
    def is_distributed(self) -> bool:
        return self.processor.processor_mode == "DISTRIBUTED"


@dataclass(frozen=True, slots=True, kw_only=True)
class StateMachine:
    """A parsed, valid definition. ``scopes`` finds any nested block by its key (see `scope_key`)."""

    root: Scope
    timeout_seconds: int | None = None
    version: str | None = None
    comment: str | None = None
    scopes: dict[tuple[str, int], Scope] = field(default_factory=dict)

    def scope(self, key: tuple[str, int] | None) -> Scope:
        """The block a run executes: ``None`` for the machine, else (Parallel/Map name, branch)."""
        return self.root if key is None else self.scopes[key]


def scope_key(state_name: str, branch: int = 0) -> tuple[str, int]:
    """The key of a Parallel's branch or a Map's processor (state names are unique machine-wide)."""
    return (state_name, branch)
