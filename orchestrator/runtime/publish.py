"""Sending messages once their transaction has committed, and republishing the ones lost.

A message is in the outbox table from the transaction that decided it until the transaction that
acts on it. Publishing can fail (the broker is down): the message is tried again by the sweeper a
second later, then after waits that double (up to `MAX_RETRY`). A broker can lose what it held
(Redis restarted without persistence, flushed), and a worker can die holding messages: the sweeper
republishes an execution's message whose lease ran out (its holder was lost) at once, and one that
no worker has taken a lease on for the lease's length after it was published (it went to a worker
that died before starting it, or the broker lost it); never one whose lease is alive. Other
messages (and all, with leases off) it republishes once they are older than the visibility
timeout. Each republished message waits, before the next time, as long as it has existed. A
message delivered twice is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from orchestrator.runtime.messages import ADVANCE, INVOKE, TIME_OUT, Message
from orchestrator.store import leases, runs
from orchestrator.store.db import session_scope

log = logging.getLogger(__name__)

# The messages of an execution's steps and Tasks: their work holds a lease (a handler call) or
# their outbox row's lock (an engine step), so the sweeper need not wait a visibility timeout.
LEASED = (ADVANCE, INVOKE, TIME_OUT)
# A message whose publishing failed is tried again after as long as it has existed, within these.
MIN_RETRY = dt.timedelta(seconds=1)
MAX_RETRY = dt.timedelta(seconds=30)


def publish(app: Celery, messages: list[Message]) -> int:
    """Send ``messages``; returns how many went out. On the first failure (the broker is away, most
    likely) it stops, and has the sweeper try the rest again within seconds."""
    for sent, message in enumerate(messages):
        try:
            app.send_task(
                message.task,
                args=message.args,
                queue=message.queue,
                countdown=message.countdown,
                argsrepr=_args_repr(message.args),
                kwargsrepr="{}",
            )
        except Exception as exc:
            log.warning("could not publish %s (outbox %s): %s", message.task, message.outbox_id, exc)
            _retry_soon(app, messages[sent:])
            return sent
    return len(messages)


def retry_delay(age: dt.timedelta) -> dt.timedelta:
    """How long a message that failed to go out waits before the next try: as long as it has existed
    (the waits double), one second at least and `MAX_RETRY` at most."""
    return min(MAX_RETRY, max(MIN_RETRY, age))


def _retry_soon(app: Celery, messages: list[Message]) -> None:
    settings = getattr(app, "orchestrator_settings", None)
    now = dt.datetime.now(dt.UTC)
    due = {m.outbox_id: now + retry_delay(now - _utc(m.created_at or now)) for m in messages if m.outbox_id is not None}
    if settings is None or not due:
        return
    try:
        with session_scope(settings.database_url) as session:
            runs.retry_publishing(session, due)
    except Exception as exc:  # the sweeper finds them anyway, only later
        log.warning("could not schedule %d message(s) to be published again: %s", len(due), exc)


def _args_repr(args: list[Any]) -> str:
    """What monitoring shows of a message's arguments: the ids, with ``...`` for a payload. Celery
    would otherwise render the whole payload (a task's input, up to 256 KiB) on every publish, which
    cost a tenth of a worker's CPU in bench/durable.py."""
    return "[" + ", ".join(repr(arg) if arg is None or isinstance(arg, int) else "..." for arg in args) + "]"


def sweep(
    session: Session, *, now: dt.datetime, older_than: dt.timedelta, lease_seconds: float = 0.0, limit: int = 500
) -> list[Message]:
    """Claim for publishing the messages nobody consumed that look lost: see the module's doc.
    ``older_than`` is the visibility timeout; ``lease_seconds`` the lease's length (0: no leases).

    A message may be unconsumed only because the queue ahead of it is long; publishing it again
    every so often would lengthen the queue further. So each republished message waits, before
    the next time, as long as it has existed: the waits double.
    """
    lease = dt.timedelta(seconds=lease_seconds) if lease_seconds > 0 else None
    stale = runs.stale_messages(
        session,
        now=now,
        published_before=now - older_than,
        created_before=now - dt.timedelta(seconds=0.5),
        limit=limit,
        leased=LEASED,
        unleased_before=now - lease if lease is not None else None,
    )
    if lease is not None:
        leases.give_up(session, [r._mapping["id"] for r in stale], now)

    def next_time(row: Any) -> dt.datetime:
        wait = lease if lease is not None and row.task in LEASED else older_than
        return now + max(wait, now - _utc(row.created_at))

    runs.mark_republished(session, {r._mapping["id"]: next_time(r) for r in stale}, now)
    return [
        Message(
            r._mapping["task"],
            [*r._mapping["args"], r._mapping["id"]],
            r._mapping["queue"],
            None,
            r._mapping["id"],
            created_at=_utc(r._mapping["created_at"]),
        )
        for r in stale
    ]


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; what the engine stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
