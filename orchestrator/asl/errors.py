"""Errors of the States Language, in two families.

Definition problems (found before anything runs)::

    DefinitionError            one or more Diagnostics, each with a JSON-pointer location

Runtime failures (raised while a state runs, caught by Retry/Catch)::

    StatesError(error, cause)  an ASL error name such as "States.Runtime", compared by string

The predefined ``States.*`` names are constants here, and so are the catchability rules.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
PERMISSIONS = "States.Permissions"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
RUNTIME = "States.Runtime"
HTTP_SOCKET = "States.Http.Socket"

# Errors that nothing catches or retries, not even when named: they end the execution. (AWS's
# documentation also names States.DataLimitExceeded here, but recorded executions show States.ALL
# catching it when a task returns too much; the recording wins.)
UNCATCHABLE = frozenset({RUNTIME})


class StatesError(Exception):
    """A runtime failure with an ASL error name; Retry and Catch match on ``error``.

    ``heartbeat``: a Task's HeartbeatSeconds ran out. AWS records that as ``States.Timeout`` (its
    TaskTimedOut event, the execution's failure, a catcher's ``Error``), and lets the Task's own
    Retry and Catch tell it apart with ``States.HeartbeatTimeout`` ("only available inside Catch
    and Retry").
    """

    def __init__(self, error: str, cause: str | None = None, *, heartbeat: bool = False) -> None:
        super().__init__(error if cause is None else f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.heartbeat = heartbeat

    def __repr__(self) -> str:
        return f"StatesError({self.error!r}, {self.cause!r})"


def error_matches(error_equals: tuple[str, ...], error: str, *, heartbeat: bool = False) -> bool:
    """Whether a retrier's or catcher's ``ErrorEquals`` covers ``error``.

    ``States.ALL`` matches every name; ``States.TaskFailed`` every name but ``States.Timeout``;
    nothing matches ``States.Runtime``; ``States.HeartbeatTimeout`` matches a Task's heartbeat that
    ran out (``heartbeat``, whose ``error`` is ``States.Timeout``).
    """
    if error in UNCATCHABLE:
        return False
    if error in error_equals or ALL in error_equals:
        return True
    if heartbeat and HEARTBEAT_TIMEOUT in error_equals:
        return True
    return TASK_FAILED in error_equals and error != TIMEOUT


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a definition, shaped like ValidateStateMachineDefinition's diagnostics."""

    severity: str  # "ERROR" or "WARNING"
    code: str  # e.g. "SCHEMA_VALIDATION_FAILED"
    message: str
    location: str  # a JSON pointer into the definition, e.g. "/States/Fetch/Retry/0"

    def to_json(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "location": self.location,
        }


class DefinitionError(ValueError):
    """A definition that is not valid ASL; carries every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        summary = f"{first.message} (at {first.location or '/'})" if first else "invalid definition"
        more = len(self.diagnostics) - 1
        super().__init__(summary + (f" and {more} more problem(s)" if more > 0 else ""))


class FieldError(StatesError):
    """A field of the running state could not be evaluated (a path that finds nothing, a JSONata
    expression that returns nothing, a value of the wrong type).

    Its ``cause`` is the detail only; the engine prefixes AWS's
    "An error occurred while executing the state '<name>' (entered at the event id #<n>). "
    because only the engine knows the state and the event. ``location`` names the field
    ("Arguments/FunctionName") when the failure is in a JSONata expression.
    """

    def __init__(self, error: str, cause: str | None = None, *, location: str | None = None) -> None:
        super().__init__(error, cause)
        self.location = location
