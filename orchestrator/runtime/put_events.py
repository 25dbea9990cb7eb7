"""Events that ``events:putEvents`` Tasks put, delivered as the status-change events are.

The runtime lends `integrations.eventbridge` an `EventBus` (below): each event rides in an
``orchestrator.status_event`` message of the outbox, written in a transaction of its own and
published once it commits, so that `runtime.event_deliveries` records it and delivers it at least
once to every subscriber whose filters let it through (docs/events.md). A Task that runs
twice (handlers run at least once) puts its events twice, as on AWS.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from celery import Celery, current_task

from orchestrator.integrations import eventbridge
from orchestrator.runtime.app import settings_of
from orchestrator.runtime.driver import queue_messages
from orchestrator.runtime.messages import Message
from orchestrator.runtime.publish import publish
from orchestrator.runtime.status_events import STATUS_EVENT
from orchestrator.store import status_events as store
from orchestrator.store.db import session_scope


@dataclass(frozen=True)
class RuntimeEventBus:
    """This runtime as `integrations.eventbridge` delivers through it (`eventbridge.EventBus`)."""

    app: Celery

    def put(self, events: list[dict[str, Any]], execution_arn: str) -> None:
        settings = settings_of(self.app)
        now = dt.datetime.now(dt.UTC)
        with session_scope(settings.database_url) as session:
            execution_id = store.execution_id_by_arn(session, execution_arn)
            if execution_id is None:
                return  # removed since (retention): its events would have nowhere to live
            texts = [json.dumps(event, ensure_ascii=False) for event in events]
            messages = [Message(STATUS_EVENT, [execution_id, text], settings.handler_queue) for text in texts]
            queued = queue_messages(session, messages, now, published=True)
        publish(self.app, queued)


def current_bus() -> RuntimeEventBus | None:
    """The runtime's event bus when a putEvents Task runs in one of its tasks; None elsewhere (run_local)."""
    app = current_task.app if current_task else None
    return RuntimeEventBus(app) if getattr(app, "orchestrator_settings", None) is not None else None


# The integrations sit below the runtime: the way it delivers events is lent to them, here.
eventbridge.INTEGRATION.deliver_through(current_bus)
