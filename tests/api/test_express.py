"""Express state machines through boto3: what their definitions may not use, answered with AWS's
codes and words; and a start through a version or an alias runs that version and records it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.test_api import ROLE, create, fails, name, wait

SYNC_RESOURCE = "arn:aws:states:::states:startExecution.sync"
CALLBACK_RESOURCE = "arn:aws:states:::sns:publish.waitForTaskToken"


def _one_task(resource: str, state: str = "Work") -> dict[str, Any]:
    return {"StartAt": state, "States": {state: {"Type": "Task", "Resource": resource, "End": True}}}


def _result(value: str) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": value, "End": True}}}


# -- definitions ------------------------------------------------------------------------------------


def test_validate_state_machine_definition_refuses_sync_and_callbacks_for_express_only(sfn: Any) -> None:
    definition = json.dumps(_one_task(SYNC_RESOURCE, "StartExecution"))
    express = sfn.validate_state_machine_definition(definition=definition, type="EXPRESS")
    assert express["result"] == "FAIL"
    assert express["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": "Express state machine does not support '.sync' service integration",
            "location": "/States/StartExecution/Resource",
        }
    ]
    assert sfn.validate_state_machine_definition(definition=definition, type="STANDARD")["result"] == "OK"
    assert sfn.validate_state_machine_definition(definition=definition)["result"] == "OK"


@pytest.mark.parametrize(
    ("resource", "state", "message"),
    [
        (
            SYNC_RESOURCE,
            "StartExecution",
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not "
            "support '.sync' service integration at /States/StartExecution/Resource'",
        ),
        (
            CALLBACK_RESOURCE,
            "Publish",
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not "
            "support '.waitForTaskToken' service integration  at /States/Publish/Resource'",
        ),
        (
            "arn:aws:states:us-east-1:123456789012:activity:approve",
            "ActivityTask",
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not "
            "support Activity ARN at /States/ActivityTask/Resource'",
        ),
    ],
)
def test_create_state_machine_refuses_them_with_aws_words(sfn: Any, resource: str, state: str, message: str) -> None:
    refused = fails(
        sfn.create_state_machine,
        "InvalidDefinition",
        name=name(),
        definition=json.dumps(_one_task(resource, state)),
        roleArn=ROLE,
        type="EXPRESS",
    )
    assert refused.response["Error"]["Message"] == message
    assert create(sfn, _one_task(resource, state))  # a STANDARD machine may use them


def test_update_state_machine_refuses_them_for_an_express_machine(sfn: Any) -> None:
    machine = create(sfn, _result("ok"), type="EXPRESS")
    fails(
        sfn.update_state_machine,
        "InvalidDefinition",
        stateMachineArn=machine,
        definition=json.dumps(_one_task(SYNC_RESOURCE)),
    )


# -- versions and aliases ---------------------------------------------------------------------------


def test_an_express_machine_started_through_a_version_or_an_alias_runs_that_version(sfn: Any) -> None:
    machine = create(sfn, _result("first"), type="EXPRESS")
    first = sfn.publish_state_machine_version(stateMachineArn=machine)["stateMachineVersionArn"]
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(_result("second")))
    alias = sfn.create_state_machine_alias(
        name="stable", routingConfiguration=[{"stateMachineVersionArn": first, "weight": 100}]
    )["stateMachineAliasArn"]

    # StartSyncExecution runs the definition the ARN names
    for arn, expected in ((first, "first"), (alias, "first"), (machine, "second")):
        result = sfn.start_sync_execution(stateMachineArn=arn)
        assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", expected), arn

    # and so does StartExecution, which records the version and the alias as for a STANDARD machine
    by_version = wait(sfn, sfn.start_execution(stateMachineArn=first)["executionArn"])
    assert json.loads(by_version["output"]) == "first"
    assert by_version["stateMachineVersionArn"] == first and "stateMachineAliasArn" not in by_version
    by_alias = wait(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])
    assert json.loads(by_alias["output"]) == "first"
    assert (by_alias["stateMachineVersionArn"], by_alias["stateMachineAliasArn"]) == (first, alias)
    latest = wait(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"])
    assert json.loads(latest["output"]) == "second" and "stateMachineVersionArn" not in latest
