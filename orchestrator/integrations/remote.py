"""Lambda functions, SNS topics and DynamoDB tables that `routing` sends to AWS (or another endpoint),
called through boto3 with the request and result shapes, and the error names, of Step Functions'
integrations.

`route` is asked first for every Task (`invoke.invoke`): for a routed resource it returns the
integration that calls the endpoint, and None for the rest, which stay on the local stand-ins (the
``@handler`` functions, the local topics and tables). SQS queues are routed by `sqs` itself.

- Lambda (``arn:aws:lambda:...:function:NAME`` and ``arn:aws:states:::lambda:invoke``): Invoke with
  the ``Payload`` as JSON; ``lambda:invoke`` returns Lambda's response (``ExecutedVersion``,
  ``Payload`` parsed, ``SdkHttpMetadata``, ``SdkResponseMetadata``, ``StatusCode``), a function ARN
  the payload itself. A function error fails the Task with the function's ``errorType`` (or
  ``Lambda.Unknown`` when it has none) and the error document as cause; Lambda's own refusals are
  ``Lambda.<Code>Exception`` (``Lambda.ResourceNotFoundException``).
- SNS (``sns:publish``): Publish; the result is ``MessageId`` (and ``SequenceNumber``) with the
  SDK's metadata; refusals are ``SNS.<Code>Exception``.
- DynamoDB (``dynamodb:getItem|putItem|updateItem|deleteItem`` and ``aws-sdk:dynamodb:*``): the
  call as written; the optimized actions' results carry the SDK's metadata; refusals are
  ``DynamoDB.<Code>Exception`` (``DynamoDb.`` for aws-sdk, as Step Functions spells them).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource, handler_name
from orchestrator.integrations import routing
from orchestrator.integrations.services import IntegrationError, sdk_error_name


def route(resource: Resource, payload: Any) -> Any | None:
    """The integration that calls the endpoint for this Task, if `routing` sends its resource there."""
    if resource.kind == "lambda" or (resource.service == "lambda" and resource.action == "invoke"):
        return LAMBDA if routing.is_remote("lambda", handler_name(resource, payload)) else None
    if resource.service == "sns" and resource.action == "publish":
        topic = payload.get("TopicArn", payload.get("TargetArn")) if isinstance(payload, dict) else None
        name = topic.rsplit(":", 1)[-1] if isinstance(topic, str) else ""
        return SNS if name and routing.is_remote("sns", name) else None
    if resource.service in ("dynamodb", "aws-sdk:dynamodb"):
        table = payload.get("TableName") if isinstance(payload, dict) else None
        name = table.rsplit("/", 1)[-1] if isinstance(table, str) else ""  # a table ARN ends in table/NAME
        return DYNAMODB if name and routing.is_remote("dynamodb", name) else None
    return None


def _client_error(service: str, exc: Exception) -> IntegrationError:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code") or type(exc).__name__)
    message = str(response.get("Error", {}).get("Message") or exc)
    return IntegrationError(sdk_error_name(service, code), message)


def _call(service: str, error_service: str, method: str, **parameters: Any) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response: dict[str, Any] = getattr(routing.client(service), method)(**parameters)
    except ClientError as exc:
        raise _client_error(error_service, exc) from None
    except BotoCoreError as exc:
        raise IntegrationError(
            f"{error_service}.SdkClientException", f"Unable to execute HTTP request: {exc}"
        ) from None
    return response


def plain(value: Any) -> Any:
    """A boto3 response as JSON: bytes as base64 text, timestamps as ISO text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


# -- Lambda -------------------------------------------------------------------------------------------------


class RemoteLambda:
    name = "lambda (remote)"

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        from orchestrator.engine.resources import parse_resource

        resource = parse_resource(request.resource)
        optimized = resource.kind != "lambda"
        parameters = request.payload if optimized and isinstance(request.payload, dict) else {}
        invocation: dict[str, Any] = {
            "FunctionName": parameters.get("FunctionName") if optimized else resource.arn,
            "Payload": _payload(parameters.get("Payload", {}) if optimized else request.payload),
        }
        for name in ("InvocationType", "Qualifier", "ClientContext", "LogType"):
            if parameters.get(name) is not None:
                invocation[name] = parameters[name]
        response = _call("lambda", "Lambda", "invoke", **invocation)
        payload_text = response["Payload"].read().decode() if "Payload" in response else ""
        payload = _parsed(payload_text)
        if response.get("FunctionError"):
            error = payload.get("errorType") if isinstance(payload, dict) else None
            raise IntegrationError(str(error or "Lambda.Unknown"), payload_text)
        if not optimized:
            return payload
        result: dict[str, Any] = {"ExecutedVersion": response.get("ExecutedVersion", "$LATEST")}
        if response.get("LogResult"):
            result["LogResult"] = response["LogResult"]
        return {**result, "Payload": payload, **routing.metadata(response), "StatusCode": response["StatusCode"]}


def _payload(value: Any) -> bytes:
    # lambda:invoke's Payload may be JSON text already; anything else is sent as its JSON text.
    return (value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))).encode()


def _parsed(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


# -- SNS -------------------------------------------------------------------------------------------------------


class RemoteSns:
    name = "sns (remote)"

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        parameters = dict(request.payload) if isinstance(request.payload, dict) else {}
        message = parameters.get("Message")
        if message is not None and not isinstance(message, str):
            parameters["Message"] = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        response = _call("sns", "SNS", "publish", **parameters)
        return {**plain(response), **routing.metadata(response)}


# -- DynamoDB ------------------------------------------------------------------------------------------------------


class RemoteDynamoDB:
    name = "dynamodb (remote)"

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        from orchestrator.engine.resources import parse_resource

        resource = parse_resource(request.resource)
        optimized = resource.service == "dynamodb"
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", resource.action).lower()
        parameters = request.payload if isinstance(request.payload, dict) else {}
        response = _call("dynamodb", "DynamoDB" if optimized else "DynamoDb", method, **parameters)
        return {**plain(response), **routing.metadata(response)} if optimized else plain(response)


LAMBDA = RemoteLambda()
SNS = RemoteSns()
DYNAMODB = RemoteDynamoDB()
