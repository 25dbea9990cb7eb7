"""The runtime's transactions: each takes the caller's session and returns the messages to publish.

- `start`: a new execution row, its ExecutionStarted event, and the message that runs it;
- `advance`: a message for a run (news from a handler, a timer, or "go on");
- `complete_task`: SendTaskSuccess / SendTaskFailure on a task token;
- `heartbeat`: SendTaskHeartbeat;
- `stop`: StopExecution; `time_out`: the execution's TimeoutSeconds ran out;
- `fire_due_timers`: what the scheduler does each tick.

The caller commits and then publishes (`runtime.publish`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.asl.model import StateMachine
from orchestrator.config import Settings
from orchestrator.engine.outcomes import Delivery, TaskFailed, TaskSubmitted, TaskSucceeded, TimerFired
from orchestrator.runtime import log_context
from orchestrator.runtime.driver import Tree, queue_messages
from orchestrator.runtime.ending import end_if_deleted, end_tree
from orchestrator.runtime.leases import FollowOnLease
from orchestrator.runtime.messages import ADVANCE, TIME_OUT, Message, encode_delivery
from orchestrator.runtime.starting import insert_execution
from orchestrator.store import runs


class TaskTokenError(Exception):
    """SendTask* on a token that cannot take it; ``code`` is the AWS error (TaskDoesNotExist, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def start(
    session: Session,
    settings: Settings,
    *,
    machine: StateMachine,
    execution: dict[str, Any],
    now: dt.datetime,
    publishing: bool = True,
) -> tuple[int, list[Message]]:
    """Insert an execution (``execution`` holds its columns) and queue its first step."""
    execution_id, messages = insert_execution(session, settings, machine=machine, execution=execution, now=now)
    return execution_id, queue_messages(session, messages, now, published=publishing)


def advance(
    session: Session,
    settings: Settings,
    *,
    root_id: int,
    run_id: int,
    seq: int,
    delivery: Delivery | None,
    outbox_id: int | None,
    now: dt.datetime,
    attempt: list[Any] | None = None,
    timers: bool = True,
    follow_on: FollowOnLease | None = None,
) -> list[Message]:
    """Apply one message. A stale one (ended run, other seq) only consumes its outbox row.

    ``attempt`` comes with a task's timeout (`task_attempt`): it still applies after a TaskSubmitted
    moved the run to a later step, as long as the run waits in the same attempt of the same Task.
    ``timers``: False when the caller knows the run waits on no timer (a Task with neither
    TimeoutSeconds nor HeartbeatSeconds, answered by its handler), which saves a statement.
    ``follow_on``: lease the next Task it picks to this worker (the message comes back ``leased``).
    """
    found = Tree.for_running(session, settings, root_id, run_id, now, consuming=outbox_id)
    if found is None:
        return []  # a copy of a message acted on already, or a run that has ended
    tree, row = found
    tree.follow_on = follow_on
    cursor = row.cursor or {}
    log_context.note(
        execution_arn=tree.root_row._mapping["arn"], state=cursor.get("state"), attempt=log_context.attempt_of(cursor)
    )
    if row.seq != seq and (attempt is None or task_attempt(row.cursor) != attempt):
        return []
    # (a TaskSubmitted only records that the task started waiting: no state transition)
    deleted = None if isinstance(delivery, TaskSubmitted) else end_if_deleted(session, settings, tree.root_row, now)
    if deleted is not None:
        return deleted
    waiting = row.cursor and row.cursor.get("phase") in ("task", "wait", "retry")
    if timers and (isinstance(delivery, TimerFired) or (waiting and not isinstance(delivery, TaskSubmitted))):
        # (a TaskSubmitted is not the task's answer: its timeout and heartbeat clocks keep running)
        runs.drop_timers(session, run_id)
    return tree.settle(lambda: tree.deliver(row, delivery))


def complete_task(
    session: Session,
    settings: Settings,
    *,
    token: str,
    delivery: TaskSucceeded | TaskFailed,
    now: dt.datetime,
    publishing: bool = True,
) -> list[Message]:
    """SendTaskSuccess / SendTaskFailure: exactly one completion of a token wins."""
    found = runs.load_token(session, token)
    if found is None:
        raise TaskTokenError("TaskDoesNotExist", "Task Token does not exist")
    root = runs.lock_execution(session, found._mapping["execution_id"])
    token_row = runs.lock_token(session, token)
    assert token_row is not None and root is not None
    status = token_row._mapping["status"]
    if status == "TIMED_OUT":
        raise TaskTokenError("TaskTimedOut", "Task Timed Out")
    if status != "PENDING" or root._mapping["status"] != "RUNNING":
        raise TaskTokenError("TaskDoesNotExist", "Task Token does not exist")
    tree = Tree(session, settings, root, now, publishing=publishing)
    row = tree.row(token_row._mapping["run_id"])
    if row is None or row.status != "RUNNING" or not row.cursor or row.cursor.get("phase") != "task":
        raise TaskTokenError("TaskDoesNotExist", "Task Token does not exist")
    deleted = end_if_deleted(session, settings, root, now)  # the answer is taken; the transition ends it
    if deleted is not None:
        return deleted
    runs.close_token(session, token, "SUCCEEDED" if isinstance(delivery, TaskSucceeded) else "FAILED", now)
    runs.drop_timers(session, row.id)
    return tree.settle(lambda: tree.deliver(row, delivery))


def heartbeat(session: Session, *, token: str, now: dt.datetime) -> None:
    """SendTaskHeartbeat: the task's heartbeat deadline starts again."""
    token_row = runs.load_token(session, token)
    if token_row is None:
        raise TaskTokenError("TaskDoesNotExist", "Task Token does not exist")
    status = token_row._mapping["status"]
    if status == "TIMED_OUT":
        raise TaskTokenError("TaskTimedOut", "Task Timed Out")
    if status != "PENDING":
        raise TaskTokenError("TaskDoesNotExist", "Task Token does not exist")
    seconds = token_row._mapping["heartbeat_seconds"]
    if seconds:
        runs.move_heartbeat(session, token, now + dt.timedelta(seconds=seconds))


def stop(
    session: Session, settings: Settings, *, execution_id: int, error: str | None, cause: str | None, now: dt.datetime
) -> list[Message]:
    """StopExecution: the execution, everything it runs and the executions it waits for end ABORTED."""
    return end_tree(session, settings, execution_id, status="ABORTED", error=error, cause=cause, now=now)


def time_out(
    session: Session, settings: Settings, *, execution_id: int, outbox_id: int | None, now: dt.datetime
) -> list[Message]:
    runs.consume_message(session, outbox_id)
    return end_tree(session, settings, execution_id, status="TIMED_OUT", error=None, cause=None, now=now)


def task_attempt(cursor: dict[str, Any] | None) -> list[Any] | None:
    """The attempt of a Task a run waits in (state, entered event, retry count); None if not waiting in one."""
    if not cursor or cursor.get("phase") != "task":
        return None
    return [cursor["state"], cursor.get("enteredEventId"), cursor.get("retryCount", 0)]


def fire_due_timers(session: Session, settings: Settings, *, now: dt.datetime, limit: int = 500) -> list[Message]:
    """Turn the timers whose time has come into messages (the scheduler's tick)."""
    due = runs.due_timers(session, now, limit)
    messages = []
    for timer in due:
        m = timer._mapping
        run = runs.load_run(session, m["run_id"])
        if run is None:
            continue
        root_id = run._mapping["root_id"] or run._mapping["id"]
        if m["kind"] == "execution_timeout":
            messages.append(Message(TIME_OUT, [root_id], settings.engine_queue))
            continue
        if m["kind"] in ("task_timeout", "heartbeat"):
            # The token is closed now, so the timeout must not be lost as stale if the task's
            # TaskSubmitted moves the run on before this message arrives: it names the attempt.
            attempt = task_attempt(run._mapping["cursor"])
            delivery: Any = {
                **encode_delivery(TaskFailed.time_out(heartbeat=m["kind"] == "heartbeat")),
                "attempt": attempt,
            }
            if m["token"]:
                runs.close_token(session, m["token"], "TIMED_OUT", now)
            else:
                runs.close_tokens(session, [m["run_id"]], "TIMED_OUT", now)
        else:
            delivery = {"kind": "timer"}
        messages.append(Message(ADVANCE, [root_id, m["run_id"], m["seq"], delivery], settings.engine_queue))
    runs.delete_timers(session, [t._mapping["id"] for t in due])
    return queue_messages(session, messages, now, published=True)
