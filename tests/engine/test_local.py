"""run_local: handlers, the virtual clock, errors, fan-out and the history it returns."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from orchestrator import DefinitionError, RealClock, VirtualClock, run_local

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **fields}}}


# -- handlers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "function_name",
    [
        "credit",
        "credit:$LATEST",
        "credit:7",
        "credit:prod",
        "123456789012:function:credit",
        "arn:aws:lambda:us-east-1:123456789012:function:credit",
        "arn:aws:lambda:us-east-1:123456789012:function:credit:$LATEST",
    ],
)
def test_lambda_invoke_finds_the_handler_by_function_name(function_name: str) -> None:
    definition = task(
        "arn:aws:states:::lambda:invoke",
        Parameters={"FunctionName": function_name, "Payload": {"amount.$": "$.amount"}},
    )
    result = run_local(
        definition, {"amount": 3}, handlers={"credit": lambda event, ctx: {"limit": event["amount"] * 2}}
    )
    assert result.status == "SUCCEEDED"
    assert result.output["Payload"] == {"limit": 6}
    assert result.output["StatusCode"] == 200
    assert result.output["ExecutedVersion"] == "$LATEST"


def test_direct_lambda_arn_calls_handler_with_the_effective_input() -> None:
    seen = []
    result = run_local(
        task(LAMBDA_ARN.format("double"), InputPath="$.n"),
        {"n": 21},
        handlers={"double": lambda event, ctx: seen.append(event) or event * 2},
    )
    assert (result.status, result.output, seen) == ("SUCCEEDED", 42, [21])
    types = [e["type"] for e in result.history]
    assert types[2:5] == ["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded"]


def test_other_resources_are_found_by_their_full_arn() -> None:
    arn = "arn:aws:states:::sns:publish"
    result = run_local(task(arn, Parameters={"Message": "hi"}), handlers={arn: lambda p, ctx: {"MessageId": "m-1"}})
    assert result.output == {"MessageId": "m-1"}
    scheduled = result.history[2]
    assert scheduled["type"] == "TaskScheduled"
    assert scheduled["taskScheduledEventDetails"]["resourceType"] == "sns"
    assert scheduled["taskScheduledEventDetails"]["resource"] == "publish"
    assert json.loads(scheduled["taskScheduledEventDetails"]["parameters"]) == {"Message": "hi"}


def test_handler_exception_fails_the_task_as_lambda_reports_it() -> None:
    class CreditDenied(Exception):
        pass

    def deny(event: Any, ctx: Any) -> None:
        raise CreditDenied("score too low")

    result = run_local(task(LAMBDA_ARN.format("deny")), handlers={"deny": deny})
    assert result.status == "FAILED"
    assert result.error == "CreditDenied"
    cause = json.loads(result.cause)
    assert cause["errorMessage"] == "score too low"
    assert cause["errorType"] == "CreditDenied"


def test_handler_error_attribute_names_the_error() -> None:
    class Custom(Exception):
        error = "Applicant.InvalidSSN"

    def fail(event: Any, ctx: Any) -> None:
        raise Custom("SSN must have 9 digits")

    arn = "arn:aws:states:::sns:publish"
    result = run_local(task(arn), handlers={arn: fail})
    assert (result.error, result.cause) == ("Applicant.InvalidSSN", "SSN must have 9 digits")


def test_missing_handler_fails_with_a_clear_cause() -> None:
    result = run_local(task(LAMBDA_ARN.format("nowhere")))
    assert result.status == "FAILED"
    assert result.error == "Lambda.ResourceNotFoundException"
    assert "nowhere" in result.cause


def test_handler_returning_non_json_fails_the_task_clearly() -> None:
    result = run_local(task(LAMBDA_ARN.format("bad")), handlers={"bad": lambda e, c: {1, 2}})
    assert result.status == "FAILED"
    assert "not JSON" in result.cause and "bad" in result.cause


def test_handler_cannot_change_the_executions_data() -> None:
    def mutate(event: dict, ctx: Any) -> dict:
        event["items"].append("sneaky")
        return {}

    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA_ARN.format("m"), "ResultPath": None, "End": True}},
    }
    result = run_local(definition, {"items": [1]}, handlers={"m": mutate})
    assert result.output == {"items": [1]}


# -- time ------------------------------------------------------------------------------------------


def test_waits_take_no_wall_clock_time_by_default() -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86_400 * 30, "End": True}}}
    started = time.monotonic()
    result = run_local(definition, {"x": 1})
    assert result.status == "SUCCEEDED"
    assert time.monotonic() - started < 5
    assert result.stop_date - result.start_date == dt.timedelta(days=30)


def test_a_real_clock_really_waits() -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}
    started = time.monotonic()
    assert run_local(definition, clock=RealClock()).status == "SUCCEEDED"
    assert time.monotonic() - started >= 0.9


def test_retry_backs_off_on_the_virtual_clock_then_catches() -> None:
    calls: list[int] = []

    def flaky(event: Any, ctx: Any) -> None:
        calls.append(ctx.retry_count)
        raise RuntimeError("busy")

    definition = task(
        LAMBDA_ARN.format("flaky"),
        Retry=[{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3}],
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled", "ResultPath": "$.error"}],
    )
    definition["States"]["T"].pop("End")
    definition["States"]["T"]["Next"] = "Handled"
    definition["States"]["Handled"] = {"Type": "Pass", "End": True}
    clock = VirtualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    result = run_local(definition, {"id": 7}, handlers={"flaky": flaky}, clock=clock)
    assert calls == [0, 1, 2, 3]
    assert result.status == "SUCCEEDED"
    assert result.output["id"] == 7 and result.output["error"]["Error"] == "RuntimeError"
    # waits of 2, 6 and 18 seconds
    assert result.stop_date - result.start_date == dt.timedelta(seconds=26)


def test_max_delay_caps_the_backoff() -> None:
    definition = task(
        LAMBDA_ARN.format("f"),
        Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "MaxAttempts": 3, "MaxDelaySeconds": 4}],
    )
    clock = VirtualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    result = run_local(definition, handlers={"f": lambda e, c: 1 / 0}, clock=clock)
    assert result.error == "ZeroDivisionError"
    assert result.stop_date - result.start_date == dt.timedelta(seconds=3 + 4 + 4)


def test_execution_timeout_times_out() -> None:
    definition = {
        "TimeoutSeconds": 5,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    }
    result = run_local(definition)
    assert result.status == "TIMED_OUT"
    assert result.history[-1]["type"] == "ExecutionTimedOut"


# -- callbacks ---------------------------------------------------------------------------------------


def test_wait_for_task_token_hands_the_token_to_the_handler() -> None:
    arn = "arn:aws:states:::sns:publish.waitForTaskToken"
    seen: dict[str, Any] = {}

    def approve(payload: dict, ctx: Any) -> dict:
        seen.update(payload=payload, token=ctx.token)
        return {"approved": True}

    definition = task(arn, Parameters={"Message": {"TaskToken.$": "$$.Task.Token"}})
    result = run_local(definition, handlers={arn: approve})
    assert result.output == {"approved": True}
    assert seen["token"] and seen["payload"]["Message"]["TaskToken"] == seen["token"]
    assert len(seen["token"]) >= 22  # at least 128 random bits
    # As on AWS, the call that sent the token is recorded before the answer.
    types = [e["type"] for e in result.history]
    assert types[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]


# -- Parallel and Map ----------------------------------------------------------------------------------


def test_map_respects_max_concurrency_and_keeps_item_order() -> None:
    order: list[int] = []

    def slow(event: Any, ctx: Any) -> int:
        order.append(event)
        return event * 10

    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": 2,
                "End": True,
                "ItemProcessor": {
                    "StartAt": "W",
                    "States": {
                        "W": {"Type": "Wait", "SecondsPath": "$", "Next": "T"},
                        "T": {"Type": "Task", "Resource": LAMBDA_ARN.format("slow"), "End": True},
                    },
                },
            }
        },
    }
    result = run_local(definition, [3, 1, 2, 1], handlers={"slow": slow})
    assert result.output == [30, 10, 20, 10]
    assert len([e for e in result.history if e["type"] == "MapIterationStarted"]) == 4
    # Two at a time: items 0 and 1 start at 0s; item 2 when item 1 ends (1s), item 3 when item 0 ends
    # (3s); all done at 4s. One at a time would take 7s, all at once 3s.
    assert order == [1, 3, 2, 1]
    assert result.stop_date - result.start_date == dt.timedelta(seconds=4)


def test_a_failing_branch_fails_the_parallel_and_is_caught() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Next": "Done",
                "Catch": [{"ErrorEquals": ["Boom"], "Next": "Caught"}],
                "Branches": [
                    {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 100, "End": True}}},
                    {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "why"}}},
                ],
            },
            "Done": {"Type": "Succeed"},
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    result = run_local(definition)
    assert result.output == {"Error": "Boom", "Cause": "why"}
    types = [e["type"] for e in result.history]
    assert "ParallelStateFailed" in types and "WaitStateExited" not in types


def test_a_task_failing_its_branch_is_aborted_as_aws_records_it() -> None:
    # The shape of the recorded case PARALLEL_CATCH_ERROR_OUTPUT: TaskStateAborted right after
    # TaskFailed, and ParallelStateFailed linked to TaskFailed, not to the abort.
    arn = "arn:aws:states:::sns:publish"

    def refuse(payload: Any, ctx: Any) -> Any:
        raise RuntimeError("no")

    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "Branches": [{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}}],
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    result = run_local(definition, handlers={arn: refuse})
    assert result.status == "SUCCEEDED"
    events = {e["type"]: e for e in result.history}
    assert [e["type"] for e in result.history][6:9] == ["TaskFailed", "TaskStateAborted", "ParallelStateFailed"]
    failed = events["TaskFailed"]["id"]
    assert events["TaskStateAborted"]["previousEventId"] == failed
    assert events["ParallelStateFailed"]["previousEventId"] == failed
    assert set(events["TaskStateAborted"]) == {"id", "previousEventId", "timestamp", "type"}


def test_tolerated_failures_let_a_map_succeed() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ToleratedFailureCount": 1,
                "End": True,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "C",
                    "States": {
                        "C": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
                            "Default": "S",
                        },
                        "F": {"Type": "Fail", "Error": "Two"},
                        "S": {"Type": "Succeed"},
                    },
                },
            }
        },
    }
    result = run_local(definition, [1, 2, 3])
    assert result.status == "SUCCEEDED"
    assert result.output == [1, None, 3]
    too_many = run_local(definition, [2, 2, 3])
    assert too_many.error == "States.ExceedToleratedFailureThreshold"


# -- history -----------------------------------------------------------------------------------------


def test_history_has_the_get_execution_history_shape() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}}
    history = run_local(definition, {"k": "v"}).history
    assert [e["id"] for e in history] == [1, 2, 3, 4]
    assert [e["previousEventId"] for e in history] == [0, 0, 2, 3]
    assert [e["type"] for e in history] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert json.loads(history[0]["executionStartedEventDetails"]["input"]) == {"k": "v"}
    assert history[1]["stateEnteredEventDetails"]["name"] == "A"
    assert isinstance(history[0]["timestamp"], dt.datetime)


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (
            '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Comment": "' + "x" * 1_100_000 + '"}}}',
            "1 MB",
        ),
    ],
)
def test_bad_definitions_raise_a_located_definition_error(definition: str, words: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        run_local(definition)
    assert words in str(raised.value)


def test_execution_input_that_is_not_json_is_refused() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    with pytest.raises(ValueError, match="not JSON"):
        run_local(definition, {"when": object()})


def test_oversized_state_output_fails_with_data_limit_exceeded() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Parameters": {"big.$": "States.ArrayRange(1, 1000, 1)"}, "Next": "B"},
            "B": {
                "Type": "Pass",
                "Parameters": {"a.$": "$.big", "b.$": "$.big", "c.$": "$.big", "d.$": "$.big"},
                "End": True,
            },
        },
    }
    assert run_local(definition).status == "SUCCEEDED"
    huge = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "x" * 300_000, "End": True}}}
    result = run_local(huge)
    assert result.error == "States.DataLimitExceeded"


# -- nested executions -------------------------------------------------------------------------------------

CHILD = {
    "StartAt": "Double",
    "States": {"Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "End": True}},
}


def nested(resource: str, machine: str = "arn:aws:states:us-east-1:123456789012:stateMachine:child") -> dict:
    return task(f"arn:aws:states:::states:{resource}", Parameters={"StateMachineArn": machine, "Input": {"n": 21}})


def test_a_sync2_task_runs_the_child_and_gets_its_output() -> None:
    result = run_local(nested("startExecution.sync:2"), state_machines={"child": CHILD})
    assert result.output["Output"] == {"n": 42} and result.output["Status"] == "SUCCEEDED"
    assert [e["type"] for e in result.history][2:6] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
    ]


def test_a_sync_task_gets_json_text_and_a_failing_child_fails_it() -> None:
    assert json.loads(run_local(nested("startExecution.sync"), state_machines={"child": CHILD}).output["Output"]) == {
        "n": 42
    }
    failing = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Child.Broke", "Cause": "oops"}}}
    result = run_local(nested("startExecution.sync"), state_machines={"child": failing})
    assert result.error == "States.TaskFailed" and json.loads(result.cause)["Error"] == "Child.Broke"


def test_an_unknown_child_state_machine_fails_as_step_functions_reports_it() -> None:
    result = run_local(nested("startExecution"))
    assert result.error == "StepFunctions.StateMachineDoesNotExistException"


def test_item_batcher_groups_items_and_resolves_batch_input() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "End": True,
                "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"factor.$": "$.factor", "fixed": 1}},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
            }
        },
    }
    result = run_local(definition, {"items": [1, 2, 3], "factor": 7})
    assert result.output == [
        {"Items": [1, 2], "BatchInput": {"factor": 7, "fixed": 1}},
        {"Items": [3], "BatchInput": {"factor": 7, "fixed": 1}},
    ]
