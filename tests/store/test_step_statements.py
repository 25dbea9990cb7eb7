"""What a step of an execution sends to the database (issue 17): the consumed message, the locked row,
the state machine's status and the last event in one statement, and the last event asked for again
when the lock waited for a transaction that wrote a later one."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from orchestrator import config
from orchestrator.engine.history import Event
from orchestrator.runtime import operations
from orchestrator.runtime.leases import FollowOnLease
from orchestrator.service import Service
from orchestrator.store import runs
from orchestrator.store.db import get_engine, session_scope
from orchestrator.store.models import Execution, HistoryEvent, Lease, OutboxMessage

ROLE = "arn:aws:iam::123456789012:role/test"
TASK = {
    "StartAt": "Work",
    "States": {"Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:x", "End": True}},
}


def _started(url: str, home: Path) -> tuple[config.Settings, int, int]:
    """An execution of one Task, started without a broker: its first message stays in the outbox."""
    settings = config.load({"ORCHESTRATOR_DATABASE_URL": url, "ORCHESTRATOR_HOME": str(home)})
    service = Service(settings)
    machine = service.create_state_machine(name="steps", definition=json.dumps(TASK), role_arn=ROLE)
    arn = service.start_execution(machine["stateMachineArn"], input="{}")["executionArn"]
    with session_scope(url) as session:
        execution_id = session.scalar(select(Execution.id).where(Execution.arn == arn))
        message_id = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()))
    assert execution_id is not None and message_id is not None
    return settings, execution_id, message_id


def _advance(
    url: str, settings: config.Settings, execution_id: int, message_id: int, follow_on: FollowOnLease | None = None
) -> list[Any]:
    with session_scope(url) as session:
        return operations.advance(
            session,
            settings,
            root_id=execution_id,
            run_id=execution_id,
            seq=0,
            delivery=None,
            outbox_id=message_id,
            now=dt.datetime.now(dt.UTC),
            follow_on=follow_on,
        )


class _Statements:
    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)
        self.sent: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.sent.append(" ".join(statement.split()))

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self)
        return self.sent

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


def test_a_step_reads_in_one_statement_and_a_copy_of_its_message_does_nothing(
    database_url: str, tmp_path: Path
) -> None:
    settings, execution_id, message_id = _started(database_url, tmp_path)
    with _Statements(database_url) as sent:
        messages = _advance(database_url, settings, execution_id, message_id)
    # Then: the Task's message is queued, and the step read what it needs with the lock
    assert [m.task for m in messages] == ["orchestrator.invoke"]
    # (the message, the lock, the machine's status and the last event: no statement of their own)
    apart = [
        s
        for s in sent
        if s.startswith(("DELETE FROM outbox", "SELECT history_events", "SELECT state_machines.status"))
        or ("FROM executions" in s and "FOR UPDATE" in s and not s.startswith("WITH"))
    ]
    if get_engine(database_url).dialect.name == "postgresql":
        assert apart == [], apart
        assert sum(s.startswith("WITH consumed AS (DELETE FROM outbox") for s in sent) == 1, sent
    else:  # SQLite: the message consumed, then the row read with the rest (no row locks there)
        assert [s.split()[0] for s in apart] == ["DELETE"], apart
    # When: the same message comes again (a broker's redelivery)
    with _Statements(database_url) as sent:
        again = _advance(database_url, settings, execution_id, message_id)
    # Then: it changes nothing; on PostgreSQL one statement finds the message gone (SQLite reuses
    # the freed id for the Task's message, so there the run's seq is what turns the copy away)
    assert again == []
    if get_engine(database_url).dialect.name == "postgresql":
        assert len(sent) == 1, sent
    with session_scope(database_url) as session:
        row = session.execute(select(Execution.seq, Execution.status).where(Execution.id == execution_id)).one()
    assert tuple(row) == (1, "RUNNING")


def test_a_lock_that_waited_sees_the_event_written_meanwhile(postgresql_url: str, tmp_path: Path) -> None:
    _, execution_id, message_id = _started(postgresql_url, tmp_path)
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(seconds=30)
    found: dict[str, Any] = {}
    holding = threading.Event()
    # Given: another transaction holds the execution's lock and appends an event stamped later
    with session_scope(postgresql_url) as other:
        root = runs.lock_execution(other, execution_id)
        assert root is not None
        next_id = root._mapping["next_event_id"]

        def step() -> None:
            holding.wait()
            try:
                with session_scope(postgresql_url) as session:
                    row = runs.consume_and_lock(session, message_id, execution_id)
                    assert row is not None
                    found["seen"] = row._mapping["last_event_seen"]
                    found["time"] = runs.last_event_time(session, row, now)
            except Exception as exc:  # shown by the assertions below instead of lost with the thread
                found["error"] = exc

        waiter = threading.Thread(target=step)
        waiter.start()
        holding.set()
        # (the waiter's statement starts, with its snapshot, before this transaction commits)
        with get_engine(postgresql_url).connect() as watcher:
            for _ in range(200):
                waiting = watcher.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).scalar()
                # (a transaction sees pg_stat_activity as it was at its first look: end it, or a
                # waiter that connects after that first look is never seen)
                watcher.rollback()
                if waiting:
                    break
                threading.Event().wait(0.05)
        assert waiting, f"the step never waited for the lock ({found.get('error')!r})"
        event_ = Event(id=next_id, previous_event_id=next_id - 1, timestamp=later, type="PassStateEntered")
        runs.append_events(other, execution_id, [event_])
        runs.update_run(other, execution_id, next_event_id=next_id + 1)
    waiter.join(timeout=10)
    assert "error" not in found, found["error"]
    # Then: its snapshot missed the event, so the step asked again and stamps after it
    assert found["seen"] == next_id - 1
    assert found["time"] == later


def test_a_step_writes_the_task_it_follows_on_with_in_its_own_statement(database_url: str, tmp_path: Path) -> None:
    settings, execution_id, message_id = _started(database_url, tmp_path)
    follow_on = FollowOnLease(lambda messages: messages[0] if messages else None, "this-worker", 30.0)
    # When: the step whose only message is the next Task, which this worker runs itself (follow-on)
    with _Statements(database_url) as sent:
        messages = _advance(database_url, settings, execution_id, message_id, follow_on)
    # Then: the Task's message comes back leased, with its outbox row and its lease written
    assert [(m.task, m.leased) for m in messages] == [("orchestrator.invoke", True)]
    with session_scope(database_url) as session:
        lease = session.execute(select(Lease.worker, Lease.attempt).where(Lease.outbox_id == messages[0].outbox_id))
        assert tuple(lease.one()) == ("this-worker", 1)
        assert session.get(OutboxMessage, messages[0].outbox_id) is not None
    if get_engine(database_url).dialect.name == "postgresql":
        # one statement writes the events, the row, the outbox row and its lease
        writing = [s for s in sent if "INSERT INTO outbox" in s or "INSERT INTO leases" in s]
        assert len(writing) == 1, [s[:90] for s in sent]
        assert writing[0].startswith("WITH ") and "UPDATE executions" in writing[0], writing[0]
        assert "INSERT INTO outbox" in writing[0] and "INSERT INTO leases" in writing[0], writing[0]


def test_start_execution_writes_the_row_and_its_first_event_in_one_statement(database_url: str, tmp_path: Path) -> None:
    settings = config.load({"ORCHESTRATOR_DATABASE_URL": database_url, "ORCHESTRATOR_HOME": str(tmp_path)})
    service = Service(settings)
    machine = service.create_state_machine(name="starts", definition=json.dumps(TASK), role_arn=ROLE)
    with _Statements(database_url) as sent:
        arn = service.start_execution(machine["stateMachineArn"], input='{"a": 1}')["executionArn"]
    with session_scope(database_url) as session:
        row = session.execute(select(Execution).where(Execution.arn == arn)).scalar_one()
        events = session.execute(select(HistoryEvent.type).where(HistoryEvent.execution_id == row.id)).all()
    # Then: the execution keeps its own history, holds its first event, and the model's defaults
    assert (row.history_id, row.input, row.variables, row.state_transitions) == (row.id, {"a": 1}, {}, 0)
    assert [e.type for e in events] == ["ExecutionStarted"]
    if get_engine(database_url).dialect.name == "postgresql":
        writing = [s for s in sent if "INSERT INTO executions" in s or "INSERT INTO history_events" in s]
        assert len(writing) == 1 and "INSERT INTO history_events" in writing[0], [s[:90] for s in sent]
        assert not [s for s in sent if s.startswith("UPDATE executions")], sent
