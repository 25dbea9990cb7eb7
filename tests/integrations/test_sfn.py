"""aws-sdk:sfn (Step Functions' own API from a Task): in memory through run_local, on the Service of an
embedded home (the durable code path, without workers), and once through the durable runtime (real
workers on PostgreSQL and Redis): a parent starts a child that runs to its end, and a sendTaskSuccess
resumes another execution waiting on its token."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator import VirtualClock, config, run_local
from orchestrator.engine.outcomes import TaskContext, TaskFailed, TaskRequest, TaskSucceeded
from orchestrator.integrations import sfn
from orchestrator.integrations.invoke import invoke
from orchestrator.service import Service
from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import (  # noqa: F401 - the fixtures
    CALLBACK,
    CALLBACK_PARAMETERS,
    Cluster,
    cluster_factory,
    database_url,
    redis_cluster,
)

SDK = "arn:aws:states:::aws-sdk:sfn:{}"
CHILD_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:child"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SDK_CAUSE = re.compile(
    rf"^(?P<message>.*) \(Service: Sfn, Status Code: 400, Request ID: {UUID}\) \(SDK Attempt Count: 1\)$"
)
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")

ECHO_CHILD = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
FAILING_CHILD = {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "Child.Failed", "Cause": "as asked"}}}


def task(action: str, parameters: Any, **state: Any) -> dict[str, Any]:
    """A one-Task state machine calling aws-sdk:sfn:<action> (``state`` adds fields to the Task)."""
    body: dict[str, Any] = {"Type": "Task", "Resource": SDK.format(action), "Parameters": parameters, **state}
    if "Next" not in body:
        body["End"] = True
    return {"StartAt": "Call", "States": {"Call": body}}


def steps(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """States run one after the other, each keeping its result under its own name."""
    machine: dict[str, Any] = {"StartAt": states[0][0], "States": {}}
    for index, (name, body) in enumerate(states):
        body = {"ResultPath": f"$.{name}", **body}
        if index + 1 < len(states):
            body["Next"] = states[index + 1][0]
        else:
            body["End"] = True
        machine["States"][name] = body
    return machine


def sdk(action: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": SDK.format(action), "Parameters": parameters, **fields}


def sdk_message(cause: str | None) -> str:
    """The service's message inside the SDK's cause (which must have the SDK's form)."""
    matched = SDK_CAUSE.match(cause or "")
    assert matched, cause
    return matched["message"]


# -- run_local: startExecution --------------------------------------------------------------------------------


def test_start_execution_runs_the_child_in_memory_and_answers_in_the_sdk_shape() -> None:
    parent = steps(
        ("Start", sdk("startExecution", {"StateMachineArn": CHILD_ARN, "Input.$": "$.order", "Name": "first"})),
        ("Look", sdk("describeExecution", {"ExecutionArn.$": "$.Start.ExecutionArn"})),
    )
    result = run_local(parent, {"order": {"id": 7, "note": "caf\u00e9"}}, state_machines={"child": ECHO_CHILD})
    assert result.status == "SUCCEEDED", result.cause
    started, looked = result.output["Start"], result.output["Look"]
    assert set(started) == {"ExecutionArn", "StartDate"}
    assert started["ExecutionArn"] == "arn:aws:states:us-east-1:123456789012:execution:child:first"
    assert INSTANT.match(started["StartDate"]), started
    # An object given for Input was serialised (AWS's implicit serialisation); the child got the object.
    assert json.loads(looked["Input"]) == {"id": 7, "note": "caf\u00e9"}
    assert looked["Output"] == looked["Input"] == '{"id":7,"note":"caf\u00e9"}'
    assert looked["Status"] == "SUCCEEDED"
    assert (looked["Name"], looked["StateMachineArn"]) == ("first", CHILD_ARN)
    assert looked["InputDetails"] == looked["OutputDetails"] == {"Included": True}
    assert looked["StartDate"] == started["StartDate"] and INSTANT.match(looked["StopDate"])


def test_input_may_be_json_text_and_bad_text_is_refused_as_aws_does() -> None:
    good = run_local(
        steps(
            ("Start", sdk("startExecution", {"StateMachineArn": CHILD_ARN, "Input": '{"a": [1, 2]}'})),
            ("Look", sdk("describeExecution", {"ExecutionArn.$": "$.Start.ExecutionArn"})),
        ),
        state_machines={"child": ECHO_CHILD},
    )
    assert good.status == "SUCCEEDED", good.cause
    assert json.loads(good.output["Look"]["Output"]) == {"a": [1, 2]}
    bad = run_local(
        task("startExecution", {"StateMachineArn": CHILD_ARN, "Input": "{oops"}), state_machines={"child": ECHO_CHILD}
    )
    assert bad.error == "Sfn.InvalidExecutionInputException"
    assert sdk_message(bad.cause).startswith("Invalid State Machine Execution Input: '")


def test_a_state_machine_run_local_was_not_given_does_not_exist() -> None:
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:elsewhere"
    result = run_local(task("startExecution", {"StateMachineArn": missing}), state_machines={"child": ECHO_CHILD})
    assert (result.status, result.error) == ("FAILED", "Sfn.StateMachineDoesNotExistException")
    assert sdk_message(result.cause) == f"State Machine Does Not Exist: '{missing}'"


def test_a_name_is_used_once_and_the_refusal_can_be_caught() -> None:
    start = {"StateMachineArn": CHILD_ARN, "Name": "once"}
    parent = steps(
        ("First", sdk("startExecution", start)),
        (
            "Again",
            sdk(
                "startExecution",
                start,
                Catch=[
                    {"ErrorEquals": ["Sfn.ExecutionAlreadyExistsException"], "ResultPath": "$.refused", "Next": "Done"}
                ],
            ),
        ),
    )
    parent["States"]["Again"].pop("End")
    parent["States"]["Again"]["Next"] = "Done"
    parent["States"]["Done"] = {"Type": "Succeed"}
    result = run_local(parent, state_machines={"child": ECHO_CHILD})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["refused"]["Error"] == "Sfn.ExecutionAlreadyExistsException"
    assert sdk_message(result.output["refused"]["Cause"]) == (
        "Execution Already Exists: 'arn:aws:states:us-east-1:123456789012:execution:child:once'"
    )


def test_start_sync_execution_runs_the_child_and_returns_how_it_ended() -> None:
    result = run_local(
        task("startSyncExecution", {"StateMachineArn": CHILD_ARN, "Input": {"x": 1}}),
        state_machines={"child": FAILING_CHILD},
    )
    assert result.status == "SUCCEEDED", result.cause
    ended = result.output
    assert (ended["Status"], ended["Error"], ended["Cause"]) == ("FAILED", "Child.Failed", "as asked")
    assert ":express:child:" in ended["ExecutionArn"]
    assert ended["BillingDetails"]["BilledDurationInMilliseconds"] >= 100
    assert "Output" not in ended


# -- run_local: the other actions ------------------------------------------------------------------------------


def test_list_describe_and_stop_see_what_this_run_started_and_was_given() -> None:
    parent = steps(
        ("One", sdk("startExecution", {"StateMachineArn": CHILD_ARN, "Name": "one"})),
        ("Two", sdk("startExecution", {"StateMachineArn": CHILD_ARN, "Name": "two"})),
        ("Page", sdk("listExecutions", {"StateMachineArn": CHILD_ARN, "MaxResults": 1})),
        ("Rest", sdk("listExecutions", {"StateMachineArn": CHILD_ARN, "NextToken.$": "$.Page.NextToken"})),
        ("Failed", sdk("listExecutions", {"StateMachineArn": CHILD_ARN, "StatusFilter": "FAILED"})),
        ("Stop", sdk("stopExecution", {"ExecutionArn.$": "$.One.ExecutionArn", "Error": "E"})),
        ("Machine", sdk("describeStateMachine", {"StateMachineArn": CHILD_ARN})),
        ("Machines", sdk("listStateMachines", {})),
    )
    result = run_local(parent, state_machines={"child": ECHO_CHILD})
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert [e["Name"] for e in out["Page"]["Executions"]] == ["two"]  # newest first
    assert [e["Name"] for e in out["Rest"]["Executions"]] == ["one"] and "NextToken" not in out["Rest"]
    assert set(out["Page"]["Executions"][0]) == {
        "ExecutionArn", "StateMachineArn", "Name", "Status", "StartDate", "StopDate",
    }  # fmt: skip
    assert out["Failed"] == {"Executions": []}
    assert INSTANT.match(out["Stop"]["StopDate"])
    assert json.loads(out["Machine"]["Definition"]) == ECHO_CHILD
    assert (out["Machine"]["Name"], out["Machine"]["Status"]) == ("child", "ACTIVE")
    assert out["Machine"]["LoggingConfiguration"] == {"Level": "OFF", "IncludeExecutionData": False}
    assert [m["StateMachineArn"] for m in out["Machines"]["StateMachines"]] == [CHILD_ARN]


def test_get_execution_history_pages_reverses_and_leaves_out_data_as_asked() -> None:
    parent = steps(
        ("Start", sdk("startExecution", {"StateMachineArn": CHILD_ARN, "Input": {"n": 1}})),
        ("First", sdk("getExecutionHistory", {"ExecutionArn.$": "$.Start.ExecutionArn", "MaxResults": 3})),
        ("Rest", sdk("getExecutionHistory", {"ExecutionArn.$": "$.Start.ExecutionArn",
                                             "NextToken.$": "$.First.NextToken"})),
        ("Newest", sdk("getExecutionHistory", {"ExecutionArn.$": "$.Start.ExecutionArn", "ReverseOrder": True,
                                              "IncludeExecutionData": False, "MaxResults": 1})),
    )  # fmt: skip
    result = run_local(parent, state_machines={"child": ECHO_CHILD})
    assert result.status == "SUCCEEDED", result.cause
    first, rest, newest = (result.output[key] for key in ("First", "Rest", "Newest"))
    events = first["Events"] + rest["Events"]
    assert [e["Type"] for e in events] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    # (the first state's Entered event links to 0, as on AWS)
    assert [(e["Id"], e["PreviousEventId"]) for e in events] == [(1, 0), (2, 0), (3, 2), (4, 3)]
    assert all(INSTANT.match(e["Timestamp"]) for e in events)
    assert events[0]["ExecutionStartedEventDetails"]["Input"] == '{"n":1}'
    assert "NextToken" in first and "NextToken" not in rest
    assert [e["Type"] for e in newest["Events"]] == ["ExecutionSucceeded"]
    assert "Output" not in newest["Events"][0]["ExecutionSucceededEventDetails"]


# Tokens a Task could send instead of the one it was given: the old unsigned form (base64 of the
# offset), a bare offset, another offset under the real signature, the signature altered, and a
# real token of another list (an execution's history).
FORGED_PAGE_TOKENS: dict[str, dict[str, str]] = {
    "base64 of an offset": {"NextToken": "MQ=="},
    "a bare offset": {"NextToken": "1"},
    "a negative offset": {"NextToken": "-1"},
    "another offset, the real signature": {
        "NextToken.$": "States.Format('0.{}', States.ArrayGetItem(States.StringSplit($.Page.NextToken, '.'), 1))"
    },
    "the signature altered": {"NextToken.$": "States.Format('{}0', $.Page.NextToken)"},
    "a token of another list": {"NextToken.$": "$.History.NextToken"},
}


@pytest.mark.parametrize("forged", FORGED_PAGE_TOKENS.values(), ids=FORGED_PAGE_TOKENS.keys())
def test_a_page_token_this_run_did_not_issue_for_the_list_is_invalid(forged: dict[str, str]) -> None:
    # Given a run with two executions of the child, and real page tokens of two lists
    first = {"StateMachineArn": CHILD_ARN, "MaxResults": 1}
    parent = steps(
        ("One", sdk("startExecution", {"StateMachineArn": CHILD_ARN, "Name": "one"})),
        ("Two", sdk("startExecution", {"StateMachineArn": CHILD_ARN, "Name": "two"})),
        ("Page", sdk("listExecutions", first)),
        ("History", sdk("getExecutionHistory", {"ExecutionArn.$": "$.One.ExecutionArn", "MaxResults": 1})),
        ("Next", sdk("listExecutions", {"StateMachineArn": CHILD_ARN, **forged})),
    )
    # When a Task pages on with a token it made up
    result = run_local(parent, state_machines={"child": ECHO_CHILD})
    # Then the Task fails as AWS's SDK reports an InvalidToken, and no page is read at an unchecked offset
    assert (result.status, result.error) == ("FAILED", "Sfn.InvalidTokenException"), result.cause
    assert sdk_message(result.cause) == "Invalid Token: 'The nextToken is not one this service issued'"


def test_get_execution_history_takes_booleans_only_for_its_flags() -> None:
    result = run_local(task("getExecutionHistory", {"ExecutionArn": "x", "ReverseOrder": "yes"}))
    assert result.error == "States.Runtime" and "ReverseOrder must be a boolean" in result.cause


def test_an_execution_this_run_did_not_start_does_not_exist() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:child:ghost"
    for action in ("describeExecution", "stopExecution"):
        result = run_local(task(action, {"ExecutionArn": arn}))
        assert result.error == "Sfn.ExecutionDoesNotExistException", action
        assert sdk_message(result.cause) == f"Execution Does Not Exist: '{arn}'"


# -- run_local: task tokens -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, parameters",
    [
        ("sendTaskSuccess", {"TaskToken": "NoSuchTaskToken", "Output": "ParameterOutput"}),
        ("sendTaskFailure", {"TaskToken": "NoSuchTaskToken", "Error": "E"}),
        ("sendTaskHeartbeat", {"TaskToken": "NoSuchTaskToken"}),
    ],
)
def test_a_token_nobody_issued_is_invalid_as_aws_says(action: str, parameters: dict[str, Any]) -> None:
    result = run_local(task(action, parameters))
    assert (result.status, result.error) == ("FAILED", "Sfn.InvalidTokenException")
    assert sdk_message(result.cause) == "Invalid Token: 'Invalid token'"


def waiting_parent(resource: str) -> dict[str, Any]:
    """A parent whose Task starts the child with its task token and waits for the answer."""
    body = {
        "Type": "Task",
        "Resource": resource,
        "Parameters": {"StateMachineArn": CHILD_ARN, "Input": {"token.$": "$$.Task.Token", "value.$": "$.value"}},
        "End": True,
    }
    return {"StartAt": "Call", "States": {"Call": body}}


# A child that answers the token in its input, then tries again (and keeps the refusal).
ANSWER_THEN_RETRY = {
    "StartAt": "Answer",
    "States": {
        "Answer": {
            "Type": "Task",
            "Resource": SDK.format("sendTaskSuccess"),
            "Parameters": {"TaskToken.$": "$.token", "Output": {"approved.$": "$.value"}},
            "ResultPath": "$.answered",
            "Next": "Again",
        },
        "Again": {
            "Type": "Task",
            "Resource": SDK.format("sendTaskSuccess"),
            "Parameters": {"TaskToken.$": "$.token", "Output": "{}"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.again", "Next": "Done"}],
            "ResultPath": "$.again",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


@pytest.mark.parametrize(
    "resource",
    [SDK.format("startExecution.waitForTaskToken"), "arn:aws:states:::states:startExecution.waitForTaskToken"],
)
def test_a_child_answers_its_parents_token(resource: str) -> None:
    result = run_local(waiting_parent(resource), {"value": True}, state_machines={"child": ANSWER_THEN_RETRY})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output == {"approved": True}
    types = [e["type"] for e in result.history]
    assert types.index("TaskSubmitted") < types.index("TaskSucceeded")
    submitted = next(e for e in result.history if e["type"] == "TaskSubmitted")
    assert "ExecutionArn" in json.loads(submitted["taskSubmittedEventDetails"]["output"])


def test_the_child_saw_its_answer_accepted_once() -> None:
    start = {"StateMachineArn": CHILD_ARN, "Name": "approver", "Input": {"token.$": "$$.Task.Token", "value": 1}}
    parent = steps(
        ("Wait", sdk("startExecution.waitForTaskToken", start)),
        (
            "Look",
            sdk("describeExecution", {"ExecutionArn": CHILD_ARN.replace("stateMachine", "execution") + ":approver"}),
        ),
    )
    result = run_local(parent, state_machines={"child": ANSWER_THEN_RETRY})
    assert result.status == "SUCCEEDED", result.cause
    child_output = json.loads(result.output["Look"]["Output"])
    assert child_output["answered"] == {}
    assert child_output["again"]["Error"] == "Sfn.TaskDoesNotExistException"


def test_a_child_fails_its_parents_task_with_send_task_failure() -> None:
    child = task("sendTaskFailure", {"TaskToken.$": "$.token", "Error": "Review.Rejected", "Cause": "too risky"})
    result = run_local(
        waiting_parent(SDK.format("startExecution.waitForTaskToken")), {"value": 1}, state_machines={"child": child}
    )
    assert (result.status, result.error, result.cause) == ("FAILED", "Review.Rejected", "too risky")


def test_a_token_nobody_answers_leaves_the_parent_waiting_until_its_timeout() -> None:
    parent = waiting_parent(SDK.format("startExecution.waitForTaskToken"))
    parent["States"]["Call"]["TimeoutSeconds"] = 60
    clock = VirtualClock()
    start = clock.now()
    result = run_local(parent, {"value": 1}, state_machines={"child": ECHO_CHILD}, clock=clock)
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert clock.now() - start == dt.timedelta(seconds=60)


# -- run_local: what the integration refuses -------------------------------------------------------------------


def test_an_action_not_served_fails_naming_it() -> None:
    result = run_local(task("createStateMachine", {"Name": "x"}))
    assert result.error == "States.Runtime"
    assert "aws-sdk:sfn:createStateMachine" in result.cause and "startExecution" in result.cause


def test_an_unknown_parameter_a_missing_one_and_a_wrong_type_are_refused() -> None:
    unknown = run_local(task("startExecution", {"StateMachineArn": CHILD_ARN, "input": "{}"}))
    assert unknown.error == "States.Runtime" and "'input'" in unknown.cause
    missing = run_local(task("sendTaskSuccess", {"Output": "{}"}))
    assert missing.error == "Sfn.ValidationException"
    assert sdk_message(missing.cause) == (
        "1 validation error detected: Value null at 'taskToken' failed to satisfy constraint: Member must not be null"
    )
    wrong = run_local(task("listExecutions", {"StateMachineArn": CHILD_ARN, "MaxResults": "2"}))
    assert wrong.error == "States.Runtime" and "MaxResults must be an integer" in wrong.cause


def test_a_handler_for_the_resource_wins() -> None:
    result = run_local(
        task("describeExecution", {"ExecutionArn": "x"}),
        handlers={SDK.format("describeExecution"): lambda payload, context: {"Mocked": payload["ExecutionArn"]}},
    )
    assert result.output == {"Mocked": "x"}


def test_only_orchestrator_aws_sdk_sfn_sends_it_to_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_AWS_SDK_SFN", raising=False)
    monkeypatch.setenv("ORCHESTRATOR_AWS_SDK", "boto3")  # for the services this engine does not provide
    assert run_local(task("sendTaskHeartbeat", {"TaskToken": "t"})).error == "Sfn.InvalidTokenException"
    monkeypatch.delenv("ORCHESTRATOR_AWS_SDK")
    monkeypatch.setenv("ORCHESTRATOR_AWS_SDK_SFN", "boto3")
    result = run_local(task("sendTaskHeartbeat", {"TaskToken": "t"}))
    assert result.error == "Orchestrator.IntegrationNotConfigured" and "aws-sdk:sfn:sendTaskHeartbeat" in result.cause


def test_timestamps_are_written_as_the_sdk_integration_writes_them() -> None:
    moment = dt.datetime(2025, 11, 6, 13, 20, 37, 120999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert sfn.instant_text(moment) == "2025-11-06T12:20:37.120Z"
    assert sfn.instant_text(moment.replace(microsecond=0)) == "2025-11-06T12:20:37Z"
    assert sfn.instant_text(dt.datetime(2025, 1, 2, 3, 4, 5, 6000)) == "2025-01-02T03:04:05.006Z"  # naive: UTC


# -- the Service of an embedded home (the durable runtime's code path, no worker) -------------------------------


@pytest.fixture()
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Service:
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    for name in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL", "ORCHESTRATOR_REGION", "ORCHESTRATOR_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    settings = config.load()
    upgrade(settings.database_url)
    return Service(settings)


def call(action: str, parameters: Any) -> Any:
    """What the runtime does with an aws-sdk:sfn Task: invoke it (no handler claims it)."""
    request = TaskRequest("Call", SDK.format(action), "service", "request-response", parameters)
    return invoke(
        request,
        TaskContext("arn:aws:states:us-east-1:123456789012:execution:p:1", "Call", request.resource, 0),
        {},
        callback_answers=False,
    )


def test_on_the_service_start_describe_and_list_use_the_store(service: Service) -> None:
    machine = service.create_state_machine(
        name="child", definition=json.dumps(ECHO_CHILD), role_arn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    started = call("startExecution", {"StateMachineArn": machine, "Name": "n1", "Input": {"k": "v"}})
    assert isinstance(started, TaskSucceeded), started
    assert set(started.output) == {"ExecutionArn", "StartDate"} and INSTANT.match(started.output["StartDate"])
    described = service.describe_execution(started.output["ExecutionArn"])
    assert (described["name"], json.loads(described["input"])) == ("n1", {"k": "v"})
    looked = call("describeExecution", {"ExecutionArn": started.output["ExecutionArn"]})
    assert isinstance(looked, TaskSucceeded)
    assert looked.output["Input"] == '{"k":"v"}' and looked.output["StateMachineArn"] == machine
    listed = call("listExecutions", {"StateMachineArn": machine})
    assert [e["Name"] for e in listed.output["Executions"]] == ["n1"]
    assert call("listStateMachines", {}).output["StateMachines"][0]["Name"] == "child"
    again = call("startExecution", {"StateMachineArn": machine, "Name": "n1", "Input": "{}"})
    assert isinstance(again, TaskFailed) and again.error == "Sfn.ExecutionAlreadyExistsException"
    history = call("getExecutionHistory", {"ExecutionArn": started.output["ExecutionArn"]})
    assert isinstance(history, TaskSucceeded), history
    assert [e["Type"] for e in history.output["Events"]][:1] == ["ExecutionStarted"]
    assert history.output["Events"][0]["ExecutionStartedEventDetails"]["Input"] == '{"k":"v"}'
    assert INSTANT.match(history.output["Events"][0]["Timestamp"])


def test_on_the_service_refusals_are_named_as_the_sdk_names_them(service: Service) -> None:
    unknown = call("sendTaskSuccess", {"TaskToken": "A" * 64, "Output": "{}"})
    assert isinstance(unknown, TaskFailed) and unknown.error == "Sfn.TaskDoesNotExistException"
    assert sdk_message(unknown.cause) == "Task Token does not exist"
    gone = call("describeExecution", {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:x:y"})
    assert isinstance(gone, TaskFailed) and gone.error == "Sfn.ExecutionDoesNotExistException"
    invalid = call("describeStateMachine", {"StateMachineArn": "nope"})
    assert isinstance(invalid, TaskFailed) and invalid.error == "Sfn.InvalidArnException"
    no_history = call("getExecutionHistory", {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:x:y"})
    assert isinstance(no_history, TaskFailed) and no_history.error == "Sfn.ExecutionDoesNotExistException"


# -- the durable runtime: a real worker ------------------------------------------------------------------------


def test_the_durable_runtime_starts_children_and_answers_tokens_through_aws_sdk_sfn(
    redis_cluster: Cluster,  # noqa: F811 - the fixture
) -> None:
    cluster = redis_cluster
    cluster.start_worker(concurrency=4)
    cluster.start_scheduler()
    child = cluster.state_machine(ECHO_CHILD)
    answerer = cluster.state_machine(ANSWER_THEN_RETRY)

    # A parent starts a child and goes on; the child runs to its end on the worker.
    parent = cluster.state_machine(
        task("startExecution", {"StateMachineArn": child, "Name.$": "$.name", "Input.$": "$.order"})
    )
    parent_run = cluster.start(parent, {"name": "child-1", "order": {"id": 7}})
    ended = cluster.wait(parent_run)
    assert ended["status"] == "SUCCEEDED", ended
    started = json.loads(ended["output"])
    assert set(started) == {"ExecutionArn", "StartDate"} and INSTANT.match(started["StartDate"])
    assert started["ExecutionArn"].endswith(":execution:" + child.rsplit(":", 1)[-1] + ":child-1")
    child_ended = cluster.wait(started["ExecutionArn"])
    assert child_ended["status"] == "SUCCEEDED" and json.loads(child_ended["output"]) == {"id": 7}

    # An execution waits on a token; another answers it through aws-sdk:sfn:sendTaskSuccess.
    waiter = cluster.state_machine(
        {
            "StartAt": "Ask",
            "States": {"Ask": {"Type": "Task", "Resource": CALLBACK, "Parameters": CALLBACK_PARAMETERS, "End": True}},
        }
    )
    waiting = cluster.start(waiter, {})
    token = cluster.token_for(waiting)
    sender = cluster.state_machine(task("sendTaskSuccess", {"TaskToken.$": "$.token", "Output.$": "$.answer"}))
    sent = cluster.wait(cluster.start(sender, {"token": token, "answer": {"approved": True}}))
    assert (sent["status"], json.loads(sent["output"])) == ("SUCCEEDED", {})
    resumed = cluster.wait(waiting)
    assert resumed["status"] == "SUCCEEDED" and json.loads(resumed["output"]) == {"approved": True}

    # The same token again: the task no longer exists.
    refused = cluster.wait(cluster.start(sender, {"token": token, "answer": {}}))
    assert (refused["status"], refused["error"]) == ("FAILED", "Sfn.TaskDoesNotExistException")
    assert sdk_message(refused["cause"]) == "Task Token does not exist"

    # A parent waits for its child's answer (.waitForTaskToken), which the child sends from the worker.
    asking = cluster.state_machine(
        task(
            "startExecution.waitForTaskToken",
            {"StateMachineArn": answerer, "Input": {"token.$": "$$.Task.Token", "value.$": "$.value"}},
        )
    )
    answered = cluster.wait(cluster.start(asking, {"value": "yes"}))
    assert answered["status"] == "SUCCEEDED", answered
    assert json.loads(answered["output"]) == {"approved": "yes"}
