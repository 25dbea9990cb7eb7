"""Inserting a new execution: its row, its ExecutionStarted event, its first message and its timeout.

Shared by StartExecution (`operations.start`) and by a Task state that starts an execution
(`nested`), which does it inside the transaction of the run that asks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.asl.model import StateMachine
from orchestrator.config import Settings
from orchestrator.engine import step as interpreter
from orchestrator.engine.history import History
from orchestrator.engine.outcomes import Cursor
from orchestrator.runtime import metrics, status_events
from orchestrator.runtime.messages import ADVANCE, Message
from orchestrator.store import runs


def insert_execution(
    session: Session, settings: Settings, *, machine: StateMachine, execution: dict[str, Any], now: dt.datetime
) -> tuple[int, list[Message]]:
    """Insert an execution (``execution`` holds its columns); returns its id and the messages to queue:
    the one that runs it, and its status-change event's when events are on."""
    execution_input = execution["input"]
    cursor = Cursor(state=machine.root.start_at, input=execution_input)
    history = History(1, 0, now)
    interpreter.begin(machine, execution_input, execution["role_arn"], history)
    execution_id = runs.insert_started(
        session,
        history.events,
        **execution,
        status="RUNNING",
        start_date=now,
        cursor=cursor.to_json(),
        seq=0,
        last_event_id=history.previous,
        next_event_id=history.next_id,
    )
    # (its ARN ends with its state machine's name and its own: what counting its events would ask for)
    metrics.know_label(execution_id, execution["arn"].rsplit(":", 2)[-2], now)
    if machine.timeout_seconds:
        runs.add_timer(
            session, execution_id, -1, "execution_timeout", now + dt.timedelta(seconds=machine.timeout_seconds)
        )
    first = Message(ADVANCE, [execution_id, execution_id, 0, None], settings.engine_queue)
    started = {**execution, "id": execution_id, "status": "RUNNING", "start_date": now}
    return execution_id, [first, *status_events.emit(session, settings, started, now)]
