"""Delivering status-change events to their subscribers, at least once, on the handler queue.

1. ``orchestrator.status_event`` (the event's message, written with the status change) records the
   event (``status_events``), finds the subscribers whose filters let it through and writes one
   PENDING delivery each, with its message, in the transaction that consumes the event's message.
2. ``orchestrator.deliver_status_event`` makes one attempt: a signed HTTP POST of the event to a
   webhook, or a call of a ``@subscriber`` function. A failure schedules the next attempt after
   the subscriber's backoff (a message with a countdown) and keeps the outbox message, which the
   scheduler republishes if that retry is lost; after the last attempt the delivery is DEAD (a dead
   letter: ``orchestrator events dead-letters`` lists them, ``orchestrator events replay`` tries
   them again).
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import logging
from typing import Any

import httpx
from celery import shared_task
from sqlalchemy.exc import OperationalError

from orchestrator.config import Settings
from orchestrator.runtime.app import settings_of
from orchestrator.runtime.driver import queue_messages
from orchestrator.runtime.event_signing import SIGNATURE_HEADER, sign
from orchestrator.runtime.event_subscribers import (
    RetryPolicy,
    Subscriber,
    Webhook,
    by_key,
    is_status_change,
    subscribers,
)
from orchestrator.runtime.messages import Message
from orchestrator.runtime.publish import publish
from orchestrator.runtime.status_events import STATUS_EVENT
from orchestrator.store import runs, topics
from orchestrator.store import status_events as store
from orchestrator.store.db import session_scope

DELIVER_EVENT = "orchestrator.deliver_status_event"  # (delivery_id, outbox_id)
USER_AGENT = "orchestrator-status-events/1"
PUT_EVENT = "PUT_EVENT"  # the status recorded for an event an events:putEvents Task put

log = logging.getLogger(__name__)

# Retry a task whose database is away (restarting, failing over), with a capped backoff.
_DB_RETRY: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": None,
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def delivery_messages(settings: Settings, delivery_ids: list[int]) -> list[Message]:
    return [Message(DELIVER_EVENT, [delivery_id], settings.handler_queue) for delivery_id in delivery_ids]


@shared_task(name=STATUS_EVENT, **_DB_RETRY)
def fan_out(self: Any, execution_id: int, text: str, outbox_id: int | None = None) -> None:
    """Record the event its message carries, and write and send a delivery of it for each
    subscriber whose filters let it through."""
    settings = settings_of(self.app)
    now = utcnow()
    event = json.loads(text)
    with session_scope(settings.database_url) as session:
        if not runs.consume_message(session, outbox_id):
            return  # a copy of a message already handled
        if not store.execution_exists(session, execution_id):
            return  # removed since (retention)
        changed = dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        # An event put by an events:putEvents Task has no status of its own.
        status = event["detail"]["status"] if is_status_change(event) else PUT_EVENT
        store.add_event(
            session, event_id=event["id"], execution_id=execution_id, status=status, time=changed, text=text
        )
        keys = [s.key for s in subscribers(settings) if s.filter.accepts(event)]
        ids = store.add_deliveries(session, event["id"], keys, now)
        messages = queue_messages(session, delivery_messages(settings, ids), now, published=True)
    publish(self.app, messages)


@shared_task(name=DELIVER_EVENT, **_DB_RETRY)
def deliver(self: Any, delivery_id: int, outbox_id: int | None = None) -> None:
    """Make one attempt of a delivery; schedule the next one, or record that it is done or dead."""
    settings = settings_of(self.app)
    with session_scope(settings.database_url) as session:
        claim = store.claim_attempt(session, delivery_id, utcnow())
    if claim is None:
        _forget_if_done(settings, delivery_id, outbox_id)
        return
    target = by_key(settings, claim.subscriber)
    error = send(target, claim.subscriber, claim.event, claim.attempts, delivery_id)
    policy = target.retry if target is not None else RetryPolicy()
    with session_scope(settings.database_url) as session:
        status = store.finish_attempt(
            session, delivery_id, error=error, give_up=claim.attempts >= policy.max_attempts, now=utcnow()
        )
        if status == "PENDING":
            topics.touch_outbox(session, outbox_id, utcnow())
        else:
            runs.consume_message(session, outbox_id)
    if status == "DEAD":
        log.warning("status event %s to %s is a dead letter: %s", claim.event_id, claim.subscriber, error)
    if status == "PENDING":
        countdown = policy.delay(claim.attempts)
        self.app.send_task(
            DELIVER_EVENT, args=[delivery_id, outbox_id], queue=settings.handler_queue, countdown=countdown
        )


def send(target: Subscriber | None, key: str, text: str, attempt: int, delivery_id: int) -> str | None:
    """One attempt; None when the subscriber took the event, else what went wrong."""
    if target is None:
        return f"no subscriber {key!r} is configured in this worker (events file, or @subscriber in a handler module)"
    if isinstance(target, Webhook):
        return _post(target, text.encode(), attempt, delivery_id)
    try:
        target.function(json.loads(text))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _post(webhook: Webhook, body: bytes, attempt: int, delivery_id: int) -> str | None:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(webhook.secret, body),
        "X-Orchestrator-Delivery": str(delivery_id),
        "X-Orchestrator-Attempt": str(attempt),
    }
    try:
        response = _client().post(webhook.url, content=body, headers=headers, timeout=webhook.timeout)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code} {response.reason_phrase}: {response.text[:500]}"


@functools.cache
def _client() -> httpx.Client:
    """One client (and connection pool) per process."""
    shared = httpx.Client(follow_redirects=False)
    atexit.register(shared.close)
    return shared


def _forget_if_done(settings: Settings, delivery_id: int, outbox_id: int | None) -> None:
    """A copy of a delivery message found nothing to do: drop its outbox message if the delivery has
    ended (keep it while another attempt is under way: it is the safety net if that one is lost)."""
    with session_scope(settings.database_url) as session:
        if store.delivery_status(session, delivery_id) != "PENDING":
            runs.consume_message(session, outbox_id)
