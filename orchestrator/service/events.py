"""Status-change events' deliveries: list them (the dead letters above all) and try dead ones again."""

from __future__ import annotations

from typing import Any

from orchestrator.runtime.driver import queue_messages
from orchestrator.runtime.event_deliveries import delivery_messages
from orchestrator.service.base import ServiceBase, ServiceError, utcnow
from orchestrator.store import status_events as store

DELIVERY_STATUSES = ("PENDING", "DELIVERED", "DEAD")


class EventActions(ServiceBase):
    def list_event_deliveries(
        self, *, status: str | None = "DEAD", after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Deliveries of status-change events, oldest first (by default the dead letters)."""
        if status is not None and status not in DELIVERY_STATUSES:
            raise ServiceError("ValidationException", f"status must be one of {', '.join(DELIVERY_STATUSES)}")
        with self._transaction() as session:
            rows = store.deliveries(session, status=status, after=after, limit=limit)
        return [
            {
                "deliveryId": r.id,
                "eventId": r.event_id,
                "subscriber": r.subscriber,
                "status": r.status,
                "attempts": r.attempts,
                "lastAttemptAt": r.last_attempt_at,
                "lastError": r.last_error,
                "deliveredAt": r.delivered_at,
                "executionArn": r.execution_arn,
                "executionStatus": r.execution_status,
            }
            for r in rows
        ]

    def replay_event_deliveries(self, delivery_ids: list[int] | None = None) -> list[int]:
        """Try dead letters again from their first attempt (all of them, or those of ``delivery_ids``);
        returns the ids sent again. An id that is not a dead letter is left alone."""
        now = utcnow()
        with self._transaction() as session:
            revived = store.revive(session, delivery_ids)
            messages = queue_messages(
                session, delivery_messages(self.settings, revived), now, published=self.publishing
            )
        self._publish_after_commit(messages)
        return revived
