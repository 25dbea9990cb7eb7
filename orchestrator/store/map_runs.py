"""Queries on Distributed Map runs and their iterations (child executions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from orchestrator.store.models import Execution, MapRun

M = MapRun.__table__


def add(session: Session, **values: Any) -> None:
    session.execute(insert(M), [{**values, "status": "RUNNING"}])


def finish(session: Session, arn: str | None, status: str, now: dt.datetime) -> None:
    if arn is not None:
        session.execute(update(M).where(M.c.arn == arn, M.c.status == "RUNNING").values(status=status, stop_date=now))


def abort_for(session: Session, execution_id: int, now: dt.datetime) -> None:
    """An execution stopped: its Map Runs still running are aborted."""
    session.execute(
        update(M)
        .where(M.c.execution_id == execution_id, M.c.status == "RUNNING")
        .values(status="ABORTED", stop_date=now)
    )


def by_arn(session: Session, arn: str) -> MapRun | None:
    return session.scalar(select(MapRun).where(MapRun.arn == arn))


def of_execution(session: Session, execution_id: int) -> list[MapRun]:
    return list(session.scalars(select(MapRun).where(MapRun.execution_id == execution_id).order_by(MapRun.id)))


def iteration_counts(session: Session, arn: str) -> dict[str, int]:
    """How many iterations of a Map Run are in each status."""
    rows = session.execute(
        select(Execution.status, func.count()).where(Execution.map_run_arn == arn).group_by(Execution.status)
    )
    return {status: int(count) for status, count in rows}


def iterations_page(
    session: Session, arn: str, *, statuses: list[str] | None, after_id: int, limit: int
) -> list[Execution]:
    query = select(Execution).where(Execution.map_run_arn == arn, Execution.id > after_id)
    if statuses:
        query = query.where(Execution.status.in_(statuses))
    return list(session.scalars(query.order_by(Execution.id).limit(limit)))


def set_limits(session: Session, arn: str, **values: Any) -> None:
    session.execute(update(M).where(M.c.arn == arn).values(**values))
