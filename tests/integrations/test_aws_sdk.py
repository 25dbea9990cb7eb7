"""aws-sdk integrations that this engine does not provide: a clear error, or AWS through boto3 (here, moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from orchestrator import run_local
from tests.api.conftest import free_port

SQS = "arn:aws:states:::aws-sdk:sqs:{}"


def flow(*steps: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i, (name, action, parameters) in enumerate(steps):
        states[name] = {
            "Type": "Task",
            "Resource": SQS.format(action),
            "Parameters": parameters,
            "ResultPath": f"$.{name}",
        }
        if i + 1 < len(steps):
            states[name]["Next"] = steps[i + 1][0]
        else:
            states[name]["End"] = True
    return {"StartAt": steps[0][0], "States": states}


@pytest.fixture()
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ORCHESTRATOR_AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield url
    server.stop()


def test_without_configuration_the_task_fails_naming_the_integration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_AWS_SDK", raising=False)
    result = run_local(flow(("Make", "createQueue", {"QueueName": "q"})))
    assert result.error == "Orchestrator.IntegrationNotConfigured"
    assert "aws-sdk:sqs:createQueue" in result.cause


def test_calls_the_service_through_boto3_when_configured(moto_endpoint: str) -> None:
    result = run_local(
        flow(
            ("Make", "createQueue", {"QueueName": "orders"}),
            ("Send", "sendMessage", {"QueueUrl.$": "$.Make.QueueUrl", "MessageBody": "hello"}),
            (
                "Count",
                "getQueueAttributes",
                {"QueueUrl.$": "$.Make.QueueUrl", "AttributeNames": ["ApproximateNumberOfMessages"]},
            ),
        ),
        {},
    )
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Make"]["QueueUrl"].endswith("/orders")
    assert result.output["Send"]["MessageId"]
    assert result.output["Count"]["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_service_errors_are_named_as_step_functions_names_them(moto_endpoint: str) -> None:
    definition = flow(("Find", "getQueueUrl", {"QueueName": "nope"}))
    definition["States"]["Find"]["Catch"] = [{"ErrorEquals": ["Sqs.QueueDoesNotExistException"], "Next": "Gone"}]
    definition["States"]["Find"].pop("End")
    definition["States"]["Find"]["Next"] = "Gone"
    definition["States"]["Gone"] = {"Type": "Pass", "End": True}
    result = run_local(definition)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["Error"] == "Sqs.QueueDoesNotExistException"
