"""Crashes: workers killed with SIGKILL mid-handler and mid-transaction, and Redis losing every message.

Each test runs several executions of a workflow without loops, retries or fan-out, so that in a
sound history every state is entered and left exactly once; it kills what it kills, lets the
survivors (and new workers) finish, and counts executions run, workers killed, executions lost
(not SUCCEEDED) and transitions recorded twice. Both of the last two must be 0.

The clusters run with the default settings (an hour's visibility timeout, 15 s leases), on a Redis
database of their own (CRASH_REDIS_URL): what a killed worker held comes back through its leases
and the sweeper, not through the broker. Each test measures how long every execution the loss
touched took to move on (its next event after the loss), which must stay under `RECOVERS_WITHIN`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.runtime.conftest import (
    CRASH_REDIS_URL,
    LAMBDA,
    RABBIT_URL,
    Cluster,
    ClusterFactory,
    Process,
    assert_history_is_sound,
    duplicated_transitions,
    libpq_url,
    report,
    wait_for,
)

# One test process runs these: one of them empties their Redis database, which the others use.
pytestmark = pytest.mark.xdist_group("crashes")

# The goal: every execution a lost worker held moves on within this many seconds of the loss.
RECOVERS_WITHIN = 30.0

# Begin -> Work (a handler that sleeps, leaving a marker file while it runs) -> Between -> More -> Done
CHAIN: dict[str, Any] = {
    "StartAt": "Begin",
    "States": {
        "Begin": {"Type": "Pass", "Next": "Work"},
        "Work": {
            "Type": "Task",
            "Resource": LAMBDA.format("sleep"),
            "Parameters": {"seconds.$": "$.seconds", "marker.$": "$.marker"},
            "ResultPath": "$.work",
            "Next": "Between",
        },
        "Between": {"Type": "Pass", "Next": "More"},
        "More": {
            "Type": "Task",
            "Resource": LAMBDA.format("sleep"),
            "Parameters": {"seconds": 0.1},
            "ResultPath": "$.more",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}
CHAIN_EVENTS = [
    "ExecutionStarted",
    "PassStateEntered", "PassStateExited",
    "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
    "TaskStateExited",
    "PassStateEntered", "PassStateExited",
    "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
    "TaskStateExited",
    "SucceedStateEntered", "SucceedStateExited",
    "ExecutionSucceeded",
]  # fmt: skip


ENDING_EVENTS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


class Tally:
    """What a crash test did and found."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.executions = 0
        self.killed = 0
        self.lost = 0
        self.duplicated = 0
        self.losses: list[tuple[str, float]] = []  # (execution ARN, when it lost its worker)
        self.recovery: list[float] = []

    def touched(self, arn: str, moment: float | None = None) -> None:
        """``arn``'s work was lost at ``moment`` (now by default): its next event is its recovery."""
        self.losses.append((arn, time.time() if moment is None else moment))

    def check(self, cluster: Cluster, arns: list[str], timeout: float, expected: list[str]) -> None:
        """Wait for every execution; count the lost ones and the duplicated transitions, then assert."""
        self.executions += len(arns)
        try:
            statuses = cluster.wait_all(arns, timeout)
        except AssertionError:
            statuses = cluster.statuses(arns)
        self.lost += sum(1 for s in statuses.values() if s != "SUCCEEDED")
        wrong: dict[str, list[str]] = {}
        for arn in arns:
            events = cluster.history(arn)
            assert_history_is_sound(events)
            self.duplicated += len(duplicated_transitions(events))
            types = [e["type"] for e in events]
            if types != expected and statuses[arn] == "SUCCEEDED":
                wrong[arn] = types
            self.recovery += [
                moved_on(events, moment)
                for touched, moment in self.losses
                if touched == arn and not ended_before(events, moment)
            ]
        report(
            f"{self.name}: {self.executions} executions run, {self.killed} workers killed, "
            f"{self.lost} lost, {self.duplicated} duplicated transitions; {_recovery_figure(self.recovery)}"
        )
        assert self.lost == 0, [_diagnose(cluster, arn) for arn, s in statuses.items() if s != "SUCCEEDED"]
        assert self.duplicated == 0
        assert not wrong, wrong
        assert self.recovery and max(self.recovery) < RECOVERS_WITHIN, self.recovery


def moved_on(events: list[dict[str, Any]], moment: float) -> float:
    """Seconds from ``moment`` to the execution's first event after it (infinite: none came)."""
    later = [e["timestamp"].timestamp() for e in events if e["timestamp"].timestamp() > moment]
    return min(later) - moment if later else float("inf")


def ended_before(events: list[dict[str, Any]], moment: float) -> bool:
    """Whether the execution had ended by ``moment``: a test that reads which executions are running,
    then causes the loss, can name one that ended in between, and the loss did not touch it."""
    last = events[-1]
    return last["type"] in ENDING_EVENTS and last["timestamp"].timestamp() <= moment


def _recovery_figure(seconds: list[float]) -> str:
    if not seconds:
        return "no execution touched"
    ordered = sorted(seconds)
    return (
        f"{len(ordered)} executions touched moved on {ordered[len(ordered) // 2]:.1f} s (median), "
        f"{ordered[-1]:.1f} s (max) after the loss"
    )


def _diagnose(cluster: Cluster, arn: str) -> dict[str, Any]:
    """What a lost execution was waiting for: its row, its history, the outbox and timers."""
    from sqlalchemy import select, text

    from orchestrator.store.db import session_scope
    from orchestrator.store.models import Execution

    with session_scope(cluster.settings.database_url) as session:
        row = session.execute(select(Execution.seq, Execution.cursor).where(Execution.arn == arn)).one()
        outbox = [dict(r._mapping) for r in session.execute(text("SELECT * FROM outbox"))]
    return {
        "arn": arn,
        "seq": row[0],
        "cursor": row[1],
        "history": [e["type"] for e in cluster.history(arn)],
        "outbox": outbox,
        "timers": cluster.timers(),
    }


def _owner(cluster: Cluster, pid: int) -> Process | None:
    """The live worker whose process group holds ``pid`` (a pool process of a prefork worker)."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return None
    return next((p for p in cluster.processes if p.alive() and p.handle.pid == group), None)


def _running_handler(cluster: Cluster, markers: list[Path]) -> tuple[Path, Process] | None:
    """A handler running now (its marker file, written by the worker's pool process) and its worker."""
    for marker in markers:
        try:
            pid = int(marker.read_text() or 0)
        except (OSError, ValueError):
            continue
        owner = _owner(cluster, pid) if pid else None
        if owner is not None and owner.name.startswith("worker"):
            return marker, owner
    return None


@pytest.mark.parametrize("broker", [CRASH_REDIS_URL, RABBIT_URL], ids=["redis", "rabbitmq"])
def test_workers_killed_while_handlers_run_lose_nothing(
    cluster_factory: ClusterFactory, tmp_path: Path, broker: str
) -> None:
    """Four workers; three are killed, each while it runs a handler. The last one finishes everything."""
    cluster = cluster_factory(broker)
    tally = Tally(f"SIGKILL while a handler runs ({broker.split(':', 1)[0]})")
    cluster.start_scheduler()
    cluster.start_workers(4, concurrency=2)
    machine = cluster.state_machine(CHAIN)
    markers = tmp_path / "markers"
    markers.mkdir()
    paths = [markers / f"{i}.pid" for i in range(8)]
    arns = [
        cluster.start(machine, {"seconds": 1.5, "marker": str(p)}, name=f"kill-handler-{i}")
        for i, p in enumerate(paths)
    ]
    for _ in range(3):
        marker, worker = wait_for(lambda: _running_handler(cluster, paths), 30, what="a handler to be running")
        worker.kill()  # SIGKILL, the worker and its pool processes
        tally.touched(arns[paths.index(marker)])
        tally.killed += 1
        marker.unlink(missing_ok=True)
    assert sum(1 for p in cluster.processes if p.alive() and p.name.startswith("worker")) == 1
    tally.check(cluster, arns, timeout=90, expected=CHAIN_EVENTS)


def _blocked_on_lock(database_url: str) -> int:
    """How many sessions of the database wait for a row lock now."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        return int(row[0]) if row else 0


def test_workers_killed_inside_an_advance_transaction_lose_nothing(
    cluster_factory: ClusterFactory, tmp_path: Path
) -> None:
    """The test holds an execution's row lock (SELECT ... FOR UPDATE) so that a worker's transaction
    on it blocks, kills that worker, then releases the lock: the transaction never commits, and
    another worker redoes it. Two places: the first ``advance`` after StartExecution, and the resume
    after a handler (the invoke task's transaction)."""
    cluster = cluster_factory(CRASH_REDIS_URL)
    database = cluster.settings.database_url
    tally = Tally("SIGKILL inside an advance transaction")
    cluster.start_scheduler()
    machine = cluster.state_machine(CHAIN)
    markers = tmp_path / "markers"
    markers.mkdir()
    arns: list[str] = []

    # 1. The first advance: executions started with no worker, their rows locked, then two workers
    #    that each block inside an advance transaction, killed.
    arns += [cluster.start(machine, {"seconds": 0.2, "marker": ""}, name=f"kill-advance-{i}") for i in range(6)]
    with psycopg.connect(libpq_url(database)) as holder:
        ids = [cluster.execution_id(arn) for arn in arns]
        holder.execute("SELECT id FROM executions WHERE id = ANY(%s) FOR UPDATE", [ids])
        doomed = cluster.start_workers(2, concurrency=2)
        # each worker's two pool processes take a message each, and block on its row
        wait_for(lambda: _blocked_on_lock(database) >= 4, 30, what="both workers blocked inside transactions")
        for worker in doomed:
            worker.kill()
            tally.killed += 1
        holder.rollback()  # the killed workers' transactions can go on now, and fail: the loss
    for arn in arns:
        tally.touched(arn)
    survivors = [cluster.start_worker(concurrency=2, wait=False) for _ in range(3)]
    for worker in survivors:
        cluster.wait_ready(worker)

    # 2. The resume after a handler: its row locked while the handler sleeps, the worker killed once
    #    the handler has returned and its transaction waits for the lock.
    for round_number in range(2):
        marker = markers / f"{round_number}.pid"
        arn = cluster.start(machine, {"seconds": 1.0, "marker": str(marker)}, name=f"kill-resume-{round_number}")
        arns.append(arn)
        _, worker = wait_for(lambda: _running_handler(cluster, [marker]), 30, what="the handler to run")  # noqa: B023
        with psycopg.connect(libpq_url(database)) as holder:
            holder.execute("SELECT id FROM executions WHERE id = %s FOR UPDATE", [cluster.execution_id(arn)])
            wait_for(lambda: _blocked_on_lock(database) >= 1, 30, what="the resume to block on the lock")
            worker.kill()
            tally.killed += 1
            marker.unlink(missing_ok=True)
            holder.rollback()
        tally.touched(arn)
    tally.check(cluster, arns, timeout=90, expected=CHAIN_EVENTS)


def test_a_worker_killed_with_messages_it_had_not_started_loses_nothing(
    cluster_factory: ClusterFactory, tmp_path: Path
) -> None:
    """A worker that reserves messages ahead (a prefetch of 4, one pool process) is killed while it
    runs a handler: the messages it had taken from Redis and not started have no lease, and come
    back through the sweeper a lease's length after they were published (Redis would give them
    back only after the visibility timeout, an hour)."""
    cluster = cluster_factory(CRASH_REDIS_URL, extra_env={"ORCHESTRATOR_PREFETCH": "4"})
    tally = Tally("SIGKILL with messages reserved, not started")
    cluster.start_scheduler()
    doomed = cluster.start_worker(concurrency=1)
    machine = cluster.state_machine(CHAIN)
    markers = tmp_path / "markers"
    markers.mkdir()
    paths = [markers / f"{i}.pid" for i in range(3)]
    arns = [cluster.start(machine, {"seconds": 3, "marker": str(p)}, name=f"reserved-{i}") for i, p in enumerate(paths)]
    wait_for(lambda: _running_handler(cluster, paths), 30, what="a handler to be running")
    # the worker's log names every message it took: the other executions' first steps, not started
    wait_for(lambda: doomed.output().count(" received") >= len(arns), 30, what="the worker to reserve every message")
    doomed.kill()
    tally.killed += 1
    for arn in arns:
        tally.touched(arn)
    cluster.start_worker(concurrency=2)
    tally.check(cluster, arns, timeout=90, expected=CHAIN_EVENTS)


# Step -> Pause (1 s Wait) -> Step2 -> Done: tasks, a timer and a fast-path countdown message.
FLUSHED: dict[str, Any] = {
    "StartAt": "Step",
    "States": {
        "Step": {
            "Type": "Task", "Resource": LAMBDA.format("sleep"), "Parameters": {"seconds": 0.3},
            "ResultPath": "$.one", "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Step2"},
        "Step2": {
            "Type": "Task", "Resource": LAMBDA.format("add"), "Parameters": {"n": 1},
            "ResultPath": "$.two", "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}  # fmt: skip
FLUSHED_EVENTS = [
    "ExecutionStarted",
    "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
    "TaskStateExited",
    "WaitStateEntered", "WaitStateExited",
    "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
    "TaskStateExited",
    "PassStateEntered", "PassStateExited",
    "ExecutionSucceeded",
]  # fmt: skip


def test_redis_flushed_mid_run_the_sweeper_brings_every_execution_back(cluster_factory: ClusterFactory) -> None:
    cluster = cluster_factory(CRASH_REDIS_URL)
    tally = Tally("Redis FLUSHDB mid-run")
    for _ in range(2):
        cluster.start_worker(concurrency=2)
    cluster.start_scheduler()
    machine = cluster.state_machine(FLUSHED)
    arns = [cluster.start(machine, {}, name=f"flush-{i}") for i in range(40)]
    time.sleep(1.5)  # some executions wait, some run handlers, most are still queued
    running = [arn for arn, status in cluster.statuses(arns).items() if status == "RUNNING"]
    broker = redis.Redis.from_url(CRASH_REDIS_URL)
    settings = cluster.settings
    held = broker.llen(settings.engine_queue) + broker.llen(settings.handler_queue) + broker.hlen("unacked")
    broker.flushdb()
    flushed_at = time.monotonic()
    for arn in running:
        tally.touched(arn)
    tally.check(cluster, arns, timeout=90, expected=FLUSHED_EVENTS)
    recovery = time.monotonic() - flushed_at
    report(
        f"Redis FLUSHDB with {len(running)} of {len(arns)} executions in flight ({held} messages in Redis lost): "
        f"all ended {recovery:.1f}s after it (default settings)"
    )
    assert running and held > 0
