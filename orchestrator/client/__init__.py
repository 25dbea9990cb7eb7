"""`Client`: start and follow executions from a Python service, in-process or over HTTP.

``Client()`` uses the database the configuration names (as the CLI does: the embedded SQLite file
by default, ``ORCHESTRATOR_DATABASE_URL`` otherwise) through the service layer in this process,
and can join the caller's SQLAlchemy transaction (``session=``). ``Client(endpoint_url=...)``
talks to ``orchestrator serve`` with SigV4-signed requests. Both answer alike: the API's
dictionaries (camelCase keys, JSON documents as text), timestamps as UTC datetimes, refusals as
`ServiceError` with AWS's error code. docs/client.md is the guide.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from orchestrator import config
from orchestrator.client.answers import json_text, normalized, params
from orchestrator.service import ServiceError

__all__ = ["Client", "ServiceError", "WaitTimeout"]

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# wait() polls DescribeExecution: soon at first (most executions are short), each pause a quarter
# longer than the one before (an end is seen within a fifth of the time waited so far), then every
# half second.
FIRST_POLL_SECONDS = 0.02
POLL_GROWTH = 1.25
MAX_POLL_SECONDS = 0.5


class WaitTimeout(TimeoutError):
    """`Client.wait` gave up: the execution still runs. ``description`` is its last DescribeExecution."""

    def __init__(self, execution_arn: str, timeout: float, description: dict[str, Any]) -> None:
        super().__init__(f"{execution_arn} still {description.get('status', 'RUNNING')} after {timeout:g} s")
        self.description = description


class Client:
    """AWS Step Functions' actions on this engine, with boto3's names and snake_case parameters.

    Parameters:
      endpoint_url: ``orchestrator serve``'s URL (``http://127.0.0.1:8083``); None: the database, in-process.
      access_key, secret_key: the key the requests are signed with (over HTTP; by default
        ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``, or a placeholder: a server without
        access keys checks none).
      region: the region requests are signed for (over HTTP; default ``ORCHESTRATOR_REGION``, us-east-1).
      settings: in-process, a configuration other than the environment's (`orchestrator.config.load`).
      app: in-process, the Celery app to publish with (default: one configured from ``settings``).

    In-process on the embedded broker (no ``ORCHESTRATOR_BROKER_URL``), the client runs a worker
    and the scheduler in this process, as ``orchestrator run`` does, from its first call that needs
    them until `close` (or the end of a ``with Client() as client:`` block).
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        settings: config.Settings | None = None,
        app: Any = None,
    ) -> None:
        self.settings = settings or config.load()
        self._runtime: Any = None
        self._runtime_lock = threading.Lock()  # a web service calls from many threads
        self._handlers_loaded = False
        if endpoint_url is not None:
            from orchestrator.client.http import HttpTransport

            region = region or self.settings.region
            self._transport: Any = HttpTransport(
                endpoint_url, access_key=access_key, secret_key=secret_key, region=region
            )
            self.in_process = False
            return
        from orchestrator.client.database import DatabaseTransport

        _check_schema(self.settings)
        self._transport = DatabaseTransport(self.settings, app if app is not None else _celery_app(settings))
        self.in_process = True

    # -- state machines --------------------------------------------------------------------------

    def create_state_machine(
        self,
        name: str,
        definition: str | dict[str, Any],
        role_arn: str,
        *,
        type: str | None = None,
        tags: list[dict[str, str]] | None = None,
        logging_configuration: dict[str, Any] | None = None,
        tracing_configuration: dict[str, Any] | None = None,
        publish: bool | None = None,
        version_description: str | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        """CreateStateMachine. ``definition``: the ASL as JSON text or as a dict."""
        return self._call(
            "CreateStateMachine",
            session,
            name=name,
            definition=json_text(definition),
            roleArn=role_arn,
            type=type,
            tags=tags,
            loggingConfiguration=logging_configuration,
            tracingConfiguration=tracing_configuration,
            publish=publish,
            versionDescription=version_description,
        )

    def update_state_machine(
        self,
        state_machine_arn: str,
        *,
        definition: str | dict[str, Any] | None = None,
        role_arn: str | None = None,
        logging_configuration: dict[str, Any] | None = None,
        tracing_configuration: dict[str, Any] | None = None,
        publish: bool | None = None,
        version_description: str | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        """UpdateStateMachine: executions started from now on run the new definition."""
        return self._call(
            "UpdateStateMachine",
            session,
            stateMachineArn=state_machine_arn,
            definition=None if definition is None else json_text(definition),
            roleArn=role_arn,
            loggingConfiguration=logging_configuration,
            tracingConfiguration=tracing_configuration,
            publish=publish,
            versionDescription=version_description,
        )

    def describe_state_machine(self, state_machine_arn: str, *, session: Session | None = None) -> dict[str, Any]:
        return self._call("DescribeStateMachine", session, stateMachineArn=state_machine_arn)

    # -- executions ------------------------------------------------------------------------------

    def start_execution(
        self,
        state_machine_arn: str,
        input: Any = None,
        *,
        name: str | None = None,
        trace_header: str | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        """StartExecution: ``{"executionArn", "startDate"}``. ``input``: JSON text or a Python value.

        Idempotent by ``name``, as on AWS: the same name and input while that execution runs answer
        the first call's ARN; another input, or a name whose execution has ended, is
        ``ExecutionAlreadyExists``. With ``session``, the execution commits (and starts running)
        with the caller's transaction, or never exists.
        """
        self._need_runtime()
        return self._call(
            "StartExecution",
            session,
            stateMachineArn=state_machine_arn,
            input=None if input is None else json_text(input),
            name=name,
            traceHeader=trace_header,
        )

    def start_sync_execution(
        self,
        state_machine_arn: str,
        input: Any = None,
        *,
        name: str | None = None,
        trace_header: str | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        """StartSyncExecution: run an EXPRESS state machine and answer how it ended (in-process: in this process)."""
        if self.in_process:
            self._load_handlers()
        return self._call(
            "StartSyncExecution",
            session,
            stateMachineArn=state_machine_arn,
            input=None if input is None else json_text(input),
            name=name,
            traceHeader=trace_header,
        )

    def describe_execution(self, execution_arn: str, *, session: Session | None = None) -> dict[str, Any]:
        return self._call("DescribeExecution", session, executionArn=execution_arn)

    def wait(self, execution_arn: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Block until the execution ends; return its DescribeExecution.

        Polls every 20 ms at first, then less often, every 0.5 s at most. ``timeout`` (seconds,
        None: no limit) raises `WaitTimeout` while the execution still runs.
        """
        self._need_runtime()
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = FIRST_POLL_SECONDS
        while True:
            description = self.describe_execution(execution_arn)
            if description["status"] in TERMINAL:
                return description
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(execution_arn, timeout or 0.0, description)
                pause = min(pause, left)
            time.sleep(pause)
            pause = min(pause * POLL_GROWTH, MAX_POLL_SECONDS)

    def list_executions(
        self,
        state_machine_arn: str,
        *,
        status_filter: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        session: Session | None = None,
        redrive_filter: str | None = None,
    ) -> dict[str, Any]:
        """ListExecutions: one page, newest first (``nextToken`` when there are more);
        ``redrive_filter``: ``REDRIVEN`` or ``NOT_REDRIVEN`` executions only."""
        return self._call(
            "ListExecutions",
            session,
            stateMachineArn=state_machine_arn,
            statusFilter=status_filter,
            maxResults=max_results,
            nextToken=next_token,
            redriveFilter=redrive_filter,
        )

    def stop_execution(
        self,
        execution_arn: str,
        *,
        error: str | None = None,
        cause: str | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        self._need_runtime()
        return self._call("StopExecution", session, executionArn=execution_arn, error=error, cause=cause)

    def history(
        self,
        execution_arn: str,
        *,
        reverse_order: bool = False,
        include_execution_data: bool = True,
        session: Session | None = None,
    ) -> list[dict[str, Any]]:
        """GetExecutionHistory, every page: the events, oldest first (newest first with ``reverse_order``)."""
        return list(
            self.iter_history(
                execution_arn,
                reverse_order=reverse_order,
                include_execution_data=include_execution_data,
                session=session,
            )
        )

    def iter_history(
        self,
        execution_arn: str,
        *,
        reverse_order: bool = False,
        include_execution_data: bool = True,
        page_size: int = 1000,
        session: Session | None = None,
    ) -> Iterator[dict[str, Any]]:
        """GetExecutionHistory's events one by one, reading ``page_size`` at a time as they are used."""
        token = None
        while True:
            page = self._call(
                "GetExecutionHistory",
                session,
                executionArn=execution_arn,
                maxResults=page_size,
                reverseOrder=reverse_order,
                includeExecutionData=include_execution_data,
                nextToken=token,
            )
            yield from page["events"]
            token = page.get("nextToken")
            if not token:
                return

    # -- task tokens -----------------------------------------------------------------------------

    def send_task_success(self, task_token: str, output: Any, *, session: Session | None = None) -> dict[str, Any]:
        """SendTaskSuccess. ``output``: JSON text or a Python value."""
        self._need_runtime()
        return self._call("SendTaskSuccess", session, taskToken=task_token, output=json_text(output))

    def send_task_failure(
        self,
        task_token: str,
        *,
        error: str | None = None,
        cause: str | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        self._need_runtime()
        return self._call("SendTaskFailure", session, taskToken=task_token, error=error, cause=cause)

    def send_task_heartbeat(self, task_token: str, *, session: Session | None = None) -> dict[str, Any]:
        return self._call("SendTaskHeartbeat", session, taskToken=task_token)

    # -- transactions and lifetime ---------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A SQLAlchemy session on the engine's database, committed when the block ends (rolled back
        on an exception): for an application's own rows and ``session=`` calls that commit together.
        An application with its own sessions on the same database passes those instead."""
        if not self.in_process:
            raise TypeError("transaction() opens the database in this process: create the Client without endpoint_url")
        with self._transport.transaction() as session:
            yield session

    # -- queues ----------------------------------------------------------------------------------

    def receive_messages(
        self,
        queue_url: str,
        *,
        max_messages: int = 1,
        wait_seconds: int = 0,
        visibility_timeout: int | None = None,
    ) -> dict[str, Any]:
        """ReceiveMessage on a queue ``sqs:sendMessage`` Tasks send to: ``{"Messages": [...]}``, each
        with its ``Body`` and the ``ReceiptHandle`` to delete it with once handled. ``wait_seconds``
        (up to 20) waits that long for a message when there is none.

        A local queue is read in-process (not over HTTP); a queue routed to an SQS endpoint is read
        there through boto3 (docs/integrations.md).
        """
        from orchestrator.client import queues

        if queues.is_remote(queue_url):
            return queues.receive(
                queue_url, max_messages=max_messages, wait_seconds=wait_seconds, visibility_timeout=visibility_timeout
            )
        answer: dict[str, Any] = self._local_queues().receive_messages(
            queue_url, max_messages=max_messages, wait_seconds=wait_seconds, visibility_timeout=visibility_timeout
        )
        return answer

    def delete_message(self, queue_url: str, receipt_handle: str) -> dict[str, Any]:
        """DeleteMessage: the message received with ``receipt_handle`` is handled; it will not come back."""
        from orchestrator.client import queues

        if queues.is_remote(queue_url):
            return queues.delete(queue_url, receipt_handle)
        answer: dict[str, Any] = self._local_queues().delete_message(queue_url, receipt_handle)
        return answer

    def _local_queues(self) -> Any:
        if not self.in_process:
            raise TypeError(
                "local queues are read in-process: create the Client without endpoint_url (on the same "
                "database), or route the queue to an SQS endpoint (ORCHESTRATOR_SQS_ENDPOINT_URL)"
            )
        return self._transport.service

    def close(self) -> None:
        """Stop the embedded worker and scheduler this client started (if it started them)."""
        with self._runtime_lock:
            if self._runtime is not None:
                self._runtime.stop()
                self._runtime = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------

    def _call(self, action: str, session: Session | None, **values: Any) -> dict[str, Any]:
        answer: dict[str, Any] = normalized(self._transport.call(action, params(**values), session))
        return answer

    def _load_handlers(self) -> None:
        if not self._handlers_loaded:
            from orchestrator.integrations import registry

            registry.load_modules(self.settings.handler_modules)
            self._handlers_loaded = True

    def _need_runtime(self) -> None:
        """On the embedded broker, run a worker and the scheduler here unless this process runs them already."""
        if not self.in_process or not self.settings.embedded_broker or self._runtime is not None:
            return
        with self._runtime_lock:
            if self._runtime is None:
                self._start_runtime()

    def _start_runtime(self) -> None:
        from orchestrator.runtime import embedded

        if embedded.is_running():
            return
        self._load_handlers()
        # Celery's warning against workers run as root is about a server's worker processes, not this
        # one; its start-up chatter is not for this application's log (unless it asked for it).
        warnings.filterwarnings("ignore", module="celery.platforms")
        for name in ("celery", "kombu", "amqp"):
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.ERROR)
        self._runtime = embedded.EmbeddedRuntime(self._transport.app, self.settings).start()


def _celery_app(settings: config.Settings | None) -> Any:
    """The runtime's app for the environment's configuration; an app of its own for other settings."""
    if settings is None:
        from orchestrator.runtime.app import app

        return app
    from celery import Celery

    from orchestrator.runtime.app import configure

    app = Celery("orchestrator-client")
    configure(app, settings)
    return app


def _check_schema(settings: config.Settings) -> None:
    """The embedded SQLite database is created (and migrated) on first use; another must be current."""
    from orchestrator.store.migrate import is_current, upgrade

    if settings.is_sqlite:
        upgrade(settings.database_url)
    elif not is_current(settings.database_url):
        raise RuntimeError(
            "the database schema is not up to date: run `orchestrator db upgrade` (with the same "
            "ORCHESTRATOR_DATABASE_URL) before using Client()"
        )
