"""run_local's Task deadlines: TimeoutSeconds, TimeoutSecondsPath and HeartbeatSeconds on the shared clock.

A handler takes time by moving the run's `VirtualClock` (as a slow function would take wall-clock
time); an answer after the deadline is the task's timeout, and a task left waiting for its token
times out when its deadline comes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from orchestrator import VirtualClock, run_local
from orchestrator.engine.local import task_limit
from orchestrator.engine.outcomes import TaskContext, TaskFailed, TaskRequest

START = dt.datetime(2024, 12, 3, 10, 0, tzinfo=dt.UTC)
SLOW = "arn:aws:lambda:us-east-1:123456789012:function:slow"
CHILD_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:child"
PASS_CHILD = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def takes(clock: VirtualClock, seconds: float) -> Any:
    """A handler that takes ``seconds`` of ``clock``'s time and returns its event."""

    def run(event: Any, context: TaskContext) -> Any:
        clock.sleep_until(clock.now() + dt.timedelta(seconds=seconds))
        return event

    return run


def one_task(resource: str = SLOW, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **fields}}}


def run_slow(definition: dict[str, Any], seconds: float, execution_input: Any = None) -> Any:
    clock = VirtualClock(START)
    return run_local(definition, execution_input, handlers={"slow": takes(clock, seconds)}, clock=clock)


def types(result: Any) -> list[str]:
    return [event["type"] for event in result.history]


def test_an_answer_after_timeout_seconds_is_the_tasks_timeout() -> None:
    result = run_slow(one_task(TimeoutSeconds=5), 20, {"a": 1})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Timeout", None)
    assert types(result)[-2:] == ["LambdaFunctionTimedOut", "ExecutionFailed"]
    assert result.history[-2]["lambdaFunctionTimedOutEventDetails"] == {"error": "States.Timeout"}


def test_an_answer_within_timeout_seconds_is_the_result() -> None:
    # TimeoutSeconds is how long the task may run: an answer just at the limit still counts
    result = run_slow(one_task(TimeoutSeconds=5), 5, {"a": 1})
    assert (result.status, result.output) == ("SUCCEEDED", {"a": 1})


def test_timeout_seconds_path_reads_the_limit_from_the_input_of_a_service_task() -> None:
    definition = one_task(
        "arn:aws:states:::lambda:invoke",
        TimeoutSecondsPath="$.limit",
        Parameters={"FunctionName": "slow", "Payload": {}},
    )
    assert run_slow(definition, 20, {"limit": 5}).error == "States.Timeout"
    result = run_slow(definition, 20, {"limit": 30})
    assert result.status == "SUCCEEDED"
    timed_out = run_slow(definition, 20, {"limit": 5})
    assert timed_out.history[-2]["type"] == "TaskTimedOut"
    assert timed_out.history[-2]["taskTimedOutEventDetails"] == {
        "resourceType": "lambda",
        "resource": "invoke",
        "error": "States.Timeout",
    }


def test_heartbeat_seconds_is_a_deadline_no_heartbeat_can_move() -> None:
    result = run_slow(one_task(TimeoutSeconds=60, HeartbeatSeconds=10), 20)
    # AWS records a heartbeat that ran out as States.Timeout (the recorded heartbeat cases)
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Timeout", None)
    assert types(result)[-2] == "LambdaFunctionTimedOut"


def test_a_timeout_can_be_retried_and_caught() -> None:
    clock = VirtualClock(START)
    durations = iter([20, 1])

    def sometimes_slow(event: Any, context: TaskContext) -> Any:
        return takes(clock, next(durations))(event, context)

    retry = [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    result = run_local(
        one_task(TimeoutSeconds=5, Retry=retry), {"a": 1}, handlers={"slow": sometimes_slow}, clock=clock
    )
    assert (result.status, result.output) == ("SUCCEEDED", {"a": 1})
    caught = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": SLOW,
                "TimeoutSeconds": 5,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}],
                "End": True,
            },
            "Late": {"Type": "Pass", "End": True},
        },
    }
    assert run_slow(caught, 20, {}).output == {"Error": "States.Timeout"}


def test_a_task_waiting_for_its_token_times_out_at_its_deadline() -> None:
    # The child runs, but nobody here sends the token back: only the deadline ends the wait.
    definition = one_task(
        "arn:aws:states:::states:startExecution.waitForTaskToken",
        TimeoutSeconds=30,
        Parameters={"StateMachineArn": CHILD_ARN, "Input": {"token.$": "$$.Task.Token"}},
    )
    result = run_local(definition, state_machines={"child": PASS_CHILD}, clock=VirtualClock(START))
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert types(result)[-3:] == ["TaskSubmitted", "TaskTimedOut", "ExecutionFailed"]
    assert result.stop_date - result.start_date == dt.timedelta(seconds=30)


def test_a_waiting_task_misses_its_heartbeat_first() -> None:
    definition = one_task(
        "arn:aws:states:::states:startExecution.waitForTaskToken",
        TimeoutSeconds=300,
        HeartbeatSeconds=60,
        Parameters={"StateMachineArn": CHILD_ARN, "Input": {"token.$": "$$.Task.Token"}},
    )
    result = run_local(definition, state_machines={"child": PASS_CHILD}, clock=VirtualClock(START))
    assert result.error == "States.Timeout"
    assert result.stop_date - result.start_date == dt.timedelta(seconds=60)


def heartbeat_handled(handling: str, error_equals: list[str]) -> dict[str, Any]:
    """A Task that misses its 10 s heartbeat (its handler takes 20 s), with a Retry or Catch on ``error_equals``."""
    rules = {"ErrorEquals": error_equals}
    task: dict[str, Any] = {"Type": "Task", "Resource": SLOW, "TimeoutSeconds": 60, "HeartbeatSeconds": 10}
    task["End"] = True
    if handling == "Retry":
        return {"StartAt": "T", "States": {"T": {**task, "Retry": [{**rules, "IntervalSeconds": 1, "MaxAttempts": 1}]}}}
    task["Catch"] = [{**rules, "Next": "Late"}]
    return {"StartAt": "T", "States": {"T": task, "Late": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize("error_equals", [["States.HeartbeatTimeout"], ["States.Timeout"], ["States.ALL"]])
def test_a_heartbeat_that_ran_out_is_caught_as_a_timeout_or_as_a_heartbeat_timeout(error_equals: list[str]) -> None:
    caught = run_slow(heartbeat_handled("Catch", error_equals), 20, {})
    assert (caught.status, caught.output) == ("SUCCEEDED", {"Error": "States.Timeout"})
    assert "LambdaFunctionTimedOut" in types(caught)


@pytest.mark.parametrize("error_equals", [["States.TaskFailed"], ["Lambda.Unknown"]])
def test_a_heartbeat_that_ran_out_is_not_a_task_failure(error_equals: list[str]) -> None:
    result = run_slow(heartbeat_handled("Catch", error_equals), 20, {})
    assert (result.status, result.error) == ("FAILED", "States.Timeout")


def test_a_heartbeat_that_ran_out_is_retried_on_heartbeat_timeout() -> None:
    result = run_slow(heartbeat_handled("Retry", ["States.HeartbeatTimeout"]), 20, {})
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert types(result).count("LambdaFunctionTimedOut") == 2  # the first attempt and its one retry


def test_a_waiting_task_without_a_limit_still_fails_at_once() -> None:
    definition = one_task(
        "arn:aws:states:::states:startExecution.waitForTaskToken",
        Parameters={"StateMachineArn": CHILD_ARN, "Input": {"token.$": "$$.Task.Token"}},
    )
    result = run_local(definition, state_machines={"child": PASS_CHILD}, clock=VirtualClock(START))
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.stop_date == result.start_date


def test_the_deadline_of_an_aborted_task_neither_fires_nor_moves_the_clock() -> None:
    # One branch waits with a 50 s deadline; the other fails after 1 s, which aborts the first.
    # The caught failure leads to a task nobody answers: the run ends there, at 1 s, not at 50 s.
    waiting = {
        "StartAt": "Wait for token",
        "States": {
            "Wait for token": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
                "TimeoutSeconds": 50,
                "Parameters": {"StateMachineArn": CHILD_ARN, "Input": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    failing = {
        "StartAt": "Pause",
        "States": {
            "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Fail"},
            "Fail": {"Type": "Fail", "Error": "Branch.Failed"},
        },
    }
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [waiting, failing],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Stuck"}],
                "End": True,
            },
            "Stuck": {k: v for k, v in waiting["States"]["Wait for token"].items() if k != "TimeoutSeconds"},
        },
    }
    result = run_local(definition, state_machines={"child": PASS_CHILD}, clock=VirtualClock(START))
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.stop_date - result.start_date == dt.timedelta(seconds=1)
    assert "TaskTimedOut" not in types(result)


def test_the_execution_times_out_while_a_task_waits_for_its_token() -> None:
    definition = one_task(
        "arn:aws:states:::states:startExecution.waitForTaskToken",
        Parameters={"StateMachineArn": CHILD_ARN, "Input": {"token.$": "$$.Task.Token"}},
    )
    definition["TimeoutSeconds"] = 120
    result = run_local(definition, state_machines={"child": PASS_CHILD}, clock=VirtualClock(START))
    assert (result.status, result.error) == ("TIMED_OUT", None)
    assert types(result)[-1] == "ExecutionTimedOut"
    assert result.stop_date - result.start_date == dt.timedelta(seconds=120)


def test_the_execution_times_out_when_a_handler_takes_it_past_its_timeout_seconds() -> None:
    definition = one_task()
    definition["TimeoutSeconds"] = 10
    result = run_slow(definition, 20)
    assert (result.status, types(result)[-1]) == ("TIMED_OUT", "ExecutionTimedOut")


def test_task_limit_is_the_earlier_deadline_and_the_timeout_wins_a_tie() -> None:
    def request(timeout: int | None, heartbeat: int | None) -> TaskRequest:
        return TaskRequest("T", SLOW, "lambda", "request-response", {}, timeout, heartbeat)

    at = dt.timedelta(seconds=1)
    timeout = TaskFailed("States.Timeout", None, timed_out=True)
    heartbeat = TaskFailed("States.HeartbeatTimeout", None, timed_out=True)
    assert task_limit(request(None, None), START) is None
    assert task_limit(request(5, None), START) == (START + 5 * at, timeout)
    assert task_limit(request(None, 7), START) == (START + 7 * at, heartbeat)
    assert task_limit(request(30, 7), START) == (START + 7 * at, heartbeat)
    assert task_limit(request(7, 7), START) == (START + 7 * at, timeout)
