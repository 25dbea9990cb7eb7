"""Local SQS queues: create, list and delete them, send, receive and delete messages.

Results use SQS's names (``QueueUrl``, ``MessageId``, ``ReceiptHandle``, ``Body``); errors carry
SQS's codes (``AWS.SimpleQueueService.NonExistentQueue``, ``InvalidParameterValue``, ...). A queue
is named by its name, its URL or its ARN. This is how a consumer answers a ``.waitForTaskToken``
message: receive it, read the token from its body, call SendTaskSuccess, delete the message.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from orchestrator.integrations import sqs
from orchestrator.integrations.services import IntegrationError
from orchestrator.service.base import ServiceBase, ServiceError, utcnow
from orchestrator.store import queues as store

MAX_RECEIVE = 10  # SQS's MaxNumberOfMessages
MAX_VISIBILITY_TIMEOUT = 43_200  # twelve hours, SQS's limit
MAX_WAIT_SECONDS = 20  # SQS's longest long poll
# A long poll looks again soon at first, then every half second: a poll is one indexed query.
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5


def _refused(exc: IntegrationError) -> ServiceError:
    # The integration's cause reads "<message> (Service: AmazonSQS; ...; Error Code: <code>; ...)".
    message, _, details = exc.cause.partition(" (Service: AmazonSQS;")
    code = details.split("Error Code: ", 1)[-1].split(";", 1)[0] if details else exc.error
    return ServiceError(code, message)


def _no_queue() -> ServiceError:
    return ServiceError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")


class QueueActions(ServiceBase):
    def queue_url(self, name: str) -> str:
        return sqs.queue_url(self.settings, name)

    def create_queue(
        self,
        name: str,
        *,
        visibility_timeout: int = sqs.DEFAULT_VISIBILITY_TIMEOUT,
        delay_seconds: int = 0,
        retention_seconds: int = sqs.DEFAULT_RETENTION_SECONDS,
        content_based_deduplication: bool = False,
    ) -> dict[str, Any]:
        """Create a queue (idempotent, as SQS's CreateQueue); a name ending in ``.fifo`` makes a FIFO queue."""
        if not sqs.QUEUE_NAME.match(name.removesuffix(".fifo")):
            raise ServiceError(
                "InvalidParameterValue",
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            )
        _check_range("VisibilityTimeout", visibility_timeout, 0, MAX_VISIBILITY_TIMEOUT)
        _check_range("DelaySeconds", delay_seconds, 0, sqs.MAX_DELAY_SECONDS)
        _check_range("MessageRetentionPeriod", retention_seconds, 60, 1_209_600)
        attributes: dict[str, Any] = {
            "VisibilityTimeout": str(visibility_timeout),
            "DelaySeconds": str(delay_seconds),
            "MessageRetentionPeriod": str(retention_seconds),
        }
        if sqs.is_fifo(name):
            attributes["FifoQueue"] = "true"
            attributes["ContentBasedDeduplication"] = "true" if content_based_deduplication else "false"
        elif content_based_deduplication:
            raise ServiceError("InvalidAttributeName", "ContentBasedDeduplication is for FIFO queues only")
        with self._transaction() as session:
            row = store.create_queue(session, name, attributes)
        if dict(row.attributes or {}) != attributes:
            raise ServiceError("QueueAlreadyExists", f"A queue named {name} already exists with different attributes")
        return {"QueueUrl": self.queue_url(name)}

    def list_queues(self, prefix: str = "") -> list[dict[str, Any]]:
        """Every queue with its attributes and how many messages it holds, visible and in flight."""
        with self._transaction() as session:
            rows = store.list_queues(session, utcnow(), prefix)
        return [
            {
                "QueueUrl": self.queue_url(r.name),
                "QueueArn": sqs.queue_arn(self.settings, r.name),
                "Name": r.name,
                "Attributes": dict(r.attributes or {}),
                "ApproximateNumberOfMessages": r.visible,
                "ApproximateNumberOfMessagesNotVisible": r.not_visible,
                "CreatedAt": r.created_at,
            }
            for r in rows
        ]

    def delete_queue(self, queue: str) -> dict[str, Any]:
        """Delete a queue and its messages."""
        with self._transaction() as session:
            row = store.queue_by_name(session, _name(queue))
            if row is None:
                raise _no_queue()
            store.delete_queue(session, row.id)
        return {}

    def purge_queue(self, queue: str) -> dict[str, Any]:
        with self._transaction() as session:
            row = store.queue_by_name(session, _name(queue))
            if row is None:
                raise _no_queue()
            return {"Purged": store.purge(session, row.id)}

    def send_message(self, queue: str, body: Any, **parameters: Any) -> dict[str, Any]:
        """SendMessage: ``body`` text (another JSON value is sent as its JSON text); ``parameters``
        SQS's (DelaySeconds, MessageAttributes, MessageGroupId, MessageDeduplicationId)."""
        try:
            message = sqs.parse_message({"QueueUrl": queue, "MessageBody": body, **parameters})
            result = sqs.send_local(self.settings.database_url, message, execution_arn=None, now=utcnow())
        except IntegrationError as exc:
            raise _refused(exc) from None
        return {k: v for k, v in result.items() if not k.startswith("Sdk")}

    def receive_messages(
        self, queue: str, *, max_messages: int = 1, visibility_timeout: int | None = None, wait_seconds: int = 0
    ) -> dict[str, Any]:
        """ReceiveMessage: up to ``max_messages`` messages, hidden from other receivers for the
        queue's visibility timeout (or ``visibility_timeout``). With ``wait_seconds`` (long polling,
        20 at most), wait that long for a message when the queue has none."""
        _check_range("MaxNumberOfMessages", max_messages, 1, MAX_RECEIVE)
        _check_range("WaitTimeSeconds", wait_seconds, 0, MAX_WAIT_SECONDS)
        if visibility_timeout is not None:
            _check_range("VisibilityTimeout", visibility_timeout, 0, MAX_VISIBILITY_TIMEOUT)
        deadline = time.monotonic() + wait_seconds
        pause = FIRST_POLL_SECONDS
        while True:
            received = self._receive(queue, max_messages, visibility_timeout)
            if received["Messages"] or time.monotonic() + pause > deadline:
                return received
            time.sleep(pause)
            pause = min(pause * 2, MAX_POLL_SECONDS)

    def _receive(self, queue: str, max_messages: int, visibility_timeout: int | None) -> dict[str, Any]:
        now = utcnow()
        with self._transaction() as session:
            row = store.queue_by_name(session, _name(queue))
            if row is None:
                raise _no_queue()
            attributes = row.attributes or {}
            hide = visibility_timeout if visibility_timeout is not None else int(attributes["VisibilityTimeout"])
            retention = int(attributes.get("MessageRetentionPeriod", sqs.DEFAULT_RETENTION_SECONDS))
            taken = store.receive(
                session,
                row,
                limit=max_messages,
                visibility=dt.timedelta(seconds=hide),
                retention=dt.timedelta(seconds=retention),
                now=now,
            )
        return {"Messages": [_received(m) for m in taken]}

    def delete_message(self, queue: str, receipt_handle: str) -> dict[str, Any]:
        """DeleteMessage. A handle of an earlier receive (the message was received again since)
        deletes nothing and is no error, as on SQS; ``Deleted`` says whether a message went."""
        with self._transaction() as session:
            row = store.queue_by_name(session, _name(queue))
            if row is None:
                raise _no_queue()
            return {"Deleted": store.delete_message(session, row.id, receipt_handle)}


def _name(queue: str) -> str:
    try:
        return sqs.queue_name(queue)
    except IntegrationError:
        raise _no_queue() from None


def _check_range(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ServiceError(
            "InvalidParameterValue", f"Value {value} for parameter {name} is invalid. Reason: must be {low} to {high}."
        )


def _millis(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return str(int(moment.timestamp() * 1000))


def _received(row: Any) -> dict[str, Any]:
    """A received message in ReceiveMessage's shape."""
    attributes = {
        "SentTimestamp": _millis(row.sent_at),
        "ApproximateReceiveCount": str(row.receive_count),
        "ApproximateFirstReceiveTimestamp": _millis(row.first_received_at),
    }
    if row.group_id is not None:
        attributes["MessageGroupId"] = row.group_id
        attributes["MessageDeduplicationId"] = row.deduplication_id
        attributes["SequenceNumber"] = row.sequence_number
    message: dict[str, Any] = {
        "MessageId": row.message_id,
        "ReceiptHandle": row.receipt_handle,
        "MD5OfBody": row.md5_of_body,
        "Body": row.body,
        "Attributes": attributes,
    }
    if row.message_attributes:
        message["MD5OfMessageAttributes"] = sqs.md5_of_attributes(row.message_attributes)
        message["MessageAttributes"] = dict(row.message_attributes)
    return message
