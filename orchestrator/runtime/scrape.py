"""Serving the metrics: what a Prometheus scrape reads, from ``orchestrator serve`` and from each worker.

A Celery worker runs its tasks in pool processes, each counting in its own memory, so workers use
prometheus-client's multiprocess mode: every process writes its metrics to files in one directory
(``PROMETHEUS_MULTIPROC_DIR``) and the worker's main process serves their sum on ``--metrics-port``.
``orchestrator serve --workers N`` does the same for its N server processes. The variable must be set
before prometheus-client is first imported, hence `use_multiprocess_dir` imports nothing of it.

The engine's backlog (outbox, due timers, expired leases, waiting tokens) is read from the database at
scrape time by `BacklogCollector`, on ``orchestrator serve`` only: every server reads the same rows,
so a worker adding them would count them once per worker.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_multiprocess_dir(prefix: str) -> str:
    """The multiprocess directory: the operator's, or a fresh one for this process and its children.

    Call it before prometheus-client is imported. An operator's directory must be emptied before the
    process starts (prometheus-client's rule: files left from a previous run would be added in)."""
    chosen = os.environ.get(MULTIPROC_ENV)
    if not chosen:
        chosen = tempfile.mkdtemp(prefix=f"orchestrator-{prefix}-metrics-")
        os.environ[MULTIPROC_ENV] = chosen
    return chosen


# name, help, and the `store.metrics.Backlog` field each gauge shows
BACKLOG_GAUGES = (
    ("orchestrator_outbox_messages", "Messages in the outbox: to publish, or published and not yet consumed",
     "outbox_messages"),
    ("orchestrator_outbox_oldest_message_age_seconds", "Age of the oldest message in the outbox",
     "outbox_oldest_seconds"),
    ("orchestrator_timers_due", "Timers whose time has come and that no scheduler has fired yet", "timers_due"),
    ("orchestrator_leases_expired", "Work whose worker stopped renewing its lease, not yet handed on",
     "leases_expired"),
    ("orchestrator_task_tokens_waiting", "Task tokens and activity tasks waiting for an answer", "tokens_waiting"),
)  # fmt: skip


class BacklogCollector:
    """Gauges of the engine's queues, each computed from the database when scraped."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from orchestrator.store.db import session_scope
        from orchestrator.store.metrics import backlog

        with session_scope(self.database_url) as session:
            now = backlog(session, dt.datetime.now(dt.UTC))
        for name, documentation, field in BACKLOG_GAUGES:
            yield GaugeMetricFamily(name, documentation, value=getattr(now, field))


class _Joined:
    """Several collectors read as one registry."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Any]:
        for collector in self.collectors:
            yield from collector.collect()


def registry(database_url: str | None = None) -> Any:
    """What a scrape of this process reads: its own metrics (every process's, in multiprocess mode),
    plus the backlog gauges when ``database_url`` is given."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if os.environ.get(MULTIPROC_ENV):
        own: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(own)
    else:
        own = REGISTRY
    return _Joined(own, BacklogCollector(database_url)) if database_url else own


def render(database_url: str | None = None) -> tuple[bytes, str]:
    """The scrape's body and content type (Prometheus' text format)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry(database_url)), CONTENT_TYPE_LATEST


def serve_worker_metrics(port: int, host: str) -> None:
    """Serve the metrics of this worker and its pool processes on ``host:port`` (a daemon thread)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=registry())


def forget_process(pid: int) -> None:
    """Called when a pool process exits: its live gauges stop counting (its counters stay summed)."""
    from prometheus_client import multiprocess

    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
