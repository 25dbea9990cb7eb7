"""Retention: the scheduler removes closed executions older than ``ORCHESTRATOR_RETENTION_DAYS``.

A pass starts when the scheduler starts and then every `PASS_EVERY` seconds. It goes through the
removable executions (`store.retention`) in id order, one batch per scheduler tick, each batch in a
transaction of its own that holds at most `BATCH_EXECUTIONS` executions and about `BATCH_EVENTS`
history events: the locks it takes are on closed executions only, and for a fraction of a second.
Several schedulers may prune at once: a batch skips the rows another one has locked.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from orchestrator.config import Settings
from orchestrator.runtime.messages import ADVANCE, EXPRESS, EXPRESS_ITERATION, INVOKE, TIME_OUT
from orchestrator.store import retention
from orchestrator.store.db import session_scope
from orchestrator.store.retention import Batch, Removed

log = logging.getLogger(__name__)

# The outbox messages whose first argument is the execution they are for.
EXECUTION_TASKS = (ADVANCE, INVOKE, TIME_OUT, EXPRESS, EXPRESS_ITERATION)
BATCH_EXECUTIONS = 500
# About 0.1-0.3 s of deleting on PostgreSQL (bench/RETENTION.md): short enough for the scheduler's
# tick, which fires timers in between.
BATCH_EVENTS = 20_000
PASS_EVERY = 600.0
RETRY_AFTER = 60


def prune_batch(
    settings: Settings,
    cutoff: dt.datetime,
    *,
    after_id: int = 0,
    dry_run: bool = False,
    executions: int = BATCH_EXECUTIONS,
    events: int = BATCH_EVENTS,
) -> tuple[Removed, Batch]:
    """One batch of the executions stopped before ``cutoff`` with ids above ``after_id``, in one
    transaction: removed, or only counted with ``dry_run``. An empty batch means none is left."""
    with session_scope(settings.database_url) as session:
        batch = retention.find(session, cutoff, after_id=after_id, executions=executions, events=events)
        if dry_run:
            return retention.measure(session, batch.ids, EXECUTION_TASKS), batch
        locked = retention.lock(session, cutoff, batch.ids)
        return retention.remove(session, locked, EXECUTION_TASKS), batch


class Retention:
    """The scheduler's periodic prune: `run_if_due` does one batch when a pass is due or under way."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], dt.datetime],
        *,
        every: float = PASS_EVERY,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.every = every
        self._due = 0.0  # time.monotonic() of the next pass; 0: at once
        self._after_id = 0
        self._pass = Removed()

    def run_if_due(self) -> Removed | None:
        """One batch if a pass is due or under way; None when retention is off or it is not time."""
        days = self.settings.retention_days
        if days is None or time.monotonic() < self._due:
            return None
        cutoff = self.clock() - dt.timedelta(days=days)
        try:
            removed, batch = prune_batch(self.settings, cutoff, after_id=self._after_id)
        except SQLAlchemyError as exc:
            # Pruning can wait; the timers the scheduler fires cannot: never let it stop the loop.
            log.warning("retention: a batch failed (%s); trying again in %d s", exc, RETRY_AFTER)
            self._due = time.monotonic() + RETRY_AFTER
            return None
        self._pass += removed
        if batch.ids:
            self._after_id = batch.last_id
            return removed
        if self._pass.executions:
            log.info(
                "retention: removed %d execution(s) stopped before %s, with %d history event(s)",
                self._pass.executions,
                cutoff.isoformat(timespec="seconds"),
                self._pass.history_events,
            )
        self._after_id, self._pass = 0, Removed()
        self._due = time.monotonic() + self.every
        return removed
