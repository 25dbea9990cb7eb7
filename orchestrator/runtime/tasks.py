"""The Celery tasks: each opens one transaction, calls `operations`, and publishes after commit.

``orchestrator.invoke`` runs on a handler queue: it calls the handler outside any transaction,
then resumes the execution with the result itself, so a Task state costs one broker hop. If the
database is unreachable then, it hands the result on as an ``orchestrator.advance`` message.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from sqlalchemy.exc import DBAPIError, OperationalError

from orchestrator.engine.outcomes import Delivery, TaskContext
from orchestrator.integrations import registry
from orchestrator.integrations.invoke import invoke
from orchestrator.runtime import operations
from orchestrator.runtime.app import settings_of
from orchestrator.runtime.messages import (
    ADVANCE,
    INVOKE,
    TIME_OUT,
    decode_delivery,
    decode_request,
    encode_delivery,
)
from orchestrator.runtime.publish import publish
from orchestrator.store.db import session_scope

log = logging.getLogger(__name__)
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


@shared_task(name=ADVANCE, bind=True, acks_late=True, **_DB_RETRY)
def advance(
    self: Any,
    root_id: int,
    run_id: int,
    seq: int,
    delivery: dict[str, Any] | None,
    outbox_id: int | None = None,
) -> None:
    attempt = delivery.get("attempt") if delivery else None
    apply(self.app, root_id, run_id, seq, decode_delivery(delivery), outbox_id, attempt=attempt)


def apply(
    app: Any,
    root_id: int,
    run_id: int,
    seq: int,
    delivery: Delivery | None,
    outbox_id: int | None,
    *,
    attempt: list[Any] | None = None,
) -> None:
    settings = settings_of(app)
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
            now=utcnow(),
        )
    publish(app, messages)


@shared_task(name=INVOKE, bind=True, acks_late=True)
def invoke_handler(
    self: Any, root_id: int, run_id: int, seq: int, request: dict[str, Any], outbox_id: int | None = None
) -> None:
    task = decode_request(request)
    context = TaskContext(
        request.get("executionArn", ""), task.state, task.resource, request.get("retryCount", 0), task.token
    )
    delivery = invoke(task, context, registry.handlers(), callback_answers=False)
    try:
        apply(self.app, root_id, run_id, seq, delivery, outbox_id)
    except (OperationalError, DBAPIError) as exc:
        # Keep the handler's answer: resume later from a message instead of running it again.
        log.warning("database unavailable after %s ran (%s); resuming through a message", task.resource, exc)
        self.app.send_task(
            ADVANCE,
            args=[root_id, run_id, seq, encode_delivery(delivery), outbox_id],
            queue=settings_of(self.app).engine_queue,
            countdown=1,
        )


@shared_task(name=TIME_OUT, bind=True, acks_late=True, **_DB_RETRY)
def time_out(self: Any, root_id: int, outbox_id: int | None = None) -> None:
    settings = settings_of(self.app)
    with session_scope(settings.database_url) as session:
        messages = operations.time_out(session, settings, execution_id=root_id, outbox_id=outbox_id, now=utcnow())
    publish(self.app, messages)
