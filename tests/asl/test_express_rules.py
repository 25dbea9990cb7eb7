"""What an EXPRESS state machine may not use: activities, and integrations that wait for a job
(``.sync``) or a callback (``.waitForTaskToken``). `validate` reports them, with AWS's words, for the
type EXPRESS only; `parse`, which knows no type, accepts them."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.asl.errors import Diagnostic
from orchestrator.asl.parse import parse, validate

SYNC = "Express state machine does not support '.sync' service integration"
CALLBACK = "Express state machine does not support '.waitForTaskToken' service integration "
ACTIVITY = "Express state machine does not support Activity ARN"


def _task(resource: str) -> dict[str, Any]:
    return {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": resource, "End": True}}}


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("arn:aws:states:::states:startExecution.sync", SYNC),
        ("arn:aws:states:::states:startExecution.sync:2", SYNC),
        ("arn:aws:states:::ecs:runTask.sync", SYNC),
        ("arn:aws:states:::sns:publish.waitForTaskToken", CALLBACK),
        ("arn:aws:states:::lambda:invoke.waitForTaskToken", CALLBACK),
        ("arn:aws:states:us-east-1:123456789012:activity:approve", ACTIVITY),
    ],
)
def test_an_express_machine_may_not_wait_for_a_job_a_callback_or_an_activity(resource: str, message: str) -> None:
    definition = _task(resource)
    assert validate(definition, state_machine_type="EXPRESS") == [
        Diagnostic("ERROR", "SCHEMA_VALIDATION_FAILED", message, "/States/Work/Resource")
    ]
    assert validate(definition) == []  # a STANDARD machine may
    parse(definition)


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::lambda:invoke",
        "arn:aws:lambda:us-east-1:123456789012:function:work",
        "arn:aws:states:::states:startExecution",
        "arn:aws:states:::aws-sdk:sfn:startSyncExecution",
        "arn:aws:states:::http:invoke",
    ],
)
def test_an_express_machine_may_call_and_go_on(resource: str) -> None:
    assert validate(_task(resource), state_machine_type="EXPRESS") == []


def test_nested_states_are_checked_where_they_are() -> None:
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "Ask",
                        "States": {
                            "Ask": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                                "End": True,
                            }
                        },
                    },
                ],
                "End": True,
            }
        },
    }
    found = validate(definition, state_machine_type="EXPRESS")
    assert [(d.message, d.location) for d in found] == [(CALLBACK, "/States/Fan/Branches/1/States/Ask/Resource")]
