"""What ``serve``, ``worker`` and ``scheduler`` set up to be watched: their log format and their metrics.

``ORCHESTRATOR_LOG_FORMAT=json`` makes every process write one JSON object per log line on stderr
(`orchestrator.logs`); Celery's own lines too, since the worker answers Celery's ``setup_logging``
signal (Celery then leaves logging alone). A worker started with ``--metrics-port`` serves the
metrics of all its pool processes there (`runtime.scrape`, docs/operations.md).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from orchestrator import logs

# Loggers that come with handlers of their own, which would write plain text beside the JSON.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task", "celery.redirected")


def setup_logs(log_format: str, level: int | str) -> None:
    """Log in ``log_format`` from here on; ``text`` keeps the process's usual lines."""
    if log_format not in ("text", "json"):
        logs.configure("text", level)
        logging.getLogger(__name__).warning(
            "ORCHESTRATOR_LOG_FORMAT=%s is neither text nor json; logging text", log_format
        )
        return
    logs.configure(log_format, level)
    if log_format == "json":
        logs.route_to_root(*_OWN_HANDLERS)
        _add_runtime_context()


def _add_runtime_context() -> None:
    """The execution, state and attempt a worker's step is on, from `runtime.log_context`."""
    try:
        from orchestrator.runtime import log_context
    except ImportError:
        return
    provider = getattr(log_context, "current_fields", None) or getattr(log_context, "current", None)
    if callable(provider):
        logs.add_context(provider)


def celery_task_fields() -> dict[str, Any]:
    """The Celery task a worker process is running, if any (its name and id; never its arguments)."""
    from celery._state import get_current_task

    task = get_current_task()
    if task is None or task.request.id is None:
        return {}
    return {"task": task.name, "taskId": task.request.id}


def prepare_worker(log_format: str, metrics_port: int | None) -> None:
    """Before the worker's modules load: JSON logging through Celery's signals, and the metrics
    directory its pool processes share (which must exist before prometheus-client is imported)."""
    if metrics_port is not None:
        from orchestrator.runtime.scrape import use_multiprocess_dir

        use_multiprocess_dir("worker")
    from celery import signals

    if log_format == "json":
        setup_logs("json", logging.INFO)  # until Celery asks, with the worker's --loglevel

        def setup_logging(loglevel: Any = None, **_: Any) -> None:
            setup_logs("json", loglevel or logging.INFO)

        signals.setup_logging.connect(setup_logging, weak=False)
        logs.add_context(celery_task_fields)

    def forget(pid: int | None = None, **_: Any) -> None:
        from orchestrator.runtime.scrape import forget_process

        forget_process(pid or os.getpid())

    signals.worker_process_shutdown.connect(forget, weak=False)


def start_worker_metrics(port: int | None, host: str) -> None:
    if port is None:
        return
    from orchestrator.runtime.scrape import serve_worker_metrics

    serve_worker_metrics(port, host)
    logging.getLogger(__name__).info("worker metrics on http://%s:%d/metrics", host, port)


def share_metrics_between_processes() -> None:
    """``serve --workers N``: the N server processes count into one directory that each one's
    ``/metrics`` reads whole (they are spawned after this, and inherit the variable)."""
    from orchestrator.runtime.scrape import use_multiprocess_dir

    use_multiprocess_dir("serve")


def setup_cli_logs() -> None:
    """A command other than serve, worker and scheduler: JSON lines if asked, else Python's default."""
    from orchestrator import config

    log_format = config.load().log_format
    if log_format != "text":
        setup_logs(log_format, logging.WARNING)
