"""Any other ``arn:aws:states:::aws-sdk:<service>:<action>``: the real AWS service through boto3, if asked.

Services this engine provides locally (DynamoDB tables, SNS topics, Step Functions itself: ``sfn``) have
integrations of their own.
For the rest, a Task fails with an error naming the integration, unless the configuration says to call
AWS: ``ORCHESTRATOR_AWS_SDK=boto3`` (credentials and region as boto3 finds them), or
``ORCHESTRATOR_AWS_ENDPOINT_URL`` (an endpoint such as a moto or LocalStack server, or a VPC endpoint).
Parameters are the API's own (PascalCase), the result is the API's response without its metadata,
and an error is ``<Service>.<Error>Exception`` as Step Functions names them (``S3.NoSuchKeyException``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import os
import re
from typing import Any

from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource
from orchestrator.integrations.services import IntegrationError, register, sdk_error_name

NOT_CONFIGURED = "Orchestrator.IntegrationNotConfigured"


class AwsSdkIntegration:
    name = "aws-sdk"

    def handles(self, resource: Resource) -> bool:
        return resource.service.startswith("aws-sdk:")

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        resource_service = request.resource.split("aws-sdk:", 1)[1].split(":", 1)[0]
        action = request.resource.rsplit(":", 1)[1].split(".", 1)[0]
        endpoint = os.environ.get("ORCHESTRATOR_AWS_ENDPOINT_URL")
        if not endpoint and os.environ.get("ORCHESTRATOR_AWS_SDK") != "boto3":
            raise IntegrationError(
                NOT_CONFIGURED,
                (
                    f"The aws-sdk:{resource_service}:{action} integration calls AWS, and this engine is not configured "
                    "to: set ORCHESTRATOR_AWS_SDK=boto3 (with AWS credentials) or ORCHESTRATOR_AWS_ENDPOINT_URL"
                ),
            )
        client = _client(resource_service, endpoint or None, os.environ.get("ORCHESTRATOR_REGION", "us-east-1"))
        method = getattr(client, _snake(action), None)
        if method is None:
            raise IntegrationError(
                f"{_service_name(client)}.UnknownOperationException",
                f"The {resource_service} API has no action '{action}'",
            )
        parameters = request.payload if isinstance(request.payload, dict) else {}
        try:
            response = method(**parameters)
        except Exception as exc:
            raise _error(client, exc) from None
        response.pop("ResponseMetadata", None)
        return _plain(response)


@functools.cache
def _client(service: str, endpoint: str | None, region: str) -> Any:
    import boto3

    return boto3.client(_BOTO_NAMES.get(service, service), endpoint_url=endpoint, region_name=region)


# Step Functions' service names that differ from boto3's.
_BOTO_NAMES = {"sfn": "stepfunctions", "states": "stepfunctions", "lambda": "lambda"}


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def _service_name(client: Any) -> str:
    words = re.split(r"[\s-]+", client.meta.service_model.service_id)
    return "".join(w[:1].upper() + w[1:].lower() for w in words if w)


def _error(client: Any, exc: Exception) -> IntegrationError:
    response = getattr(exc, "response", None)
    # botocore names a modeled error after its shape (QueueDoesNotExist), as Step Functions does; the
    # wire code may be another (AWS.SimpleQueueService.NonExistentQueue)
    modeled = type(exc).__name__ if type(exc).__name__ != "ClientError" else None
    code = modeled or (response or {}).get("Error", {}).get("Code") or type(exc).__name__
    message = (response or {}).get("Error", {}).get("Message") or str(exc)
    return IntegrationError(sdk_error_name(_service_name(client), code), message)


def _plain(value: Any) -> Any:
    """The response as JSON: timestamps as ISO text, bytes as base64, streams read."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if hasattr(value, "read"):
        data = value.read()
        return data.decode() if isinstance(data, bytes) else data
    return value


register(AwsSdkIntegration())
