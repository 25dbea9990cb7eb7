"""The embedded default: a Celery worker and the scheduler inside the current process.

With no broker configured (``memory://``), ``orchestrator run`` starts these threads; the worker
runs the same tasks, through the same Celery machinery, as ``orchestrator worker`` does on a
server (it is a real worker consuming a real, in-process transport; not eager mode).
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any

from celery import Celery
from celery.exceptions import SecurityWarning

from orchestrator.config import Settings
from orchestrator.runtime.scheduler import Scheduler

log = logging.getLogger(__name__)
_RUNNING: set[EmbeddedRuntime] = set()


def is_running() -> bool:
    """Whether an embedded runtime runs in this process (so its in-process broker has a consumer)."""
    return bool(_RUNNING)


class EmbeddedRuntime:
    """Start with `start`, end with `stop`; usable as a context manager."""

    def __init__(self, app: Celery, settings: Settings, *, concurrency: int = 4) -> None:
        self.app = app
        self.settings = settings
        self.concurrency = concurrency
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._worker: Any = None

    def start(self) -> EmbeddedRuntime:
        with warnings.catch_warnings():
            # Celery warns a worker run as root that a message from its broker could run code as
            # root; the in-process broker is reached by nobody else, so there the warning (an error
            # under a strict warnings filter) says nothing true.
            if self.settings.embedded_broker:
                warnings.filterwarnings("ignore", category=SecurityWarning)
            self._worker = self.app.Worker(
                pool="threads",
                concurrency=self.concurrency,
                without_mingle=True,
                without_gossip=True,
                without_heartbeat=True,
                loglevel="WARNING",
                quiet=True,
                queues=[self.settings.engine_queue, self.settings.handler_queue],
            )
        worker = threading.Thread(target=self._worker.start, name="orchestrator-worker", daemon=True)
        scheduler = threading.Thread(
            target=Scheduler(self.app, self.settings).run_forever,
            args=(self._stop,),
            name="orchestrator-scheduler",
            daemon=True,
        )
        self._threads = [worker, scheduler]
        for thread in self._threads:
            thread.start()
        _RUNNING.add(self)
        return self

    def stop(self) -> None:
        _RUNNING.discard(self)
        self._stop.set()
        if self._worker is not None:
            try:
                self._worker.stop(in_sighandler=False)
            except Exception as exc:
                log.debug("embedded worker stop: %s", exc)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> EmbeddedRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
