"""The reads behind the metrics: what an appended event is about, and the engine's backlog right now.

Every query here is one index probe or one count over a small, indexed table, cheap enough to run on
each Prometheus scrape and on each event a metric needs context for (`runtime.metrics`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.store.models import Execution, HistoryEvent, Lease, OutboxMessage, StateMachine, TaskToken, Timer

# The key under which `runs.append_events` leaves what it appended in ``session.info``, for the
# metrics to count once the transaction commits (and to forget if it rolls back).
APPENDED_EVENTS = "orchestrator.appended_events"


@dataclass(frozen=True, slots=True)
class ExecutionLabel:
    """What an execution's metrics are labelled and timed with."""

    state_machine: str
    start_date: dt.datetime


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    previous_event_id: int
    type: str
    timestamp: dt.datetime
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """The engine's queues as the database holds them at one moment."""

    outbox_messages: int  # published or not, and not yet consumed
    outbox_oldest_seconds: float  # age of the oldest of them (0 when there is none)
    timers_due: int  # timers whose time has come and that no scheduler has fired yet
    leases_expired: int  # work whose worker stopped renewing its lease, not yet handed to another
    tokens_waiting: int  # task tokens and activity tasks waiting for an answer


def execution_label(session: Session, execution_id: int) -> ExecutionLabel | None:
    E, M = Execution.__table__, StateMachine.__table__
    row = session.execute(
        select(M.c.name, E.c.start_date).join(M, M.c.id == E.c.state_machine_id).where(E.c.id == execution_id)
    ).first()
    return None if row is None else ExecutionLabel(row.name, row.start_date)


def events_between(session: Session, history_id: int, first: int, last: int) -> dict[int, StoredEvent]:
    """Events ``first`` to ``last`` of one history (one range of its primary key)."""
    H = HistoryEvent.__table__
    rows = session.execute(
        select(H.c.id, H.c.previous_event_id, H.c.type, H.c.timestamp, H.c.details).where(
            H.c.execution_id == history_id, H.c.id.between(first, last)
        )
    )
    return {row.id: StoredEvent(row.id, row.previous_event_id, row.type, row.timestamp, row.details) for row in rows}


def backlog(session: Session, now: dt.datetime) -> Backlog:
    Q, T, L, K = OutboxMessage.__table__, Timer.__table__, Lease.__table__, TaskToken.__table__
    messages, oldest = session.execute(select(func.count(), func.min(Q.c.created_at)).select_from(Q)).one()
    return Backlog(
        outbox_messages=int(messages),
        outbox_oldest_seconds=max(0.0, (now - _aware(oldest)).total_seconds()) if oldest is not None else 0.0,
        timers_due=int(session.scalar(select(func.count()).select_from(T).where(T.c.fire_at <= now)) or 0),
        leases_expired=int(
            session.scalar(select(func.count()).select_from(L).where(L.c.worker.is_not(None), L.c.expires_at <= now))
            or 0
        ),
        tokens_waiting=int(session.scalar(select(func.count()).select_from(K).where(K.c.status == "PENDING")) or 0),
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives timestamps back without their zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
