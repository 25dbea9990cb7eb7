"""Lambda as a Task sees it through `invoke`, and Step Functions' own responses (integrations.states).

What the recorded AWS executions show: Lambda's error document (only the function's frames in
stackTrace; compact JSON through ``lambda:invoke``, spaced for a function ARN as Resource), the
Invoke response's headers, how a ``Payload`` reaches the function, ``LogType: Tail``, the "Function
not found" and "State Machine Does Not Exist" causes, and StartExecution's headers.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from typing import Any

import pytest

from orchestrator import VirtualClock, run_local
from orchestrator.engine.outcomes import TaskContext
from orchestrator.integrations import states

START = dt.datetime(2024, 12, 3, 10, 0, 5, tzinfo=dt.UTC)
INVOKE = "arn:aws:states:::lambda:invoke"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **fields}}}


def invoking(function: str = "fn", **parameters: Any) -> dict[str, Any]:
    return task(INVOKE, Parameters={"FunctionName": function, **parameters})


def helper_that_raises() -> None:
    raise ValueError("bad input")


def raising(event: Any, context: TaskContext) -> Any:
    helper_that_raises()


# -- errors ------------------------------------------------------------------------------------------


def test_the_stack_trace_starts_at_the_function() -> None:
    result = run_local(task(FUNCTION_ARN.format("fn")), handlers={"fn": raising})
    stack = json.loads(result.cause)["stackTrace"]
    assert [re.search(r", in (\w+)\n", frame).group(1) for frame in stack] == ["raising", "helper_that_raises"]
    assert not any("orchestrator/integrations" in frame for frame in stack)


def test_lambda_invoke_writes_the_error_document_compact_and_a_function_arn_spaced() -> None:
    compact = run_local(invoking(Payload={}), handlers={"fn": raising})
    spaced = run_local(task(FUNCTION_ARN.format("fn")), handlers={"fn": raising})
    assert compact.error == spaced.error == "ValueError"
    assert compact.cause.startswith('{"errorMessage":"bad input","errorType":"ValueError","requestId":"')
    assert spaced.cause.startswith('{"errorMessage": "bad input", "errorType": "ValueError", "requestId": "')
    assert json.loads(compact.cause)["stackTrace"] == json.loads(spaced.cause)["stackTrace"]


@pytest.mark.parametrize(
    ("definition", "arn"),
    [
        (invoking("nowhere"), "arn:aws:lambda:us-east-1:123456789012:function:nowhere:$LATEST"),
        (invoking("nowhere:prod"), "arn:aws:lambda:us-east-1:123456789012:function:nowhere:prod"),
        (invoking("210987654321:function:nowhere"), "arn:aws:lambda:us-east-1:210987654321:function:nowhere:$LATEST"),
        (
            invoking("arn:aws:lambda:eu-west-1:210987654321:function:nowhere:3"),
            "arn:aws:lambda:eu-west-1:210987654321:function:nowhere:3",
        ),
        (task(FUNCTION_ARN.format("nowhere")), "arn:aws:lambda:us-east-1:123456789012:function:nowhere:$LATEST"),
    ],
)
def test_a_missing_function_fails_as_lambda_reports_it(
    definition: dict[str, Any], arn: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="orchestrator.integrations.invoke"):
        result = run_local(definition, handlers={})
    assert result.error == "Lambda.ResourceNotFoundException"
    assert re.fullmatch(
        re.escape(f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; ")
        + f"Error Code: ResourceNotFoundException; Request ID: {UUID}; Proxy: null\\)",
        result.cause,
    )
    # what to do about it is in the log, not in AWS's cause
    assert "no handler named 'nowhere' is registered" in caplog.text


# -- the Invoke response ----------------------------------------------------------------------------


def echo(event: Any, context: TaskContext) -> Any:
    return event


def invoke_output(payload: Any, function: Any = echo, **parameters: Any) -> dict[str, Any]:
    clock = VirtualClock(START)
    result = run_local(invoking(Payload=payload, **parameters), handlers={"fn": function}, clock=clock)
    assert result.status == "SUCCEEDED", result.cause
    return result.output


@pytest.mark.parametrize(
    ("payload", "function", "length"),
    [({"body": "string body"}, echo, "23"), ({}, lambda e, c: "HelloWorld!", "13"), ("0.0", echo, "3")],
)
def test_the_invoke_response_has_lambdas_headers(payload: Any, function: Any, length: str) -> None:
    output = invoke_output(payload, function)
    metadata = output["SdkHttpMetadata"]
    request_id = output["SdkResponseMetadata"]["RequestId"]
    plain = metadata["HttpHeaders"]
    assert plain["Content-Length"] == length  # the payload as the function's runtime writes it
    assert plain["Date"] == "Tue, 03 Dec 2024 10:00:05 GMT"  # the clock's now
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=0", plain["X-Amzn-Trace-Id"])
    assert plain["x-amzn-RequestId"] == request_id
    assert list(plain) == sorted(plain, key=str.lower)
    assert metadata["AllHttpHeaders"] == {name: [value] for name, value in plain.items()}
    assert list(metadata["AllHttpHeaders"])[:3] == [
        "X-Amz-Executed-Version",
        "x-amzn-Remapped-Content-Length",
        "Connection",
    ]
    assert "LogResult" not in output


@pytest.mark.parametrize(
    ("payload", "event"),
    [("0.0", 0.0), ("[]", []), ('"HelloWorld"', "HelloWorld"), ("true", True), (None, {}), ("not json", "not json")],
)
def test_a_text_payload_reaches_the_function_as_the_json_it_encodes(payload: Any, event: Any) -> None:
    output = invoke_output(payload)
    assert output["Payload"] == event and type(output["Payload"]) is type(event)


def test_no_payload_at_all_reaches_the_function_as_an_empty_object() -> None:
    result = run_local(invoking(), handlers={"fn": echo})
    assert result.output["Payload"] == {}


def test_log_type_tail_returns_the_end_of_the_log() -> None:
    output = invoke_output(None, LogType="Tail")
    request_id = output["SdkResponseMetadata"]["RequestId"]
    log = base64.b64decode(output["LogResult"]).decode()
    assert log.startswith(f"START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\n")
    assert re.search(rf"^REPORT RequestId: {request_id}\tDuration: \d+\.\d\d ms", log, re.M)
    headers = output["SdkHttpMetadata"]
    assert headers["HttpHeaders"]["X-Amz-Log-Result"] == output["LogResult"]
    assert headers["AllHttpHeaders"]["X-Amz-Log-Result"] == [output["LogResult"]]
    assert "LogResult" not in invoke_output(None, LogType="None")


# -- Step Functions' own responses ----------------------------------------------------------------------

CHILD_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:child"
CHILD = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_a_missing_state_machine_fails_with_aws_cause_and_the_hint_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    definition = task("arn:aws:states:::states:startExecution", Parameters={"StateMachineArn": CHILD_ARN})
    with caplog.at_level(logging.WARNING, logger="orchestrator.local"):
        result = run_local(definition)
    assert result.error == "StepFunctions.StateMachineDoesNotExistException"
    assert re.fullmatch(
        re.escape(f"State Machine Does Not Exist: '{CHILD_ARN}' (Service: AWSStepFunctions; Status Code: 400; ")
        + f"Error Code: StateMachineDoesNotExist; Request ID: {UUID}; Proxy: null\\)",
        result.cause,
    )
    assert "state_machines=" in caplog.text


def test_start_execution_answers_with_its_body_length_and_date() -> None:
    arn = "arn:aws:states:us-east-1:111111111111:execution:statemachine_create_and_record_execution_00000002:Test"
    response = states.start_response(arn, dt.datetime(2023, 12, 6, 12, 50, 33, 598000, tzinfo=dt.UTC))
    body = f'{{"executionArn":"{arn}","startDate":1.701867033598E9}}'
    headers = response["SdkHttpMetadata"]["HttpHeaders"]
    assert headers["Content-Length"] == str(len(body))
    assert headers["Date"] == "Wed, 06 Dec 2023 12:50:33 GMT"
    assert response["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Length"] == [str(len(body))]
    # a whole second has no fraction: Java writes 1.701867033E9
    whole = states.start_response(arn, dt.datetime(2023, 12, 6, 12, 50, 33, tzinfo=dt.UTC))
    assert whole["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == str(len(body) - 3)


def test_a_sync_task_gets_the_childs_input_and_output_as_compact_json_text() -> None:
    definition = task(
        "arn:aws:states:::states:startExecution.sync",
        Parameters={"StateMachineArn": CHILD_ARN, "Input": {"a": 1, "b": [1, 2]}},
    )
    output = run_local(definition, state_machines={"child": CHILD}).output
    assert (output["Input"], output["Output"]) == ('{"a":1,"b":[1,2]}', '{"a":1,"b":[1,2]}')
