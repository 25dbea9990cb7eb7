"""Queries on the local SQS service: queues and their messages.

Every function takes the caller's `Session` and never commits. A message stays in its queue until
a consumer deletes it with the receipt handle of its latest receive; receiving hides it for the
queue's visibility timeout (a consumer that dies without deleting it lets it come back), and hands
out a new receipt handle each time, so a handle of an earlier receive deletes nothing. On
PostgreSQL, concurrent receivers skip the rows another one is taking (``FOR UPDATE SKIP LOCKED``),
so no message goes to two receivers at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, String, and_, cast, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orchestrator.store.models import Queue, QueueMessage

Q = Queue.__table__
M = QueueMessage.__table__
DEDUPLICATION_WINDOW = dt.timedelta(minutes=5)  # SQS FIFO's: a repeated deduplication id within it is dropped


# -- queues ---------------------------------------------------------------------------------------------


def create_queue(session: Session, name: str, attributes: Mapping[str, Any]) -> Row[Any]:
    """The queue named ``name``, created if it does not exist (its attributes are those it was created with)."""
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Q)
    row = {"name": name, "attributes": dict(attributes), "last_sequence": 0}
    session.execute(statement.on_conflict_do_nothing(index_elements=["name"]), [row])
    found = queue_by_name(session, name)
    assert found is not None
    return found


def queue_by_name(session: Session, name: str) -> Row[Any] | None:
    return session.execute(select(Q).where(Q.c.name == name)).first()


def list_queues(session: Session, now: dt.datetime, prefix: str = "") -> list[Row[Any]]:
    """Every queue (whose name starts with ``prefix``) with its counts of visible and in-flight messages."""
    visible = select(func.count()).where(M.c.queue_id == Q.c.id, M.c.visible_at <= now).scalar_subquery()
    hidden = select(func.count()).where(M.c.queue_id == Q.c.id, M.c.visible_at > now).scalar_subquery()
    query = select(Q, visible.label("visible"), hidden.label("not_visible")).order_by(Q.c.name)
    if prefix:
        query = query.where(Q.c.name.startswith(prefix, autoescape=True))
    return list(session.execute(query))


def delete_queue(session: Session, queue_id: int) -> None:
    """Delete a queue with its messages."""
    session.execute(delete(M).where(M.c.queue_id == queue_id))
    session.execute(delete(Q).where(Q.c.id == queue_id))


# -- sending ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: str
    sequence_number: str | None


def send(
    session: Session,
    queue: Row[Any],
    *,
    body: str,
    md5_of_body: str,
    attributes: Mapping[str, Any],
    delay: dt.timedelta,
    group_id: str | None,
    deduplication_id: str | None,
    execution_arn: str | None,
    now: dt.datetime,
) -> Sent:
    """Store a message; a FIFO queue's gets the next sequence number, unless its deduplication id was
    sent within the last five minutes, when the earlier message's id and number are returned instead."""
    sequence: str | None = None
    if group_id is not None:
        if deduplication_id is not None:
            earlier = _duplicate(session, queue.id, deduplication_id, now)
            if earlier is not None:
                return Sent(earlier.message_id, earlier.sequence_number)
        sequence = _next_sequence(session, queue.id)
    message_id = str(uuid.uuid4())
    row = {
        "message_id": message_id,
        "queue_id": queue.id,
        "body": body,
        "message_attributes": dict(attributes),
        "md5_of_body": md5_of_body,
        "group_id": group_id,
        "deduplication_id": deduplication_id,
        "sequence_number": sequence,
        "execution_arn": execution_arn,
        "sent_at": now,
        "visible_at": now + delay,
        "receive_count": 0,
    }
    session.execute(insert(M), [row])
    return Sent(message_id, sequence)


def _duplicate(session: Session, queue_id: int, deduplication_id: str, now: dt.datetime) -> Row[Any] | None:
    query = select(M.c.message_id, M.c.sequence_number).where(
        M.c.queue_id == queue_id, M.c.deduplication_id == deduplication_id, M.c.sent_at > now - DEDUPLICATION_WINDOW
    )
    return session.execute(query.limit(1)).first()


def _next_sequence(session: Session, queue_id: int) -> str:
    # The UPDATE locks the queue's row: senders of one FIFO queue take their numbers one at a time.
    number = session.execute(
        update(Q).where(Q.c.id == queue_id).values(last_sequence=Q.c.last_sequence + 1).returning(Q.c.last_sequence)
    ).scalar_one()
    return f"{number:020d}"


# -- receiving and deleting ---------------------------------------------------------------------------------


def receive(
    session: Session,
    queue: Row[Any],
    *,
    limit: int,
    visibility: dt.timedelta,
    retention: dt.timedelta,
    now: dt.datetime,
) -> list[Row[Any]]:
    """Take up to ``limit`` visible messages, oldest first, and hide them for ``visibility``; each
    gets a new receipt handle and one more receive. In a FIFO queue, a group with a message in
    flight gives none until it is deleted or visible again (SQS's order within a group)."""
    visible = and_(M.c.queue_id == queue.id, M.c.visible_at <= now, M.c.sent_at > now - retention)
    query = select(M.c.id).where(visible)
    if queue.name.endswith(".fifo"):
        in_flight = select(M.c.group_id).where(
            M.c.queue_id == queue.id, M.c.visible_at > now, M.c.receive_count > 0, M.c.group_id.is_not(None)
        )
        query = query.where(M.c.group_id.not_in(in_flight))
    ids = list(session.scalars(query.order_by(M.c.id).limit(limit).with_for_update(skip_locked=True)))
    if not ids:
        return []
    # One statement for the batch: each handle is this receive's secret followed by the message's id.
    secret = uuid.uuid4().hex
    changes = {
        "receipt_handle": literal(secret + "-") + cast(M.c.id, String),
        "receive_count": M.c.receive_count + 1,
        "visible_at": now + visibility,
        "first_received_at": func.coalesce(M.c.first_received_at, now),
    }
    # Still visible: where rows are not locked (SQLite), another receiver may have taken some since.
    claim = update(M).where(M.c.id.in_(ids), M.c.visible_at <= now).values(**changes).returning(*M.c)
    return sorted(session.execute(claim), key=lambda row: row.id)


def delete_message(session: Session, queue_id: int, receipt_handle: str) -> bool:
    """Delete the message this receipt handle was given for; False when it names none (deleted
    already, or received again since under a newer handle)."""
    result = session.execute(delete(M).where(M.c.queue_id == queue_id, M.c.receipt_handle == receipt_handle))
    return bool(result.rowcount)


def purge(session: Session, queue_id: int) -> int:
    """Delete every message of a queue; returns how many there were."""
    return int(session.execute(delete(M).where(M.c.queue_id == queue_id)).rowcount or 0)
