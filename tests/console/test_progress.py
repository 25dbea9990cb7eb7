"""console.progress: steps, lanes and statuses read from real histories (run_local's and AWS's)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator import run_local
from orchestrator.console import progress
from orchestrator.console.progress import STATUSES, UNKNOWN_TIME, Step
from tests.conformance.corpus import corpus_dir

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
ACTIVITY_ARN = "arn:aws:states:us-east-1:123456789012:activity:review"
CALLBACK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"

History = list[dict[str, Any]]


def history(definition: dict[str, Any], input: Any = None, **handlers: Callable[..., Any]) -> History:
    return run_local(definition, input, handlers=handlers).history


def machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def lambda_task(function: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA_ARN.format(function), **fields}


def rows(events: History) -> list[tuple[str, str, str]]:
    return [(step.lane, step.name, step.status) for step in progress.steps(events)]


def only(events: History, name: str) -> Step:
    (step,) = [s for s in progress.steps(events) if s.name == name]
    return step


def only_in(events: History, lane: str) -> Step:
    (step,) = [s for s in progress.steps(events) if s.lane == lane]
    return step


def until(events: History, event_type: str) -> History:
    """The history as it stood before the first event of ``event_type``: the execution still running."""
    end = next(i for i, e in enumerate(events) if e["type"] == event_type)
    return events[:end]


def aborted(events: History) -> History:
    """``events`` followed by an ExecutionAborted, as StopExecution records it (linked to the last event)."""
    last = events[-1]
    stop = {
        "id": last["id"] + 1,
        "previousEventId": last["id"],
        "timestamp": last["timestamp"] + dt.timedelta(seconds=1),
        "type": "ExecutionAborted",
        "executionAbortedEventDetails": {"error": "Stopped", "cause": "by hand"},
    }
    return [*events, stop]


def fails(event: Any, context: Any) -> Any:
    raise ValueError("no such customer")


def echo(event: Any, context: Any) -> Any:
    return event


# -- lanes -------------------------------------------------------------------------------------------


def test_parallel_branches_are_lanes_numbered_in_order_of_appearance() -> None:
    definition = machine(
        P={
            "Type": "Parallel",
            "End": True,
            "Branches": [
                machine(A={"Type": "Pass", "Next": "B"}, B=lambda_task("echo", End=True)),
                machine(C={"Type": "Pass", "End": True}),
            ],
        }
    )
    events = history(definition, echo=echo)

    assert rows(events) == [
        ("", "P", "succeeded"),
        ("P/0", "A", "succeeded"),
        ("P/0", "B", "succeeded"),
        ("P/1", "C", "succeeded"),
    ]
    steps = {s.name: s for s in progress.steps(events)}
    assert steps["B"].type == "Task"
    assert steps["B"].resource == LAMBDA_ARN.format("echo")
    assert steps["P"].type == "Parallel"
    # Every event but the execution's own belongs to exactly one step.
    owned = sorted(i for s in steps.values() for i in s.event_ids)
    assert owned == [e["id"] for e in events if not e["type"].startswith("Execution")]


def test_a_map_inside_a_parallel_has_nested_lanes() -> None:
    inner = {
        "Type": "Map",
        "End": True,
        "ItemProcessor": machine(X={"Type": "Pass", "End": True}),
    }
    definition = machine(
        P={"Type": "Parallel", "End": True, "Branches": [machine(Q={"Type": "Pass", "End": True}), machine(M=inner)]}
    )
    events = history(definition, [1, 2])

    assert sorted(rows(events)) == [
        ("", "P", "succeeded"),
        ("P/0", "Q", "succeeded"),
        ("P/1", "M", "succeeded"),
        ("P/1 > M#0", "X", "succeeded"),
        ("P/1 > M#1", "X", "succeeded"),
    ]
    assert [i.lane for i in progress.map_iterations(events, "M")] == ["P/1 > M#0", "P/1 > M#1"]
    assert progress.state_statuses(events, "P/1 > M#1") == {
        "P": "succeeded",
        "Q": "succeeded",
        "M": "succeeded",
        "X": "succeeded",
    }
    assert progress.state_statuses(events, "P/0") == progress.state_statuses(events)


def test_a_state_entered_twice_in_a_loop_is_two_steps() -> None:
    definition = machine(
        Count={"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Enough?"},
        **{
            "Enough?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": 2, "Next": "Count"}],
                "Default": "Done",
            }
        },
        Done={"Type": "Succeed"},
    )
    events = history(definition, {"n": 0})

    counts = [s for s in progress.steps(events) if s.name == "Count"]
    assert [(s.input, s.output) for s in counts] == [('{"n":0}', '{"n":1}'), ('{"n":1}', '{"n":2}')]
    assert progress.state_statuses(events) == {"Count": "succeeded", "Enough?": "succeeded", "Done": "succeeded"}


# -- Map ---------------------------------------------------------------------------------------------


def test_an_inline_map_with_a_failing_iteration() -> None:
    definition = machine(
        M={
            "Type": "Map",
            "ItemsPath": "$.items",
            "End": True,
            "ItemProcessor": machine(
                X={
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "check", "Payload.$": "$"},
                    "End": True,
                }
            ),
        }
    )

    def check(item: Any, context: Any) -> Any:
        if item == 2:
            raise ValueError("two is not allowed")
        return item

    events = history(definition, {"items": [1, 2, 3]}, check=check)

    assert rows(events) == [
        ("", "M", "failed"),
        ("M#0", "X", "succeeded"),
        ("M#1", "X", "failed"),
        ("M#2", "X", "cancelled"),  # aborted when its sibling failed the Map
    ]
    assert [(i.index, i.status, i.lane) for i in progress.map_iterations(events, "M")] == [
        (0, "succeeded", "M#0"),
        (1, "failed", "M#1"),
        (2, "cancelled", "M#2"),
    ]
    assert progress.state_statuses(events) == {"M": "failed", "X": "failed"}
    assert progress.state_statuses(events, "M#0") == {"M": "failed", "X": "succeeded"}
    assert progress.state_statuses(events, "M#2") == {"M": "failed", "X": "cancelled"}
    assert only_in(events, "M#1").resource == "lambda:invoke"
    found = progress.failure(events)
    assert found is not None
    assert (found.status, found.error, found.state, found.lane) == ("FAILED", "ValueError", "X", "M#1")
    assert progress.map_iterations(events, "Nope") == []


def test_a_fail_state_inside_a_caught_map() -> None:
    definition = machine(
        M={
            "Type": "Map",
            "End": True,
            "ItemProcessor": machine(X={"Type": "Fail", "Error": "Bad.Item", "Cause": "item 0"}),
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Give up"}],
        },
        **{"Give up": {"Type": "Fail", "Error": "Gave.Up", "Cause": "after the Map"}},
    )
    events = history(definition, [1])

    assert rows(events) == [("", "M", "caught-error"), ("M#0", "X", "failed"), ("", "Give up", "failed")]
    assert (only(events, "M").error, only(events, "M").cause) == ("Bad.Item", "item 0")
    found = progress.failure(events)
    assert found is not None
    assert (found.error, found.cause, found.state, found.lane) == ("Gave.Up", "after the Map", "Give up", "")


def test_an_iteration_of_a_map_can_wait_for_its_token() -> None:
    definition = machine(
        M={
            "Type": "Map",
            "End": True,
            "ItemProcessor": machine(
                Ask={
                    "Type": "Task",
                    "Resource": CALLBACK,
                    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                    "End": True,
                }
            ),
        }
    )
    done = run_local(definition, [1, 2], handlers={CALLBACK: echo}).history
    # Given the first iteration answered and the second still waiting on its token
    second_answer = [i for i, e in enumerate(done) if e["type"] == "TaskSucceeded"][1]
    events = done[:second_answer]

    assert rows(events) == [("", "M", "running"), ("M#0", "Ask", "succeeded"), ("M#1", "Ask", "waiting")]
    assert progress.state_statuses(events) == {"M": "running", "Ask": "waiting"}
    assert progress.state_statuses(events, "M#0") == {"M": "running", "Ask": "succeeded"}
    assert [i.status for i in progress.map_iterations(events, "M")] == ["succeeded", "running"]

    # When the execution is stopped there
    stopped = aborted(events)
    assert rows(stopped) == [("", "M", "cancelled"), ("M#0", "Ask", "succeeded"), ("M#1", "Ask", "cancelled")]
    assert [i.status for i in progress.map_iterations(stopped, "M")] == ["succeeded", "cancelled"]


# -- Retry and Catch ---------------------------------------------------------------------------------


def test_retry_then_success_records_every_attempt() -> None:
    calls: list[int] = []

    def flaky(event: Any, context: Any) -> Any:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("try again")
        return {"tries": len(calls)}

    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 2}]
    events = history(machine(T=lambda_task("flaky", Retry=retry, End=True)), flaky=flaky)

    step = only(events, "T")
    assert (step.status, step.error, step.output) == ("succeeded", None, '{"tries":3}')
    assert [(a.failed, a.error) for a in step.attempts] == [
        (True, "RuntimeError"),
        (True, "RuntimeError"),
        (False, None),
    ]
    first, second, third = step.attempts
    assert first.ended is not None and second.ended is not None
    # The gaps between attempts are the Retry backoff (a virtual clock: exactly).
    assert second.started - first.ended == dt.timedelta(seconds=2)
    assert third.started - second.ended == dt.timedelta(seconds=4)
    assert step.exited is not None and step.exited - step.entered == dt.timedelta(seconds=6)
    assert progress.failure(events) is None


def test_retry_then_catch_is_a_caught_error() -> None:
    definition = machine(
        T=lambda_task(
            "fails",
            Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handle"}],
            End=True,
        ),
        Handle={"Type": "Pass", "End": True},
    )
    events = history(definition, fails=fails)

    assert rows(events) == [("", "T", "caught-error"), ("", "Handle", "succeeded")]
    step = only(events, "T")
    assert step.error == "ValueError"
    assert step.cause is not None and "no such customer" in step.cause
    assert len(step.attempts) == 2 and all(a.failed for a in step.attempts)
    assert progress.state_statuses(events) == {"T": "caught-error", "Handle": "succeeded"}
    assert progress.failure(events) is None


def test_an_uncaught_failure_fails_the_state_and_names_it_in_the_banner() -> None:
    definition = machine(First={"Type": "Pass", "Next": "Charge"}, Charge=lambda_task("fails", End=True))
    events = history(definition, fails=fails)

    assert rows(events) == [("", "First", "succeeded"), ("", "Charge", "failed")]
    assert only(events, "Charge").error == "ValueError"
    assert only(events, "Charge").exited is not None
    found = progress.failure(events)
    assert found is not None
    assert (found.status, found.error, found.state, found.lane) == ("FAILED", "ValueError", "Charge", "")
    assert found.cause is not None and "no such customer" in found.cause


def test_a_failing_branch_fails_the_parallel_and_cancels_its_sibling() -> None:
    definition = machine(
        P={
            "Type": "Parallel",
            "End": True,
            "Branches": [
                machine(Sleep={"Type": "Wait", "Seconds": 10, "End": True}),
                machine(Charge=lambda_task("fails", End=True)),
            ],
        }
    )
    events = history(definition, fails=fails)

    assert rows(events) == [("", "P", "failed"), ("P/0", "Sleep", "cancelled"), ("P/1", "Charge", "failed")]
    assert only(events, "P").error == "ValueError"
    found = progress.failure(events)
    assert found is not None and (found.state, found.lane) == ("Charge", "P/1")


# -- waiting, aborted, timed out ---------------------------------------------------------------------


def test_a_task_waiting_for_its_token_is_waiting() -> None:
    definition = machine(
        Ask={
            "Type": "Task",
            "Resource": CALLBACK,
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    )
    done = run_local(definition, handlers={CALLBACK: echo}).history
    # Given the history as it stood after the message was sent and before anyone answered
    events = until(done, "TaskSucceeded")

    step = only(events, "Ask")
    assert (step.status, step.waiting_token, step.exited) == ("waiting", True, None)
    assert step.resource == "sqs:sendMessage.waitForTaskToken"
    assert len(step.attempts) == 1 and step.attempts[0].ended is None
    assert progress.state_statuses(events) == {"Ask": "waiting"}
    assert progress.failure(events) is None
    assert progress.elapsed(events) == (events[0]["timestamp"], None)
    # Before the message went out, it is only running.
    assert only(until(done, "TaskSubmitted"), "Ask").status == "running"


def test_a_task_waiting_for_an_activity_worker_is_waiting() -> None:
    definition = machine(Review={"Type": "Task", "Resource": ACTIVITY_ARN, "End": True})
    done = run_local(definition, handlers={ACTIVITY_ARN: echo}).history
    events = until(done, "ActivitySucceeded")

    step = only(events, "Review")
    assert (step.status, step.resource) == ("waiting", ACTIVITY_ARN)
    assert only(done, "Review").status == "succeeded"


def test_an_aborted_execution_cancels_the_step_in_progress() -> None:
    definition = machine(First={"Type": "Pass", "Next": "Sleep"}, Sleep={"Type": "Wait", "Seconds": 60, "End": True})
    events = aborted(until(history(definition), "WaitStateExited"))

    assert rows(events) == [("", "First", "succeeded"), ("", "Sleep", "cancelled")]
    assert only(events, "Sleep").exited == events[-1]["timestamp"]
    found = progress.failure(events)
    assert found is not None
    assert (found.status, found.error, found.cause, found.state) == ("ABORTED", "Stopped", "by hand", "Sleep")
    assert progress.elapsed(events) == (events[0]["timestamp"], events[-1]["timestamp"])


def test_a_timed_out_execution_cancels_the_step_in_progress() -> None:
    definition = {"TimeoutSeconds": 5, **machine(Sleep={"Type": "Wait", "Seconds": 60, "End": True})}
    events = history(definition)

    step = only(events, "Sleep")
    assert step.status == "cancelled"
    assert step.exited is not None and step.exited - step.entered == dt.timedelta(seconds=5)
    found = progress.failure(events)
    assert found is not None and (found.status, found.state) == ("TIMED_OUT", "Sleep")


def test_a_redriven_execution_keeps_the_old_failure_and_runs_the_state_again() -> None:
    definition = machine(First={"Type": "Pass", "Next": "Charge"}, Charge=lambda_task("fails", End=True))
    failed = history(definition, fails=fails)
    again = [e for e in failed if e["type"] in ("TaskStateEntered", "LambdaFunctionScheduled")]
    # Given a redrive that re-entered Charge, whose new attempt is under way
    last, at = failed[-1]["id"], failed[-1]["timestamp"] + dt.timedelta(minutes=5)
    redrive = {"id": last + 1, "previousEventId": last, "timestamp": at, "type": "ExecutionRedriven"}
    rerun = [dict(event, id=last + 2 + n, previousEventId=last + 1 + n, timestamp=at) for n, event in enumerate(again)]
    events = [*failed, redrive, *rerun]

    assert rows(events) == [("", "First", "succeeded"), ("", "Charge", "failed"), ("", "Charge", "running")]
    assert progress.state_statuses(events) == {"First": "succeeded", "Charge": "running"}
    assert progress.failure(events) is None
    assert progress.elapsed(events) == (failed[0]["timestamp"], None)


# -- odd input ---------------------------------------------------------------------------------------


def test_timestamps_may_be_iso_text_or_placeholders() -> None:
    events = history(machine(T=lambda_task("echo", End=True)), {"a": 1}, echo=echo)
    as_text = [dict(e, timestamp=e["timestamp"].isoformat()) for e in events]
    masked = [dict(e, timestamp="timestamp") for e in events]

    assert progress.steps(as_text) == progress.steps(events)
    assert only(masked, "T").entered == UNKNOWN_TIME
    assert only(masked, "T").status == "succeeded"
    assert progress.elapsed(masked) == (UNKNOWN_TIME, UNKNOWN_TIME)
    assert progress.steps([]) == []
    assert progress.elapsed([]) == (UNKNOWN_TIME, None)


# -- AWS's recorded histories ------------------------------------------------------------------------


def _recorded_cases() -> list[Path]:
    paths = sorted((corpus_dir() / "cases").glob("*.json"))
    return [p for p in paths if isinstance((json.loads(p.read_text()).get("recorded") or {}).get("history"), list)]


@pytest.mark.parametrize("path", _recorded_cases(), ids=lambda p: p.stem)
def test_recorded_aws_histories_read(path: Path) -> None:
    case = json.loads(path.read_text())
    events = case["recorded"]["history"]

    steps = progress.steps(events)
    statuses = progress.state_statuses(events)

    assert all(s.status in STATUSES for s in steps)
    assert set(statuses) == {s.name for s in steps}
    if case["expected"]["status"] == "SUCCEEDED":
        assert [s.name for s in steps if s.lane == "" and s.status == "failed"] == []
        assert progress.failure(events) is None
    else:
        found = progress.failure(events)
        assert found is not None and found.status == case["expected"]["status"]
