"""The Celery application, configured from `orchestrator.config`.

Workers run ``celery -A orchestrator.runtime.app worker`` (what ``orchestrator worker`` does).
Messages are acknowledged after the task's transaction commits (``acks_late``), so a worker that
dies mid-task leaves its message to be delivered again; a task that runs twice changes nothing
the second time (the ``seq`` check).
"""

from __future__ import annotations

from celery import Celery

from orchestrator import config
from orchestrator.runtime import execution_logs, inprocess, metrics, tracing


def configure(app: Celery, settings: config.Settings) -> None:
    app.conf.update(
        broker_url=settings.broker_url,
        # the in-process broker, as kombu's but letting the embedded worker stop at once (`inprocess`)
        broker_transport=inprocess.TRANSPORT if settings.embedded_broker else None,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            # Redis: look for messages whose visibility timeout passed (a dead worker's) often
            # enough to notice them soon after it passes; kombu's default looks every ~100 s.
            "unacked_restore_interval": max(1.0, min(10.0, settings.visibility_timeout / 4)),
            "unacked_restore_throttle": 1,
            # the in-process transport is polled; poll it often (the others push)
            "polling_interval": 0.005 if settings.embedded_broker else 1.0,
        },
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=settings.engine_queue,
        worker_prefetch_multiplier=settings.prefetch,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        enable_utc=True,
    )
    app.orchestrator_settings = settings  # type: ignore[attr-defined]
    # this process's history, logged as the state machines' loggingConfiguration says
    execution_logs.install(settings.execution_log)
    tracing.install()  # spans of the executions of traced state machines, when they end


def settings_of(current: Celery) -> config.Settings:
    return current.orchestrator_settings  # type: ignore[attr-defined,no-any-return]


app = Celery("orchestrator")
configure(app, config.load())
# Every process that runs the engine counts the history it commits (runtime.metrics).
metrics.install()

# Register the tasks on import, so `celery -A orchestrator.runtime.app worker` finds them.
import orchestrator.runtime.deliveries  # noqa: E402
import orchestrator.runtime.event_deliveries  # noqa: E402
import orchestrator.runtime.express  # noqa: E402
import orchestrator.runtime.put_events  # noqa: E402
import orchestrator.runtime.tasks  # noqa: E402, F401

# orchestrator.start_execution (StartExecution sent as a Celery task) calls the service layer, so it
# lives above the runtime, with the client; workers import it by name when they start.
app.conf.include = ["orchestrator.client.celery_task"]
