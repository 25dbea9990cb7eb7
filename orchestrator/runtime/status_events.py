"""Status-change events: what AWS sends EventBridge when an execution's status changes, written here
in the transaction that changes it (docs/events.md).

`emit` is called wherever an execution's status changes (started, ended, redriven) with the
execution's row as that transaction has it. It writes the event (a ``status_events`` row) and a
``orchestrator.status_event`` message to the outbox, so the event exists if and only if the change
committed, and a worker delivers it at least once (`runtime.event_deliveries`). Express executions
send none, as on AWS ("Express Workflows do not emit events to EventBridge"); nor do the child
executions of a Distributed Map (rows inside their parent's tree).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.runtime.messages import Message
from orchestrator.store import runs
from orchestrator.store import state_machines as catalog
from orchestrator.store import status_events as store
from orchestrator.store.models import HistoryEvent

STATUS_EVENT = "orchestrator.status_event"  # (event_id, outbox_id): hand an event to its subscribers
DETAIL_TYPE = "Step Functions Execution Status Change"
# EventBridge's limit, as AWS applies it: past it, the input (then the output) is left out.
MAX_DATA_BYTES = 248 * 1024
REDRIVE_REASONS = {
    "RUNNING": "Execution is RUNNING and cannot be redriven",
    "SUCCEEDED": "Execution is SUCCEEDED and cannot be redriven",
}


def emit(session: Session, settings: Settings, execution_id: int, now: dt.datetime) -> list[Message]:
    """Write the status-change event of the execution as its row now is (its status just changed);
    returns the message that delivers it, for the caller to queue in the outbox. Nothing when events
    are off, and for runs that send none (an Express execution, a branch, a Map's child)."""
    if not settings.events:
        return []
    row = runs.load_run(session, execution_id)
    if row is None or row._mapping["root_id"] is not None or ":express:" in (row._mapping["arn"] or ""):
        return []
    m = row._mapping
    machine = catalog.by_id(session, m["state_machine_id"])
    assert machine is not None
    redriven_at = _last_redriven_at(session, execution_id) if m["redrive_count"] else None
    event = build_event(m, machine.arn, settings, event_id=str(uuid.uuid4()), now=now, redriven_at=redriven_at)
    text = json.dumps(event, ensure_ascii=False)
    store.add_event(session, event_id=event["id"], execution_id=execution_id, status=m["status"], time=now, text=text)
    return [Message(STATUS_EVENT, [event["id"]], settings.handler_queue)]


def build_event(
    execution: Mapping[str, Any],
    state_machine_arn: str,
    settings: Settings,
    *,
    event_id: str,
    now: dt.datetime,
    redriven_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The EventBridge event of an execution (its ``executions`` row's columns) as it is at ``now``.

    Its ``detail`` holds what DescribeExecution says, with dates in epoch milliseconds as AWS sends
    them; ``output`` only when the execution succeeded.
    """
    status = execution["status"]
    return {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPE,
        "source": "aws.states",
        "account": settings.account,
        "time": _utc(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": settings.region,
        "resources": [execution["arn"]],
        "detail": {
            "executionArn": execution["arn"],
            "stateMachineArn": state_machine_arn,
            "name": execution["name"],
            "status": status,
            "startDate": _millis(execution["start_date"]),
            "stopDate": _millis(execution["stop_date"]),
            **_data(execution["input"], execution["output"] if status == "SUCCEEDED" else None, status),
            "redriveCount": execution["redrive_count"],
            "redriveDate": _millis(redriven_at),
            "redriveStatus": "NOT_REDRIVABLE" if status in REDRIVE_REASONS else "REDRIVABLE",
            "redriveStatusReason": REDRIVE_REASONS.get(status),
            "error": execution["error"],
            "cause": execution["cause"],
            **_versions(execution),
        },
    }


def _data(execution_input: Any, output: Any, status: str) -> dict[str, Any]:
    """input, inputDetails, output, outputDetails: the output is left out when its escaped text
    passes the limit, then the input when both together do (AWS's rule for EventBridge)."""
    input_text = _json(execution_input)
    output_text = _json(output) if status == "SUCCEEDED" else None
    output_size = _escaped_size(output_text) if output_text is not None else 0
    keep_output = output_text is not None and output_size <= MAX_DATA_BYTES
    keep_input = _escaped_size(input_text) + (output_size if keep_output else 0) <= MAX_DATA_BYTES
    return {
        "input": input_text if keep_input else None,
        "inputDetails": {"included": keep_input},
        "output": output_text if keep_output else None,
        "outputDetails": None if output_text is None else {"included": keep_output},
    }


def _versions(execution: Mapping[str, Any]) -> dict[str, str]:
    found = {}
    if execution.get("state_machine_version_arn"):
        found["stateMachineVersionArn"] = execution["state_machine_version_arn"]
    if execution.get("state_machine_alias_arn"):
        found["stateMachineAliasArn"] = execution["state_machine_alias_arn"]
    return found


def _last_redriven_at(session: Session, execution_id: int) -> dt.datetime | None:
    H = HistoryEvent.__table__
    query = (
        select(H.c.timestamp)
        .where(H.c.execution_id == execution_id, H.c.type == "ExecutionRedriven")
        .order_by(H.c.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _escaped_size(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode())


def _millis(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    return int(_utc(moment).timestamp()) * 1000 + moment.microsecond // 1000


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; what the engine stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
