"""Local SNS topics: create, list and delete them, subscribe and unsubscribe, publish, and read back
what was published and how each delivery went.

Results use SNS's names (``TopicArn``, ``SubscriptionArn``, ``MessageId``); errors carry SNS's codes
(``NotFound``, ``InvalidParameter``). A topic is named by its name or its ARN. Publishing hands the
deliveries to the workers when this process can publish, and otherwise delivers them itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.integrations import sns, subscribers
from orchestrator.integrations.services import IntegrationError
from orchestrator.service.base import ServiceBase, ServiceError, utcnow
from orchestrator.store import topics as store

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
PROTOCOLS = ("http", "https", "python")


class TopicActions(ServiceBase):
    # -- topics ----------------------------------------------------------------------------------------

    def topic_arn(self, name: str) -> str:
        return sns.topic_arn(self.settings, name)

    def create_topic(
        self, name: str, *, content_based_deduplication: bool = False, delivery_policy: str | None = None
    ) -> dict[str, Any]:
        """Create a topic (idempotent, as SNS's CreateTopic); a name ending in ``.fifo`` makes a FIFO topic."""
        _check_topic_name(name)
        attributes: dict[str, Any] = {}
        if sns.is_fifo(name):
            attributes["FifoTopic"] = "true"
            attributes["ContentBasedDeduplication"] = "true" if content_based_deduplication else "false"
        elif content_based_deduplication:
            raise ServiceError("InvalidParameter", "Invalid parameter: ContentBasedDeduplication (FIFO topics only)")
        if delivery_policy is not None:
            attributes["DeliveryPolicy"] = _checked_policy(delivery_policy)
        with self._transaction() as session:
            topic = store.create_topic(session, name=name, arn=self.topic_arn(name), attributes=attributes)
        return {"TopicArn": topic.arn}

    def list_topics(self) -> list[dict[str, Any]]:
        with self._transaction() as session:
            rows = store.list_topics(session)
        return [
            {
                "TopicArn": r.arn,
                "Name": r.name,
                "Attributes": dict(r.attributes or {}),
                "Subscriptions": r.subscriptions,
                "Messages": r.messages,
                "CreatedAt": r.created_at,
            }
            for r in rows
        ]

    def delete_topic(self, topic: str) -> dict[str, Any]:
        """Delete a topic with its subscriptions and messages (deleting a missing topic is not an error)."""
        with self._transaction() as session:
            row = store.topic_by_name(session, _name_of(topic))
            if row is not None:
                store.delete_topic(session, row.id)
        return {}

    # -- subscriptions -----------------------------------------------------------------------------

    def subscribe(
        self,
        topic: str,
        *,
        protocol: str,
        endpoint: str,
        raw_message_delivery: bool = False,
        delivery_policy: str | None = None,
    ) -> dict[str, Any]:
        """Subscribe a webhook (``http``/``https``: its URL) or a Python function (``python``: a
        ``@subscriber`` name or ``module:function``). Subscribing the same endpoint twice is harmless."""
        _check_endpoint(protocol, endpoint)
        attributes: dict[str, Any] = {}
        if raw_message_delivery:
            attributes["RawMessageDelivery"] = "true"
        if delivery_policy is not None:
            attributes["DeliveryPolicy"] = _checked_policy(delivery_policy)
        with self._transaction() as session:
            row = self._topic(session, topic)
            arn = sns.subscription_arn(row.arn, protocol, endpoint)
            store.add_subscription(
                session, topic_id=row.id, arn=arn, protocol=protocol, endpoint=endpoint, attributes=attributes
            )
        return {"SubscriptionArn": arn}

    def unsubscribe(self, subscription_arn: str) -> dict[str, Any]:
        with self._transaction() as session:
            row = store.subscription_by_arn(session, subscription_arn)
            if row is None:
                raise ServiceError("NotFound", "Subscription does not exist")
            store.delete_subscription(session, row.id)
        return {}

    def list_subscriptions(self, topic: str) -> list[dict[str, Any]]:
        with self._transaction() as session:
            row = self._topic(session, topic)
            found = store.subscriptions_of(session, row.id)
        return [
            {
                "SubscriptionArn": s.arn,
                "TopicArn": row.arn,
                "Protocol": s.protocol,
                "Endpoint": s.endpoint,
                "Attributes": dict(s.attributes or {}),
            }
            for s in found
        ]

    # -- messages --------------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        message: str,
        *,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> dict[str, Any]:
        """Publish as SNS's Publish does; returns ``MessageId`` (and ``SequenceNumber`` for FIFO)."""
        parameters: dict[str, Any] = {"TopicArn": self.topic_arn(_name_of(topic)), "Message": message}
        optional = {
            "Subject": subject,
            "MessageAttributes": message_attributes,
            "MessageGroupId": message_group_id,
            "MessageDeduplicationId": message_deduplication_id,
        }
        parameters.update({k: v for k, v in optional.items() if v is not None})
        try:
            publication = sns.parse_publication(parameters)
            with self._transaction() as session:
                published = sns.record(session, publication, execution_arn=None, now=utcnow())
                messages = self._queue(session, published, publication.structure)
        except IntegrationError as exc:
            raise ServiceError(exc.error.removeprefix("SNS.").removesuffix("Exception"), exc.cause) from None
        if self.publishing:
            self._publish_after_commit(messages)
        else:
            sns.deliver_now(self.settings.database_url, published.deliveries, publication.structure)
        result = {"MessageId": published.message_id}
        if published.sequence_number is not None:
            result["SequenceNumber"] = published.sequence_number
        return result

    def _queue(self, session: Session, published: sns.Published, structure: str | None) -> list[Any]:
        if not self.publishing:
            return []
        from orchestrator.runtime import deliveries

        return deliveries.enqueue(session, self.settings, published.deliveries, structure, utcnow())

    def list_messages(self, topic: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """A topic's messages, newest first, each with its deliveries."""
        with self._transaction() as session:
            row = self._topic(session, topic)
            found = store.messages_of(session, row.id, limit)
            by_message: dict[str, list[dict[str, Any]]] = {}
            for d in store.deliveries_of(session, topic_id=row.id):
                by_message.setdefault(d.message_id, []).append(_delivery(d))
        return [
            {
                "MessageId": m.id,
                "TopicArn": row.arn,
                "Subject": m.subject,
                "Message": m.message,
                "MessageAttributes": dict(m.message_attributes or {}),
                "ExecutionArn": m.execution_arn,
                "PublishedAt": m.published_at,
                "Deliveries": by_message.get(m.id, []),
            }
            for m in found
        ]

    def list_deliveries(self, topic: str) -> list[dict[str, Any]]:
        """Every delivery of a topic's messages, oldest message first."""
        with self._transaction() as session:
            row = self._topic(session, topic)
            return [_delivery(d) for d in store.deliveries_of(session, topic_id=row.id)]

    # -- helpers -------------------------------------------------------------------------------------

    def _topic(self, session: Session, topic: str) -> Any:
        row = store.topic_by_name(session, _name_of(topic))
        if row is None:
            raise ServiceError("NotFound", f"Topic does not exist: {topic}")
        return row


def _delivery(row: Any) -> dict[str, Any]:
    return {
        "MessageId": row.message_id,
        "SubscriptionArn": row.subscription_arn,
        "Protocol": row.protocol,
        "Endpoint": row.endpoint,
        "Status": row.status,
        "Attempts": row.attempts,
        "LastAttemptAt": row.last_attempt_at,
        "LastError": row.last_error,
        "DeliveredAt": row.delivered_at,
    }


def _name_of(topic: str) -> str:
    """A topic's name, from its name or its ARN."""
    return topic.rsplit(":", 1)[-1] if topic.startswith("arn:") else topic


def _check_topic_name(name: str) -> None:
    if not isinstance(name, str) or not _TOPIC_NAME.match(name.removesuffix(".fifo")) or len(name) > 256:
        raise ServiceError(
            "InvalidParameter",
            "Invalid parameter: Topic Name (1 to 256 letters, digits, hyphens and underscores; "
            "a FIFO topic's name ends in .fifo)",
        )


def _check_endpoint(protocol: str, endpoint: str) -> None:
    if protocol not in PROTOCOLS:
        raise ServiceError(
            "InvalidParameter", f"Invalid parameter: Protocol '{protocol}' (one of {', '.join(PROTOCOLS)})"
        )
    if protocol in ("http", "https"):
        if not endpoint.startswith(f"{protocol}://") or len(endpoint) <= len(protocol) + 3:
            raise ServiceError("InvalidParameter", f"Invalid parameter: Endpoint must be an {protocol}:// URL")
        return
    try:
        subscribers.resolve(endpoint)
    except LookupError as exc:
        raise ServiceError("InvalidParameter", f"Invalid parameter: Endpoint: {exc}") from None


def _checked_policy(policy: str) -> str:
    try:
        sns.parse_delivery_policy(policy)
    except (ValueError, TypeError) as exc:
        raise ServiceError("InvalidParameter", f"Invalid parameter: DeliveryPolicy: {exc}") from None
    return policy if isinstance(policy, str) else json.dumps(policy)
