"""Pruning: remove closed executions older than a given age now, or count what that would remove.

The scheduler does the same thing on its own (`runtime.retention`, ``ORCHESTRATOR_RETENTION_DAYS``);
this is the action behind ``orchestrator prune``, which goes through every batch at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from orchestrator.runtime.retention import BATCH_EVENTS, BATCH_EXECUTIONS, prune_batch
from orchestrator.service.base import ServiceBase, ServiceError, utcnow
from orchestrator.store.retention import Removed


class RetentionActions(ServiceBase):
    def prune_executions(
        self,
        older_than: dt.timedelta,
        *,
        dry_run: bool = False,
        now: dt.datetime | None = None,
        batch_executions: int = BATCH_EXECUTIONS,
        batch_events: int = BATCH_EVENTS,
    ) -> dict[str, Any]:
        """Remove (or with ``dry_run`` count) the closed executions that stopped more than
        ``older_than`` ago, batch after batch, each batch its own transaction.

        Returns ``{"stoppedBefore", "dryRun", "batches", "removed": {"executions", "childRuns",
        "historyEvents", "taskTokens", "timers", "mapRuns", "outboxMessages"}}``.
        """
        if older_than < dt.timedelta(0):
            raise ServiceError("ValidationException", "older_than must not be negative")
        cutoff = (now or utcnow()) - older_than
        total, after_id, batches = Removed(), 0, 0
        while True:
            removed, batch = prune_batch(
                self.settings,
                cutoff,
                after_id=after_id,
                dry_run=dry_run,
                executions=batch_executions,
                events=batch_events,
            )
            if not batch.ids:
                break
            total, after_id, batches = total + removed, batch.last_id, batches + 1
        return {"stoppedBefore": cutoff, "dryRun": dry_run, "batches": batches, "removed": total.to_json()}
