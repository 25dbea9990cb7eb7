"""Queries on Distributed Map runs and their iterations (child executions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from orchestrator.store.models import Execution, HistoryEvent, MapRun

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
    session: Session, arn: str, *, statuses: list[str] | None, after_id: int, limit: int, redriven: bool | None = None
) -> list[Execution]:
    query = select(Execution).where(Execution.map_run_arn == arn, Execution.id > after_id)
    if statuses:
        query = query.where(Execution.status.in_(statuses))
    if redriven is not None:
        query = query.where(Execution.redrive_count > 0 if redriven else Execution.redrive_count == 0)
    return list(session.scalars(query.order_by(Execution.id).limit(limit)))


def results_page(session: Session, arn: str, after_index: int, limit: int, *, succeeded: bool) -> list[Row[Any]]:
    """The iterations of the Map Run ``arn`` that succeeded (or did not) after ``after_index``,
    ``limit`` at most, in item order: what a ResultWriter's record of each says (``child_index``,
    ``arn``, ``status``, ``input``, ``output``, ``error``, ``cause``, the dates, ``redrive_count``).
    A redriven Map Run's iterations are its rows still (reset, run again)."""
    found = by_arn(session, arn)
    if found is None:
        return []
    E = Execution.__table__
    ended = E.c.status == "SUCCEEDED" if succeeded else E.c.status != "SUCCEEDED"
    columns = (E.c.child_index, E.c.arn, E.c.status, E.c.input, E.c.output, E.c.error, E.c.cause)
    rows = session.execute(
        select(*columns, E.c.start_date, E.c.stop_date, E.c.redrive_count)
        .where(E.c.parent_id == found.run_id, E.c.generation == found.generation, E.c.child_index > after_index)
        .where(ended)
        .order_by(E.c.child_index)
        .limit(limit)
    )
    return list(rows)


def set_limits(session: Session, arn: str, **values: Any) -> None:
    session.execute(update(M).where(M.c.arn == arn).values(**values))


def of_fan_out(session: Session, run_id: int, generation: int) -> MapRun | None:
    """The Map Run a Distributed Map state started in its fan-out ``generation``."""
    query = select(MapRun).where(MapRun.run_id == run_id, MapRun.generation == generation)
    return session.scalar(query.order_by(MapRun.id.desc()).limit(1))


def reopen(session: Session, arn: str) -> None:
    """A redriven Map Run runs again."""
    session.execute(update(M).where(M.c.arn == arn).values(status="RUNNING", stop_date=None))


def redrive_dates(session: Session, history_ids: list[int], arn: str) -> list[dt.datetime]:
    """When the Map Run ``arn`` was redriven (its MapRunRedriven events, oldest first), found in the
    histories that may hold them (the execution's, or a Distributed Map iteration's of its own)."""
    H = HistoryEvent.__table__
    rows = session.execute(
        select(H.c.timestamp, H.c.details)
        .where(H.c.execution_id.in_(history_ids), H.c.type == "MapRunRedriven")
        .order_by(H.c.timestamp, H.c.id)
    )
    return [timestamp for timestamp, details in rows if (details or {}).get("mapRunArn") == arn]
