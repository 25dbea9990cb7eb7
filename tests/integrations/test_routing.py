"""ORCHESTRATOR_ROUTE_TO_AWS: chosen Lambda functions, SNS topics and DynamoDB tables go through boto3
to an AWS endpoint (moto's server here), the rest stay local."""

from __future__ import annotations

import io
import json
import socket
import zipfile
from typing import Any

import boto3
import httpx
import pytest

from orchestrator import run_local
from orchestrator.integrations import routing
from orchestrator.service import Service
from tests.integrations.test_sqs import moto_endpoint, service  # noqa: F401 - the fixtures

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def task(resource: str, parameters: Any = None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "End": True}
    if parameters is not None:
        state["Parameters"] = parameters
    return {"StartAt": "Call", "States": {"Call": state}}


@pytest.fixture()
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811 - the fixture
    """moto's server as AWS, for boto3's own endpoint setting; Lambda without Docker (it echoes the payload)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    answer = httpx.post(f"{moto_endpoint}/moto-api/config", json={"lambda": {"use_docker": False}})
    assert answer.status_code == 201, answer.text
    return moto_endpoint


def test_routes_are_read_as_service_and_glob_and_wrong_ones_are_named() -> None:
    routes = routing.parse_routes(" lambda:billing-* , sqs:orders,dynamodb:*")
    assert routes == (
        routing.Route("lambda", "billing-*"),
        routing.Route("sqs", "orders"),
        routing.Route("dynamodb", "*"),
    )
    env = {routing.ROUTES_VARIABLE: "lambda:billing-*,sqs:orders"}
    assert routing.is_remote("lambda", "billing-eu", env)
    assert not routing.is_remote("lambda", "shipping", env)
    assert not routing.is_remote("sqs", "orders-2", env)
    assert routing.is_remote("sns", "anything", {"ORCHESTRATOR_SNS_ENDPOINT_URL": "http://x"})
    with pytest.raises(routing.RoutingError, match="unknown service 'lamda'"):
        routing.parse_routes("lamda:x")
    with pytest.raises(routing.RoutingError, match="not service:pattern"):
        routing.parse_routes("lambda")


def test_a_bad_route_setting_fails_the_task_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(routing.ROUTES_VARIABLE, "lambda")
    result = run_local(task("arn:aws:lambda:us-east-1:123456789012:function:any"), handlers={"any": lambda p, c: 1})
    assert (result.error, "ORCHESTRATOR_ROUTE_TO_AWS" in str(result.cause)) == ("States.Runtime", True)


def _function(endpoint: str, name: str) -> None:
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )


def test_routed_lambda_functions_are_invoked_through_boto3_and_the_others_locally(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(routing.ROUTES_VARIABLE, "lambda:billing-*")
    _function(aws, "billing-eu")
    local_calls: list[Any] = []
    handlers = {"shipping": lambda payload, context: local_calls.append(payload) or {"local": True}}

    invoked = run_local(
        task("arn:aws:states:::lambda:invoke", {"FunctionName": "billing-eu", "Payload": {"amount": 3}}),
        handlers=handlers,
    )
    assert invoked.status == "SUCCEEDED", invoked.cause
    output = invoked.output
    assert (output["Payload"], output["StatusCode"], output["ExecutedVersion"]) == ({"amount": 3}, 200, "$LATEST")
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert list(output) == ["ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"]

    direct = run_local(task("arn:aws:lambda:us-east-1:123456789012:function:billing-eu"), {"n": 1}, handlers=handlers)
    assert direct.output == {"n": 1}  # a function ARN as Resource: the payload itself

    kept = run_local(task("arn:aws:lambda:us-east-1:123456789012:function:shipping"), {"n": 2}, handlers=handlers)
    assert (kept.output, local_calls) == ({"local": True}, [{"n": 2}])

    # (moto's Lambda without Docker answers for any name, so a missing function cannot be shown here.)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("ORCHESTRATOR_LAMBDA_ENDPOINT_URL", f"http://127.0.0.1:{closed.getsockname()[1]}")
        unreachable = run_local(task("arn:aws:states:::lambda:invoke", {"FunctionName": "any"}), handlers=handlers)
    assert unreachable.error == "Lambda.SdkClientException", unreachable.cause
    assert "Unable to execute HTTP request" in str(unreachable.cause)


def test_routed_sns_topics_are_published_to_through_boto3(
    aws: str,
    service: Service,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(routing.ROUTES_VARIABLE, "sns:alerts-*")
    sns = boto3.client("sns", endpoint_url=aws, region_name="us-east-1")
    topic = sns.create_topic(Name="alerts-ops")["TopicArn"]
    sqs = boto3.client("sqs", endpoint_url=aws, region_name="us-east-1")
    queue = sqs.create_queue(QueueName="alerts-sink")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    published = run_local(task("arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"disk": "full"}}))
    assert published.status == "SUCCEEDED", published.cause
    assert published.output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    (received,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(received["Body"]) == {"disk": "full"}

    service.create_topic("audit")  # not routed: the local topic
    local = run_local(task("arn:aws:states:::sns:publish", {"TopicArn": service.topic_arn("audit"), "Message": "x"}))
    assert local.status == "SUCCEEDED"
    assert [m["Message"] for m in service.list_messages("audit")] == ["x"]

    nowhere = run_local(task("arn:aws:states:::sns:publish", {"TopicArn": topic + "-gone", "Message": "x"}))
    assert nowhere.error == "SNS.NotFoundException", nowhere.cause


def test_routed_dynamodb_tables_are_read_and_written_through_boto3(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(routing.ROUTES_VARIABLE, "dynamodb:*")
    boto3.client("dynamodb", endpoint_url=aws, region_name="us-east-1").create_table(
        TableName="Orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {"id": {"S": "o-1"}, "total": {"N": "12"}}
    put = run_local(task("arn:aws:states:::dynamodb:putItem", {"TableName": "Orders", "Item": item}))
    assert put.status == "SUCCEEDED", put.cause
    got = run_local(task("arn:aws:states:::dynamodb:getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-1"}}}))
    assert got.output["Item"] == item
    assert got.output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    sdk = run_local(
        task("arn:aws:states:::aws-sdk:dynamodb:getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-1"}}})
    )
    assert sdk.output == {"Item": item}  # aws-sdk: the response without metadata

    again = {"TableName": "Orders", "Item": item, "ConditionExpression": "attribute_not_exists(id)"}
    refused = run_local(task("arn:aws:states:::dynamodb:putItem", again))
    assert refused.error == "DynamoDB.ConditionalCheckFailedException", refused.cause
