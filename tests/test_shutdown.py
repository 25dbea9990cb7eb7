"""Stopping and probing real processes as the recipes in deploy/ do: graceful shutdown on SIGTERM, and
the ``orchestrator health`` probes.

Docker, Kubernetes and systemd (``KillMode=mixed``) send SIGTERM to a container's or unit's main
process only, so these tests do the same (never to a prefork worker's pool processes). A worker told
to stop finishes the task it is running and leaves what it has not started to the next worker; the
scheduler stops between two ticks. The processes run against PostgreSQL and Redis, on queues of this
test's own.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import isolate
from tests.runtime.conftest import (  # noqa: F401 - database_url is a fixture
    REDIS_URL,
    Cluster,
    Process,
    assert_history_is_sound,
    database_url,
    wait_for,
)

# A Redis database no other test flushes; the queues are this test's own anyway (`isolate`).
BROKER_URL = REDIS_URL.rsplit("/", 1)[0] + "/12"
SLEEP = "arn:aws:lambda:us-east-1:123456789012:function:sleep"
SLEEPY_MACHINE = {
    "StartAt": "Sleep",
    "States": {
        "Sleep": {"Type": "Task", "Resource": SLEEP, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}
HANDLER_SECONDS = 6.0


class Processes:
    """The cluster's processes, started as the recipes start them, and stopped as they stop them."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.started: list[Process] = []

    def start(self, name: str, *argv: str) -> Process:
        command = [sys.executable, "-m", "orchestrator.cli", *argv]
        process = Process(name, command, self.cluster.env, self.cluster.tmp / f"{name}-{len(self.started)}.log")
        self.started.append(process)
        return process

    def worker(self, *options: str) -> Process:
        """``orchestrator worker --concurrency 1`` (one task at a time), ready to take messages."""
        process = self.start("worker", "worker", "--concurrency", "1", "--without-mingle", "--without-gossip", *options)
        wait_for(lambda: "ready" in process.output() or not process.alive(), 60, what="the worker to start")
        assert process.alive(), process.output()
        return process

    def health(self, *options: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "orchestrator.cli", "health", "--json", *options]
        return subprocess.run(command, env=self.cluster.env, capture_output=True, text=True, timeout=60)

    def kill_all(self) -> None:
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.handle.pid, signal.SIGKILL)
            process.handle.wait(timeout=30)


def terminate(process: Process, timeout: float) -> tuple[float, float]:
    """SIGTERM to the main process only; returns when it was sent and when the process had exited."""
    signalled = time.time()
    os.kill(process.handle.pid, signal.SIGTERM)
    try:
        process.handle.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{process.name} did not exit within {timeout}s of SIGTERM:\n{process.output()}") from None
    return signalled, time.time()


def repeated_events(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(type, state) pairs recorded more than once: in a workflow without loops or retries, a transition twice."""
    counted: collections.Counter[tuple[str, str | None]] = collections.Counter()
    state = None
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
        if isinstance(details, dict) and details.get("name"):
            state = details["name"]
        counted[(event["type"], state)] += 1
    return [key for key, n in counted.items() if n > 1]


@pytest.fixture()
def cluster(database_url: str, tmp_path: Path) -> Cluster:  # noqa: F811
    cluster = Cluster(database_url, BROKER_URL, tmp_path)
    cluster.env.update(
        ORCHESTRATOR_HOME=str(tmp_path / "home"),
        ORCHESTRATOR_SCHEDULER_HEARTBEAT=str(tmp_path / "home" / "scheduler.heartbeat"),
    )
    isolate(cluster)  # reloads the settings from the environment, with queues of this test's own
    return cluster


@pytest.fixture()
def processes(cluster: Cluster) -> Iterator[Processes]:
    started = Processes(cluster)
    yield started
    started.kill_all()


def test_a_worker_told_to_stop_finishes_its_task_and_leaves_the_rest(
    cluster: Cluster, processes: Processes, tmp_path: Path
) -> None:
    machine = cluster.state_machine(SLEEPY_MACHINE)
    worker = processes.worker()
    marker = tmp_path / "handler-running"
    first = cluster.start(machine, {"seconds": HANDLER_SECONDS, "marker": str(marker)})
    wait_for(marker.exists, 60, what="the handler to start")
    handler_pid = marker.read_text()
    # Published while the only worker process is busy: it waits in the broker.
    second = cluster.start(machine, {"seconds": 0.1})

    signalled, exited = terminate(worker, timeout=60)

    assert worker.handle.returncode == 0, worker.output()
    assert "Traceback" not in worker.output(), worker.output()
    # Told while the handler ran, it exited only after the handler's end; and the execution moved on
    # before it exited: no other worker was running.
    handler_ends = marker.stat().st_mtime + HANDLER_SECONDS
    assert signalled < handler_ends <= exited, (signalled, handler_ends, exited)
    described = cluster.describe(first)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"slept": HANDLER_SECONDS}
    # What it had not started is still to do, for the next worker.
    assert cluster.describe(second)["status"] == "RUNNING"

    processes.worker()
    assert cluster.wait(second, timeout=60)["status"] == "SUCCEEDED"
    # The next worker did not run the first handler again (it would have rewritten the marker).
    assert marker.read_text() == handler_pid
    for arn in (first, second):
        events = cluster.history(arn)
        assert_history_is_sound(events)
        assert repeated_events(events) == [], arn
        assert [e["type"] for e in events].count("LambdaFunctionSucceeded") == 1, arn


def test_the_scheduler_stops_promptly_and_cleanly(cluster: Cluster, processes: Processes) -> None:
    heartbeat = cluster.settings.scheduler_heartbeat
    scheduler = processes.start("scheduler", "scheduler", "--tick", "0.25")
    wait_for(heartbeat.exists, 60, what="the scheduler's first tick")

    signalled, exited = terminate(scheduler, timeout=10)

    assert scheduler.handle.returncode == 0, scheduler.output()
    assert "Traceback" not in scheduler.output(), scheduler.output()
    # Between two ticks: a tick is one short transaction, and the wait between them is interrupted.
    assert exited - signalled < 5.0, exited - signalled


def test_the_worker_probe_pings_the_worker_by_its_node_name(cluster: Cluster, processes: Processes) -> None:
    """As Compose and Kubernetes run it: no --hostname, so the node is celery@<host>, the probe's default."""
    worker = processes.worker()
    assert f"celery@{socket.gethostname()}" in worker.output()

    healthy = processes.health("--worker")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    report = json.loads(healthy.stdout)
    assert report["worker"] == {"name": f"celery@{socket.gethostname()}", "status": "ok"}

    # systemd names each instance (worker1@host): the probe takes the name.
    named = processes.worker("--hostname", f"shutdown-{uuid.uuid4().hex[:6]}@%h")
    name = next(word for word in named.handle.args if str(word).startswith("shutdown-"))
    name = str(name).replace("%h", socket.gethostname())
    assert processes.health("--worker", name).returncode == 0

    terminate(worker, timeout=60)
    gone = processes.health("--worker")
    assert gone.returncode == 1
    assert json.loads(gone.stdout)["worker"]["status"] == "not answering"


def test_the_scheduler_probe_reads_the_heartbeat(cluster: Cluster, processes: Processes) -> None:
    before = processes.health("--scheduler")
    assert before.returncode == 1
    assert json.loads(before.stdout)["scheduler"]["status"] == "no heartbeat"

    scheduler = processes.start("scheduler", "scheduler", "--tick", "0.25")
    wait_for(cluster.settings.scheduler_heartbeat.exists, 60, what="the scheduler's first tick")
    running = processes.health("--scheduler")
    assert running.returncode == 0, running.stdout + running.stderr
    assert json.loads(running.stdout)["scheduler"]["status"] == "ok"

    terminate(scheduler, timeout=10)
    # A heartbeat older than the probe allows is stale (set the file's time back, not the clock).
    stale = time.time() - 120
    os.utime(cluster.settings.scheduler_heartbeat, (stale, stale))
    after = processes.health("--scheduler")
    assert after.returncode == 1
    assert json.loads(after.stdout)["scheduler"]["status"] == "stale"
