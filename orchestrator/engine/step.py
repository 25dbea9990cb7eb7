"""The interpreter: `step` runs one state of one run and says what happens next.

It is pure: no I/O, no clock, no randomness of its own. What it needs of the world comes in an
`Env` (the time, a seeded random source, a token maker, the history to append to), and what it
needs done comes out as an `Outcome` (see `outcomes`). Both drivers, the in-memory one
(`engine.local`) and the durable one (`runtime`), call the same `step`.

A state runs in one of two ways:

- at once (Pass, Choice, Succeed, Fail, a Wait whose time has come): ``Next``/``Succeed``/``Fail``;
- or it waits for the outside (Task: ``Invoke``; Wait and Retry backoff: ``Sleep``; Parallel and
  Map: ``FanOut``), and `step` is called again with the answer as a `Delivery`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from orchestrator.asl import choice, intrinsics, jsonata, paths
from orchestrator.asl.errors import (
    HEARTBEAT_TIMEOUT,
    NO_CHOICE_MATCHED,
    QUERY_EVALUATION_ERROR,
    RUNTIME,
    TIMEOUT,
    FieldError,
    StatesError,
    error_matches,
)
from orchestrator.asl.json_values import is_integer, json_type
from orchestrator.asl.model import (
    ABSENT,
    Catcher,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    State,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
    scope_key,
)
from orchestrator.asl.payload import compile_template, read_reference
from orchestrator.engine import batching, dataflow, map_io
from orchestrator.engine.dataflow import Scope
from orchestrator.engine.history import History
from orchestrator.engine.history import iso as _iso
from orchestrator.engine.outcomes import (
    ChildFailed,
    ChildrenSucceeded,
    ChildRun,
    Cursor,
    Delivery,
    Fail,
    FanOut,
    Invoke,
    MapReading,
    Next,
    Outcome,
    Run,
    Sleep,
    Succeed,
    TaskFailed,
    TaskRequest,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
)
from orchestrator.engine.resources import Resource, parse_resource

MAX_WAIT_SECONDS = 2_147_483_647  # AWS rejects longer delays: "Wait state delay is too long."


@dataclass(frozen=True, slots=True)
class Env:
    """What `step` may know of the world.

    ``execution`` is the fixed part of the context object (``Execution`` and ``StateMachine``);
    ``history`` receives the events (its ``now`` is the current time); ``new_token`` makes an
    unguessable task token.
    """

    execution: Mapping[str, Any]
    history: History
    rng: random.Random
    new_token: Callable[[], str]

    @property
    def now(self) -> dt.datetime:
        return self.history.now


def iso(moment: dt.datetime) -> str:
    """A timestamp as AWS writes it in the context object: UTC, milliseconds, Z."""
    return _iso(moment)


# -- the execution's first and last events ---------------------------------------------------------


def begin(machine: StateMachine, execution_input: Any, role_arn: str, history: History) -> Run:
    """Record ExecutionStarted; returns the execution's run, about to enter StartAt."""
    history.add(
        "ExecutionStarted",
        {"input": execution_input, "inputDetails": {"truncated": False}, "roleArn": role_arn},
        link=False,  # AWS links the first state's event to 0, not to ExecutionStarted
    )
    return Run(cursor=Cursor(state=machine.root.start_at, input=execution_input))


def end(outcome: Succeed | Fail, history: History) -> None:
    """Record how the execution ended."""
    if isinstance(outcome, Succeed):
        history.add("ExecutionSucceeded", {"output": outcome.output, "outputDetails": {"truncated": False}})
    else:
        history.add("ExecutionFailed", _error_details(outcome.error, outcome.cause))


# -- step ------------------------------------------------------------------------------------------


def step(machine: StateMachine, run: Run, delivery: Delivery | None, env: Env) -> Outcome:
    """Run the current state of ``run`` as far as it can go without the outside world."""
    state = machine.scope(run.scope).states[run.cursor.state]
    try:
        if run.cursor.phase == "enter":
            run = _enter(state, run, env)
            return _work(machine, state, run, env)
        return _resume(machine, state, run, delivery, env)
    except StatesError as failure:
        return _on_error(machine, state, run, failure, env)
    except RecursionError as exc:
        # Data nested deeper than Python's recursion limit (a ResultPath thousands of levels deep):
        # the same on every try, so it fails the run instead of the worker (States.Runtime).
        cause = f"The state '{state.name}' could not be run: its data is nested too deeply ({exc})"
        return _on_error(machine, state, run, StatesError(RUNTIME, cause), env)


def _enter(state: State, run: Run, env: Env) -> Run:
    event_id = env.history.add(
        f"{state.type}StateEntered",
        {"name": state.name, "input": run.cursor.input, "inputDetails": {"truncated": False}},
    )
    old = run.cursor
    # Built directly: dataclasses.replace costs a third of a simple state's time.
    cursor = Cursor(old.state, old.input, old.phase, (), 0, event_id, env.history.now_iso)
    return Run(cursor, run.variables, run.outer, run.scope)


def _work(machine: StateMachine, state: State, run: Run, env: Env) -> Outcome:
    """Do what the state does, from its start (or again, after a retry's backoff)."""
    match state:
        case PassState():
            return _pass(state, run, env)
        case TaskState():
            return _task(state, run, env)
        case ChoiceState():
            return _choice(state, run, env)
        case WaitState():
            return _wait(state, run, env)
        case SucceedState():
            return _succeed(state, run, env)
        case FailState():
            return _fail(state, run, env)
        case ParallelState():
            return _parallel(state, run, env)
        case MapState():
            return _map(machine, state, run, env)
    raise TypeError(f"unknown state {state!r}")


def _resume(machine: StateMachine, state: State, run: Run, delivery: Delivery | None, env: Env) -> Outcome:
    phase = run.cursor.phase
    if phase == "retry":
        if not isinstance(delivery, TimerFired):
            raise TypeError(f"a retry waits for TimerFired, not {delivery!r}")
        return _work(machine, state, run, env)
    if phase == "wait" and isinstance(state, WaitState):
        if not isinstance(delivery, TimerFired):
            raise TypeError(f"a Wait state waits for TimerFired, not {delivery!r}")
        return _wait_done(state, run, env)
    if phase == "task" and isinstance(state, TaskState):
        return _task_answered(state, run, delivery, env)
    if phase == "fanout" and isinstance(state, ParallelState | MapState):
        return _joined(state, run, delivery, env)
    if phase in ("reader", "writer") and isinstance(state, MapState):
        return _map_io_answered(machine, state, run, delivery, env)
    raise TypeError(f"state {state.name!r} in phase {phase!r} cannot take {delivery!r}")


# -- shared pieces ---------------------------------------------------------------------------------


def _context(state: State, run: Run, env: Env, **extra: Any) -> dict[str, Any]:
    """The context object (``$$`` / ``$states.context``) as the state sees it."""
    state_part: dict[str, Any] = {"Name": state.name, "EnteredTime": run.cursor.entered_time}
    if isinstance(state, TaskState | ParallelState | MapState):
        state_part["RetryCount"] = run.cursor.retry_count
    return {**env.execution, "State": state_part, **extra}


def _scope(state: State, run: Run, env: Env, **extra: Any) -> Scope:
    return Scope(
        context=_context(state, run, env, **extra),
        variables=dataflow.visible_variables(run.variables, run.outer),
        rng=env.rng,
    )


def _exit(
    state: State, run: Run, output: Any, assigned: dict[str, Any], env: Env, target: str | None = None
) -> Outcome:
    """Leave the state with ``output``: record StateExited, then go on, or end the run."""
    if output is not run.cursor.input:  # the input passed this check when it was an output
        dataflow.check_size(output, state.name)
    details: dict[str, Any] = {"name": state.name, "output": output, "outputDetails": {"truncated": False}}
    if assigned:
        details["assignedVariables"] = assigned
        details["assignedVariablesDetails"] = {"truncated": False}
    env.history.add(f"{state.type}StateExited", details)
    variables = {**run.variables, **assigned} if assigned else run.variables
    target = target if target is not None else state.next
    if target is None:
        return Succeed(output, replace(run, variables=variables))
    return Next(Run(cursor=Cursor(state=target, input=output), variables=variables, outer=run.outer, scope=run.scope))


def _finish_jsonpath(state: TaskState | ParallelState | MapState, run: Run, result: Any, env: Env) -> Outcome:
    """ResultSelector -> ResultPath -> OutputPath, and Assign, for a result from outside."""
    scope = _scope(state, run, env)
    selected = dataflow.apply_template(state.result_selector, result, scope)
    assigned = dataflow.evaluate_assign(state.assign, scope, selected, None)
    output = dataflow.apply_result_path(state.result_path, run.cursor.input, selected)
    output = dataflow.apply_output_path(state, output, scope)
    return _exit(state, run, output, assigned, env)


def _finish_jsonata(state: State, run: Run, result: Any, env: Env) -> Outcome:
    scope = _scope(state, run, env)
    states = scope.states(run.cursor.input, result=result)
    assigned = dataflow.evaluate_assign(state.assign, scope, None, states)
    output = dataflow.jsonata_output(state, scope, states, result)
    return _exit(state, run, output, assigned, env)


def _finish(state: TaskState | ParallelState | MapState, run: Run, result: Any, env: Env) -> Outcome:
    if state.is_jsonata:
        return _finish_jsonata(state, run, result, env)
    return _finish_jsonpath(state, run, result, env)


def _error_details(error: str | None, cause: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    return details


# -- Pass, Choice, Wait, Succeed, Fail ------------------------------------------------------------


def _pass(state: PassState, run: Run, env: Env) -> Outcome:
    scope = _scope(state, run, env)
    raw = run.cursor.input
    if state.is_jsonata:
        states = scope.states(raw)
        assigned = dataflow.evaluate_assign(state.assign, scope, None, states)
        return _exit(state, run, dataflow.jsonata_output(state, scope, states, raw), assigned, env)
    effective = dataflow.apply_input_path(state, raw, scope)
    result = state.result if state.result is not ABSENT else dataflow.apply_template(state.parameters, effective, scope)
    assigned = dataflow.evaluate_assign(state.assign, scope, result, None)
    output = dataflow.apply_result_path(state.result_path, raw, result)
    return _exit(state, run, dataflow.apply_output_path(state, output, scope), assigned, env)


def _choice(state: ChoiceState, run: Run, env: Env) -> Outcome:
    scope = _scope(state, run, env)
    raw = run.cursor.input
    if state.is_jsonata:
        return _choice_jsonata(state, run, scope, env)
    effective = dataflow.apply_input_path(state, raw, scope)

    def read(path: str) -> tuple[bool, Any]:
        try:
            return True, read_reference(path, effective, scope.payload_env, field=None)
        except (paths.PathNotFound, FieldError):
            return False, None

    matched = None
    for rule in state.choices:
        try:
            holds = rule.rule is not None and choice.evaluate(rule.rule, read)
        except choice.MissingVariable as missing:
            raise FieldError(
                RUNTIME,
                f"Invalid path '{missing.path}': The choice state's condition path references an invalid value.",
            ) from None
        if holds:
            matched = rule
            break
    target = _choice_target(state, matched)
    assign = matched.assign if matched is not None else state.assign
    assigned = dataflow.evaluate_assign(assign, scope, effective, None)
    return _exit(state, run, dataflow.apply_output_path(state, effective, scope), assigned, env, target)


def _choice_jsonata(state: ChoiceState, run: Run, scope: Scope, env: Env) -> Outcome:
    raw = run.cursor.input
    states = scope.states(raw)
    matched = None
    for i, rule in enumerate(state.choices):
        holds = dataflow.evaluate_jsonata(rule.condition, f"Choices/{i}/Condition", scope, states)
        if not isinstance(holds, bool):
            raise FieldError(
                QUERY_EVALUATION_ERROR,
                f"The Condition of choice rule {i} must evaluate to a boolean, but was: {dataflow.to_text(holds)}",
                location="Condition",
            )
        if holds:
            matched = rule
            break
    target = _choice_target(state, matched)
    if matched is not None:
        assigned = dataflow.evaluate_assign(matched.assign, scope, None, states)
        output = raw if matched.output is ABSENT else dataflow.evaluate_jsonata(matched.output, "Output", scope, states)
    else:
        assigned = dataflow.evaluate_assign(state.assign, scope, None, states)
        output = dataflow.jsonata_output(state, scope, states, raw)
    return _exit(state, run, output, assigned, env, target)


def _choice_target(state: ChoiceState, matched: Any) -> str:
    if matched is not None:
        return str(matched.next)
    if state.default is None:
        raise StatesError(
            NO_CHOICE_MATCHED,
            f"No Matches! (state '{state.name}' has no matching choice rule and no Default)",
        )
    return state.default


def _wait(state: WaitState, run: Run, env: Env) -> Outcome:
    scope = _scope(state, run, env)
    raw = run.cursor.input
    if state.is_jsonata:
        states = scope.states(raw)
        until = _wait_until_jsonata(state, scope, states, env)
    else:
        effective = dataflow.apply_input_path(state, raw, scope)
        until = _wait_until_jsonpath(state, effective, scope, env)
    if (until - env.now).total_seconds() > MAX_WAIT_SECONDS:
        raise FieldError(RUNTIME, "Wait state delay is too long.")
    if until <= env.now:
        return _wait_done(state, run, env)
    return Sleep(until, run.at(replace(run.cursor, phase="wait")))


def _wait_until_jsonpath(state: WaitState, data: Any, scope: Scope, env: Env) -> dt.datetime:
    if state.seconds is not None:
        return env.now + dt.timedelta(seconds=state.seconds)
    if state.timestamp is not None:
        return _timestamp(state.timestamp)
    if state.seconds_path is not None:
        path = state.seconds_path
        try:
            value = read_reference(path, data, scope.payload_env, field=None)
        except (paths.PathNotFound, FieldError):
            raise FieldError(RUNTIME, f"The SecondsPath parameter does not reference an input value: {path}") from None
        if not is_integer(value):
            raise FieldError(
                RUNTIME,
                f"The SecondsPath parameter cannot be parsed as a long value: {path} == {dataflow.to_text(value)}",
            )
        if value < 0:
            raise FieldError(RUNTIME, f"The SecondsPath parameter references a negative value: {path} == {value}")
        return env.now + dt.timedelta(seconds=int(value))
    path = state.timestamp_path or "$"
    try:
        value = read_reference(path, data, scope.payload_env, field=None)
    except (paths.PathNotFound, FieldError):
        raise FieldError(RUNTIME, f"The TimestampPath parameter does not reference an input value: {path}") from None
    moment = choice.parse_timestamp(value)
    if moment is None:
        shown = value if isinstance(value, str) else dataflow.to_text(value)
        raise FieldError(
            RUNTIME,
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            f"date-time format string: {path} == {shown}",
        )
    return moment


def _wait_until_jsonata(state: WaitState, scope: Scope, states: dict[str, Any], env: Env) -> dt.datetime:
    if state.seconds is not None:
        seconds = dataflow.evaluate_jsonata(state.seconds, "Seconds", scope, states)
        if not is_integer(seconds) or seconds < 0:
            raise FieldError(
                QUERY_EVALUATION_ERROR,
                f"The Seconds field must be a non-negative integer, but was: {dataflow.to_text(seconds)}",
                location="Seconds",
            )
        return env.now + dt.timedelta(seconds=int(seconds))
    value = dataflow.evaluate_jsonata(state.timestamp, "Timestamp", scope, states)
    moment = choice.parse_timestamp(value)
    if moment is None:
        shown = value if isinstance(value, str) else dataflow.to_text(value)
        raise FieldError(
            QUERY_EVALUATION_ERROR,
            f"The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}",
            location="Timestamp",
        )
    return moment


def _timestamp(text: str) -> dt.datetime:
    moment = choice.parse_timestamp(text)
    if moment is None:  # the parser rejects these; a definition built by hand may not have been parsed
        raise FieldError(RUNTIME, f"Invalid Timestamp: {text}")
    return moment


def _wait_done(state: WaitState, run: Run, env: Env) -> Outcome:
    scope = _scope(state, run, env)
    raw = run.cursor.input
    if state.is_jsonata:
        states = scope.states(raw)
        assigned = dataflow.evaluate_assign(state.assign, scope, None, states)
        return _exit(state, run, dataflow.jsonata_output(state, scope, states, raw), assigned, env)
    effective = dataflow.apply_input_path(state, raw, scope)
    assigned = dataflow.evaluate_assign(state.assign, scope, effective, None)
    return _exit(state, run, dataflow.apply_output_path(state, effective, scope), assigned, env)


def _succeed(state: SucceedState, run: Run, env: Env) -> Outcome:
    scope = _scope(state, run, env)
    raw = run.cursor.input
    if state.is_jsonata:
        output = dataflow.jsonata_output(state, scope, scope.states(raw), raw)
    else:
        output = dataflow.apply_output_path(state, dataflow.apply_input_path(state, raw, scope), scope)
    env.history.add("SucceedStateExited", {"name": state.name, "output": output, "outputDetails": {"truncated": False}})
    return Succeed(output, run)


def _fail(state: FailState, run: Run, env: Env) -> Outcome:
    scope = _scope(state, run, env)
    raw = run.cursor.input
    if state.is_jsonata:
        states = scope.states(raw)
        error = _fail_text(dataflow.evaluate_jsonata(state.error, "Error", scope, states), "Error")
        cause = _fail_text(dataflow.evaluate_jsonata(state.cause, "Cause", scope, states), "Cause")
    else:
        error = _fail_field(state.error, state.error_path, "ErrorPath", raw, scope)
        cause = _fail_field(state.cause, state.cause_path, "CausePath", raw, scope)
    return Fail(error, cause, run)


def _fail_field(value: str | None, path: str | None, field: str, data: Any, scope: Scope) -> str | None:
    if path is None:
        return value
    if intrinsics.looks_like_intrinsic(path):
        result = intrinsics.evaluate(
            intrinsics.parse(path),
            lambda p: read_reference(p, data, scope.payload_env, field=field),
            scope.rng,
        )
    else:
        result = read_reference(path, data, scope.payload_env, field=field)
    if not isinstance(result, str):
        raise FieldError(RUNTIME, f"The {field} field must reference a string, but was: {dataflow.to_text(result)}")
    return result


def _fail_text(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise FieldError(
        QUERY_EVALUATION_ERROR,
        f"The {field} field must evaluate to a string, but was: {dataflow.to_text(value)}",
        location=field,
    )


# -- Task ------------------------------------------------------------------------------------------


def _task(state: TaskState, run: Run, env: Env) -> Outcome:
    resource = parse_resource(state.resource)
    token = env.new_token() if resource.pattern == "callback" else None
    extra = {"Task": {"Token": token}} if token else {}
    scope = _scope(state, run, env, **extra)
    raw = run.cursor.input
    if state.is_jsonata:
        states = scope.states(raw)
        payload = (
            raw if state.arguments is ABSENT else dataflow.evaluate_jsonata(state.arguments, "Arguments", scope, states)
        )
        timeout = _jsonata_seconds(state.timeout_seconds, "TimeoutSeconds", scope, states)
        heartbeat = _jsonata_seconds(state.heartbeat_seconds, "HeartbeatSeconds", scope, states)
    else:
        effective = dataflow.apply_input_path(state, raw, scope)
        payload = dataflow.apply_template(state.parameters, effective, scope)
        timeout = _seconds(state.timeout_seconds, state.timeout_seconds_path, effective, scope)
        heartbeat = _seconds(state.heartbeat_seconds, state.heartbeat_seconds_path, effective, scope)
    request = TaskRequest(
        state=state.name,
        resource=state.resource,
        kind=resource.kind,
        pattern=resource.pattern,
        payload=payload,
        timeout_seconds=timeout,
        heartbeat_seconds=heartbeat,
        token=token,
        credentials=state.credentials,
    )
    _record_scheduled(resource, request, env.history)
    return Invoke(request, run.at(replace(run.cursor, phase="task")))


def _seconds(value: Any, path: str | None, data: Any, scope: Scope) -> int | None:
    if path is None:
        return value
    found = dataflow.select(path, data, scope, "TimeoutSecondsPath")
    if not is_integer(found) or found <= 0:
        raise FieldError(RUNTIME, f"The value of {path} must be a positive integer, but was: {dataflow.to_text(found)}")
    return int(found)


def _jsonata_seconds(value: Any, field: str, scope: Scope, states: dict[str, Any]) -> int | None:
    if value is None or isinstance(value, int):
        return value
    seconds = dataflow.evaluate_jsonata(value, field, scope, states)
    if not is_integer(seconds) or seconds <= 0:
        raise FieldError(
            QUERY_EVALUATION_ERROR,
            f"The {field} field must be a positive integer, but was: {dataflow.to_text(seconds)}",
            location=field,
        )
    return int(seconds)


def _record_scheduled(resource: Resource, request: TaskRequest, history: History) -> None:
    limits = {}
    if request.timeout_seconds is not None:
        limits["timeoutInSeconds"] = request.timeout_seconds
    if request.heartbeat_seconds is not None:
        limits["heartbeatInSeconds"] = request.heartbeat_seconds
    if resource.kind == "lambda":
        history.add(
            "LambdaFunctionScheduled",
            {
                "resource": resource.arn,
                "input": request.payload,
                "inputDetails": {"truncated": False},
                **limits,
            },
        )
        history.add("LambdaFunctionStarted")
    elif resource.kind == "activity":
        history.add(
            "ActivityScheduled",
            {
                "resource": resource.arn,
                "input": request.payload,
                "inputDetails": {"truncated": False},
                **limits,
            },
        )
    else:
        details = {
            "resourceType": resource.resource_type,
            "resource": resource.resource_name,
            "region": resource.region,
            "parameters": request.payload,
            **limits,
        }
        if request.credentials is not None:
            details["taskCredentials"] = request.credentials
        history.add("TaskScheduled", details)
        history.add("TaskStarted", {"resourceType": resource.resource_type, "resource": resource.resource_name})


def task_event(resource: Resource, outcome: str, details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The history event for a task's ``outcome`` ("Started", "Succeeded", "Failed", ...) by resource kind."""
    if resource.kind == "lambda":
        return f"LambdaFunction{outcome}", details
    if resource.kind == "activity":
        return f"Activity{outcome}", details
    return f"Task{outcome}", {
        "resourceType": resource.resource_type,
        "resource": resource.resource_name,
        **details,
    }


def _task_answered(state: TaskState, run: Run, delivery: Delivery | None, env: Env) -> Outcome:
    resource = parse_resource(state.resource)
    if isinstance(delivery, TaskSubmitted):
        env.history.add(
            *task_event(resource, "Submitted", {"output": delivery.output, "outputDetails": {"truncated": False}})
        )
        return _still_waiting(run)
    if isinstance(delivery, TaskSucceeded):
        try:
            dataflow.check_size(delivery.output, resource.arn if resource.kind == "lambda" else resource.resource_type)
        except StatesError as too_large:
            # AWS records an oversized result as the task's failure, not as its success.
            delivery = TaskFailed(too_large.error, too_large.cause)
    if isinstance(delivery, TaskFailed):
        kind = "TimedOut" if delivery.timed_out else "Failed"
        # A heartbeat that ran out is States.Timeout to AWS's history (recorded cases), and
        # States.HeartbeatTimeout to this Task's Retry and Catch only.
        heartbeat = delivery.timed_out and delivery.error == HEARTBEAT_TIMEOUT
        error = TIMEOUT if heartbeat else delivery.error
        env.history.add(*task_event(resource, kind, _error_details(error, delivery.cause)))
        raise StatesError(error or "", delivery.cause, heartbeat=heartbeat)
    if not isinstance(delivery, TaskSucceeded):
        raise TypeError(f"a Task waits for its result, not {delivery!r}")
    env.history.add(
        *task_event(resource, "Succeeded", {"output": delivery.output, "outputDetails": {"truncated": False}})
    )
    return _finish(state, run, delivery.output, env)


def _still_waiting(run: Run) -> Outcome:
    """A TaskSubmitted changes nothing but the history: the run keeps waiting for the result."""
    return Invoke(
        TaskRequest(state=run.cursor.state, resource="", kind="service", pattern="callback", payload=None),
        run,
    )


# -- Parallel and Map ------------------------------------------------------------------------------


def _parallel(state: ParallelState, run: Run, env: Env) -> Outcome:
    scope = _scope(state, run, env)
    raw = run.cursor.input
    if state.is_jsonata:
        states = scope.states(raw)
        branch_input = (
            raw if state.arguments is ABSENT else dataflow.evaluate_jsonata(state.arguments, "Arguments", scope, states)
        )
    else:
        effective = dataflow.apply_input_path(state, raw, scope)
        branch_input = dataflow.apply_template(state.parameters, effective, scope)
    env.history.add("ParallelStateStarted")
    children = tuple(ChildRun(scope_key(state.name, i), branch_input, i) for i in range(len(state.branches)))
    return FanOut(children, 0, run.at(replace(run.cursor, phase="fanout")), is_map=False)


def _map(machine: StateMachine, state: MapState, run: Run, env: Env, read: map_io.Page | None = None) -> Outcome:
    """Fan out over the Map's items: from its input, or (``read``) what its ItemReader read (its first
    page, when the runtime reads a page at a time)."""
    scope = _scope(state, run, env)
    raw = run.cursor.input
    if state.is_jsonata:
        states = scope.states(raw)
        limits = lambda: _map_limits_jsonata(state, scope, states)  # noqa: E731 - read after MapStateStarted
        selector_data = raw
    else:
        selector_data = dataflow.apply_input_path(state, raw, scope)
        limits = lambda: _map_limits_jsonpath(state, selector_data, scope)  # noqa: E731
    if state.item_reader and read is None:
        return Invoke(map_io.reader_request(state, selector_data, scope), run.at(replace(run.cursor, phase="reader")))
    if read is not None:
        items = read.items  # (ItemsPath does not apply to what an ItemReader read)
    elif state.is_jsonata:
        items = _jsonata_items(state, scope, states)
    else:
        items = _jsonpath_items(state, selector_data, scope)
    inputs = [_item_input(state, run, env, selector_data, index, item) for index, item in enumerate(items)]
    reading = None
    if read is not None and read.next is not None:
        reading = _reading(state, selector_data, scope, read, len(inputs))
        inputs, carry = _page_batches(reading, inputs, final=False)
        reading = replace(reading, children=len(inputs), carry=tuple(carry))
    elif state.item_batcher:
        inputs = _batches(state, inputs, selector_data, scope)
    # AWS gives the length of the Map's input array, none when an ItemReader reads the items
    env.history.add("MapStateStarted", {"length": 0 if state.item_reader else len(inputs)})
    concurrency, count, percentage = limits()
    map_run = None
    if state.is_distributed:
        map_run = map_run_arn(env.execution, state, env.rng)
        env.history.add("MapRunStarted", {"mapRunArn": map_run})
    key = scope_key(state.name)
    children = tuple(ChildRun(key, item, index) for index, item in enumerate(inputs))
    return FanOut(
        children,
        concurrency,
        run.at(replace(run.cursor, phase="fanout")),
        is_map=True,
        tolerated_failure_count=count,
        tolerated_failure_percentage=percentage,
        map_run_arn=map_run,
        reading=reading,
    )


def _reading(state: MapState, data: Any, scope: Scope, read: map_io.Page, items: int) -> MapReading:
    """Where the reading stands after the first of several pages: the reader's request (without its
    page) and the batcher's limits, resolved once, as the first page's were."""
    request = map_io.reader_request(state, data, scope)
    reading = MapReading(request.state, request.resource, request.payload, read.next, items, 0)
    if not state.item_batcher:
        return reading
    batcher = state.item_batcher
    return replace(
        reading,
        batched=True,
        max_items=_batch_limit(batcher, "MaxItemsPerBatch", data, scope),
        max_bytes=_batch_limit(batcher, "MaxInputBytesPerBatch", data, scope),
        batch_input=_batch_input(state, batcher.get("BatchInput"), data, scope),
    )


def _page_batches(reading: MapReading, inputs: list[Any], *, final: bool) -> tuple[list[Any], list[Any]]:
    """A page's iterations' inputs: its items, or with an ItemBatcher its batches, the open batch
    before them filled first; and (unless ``final``) the items of the batch left open."""
    if not reading.batched:
        return inputs, []
    return batching.cut(
        [*reading.carry, *inputs], reading.max_items, reading.max_bytes, reading.batch_input, final=final
    )


def map_page(
    machine: StateMachine, run: Run, answer: Any, reading: MapReading, env: Env
) -> tuple[tuple[ChildRun, ...], MapReading | None]:
    """A later page of a Distributed Map's items, as its reader answered it: the iterations it makes
    (numbered on from the earlier pages') and where the reading stands after it (None: done).

    Records nothing: AWS's history shows one MapRunStarted whatever the number of pages. Raises
    StatesError if the page is not one, or an ItemSelector fails on one of its items.
    """
    state = machine.scope(run.scope).states[run.cursor.state]
    assert isinstance(state, MapState)
    page = map_io.read_page(answer)
    scope = _scope(state, run, env)
    data = run.cursor.input if state.is_jsonata else dataflow.apply_input_path(state, run.cursor.input, scope)
    inputs = [
        _item_input(state, run, env, data, reading.items + offset, item) for offset, item in enumerate(page.items)
    ]
    inputs, carry = _page_batches(reading, inputs, final=page.next is None)
    key = scope_key(state.name)
    children = tuple(ChildRun(key, item, reading.children + offset) for offset, item in enumerate(inputs))
    if page.next is None:
        return children, None
    after = replace(
        reading,
        position=page.next,
        items=reading.items + len(page.items),
        children=reading.children + len(children),
        carry=tuple(carry),
    )
    return children, after


def map_run_arn(execution: Mapping[str, Any], state: MapState, rng: random.Random) -> str:
    """The ARN of a Distributed Map's run: the machine's ARN, the label (or state name), a unique id."""
    machine_arn = execution["StateMachine"]["Id"].replace(":stateMachine:", ":mapRun:", 1)
    return f"{machine_arn}/{state.label or state.name}:{rng.getrandbits(128):032x}"


def _jsonpath_items(state: MapState, data: Any, scope: Scope) -> list[Any]:
    items = data if state.items_path == "$" else dataflow.select(state.items_path, data, scope, "ItemsPath")
    if not isinstance(items, list):
        raise FieldError(RUNTIME, f"Map state input must be an array but was: {dataflow.to_text(items)}")
    return items


def _jsonata_items(state: MapState, scope: Scope, states: dict[str, Any]) -> list[Any]:
    if state.items is ABSENT:
        items = states["input"]
        if not isinstance(items, list):
            raise FieldError(
                QUERY_EVALUATION_ERROR, f"Map state input must be an array but was: {dataflow.to_text(items)}"
            )
        return items
    items = dataflow.evaluate_jsonata(state.items, "Items", scope, states)
    if isinstance(items, list):
        return items
    shown = (
        jsonata.expression_body(state.items) if jsonata.is_expression(state.items) else dataflow.to_text(state.items)
    )
    raise FieldError(
        QUERY_EVALUATION_ERROR,
        f"The JSONata expression '{shown}' specified for the field 'Items' "
        f"returned an unexpected result type. Expected 'array', but was '{json_type(items)}' for value: "
        f"{dataflow.to_text(items)}",
        location="Items",
    )


def _item_input(state: MapState, run: Run, env: Env, data: Any, index: int, item: Any) -> Any:
    if state.item_selector is None and state.item_selector_jsonata is ABSENT:
        return item
    scope = _scope(state, run, env, Map={"Item": {"Index": index, "Value": item}})
    if state.item_selector is not None:
        return dataflow.apply_template(state.item_selector, data, scope)
    return dataflow.evaluate_jsonata(state.item_selector_jsonata, "ItemSelector", scope, scope.states(data))


def _batches(state: MapState, inputs: list[Any], data: Any, scope: Scope) -> list[Any]:
    batcher = state.item_batcher or {}
    max_items = _batch_limit(batcher, "MaxItemsPerBatch", data, scope)
    max_bytes = _batch_limit(batcher, "MaxInputBytesPerBatch", data, scope)
    batch_input = _batch_input(state, batcher.get("BatchInput"), data, scope)
    return list(batching.batches(inputs, max_items, max_bytes, batch_input))


def _batch_limit(batcher: dict[str, Any], field: str, data: Any, scope: Scope) -> int | None:
    """MaxItemsPerBatch or MaxInputBytesPerBatch, or its Path (AWS reads "2" as 2); None: no limit."""
    value = batcher.get(field)
    if f"{field}Path" in batcher:
        value = _parse_number(dataflow.select(batcher[f"{field}Path"], data, scope, f"{field}Path"), int)
    return int(value) if is_integer(value) and value > 0 else None


def _batch_input(state: MapState, template: Any, data: Any, scope: Scope) -> Any:
    """ItemBatcher.BatchInput: a payload template (JSONPath) or JSONata template, once for every batch."""
    if template is None:
        return None
    if state.is_jsonata:
        return dataflow.evaluate_jsonata(template, "ItemBatcher/BatchInput", scope, scope.states(data))
    return dataflow.apply_template(compile_template(template), data, scope)


def _map_limits_jsonpath(state: MapState, data: Any, scope: Scope) -> tuple[int, int | None, float | None]:
    concurrency = state.max_concurrency
    if state.max_concurrency_path is not None:
        concurrency = dataflow.select(state.max_concurrency_path, data, scope, "MaxConcurrencyPath")
        if not is_integer(concurrency) or concurrency < 0:
            raise FieldError(
                RUNTIME,
                f'The MaxConcurrencyPath field refers to value "{dataflow.to_text(concurrency)}" '
                f"which is not a valid integer: {state.max_concurrency_path}",
            )
    count = state.tolerated_failure_count
    if state.tolerated_failure_count_path is not None:
        count = _tolerance_path(state.tolerated_failure_count_path, "ToleratedFailureCountPath", "integer", data, scope)
    percentage = state.tolerated_failure_percentage
    if state.tolerated_failure_percentage_path is not None:
        percentage = _tolerance_path(
            state.tolerated_failure_percentage_path, "ToleratedFailurePercentagePath", "float", data, scope
        )
    return _checked_limits(int(concurrency or 0), count, percentage)


def _tolerance_path(path: str, field: str, kind: str, data: Any, scope: Scope) -> Any:
    value = dataflow.select(path, data, scope, field)
    number = _parse_number(value, int if kind == "integer" else float)
    if number is None:
        shown = value if isinstance(value, str) else dataflow.to_text(value)
        raise FieldError(RUNTIME, f'The {field} field refers to value "{shown}" which is not a valid {kind}: {path}')
    return number


def _parse_number(value: Any, kind: type[int] | type[float]) -> int | float | None:
    """A number, or a string holding one (AWS reads "1" as 1 here), of the kind asked; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            return None
    if kind is int:
        return value if isinstance(value, int) else None
    return float(value) if isinstance(value, int | float) else None


def _map_limits_jsonata(state: MapState, scope: Scope, states: dict[str, Any]) -> tuple[int, int | None, float | None]:
    values = []
    for field, value in (
        ("MaxConcurrency", state.max_concurrency),
        ("ToleratedFailureCount", state.tolerated_failure_count),
        ("ToleratedFailurePercentage", state.tolerated_failure_percentage),
    ):
        if jsonata.is_expression(value):
            value = dataflow.evaluate_jsonata(value, field, scope, states)
        values.append(value)
    return _checked_limits(int(values[0] or 0), values[1], values[2])


def _checked_limits(concurrency: int, count: Any, percentage: Any) -> tuple[int, int | None, float | None]:
    if count is not None and count < 0:
        raise FieldError(RUNTIME, "ToleratedFailureCount cannot be negative.")
    if percentage is not None and not 0 <= percentage <= 100:
        raise FieldError(RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
    return (
        concurrency,
        None if count is None else int(count),
        None if percentage is None else float(percentage),
    )


def start_child(state: ParallelState | MapState, child: ChildRun, parent: Run, history: History) -> Run:
    """A branch or iteration about to run: records MapIterationStarted for an inline Map.

    The iterations of a Distributed Map are executions of their own: they record nothing in the
    parent's history and cannot see its variables.
    """
    distributed = isinstance(state, MapState) and state.is_distributed
    if isinstance(state, MapState) and not distributed:
        history.add("MapIterationStarted", {"index": child.index, "name": state.name})
    scope = state.branches[child.index] if isinstance(state, ParallelState) else state.processor
    outer = {} if distributed else dataflow.visible_variables(parent.variables, parent.outer)
    return Run(cursor=Cursor(state=scope.start_at, input=child.input), variables={}, outer=outer, scope=child.scope)


def end_child(state: ParallelState | MapState, child: ChildRun, outcome: str, history: History) -> int | None:
    """Record how an iteration ended ("Succeeded", "Failed" or "Aborted"); branches record nothing.

    Returns the event's id: the parent's next event links to the last such event.
    """
    if isinstance(state, MapState) and not state.is_distributed:
        return history.add(f"MapIteration{outcome}", {"index": child.index, "name": state.name}, link=False)
    return None


def exceeds_tolerance(failed: int, total: int, count: int | None, percentage: float | None) -> bool:
    """Whether ``failed`` iterations out of ``total`` break a Map's tolerance (none set: any failure)."""
    if failed == 0:
        return False
    if count is None and percentage is None:
        return True
    within_count = count is not None and failed <= count
    within_percentage = percentage is not None and total > 0 and failed * 100.0 / total <= percentage
    return not (within_count or within_percentage)


def _joined(state: ParallelState | MapState, run: Run, delivery: Delivery | None, env: Env) -> Outcome:
    prefix = "Parallel" if isinstance(state, ParallelState) else "Map"
    if isinstance(delivery, ChildFailed):
        raise StatesError(delivery.error or "", delivery.cause)
    if not isinstance(delivery, ChildrenSucceeded):
        raise TypeError(f"a {prefix} state waits for its branches, not {delivery!r}")
    if isinstance(state, MapState) and state.is_distributed and state.result_writer:
        scope = _scope(state, run, env)
        data = run.cursor.input if state.is_jsonata else dataflow.apply_input_path(state, run.cursor.input, scope)
        request = map_io.writer_request(state, data, scope, delivery.map_run_arn or "", delivery.outputs)
        return Invoke(request, run.at(replace(run.cursor, phase="writer")))
    if delivery.outputs is None:
        raise TypeError(f"the {prefix} state {state.name!r} needs its children's outputs")
    if isinstance(state, MapState) and state.is_distributed:
        env.history.add("MapRunSucceeded")
    env.history.add(f"{prefix}StateSucceeded", link=False)
    return _finish(state, run, list(delivery.outputs), env)


def _map_io_answered(machine: StateMachine, state: MapState, run: Run, delivery: Delivery | None, env: Env) -> Outcome:
    """The ItemReader read the items (fan out over them), or the ResultWriter wrote the results (finish)."""
    phase = run.cursor.phase
    if isinstance(delivery, TaskFailed):
        if phase == "reader":  # AWS starts the Map Run, then fails it with the reader's error
            env.history.add("MapStateStarted", {"length": 0})
            env.history.add("MapRunStarted", {"mapRunArn": map_run_arn(env.execution, state, env.rng)})
        raise StatesError(map_io.failure_name(phase, delivery.error), delivery.cause)
    if not isinstance(delivery, TaskSucceeded):
        raise TypeError(f"a Map's {'ItemReader' if phase == 'reader' else 'ResultWriter'} answers, not {delivery!r}")
    if phase == "reader":
        page = map_io.read_page(delivery.output)
        return _map(machine, state, run.at(replace(run.cursor, phase="enter")), env, read=page)
    env.history.add("MapRunSucceeded")
    env.history.add("MapStateSucceeded", link=False)
    return _finish(state, run, delivery.output, env)


# -- errors ----------------------------------------------------------------------------------------


def _on_error(machine: StateMachine, state: State, run: Run, failure: StatesError, env: Env) -> Outcome:
    error, cause = failure.error, failure.cause
    if isinstance(failure, FieldError):
        cause = (
            f"An error occurred while executing the state '{state.name}' "
            f"(entered at the event id #{run.cursor.entered_event_id}). {cause}"
        )
        if error == QUERY_EVALUATION_ERROR:
            details = {"error": error, "cause": cause}
            if failure.location:
                details["location"] = failure.location
            # AWS links it where the state's Entered event links, not to that event; but a Wait
            # state's Timestamp fails later, after its Entered event.
            env.history.add(
                "EvaluationFailed",
                {**details, "state": state.name},
                previous=None if isinstance(state, WaitState) else env.history.previous_of(run.cursor.entered_event_id),
            )
    if not isinstance(state, TaskState | ParallelState | MapState):
        return Fail(error, cause, run)
    retry = _retry(state.retry, run, error, env, heartbeat=failure.heartbeat)
    if retry is not None:
        return retry
    if isinstance(state, ParallelState | MapState) and error != RUNTIME:
        if isinstance(state, MapState) and state.is_distributed and run.cursor.phase in ("fanout", "reader", "writer"):
            env.history.add("MapRunFailed", _error_details(error, cause))
        env.history.add(f"{'Parallel' if isinstance(state, ParallelState) else 'Map'}StateFailed")
    catcher = next((c for c in state.catch if error_matches(c.error_equals, error, heartbeat=failure.heartbeat)), None)
    if catcher is None:
        if error != RUNTIME and machine.scope(run.scope).is_parallel_branch:
            # AWS marks the state that fails its Parallel branch as aborted; the Parallel's failure
            # event links past it, to the state's own failure.
            env.history.add(f"{state.type}StateAborted", link=False)
        return Fail(error, cause, run)
    return _caught(state, catcher, run, error, cause, env)


def _retry(retriers: tuple[Retrier, ...], run: Run, error: str, env: Env, *, heartbeat: bool) -> Outcome | None:
    attempts = list(run.cursor.attempts) or [0] * len(retriers)
    index = retrier_for(retriers, attempts, error, heartbeat=heartbeat)
    if index is None:
        return None
    delay = retry_delay(retriers[index], attempts[index], env.rng)
    attempts[index] += 1
    cursor = replace(run.cursor, phase="retry", attempts=tuple(attempts), retry_count=run.cursor.retry_count + 1)
    return Sleep(env.now + dt.timedelta(seconds=delay), run.at(cursor))


def retrier_for(
    retriers: tuple[Retrier, ...], attempts: Sequence[int], error: str, *, heartbeat: bool = False
) -> int | None:
    """The index of the retrier that retries ``error`` now, each having retried ``attempts[i]`` times;
    None when the first retrier that matches is used up, or none matches."""
    for index, retrier in enumerate(retriers):
        if error_matches(retrier.error_equals, error, heartbeat=heartbeat):
            return index if attempts[index] < retrier.max_attempts else None
    return None


def retry_delay(retrier: Retrier, attempt: int, rng: random.Random) -> float:
    """Seconds before retry number ``attempt + 1``: the backoff, capped, with FULL jitter if asked."""
    delay = retrier.interval_seconds * retrier.backoff_rate**attempt
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    if retrier.jitter_strategy == "FULL":
        delay = rng.uniform(0, delay)
    return delay


def _caught(
    state: TaskState | ParallelState | MapState,
    catcher: Catcher,
    run: Run,
    error: str,
    cause: str | None,
    env: Env,
) -> Outcome:
    error_output: dict[str, Any] = {"Error": error}
    if cause is not None:
        error_output["Cause"] = cause
    scope = _scope(state, run, env)
    if state.is_jsonata:
        states = scope.states(run.cursor.input, errorOutput=error_output)
        assigned = dataflow.evaluate_assign(catcher.assign, scope, None, states)
        output = (
            error_output
            if catcher.output is ABSENT
            else dataflow.evaluate_jsonata(catcher.output, "Output", scope, states)
        )
    else:
        assigned = dataflow.evaluate_assign(catcher.assign, scope, error_output, None)
        output = dataflow.apply_result_path(catcher.result_path, run.cursor.input, error_output)
    return _exit(state, run, output, assigned, env, catcher.next)
