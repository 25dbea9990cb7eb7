"""The HTTP API through boto3: botocore's own parsing proves the response shapes."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Server

ROLE = "arn:aws:iam::123456789012:role/test"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:{}"
PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"done": True}, "End": True}}}


def name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def create(sfn: Any, definition: dict[str, Any] | None = None, **extra: Any) -> str:
    response = sfn.create_state_machine(
        name=extra.pop("name", name()), definition=json.dumps(definition or PASS), roleArn=ROLE, **extra
    )
    return str(response["stateMachineArn"])


def wait(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{arn} still running"
        time.sleep(0.05)


def code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def fails(call: Any, expected: str, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    assert code(raised.value) == expected, raised.value.response
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    return raised.value


# -- state machines ----------------------------------------------------------------------------------


def test_create_describe_update_list_delete_a_state_machine(sfn: Any) -> None:
    machine_name = name()
    arn = create(sfn, name=machine_name, tags=[{"key": "team", "value": "credit"}])
    assert arn.endswith(f":stateMachine:{machine_name}")
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == machine_name and described["status"] == "ACTIVE" and described["type"] == "STANDARD"
    assert json.loads(described["definition"]) == PASS
    assert described["creationDate"].year >= 2026
    changed = {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(changed))
    assert updated["revisionId"] != described["revisionId"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == changed
    assert arn in [m["stateMachineArn"] for m in _all_machines(sfn)]
    sfn.delete_state_machine(stateMachineArn=arn)
    fails(sfn.describe_state_machine, "StateMachineDoesNotExist", stateMachineArn=arn)


def _all_machines(sfn: Any) -> list[dict[str, Any]]:
    return [
        m
        for page in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2})
        for m in page["stateMachines"]
    ]


def test_create_is_idempotent_for_the_same_definition_and_refuses_another(sfn: Any) -> None:
    machine_name = name()
    first = create(sfn, name=machine_name)
    assert create(sfn, name=machine_name) == first
    fails(
        sfn.create_state_machine,
        "StateMachineAlreadyExists",
        name=machine_name,
        roleArn=ROLE,
        definition=json.dumps({"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}),
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": "bad name", "definition": json.dumps(PASS)}, "InvalidName"),
        ({"name": "ok", "definition": "{not json"}, "InvalidDefinition"),
        (
            {"name": "ok", "definition": json.dumps({"StartAt": "Missing", "States": {"A": {"Type": "Succeed"}}})},
            "InvalidDefinition",
        ),
        ({"name": "ok", "definition": json.dumps(PASS), "type": "FAST"}, "ValidationException"),
    ],
)
def test_create_refuses_bad_input(sfn: Any, kwargs: dict[str, Any], expected: str) -> None:
    fails(sfn.create_state_machine, expected, roleArn=ROLE, **kwargs)


def test_invalid_definition_message_names_the_problem_and_its_place(sfn: Any) -> None:
    error = fails(
        sfn.create_state_machine,
        "InvalidDefinition",
        name=name(),
        roleArn=ROLE,
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}),
    )
    assert "/States/A/Next" in error.response["Error"]["Message"]


def test_validate_state_machine_definition(sfn: Any) -> None:
    ok = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert ok["result"] == "OK" and ok["diagnostics"] == []
    bad = sfn.validate_state_machine_definition(
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})
    )
    assert bad["result"] == "FAIL"
    assert any(d["location"] == "/States/A/Next" and d["severity"] == "ERROR" for d in bad["diagnostics"])


@pytest.mark.parametrize("arn", ["not-an-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:nope"])
def test_describe_unknown_or_malformed_state_machine(sfn: Any, arn: str) -> None:
    fails(
        sfn.describe_state_machine,
        "InvalidArn" if arn == "not-an-arn" else "StateMachineDoesNotExist",
        stateMachineArn=arn,
    )


# -- executions --------------------------------------------------------------------------------------


def test_start_describe_history_of_an_execution(sfn: Any) -> None:
    machine = create(
        sfn,
        {
            "StartAt": "Add",
            "States": {
                "Add": {"Type": "Task", "Resource": LAMBDA.format("add"), "Next": "Done"},
                "Done": {"Type": "Pass", "End": True},
            },
        },
    )
    started = sfn.start_execution(stateMachineArn=machine, name="run-1", input='{"n": 41}')
    assert started["executionArn"].endswith(":execution:" + machine.rsplit(":", 1)[1] + ":run-1")
    described = wait(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"n": 42}
    assert json.loads(described["input"]) == {"n": 41}
    assert described["stopDate"] >= described["startDate"]
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert events[-1]["executionSucceededEventDetails"]["output"] == '{"n":42}'
    reverse = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True, maxResults=3)
    assert [e["id"] for e in reverse["events"]] == [9, 8, 7] and reverse["nextToken"]
    rest = sfn.get_execution_history(
        executionArn=started["executionArn"], reverseOrder=True, nextToken=reverse["nextToken"]
    )
    assert [e["id"] for e in rest["events"]] == [6, 5, 4, 3, 2, 1]
    without_data = sfn.get_execution_history(executionArn=started["executionArn"], includeExecutionData=False)
    assert "input" not in without_data["events"][0]["executionStartedEventDetails"]
    for_execution = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(for_execution["definition"])["StartAt"] == "Add"


def test_start_execution_name_is_idempotent_while_running(sfn: Any) -> None:
    machine = create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}})
    first = sfn.start_execution(stateMachineArn=machine, name="same", input="{}")
    again = sfn.start_execution(stateMachineArn=machine, name="same", input="{}")
    assert again["executionArn"] == first["executionArn"]
    fails(sfn.start_execution, "ExecutionAlreadyExists", stateMachineArn=machine, name="same", input='{"x": 1}')
    wait(sfn, first["executionArn"])
    fails(sfn.start_execution, "ExecutionAlreadyExists", stateMachineArn=machine, name="same", input="{}")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"input": "{oops"}, "InvalidExecutionInput"),
        ({"name": "has space"}, "InvalidName"),
        ({"input": json.dumps({"x": "a" * 262_200})}, "ValidationException"),
    ],
)
def test_start_execution_refuses_bad_input(sfn: Any, kwargs: dict[str, Any], expected: str) -> None:
    fails(sfn.start_execution, expected, stateMachineArn=create(sfn), **kwargs)


def test_start_execution_of_an_unknown_state_machine(sfn: Any) -> None:
    fails(
        sfn.start_execution,
        "StateMachineDoesNotExist",
        stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:ghost",
    )


def test_list_executions_filters_by_status_and_pages(sfn: Any) -> None:
    machine = create(
        sfn,
        {
            "StartAt": "C",
            "States": {
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Yes"}],
                    "Default": "No",
                },
                "Yes": {"Type": "Succeed"},
                "No": {"Type": "Fail", "Error": "Nope"},
            },
        },
    )
    arns = [
        sfn.start_execution(stateMachineArn=machine, input=json.dumps({"ok": i % 2 == 0}))["executionArn"]
        for i in range(5)
    ]
    for arn in arns:
        wait(sfn, arn)
    failed = sfn.list_executions(stateMachineArn=machine, statusFilter="FAILED")["executions"]
    assert sorted(e["executionArn"] for e in failed) == sorted(arns[1::2])
    pages = list(
        sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, PaginationConfig={"PageSize": 2})
    )
    listed = [e["executionArn"] for page in pages for e in page["executions"]]
    assert len(pages) == 3 and sorted(listed) == sorted(arns)
    assert listed == list(reversed(arns))  # newest first
    fails(sfn.list_executions, "ValidationException", stateMachineArn=machine, statusFilter="SLEEPING")


def test_stop_execution(sfn: Any) -> None:
    machine = create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    time.sleep(0.3)
    stopped = sfn.stop_execution(executionArn=arn, error="Operator", cause="no longer needed")
    assert stopped["stopDate"]
    described = sfn.describe_execution(executionArn=arn)
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Operator", "no longer needed")
    last = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)["events"][0]
    assert last["type"] == "ExecutionAborted"
    assert described["stopDate"] == stopped["stopDate"]
    # stopping it again changes nothing: the answer is the date it stopped, not the second call's
    time.sleep(0.05)
    again = sfn.stop_execution(executionArn=arn, error="Again", cause="a second stop")
    assert again["stopDate"] == stopped["stopDate"] == sfn.describe_execution(executionArn=arn)["stopDate"]
    assert sfn.describe_execution(executionArn=arn)["error"] == "Operator"


def test_execution_errors(sfn: Any) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:execution:ghost:nope"
    fails(sfn.describe_execution, "ExecutionDoesNotExist", executionArn=missing)
    fails(sfn.get_execution_history, "ExecutionDoesNotExist", executionArn=missing)
    fails(sfn.stop_execution, "ExecutionDoesNotExist", executionArn=missing)
    fails(sfn.describe_execution, "InvalidArn", executionArn="nope")
    fails(sfn.get_execution_history, "InvalidToken", executionArn=missing.replace("ghost", "x"), nextToken="!!")


def test_redrive_a_failed_execution(sfn: Any) -> None:
    machine = create(
        sfn, {"StartAt": "Check", "States": {"Check": {"Type": "Task", "Resource": LAMBDA.format("fail"), "End": True}}}
    )
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert wait(sfn, arn)["status"] == "FAILED"
    redriven = sfn.redrive_execution(executionArn=arn)
    assert redriven["redriveDate"]
    described = wait(sfn, arn)
    assert described["status"] == "FAILED" and described["redriveCount"] == 1
    assert (described["redriveDate"], described["redriveStatus"]) == (redriven["redriveDate"], "REDRIVABLE")
    types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert types.count("ExecutionRedriven") == 1 and types.count("TaskStateEntered") == 2
    listed = sfn.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")["executions"]
    assert [(e["executionArn"], e["redriveCount"]) for e in listed] == [(arn, 1)]
    assert sfn.list_executions(stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")["executions"] == []
    done = sfn.start_execution(stateMachineArn=create(sfn))["executionArn"]
    wait(sfn, done)
    fails(sfn.redrive_execution, "ExecutionNotRedrivable", executionArn=done)


# -- Express -----------------------------------------------------------------------------------------


def test_start_sync_execution_runs_an_express_machine(sfn: Any) -> None:
    machine = create(
        sfn,
        {"StartAt": "Add", "States": {"Add": {"Type": "Task", "Resource": LAMBDA.format("add"), "End": True}}},
        type="EXPRESS",
    )
    result = sfn.start_sync_execution(stateMachineArn=machine, input='{"n": 1}')
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"n": 2}
    assert ":express:" in result["executionArn"]
    failing = create(
        sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}, type="EXPRESS"
    )
    failed = sfn.start_sync_execution(stateMachineArn=failing)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "E", "C")
    fails(sfn.start_sync_execution, "StateMachineTypeNotSupported", stateMachineArn=create(sfn))


def test_start_execution_of_an_express_machine_runs_on_a_worker(sfn: Any) -> None:
    machine = create(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 7, "End": True}}}, type="EXPRESS")
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert ":express:" in arn
    assert json.loads(wait(sfn, arn)["output"]) == 7


# -- task tokens -------------------------------------------------------------------------------------


def test_send_task_success_and_failure(sfn: Any, server: Server) -> None:
    machine = create(
        sfn,
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                    "Parameters": {"Message": {"token.$": "$$.Task.Token"}},
                    "End": True,
                }
            },
        },
    )
    approved = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    rejected = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    tokens = _tokens(sfn, approved, rejected)
    fails(sfn.send_task_success, "InvalidOutput", taskToken=tokens[approved], output="{bad")
    sfn.send_task_heartbeat(taskToken=tokens[approved])
    sfn.send_task_success(taskToken=tokens[approved], output='{"approved": true}')
    sfn.send_task_failure(taskToken=tokens[rejected], error="Rejected", cause="too risky")
    assert json.loads(wait(sfn, approved)["output"]) == {"approved": True}
    described = wait(sfn, rejected)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Rejected", "too risky")
    fails(sfn.send_task_success, "TaskDoesNotExist", taskToken=tokens[approved], output="{}")
    fails(sfn.send_task_heartbeat, "TaskDoesNotExist", taskToken="A" * 64)
    # A token the engine could never have issued is invalid, before its output is looked at (as on AWS).
    fails(sfn.send_task_success, "InvalidToken", taskToken="no-such-token", output="not JSON")


def _tokens(sfn: Any, *executions: str) -> dict[str, str]:
    """The task token each execution waits on, read from its TaskScheduled event's parameters."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while len(found) < len(executions):
        assert time.monotonic() < deadline, "no task token appeared"
        for arn in executions:
            for event in sfn.get_execution_history(executionArn=arn)["events"]:
                if event["type"] == "TaskSubmitted":
                    scheduled = next(
                        e for e in sfn.get_execution_history(executionArn=arn)["events"] if e["type"] == "TaskScheduled"
                    )
                    found[arn] = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Message"]["token"]
        time.sleep(0.05)
    return found


# -- the protocol itself -----------------------------------------------------------------------------


def test_unknown_action_and_bad_bodies_get_aws_errors_not_500(server: Server) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    cases = [
        ({"X-Amz-Target": "AWSStepFunctions.DoSomething"}, b"{}", "UnknownOperationException"),
        ({"X-Amz-Target": "AWSStepFunctions.ListStateMachines"}, b"{not json", "SerializationException"),
        ({"X-Amz-Target": "AWSStepFunctions.ListStateMachines"}, b"[1, 2]", "SerializationException"),
        ({"X-Amz-Target": "AWSStepFunctions.DescribeExecution"}, b"{}", "ValidationException"),
        ({"X-Amz-Target": "AWSStepFunctions.DescribeExecution"}, b'{"executionArn": 5}', "SerializationException"),
        ({}, b"{}", "UnknownOperationException"),
        (
            {"X-Amz-Target": "AWSStepFunctions.CreateStateMachine"},
            b"{" + b" " * 1_200_000 + b"}",
            "RequestEntityTooLargeException",
        ),
    ]
    for extra, body, expected in cases:
        response = httpx.post(server.url, headers={**headers, **extra}, content=body)
        assert response.status_code == (413 if expected == "RequestEntityTooLargeException" else 400), response.text
        assert response.json()["__type"] == expected
        assert response.headers["x-amzn-requestid"]


def test_health_reports_database_and_broker(server: Server) -> None:
    report = httpx.get(f"{server.url}/health").json()
    assert report["status"] == "ok"
    assert report["database"]["status"] == "ok" and report["broker"]["status"] == "ok"
