"""RedriveExecution: an execution that failed, timed out or was stopped goes on where it stopped."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.engine.history import MAX_EVENTS, History
from orchestrator.engine.outcomes import Cursor
from orchestrator.runtime import status_events
from orchestrator.runtime.driver import queue_messages
from orchestrator.runtime.messages import ADVANCE, Message
from orchestrator.store import runs

REDRIVE_WINDOW = dt.timedelta(days=14)
REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")


class NotRedrivable(Exception):
    """The execution cannot be redriven; the message says why."""


def redrive(
    session: Session, settings: Settings, *, execution_id: int, now: dt.datetime, publishing: bool = True
) -> list[Message]:
    """Re-enter the state the execution stopped in, with the input it had there."""
    root = runs.lock_execution(session, execution_id)
    if root is None:
        raise NotRedrivable("The execution does not exist")
    m = root._mapping
    if m["status"] not in REDRIVABLE:
        raise NotRedrivable(f"Execution is {m['status']}: only FAILED, TIMED_OUT or ABORTED executions can be redriven")
    if m["stop_date"] is not None and now - _utc(m["stop_date"]) > REDRIVE_WINDOW:
        raise NotRedrivable("Executions can be redriven within 14 days of their end")
    if m["cursor"] is None:
        raise NotRedrivable("The execution never entered a state")
    if m["next_event_id"] >= MAX_EVENTS:  # no room for ExecutionRedriven and a state's events
        raise NotRedrivable("Execution history event limit exceeded.")
    stopped = Cursor.from_json(m["cursor"])
    cursor = Cursor(state=stopped.state, input=stopped.input)
    count = m["redrive_count"] + 1
    history = History(m["next_event_id"], m["last_event_id"], now)
    history.add("ExecutionRedriven", {"redriveCount": count})
    runs.append_events(session, execution_id, history.events)
    seq = m["seq"] + 1
    runs.update_run(
        session,
        execution_id,
        status="RUNNING",
        stop_date=None,
        error=None,
        cause=None,
        output=None,
        cursor=cursor.to_json(),
        fan=None,
        seq=seq,
        redrive_count=count,
        next_event_id=history.next_id,
        last_event_id=history.previous,
    )
    message = Message(ADVANCE, [execution_id, execution_id, seq, None], settings.engine_queue)
    again = {**m, "status": "RUNNING", "stop_date": None, "output": None, "error": None, "cause": None}
    messages = [message, *status_events.emit(session, settings, {**again, "redrive_count": count}, now)]
    return queue_messages(session, messages, now, published=publishing)


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as an aware UTC time: SQLite gives back the UTC times it stores without a zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
