"""Queries on status-change events and their deliveries (``status_events``, ``event_deliveries``).

A delivery is attempted by whoever claims it: the claim counts the attempt and clears the last
error, so a second worker with a copy of the same message finds nothing to claim while the first
one's attempt is under way (for `ATTEMPT_LEASE` at most: a worker lost mid-attempt does not block
the delivery for ever).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from orchestrator.store.models import EventDelivery, Execution, HistoryEvent, StatusEvent

EV = StatusEvent.__table__
D = EventDelivery.__table__
ATTEMPT_LEASE = dt.timedelta(minutes=5)


def add_event(session: Session, *, event_id: str, execution_id: int, status: str, time: dt.datetime, text: str) -> None:
    session.execute(
        insert(EV), [{"id": event_id, "execution_id": execution_id, "status": status, "time": time, "event": text}]
    )


def last_redriven_at(session: Session, execution_id: int) -> dt.datetime | None:
    """When the execution was last redriven (its last ExecutionRedriven event), if ever."""
    H = HistoryEvent.__table__
    query = select(H.c.timestamp).where(H.c.execution_id == execution_id, H.c.type == "ExecutionRedriven")
    return session.scalar(query.order_by(H.c.id.desc()).limit(1))


def execution_id_by_arn(session: Session, arn: str) -> int | None:
    """The id of the execution (or Distributed Map child) with this ARN, if there is one."""
    E = Execution.__table__
    return session.scalar(select(E.c.id).where(E.c.arn == arn))


def execution_exists(session: Session, execution_id: int) -> bool:
    return session.scalar(select(Execution.__table__.c.id).where(Execution.__table__.c.id == execution_id)) is not None


def event_text(session: Session, event_id: str) -> str | None:
    return session.scalar(select(EV.c.event).where(EV.c.id == event_id))


def add_deliveries(session: Session, event_id: str, subscribers: Sequence[str], now: dt.datetime) -> list[int]:
    """A PENDING delivery of the event to each subscriber (by key); returns their ids."""
    if not subscribers:
        return []
    rows = [
        {"event_id": event_id, "subscriber": key, "status": "PENDING", "attempts": 0, "created_at": now}
        for key in subscribers
    ]
    result = session.execute(insert(D).returning(D.c.id, sort_by_parameter_order=True), rows)
    return [int(r[0]) for r in result]


def claim_attempt(session: Session, delivery_id: int, now: dt.datetime) -> Row[Any] | None:
    """Count one more attempt of a PENDING delivery and return it with its event's text, or None if
    it is not for this caller (delivered, dead, or an attempt under way elsewhere)."""
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
        select(D.c.id, D.c.event_id, D.c.subscriber, D.c.attempts, EV.c.event)
        .join(EV, EV.c.id == D.c.event_id)
        .where(D.c.id == delivery_id)
    )
    return session.execute(query).first()


def finish_attempt(session: Session, delivery_id: int, *, error: str | None, give_up: bool, now: dt.datetime) -> str:
    """Record how an attempt went; returns the delivery's status (PENDING: it will be tried again)."""
    if error is None:
        values: dict[str, Any] = {"status": "DELIVERED", "delivered_at": now, "last_error": None}
    else:  # a failed attempt always leaves an error: that is what makes its retry claimable
        values = {"status": "DEAD" if give_up else "PENDING", "last_error": error[:4000] or "failed"}
    session.execute(update(D).where(D.c.id == delivery_id).values(**values))
    return str(values["status"])


def delivery_status(session: Session, delivery_id: int) -> str | None:
    return session.scalar(select(D.c.status).where(D.c.id == delivery_id))


def deliveries(session: Session, *, status: str | None = None, after: int = 0, limit: int = 100) -> list[Row[Any]]:
    """Deliveries (of one status, or all) by id, with their event's status and execution ARN."""
    E = Execution.__table__
    query = (
        select(
            D.c.id,
            D.c.event_id,
            D.c.subscriber,
            D.c.status,
            D.c.attempts,
            D.c.last_attempt_at,
            D.c.last_error,
            D.c.delivered_at,
            EV.c.status.label("execution_status"),
            E.c.arn.label("execution_arn"),
        )
        .join(EV, EV.c.id == D.c.event_id)
        .join(E, E.c.id == EV.c.execution_id)
        .where(D.c.id > after)
        .order_by(D.c.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(D.c.status == status)
    return list(session.execute(query))


def revive(session: Session, delivery_ids: Sequence[int] | None) -> list[int]:
    """Make dead letters PENDING again with no attempt counted (all of them, or those of
    ``delivery_ids``); returns the ids revived."""
    query = update(D).where(D.c.status == "DEAD")
    if delivery_ids is not None:
        query = query.where(D.c.id.in_(list(delivery_ids)))
    result = session.execute(
        query.values(status="PENDING", attempts=0, last_error=None, last_attempt_at=None).returning(D.c.id)
    )
    return sorted(int(r[0]) for r in result)


def count_by_status(session: Session) -> dict[str, int]:
    return {status: int(n) for status, n in session.execute(select(D.c.status, func.count()).group_by(D.c.status))}
