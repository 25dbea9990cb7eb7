"""Execution logging as AWS does it: a state machine's ``loggingConfiguration`` decides which of its
executions' history events are written as log records, in the shape of the CloudWatch Logs records
AWS writes for Step Functions, to the destination ORCHESTRATOR_EXECUTION_LOG names (docs/execution-logs.md).

Standard executions: every history event is appended by `store.runs.append_events`, which notes it
on its session. Just before the session commits, `_before_commit` reads each history's execution and
state machine (one query) and builds the records its level lets through; once the commit succeeded,
`_after_commit` writes them. A transaction that rolls back logs nothing. Express executions keep no
history: the worker (or StartSyncExecution) logs their events when they end (`log_result`).

As on AWS, logging is best effort: a destination that fails loses records (with a warning in the
process's own log), and never fails or slows the execution.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from orchestrator.engine.history import Event, render_details
from orchestrator.runtime.log_destinations import Destination, open_destination
from orchestrator.store.metrics import APPENDED_EVENTS
from orchestrator.store.models import Execution, StateMachine

log = logging.getLogger(__name__)

LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
# FATAL: the execution's own failures; ERROR adds every failure, time-out and abort of its states,
# Tasks, Map iterations and runs, and a Fail state entered (the table in AWS's developer guide,
# "Log levels", cw-logs.html).
FATAL_EVENTS = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
_ERROR_ENDINGS = ("Failed", "TimedOut", "Aborted")
_PENDING = "orchestrator.execution_logs_pending"

_destination: Destination | None = None


@dataclass(frozen=True, slots=True)
class LoggingConfiguration:
    level: str
    include_execution_data: bool

    @classmethod
    def of(cls, configuration: Mapping[str, Any] | None) -> LoggingConfiguration | None:
        """A state machine's ``loggingConfiguration`` as stored; None when it logs nothing (OFF)."""
        level = str((configuration or {}).get("level") or "OFF").upper()
        if level not in LEVELS or level == "OFF":
            return None
        return cls(level, bool((configuration or {}).get("includeExecutionData")))

    def logs(self, event_type: str) -> bool:
        """Whether this level writes an event of ``event_type``."""
        if self.level == "ALL":
            return True
        if event_type in FATAL_EVENTS:
            return True
        return self.level == "ERROR" and (event_type == "FailStateEntered" or event_type.endswith(_ERROR_ENDINGS))


def record(event_: Event, execution_arn: str, redrive_count: int, include_execution_data: bool) -> dict[str, Any]:
    """A history event as AWS writes it to CloudWatch Logs: numbers as text, the time in epoch
    milliseconds, the details' input and output only with ``includeExecutionData``."""
    moment = event_.timestamp if event_.timestamp.tzinfo is not None else event_.timestamp.replace(tzinfo=dt.UTC)
    return {
        "id": str(event_.id),
        "type": event_.type,
        "details": render_details(event_.details or {}, include_execution_data),
        "previous_event_id": str(event_.previous_event_id),
        "event_timestamp": str(int(moment.timestamp()) * 1000 + moment.microsecond // 1000),
        "execution_arn": execution_arn,
        "redrive_count": str(redrive_count),
    }


def records_for(
    configuration: Mapping[str, Any] | None, events: Iterable[Event], execution_arn: str, redrive_count: int = 0
) -> list[dict[str, Any]]:
    """The records a state machine's logging configuration writes for these events of one execution."""
    chosen = LoggingConfiguration.of(configuration)
    if chosen is None:
        return []
    return [
        record(e, execution_arn, redrive_count, chosen.include_execution_data) for e in events if chosen.logs(e.type)
    ]


# -- Standard executions: logged once their transaction commits -----------------------------------


def install(destination: str) -> None:
    """Send execution log records to ``destination`` (ORCHESTRATOR_EXECUTION_LOG's value; empty: none)
    from every session that commits history in this process. Calling it again changes the destination."""
    global _destination
    if _destination is not None and _destination.url == destination:
        return
    if _destination is not None:
        _destination.close()
    _destination = open_destination(destination) if destination else None
    if _destination is not None and not event.contains(Session, "before_commit", _before_commit):
        # First: the metrics' listener takes the appended events away when it runs.
        event.listen(Session, "before_commit", _before_commit, insert=True)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)


def _before_commit(session: Session) -> None:
    if _destination is None or session.in_nested_transaction():
        return
    appended: Sequence[tuple[int, Sequence[Event]]] = session.info.get(APPENDED_EVENTS) or ()
    if not appended:
        return
    try:
        found = _records(session, appended)
    except Exception:
        log.exception("execution logs: could not read the executions' logging configurations; not logged")
        return
    if found:
        session.info.setdefault(_PENDING, []).extend(found)


def _records(session: Session, appended: Sequence[tuple[int, Sequence[Event]]]) -> list[dict[str, Any]]:
    E, M = Execution.__table__, StateMachine.__table__
    ids = sorted({history_id for history_id, _ in appended})
    rows = session.execute(
        select(E.c.id, E.c.arn, E.c.redrive_count, M.c.logging_configuration)
        .join(M, M.c.id == E.c.state_machine_id)
        .where(E.c.id.in_(ids))
    )
    executions = {r.id: r for r in rows}
    found: list[dict[str, Any]] = []
    for history_id, events in appended:
        row = executions.get(history_id)
        if row is not None and row.arn:
            found += records_for(row.logging_configuration, events, row.arn, row.redrive_count)
    return found


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending and _destination is not None:
        _destination.write(pending)


def _after_rollback(session: Session, previous: Any) -> None:
    if not previous.nested:
        session.info.pop(_PENDING, None)


# -- Express executions: logged when they end --------------------------------------------------------


def log_result(configuration: Mapping[str, Any] | None, events: Iterable[Event], execution_arn: str) -> int:
    """Log an Express execution's events (it kept them in memory); returns how many were written."""
    if _destination is None:
        return 0
    found = records_for(configuration, events, execution_arn)
    if found:
        _destination.write(found)
    return len(found)
