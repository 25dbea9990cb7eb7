"""SNS: ``arn:aws:states:::sns:publish`` (and ``.waitForTaskToken``) on local topics, and delivering
what they get to their subscribers.

A TopicArn names a local topic by its name (``arn:aws:sns:<region>:<account>:<name>``; the region
and account are not compared, so a definition written for AWS runs unchanged). Publishing stores
the message in ``topic_messages`` and one ``deliveries`` row per subscription, and returns the
result Step Functions' optimized integration returns (``MessageId``, ``SdkHttpMetadata``,
``SdkResponseMetadata``, and ``SequenceNumber`` for a FIFO topic). Errors are named and worded as
Step Functions reports SNS's: ``SNS.NotFoundException``, ``SNS.InvalidParameterException``.

Delivering: a webhook gets a POST of SNS's JSON notification (``Type: Notification``, ``MessageId``,
``TopicArn``, ``Subject``, ``Message``, ``Timestamp``, ``SignatureVersion``, ``MessageAttributes``)
with SNS's ``x-amz-sns-*`` headers. There is no signature: ``Signature``, ``SigningCertURL`` and
``UnsubscribeURL`` are left out, as no AWS key signs these messages. A Python subscriber is called
with the same notification. Every attempt is counted in its ``deliveries`` row; failures are
retried with exponential backoff (the subscription's or topic's ``DeliveryPolicy``) until
DELIVERED or, out of retries, FAILED. In the durable runtime each attempt is a Celery task
(`orchestrator.runtime.deliveries`), so a slow webhook never holds an execution and retries
survive restarts; elsewhere (`run_local`, the CLI without a worker) delivery happens in-process,
at most `LOCAL_MAX_ATTEMPTS` attempts with short pauses.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any, Protocol

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from orchestrator import config
from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource
from orchestrator.integrations import services, subscribers
from orchestrator.integrations.services import IntegrationError
from orchestrator.store import topics
from orchestrator.store.db import session_scope

MAX_MESSAGE_BYTES = 262_144
WEBHOOK_TIMEOUT = 15.0  # seconds SNS waits for an HTTP(S) endpoint to answer
LOCAL_MAX_ATTEMPTS = 3
LOCAL_MAX_DELAY = 1.0
USER_AGENT = "Amazon Simple Notification Service Agent"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- the Publish request ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Publication:
    """A validated SNS Publish request."""

    topic_name: str
    message: str
    subject: str | None = None
    attributes: Mapping[str, Any] | None = None
    structure: str | None = None  # "json": Message holds one message per protocol
    group_id: str | None = None
    deduplication_id: str | None = None


def sns_error(code: str, message: str, status: int = 400) -> IntegrationError:
    """An SNS error as Step Functions reports it: ``SNS.<Code>Exception`` and the SDK's cause text."""
    cause = (
        f"{message} (Service: AmazonSNS; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)"
    )
    return IntegrationError(f"SNS.{code}Exception", cause)


def _invalid(message: str) -> IntegrationError:
    return sns_error("InvalidParameter", f"Invalid parameter: {message}")


def parse_publication(parameters: Any) -> Publication:
    """Validate a Task's Parameters as SNS validates a Publish request."""
    if not isinstance(parameters, dict):
        raise _invalid("TopicArn or TargetArn Reason: no value for required parameter")
    topic_arn = parameters.get("TopicArn", parameters.get("TargetArn"))
    if topic_arn is None:
        raise _invalid("TopicArn or TargetArn Reason: no value for required parameter")
    message = _message_text(parameters.get("Message"))
    structure = parameters.get("MessageStructure")
    if structure is not None:
        if structure != "json":
            raise _invalid("MessageStructure")
        _check_structured(message)
    return Publication(
        topic_name=topic_name(topic_arn),
        message=message,
        subject=_subject(parameters.get("Subject")),
        attributes=_attributes(parameters.get("MessageAttributes")),
        structure=structure,
        group_id=_optional_text(parameters.get("MessageGroupId"), "MessageGroupId"),
        deduplication_id=_optional_text(parameters.get("MessageDeduplicationId"), "MessageDeduplicationId"),
    )


def topic_name(topic_arn: Any) -> str:
    """The topic a TopicArn names (its last part)."""
    parts = topic_arn.split(":") if isinstance(topic_arn, str) else []
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[5]:
        raise _invalid("TopicArn")
    return parts[5]


def _message_text(message: Any) -> str:
    # Step Functions sends a JSON Message (object, array, number...) as its JSON text.
    if message is None:
        raise _invalid("Empty message")
    text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    if not text:
        raise _invalid("Empty message")
    if len(text.encode()) > MAX_MESSAGE_BYTES:
        raise _invalid("Message too long")
    return text


def _check_structured(message: str) -> None:
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        raise _invalid("Message Structure - JSON message body failed to parse") from None
    if not isinstance(document, dict) or not isinstance(document.get("default"), str):
        raise _invalid("Message Structure - No default entry in JSON message body")


def _subject(subject: Any) -> str | None:
    if subject is None:
        return None
    if not isinstance(subject, str) or not subject or len(subject) > 100 or "\n" in subject or "\r" in subject:
        raise _invalid("Subject")
    return subject


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _invalid(name)
    return value


def _attributes(attributes: Any) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise _invalid("MessageAttributes")
    for name, value in attributes.items():
        data_type = value.get("DataType") if isinstance(value, dict) else None
        if not isinstance(data_type, str) or not data_type:
            raise _invalid(f"The message attribute '{name}' must contain non-empty message attribute type.")
        kind = data_type.split(".", 1)[0]
        if kind not in ("String", "Number", "Binary"):
            raise _invalid(
                f"The message attribute '{name}' has an invalid message attribute type, the set of supported "
                "type prefixes is Binary, Number, and String."
            )
        field = "BinaryValue" if kind == "Binary" else "StringValue"
        if not isinstance(value.get(field), str) or not value[field]:
            raise _invalid(
                f"The message attribute '{name}' must contain non-empty message attribute value for message "
                f"attribute type '{data_type}'."
            )
    return dict(attributes)


# -- the Publish result ------------------------------------------------------------------------------------


def publish_result(message_id: str, sequence_number: str | None, now: dt.datetime) -> dict[str, Any]:
    """What Step Functions' ``sns:publish`` returns: SNS's Publish result with the SDK's HTTP metadata."""
    request_id = str(uuid.uuid4())
    # The length of the XML document SNS answers with (what its Content-Length header says).
    length = str(len(_publish_response_xml(message_id, request_id, sequence_number)))
    date = format_datetime(now.astimezone(dt.UTC), usegmt=True)
    result: dict[str, Any] = {
        "MessageId": message_id,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "connection": ["keep-alive"],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": ["text/xml"],
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "text/xml",
                "Date": date,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }
    if sequence_number is not None:
        result["SequenceNumber"] = sequence_number
    return result


def _publish_response_xml(message_id: str, request_id: str, sequence_number: str | None) -> str:
    sequence = f"    <SequenceNumber>{sequence_number}</SequenceNumber>\n" if sequence_number else ""
    return (
        '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">\n'
        "  <PublishResult>\n"
        f"    <MessageId>{message_id}</MessageId>\n"
        f"{sequence}"
        "  </PublishResult>\n"
        "  <ResponseMetadata>\n"
        f"    <RequestId>{request_id}</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</PublishResponse>\n"
    )


# -- storing a publication --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Published:
    message_id: str
    sequence_number: str | None
    deliveries: tuple[int, ...]


def topic_arn(settings: config.Settings, name: str) -> str:
    return f"arn:aws:sns:{settings.region}:{settings.account}:{name}"


def subscription_arn(topic: str, protocol: str, endpoint: str) -> str:
    """A subscription's ARN, the same for the same endpoint (as SNS answers a repeated Subscribe)."""
    return f"{topic}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{topic}|{protocol}|{endpoint}')}"


def record(session: Session, publication: Publication, *, execution_arn: str | None, now: dt.datetime) -> Published:
    """Store a message and one PENDING delivery per subscription of its topic (in the caller's transaction).

    Raises SNS.NotFoundException for an unknown topic and SNS.InvalidParameterException for a
    FIFO publication without its group (or deduplication) id.
    """
    topic = topics.topic_by_name(session, publication.topic_name)
    if topic is None:
        raise sns_error("NotFound", "Topic does not exist", 404)
    sequence_number = _check_fifo(topic, publication, now)
    _subscribe_registered(session, topic)
    message_id = str(uuid.uuid4())
    topics.insert_message(
        session,
        id=message_id,
        topic_id=topic.id,
        subject=publication.subject,
        message=publication.message,
        message_attributes=dict(publication.attributes or {}),
        execution_arn=execution_arn,
        published_at=now,
    )
    subscriptions = [s.id for s in topics.subscriptions_of(session, topic.id)]
    deliveries = topics.insert_deliveries(session, message_id, subscriptions)
    return Published(message_id, sequence_number, tuple(deliveries))


def is_fifo(name: str) -> bool:
    return name.endswith(".fifo")


def _check_fifo(topic: Any, publication: Publication, now: dt.datetime) -> str | None:
    if not is_fifo(topic.name):
        return None
    if publication.group_id is None:
        raise _invalid("The MessageGroupId parameter is required for FIFO topics")
    content_based = str((topic.attributes or {}).get("ContentBasedDeduplication", "false")).lower() == "true"
    if publication.deduplication_id is None and not content_based:
        raise _invalid(
            "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
            "explicitly"
        )
    # SNS's sequence numbers are 20-digit, increasing strings; the time in nanoseconds is one.
    return f"{int(now.timestamp() * 1_000_000_000):020d}"


def _subscribe_registered(session: Session, topic: Any) -> None:
    """Make sure every ``@subscriber`` of this topic known to this process has its subscription."""
    for registration in subscribers.subscribers_for(topic.name):
        topics.add_subscription(
            session,
            topic_id=topic.id,
            arn=subscription_arn(topic.arn, "python", registration.name),
            protocol="python",
            endpoint=registration.name,
            attributes={},
        )


# -- the delivery policy ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """SNS's ``healthyRetryPolicy``: how many retries, and the pause before each."""

    retries: int = 3
    min_delay: float = 1.0
    max_delay: float = 20.0
    backoff: str = "exponential"

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if self.backoff == "linear":
            step = (self.max_delay - self.min_delay) / max(self.retries - 1, 1)
            return min(self.max_delay, self.min_delay + step * (retry - 1))
        return min(self.max_delay, self.min_delay * 2 ** (retry - 1))


def parse_delivery_policy(policy: Any) -> RetryPolicy:
    """A ``DeliveryPolicy`` attribute (JSON text or object) as a RetryPolicy; raises ValueError.

    Read: ``healthyRetryPolicy.numRetries``, ``minDelayTarget``, ``maxDelayTarget`` (seconds; a
    fraction is allowed here) and ``backoffFunction`` (``exponential`` or ``linear``).
    """
    document = json.loads(policy) if isinstance(policy, str) else policy
    if not isinstance(document, dict):
        raise ValueError("a DeliveryPolicy is a JSON object")
    retry = document.get("healthyRetryPolicy", {})
    if not isinstance(retry, dict):
        raise ValueError("healthyRetryPolicy must be an object")
    default = RetryPolicy()
    retries = retry.get("numRetries", default.retries)
    low = retry.get("minDelayTarget", default.min_delay)
    high = retry.get("maxDelayTarget")
    backoff = retry.get("backoffFunction", default.backoff)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 100:
        raise ValueError("numRetries must be an integer from 0 to 100")
    if high is None and _number(low):
        high = max(default.max_delay, low)
    if not _number(low) or not _number(high) or not 0 <= low <= high:
        raise ValueError("minDelayTarget and maxDelayTarget must be numbers with 0 <= minDelayTarget <= maxDelayTarget")
    if backoff not in ("exponential", "linear"):
        raise ValueError("backoffFunction must be exponential or linear")
    return RetryPolicy(retries, float(low), float(high), backoff)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def retry_policy(
    subscription_attributes: Mapping[str, Any] | None, topic_attributes: Mapping[str, Any] | None
) -> RetryPolicy:
    """The subscription's DeliveryPolicy, else the topic's, else the default (3 retries, 1 s doubling to 20 s)."""
    for attributes in (subscription_attributes or {}, topic_attributes or {}):
        if attributes.get("DeliveryPolicy"):
            try:
                return parse_delivery_policy(attributes["DeliveryPolicy"])
            except ValueError:
                break  # checked when it was set; a policy edited by hand since falls back to the default
    return RetryPolicy()


# -- delivering -------------------------------------------------------------------------------------------


def notification(claim: Any, structure: str | None) -> dict[str, Any]:
    """The JSON document SNS POSTs to an HTTP(S) subscriber (a Python subscriber gets it too)."""
    body: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": claim.message_id,
        "TopicArn": claim.topic_arn,
    }
    if claim.subject is not None:
        body["Subject"] = claim.subject
    body["Message"] = message_for(claim.message, structure, claim.protocol)
    body["Timestamp"] = _timestamp(claim.published_at)
    body["SignatureVersion"] = "1"
    if claim.message_attributes:
        body["MessageAttributes"] = {
            name: {"Type": value["DataType"], "Value": value.get("StringValue", value.get("BinaryValue"))}
            for name, value in claim.message_attributes.items()
        }
    return body


def message_for(message: str, structure: str | None, protocol: str) -> str:
    """The message a protocol gets: with MessageStructure json, its own entry or the default one."""
    if structure != "json":
        return message
    document = json.loads(message)
    chosen = document.get(protocol, document["default"])
    return chosen if isinstance(chosen, str) else json.dumps(chosen)


def _timestamp(moment: dt.datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive UTC datetimes
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def send(claim: Any, structure: str | None) -> str | None:
    """Make one delivery attempt; returns None if it was delivered, else what went wrong."""
    document = notification(claim, structure)
    if claim.protocol == "python":
        return _call_subscriber(claim.endpoint, document)
    return _post(claim, document)


def _call_subscriber(endpoint: str, document: dict[str, Any]) -> str | None:
    try:
        subscribers.resolve(endpoint)(document)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _post(claim: Any, document: dict[str, Any]) -> str | None:
    attributes = claim.subscription_attributes or {}
    raw = str(attributes.get("RawMessageDelivery", "false")).lower() == "true"
    headers = {
        "Content-Type": _content_type(attributes, claim.topic_attributes),
        "User-Agent": USER_AGENT,
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": claim.message_id,
        "x-amz-sns-topic-arn": claim.topic_arn,
        "x-amz-sns-subscription-arn": claim.subscription_arn,
        "x-amz-sns-rawdelivery": "true" if raw else "false",
    }
    body = document["Message"] if raw else json.dumps(document, indent=2, ensure_ascii=False)
    try:
        response = _client().post(claim.endpoint, content=body.encode(), headers=headers, timeout=WEBHOOK_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code} {response.reason_phrase}: {response.text[:500]}"


@functools.cache
def _client() -> httpx.Client:
    """One client (and connection pool) per process: making one costs a tenth of a second."""
    from orchestrator.integrations.http import no_cookies

    shared = httpx.Client(cookies=no_cookies())
    atexit.register(shared.close)  # close the pooled connections instead of leaving them to the collector
    return shared


def _content_type(subscription_attributes: Mapping[str, Any], topic_attributes: Mapping[str, Any] | None) -> str:
    for attributes in (subscription_attributes, topic_attributes or {}):
        try:
            policy = json.loads(attributes.get("DeliveryPolicy") or "{}")
            content_type = policy.get("requestPolicy", {}).get("headerContentType")
        except (TypeError, ValueError, AttributeError):
            continue
        if isinstance(content_type, str) and content_type:
            return content_type
    return "text/plain; charset=UTF-8"


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one attempt went: the delivery's status after it, its attempts so far, and the pause
    before the next attempt (None unless PENDING)."""

    status: str
    attempts: int
    retry_in: float | None


def attempt(
    database_url: str,
    delivery_id: int,
    structure: str | None,
    *,
    max_attempts: int | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Attempt | None:
    """Claim, make and record one attempt of a delivery; None if there was nothing to attempt
    (delivered, given up, or an attempt under way elsewhere). ``max_attempts`` lowers the policy's."""
    with session_scope(database_url) as session:
        claim = topics.claim_attempt(session, delivery_id, clock())
    if claim is None:
        return None
    policy = retry_policy(claim.subscription_attributes, claim.topic_attributes)
    limit = min(policy.max_attempts, max_attempts or policy.max_attempts)
    error = send(claim, structure)
    with session_scope(database_url) as session:
        status = topics.finish_attempt(session, delivery_id, error=error, give_up=claim.attempts >= limit, now=clock())
    return Attempt(status, claim.attempts, policy.delay(claim.attempts) if status == "PENDING" else None)


def deliver_now(
    database_url: str,
    delivery_ids: tuple[int, ...],
    structure: str | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Deliver in this process (no worker to hand it to): each delivery at most LOCAL_MAX_ATTEMPTS
    times, pausing between attempts as the policy says but never more than LOCAL_MAX_DELAY."""
    for delivery_id in delivery_ids:
        while True:
            outcome = attempt(database_url, delivery_id, structure, max_attempts=LOCAL_MAX_ATTEMPTS)
            if outcome is None or outcome.retry_in is None:
                break
            sleep(min(outcome.retry_in, LOCAL_MAX_DELAY))


# -- the integration ----------------------------------------------------------------------------------------


@functools.cache
def _schema_ready(database_url: str) -> bool:
    """The embedded SQLite database is created on first use, as ``orchestrator run`` does."""
    if database_url.startswith("sqlite"):
        from orchestrator.store.migrate import upgrade

        upgrade(database_url)
    return True


class DeliveryQueue(Protocol):
    """How the durable runtime delivers a publication (it sits above this layer, and lends it to
    `SnsPublish` with `deliver_through`): a message per delivery, queued in the outbox by the
    transaction that records the publication, and published once it has committed."""

    settings: config.Settings

    def enqueue(
        self, session: Session, delivery_ids: tuple[int, ...], structure: str | None, now: dt.datetime
    ) -> list[Any]: ...

    def publish(self, messages: list[Any]) -> None: ...


class SnsPublish:
    """``arn:aws:states:::sns:publish[.waitForTaskToken]``."""

    name = "sns"

    def __init__(self) -> None:
        self.queue: Callable[[], DeliveryQueue | None] = lambda: None

    def deliver_through(self, queue: Callable[[], DeliveryQueue | None]) -> None:
        """``queue()``: the runtime's queue when the publish runs in one of its workers, else None."""
        self.queue = queue

    def handles(self, resource: Resource) -> bool:
        return resource.service == "sns" and resource.action == "publish"

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        publication = parse_publication(request.payload)
        queue = self.queue()
        settings = queue.settings if queue is not None else config.load()
        now = utcnow()
        try:
            _schema_ready(settings.database_url)
            published, messages = _store(settings, queue, publication, context.execution_arn, now)
        except SQLAlchemyError as exc:
            raise sns_error("InternalError", f"The local SNS service cannot use its database: {exc}", 500) from None
        if queue is not None:
            queue.publish(messages)
        else:
            deliver_now(settings.database_url, published.deliveries, publication.structure)
        return publish_result(published.message_id, published.sequence_number, now)


def _store(
    settings: config.Settings,
    queue: DeliveryQueue | None,
    publication: Publication,
    execution_arn: str,
    now: dt.datetime,
) -> tuple[Published, list[Any]]:
    """Record the publication; in the runtime, also its delivery messages (outbox), in the same transaction."""
    with session_scope(settings.database_url) as session:
        published = record(session, publication, execution_arn=execution_arn or None, now=now)
        if queue is None:
            return published, []
        return published, queue.enqueue(session, published.deliveries, publication.structure, now)


INTEGRATION = SnsPublish()
services.register(INTEGRATION)
