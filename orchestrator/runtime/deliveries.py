"""SNS deliveries in the durable runtime: one Celery task per attempt, on the handler queue.

Publishing puts one ``orchestrator.deliver`` message per subscription in the outbox, in the
transaction that stores the SNS message, so a crash between the two loses nothing. Each task makes
one attempt (`integrations.sns.attempt`, which counts it in the ``deliveries`` row before it
starts); a failure schedules the next attempt with the policy's backoff as a message with a
countdown, and keeps the outbox message, so the scheduler republishes it if that retry is lost
(a broker restart). The outbox message is consumed once the delivery is DELIVERED or FAILED.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from celery import Celery, current_task, shared_task
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from orchestrator import config
from orchestrator.integrations import sns
from orchestrator.runtime.app import settings_of
from orchestrator.runtime.driver import queue_messages
from orchestrator.runtime.messages import Message
from orchestrator.runtime.publish import publish
from orchestrator.store import runs, topics
from orchestrator.store.db import session_scope

DELIVER = "orchestrator.deliver"  # (delivery_id, message_structure, outbox_id)

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


def enqueue(
    session: Session, settings: config.Settings, delivery_ids: tuple[int, ...], structure: str | None, now: dt.datetime
) -> list[Message]:
    """Outbox messages for the first attempt of each delivery; publish them after the commit."""
    messages = [Message(DELIVER, [delivery_id, structure], settings.handler_queue) for delivery_id in delivery_ids]
    return queue_messages(session, messages, now, published=True)


@dataclass(frozen=True)
class RuntimeDeliveries:
    """This runtime as `integrations.sns` delivers through it (`sns.DeliveryQueue`)."""

    app: Celery

    @property
    def settings(self) -> config.Settings:
        return settings_of(self.app)

    def enqueue(
        self, session: Session, delivery_ids: tuple[int, ...], structure: str | None, now: dt.datetime
    ) -> list[Message]:
        return enqueue(session, self.settings, delivery_ids, structure, now)

    def publish(self, messages: list[Message]) -> None:
        publish(self.app, messages)


def current_queue() -> RuntimeDeliveries | None:
    """The runtime's delivery queue when an SNS publish runs in one of its tasks (a handler's worker);
    None elsewhere (run_local, the CLI without a worker), where SNS delivers at once."""
    app = current_task.app if current_task else None
    return RuntimeDeliveries(app) if getattr(app, "orchestrator_settings", None) is not None else None


# The integrations sit below the runtime: the way it delivers is lent to them, here.
sns.INTEGRATION.deliver_through(current_queue)


@shared_task(name=DELIVER, bind=True, acks_late=True, **_DB_RETRY)
def deliver(self: Any, delivery_id: int, structure: str | None = None, outbox_id: int | None = None) -> None:
    settings = settings_of(self.app)
    outcome = sns.attempt(settings.database_url, delivery_id, structure)
    if outcome is None:
        _forget_if_done(settings.database_url, delivery_id, outbox_id)
        return
    with session_scope(settings.database_url) as session:
        if outcome.retry_in is None:
            runs.consume_message(session, outbox_id)
        else:
            topics.touch_outbox(session, outbox_id, utcnow())
    if outcome.retry_in is not None:
        self.app.send_task(
            DELIVER,
            args=[delivery_id, structure, outbox_id],
            queue=settings.handler_queue,
            countdown=outcome.retry_in,
        )


def _forget_if_done(database_url: str, delivery_id: int, outbox_id: int | None) -> None:
    """A copy of a delivery message found nothing to do: drop its outbox message if the delivery has
    ended (keep it while another attempt is under way: it is the safety net if that one is lost)."""
    with session_scope(database_url) as session:
        if topics.delivery_status(session, delivery_id) != "PENDING":
            runs.consume_message(session, outbox_id)
