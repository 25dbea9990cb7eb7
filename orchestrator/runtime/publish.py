"""Sending messages once their transaction has committed, and republishing the ones lost.

A message is in the outbox table from the transaction that decided it until the transaction that
acts on it. Publishing can fail (the broker is down) and a broker can lose what it held (Redis
restarted without persistence, flushed): the sweeper republishes every message older than the
visibility timeout that nobody has consumed, backing off for those it already republished. A message
delivered twice is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from orchestrator.runtime.messages import Message
from orchestrator.store import runs

log = logging.getLogger(__name__)


def publish(app: Celery, messages: list[Message]) -> int:
    """Send ``messages``; returns how many went out (the rest wait for the sweeper)."""
    sent = 0
    for message in messages:
        try:
            app.send_task(
                message.task,
                args=message.args,
                queue=message.queue,
                countdown=message.countdown,
                argsrepr=_args_repr(message.args),
                kwargsrepr="{}",
            )
            sent += 1
        except Exception as exc:
            log.warning("could not publish %s (outbox %s): %s", message.task, message.outbox_id, exc)
    return sent


def _args_repr(args: list[Any]) -> str:
    """What monitoring shows of a message's arguments: the ids, with ``...`` for a payload. Celery
    would otherwise render the whole payload (a task's input, up to 256 KiB) on every publish, which
    cost a tenth of a worker's CPU in bench/durable.py."""
    return "[" + ", ".join(repr(arg) if arg is None or isinstance(arg, int) else "..." for arg in args) + "]"


def sweep(session: Session, *, now: dt.datetime, older_than: dt.timedelta, limit: int = 500) -> list[Message]:
    """Claim for publishing the messages published longer than ``older_than`` ago and never consumed,
    and those never published (left by a process without a broker).

    A message may be unconsumed only because the queue ahead of it is long; publishing it again
    every ``older_than`` would lengthen the queue further. So each republished message waits, before
    the next time, as long as it has existed: the waits double.
    """
    stale = runs.stale_messages(
        session,
        now=now,
        published_before=now - older_than,
        created_before=now - dt.timedelta(seconds=0.5),
        limit=limit,
    )
    runs.mark_republished(
        session, {r._mapping["id"]: now + max(older_than, now - _utc(r._mapping["created_at"])) for r in stale}, now
    )
    return [
        Message(
            r._mapping["task"],
            [*r._mapping["args"], r._mapping["id"]],
            r._mapping["queue"],
            None,
            r._mapping["id"],
        )
        for r in stale
    ]


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; what the engine stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
