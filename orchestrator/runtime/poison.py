"""Poison messages: a step that fails the same way on every try ends its execution, not a worker.

A task's transaction that raises anything but a lost database (OperationalError, which Celery
retries for as long as it takes) has rolled back: nothing it did happened, and its message's
outbox row is still there. `record_failure`, in a new transaction, counts the failure on that row
(durably: a worker lost meanwhile resets nothing) and has the sweeper publish it again in a few
seconds, so a passing fault (a race, a lock timeout) costs a retry. On the `MAX_TRIES`-th failure
the execution fails with ``States.Runtime`` and a cause naming the error, instead of waiting
RUNNING for ever: a value the database refuses, a recursion limit, a bug of ours.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from orchestrator.asl.errors import RUNTIME
from orchestrator.config import Settings
from orchestrator.runtime.ending import end_tree
from orchestrator.runtime.messages import Message
from orchestrator.store import leases, runs

# Three tries: one is not enough for a passing fault, and the cause of the failure is usually
# plain after the first (the same exception each time). The retries come 2 s and 4 s after a
# failure (plus the sweeper's tick), so a poisoned execution ends within about 10 s.
MAX_TRIES = 3
ERROR = RUNTIME
_MAX_DESCRIPTION = 2_000


def record_failure(
    session: Session,
    settings: Settings,
    *,
    outbox_id: int,
    root_id: int,
    error: BaseException,
    now: dt.datetime,
) -> list[Message]:
    """Count a failed try of the message ``outbox_id`` (for execution ``root_id``); fail the execution
    at `MAX_TRIES`. Returns the messages to publish (a waiting caller's answer)."""
    row = runs.lock_message(session, outbox_id)
    if row is None:
        return []  # consumed meanwhile: another delivery of it went through
    failures = row._mapping["failures"] + 1
    described = describe(error)
    if failures < MAX_TRIES:
        retry_at = now + dt.timedelta(seconds=2**failures)
        runs.note_failure(session, outbox_id, failures=failures, error=described, republish_at=retry_at)
        leases.release(session, outbox_id)  # so that the retry is not refused as running elsewhere
        return []
    runs.consume_message(session, outbox_id)
    cause = f"The engine could not run the execution's next step: it failed {failures} times with {described}"
    return end_tree(session, settings, root_id, status="FAILED", error=ERROR, cause=cause, now=now)


def describe(error: BaseException) -> str:
    """The error, briefly: a database error by the driver's own words (without the statement and its
    parameters, which SQLAlchemy's message adds and which may be large)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = " ".join(str(cause).split())
    if len(text) > _MAX_DESCRIPTION:
        text = text[:_MAX_DESCRIPTION] + "..."
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__
