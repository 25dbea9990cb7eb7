"""Activity tasks: a Task state whose resource is an activity waits for a worker to poll for it.

The task is a row of ``task_tokens`` (resource = the activity's ARN). GetActivityTask claims the
oldest unclaimed one: it records ActivityStarted in the execution's history and starts the task's
TimeoutSeconds and HeartbeatSeconds clocks, as AWS does. The worker then answers with
SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat, like any task token.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.runtime.driver import RunRow, Tree
from orchestrator.runtime.messages import Message
from orchestrator.store import runs
from orchestrator.store.models import TaskToken

K = TaskToken.__table__


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    token: str
    input: Any
    messages: list[Message]


def claim(
    session: Session,
    settings: Settings,
    *,
    activity_arn: str,
    worker_name: str | None,
    now: dt.datetime,
    candidates: int = 5,
) -> ClaimedTask | None:
    """Hand the oldest waiting task of ``activity_arn`` to a worker, or None if none waits."""
    waiting = session.execute(
        select(K.c.token, K.c.execution_id)
        .where(K.c.resource == activity_arn, K.c.status == "PENDING", K.c.claimed_at.is_(None))
        .order_by(K.c.created_at)
        .limit(candidates)
    ).all()
    for token, execution_id in waiting:
        # Lock in the runtime's order: the execution first, then the token.
        root = runs.lock_execution(session, execution_id)
        row = session.execute(select(K).where(K.c.token == token).with_for_update(skip_locked=True)).first()
        if root is None or row is None:
            continue
        m = row._mapping
        if m["status"] != "PENDING" or m["claimed_at"] is not None or root._mapping["status"] != "RUNNING":
            continue
        session.execute(K.update().where(K.c.token == token).values(claimed_at=now, worker_name=worker_name))
        tree = Tree(session, settings, root, now)
        run = tree.row(m["run_id"])
        assert run is not None
        messages = tree.settle(functools.partial(_started, tree, run, m, worker_name))
        return ClaimedTask(token, m["payload"], messages)
    return None


def _started(tree: Tree, run: RunRow, token_row: Any, worker_name: str | None) -> None:
    """ActivityStarted, and the task's clocks start."""
    history = tree.history(run)
    history.add("ActivityStarted", {"workerName": worker_name} if worker_name else {})
    tree.record(run, history)
    tree.start_task_clocks(run, token_row["timeout_seconds"], token_row["heartbeat_seconds"], token_row["token"])
