"""engine.testing: one state run on its own, with every stage of its data processing reported.

Expected values follow what AWS's TestState answered in recorded calls (LocalStack's AWS-validated
TestState snapshots): which stages each state type reports, RETRIABLE with the backoff of the
retry it would make, CAUGHT_ERROR with the catcher's output and next state, AWS's refusals.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from orchestrator.asl.errors import DefinitionError
from orchestrator.engine import testing
from orchestrator.engine.outcomes import TaskContext, TaskFailed, TaskRequest, TaskSucceeded
from orchestrator.engine.testing import Configuration, Mock, Refused

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def run(
    state: dict[str, Any],
    state_input: Any = None,
    *,
    state_name: str | None = None,
    invoke: testing.Invoker | None = None,
    **case: Any,
) -> testing.Report:
    target = testing.load(json.dumps(state), state_name)
    state_input = {} if state_input is None else state_input
    execution = testing.default_execution(
        state_input, role_arn="arn:aws:iam::123456789012:role/r", machine_name="m", execution_name="e", now=NOW
    )
    return testing.run(testing.Case(target, state_input, NOW, execution, seed=7, **case), invoke)


# -- finding the state ---------------------------------------------------------------------------


def test_a_state_on_its_own_runs_under_the_name_aws_gives_it_and_may_name_states_that_do_not_exist() -> None:
    target = testing.load(json.dumps({"Type": "Pass", "Next": "Elsewhere"}))
    assert target.state.name == "StateName"
    assert target.state.next == "Elsewhere"


def test_a_problem_in_a_state_on_its_own_is_located_in_that_state() -> None:
    with pytest.raises(DefinitionError) as raised:
        testing.load(json.dumps({"Type": "Pass", "InputPath": 5, "End": True}))
    assert [d.location for d in raised.value.diagnostics] == ["/InputPath"]


def test_a_definition_that_is_not_json_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as raised:
        testing.load("{not json")
    assert raised.value.diagnostics[0].code == "INVALID_JSON_DESCRIPTION"


def test_a_state_of_a_whole_machine_is_found_by_name_even_inside_a_map() -> None:
    machine = {
        "StartAt": "Loop",
        "States": {
            "Loop": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    assert testing.load(json.dumps(machine), "Loop").state.type == "Map"
    inner = testing.load(json.dumps(machine), "Inner")
    assert inner.state.name == "Inner" and inner.scope == ("Loop", 0)
    with pytest.raises(Refused, match="State not found in definition") as raised:
        testing.load(json.dumps(machine), "Nowhere")
    assert raised.value.code == "ValidationException"


# -- refusals ------------------------------------------------------------------------------------


def state_of(document: dict[str, Any]) -> Any:
    return testing.load(json.dumps(document)).state


TASK = {"Type": "Task", "Resource": LAMBDA_INVOKE, "End": True}
MAP = {
    "Type": "Map",
    "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}},
    "End": True,
}
PARALLEL = {
    "Type": "Parallel",
    "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
    ],
    "End": True,
}


@pytest.mark.parametrize("state_type", ["Pass", "Succeed", "Fail", "Choice", "Wait"])
def test_only_task_map_and_parallel_states_take_a_mock(state_type: str) -> None:
    bodies = {
        "Pass": {"End": True},
        "Succeed": {},
        "Fail": {},
        "Choice": {"Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "X"}]},
        "Wait": {"Seconds": 1, "End": True},
    }
    state = state_of({"Type": state_type, **bodies[state_type]})
    with pytest.raises(Refused) as raised:
        testing.check(state, Mock(result={}), role_arn=None)
    assert raised.value.code == "ValidationException"
    assert raised.value.message == f"State type '{state_type}' is not supported when a mock is specified"


@pytest.mark.parametrize("document", [MAP, PARALLEL])
def test_map_and_parallel_states_need_a_mock(document: dict[str, Any]) -> None:
    with pytest.raises(Refused) as raised:
        testing.check(state_of(document), None, role_arn="arn:aws:iam::1:role/r")
    assert raised.value.code == "InvalidDefinition"
    assert raised.value.message.startswith("TestState API does not support Map or Parallel states.")


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:us-east-1:123456789012:activity:work",
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "arn:aws:states:::states:startExecution.sync",
    ],
)
def test_activities_and_tasks_that_wait_for_an_outcome_need_a_mock(resource: str) -> None:
    state = state_of({"Type": "Task", "Resource": resource, "End": True})
    with pytest.raises(Refused, match="unless a mock is specified"):
        testing.check(state, None, role_arn="arn:aws:iam::1:role/r")
    testing.check(state, Mock(result={}), role_arn=None)  # mocked, no role needed


def test_an_unmocked_task_needs_a_role() -> None:
    with pytest.raises(Refused, match=r"^RoleArn must be specified when testing a Task state$"):
        testing.check(state_of(TASK), None, role_arn=None)


def test_reveal_secrets_and_a_mock_do_not_go_together() -> None:
    with pytest.raises(Refused, match="does not support RevealSecrets when a mock is specified"):
        testing.check(state_of(TASK), Mock(result={}), role_arn=None, reveal_secrets=True)


def test_a_mocked_map_result_is_an_array_and_a_parallel_one_has_an_item_per_branch() -> None:
    with pytest.raises(Refused, match=r"^Mocked result must be an array\.$"):
        testing.check(state_of(MAP), Mock(result={"a": 1}), role_arn=None)
    with pytest.raises(Refused, match=r"^Mocked result must be an array\.$"):
        testing.check(state_of(PARALLEL), Mock(result="x"), role_arn=None)
    with pytest.raises(Refused, match="same number of items as number of Parallel branches"):
        testing.check(state_of(PARALLEL), Mock(result=[1]), role_arn=None)
    testing.check(state_of(PARALLEL), Mock(result=[1, 2]), role_arn=None)
    testing.check(state_of(MAP), Mock(error="Boom"), role_arn=None)


@pytest.mark.parametrize(
    ("context", "detail"),
    [
        ({"Execution": {"Id": 1}}, "Execution.Id must be a string"),
        ({"Map": {}}, "'Map' field is not supported when mocking a Context object"),
        ({"Execution": {"pokemon": "squirtle"}}, "Field 'pokemon' is not allowed"),
        ({"Pokedex": {}}, "Field 'Pokedex' is not allowed"),
        (
            {"Task": {"Token": "t"}},
            "Context object contains 'Task' when state is not a Task state with a '.sync' or "
            "'.waitForTaskToken' service integration pattern",
        ),
    ],
)
def test_a_context_object_is_checked_as_aws_checks_it(context: dict[str, Any], detail: str) -> None:
    with pytest.raises(Refused) as raised:
        testing.check(state_of(TASK), Mock(result={}), role_arn=None, context=context)
    assert raised.value.message == f"Invalid Context object provided: {detail}"


def test_error_caused_by_state_names_a_state_inside_the_map_or_parallel() -> None:
    testing.check(
        state_of(MAP), Mock(error="E"), role_arn=None, configuration=Configuration(error_caused_by_state="Inner")
    )
    with pytest.raises(Refused, match="is not a state of"):
        testing.check(
            state_of(PARALLEL), Mock(error="E"), role_arn=None, configuration=Configuration(error_caused_by_state="Z")
        )
    with pytest.raises(Refused, match="only be specified for a Map or Parallel state"):
        testing.check(
            state_of(TASK), Mock(error="E"), role_arn=None, configuration=Configuration(error_caused_by_state="A")
        )


# -- Pass ----------------------------------------------------------------------------------------


IO_INPUT = {"initialData": {"fieldFromInput": "value from input", "otherField": "other"}, "unrelated": 1}


def test_pass_reports_input_path_parameters_and_result_path() -> None:
    report = run(
        {
            "Type": "Pass",
            "InputPath": "$.initialData",
            "Parameters": {"staticValue": "some value", "inputValue.$": "$.fieldFromInput"},
            "ResultPath": "$.modifiedData",
            "Next": "After",
        },
        IO_INPUT,
    )
    parameters = {"staticValue": "some value", "inputValue": "value from input"}
    assert report.status == "SUCCEEDED"
    assert report.next_state == "After"
    assert report.output == {**IO_INPUT, "modifiedData": parameters}
    assert report.inspection == {
        "input": IO_INPUT,
        "afterInputPath": IO_INPUT["initialData"],
        "afterParameters": parameters,
        "afterResultSelector": parameters,
        "afterResultPath": {**IO_INPUT, "modifiedData": parameters},
    }


def test_a_pass_with_a_result_reports_the_result_and_not_input_path_or_parameters() -> None:
    report = run(
        {
            "Type": "Pass",
            "InputPath": "$.initialData",
            "Parameters": {"ignored.$": "$.fieldFromInput"},
            "Result": {"resultKey": "result value"},
            "ResultPath": "$.modifiedData",
            "End": True,
        },
        IO_INPUT,
    )
    assert report.next_state is None
    assert report.inspection == {
        "input": IO_INPUT,
        "result": {"resultKey": "result value"},
        "afterResultSelector": {"resultKey": "result value"},
        "afterResultPath": {**IO_INPUT, "modifiedData": {"resultKey": "result value"}},
    }


def test_output_path_shapes_the_output_after_the_last_reported_stage() -> None:
    report = run({"Type": "Pass", "OutputPath": "$.a", "End": True}, {"a": [1], "b": 2})
    assert report.output == [1]
    assert report.inspection["afterResultPath"] == {"a": [1], "b": 2}


def test_a_jsonata_pass_reports_its_input_and_the_variables_after_it() -> None:
    report = run(
        {
            "Type": "Pass",
            "QueryLanguage": "JSONata",
            "Assign": {"total": "{% $base + $sum($states.input.values) %}"},
            "Output": {"name": "{% $states.context.State.Name %}", "role": "{% $states.context.Execution.RoleArn %}"},
            "End": True,
        },
        {"values": [1, 2, 3]},
        variables={"base": 10},
    )
    assert report.output == {"name": "StateName", "role": "arn:aws:iam::123456789012:role/r"}
    assert report.inspection == {"input": {"values": [1, 2, 3]}, "variables": {"base": 10, "total": 16}}


def test_a_path_that_finds_nothing_fails_the_state_with_the_cause_alone() -> None:
    report = run({"Type": "Pass", "InputPath": "$.missing", "End": True}, {"a": 1})
    assert report.status == "FAILED"
    assert report.error == "States.Runtime"
    assert report.cause is not None and report.cause.startswith("Invalid path '$.missing'")
    assert report.output is testing.ABSENT
    assert report.inspection == {"input": {"a": 1}}


def test_variables_given_to_the_test_are_reported_even_when_the_state_assigns_none() -> None:
    report = run({"Type": "Pass", "Parameters": {"v.$": "$seed"}, "End": True}, {}, variables={"seed": 3})
    assert report.output == {"v": 3}
    assert report.inspection["variables"] == {"seed": 3}


# -- Choice, Wait, Succeed, Fail -------------------------------------------------------------------


CHOICE = {
    "Type": "Choice",
    "InputPath": "$.order",
    "Choices": [
        {"Variable": "$.value", "NumericGreaterThanEquals": 20, "Next": "ValueInTwenties"},
        {"Variable": "$.value", "NumericLessThan": 20, "Next": "Small"},
    ],
}


def test_choice_reports_the_next_state_and_its_input_after_input_path() -> None:
    report = run(CHOICE, {"order": {"value": 22}})
    assert (report.status, report.next_state, report.output) == ("SUCCEEDED", "ValueInTwenties", {"value": 22})
    assert report.inspection == {"input": {"order": {"value": 22}}, "afterInputPath": {"value": 22}}


def test_a_choice_that_matches_nothing_fails() -> None:
    report = run({**CHOICE, "Choices": CHOICE["Choices"][:1]}, {"order": {"value": 3}})
    assert (report.status, report.error) == ("FAILED", "States.NoChoiceMatched")
    assert report.next_state is None


def test_a_jsonata_choice_reports_only_its_input_and_assigns() -> None:
    report = run(
        {
            "Type": "Choice",
            "QueryLanguage": "JSONata",
            "Choices": [{"Condition": "{% $states.input.cost < 10 %}", "Next": "Approved", "Assign": {"ok": True}}],
            "Default": "Ask",
        },
        {"cost": 9},
    )
    assert (report.next_state, report.output) == ("Approved", {"cost": 9})
    assert report.inspection == {"input": {"cost": 9}, "variables": {"ok": True}}


def test_a_wait_does_not_wait_but_its_time_is_checked() -> None:
    report = run({"Type": "Wait", "Seconds": 86_400, "Next": "Later"}, {"a": 1})
    assert (report.status, report.next_state, report.output) == ("SUCCEEDED", "Later", {"a": 1})
    failed = run({"Type": "Wait", "SecondsPath": "$.delay", "End": True}, {"delay": -1})
    assert (failed.status, failed.error) == ("FAILED", "States.Runtime")
    assert failed.cause == "The SecondsPath parameter references a negative value: $.delay == -1"


def test_succeed_reports_input_path_and_ends() -> None:
    report = run({"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}, {"a": {"b": 5}})
    assert (report.status, report.output, report.next_state) == ("SUCCEEDED", 5, None)
    assert report.inspection == {"input": {"a": {"b": 5}}, "afterInputPath": {"b": 5}}


def test_fail_reports_its_error_and_cause() -> None:
    report = run({"Type": "Fail", "ErrorPath": "$.code", "Cause": "This state machine fails."}, {"code": "Oops"})
    assert (report.status, report.error, report.cause) == ("FAILED", "Oops", "This state machine fails.")
    assert report.output is testing.ABSENT
    assert report.inspection == {"input": {"code": "Oops"}, "afterInputPath": {"code": "Oops"}}


# -- Task ------------------------------------------------------------------------------------------


LAMBDA_TASK = {
    "Type": "Task",
    "Resource": LAMBDA_INVOKE,
    "InputPath": "$.request",
    "Parameters": {"FunctionName": "greet", "Payload.$": "$"},
    "ResultSelector": {"greeting.$": "$.Payload"},
    "ResultPath": "$.response",
    "OutputPath": "$.response",
    "Next": "After",
}


def test_a_mocked_task_reports_every_jsonpath_stage() -> None:
    result = {"Payload": "Hello!", "StatusCode": 200}
    report = run(LAMBDA_TASK, {"request": {"name": "Ada"}}, mock=Mock(result=result))
    assert (report.status, report.output, report.next_state) == ("SUCCEEDED", {"greeting": "Hello!"}, "After")
    assert report.inspection == {
        "input": {"request": {"name": "Ada"}},
        "afterInputPath": {"name": "Ada"},
        "afterParameters": {"FunctionName": "greet", "Payload": {"name": "Ada"}},
        "result": result,
        "afterResultSelector": {"greeting": "Hello!"},
        "afterResultPath": {"request": {"name": "Ada"}, "response": {"greeting": "Hello!"}},
    }


def test_an_unmocked_task_is_done_by_the_invoke_function_with_the_parameters() -> None:
    calls: list[tuple[TaskRequest, TaskContext]] = []

    def invoke(request: TaskRequest, context: TaskContext) -> TaskSucceeded:
        calls.append((request, context))
        return TaskSucceeded({"Payload": f"Hi {request.payload['Payload']['name']}"})

    report = run(LAMBDA_TASK, {"request": {"name": "Ada"}}, invoke=invoke)
    assert report.output == {"greeting": "Hi Ada"}
    request, context = calls[0]
    assert request.resource == LAMBDA_INVOKE and request.payload["FunctionName"] == "greet"
    assert context.execution_arn == "arn:aws:states:us-east-1:123456789012:express:m:e"
    assert context.state_name == "StateName"


def test_a_jsonata_task_reports_its_arguments_and_result() -> None:
    report = run(
        {
            "Type": "Task",
            "QueryLanguage": "JSONata",
            "Resource": LAMBDA_INVOKE,
            "Arguments": {"FunctionName": "foo", "Payload": "{% $states.input.v %}"},
            "Output": "{% $states.result.n * 2 %}",
            "Assign": {"last": "{% $states.result.n %}"},
            "End": True,
        },
        {"v": "bar"},
        mock=Mock(result={"n": 21}),
    )
    assert report.output == 42
    assert report.inspection == {
        "input": {"v": "bar"},
        "afterArguments": {"FunctionName": "foo", "Payload": "bar"},
        "result": {"n": 21},
        "variables": {"last": 21},
    }


RETRYING = {
    "Type": "Task",
    "QueryLanguage": "JSONata",
    "Resource": LAMBDA_INVOKE,
    "Arguments": {"FunctionName": "foo", "Payload": "bar"},
    "Retry": [{"ErrorEquals": ["MockException"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2.0}],
    "End": True,
}


def test_an_error_a_retrier_would_retry_is_retriable_with_the_backoff_of_that_retry() -> None:
    report = run(
        RETRYING,
        {"Values": [1]},
        mock=Mock(error="MockException", cause="Mock the cause of the error."),
        configuration=Configuration(retrier_retry_count=4),
    )
    assert (report.status, report.error, report.cause) == ("RETRIABLE", "MockException", "Mock the cause of the error.")
    assert report.output is testing.ABSENT and report.next_state is None
    assert report.inspection == {
        "input": {"Values": [1]},
        "afterArguments": {"FunctionName": "foo", "Payload": "bar"},
        "errorDetails": {"retryIndex": 0, "retryBackoffIntervalSeconds": 16},
    }


def test_an_error_whose_retries_are_spent_fails_and_names_the_retrier() -> None:
    report = run(RETRYING, {}, mock=Mock(error="MockException"), configuration=Configuration(retrier_retry_count=5))
    assert (report.status, report.error, report.cause) == ("FAILED", "MockException", None)
    assert report.inspection["errorDetails"] == {"retryIndex": 0}


def test_a_caught_error_reports_the_catchers_output_and_next_state() -> None:
    state = {
        **TASK,
        "Retry": [{"ErrorEquals": ["Other"]}],
        "Catch": [
            {"ErrorEquals": ["Nope"], "Next": "Never"},
            {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Handle"},
        ],
    }
    report = run(state, {"a": 1}, mock=Mock(error="States.TaskFailed", cause="The task failed."))
    assert (report.status, report.next_state) == ("CAUGHT_ERROR", "Handle")
    assert (report.error, report.cause) == ("States.TaskFailed", "The task failed.")
    assert report.output == {"a": 1, "error": {"Error": "States.TaskFailed", "Cause": "The task failed."}}
    assert report.inspection["errorDetails"] == {"catchIndex": 1}


def test_a_jsonata_catcher_sees_the_error_output_and_assigns() -> None:
    state = {
        **RETRYING,
        "Retry": [],
        "Catch": [
            {
                "ErrorEquals": ["States.ALL"],
                "Output": "{% $states.errorOutput %}",
                "Assign": {"failedWith": "{% $states.errorOutput.Error %}"},
                "Next": "HandleMockError",
            }
        ],
    }
    report = run(state, {}, mock=Mock(error="MockException", cause="why"))
    assert report.status == "CAUGHT_ERROR"
    assert report.output == {"Error": "MockException", "Cause": "why"}
    assert report.inspection["variables"] == {"failedWith": "MockException"}


def test_states_runtime_is_neither_retried_nor_caught() -> None:
    state = {
        **TASK,
        "InputPath": "$.missing",
        "Retry": [{"ErrorEquals": ["States.ALL"]}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
    }
    report = run(state, {}, mock=Mock(result={}))
    assert (report.status, report.error) == ("FAILED", "States.Runtime")
    assert "errorDetails" not in report.inspection


def test_a_failure_of_the_invoked_handler_is_the_tasks_error() -> None:
    def invoke(request: TaskRequest, context: TaskContext) -> TaskFailed:
        return TaskFailed("Lambda.Unknown", "it broke")

    report = run(TASK, {}, invoke=invoke)
    assert (report.status, report.error, report.cause) == ("FAILED", "Lambda.Unknown", "it broke")


def test_a_callback_task_sees_a_task_token_in_the_context_object() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"MessageBody": {"TaskToken.$": "$$.Task.Token"}},
        "End": True,
    }
    report = run(state, {}, mock=Mock(result={"ok": True}))
    token = report.inspection["afterParameters"]["MessageBody"]["TaskToken"]
    assert isinstance(token, str) and len(token) >= 32
    assert report.output == {"ok": True}


def test_a_context_object_given_whole_is_what_the_state_sees() -> None:
    context = {"Execution": {"Name": "given"}, "State": {}, "StateMachine": {}}
    report = run(
        {**TASK, "ResultPath": "$.context", "ResultSelector": {"c.$": "$$"}}, {}, mock=Mock(result={}), context=context
    )
    assert report.output == {"context": {"c": context}}


# -- Map and Parallel --------------------------------------------------------------------------------


def test_a_mocked_map_reports_items_item_selector_and_limits() -> None:
    state = {
        **MAP,
        "ItemsPath": "$.values",
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        "MaxConcurrency": 2,
        "ResultPath": "$.results",
    }
    report = run(state, {"values": ["a", "b"]}, mock=Mock(result=["A", "B"]))
    assert report.output == {"values": ["a", "b"], "results": ["A", "B"]}
    assert report.inspection == {
        "input": {"values": ["a", "b"]},
        "afterInputPath": {"values": ["a", "b"]},
        "afterItemsPath": ["a", "b"],
        "afterItemSelector": [{"value": "a", "index": 0}, {"value": "b", "index": 1}],
        "maxConcurrency": 2,
        "afterResultSelector": ["A", "B"],
        "afterResultPath": {"values": ["a", "b"], "results": ["A", "B"]},
    }


JSONATA_MAP = {
    "Type": "Map",
    "QueryLanguage": "JSONata",
    "Items": "{% $states.input.Values %}",
    "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}},
    "ToleratedFailureCount": 1,
    "Retry": [
        {"ErrorEquals": ["MockException"], "MaxAttempts": 3},
        {"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "MaxAttempts": 2},
    ],
    "End": True,
}


def test_map_iterations_failing_beyond_the_tolerance_are_the_maps_error() -> None:
    values = {"Values": ["first", "second", "third"]}
    within = run(
        JSONATA_MAP, values, mock=Mock(result=[1, 1, 1]), configuration=Configuration(map_iteration_failure_count=1)
    )
    assert (within.status, within.output) == ("SUCCEEDED", [1, 1, 1])
    assert within.inspection == {"input": values, "maxConcurrency": 0, "toleratedFailureCount": 1}
    beyond = run(
        JSONATA_MAP, values, mock=Mock(result=[0, 0, 1]), configuration=Configuration(map_iteration_failure_count=2)
    )
    assert (beyond.status, beyond.error) == ("RETRIABLE", "States.ExceedToleratedFailureThreshold")
    assert beyond.cause == "The specified tolerated failure threshold was exceeded"
    assert beyond.inspection["errorDetails"] == {"retryIndex": 1, "retryBackoffIntervalSeconds": 1}


def test_a_map_without_a_tolerance_ignores_failed_iterations() -> None:
    state = {key: value for key, value in JSONATA_MAP.items() if key != "ToleratedFailureCount"}
    report = run(
        state, {"Values": [1, 2]}, mock=Mock(result=[0, 1]), configuration=Configuration(map_iteration_failure_count=2)
    )
    assert report.status == "SUCCEEDED"
    assert "toleratedFailureCount" not in report.inspection


def test_a_mocked_map_error_is_what_the_map_fails_with() -> None:
    report = run(JSONATA_MAP, {"Values": [1]}, mock=Mock(error="Boom", cause="c"))
    assert (report.status, report.error, report.cause) == ("FAILED", "Boom", "c")
    assert report.inspection == {"input": {"Values": [1]}, "maxConcurrency": 0, "toleratedFailureCount": 1}


def test_a_mocked_parallel_reports_its_parameters_and_result_processing() -> None:
    state = {**PARALLEL, "Parameters": {"x.$": "$.x"}, "ResultSelector": {"first.$": "$[0]"}}
    report = run(state, {"x": 1}, mock=Mock(result=["one", "two"]))
    assert report.output == {"first": "one"}
    assert report.inspection == {
        "input": {"x": 1},
        "afterInputPath": {"x": 1},
        "afterParameters": {"x": 1},
        "afterResultSelector": {"first": "one"},
        "afterResultPath": {"first": "one"},
    }
