"""The scheduler: fires due timers and republishes lost messages.

Run it as ``orchestrator scheduler`` (one or more: timers are claimed with SKIP LOCKED, so two
schedulers never fire the same one). Each tick it turns the timers whose time has come into
messages and, every second, sweeps the outbox for messages nobody consumed: those of lost workers
(their leases ran out), and those a broker lost or never got.
It also removes closed executions older than ``ORCHESTRATOR_RETENTION_DAYS`` (`runtime.retention`),
one small batch per tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from celery import Celery
from sqlalchemy.exc import OperationalError

from orchestrator.config import Settings
from orchestrator.runtime import operations
from orchestrator.runtime.publish import publish, sweep
from orchestrator.runtime.retention import Retention
from orchestrator.store.db import session_scope

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Scheduler:
    """Timers and the outbox sweeper, one tick at a time."""

    def __init__(
        self,
        app: Celery,
        settings: Settings,
        *,
        tick: float = 0.25,
        sweep_every: float = 1.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.app = app
        self.settings = settings
        self.tick = tick
        self.sweep_every = sweep_every
        self.clock = clock
        self._last_sweep = 0.0
        self.retention = Retention(settings, clock)  # removes old closed executions

    def run_once(self) -> int:
        """One tick; returns how many messages it published."""
        now = self.clock()
        with session_scope(self.settings.database_url) as session:
            messages = operations.fire_due_timers(session, self.settings, now=now)
        published = publish(self.app, messages)
        if time.monotonic() - self._last_sweep >= self.sweep_every:
            self._last_sweep = time.monotonic()
            with session_scope(self.settings.database_url) as session:
                stale = sweep(
                    session,
                    now=now,
                    older_than=dt.timedelta(seconds=self.settings.visibility_timeout),
                    lease_seconds=self.settings.lease_seconds if self.settings.leases else 0.0,
                )
            if stale:
                log.warning("republishing %d message(s) nobody consumed", len(stale))
            published += publish(self.app, stale)
        self.retention.run_if_due()
        return published

    def run_forever(self, stop: threading.Event, heartbeat: Path | None = None) -> None:
        """Tick until ``stop`` is set; touch ``heartbeat`` after every good tick (for readiness probes)."""
        log.info(
            "scheduler started: ticking every %.2f s when idle, sweeping the outbox every %.1f s",
            self.tick,
            self.sweep_every,
        )
        while not stop.is_set():
            try:
                busy = self.run_once()
                if heartbeat is not None:
                    heartbeat.touch()
            except OperationalError as exc:
                log.warning("scheduler: database unavailable (%s); retrying", exc.orig)
                busy = 0
                stop.wait(1.0)
            if not busy:
                stop.wait(self.tick)
