"""The client's in-process transport: the service's actions, in a transaction of their own or the caller's.

Every action goes through `orchestrator.service.Service`, as the CLI and the HTTP API do. Given a
caller's SQLAlchemy ``Session``, an action runs inside it (in a SAVEPOINT, so an action that
refuses, such as ExecutionAlreadyExists, leaves the caller's transaction usable) and the Celery
messages it decided are published only once the caller's transaction commits: an application's
own row and the execution it starts commit together, or neither does. The messages are in the
outbox table either way, so if this process dies between the commit and the publishing, the
scheduler's sweeper publishes them (within the lease's length, 15 s by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from orchestrator import config
from orchestrator.runtime.messages import Message
from orchestrator.runtime.publish import publish
from orchestrator.service import Service
from orchestrator.store.db import session_scope

# session.info key: the messages to publish once the session's outermost transaction commits
_PENDING = "orchestrator.client.publish_after_commit"

# Each action (by its API name) as a call of the service, from the request's parameters (AWS's names).
ACTIONS: dict[str, Callable[[Service, dict[str, Any]], dict[str, Any]]] = {
    "CreateStateMachine": lambda s, p: s.create_state_machine(
        name=p["name"],
        definition=p["definition"],
        role_arn=p["roleArn"],
        type=p.get("type", "STANDARD"),
        tags=p.get("tags"),
        logging_configuration=p.get("loggingConfiguration"),
        tracing_configuration=p.get("tracingConfiguration"),
        publish_version=p.get("publish", False),
        version_description=p.get("versionDescription"),
    ),
    "UpdateStateMachine": lambda s, p: s.update_state_machine(
        p["stateMachineArn"],
        definition=p.get("definition"),
        role_arn=p.get("roleArn"),
        logging_configuration=p.get("loggingConfiguration"),
        tracing_configuration=p.get("tracingConfiguration"),
        publish_version=p.get("publish", False),
        version_description=p.get("versionDescription"),
    ),
    "DescribeStateMachine": lambda s, p: s.describe_state_machine(p["stateMachineArn"]),
    "StartExecution": lambda s, p: s.start_execution(
        p["stateMachineArn"], name=p.get("name"), input=p.get("input"), trace_header=p.get("traceHeader")
    ),
    "StartSyncExecution": lambda s, p: s.start_sync_execution(
        p["stateMachineArn"], name=p.get("name"), input=p.get("input"), trace_header=p.get("traceHeader")
    ),
    "DescribeExecution": lambda s, p: s.describe_execution(p["executionArn"]),
    "ListExecutions": lambda s, p: s.list_executions(
        p["stateMachineArn"],
        status_filter=p.get("statusFilter"),
        max_results=p.get("maxResults", 0),
        next_token=p.get("nextToken"),
        redrive_filter=p.get("redriveFilter"),
    ),
    "GetExecutionHistory": lambda s, p: s.get_execution_history(
        p["executionArn"],
        max_results=p.get("maxResults", 0),
        reverse_order=p.get("reverseOrder", False),
        next_token=p.get("nextToken"),
        include_execution_data=p.get("includeExecutionData", True),
    ),
    "StopExecution": lambda s, p: s.stop_execution(p["executionArn"], error=p.get("error"), cause=p.get("cause")),
    "SendTaskSuccess": lambda s, p: s.send_task_success(p["taskToken"], p["output"]),
    "SendTaskFailure": lambda s, p: s.send_task_failure(p["taskToken"], error=p.get("error"), cause=p.get("cause")),
    "SendTaskHeartbeat": lambda s, p: s.send_task_heartbeat(p["taskToken"]),
}


class JoinedService(Service):
    """The service, with its actions run inside the caller's session and published after its commit."""

    def __init__(self, settings: config.Settings, app: Celery, session: Session) -> None:
        super().__init__(settings, app)
        self.session = session

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self.session.begin_nested():
            yield self.session

    def _publish_after_commit(self, messages: list[Message]) -> None:
        if self.publishing and messages:
            publish_on_commit(self.session, self.app, messages)


def publish_on_commit(session: Session, app: Celery, messages: list[Message]) -> None:
    """Publish ``messages`` once ``session``'s outermost transaction commits; forget them if it rolls back."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        if not event.contains(session, "after_commit", _committed):
            event.listen(session, "after_commit", _committed)
            event.listen(session, "after_transaction_end", _ended)
    pending.append((app, messages))


def _committed(session: Session) -> None:
    # after_commit fires for a SAVEPOINT released too: only the outermost commit makes the rows visible
    if session.get_nested_transaction() is not None:
        return
    for app, messages in session.info.pop(_PENDING, []):
        publish(app, messages)


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost one: committed (published above) or rolled back
        session.info.pop(_PENDING, None)


class DatabaseTransport:
    """Calls the service in this process, against the configured database."""

    def __init__(self, settings: config.Settings, app: Celery) -> None:
        self.settings = settings
        self.app = app
        self.service = Service(settings, app)

    def call(self, action: str, params: dict[str, Any], session: Session | None) -> dict[str, Any]:
        service = self.service if session is None else JoinedService(self.settings, self.app, session)
        return ACTIONS[action](service, params)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with session_scope(self.settings.database_url) as session:
            yield session
