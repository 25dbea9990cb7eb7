"""Status-change events: what AWS sends EventBridge when an execution's status changes, decided here
in the transaction that changes it (docs/events.md).

`emit` is called wherever an execution's status changes (started, ended, redriven) with the
execution's columns as that transaction leaves them. The event rides in an
``orchestrator.status_event`` message that the caller queues in the outbox with its other messages,
so it exists if and only if the change committed; a worker then records it (``status_events``) and
delivers it at least once (`runtime.event_deliveries`). Express executions send none, as on AWS
("Express Workflows do not emit events to EventBridge"); nor do the child executions of a
Distributed Map (rows inside their parent's tree).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.runtime.messages import Message
from orchestrator.store import status_events as store

STATUS_EVENT = "orchestrator.status_event"  # (execution_id, event as JSON text, outbox_id): to its subscribers
DETAIL_TYPE = "Step Functions Execution Status Change"
# EventBridge's limit, as AWS applies it: past it, the input (then the output) is left out.
MAX_DATA_BYTES = 248 * 1024
REDRIVE_REASONS = {
    "RUNNING": "Execution is RUNNING and cannot be redriven",
    "SUCCEEDED": "Execution is SUCCEEDED and cannot be redriven",
}


def emit(session: Session, settings: Settings, execution: Mapping[str, Any], now: dt.datetime) -> list[Message]:
    """The message that carries the status-change event of an execution whose status this
    transaction just changed, for the caller to queue in the outbox with its other messages.

    ``execution``: the ``executions`` row's columns as the transaction leaves them (with ``id``).
    The event travels in the message, so events cost no statement of their own here (a redriven
    execution's costs one, for the time it was redriven). Nothing when events are off, and for runs
    that send none (an Express execution, a Distributed Map's child).
    """
    if not settings.events or execution.get("root_id") is not None or ":express:" in execution["arn"]:
        return []
    redriven_at = store.last_redriven_at(session, execution["id"]) if execution.get("redrive_count") else None
    machine_arn = state_machine_arn(execution["arn"])
    event = build_event(execution, machine_arn, settings, event_id=str(uuid.uuid4()), now=now, redriven_at=redriven_at)
    return [Message(STATUS_EVENT, [execution["id"], json.dumps(event, ensure_ascii=False)], settings.handler_queue)]


def state_machine_arn(execution_arn: str) -> str:
    """``arn:...:execution:<machine>:<name>`` -> ``arn:...:stateMachine:<machine>`` (names hold no colon)."""
    prefix, _, rest = execution_arn.partition(":execution:")
    return f"{prefix}:stateMachine:{rest.rsplit(':', 1)[0]}"


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
            "stopDate": _millis(execution.get("stop_date")),
            **_data(execution["input"], execution.get("output") if status == "SUCCEEDED" else None, status),
            "redriveCount": execution.get("redrive_count") or 0,
            "redriveDate": _millis(redriven_at),
            "redriveStatus": "NOT_REDRIVABLE" if status in REDRIVE_REASONS else "REDRIVABLE",
            "redriveStatusReason": REDRIVE_REASONS.get(status),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
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
