"""SQS: ``arn:aws:states:::sqs:sendMessage`` (and ``.waitForTaskToken``) on local queues, or on SQS
(or any SQS-compatible endpoint) through boto3 when `routing` says so.

A QueueUrl names a local queue by its last path segment (``https://sqs.<region>.amazonaws.com/
<account>/<name>``; the host, region and account are not compared, so a definition written for AWS
runs unchanged); a queue ARN works too. The request takes SQS's SendMessage parameters
(``QueueUrl``, ``MessageBody``, ``DelaySeconds``, ``MessageAttributes``, ``MessageGroupId``,
``MessageDeduplicationId``); a ``MessageBody`` that is not text is sent as its JSON text, as Step
Functions does. The result is what Step Functions' optimized integration returns: SQS's answer
(``MD5OfMessageBody``, ``MD5OfMessageAttributes``, ``MessageId``, ``SequenceNumber`` on a FIFO
queue) with the SDK's ``SdkHttpMetadata`` and ``SdkResponseMetadata``. Errors are named as Step
Functions reports SQS's: ``SQS.QueueDoesNotExistException``, and ``SQS.AmazonSQSException`` for a
request SQS refuses (MissingParameter, InvalidParameterValue, ...), with the SDK's cause text.

Consumers read a local queue with ``orchestrator queues receive`` or `orchestrator.client.Client`'s
``receive_messages`` and delete what they handled (``delete_message``), as with SQS.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import re
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from orchestrator import config
from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource
from orchestrator.integrations import routing, services
from orchestrator.integrations.services import IntegrationError
from orchestrator.store import queues
from orchestrator.store.db import session_scope

MAX_MESSAGE_BYTES = 262_144
MAX_DELAY_SECONDS = 900
MAX_ATTRIBUTES = 10
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_RETENTION_SECONDS = 345_600  # four days, SQS's default MessageRetentionPeriod
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# The characters SQS accepts in a message: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF
_INVALID_CHARACTER = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sqs_error(code: str, message: str, *, exception: str = "AmazonSQSException", status: int = 400) -> IntegrationError:
    """An SQS error as Step Functions reports it: ``SQS.<Exception>`` and the SDK's cause text."""
    cause = (
        f"{message} (Service: AmazonSQS; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)"
    )
    return IntegrationError(f"SQS.{exception}", cause)


def no_such_queue() -> IntegrationError:
    return sqs_error(
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
        exception="QueueDoesNotExistException",
    )


def _invalid(message: str) -> IntegrationError:
    return sqs_error("InvalidParameterValue", message)


def _missing(name: str) -> IntegrationError:
    return sqs_error("MissingParameter", f"The request must contain the parameter {name}.")


# -- the SendMessage request --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """A validated SendMessage request."""

    queue_name: str
    body: str
    delay_seconds: int | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    group_id: str | None = None
    deduplication_id: str | None = None


def parse_message(parameters: Any) -> Message:
    """Validate a Task's Parameters as SQS validates a SendMessage request."""
    if not isinstance(parameters, dict) or parameters.get("QueueUrl") is None:
        raise _missing("QueueUrl")
    if parameters.get("MessageBody") is None:
        raise _missing("MessageBody")
    return Message(
        queue_name=queue_name(parameters["QueueUrl"]),
        body=message_body(parameters["MessageBody"]),
        delay_seconds=_delay(parameters.get("DelaySeconds")),
        attributes=check_attributes(parameters.get("MessageAttributes")),
        group_id=_optional_text(parameters.get("MessageGroupId"), "MessageGroupId"),
        deduplication_id=_optional_text(parameters.get("MessageDeduplicationId"), "MessageDeduplicationId"),
    )


def queue_name(queue: Any) -> str:
    """The queue a QueueUrl (``https://host/<account>/<name>``) or queue ARN names: its last part."""
    if not isinstance(queue, str) or not queue:
        raise _invalid("Value for parameter QueueUrl is invalid. Reason: Must be a non-empty string.")
    if queue.startswith("arn:"):
        parts = queue.split(":")
        name = parts[5] if len(parts) == 6 and parts[2] == "sqs" else ""
    else:
        name = queue.rstrip("/").rsplit("/", 1)[-1]
    if not QUEUE_NAME.match(name.removesuffix(".fifo")):
        raise no_such_queue()
    return name


def queue_url(settings: config.Settings, name: str) -> str:
    """A local queue's URL, in AWS's form (so a definition written for AWS names it unchanged)."""
    return f"https://sqs.{settings.region}.amazonaws.com/{settings.account}/{name}"


def queue_arn(settings: config.Settings, name: str) -> str:
    return f"arn:aws:sqs:{settings.region}:{settings.account}:{name}"


def is_fifo(name: str) -> bool:
    return name.endswith(".fifo")


def message_body(body: Any) -> str:
    """SendMessage's MessageBody: text as it is, any other JSON value as its JSON text."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    if not text:
        raise _missing("MessageBody")
    if len(text.encode()) > MAX_MESSAGE_BYTES:
        raise _invalid(
            f"One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_BYTES} bytes."
        )
    if _INVALID_CHARACTER.search(text):
        raise sqs_error(
            "InvalidMessageContents",
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
            "#xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    return text


def _delay(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DELAY_SECONDS:
        raise _invalid(
            f"Value {value} for parameter DelaySeconds is invalid. Reason: must be between 0 and {MAX_DELAY_SECONDS}."
        )
    return value


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise _invalid(f"Value {value} for parameter {name} is invalid. Reason: must be 1 to 128 characters.")
    return value


def check_attributes(attributes: Any) -> dict[str, Any]:
    """MessageAttributes as SQS checks them: at most 10, each with a DataType of String, Number or
    Binary (``Number.float`` and the like) and its StringValue or BinaryValue (base64 text)."""
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise _invalid("The request has an invalid MessageAttributes parameter.")
    if len(attributes) > MAX_ATTRIBUTES:
        raise _invalid(f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10].")
    for name, value in attributes.items():
        data_type = value.get("DataType") if isinstance(value, dict) else None
        if not isinstance(data_type, str) or not data_type:
            raise _invalid(f"The message attribute '{name}' must contain non-empty message attribute type.")
        kind = data_type.split(".", 1)[0]
        if kind not in ("String", "Number", "Binary"):
            raise _invalid(
                f"The type of message (user) attribute '{name}' is invalid. You must use only the following "
                "supported type prefixes: Binary, Number, String."
            )
        value_field = "BinaryValue" if kind == "Binary" else "StringValue"
        if not isinstance(value.get(value_field), str) or not value[value_field]:
            raise _invalid(f"The message attribute '{name}' must contain non-empty message attribute value.")
    return dict(attributes)


# -- checksums and the result --------------------------------------------------------------------------------


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, Any]) -> str | None:
    """SQS's MD5OfMessageAttributes: over the attributes sorted by name, each as its length-prefixed
    name, type and value, with a transport byte (1 text, 2 binary) before the value."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        digest.update(_prefixed(name.encode()) + _prefixed(data_type.encode()))
        if data_type.startswith("Binary"):
            digest.update(b"\x02" + _prefixed(base64.b64decode(value["BinaryValue"])))
        else:
            digest.update(b"\x01" + _prefixed(value["StringValue"].encode()))
    return digest.hexdigest()


def _prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def send_result(
    *, md5_body: str, md5_attributes: str | None, message_id: str, sequence_number: str | None, now: dt.datetime
) -> dict[str, Any]:
    """What Step Functions' ``sqs:sendMessage`` returns: SQS's answer with the SDK's HTTP metadata."""
    answer: dict[str, Any] = {}
    if md5_attributes is not None:
        answer["MD5OfMessageAttributes"] = md5_attributes
    answer["MD5OfMessageBody"] = md5_body
    answer["MessageId"] = message_id
    if sequence_number is not None:
        answer["SequenceNumber"] = sequence_number
    request_id = str(uuid.uuid4())
    length = str(len(json.dumps(answer, separators=(",", ":"))))  # SQS's JSON answer, as its Content-Length says
    date = format_datetime(now.astimezone(dt.UTC), usegmt=True)
    return {
        **answer,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "connection": ["keep-alive"],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": ["application/x-amz-json-1.0"],
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/x-amz-json-1.0",
                "Date": date,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


# -- sending to a local queue ---------------------------------------------------------------------------------


def send_local(database_url: str, message: Message, *, execution_arn: str | None, now: dt.datetime) -> dict[str, Any]:
    """Store ``message`` in its local queue; returns SendMessage's result. Raises IntegrationError."""
    try:
        with session_scope(database_url) as session:
            queue = queues.queue_by_name(session, message.queue_name)
            if queue is None:
                raise no_such_queue()
            group_id, deduplication_id = _fifo_ids(queue, message)
            delay = message.delay_seconds
            if delay is None:
                delay = int((queue.attributes or {}).get("DelaySeconds", 0))
            sent = queues.send(
                session,
                queue,
                body=message.body,
                md5_of_body=md5_of_body(message.body),
                attributes=message.attributes,
                delay=dt.timedelta(seconds=delay),
                group_id=group_id,
                deduplication_id=deduplication_id,
                execution_arn=execution_arn,
                now=now,
            )
    except SQLAlchemyError as exc:
        raise sqs_error("InternalError", f"The local SQS service cannot use its database: {exc}", status=500) from None
    return send_result(
        md5_body=md5_of_body(message.body),
        md5_attributes=md5_of_attributes(message.attributes),
        message_id=sent.message_id,
        sequence_number=sent.sequence_number,
        now=now,
    )


def _fifo_ids(queue: Any, message: Message) -> tuple[str | None, str | None]:
    """A FIFO queue's group and deduplication ids (checked as SQS checks them); none for a standard queue."""
    if not is_fifo(queue.name):
        return None, None
    if message.delay_seconds:
        raise _invalid(
            f"Value {message.delay_seconds} for parameter DelaySeconds is invalid. Reason: The request include "
            "parameter that is not valid for this queue type."
        )
    if message.group_id is None:
        raise _missing("MessageGroupId")
    deduplication_id = message.deduplication_id
    if deduplication_id is None:
        if str((queue.attributes or {}).get("ContentBasedDeduplication", "false")).lower() != "true":
            raise _invalid(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
                "provided explicitly"
            )
        deduplication_id = hashlib.sha256(message.body.encode()).hexdigest()
    return message.group_id, deduplication_id


# -- sending through boto3 ---------------------------------------------------------------------------------------


def send_remote(parameters: dict[str, Any], message: Message) -> dict[str, Any]:
    """SendMessage on the SQS endpoint `routing` names; its answer in Step Functions' shape."""
    from botocore.exceptions import BotoCoreError, ClientError

    request: dict[str, Any] = {"QueueUrl": parameters["QueueUrl"], "MessageBody": message.body}
    optional = {
        "DelaySeconds": message.delay_seconds,
        "MessageAttributes": _boto3_attributes(message.attributes) or None,
        "MessageGroupId": message.group_id,
        "MessageDeduplicationId": message.deduplication_id,
    }
    request.update({name: value for name, value in optional.items() if value is not None})
    try:
        response = routing.client("sqs").send_message(**request)
    except ClientError as exc:
        raise remote_error(exc) from None
    except BotoCoreError as exc:
        raise IntegrationError("SQS.SdkClientException", f"Unable to execute HTTP request: {exc}") from None
    answer = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    return {**dict(sorted(answer.items())), **routing.metadata(response)}


def _boto3_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Binary values are base64 text in a definition; boto3 takes their bytes (and encodes them itself)."""
    return {
        name: {**value, "BinaryValue": base64.b64decode(value["BinaryValue"])} if "BinaryValue" in value else value
        for name, value in attributes.items()
    }


def remote_error(exc: Any) -> IntegrationError:
    """A boto3 ClientError of SQS as Step Functions names it."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "InternalError"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
    exceptions = {
        "AWS.SimpleQueueService.NonExistentQueue": "QueueDoesNotExistException",
        "QueueDoesNotExist": "QueueDoesNotExistException",
    }
    return sqs_error(
        code, str(error.get("Message", exc)), exception=exceptions.get(code, "AmazonSQSException"), status=status
    )


@functools.cache
def _schema_ready(database_url: str) -> bool:
    """The embedded SQLite database is created on first use, as ``orchestrator run`` does."""
    if database_url.startswith("sqlite"):
        from orchestrator.store.migrate import upgrade

        upgrade(database_url)
    return True


# -- the integration -------------------------------------------------------------------------------------------------


class SqsSendMessage:
    """``arn:aws:states:::sqs:sendMessage[.waitForTaskToken]``."""

    name = "sqs"

    def handles(self, resource: Resource) -> bool:
        return resource.service == "sqs" and resource.action == "sendMessage"

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        message = parse_message(request.payload)
        try:
            remote = routing.is_remote("sqs", message.queue_name)
        except routing.RoutingError as exc:
            raise IntegrationError("States.Runtime", str(exc)) from None
        if remote:
            return send_remote(request.payload, message)
        settings = config.load()
        _schema_ready(settings.database_url)
        return send_local(settings.database_url, message, execution_arn=context.execution_arn or None, now=utcnow())


INTEGRATION = SqsSendMessage()
services.register(INTEGRATION)
