"""TestState through the HTTP API with boto3: an embedded server (SQLite, no broker needed).

botocore parses every response with AWS's model of TestState, so these tests also prove the shapes
(JSON text for the data, numbers for the Map limits, errorDetails as an object).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import orchestrator.api.testing_actions  # noqa: F401 - registers the TestState action
from orchestrator import config
from orchestrator.integrations.registry import handler
from orchestrator.service import Service
from orchestrator.store import migrate
from tests.api.conftest import InProcessServer, client

ROLE = "arn:aws:iam::123456789012:role/test"
GREET = "arn:aws:lambda:us-east-1:123456789012:function:test-state-greet"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


@handler("test-state-greet")
def greet(payload: Any, context: Any) -> dict[str, Any]:
    if payload.get("name") == "nobody":
        raise LookupError("no one to greet")
    return {"greeting": f"Hello, {payload['name']}!", "state": context.state_name}


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home: Path = tmp_path_factory.mktemp("test-state-home")
    settings = config.load({"ORCHESTRATOR_HOME": str(home)})
    migrate.upgrade(settings.database_url)
    with InProcessServer(Service(settings)) as server:
        yield client(server.url)


def call(sfn: Any, state: dict[str, Any], state_input: Any = None, **request: Any) -> dict[str, Any]:
    if state_input is not None:
        request["input"] = json.dumps(state_input)
    response: dict[str, Any] = sfn.test_state(definition=json.dumps(state), **request)
    response.pop("ResponseMetadata")
    return response


def inspection(response: dict[str, Any]) -> dict[str, Any]:
    """inspectionData with its JSON text parsed."""
    data = dict(response["inspectionData"])
    for key, value in data.items():
        if isinstance(value, str):
            data[key] = json.loads(value)
    return data


def refused(sfn: Any, code: str, state: dict[str, Any], **request: Any) -> str:
    with pytest.raises(ClientError) as raised:
        sfn.test_state(definition=json.dumps(state), **request)
    error = raised.value.response["Error"]
    assert error["Code"] == code, error
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error["Message"])


IO_PASS = {
    "Type": "Pass",
    "InputPath": "$.initialData",
    "Parameters": {"staticValue": "some value", "inputValue.$": "$.fieldFromInput"},
    "ResultPath": "$.modifiedData",
    "End": True,
}
IO_INPUT = {"initialData": {"fieldFromInput": "value from input"}, "unrelatedData": {"someOtherField": 1234}}
MODIFIED = {**IO_INPUT, "modifiedData": {"staticValue": "some value", "inputValue": "value from input"}}


# -- inspection levels -----------------------------------------------------------------------------


def test_info_answers_the_output_and_status_only(sfn: Any) -> None:
    response = call(sfn, IO_PASS, IO_INPUT)
    assert response == {"status": "SUCCEEDED", "output": json.dumps(MODIFIED, separators=(",", ":"))}
    assert call(sfn, IO_PASS, IO_INPUT, inspectionLevel="INFO") == response


@pytest.mark.parametrize("level", ["DEBUG", "TRACE"])
def test_debug_and_trace_add_every_stage_of_the_data_processing(sfn: Any, level: str) -> None:
    response = call(sfn, IO_PASS, IO_INPUT, inspectionLevel=level)
    assert json.loads(response["output"]) == MODIFIED
    assert inspection(response) == {
        "input": IO_INPUT,
        "afterInputPath": IO_INPUT["initialData"],
        "afterParameters": MODIFIED["modifiedData"],
        "afterResultSelector": MODIFIED["modifiedData"],
        "afterResultPath": MODIFIED,
    }


def test_an_unknown_inspection_level_is_refused(sfn: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sfn.test_state(definition=json.dumps(IO_PASS), inspectionLevel="LOUD")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


# -- the flow states -------------------------------------------------------------------------------


def test_choice_answers_the_next_state(sfn: Any) -> None:
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.value", "NumericGreaterThanEquals": 20, "Next": "ValueInTwenties"}],
        "Default": "Other",
    }
    response = call(sfn, choice, {"type": "Private", "value": 22}, inspectionLevel="DEBUG")
    assert (response["status"], response["nextState"]) == ("SUCCEEDED", "ValueInTwenties")
    assert inspection(response) == {
        "input": {"type": "Private", "value": 22},
        "afterInputPath": {"type": "Private", "value": 22},
    }
    assert call(sfn, choice, {"value": 3})["nextState"] == "Other"


def test_wait_answers_at_once(sfn: Any) -> None:
    response = call(sfn, {"Type": "Wait", "Seconds": 3600, "Next": "Later"}, {"a": 1})
    assert response == {"status": "SUCCEEDED", "output": '{"a":1}', "nextState": "Later"}


def test_fail_answers_its_error_and_cause_and_no_output(sfn: Any) -> None:
    fail = {"Type": "Fail", "Error": "SomeFailure", "Cause": "This state machines raises a 'SomeFailure' failure."}
    response = call(sfn, fail, {"Value": "HelloWorld"}, inspectionLevel="DEBUG")
    assert response["status"] == "FAILED"
    assert (response["error"], response["cause"]) == (fail["Error"], fail["Cause"])
    assert "output" not in response and "nextState" not in response
    assert inspection(response) == {"input": {"Value": "HelloWorld"}, "afterInputPath": {"Value": "HelloWorld"}}


def test_succeed_answers_its_output_and_no_next_state(sfn: Any) -> None:
    response = call(sfn, {"Type": "Succeed", "OutputPath": "$.Value"}, {"Value": "HelloWorld"})
    assert response == {"status": "SUCCEEDED", "output": '"HelloWorld"'}


def test_no_input_is_an_empty_object(sfn: Any) -> None:
    assert call(sfn, {"Type": "Pass", "End": True})["output"] == "{}"


# -- Task ------------------------------------------------------------------------------------------


LAMBDA_TASK = {
    "Type": "Task",
    "Resource": LAMBDA_INVOKE,
    "Parameters": {"FunctionName": "greet", "Payload.$": "$"},
    "ResultSelector": {"greeting.$": "$.Payload"},
    "ResultPath": "$.response",
    "Next": "After",
}


def test_a_task_with_a_mocked_result(sfn: Any) -> None:
    response = call(
        sfn, LAMBDA_TASK, {"name": "Ada"}, inspectionLevel="DEBUG", mock={"result": json.dumps({"Payload": "Hi"})}
    )
    assert (response["status"], response["nextState"]) == ("SUCCEEDED", "After")
    assert json.loads(response["output"]) == {"name": "Ada", "response": {"greeting": "Hi"}}
    assert inspection(response) == {
        "input": {"name": "Ada"},
        "afterInputPath": {"name": "Ada"},
        "afterParameters": {"FunctionName": "greet", "Payload": {"name": "Ada"}},
        "result": {"Payload": "Hi"},
        "afterResultSelector": {"greeting": "Hi"},
        "afterResultPath": {"name": "Ada", "response": {"greeting": "Hi"}},
    }


def test_a_mocked_error_a_retrier_takes_is_retriable(sfn: Any) -> None:
    state = {
        **LAMBDA_TASK,
        "Retry": [{"ErrorEquals": ["MockException"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2.0}],
    }
    mock = {"errorOutput": {"error": "MockException", "cause": "Mock the cause of the error."}}
    response = call(sfn, state, {}, inspectionLevel="DEBUG", mock=mock, stateConfiguration={"retrierRetryCount": 4})
    assert (response["status"], response["error"], response["cause"]) == (
        "RETRIABLE",
        "MockException",
        "Mock the cause of the error.",
    )
    assert "output" not in response and "nextState" not in response
    assert response["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 16}
    spent = call(sfn, state, {}, inspectionLevel="DEBUG", mock=mock, stateConfiguration={"retrierRetryCount": 5})
    assert spent["status"] == "FAILED"
    assert spent["inspectionData"]["errorDetails"] == {"retryIndex": 0}


def test_a_mocked_error_a_catcher_takes_is_caught(sfn: Any) -> None:
    state = {
        "QueryLanguage": "JSONata",
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Arguments": {"FunctionName": "foo", "Payload": "bar"},
        "Catch": [
            {"ErrorEquals": ["MockException"], "Output": "{% $states.errorOutput %}", "Next": "HandleMockError"},
            {"ErrorEquals": ["States.TaskFailed"], "Output": "{% $states.input %}", "Next": "HandleThreshold"},
        ],
        "End": True,
    }
    mock = {"errorOutput": {"error": "States.TaskFailed", "cause": "The task failed."}}
    response = call(sfn, state, {"Value": "HelloWorld"}, inspectionLevel="TRACE", mock=mock)
    assert (response["status"], response["nextState"]) == ("CAUGHT_ERROR", "HandleThreshold")
    assert (response["error"], response["cause"]) == ("States.TaskFailed", "The task failed.")
    assert json.loads(response["output"]) == {"Value": "HelloWorld"}
    assert inspection(response) == {
        "input": {"Value": "HelloWorld"},
        "afterArguments": {"FunctionName": "foo", "Payload": "bar"},
        "errorDetails": {"catchIndex": 1},
    }


def test_an_unmocked_task_calls_its_registered_handler(sfn: Any) -> None:
    state = {"Type": "Task", "Resource": GREET, "ResultPath": "$.said", "End": True}
    response = call(sfn, state, {"name": "Ada"}, roleArn=ROLE, inspectionLevel="DEBUG")
    said = {"greeting": "Hello, Ada!", "state": "StateName"}
    assert response["status"] == "SUCCEEDED"
    assert json.loads(response["output"]) == {"name": "Ada", "said": said}
    assert inspection(response)["result"] == said


def test_a_failing_handler_fails_the_task_as_lambda_reports_it(sfn: Any) -> None:
    state = {"Type": "Task", "Resource": GREET, "End": True}
    response = call(sfn, state, {"name": "nobody"}, roleArn=ROLE)
    assert (response["status"], response["error"]) == ("FAILED", "LookupError")
    assert json.loads(response["cause"])["errorMessage"] == "no one to greet"


def test_an_unmocked_task_needs_a_role(sfn: Any) -> None:
    message = refused(sfn, "ValidationException", {"Type": "Task", "Resource": GREET, "End": True})
    assert message == "RoleArn must be specified when testing a Task state"


# -- JSONata, variables, whole machines ------------------------------------------------------------


def test_a_jsonata_state_with_variables(sfn: Any) -> None:
    state = {
        "Type": "Pass",
        "QueryLanguage": "JSONata",
        "Output": {
            "access": "{% $var_input_value %}",
            "sum": "{% $sum($states.input.input_values) + $var_constant_1 %}",
        },
        "Assign": {"doubled": "{% $var_constant_1 * 2 %}"},
        "End": True,
    }
    variables = json.dumps({"var_input_value": "test_value", "var_constant_1": 10})
    response = call(sfn, state, {"input_values": [1, 2, 3]}, variables=variables, inspectionLevel="DEBUG")
    assert json.loads(response["output"]) == {"access": "test_value", "sum": 16}
    assert inspection(response) == {
        "input": {"input_values": [1, 2, 3]},
        "variables": {"var_input_value": "test_value", "var_constant_1": 10, "doubled": 20},
    }


def test_a_state_of_a_whole_machine_by_name(sfn: Any) -> None:
    machine = {
        "QueryLanguage": "JSONata",
        "StartAt": "State0",
        "States": {
            "State0": {"Type": "Pass", "Next": "State1"},
            "State1": {"Type": "Fail", "Error": "SomeFailure", "Cause": "It fails."},
        },
    }
    first = call(sfn, machine, {"Value": "HelloWorld"}, stateName="State0", inspectionLevel="DEBUG")
    assert (first["status"], first["nextState"]) == ("SUCCEEDED", "State1")
    assert inspection(first) == {"input": {"Value": "HelloWorld"}}
    second = call(sfn, machine, {}, stateName="State1")
    assert (second["status"], second["error"], second["cause"]) == ("FAILED", "SomeFailure", "It fails.")
    assert refused(sfn, "ValidationException", machine, stateName="Nope") == "State not found in definition"


# -- Map -------------------------------------------------------------------------------------------


def test_a_mocked_map_reports_its_limits_as_numbers(sfn: Any) -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.Values",
        "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}},
        "ToleratedFailurePercentage": 1,
        "End": True,
    }
    response = call(sfn, state, {"Values": [1, 2, 3]}, inspectionLevel="DEBUG", mock={"result": "[1, 1, 1]"})
    assert json.loads(response["output"]) == [1, 1, 1]
    data = response["inspectionData"]
    assert (data["maxConcurrency"], data["toleratedFailurePercentage"]) == (0, 1.0)
    assert json.loads(data["afterItemsPath"]) == [1, 2, 3]


# -- what TestState refuses ------------------------------------------------------------------------


def test_an_invalid_definition(sfn: Any) -> None:
    message = refused(sfn, "InvalidDefinition", {"Type": "Pass", "Parameters": {"a.$": "not a path"}, "End": True})
    assert "/Parameters" in message


def test_input_that_is_not_json(sfn: Any) -> None:
    refused(sfn, "InvalidExecutionInput", {"Type": "Pass", "End": True}, input="{nope")


def test_a_mock_for_a_state_that_takes_none(sfn: Any) -> None:
    message = refused(sfn, "ValidationException", {"Type": "Pass", "End": True}, mock={"result": "{}"})
    assert message == "State type 'Pass' is not supported when a mock is specified"


def test_a_mock_with_both_a_result_and_an_error(sfn: Any) -> None:
    mock = {"result": "{}", "errorOutput": {"error": "E"}}
    message = refused(sfn, "ValidationException", {"Type": "Task", "Resource": GREET, "End": True}, mock=mock)
    assert message == "A test mock should have only one of the following fields: [result, errorOutput]."


def test_a_map_without_a_mock(sfn: Any) -> None:
    state = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}},
        "End": True,
    }
    message = refused(sfn, "InvalidDefinition", state, roleArn=ROLE)
    assert message.startswith("TestState API does not support Map or Parallel states.")
