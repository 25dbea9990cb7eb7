"""The queue side of `Client`: receive and delete the messages of ``sqs:sendMessage`` Tasks.

A queue that `integrations.routing` sends to an SQS endpoint (``ORCHESTRATOR_SQS_ENDPOINT_URL`` or
an ``sqs:`` route of ``ORCHESTRATOR_ROUTE_TO_AWS``) is read there through boto3; any other is a
local queue, read through the service layer in this process. Both answer in ReceiveMessage's shape.
"""

from __future__ import annotations

from typing import Any

from orchestrator.integrations import routing, sqs
from orchestrator.integrations.services import IntegrationError
from orchestrator.service import ServiceError


def is_remote(queue_url: str) -> bool:
    try:
        return routing.is_remote("sqs", sqs.queue_name(queue_url))
    except IntegrationError:
        return False  # not a queue's URL: the local service says so in its own words


def receive(queue_url: str, *, max_messages: int, wait_seconds: int, visibility_timeout: int | None) -> dict[str, Any]:
    """ReceiveMessage on the SQS endpoint (with every system and message attribute)."""
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": max_messages,
        "WaitTimeSeconds": wait_seconds,
        "MessageSystemAttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    if visibility_timeout is not None:
        request["VisibilityTimeout"] = visibility_timeout
    try:
        answer = routing.client("sqs").receive_message(**request)
    except ClientError as exc:
        raise _refused(exc) from None
    return {"Messages": answer.get("Messages", [])}


def delete(queue_url: str, receipt_handle: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        routing.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)
    except ClientError as exc:
        raise _refused(exc) from None
    return {"Deleted": True}


def _refused(exc: Any) -> ServiceError:
    error = exc.response.get("Error", {})
    return ServiceError(str(error.get("Code", "InternalError")), str(error.get("Message", exc)))
