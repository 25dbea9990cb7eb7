"""TestState: run one state of a definition on an input and report each stage of its data processing.

AWS's TestState action runs a single state, outside any execution, and answers with the state's
output, its status (SUCCEEDED, FAILED, RETRIABLE: a Retry would try again, CAUGHT_ERROR: a Catch
took the error), the next state, and ``inspectionData``: the data after each stage (InputPath,
Parameters, the raw result, ResultSelector, ResultPath; Arguments in JSONata; ItemsPath,
ItemSelector and the Map limits for a Map).

This module is the pure part. `load` finds the state in a definition (a state on its own, or a
whole machine and a state name), `check` refuses what TestState refuses, and `run` runs the state
on a `Case`. A Task's work comes from its mock, or from the ``invoke`` function the caller passes
(the integrations layer), so nothing here does I/O.

Pass, Task, Parallel and Map are run stage by stage with the `dataflow` functions, so that each
stage's value can be reported; Choice, Wait, Succeed and Fail report only their input (after
InputPath in JSONPath), so the interpreter runs them as it runs them in an execution. A Wait does
not wait: its time is computed, and checked, but the timer fires at once.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from orchestrator.asl.errors import EXCEED_TOLERATED_FAILURE_THRESHOLD, DefinitionError, Diagnostic, StatesError
from orchestrator.asl.errors import error_matches as _matches
from orchestrator.asl.model import (
    ABSENT,
    Catcher,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    State,
    StateMachine,
    TaskState,
)
from orchestrator.asl.model import Scope as ModelScope
from orchestrator.asl.parse import parse
from orchestrator.engine import dataflow
from orchestrator.engine import step as interpreter
from orchestrator.engine.dataflow import Scope
from orchestrator.engine.history import History
from orchestrator.engine.outcomes import (
    Cursor,
    Delivery,
    Fail,
    Next,
    Outcome,
    Run,
    Sleep,
    Succeed,
    TaskContext,
    TaskFailed,
    TaskRequest,
    TaskSucceeded,
    TimerFired,
)
from orchestrator.engine.resources import DEFAULT_ACCOUNT, DEFAULT_REGION, parse_resource

SUCCEEDED: Final = "SUCCEEDED"
FAILED: Final = "FAILED"
RETRIABLE: Final = "RETRIABLE"
CAUGHT_ERROR: Final = "CAUGHT_ERROR"

# The name a state tested on its own runs under: AWS's context object says "StateName".
STATE_NAME: Final = "StateName"

TOLERANCE_CAUSE: Final = "The specified tolerated failure threshold was exceeded"

# Inspection fields that carry JSON data (the API sends them as JSON text); the others are numbers
# (maxConcurrency, toleratedFailure*) or an object (errorDetails).
DATA_FIELDS: Final = frozenset(
    {
        "input",
        "afterArguments",
        "afterInputPath",
        "afterParameters",
        "result",
        "afterResultSelector",
        "afterResultPath",
        "variables",
        "afterItemsPath",
        "afterItemSelector",
        "afterItemBatcher",
    }
)

Invoker = Callable[[TaskRequest, TaskContext], Delivery]


class Refused(ValueError):
    """A request TestState refuses before running anything; ``code`` is AWS's error name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Mock:
    """A mocked outcome of the state's work: a ``result`` (any JSON) or an error."""

    result: Any = ABSENT
    error: str | None = None
    cause: str | None = None

    @property
    def fails(self) -> bool:
        return self.result is ABSENT

    def delivery(self) -> Delivery:
        return TaskFailed(self.error, self.cause) if self.fails else TaskSucceeded(self.result)


@dataclass(frozen=True, slots=True)
class Configuration:
    """``stateConfiguration``: where in its life the tested state is."""

    retrier_retry_count: int = 0  # retries the matching retrier has made already
    error_caused_by_state: str | None = None  # the inner state a mocked Map/Parallel error came from
    map_iteration_failure_count: int = 0  # Map iterations that failed
    map_item_reader_data: Any = ABSENT  # what a Distributed Map's ItemReader read (JSON)


@dataclass(frozen=True, slots=True)
class Target:
    """The state to test, in the machine that holds it; ``scope`` is the block it is in."""

    machine: StateMachine
    state: State
    scope: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One TestState call: the state, its input, and what the world around it looks like.

    ``execution`` is the ``Execution`` and ``StateMachine`` part of the context object (see
    `default_execution`); ``context``, when given, is the whole context object instead, as is.
    """

    target: Target
    input: Any
    now: dt.datetime
    execution: Mapping[str, Any]
    variables: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] | None = None
    mock: Mock | None = None
    configuration: Configuration = Configuration()
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """TestState's answer: ``inspection`` holds every stage the state went through, in order."""

    status: str
    output: Any = ABSENT
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    inspection: Mapping[str, Any] = field(default_factory=dict)


# -- finding the state -------------------------------------------------------------------------------


def load(definition: str, state_name: str | None = None) -> Target:
    """The state to test: ``definition`` is one state, or (with ``state_name``) a whole machine.

    Raises DefinitionError if the definition is not valid, `Refused` if ``state_name`` names no state.
    """
    if state_name is not None:
        machine = parse(definition)
        return _find(machine, state_name)
    document = _state_document(definition)
    try:
        machine = parse(_alone(document))
    except DefinitionError as exc:
        raise DefinitionError([_relocated(d) for d in exc.diagnostics]) from None
    return Target(machine, machine.root.states[STATE_NAME])


def _state_document(definition: str) -> dict[str, Any]:
    try:
        document = json.loads(definition)
    except json.JSONDecodeError as exc:
        detail = f"The definition is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise DefinitionError([Diagnostic("ERROR", "INVALID_JSON_DESCRIPTION", detail, "")]) from None
    if not isinstance(document, dict):
        raise DefinitionError([Diagnostic("ERROR", "SCHEMA_VALIDATION_FAILED", "A state must be a JSON object", "")])
    return document


def _alone(document: dict[str, Any]) -> dict[str, Any]:
    """A machine holding only ``document``, with a Succeed state for each state it may go to."""
    states: dict[str, Any] = {STATE_NAME: document}
    for target in _transitions(document):
        states.setdefault(target, {"Type": "Succeed"})
    return {"StartAt": STATE_NAME, "States": states}


def _transitions(document: dict[str, Any]) -> list[str]:
    targets = [document[key] for key in ("Next", "Default") if isinstance(document.get(key), str)]
    for key in ("Choices", "Catch"):
        items = document.get(key)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("Next"), str):
                targets.append(item["Next"])
    return targets


def _relocated(diagnostic: Diagnostic) -> Diagnostic:
    """A problem found in the wrapped state, located in the state as the caller wrote it."""
    prefix = f"/States/{STATE_NAME}"
    location = diagnostic.location
    if location == prefix or location.startswith(prefix + "/"):
        location = location[len(prefix) :]
    return Diagnostic(diagnostic.severity, diagnostic.code, diagnostic.message, location)


def _find(machine: StateMachine, name: str) -> Target:
    if name in machine.root.states:
        return Target(machine, machine.root.states[name])
    for key, scope in machine.scopes.items():
        if name in scope.states:
            return Target(machine, scope.states[name], key)
    raise Refused("ValidationException", "State not found in definition")


# -- what TestState refuses ------------------------------------------------------------------------


# The fields of the context object's sections, and their types (object: any JSON).
_CONTEXT_FIELDS: Final[dict[str, dict[str, type]]] = {
    "Execution": {
        "Id": str,
        "Input": object,
        "Name": str,
        "RoleArn": str,
        "StartTime": str,
        "RedriveCount": int,
        "RedriveTime": str,
    },
    "State": {"EnteredTime": str, "Name": str, "RetryCount": int},
    "StateMachine": {"Id": str, "Name": str},
    "Task": {"Token": str},
}


def check(
    state: State,
    mock: Mock | None,
    *,
    role_arn: str | None,
    reveal_secrets: bool = False,
    context: Any = None,
    configuration: Configuration = Configuration(),
) -> None:
    """Raise `Refused` for what TestState does not run: a mock where none is allowed, none where one
    is needed, a malformed context object or state configuration."""
    if mock is not None:
        _check_mock(state, mock, reveal_secrets)
    else:
        _check_unmocked(state, role_arn)
    if context is not None:
        check_context(state, context, mocked=mock is not None)
    _check_configuration(state, configuration)


def _check_mock(state: State, mock: Mock, reveal_secrets: bool) -> None:
    if reveal_secrets:
        raise Refused("ValidationException", "TestState does not support RevealSecrets when a mock is specified.")
    if not isinstance(state, TaskState | MapState | ParallelState):
        raise Refused("ValidationException", f"State type '{state.type}' is not supported when a mock is specified")
    if mock.fails:
        return
    if isinstance(state, MapState):
        if state.result_writer is not None and not isinstance(mock.result, dict):
            raise Refused("ValidationException", "Mocked result must be a JSON object.")
        if state.result_writer is None and not isinstance(mock.result, list):
            raise Refused("ValidationException", "Mocked result must be an array.")
    if isinstance(state, ParallelState):
        if not isinstance(mock.result, list):
            raise Refused("ValidationException", "Mocked result must be an array.")
        if len(mock.result) != len(state.branches):
            raise Refused(
                "ValidationException",
                "Mocked result must contain the same number of items as number of Parallel branches.",
            )


def _check_unmocked(state: State, role_arn: str | None) -> None:
    if isinstance(state, MapState | ParallelState):
        raise Refused(
            "InvalidDefinition",
            "TestState API does not support Map or Parallel states. "
            "Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
        )
    if not isinstance(state, TaskState):
        return
    resource = parse_resource(state.resource)
    if resource.kind == "activity" or resource.pattern != "request-response":
        raise Refused(
            "InvalidDefinition",
            "TestState API does not support Activity tasks or the .sync and .waitForTaskToken service "
            "integration patterns unless a mock is specified",
        )
    if not role_arn:
        raise Refused("ValidationException", "RoleArn must be specified when testing a Task state")


def check_context(state: State, context: Any, *, mocked: bool) -> None:
    """A context object given whole: only with a mock, and only the fields AWS's context object has."""

    def refuse(detail: str) -> Refused:
        return Refused("ValidationException", f"Invalid Context object provided: {detail}")

    if not mocked:
        raise refuse("a context object can only be specified together with a mock")
    if not isinstance(context, dict):
        raise refuse("the context object must be a JSON object")
    for section, value in context.items():
        if section == "Map":
            raise refuse("'Map' field is not supported when mocking a Context object")
        fields = _CONTEXT_FIELDS.get(section)
        if fields is None:
            raise refuse(f"Field '{section}' is not allowed")
        if not isinstance(value, dict):
            raise refuse(f"{section} must be an object")
        for name, item in value.items():
            expected = fields.get(name)
            if expected is None:
                raise refuse(f"Field '{name}' is not allowed")
            if not _has_type(item, expected):
                kind = "a string" if expected is str else "an integer"
                raise refuse(f"{section}.{name} must be {kind}")
    if "Task" in context and not _waits_for_outcome(state):
        raise refuse(
            "Context object contains 'Task' when state is not a Task state with a '.sync' or "
            "'.waitForTaskToken' service integration pattern"
        )


def _has_type(value: Any, expected: type) -> bool:
    if expected is object:
        return True
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _waits_for_outcome(state: State) -> bool:
    return isinstance(state, TaskState) and parse_resource(state.resource).pattern != "request-response"


def _check_configuration(state: State, configuration: Configuration) -> None:
    if configuration.retrier_retry_count < 0 or configuration.map_iteration_failure_count < 0:
        raise Refused("ValidationException", "retrierRetryCount and mapIterationFailureCount must not be negative")
    if configuration.map_iteration_failure_count and not isinstance(state, MapState):
        raise Refused("ValidationException", "mapIterationFailureCount can only be specified for a Map state")
    caused_by = configuration.error_caused_by_state
    if caused_by is None:
        return
    if not isinstance(state, MapState | ParallelState):
        raise Refused("ValidationException", "errorCausedByState can only be specified for a Map or Parallel state")
    inner = state.branches if isinstance(state, ParallelState) else (state.processor,)
    if not any(caused_by in _all_states(block) for block in inner):
        raise Refused("ValidationException", f"errorCausedByState '{caused_by}' is not a state of '{state.name}'")


def _all_states(block: ModelScope) -> set[str]:
    """The names of the states in a branch or processor, at any depth of nesting."""
    names = set(block.states)
    for inner in block.states.values():
        if isinstance(inner, ParallelState):
            for branch in inner.branches:
                names |= _all_states(branch)
        elif isinstance(inner, MapState):
            names |= _all_states(inner.processor)
    return names


# -- the context object ----------------------------------------------------------------------------


def default_execution(
    execution_input: Any,
    *,
    role_arn: str | None,
    machine_name: str,
    execution_name: str,
    now: dt.datetime,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
) -> dict[str, Any]:
    """The ``Execution`` and ``StateMachine`` parts of the context object of a test run.

    AWS runs the state in an Express execution of a throwaway machine: the ARN is an ``express:`` one,
    and ``RoleArn`` is null when no role was given.
    """
    prefix = f"arn:aws:states:{region}:{account}"
    return {
        "Execution": {
            "Id": f"{prefix}:express:{machine_name}:{execution_name}",
            "Input": execution_input,
            "Name": execution_name,
            "RoleArn": role_arn,
            "StartTime": interpreter.iso(now),
        },
        "StateMachine": {"Id": f"{prefix}:stateMachine:{machine_name}", "Name": machine_name},
    }


# -- running ---------------------------------------------------------------------------------------


class _Trial:
    """One run of one state: the interpreter's view of it (a run, an env) and the stages seen."""

    def __init__(self, case: Case, invoke: Invoker | None) -> None:
        self.case = case
        self.state = case.target.state
        self.invoke = invoke
        self.rng = random.Random(case.seed)
        retries = case.configuration.retrier_retry_count
        cursor = Cursor(
            state=self.state.name,
            input=case.input,
            retry_count=retries,
            entered_event_id=1,
            entered_time=interpreter.iso(case.now),
        )
        self.run = Run(cursor, dict(case.variables), {}, case.target.scope)
        self.token = f"{self.rng.getrandbits(256):064x}"
        self.env = interpreter.Env(
            execution=case.execution if case.context is None else case.context,
            history=History(2, 1, case.now),
            rng=self.rng,
            new_token=lambda: self.token,
        )
        self.seen: dict[str, Any] = {"input": case.input}

    @property
    def raw(self) -> Any:
        return self.case.input

    def scope(self, **extra: Any) -> Scope:
        """What the state's expressions see; a context object given whole is used as it is."""
        if self.case.context is not None:
            return Scope(context=self.case.context, variables=self.run.variables, rng=self.rng)
        return interpreter._scope(self.state, self.run, self.env, **extra)

    def record(self, stage: str, value: Any) -> Any:
        self.seen[stage] = value
        return value

    def report(self, status: str, **fields: Any) -> Report:
        variables = fields.pop("variables", self.run.variables)
        if variables:
            self.seen["variables"] = dict(variables)
        return Report(status, inspection=dict(self.seen), **fields)

    def succeeded(self, output: Any, assigned: Mapping[str, Any], next_state: str | None) -> Report:
        if output is not self.raw:
            dataflow.check_size(output, self.state.name)
        return self.report(
            SUCCEEDED, output=output, next_state=next_state, variables={**self.run.variables, **assigned}
        )


def run(case: Case, invoke: Invoker | None = None) -> Report:
    """Run ``case``'s state once; ``invoke`` does an unmocked Task's work."""
    trial = _Trial(case, invoke)
    state = trial.state
    try:
        if isinstance(state, PassState):
            return _pass(trial, state)
        if isinstance(state, TaskState):
            return _task(trial, state)
        if isinstance(state, ParallelState):
            return _parallel(trial, state)
        if isinstance(state, MapState):
            return _map(trial, state)
        return _interpreted(trial)
    except StatesError as failure:
        return _failed(trial, failure)


# -- Choice, Wait, Succeed, Fail: the interpreter runs them ----------------------------------------


def _interpreted(trial: _Trial) -> Report:
    state = trial.state
    if not state.is_jsonata:
        trial.record("afterInputPath", dataflow.apply_input_path(state, trial.raw, trial.scope()))
    machine = trial.case.target.machine
    outcome: Outcome = interpreter._work(machine, state, trial.run, trial.env)
    if isinstance(outcome, Sleep):  # a Wait: its time has been checked; TestState does not wait
        outcome = interpreter._resume(machine, state, outcome.run, TimerFired(), trial.env)
    return _ended(trial, outcome)


def _ended(trial: _Trial, outcome: Outcome) -> Report:
    if isinstance(outcome, Next):
        moved = outcome.run
        return trial.report(
            SUCCEEDED, output=moved.cursor.input, next_state=moved.cursor.state, variables=moved.variables
        )
    if isinstance(outcome, Succeed):
        return trial.report(SUCCEEDED, output=outcome.output, variables=outcome.run.variables)
    if isinstance(outcome, Fail):
        return trial.report(FAILED, error=outcome.error, cause=outcome.cause)
    raise TypeError(f"a {trial.state.type} state cannot end with {outcome!r}")


# -- Pass --------------------------------------------------------------------------------------------


def _pass(trial: _Trial, state: PassState) -> Report:
    scope = trial.scope()
    raw = trial.raw
    if state.is_jsonata:
        states = scope.states(raw)
        assigned = dataflow.evaluate_assign(state.assign, scope, None, states)
        return trial.succeeded(dataflow.jsonata_output(state, scope, states, raw), assigned, state.next)
    effective = dataflow.apply_input_path(state, raw, scope)
    if state.result is not ABSENT:
        # AWS reports no InputPath or Parameters stage when Result replaces them
        result = trial.record("result", state.result)
    else:
        trial.record("afterInputPath", effective)
        result = trial.record("afterParameters", dataflow.apply_template(state.parameters, effective, scope))
    trial.record("afterResultSelector", result)  # a Pass has no ResultSelector: AWS reports the result
    assigned = dataflow.evaluate_assign(state.assign, scope, result, None)
    combined = trial.record("afterResultPath", dataflow.apply_result_path(state.result_path, raw, result))
    return trial.succeeded(dataflow.apply_output_path(state, combined, scope), assigned, state.next)


# -- Task ------------------------------------------------------------------------------------------


def _task(trial: _Trial, state: TaskState) -> Report:
    resource = parse_resource(state.resource)
    token = trial.token if resource.pattern == "callback" else None
    scope = trial.scope(**({"Task": {"Token": token}} if token else {}))
    payload = _arguments(trial, state, scope)
    request = TaskRequest(
        state=state.name,
        resource=state.resource,
        kind=resource.kind,
        pattern=resource.pattern,
        payload=payload,
        token=token,
        credentials=state.credentials,
    )
    delivery = _work(trial, request, token)
    if isinstance(delivery, TaskFailed):
        raise StatesError(delivery.error or "", delivery.cause)
    if not isinstance(delivery, TaskSucceeded):
        raise TypeError(f"a Task's work cannot end with {delivery!r}")
    result = trial.record("result", delivery.output)
    dataflow.check_size(result, resource.arn if resource.kind == "lambda" else resource.resource_type)
    return _finish(trial, state, scope, result)


def _arguments(trial: _Trial, state: TaskState | ParallelState, scope: Scope) -> Any:
    """What the state works on: Arguments in JSONata; InputPath then Parameters in JSONPath."""
    raw = trial.raw
    if state.is_jsonata:
        value = (
            raw
            if state.arguments is ABSENT
            else dataflow.evaluate_jsonata(state.arguments, "Arguments", scope, scope.states(raw))
        )
        return trial.record("afterArguments", value)
    effective = trial.record("afterInputPath", dataflow.apply_input_path(state, raw, scope))
    return trial.record("afterParameters", dataflow.apply_template(state.parameters, effective, scope))


def _work(trial: _Trial, request: TaskRequest, token: str | None) -> Delivery:
    mock = trial.case.mock
    if mock is not None:
        return mock.delivery()
    if trial.invoke is None:
        raise TypeError("an unmocked Task needs an invoke function")
    execution = trial.env.execution.get("Execution", {})
    context = TaskContext(
        execution_arn=str(execution.get("Id", "")),
        state_name=trial.state.name,
        resource=request.resource,
        retry_count=trial.case.configuration.retrier_retry_count,
        token=token,
    )
    return trial.invoke(request, context)


# -- Parallel and Map (always mocked) ----------------------------------------------------------------


def _parallel(trial: _Trial, state: ParallelState) -> Report:
    scope = trial.scope()
    _arguments(trial, state, scope)
    return _mocked_result(trial, state, scope)


def _map(trial: _Trial, state: MapState) -> Report:
    scope = trial.scope()
    raw = trial.raw
    if state.is_jsonata:
        states = scope.states(raw)
        inputs = _map_inputs(trial, state, scope, raw, lambda: interpreter._jsonata_items(state, scope, states))
        limits = interpreter._map_limits_jsonata(state, scope, states)
    else:
        effective = trial.record("afterInputPath", dataflow.apply_input_path(state, raw, scope))

        def items() -> list[Any]:
            return trial.record("afterItemsPath", interpreter._jsonpath_items(state, effective, scope))

        inputs = _map_inputs(trial, state, scope, effective, items)
        limits = interpreter._map_limits_jsonpath(state, effective, scope)
    _record_limits(trial, limits)
    mock = _mock_of(trial, state)
    if not mock.fails:  # a mocked error is what the Map failed with, whatever the tolerance says
        _check_tolerance(trial, _iterations(inputs, mock), limits)
    return _mocked_result(trial, state, scope)


def _map_inputs(
    trial: _Trial, state: MapState, scope: Scope, data: Any, items: Callable[[], list[Any]]
) -> list[Any] | None:
    """Each iteration's input (ItemSelector, then ItemBatcher); None when an ItemReader reads them."""
    if state.item_reader is not None:
        read = trial.case.configuration.map_item_reader_data
        if not isinstance(read, list):
            return None
        found = read
    else:
        found = items()
    inputs = [interpreter._item_input(state, trial.run, trial.env, data, i, item) for i, item in enumerate(found)]
    if state.item_selector is not None or state.item_selector_jsonata is not ABSENT:
        trial.record("afterItemSelector", inputs)
    if state.item_batcher:
        inputs = trial.record("afterItemBatcher", interpreter._batches(state, inputs, data, scope))
    return inputs


def _record_limits(trial: _Trial, limits: tuple[int, int | None, float | None]) -> None:
    concurrency, count, percentage = limits
    trial.record("maxConcurrency", concurrency)
    if count is not None:
        trial.record("toleratedFailureCount", count)
    if percentage is not None:
        trial.record("toleratedFailurePercentage", percentage)


def _iterations(inputs: list[Any] | None, mock: Mock) -> int:
    """How many iterations the Map ran: its inputs, or (when an ItemReader read them) its results."""
    if inputs is not None:
        return len(inputs)
    return len(mock.result) if isinstance(mock.result, list) else 0


def _check_tolerance(trial: _Trial, total: int, limits: tuple[int, int | None, float | None]) -> None:
    """The iterations said to have failed break the Map's tolerance (a Map with none set ignores them)."""
    _, count, percentage = limits
    failed = trial.case.configuration.map_iteration_failure_count
    if count is None and percentage is None:
        return
    if interpreter.exceeds_tolerance(failed, max(total, failed), count, percentage):
        raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD, TOLERANCE_CAUSE)


def _mock_of(trial: _Trial, state: ParallelState | MapState) -> Mock:
    if trial.case.mock is None:
        raise TypeError(f"a {state.type} state is only tested with a mock")
    return trial.case.mock


def _mocked_result(trial: _Trial, state: ParallelState | MapState, scope: Scope) -> Report:
    mock = _mock_of(trial, state)
    if mock.fails:
        raise StatesError(mock.error or "", mock.cause)
    return _finish(trial, state, scope, mock.result)


# -- results and errors ----------------------------------------------------------------------------


def _finish(trial: _Trial, state: TaskState | ParallelState | MapState, scope: Scope, result: Any) -> Report:
    """ResultSelector, Assign, ResultPath, OutputPath (JSONPath), or Assign and Output (JSONata)."""
    raw = trial.raw
    if state.is_jsonata:
        states = scope.states(raw, result=result)
        assigned = dataflow.evaluate_assign(state.assign, scope, None, states)
        return trial.succeeded(dataflow.jsonata_output(state, scope, states, result), assigned, state.next)
    selected = trial.record("afterResultSelector", dataflow.apply_template(state.result_selector, result, scope))
    assigned = dataflow.evaluate_assign(state.assign, scope, selected, None)
    combined = trial.record("afterResultPath", dataflow.apply_result_path(state.result_path, raw, selected))
    return trial.succeeded(dataflow.apply_output_path(state, combined, scope), assigned, state.next)


def _failed(trial: _Trial, failure: StatesError) -> Report:
    """RETRIABLE if a retrier would try again, CAUGHT_ERROR if a catcher takes it, else FAILED."""
    state = trial.state
    error, cause = failure.error, failure.cause
    if not isinstance(state, TaskState | ParallelState | MapState):
        return trial.report(FAILED, error=error, cause=cause)
    details: dict[str, Any] = {}
    retry_index = _first_match(state.retry, error)
    if retry_index is not None:
        retrier = state.retry[retry_index]
        details["retryIndex"] = retry_index
        attempt = trial.case.configuration.retrier_retry_count
        if attempt < retrier.max_attempts:
            details["retryBackoffIntervalSeconds"] = int(interpreter.retry_delay(retrier, attempt, trial.rng))
            trial.record("errorDetails", details)
            return trial.report(RETRIABLE, error=error, cause=cause)
    catch_index = _first_match(state.catch, error)
    if catch_index is None:
        if details:
            trial.record("errorDetails", details)
        return trial.report(FAILED, error=error, cause=cause)
    details["catchIndex"] = catch_index
    trial.record("errorDetails", details)
    catcher = state.catch[catch_index]
    try:
        output, assigned = _caught(trial, catcher, error, cause)
    except StatesError as again:  # the catcher's own processing failed: nothing catches that
        return trial.report(FAILED, error=again.error, cause=again.cause)
    return trial.report(
        CAUGHT_ERROR,
        output=output,
        error=error,
        cause=cause,
        next_state=catcher.next,
        variables={**trial.run.variables, **assigned},
    )


def _first_match(handlers: tuple[Retrier, ...] | tuple[Catcher, ...], error: str) -> int | None:
    return next((i for i, handler in enumerate(handlers) if _matches(handler.error_equals, error)), None)


def _caught(trial: _Trial, catcher: Catcher, error: str, cause: str | None) -> tuple[Any, dict[str, Any]]:
    """The catcher's output (ResultPath on the error output, or its JSONata Output) and assignments."""
    error_output: dict[str, Any] = {"Error": error}
    if cause is not None:
        error_output["Cause"] = cause
    scope = trial.scope()
    raw = trial.raw
    if trial.state.is_jsonata:
        states = scope.states(raw, errorOutput=error_output)
        assigned = dataflow.evaluate_assign(catcher.assign, scope, None, states)
        output = (
            error_output
            if catcher.output is ABSENT
            else dataflow.evaluate_jsonata(catcher.output, "Output", scope, states)
        )
    else:
        assigned = dataflow.evaluate_assign(catcher.assign, scope, error_output, None)
        output = dataflow.apply_result_path(catcher.result_path, raw, error_output)
    dataflow.check_size(output, trial.state.name)
    return output, assigned
