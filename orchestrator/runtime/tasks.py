"""The Celery tasks: each opens one transaction, calls `operations`, and publishes after commit.

``orchestrator.invoke`` runs on a handler queue: it calls the handler outside any transaction,
then resumes the execution with the result itself, so a Task state costs one broker hop. If the
database is unreachable then, it hands the result on as an ``orchestrator.advance`` message.

A transaction that fails for any reason but a lost database is counted against its message
(`poison`): after a few tries its execution fails with States.Runtime instead of staying RUNNING.

When a transaction's messages include the execution's next Task and this worker consumes that
Task's queue, the same Celery task goes on with it instead of a trip through the broker, for at
most ``follow_on_seconds`` (a setting); then it publishes. That is long enough to save the broker
trips of a run of short Tasks, and short enough that a worker soon takes other executions'
messages. The next Task's message is in the outbox, marked published, either way, and its lease
is taken in the transaction that decided it: if this worker dies during it, the lease runs out and
the scheduler hands the Task to another worker.

A handler call holds a lease on its message while it runs (`runtime.leases`): a copy of a message
that another live worker runs, or that was consumed already, does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import current_task, shared_task
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from orchestrator import config
from orchestrator.engine.outcomes import Delivery, TaskContext
from orchestrator.integrations import registry, s3_tasks
from orchestrator.integrations.invoke import invoke
from orchestrator.runtime import leases, log_context, operations, poison, tracing
from orchestrator.runtime.app import settings_of
from orchestrator.runtime.messages import (
    ADVANCE,
    INVOKE,
    TIME_OUT,
    Message,
    decode_delivery,
    decode_request,
    encode_delivery,
)
from orchestrator.runtime.publish import publish
from orchestrator.store.db import session_scope

log = logging.getLogger(__name__)


def _worker_settings() -> config.Settings | None:
    """The settings of the runtime whose task runs now (None outside one)."""
    return getattr(current_task.app, "orchestrator_settings", None) if current_task else None


# A Distributed Map's ResultWriter reads its Map Run's results from the database of the runtime
# whose worker runs it: that worker's settings, which an embedded runtime may have been given in
# code rather than by the environment.
s3_tasks.INTEGRATION.settings_from(_worker_settings)

# Retry a task whose database is away (restarting, failing over), with a capped backoff.
_DB_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": None,
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class FollowOn:
    """Which next Task this worker may run itself: the first due now on one of ``queues``, until the
    monotonic clock reads ``until``."""

    queues: frozenset[str]
    until: float

    def pick(self, messages: list[Message]) -> Message | None:
        return _follow_on(messages, self.queues) if time.monotonic() < self.until else None


@dataclass(frozen=True, slots=True)
class Step:
    """What a transaction decided: the messages to publish, but ``follow``, which this worker runs
    itself under ``lease`` (taken in that transaction)."""

    messages: list[Message]
    follow: Message | None = None
    lease: leases.Lease | None = None


@shared_task(name=ADVANCE, bind=True, acks_late=True, **_DB_RETRY)
def advance(
    self: Any,
    root_id: int,
    run_id: int,
    seq: int,
    delivery: dict[str, Any] | None,
    outbox_id: int | None = None,
) -> str | None:
    """Returns what it worked on, which Celery's log line about the task shows (`log_context`)."""
    with log_context.working():
        follow = _follow_on_policy(self)
        attempt = delivery.get("attempt") if delivery else None
        step = _guarded(
            self.app,
            root_id,
            outbox_id,
            lambda: resume(
                self.app, root_id, run_id, seq, decode_delivery(delivery), outbox_id, attempt=attempt, follow=follow
            ),
        )
        _go_on(self, step, follow)
        return log_context.describe()


def _guarded(app: Any, root_id: int, outbox_id: int | None, work: Callable[[], Step]) -> Step:
    """``work()``'s step. If its transaction fails (but for a lost database, which Celery retries),
    the failure is counted against its message instead, and the execution fails after a few."""
    try:
        return work()
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        log.exception("execution %s: a step failed (outbox message %s)", root_id, outbox_id, extra=log_context.extra())
        if outbox_id is None:
            return Step([])  # a timer's fast path: its timer row brings the step back, in a counted message
        settings = settings_of(app)
        with session_scope(settings.database_url) as session:
            return Step(
                poison.record_failure(session, settings, outbox_id=outbox_id, root_id=root_id, error=exc, now=utcnow())
            )


def resume(
    app: Any,
    root_id: int,
    run_id: int,
    seq: int,
    delivery: Delivery | None,
    outbox_id: int | None,
    *,
    attempt: list[Any] | None = None,
    timers: bool = True,
    follow: FollowOn | None = None,
) -> Step:
    """One transaction of `operations.advance`; returns the messages to publish, and the next Task
    this worker runs itself (if ``follow`` picks one), with its lease."""
    settings = settings_of(app)
    now = utcnow()
    # With leases, the transaction that writes the next Task's message leases it to this process
    # (one statement for both); without, the Task runs here under a lease of attempt 0.
    follow_on = leases.FollowOnLease.of(settings, follow.pick) if follow is not None else None
    with session_scope(settings.database_url) as session:
        messages = operations.advance(
            session,
            settings,
            root_id=root_id,
            run_id=run_id,
            seq=seq,
            delivery=delivery,
            outbox_id=outbox_id,
            attempt=attempt,
            now=now,
            timers=timers,
            follow_on=follow_on,
        )
    if follow_on is not None:
        chosen = next((m for m in messages if m.leased), None)
        return Step(messages, chosen, None if chosen is None else leases.Lease(chosen.outbox_id or 0, 1))
    chosen = follow.pick(messages) if follow is not None else None
    return Step(messages, chosen, None if chosen is None else leases.Lease(chosen.outbox_id or 0, 0))


@shared_task(name=INVOKE, bind=True, acks_late=True, max_retries=None)
def invoke_handler(
    self: Any, root_id: int, run_id: int, seq: int, request: dict[str, Any], outbox_id: int | None = None
) -> str | None:
    """Returns what it worked on, which Celery's log line about the task shows (`log_context`)."""
    with log_context.working():
        follow = _follow_on_policy(self)
        try:
            lease = leases.take(settings_of(self.app), outbox_id)
        except (OperationalError, InterfaceError) as exc:
            # the database is away: try again later (the outbox row keeps the message meanwhile)
            raise self.retry(exc=exc, countdown=min(30, 2**self.request.retries), max_retries=None) from exc
        if lease is None:
            return None  # consumed already, or another worker runs it now
        _go_on(self, _invoke_once(self.app, lease, follow, root_id, run_id, seq, request, outbox_id), follow)
        return log_context.describe()


def _follow_on_policy(task: Any) -> FollowOn:
    """Follow-on for a task starting now: for ``follow_on_seconds``, on the queues this worker takes."""
    return FollowOn(_queues_consumed(task), time.monotonic() + settings_of(task.app).follow_on_seconds)


def _go_on(task: Any, step: Step, follow: FollowOn) -> None:
    """Publish ``step``'s messages, and run the Task it follows on with here; and so on."""
    while True:
        publish(task.app, [m for m in step.messages if m is not step.follow])
        if step.follow is None or step.lease is None:
            return
        step = _invoke_once(task.app, step.lease, follow, *step.follow.args)


def _queues_consumed(task: Any) -> frozenset[str]:
    """The queues this worker takes messages from (its ``--queues``), and the current message's."""
    routing_key = (task.request.delivery_info or {}).get("routing_key")
    return frozenset(task.app.amqp.queues.consume_from) | ({routing_key} if routing_key else set())


def _invoke_once(
    app: Any,
    lease: leases.Lease,
    follow: FollowOn,
    root_id: int,
    run_id: int,
    seq: int,
    request: dict[str, Any],
    outbox_id: int | None,
) -> Step:
    """Run a Task's handler under ``lease``, then resume its execution with the answer."""
    with leases.holding(settings_of(app), lease):
        return _guarded(
            app, root_id, outbox_id, lambda: _invoke_and_resume(app, follow, root_id, run_id, seq, request, outbox_id)
        )


def _invoke_and_resume(
    app: Any, follow: FollowOn, root_id: int, run_id: int, seq: int, request: dict[str, Any], outbox_id: int | None
) -> Step:
    task = decode_request(request)
    context = TaskContext(
        request.get("executionArn", ""), task.state, task.resource, request.get("retryCount", 0), task.token
    )
    log_context.note(execution_arn=context.execution_arn, state=task.state, attempt=context.retry_count + 1)
    with tracing.activated(request.get("traceParent")):
        delivery = invoke(
            task, context, registry.handlers(), callback_answers=False, on_handler_error=_log_handler_error
        )
    try:
        return resume(
            app,
            root_id,
            run_id,
            seq,
            delivery,
            outbox_id,
            timers=bool(task.timeout_seconds or task.heartbeat_seconds),
            follow=follow,
        )
    except DBAPIError as exc:
        if not _database_away(exc):
            raise  # the database refused the step (a poison message): counted by the caller
        # Keep the handler's answer: resume later from a message instead of running it again.
        log.warning("database unavailable after %s ran (%s); resuming through a message", task.resource, exc)
        app.send_task(
            ADVANCE,
            args=[root_id, run_id, seq, encode_delivery(delivery), outbox_id],
            queue=settings_of(app).engine_queue,
            countdown=1,
        )
        return Step([])


def _log_handler_error(exc: Exception) -> None:
    """A user's handler raised: the worker's log shows where (execution, state, attempt) and its traceback."""
    log.warning(
        "handler raised %s in %s: %s",
        type(exc).__name__,
        log_context.describe(latest_only=True),
        exc,
        exc_info=exc,
        extra=log_context.extra(),
    )


def _database_away(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated


def _follow_on(messages: list[Message], queues: frozenset[str]) -> Message | None:
    """The execution's next Task, due now on one of ``queues``, if there is one."""
    for message in messages:
        if message.task == INVOKE and message.queue in queues and message.countdown is None and message.durable:
            return message
    return None


@shared_task(name=TIME_OUT, bind=True, acks_late=True, **_DB_RETRY)
def time_out(self: Any, root_id: int, outbox_id: int | None = None) -> None:
    settings = settings_of(self.app)

    def end() -> list[Message]:
        with session_scope(settings.database_url) as session:
            return operations.time_out(session, settings, execution_id=root_id, outbox_id=outbox_id, now=utcnow())

    publish(self.app, _guarded(self.app, root_id, outbox_id, lambda: Step(end())).messages)
