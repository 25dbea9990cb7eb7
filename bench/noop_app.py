"""A plain Celery app with one no-op task: the raw Celery baseline of bench/durable.py.

Configured as `orchestrator.runtime.app` configures the engine's app (JSON, no result backend,
``acks_late``, the same prefetch), so that the two differ only by what the engine does inside
its tasks. The broker comes from ``BENCH_BROKER_URL``; the task runs on the ``bench.noop`` queue.

    celery -A bench.noop_app worker -Q bench.noop --pool prefork --concurrency 1
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery, signals

QUEUE = "bench.noop"
TASK = "bench.noop"

app = Celery("bench-noop")
app.conf.update(
    broker_url=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14"),
    broker_connection_retry_on_startup=True,
    result_backend=None,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=int(os.environ.get("ORCHESTRATOR_PREFETCH") or 1),
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    enable_utc=True,
)


@app.task(name=TASK, acks_late=True)
def noop() -> None:
    """Does nothing: what is left is Celery's own cost per task."""


@signals.worker_ready.connect
def _ready(**_: object) -> None:
    """Tell the benchmark this worker consumes (``BENCH_READY_FILE``)."""
    if os.environ.get("BENCH_READY_FILE"):
        Path(os.environ["BENCH_READY_FILE"]).write_text(str(os.getpid()))
