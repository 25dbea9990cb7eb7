"""A task's timeout racing its own TaskSubmitted, played step by step on PostgreSQL.

The scheduler fires a callback task's TimeoutSeconds timer (closing its token) and sends the timeout;
before that message is applied, the handler's TaskSubmitted moves the run to its next step. The
timeout must still end the task: the token is already closed, so nothing else ever could.

The messages are applied in that order by calling `operations` directly, each in its own transaction,
as the workers and the scheduler would; no worker runs (nothing else consumes these messages).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from orchestrator import config
from orchestrator.engine.outcomes import TaskSubmitted
from orchestrator.runtime import operations
from orchestrator.runtime.messages import ADVANCE, INVOKE, decode_delivery
from orchestrator.service import Service
from orchestrator.store.db import session_scope
from orchestrator.store.models import Execution, OutboxMessage
from tests.runtime.conftest import CALLBACK, CALLBACK_PARAMETERS, ROLE

DEFINITION = {
    "StartAt": "Approve",
    "States": {
        "Approve": {
            "Type": "Task",
            "Resource": CALLBACK,
            "Parameters": CALLBACK_PARAMETERS,
            "TimeoutSeconds": 5,
            "End": True,
        }
    },
}


def test_a_timeout_fired_before_the_tasks_submission_is_applied_still_ends_the_task(
    database_url: str, tmp_path: Path
) -> None:
    settings = config.load(
        {
            "ORCHESTRATOR_DATABASE_URL": database_url,
            "ORCHESTRATOR_HOME": str(tmp_path),
            "ORCHESTRATOR_ENGINE_QUEUE": "timer-race-engine",
            "ORCHESTRATOR_HANDLER_QUEUE": "timer-race-handlers",
        }
    )
    service = Service(settings)
    machine = service.create_state_machine(
        name=f"timer-race-{tmp_path.name}", definition=json.dumps(DEFINITION), role_arn=ROLE
    )
    execution_arn = service.start_execution(machine["stateMachineArn"])["executionArn"]
    root_id, run_id, seq = _waiting_invoke(database_url, settings, execution_arn)

    # The scheduler, 10 s on: the task's 5 s timer fires, its token is closed, the timeout is sent.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)
    with session_scope(database_url) as session:
        fired = operations.fire_due_timers(session, settings, now=later)
    timeout = next(m for m in fired if m.task == ADVANCE and m.args[1] == run_id)
    assert timeout.args[2] == seq

    # The handler's TaskSubmitted is applied first: the run moves to its next step.
    with session_scope(database_url) as session:
        operations.advance(
            session,
            settings,
            root_id=root_id,
            run_id=run_id,
            seq=seq,
            delivery=TaskSubmitted({"sent": True}),
            outbox_id=None,
            now=later,
        )
    assert _status(database_url, execution_arn) == "RUNNING"

    # Then the timeout, sent for the earlier step: it ends the task all the same.
    payload: dict[str, Any] = timeout.args[3]
    with session_scope(database_url) as session:
        operations.advance(
            session,
            settings,
            root_id=root_id,
            run_id=run_id,
            seq=seq,
            delivery=decode_delivery(payload),
            outbox_id=None,
            attempt=payload["attempt"],
            now=later,
        )
    described = service.describe_execution(execution_arn)
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    types = [e["type"] for e in service.get_execution_history(execution_arn)["events"]]
    assert types[-3:] == ["TaskSubmitted", "TaskTimedOut", "ExecutionFailed"]


def _waiting_invoke(database_url: str, settings: config.Settings, execution_arn: str) -> tuple[int, int, int]:
    """Apply the execution's engine messages until it calls its handler; returns (root, run, step) of that call."""
    with session_scope(database_url) as session:
        root_id = session.scalar(select(Execution.id).where(Execution.arn == execution_arn))
    applied: set[int] = set()
    for _ in range(10):
        with session_scope(database_url) as session:
            rows = session.execute(select(OutboxMessage.id, OutboxMessage.task, OutboxMessage.args)).all()
        for outbox_id, task, args in rows:
            if args[0] != root_id or outbox_id in applied:
                continue
            if task == INVOKE:
                return root_id, args[1], args[2]
            if task == ADVANCE:
                applied.add(outbox_id)
                with session_scope(database_url) as session:
                    operations.advance(
                        session,
                        settings,
                        root_id=args[0],
                        run_id=args[1],
                        seq=args[2],
                        delivery=decode_delivery(args[3]),
                        outbox_id=outbox_id,
                        now=dt.datetime.now(dt.UTC),
                    )
    raise AssertionError(f"{execution_arn} never called its handler")


def _status(database_url: str, execution_arn: str) -> str:
    with session_scope(database_url) as session:
        return session.scalar(select(Execution.status).where(Execution.arn == execution_arn))
