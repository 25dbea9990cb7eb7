"""Queries on the local SNS service: topics, subscriptions, published messages and their deliveries.

Every function takes the caller's `Session` and never commits. A delivery is attempted under a
claim (`claim_attempt`): the claim counts the attempt before it is made, so an attempt cut short
by a crash still counts, and a second copy of the same delivery message finds nothing to claim
while the first attempt is under way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orchestrator.store.models import Delivery, OutboxMessage, Subscription, Topic, TopicMessage

TP = Topic.__table__
S = Subscription.__table__
M = TopicMessage.__table__
D = Delivery.__table__

# An attempt claimed this long ago and never finished was cut short (its worker died): claim it again.
ATTEMPT_LEASE = dt.timedelta(seconds=90)


# -- topics ----------------------------------------------------------------------------------------------


def create_topic(session: Session, *, name: str, arn: str, attributes: dict[str, Any]) -> Row[Any]:
    """The topic named ``name``, created if it does not exist (creating a topic twice is harmless)."""
    _insert_ignoring_duplicates(session, TP, {"name": name, "arn": arn, "attributes": attributes}, "name")
    row = topic_by_name(session, name)
    assert row is not None
    return row


def topic_by_name(session: Session, name: str) -> Row[Any] | None:
    return session.execute(select(TP).where(TP.c.name == name)).first()


def list_topics(session: Session) -> list[Row[Any]]:
    """Every topic with how many subscriptions and messages it has."""
    subscriptions = select(func.count()).where(S.c.topic_id == TP.c.id).scalar_subquery()
    messages = select(func.count()).where(M.c.topic_id == TP.c.id).scalar_subquery()
    query = select(TP, subscriptions.label("subscriptions"), messages.label("messages")).order_by(TP.c.name)
    return list(session.execute(query))


def delete_topic(session: Session, topic_id: int) -> None:
    """Delete a topic with its subscriptions, messages and deliveries."""
    messages = select(M.c.id).where(M.c.topic_id == topic_id)
    session.execute(delete(D).where(D.c.message_id.in_(messages)))
    session.execute(delete(M).where(M.c.topic_id == topic_id))
    session.execute(delete(S).where(S.c.topic_id == topic_id))
    session.execute(delete(TP).where(TP.c.id == topic_id))


# -- subscriptions -------------------------------------------------------------------------------------


def add_subscription(
    session: Session, *, topic_id: int, arn: str, protocol: str, endpoint: str, attributes: dict[str, Any]
) -> None:
    """Subscribe an endpoint; its ARN is derived from the endpoint, so subscribing twice changes nothing."""
    row = {"topic_id": topic_id, "arn": arn, "protocol": protocol, "endpoint": endpoint, "attributes": attributes}
    _insert_ignoring_duplicates(session, S, row, "arn")


def subscriptions_of(session: Session, topic_id: int) -> list[Row[Any]]:
    return list(session.execute(select(S).where(S.c.topic_id == topic_id).order_by(S.c.id)))


def subscription_by_arn(session: Session, arn: str) -> Row[Any] | None:
    return session.execute(select(S).where(S.c.arn == arn)).first()


def delete_subscription(session: Session, subscription_id: int) -> None:
    session.execute(delete(D).where(D.c.subscription_id == subscription_id))
    session.execute(delete(S).where(S.c.id == subscription_id))


# -- messages and deliveries --------------------------------------------------------------------------


def insert_message(session: Session, **values: Any) -> None:
    session.execute(insert(M), [values])


def insert_deliveries(session: Session, message_id: str, subscription_ids: Sequence[int]) -> list[int]:
    """One PENDING delivery per subscription; returns their ids in the same order."""
    if not subscription_ids:
        return []
    rows = [
        {"message_id": message_id, "subscription_id": s, "status": "PENDING", "attempts": 0} for s in subscription_ids
    ]
    result = session.execute(insert(D).returning(D.c.id, sort_by_parameter_order=True), rows)
    return [int(r[0]) for r in result]


def messages_of(session: Session, topic_id: int, limit: int) -> list[Row[Any]]:
    """A topic's messages, newest first."""
    query = select(M).where(M.c.topic_id == topic_id).order_by(M.c.published_at.desc(), M.c.id).limit(limit)
    return list(session.execute(query))


def deliveries_of(session: Session, *, topic_id: int | None = None, message_id: str | None = None) -> list[Row[Any]]:
    """Deliveries with their subscription's protocol and endpoint, oldest message first."""
    query = (
        select(D, S.c.arn.label("subscription_arn"), S.c.protocol, S.c.endpoint, M.c.published_at)
        .join(S, S.c.id == D.c.subscription_id)
        .join(M, M.c.id == D.c.message_id)
        .order_by(M.c.published_at, D.c.id)
    )
    if topic_id is not None:
        query = query.where(M.c.topic_id == topic_id)
    if message_id is not None:
        query = query.where(D.c.message_id == message_id)
    return list(session.execute(query))


def claim_attempt(session: Session, delivery_id: int, now: dt.datetime) -> Row[Any] | None:
    """Count one more attempt of a PENDING delivery and return what it needs, or None if it is not
    for this caller: delivered or given up, or an attempt under way (claimed, unfinished, recent).

    An unfinished attempt is one whose claim cleared ``last_error`` and that has recorded nothing since.
    """
    claimable = (
        (D.c.id == delivery_id)
        & (D.c.status == "PENDING")
        & ((D.c.attempts == 0) | D.c.last_error.is_not(None) | (D.c.last_attempt_at < now - ATTEMPT_LEASE))
    )
    claimed = session.execute(
        update(D).where(claimable).values(attempts=D.c.attempts + 1, last_attempt_at=now, last_error=None)
    )
    if claimed.rowcount != 1:
        return None
    query = (
        select(
            D.c.id,
            D.c.attempts,
            S.c.arn.label("subscription_arn"),
            S.c.protocol,
            S.c.endpoint,
            S.c.attributes.label("subscription_attributes"),
            TP.c.arn.label("topic_arn"),
            TP.c.attributes.label("topic_attributes"),
            M.c.id.label("message_id"),
            M.c.subject,
            M.c.message,
            M.c.message_attributes,
            M.c.published_at,
        )
        .join(S, S.c.id == D.c.subscription_id)
        .join(M, M.c.id == D.c.message_id)
        .join(TP, TP.c.id == M.c.topic_id)
        .where(D.c.id == delivery_id)
    )
    return session.execute(query).first()


def finish_attempt(session: Session, delivery_id: int, *, error: str | None, give_up: bool, now: dt.datetime) -> str:
    """Record how an attempt went; returns the delivery's status (PENDING: it will be retried)."""
    if error is None:
        values: dict[str, Any] = {"status": "DELIVERED", "delivered_at": now, "last_error": None}
    else:
        # A failed attempt always leaves an error, which is what makes its retry claimable.
        values = {"status": "FAILED" if give_up else "PENDING", "last_error": error[:4000] or "failed"}
    session.execute(update(D).where(D.c.id == delivery_id).values(**values))
    return str(values["status"])


def delivery_status(session: Session, delivery_id: int) -> str | None:
    return session.scalar(select(D.c.status).where(D.c.id == delivery_id))


def touch_outbox(session: Session, outbox_id: int | None, now: dt.datetime) -> None:
    """Mark a delivery's outbox message as just published again (a retry is on its way), so the
    sweeper republishes it only if nothing happens for a whole visibility timeout."""
    if outbox_id is not None:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(published_at=now))


# -- helpers -------------------------------------------------------------------------------------------


def _insert_ignoring_duplicates(session: Session, table: Any, row: dict[str, Any], unique: str) -> None:
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    session.execute(statement.on_conflict_do_nothing(index_elements=[unique]), [row])
