"""What travels through the broker: task names, and deliveries as JSON.

Every message carries ids only (execution, run, the run's ``seq``) plus, when it brings news from
outside, the delivery. A message for a run whose ``seq`` has moved on is stale and does nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from orchestrator.engine.outcomes import (
    ChildFailed,
    ChildrenSucceeded,
    Delivery,
    TaskFailed,
    TaskRequest,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
)

ADVANCE = "orchestrator.advance"  # (root_id, run_id, seq, delivery | None, outbox_id)
INVOKE = "orchestrator.invoke"  # (root_id, run_id, seq, task request, outbox_id)
TIME_OUT = "orchestrator.time_out"  # (root_id, outbox_id)
EXPRESS = "orchestrator.express"  # (execution_id, outbox_id): run an Express execution in memory
# (root_id, run_id, outbox_id): run a Distributed Map's Express iteration in memory
EXPRESS_ITERATION = "orchestrator.express_iteration"


@dataclass(frozen=True, slots=True)
class Message:
    """A Celery task call to publish once the transaction that decided it commits."""

    task: str
    args: list[Any]
    queue: str
    countdown: float | None = None
    outbox_id: int | None = None
    # False for a timer's fast path: its timer row is the durable copy, and republishing it
    # early would end the wait early.
    durable: bool = True
    # When its outbox row was written, if known (the sweeper's): a failed publish backs off by it.
    created_at: dt.datetime | None = None
    # Leased, in the transaction that wrote it, to the worker that wrote it, which runs it next
    # (follow-on, `runtime.leases.FollowOnLease`): not to be published.
    leased: bool = False

    def to_row(self) -> dict[str, Any]:
        return {"task": self.task, "args": self.args, "queue": self.queue, "countdown": self.countdown}


def encode_delivery(delivery: Delivery | None) -> dict[str, Any] | None:
    match delivery:
        case None:
            return None
        case TaskSucceeded(output):
            return {"kind": "task_succeeded", "output": output}
        case TaskFailed(error, cause, timed_out):
            return {"kind": "task_failed", "error": error, "cause": cause, "timedOut": timed_out}
        case TaskSubmitted(output):
            return {"kind": "task_submitted", "output": output}
        case TimerFired():
            return {"kind": "timer"}
        case ChildFailed(error, cause):
            return {"kind": "child_failed", "error": error, "cause": cause}
        case ChildrenSucceeded(outputs, map_run_arn):
            shown = None if outputs is None else list(outputs)
            return {"kind": "children_succeeded", "outputs": shown, "mapRunArn": map_run_arn}
    raise TypeError(f"not a delivery: {delivery!r}")


def decode_delivery(data: dict[str, Any] | None) -> Delivery | None:
    if data is None:
        return None
    kind = data["kind"]
    if kind == "task_succeeded":
        return TaskSucceeded(data["output"])
    if kind == "task_failed":
        return TaskFailed(data["error"], data["cause"], bool(data.get("timedOut")))
    if kind == "task_submitted":
        return TaskSubmitted(data["output"])
    if kind == "timer":
        return TimerFired()
    if kind == "child_failed":
        return ChildFailed(data["error"], data["cause"])
    if kind == "children_succeeded":
        outputs = data["outputs"]
        return ChildrenSucceeded(None if outputs is None else tuple(outputs), data.get("mapRunArn"))
    raise ValueError(f"unknown delivery kind {kind!r}")


def encode_request(request: TaskRequest) -> dict[str, Any]:
    return {
        "state": request.state,
        "resource": request.resource,
        "kind": request.kind,
        "pattern": request.pattern,
        "payload": request.payload,
        "timeoutSeconds": request.timeout_seconds,
        "heartbeatSeconds": request.heartbeat_seconds,
        "token": request.token,
        "credentials": request.credentials,
    }


def decode_request(data: dict[str, Any]) -> TaskRequest:
    return TaskRequest(
        state=data["state"],
        resource=data["resource"],
        kind=data["kind"],
        pattern=data["pattern"],
        payload=data["payload"],
        timeout_seconds=data["timeoutSeconds"],
        heartbeat_seconds=data["heartbeatSeconds"],
        token=data["token"],
        credentials=data["credentials"],
    )
