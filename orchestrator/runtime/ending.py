"""Ending an execution from outside its steps: StopExecution, its TimeoutSeconds, and the failures
the engine decides on its own (a step that fails on every try, a history that reached its quota,
a state machine deleted while it ran)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.asl.errors import RUNTIME
from orchestrator.config import Settings
from orchestrator.engine.history import History
from orchestrator.runtime import status_events, tracing
from orchestrator.runtime.driver import queue_messages
from orchestrator.runtime.messages import Message
from orchestrator.runtime.nested import notify_caller
from orchestrator.store import map_runs, runs
from orchestrator.store import state_machines as catalog

# The event that ends an execution, by the status it ends in.
EVENTS = {"ABORTED": "ExecutionAborted", "TIMED_OUT": "ExecutionTimedOut", "FAILED": "ExecutionFailed"}


def end_if_deleted(session: Session, settings: Settings, root: Any, now: dt.datetime) -> list[Message] | None:
    """Fail the execution (``root``, its row locked) if its state machine is being deleted; None if not.

    AWS's DeleteStateMachine: "On the next state transition, the state machine's executions are
    terminated." An execution so ended records ExecutionFailed with States.Runtime and the cause
    "State machine <name> has been deleted." (as the AWS knowledge-center article
    step-functions-stuck-deleting-status shows it), where the transition would have been.
    """
    if root._mapping.get("machine_status") == "ACTIVE":
        return None  # read with the lock (`runs.consume_and_lock`)
    status, name = catalog.identity(session, root._mapping["state_machine_id"])
    if status == "ACTIVE":
        return None
    cause = f"State machine {name} has been deleted."
    return end_tree(session, settings, root._mapping["id"], status="FAILED", error=RUNTIME, cause=cause, now=now)


def end_tree(
    session: Session,
    settings: Settings,
    execution_id: int,
    *,
    status: str,
    error: str | None,
    cause: str | None,
    now: dt.datetime,
    next_event_id: int | None = None,
) -> list[Message]:
    """End an execution that has not ended, with everything it runs; returns the messages to publish
    (a waiting caller's answer), already in the outbox.

    ``next_event_id``: the id of the ending event, when the caller has just appended events that
    the row does not count yet (the event then links to the one before it).
    """
    root = runs.lock_execution(session, execution_id)
    if root is None or root._mapping["status"] != "RUNNING":
        return []
    m = root._mapping
    now = runs.not_before_last_event(session, execution_id, now)  # ``now`` was taken before the lock
    everything = [execution_id, *runs.descendants(session, [execution_id])]
    if next_event_id is None:
        history = History(m["next_event_id"], m["last_event_id"], now)
    else:
        history = History(next_event_id, next_event_id - 1, now)
    details: dict[str, Any] = {}
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    history.add(EVENTS[status], details)
    runs.append_events(session, execution_id, history.events)
    runs.abort_runs(session, everything[1:], now)
    map_runs.abort_for(session, execution_id, now)
    runs.drop_timers(session, execution_id, keep_execution_timeout=False)
    runs.close_tokens(session, everything, "TIMED_OUT" if status == "TIMED_OUT" else "ABORTED", now)
    runs.update_run(
        session,
        execution_id,
        status=status,
        error=error,
        cause=cause,
        stop_date=now,
        next_event_id=history.next_id,
        last_event_id=history.previous,
        seq=m["seq"] + 1,
    )
    messages = notify_caller(
        session, settings, root, status=status, output=None, error=_reported(status, error), cause=cause, now=now
    )
    ended = {**m, "status": status, "output": None, "error": error, "cause": cause, "stop_date": now}
    messages += status_events.emit(session, settings, ended, now)
    tracing.note_end(session, ended)
    if root._mapping["root_id"] is None:
        catalog.delete_when_idle(session, m["state_machine_id"])  # the last one of a machine being deleted
    # As AWS does for .sync tasks: the executions this one waits for are stopped too (best effort).
    for child_id in catalog.started_by(session, everything):
        end_tree(
            session,
            settings,
            child_id,
            status="ABORTED",
            error="States.Aborted",
            cause="The execution that started it was stopped",
            now=now,
        )
    return queue_messages(session, messages, now, published=True)


def _reported(status: str, error: str | None) -> str | None:
    """The error a waiting caller's Task sees."""
    if status == "ABORTED":
        return error or "States.Aborted"
    if status == "TIMED_OUT":
        return "States.Timeout"
    return error
