#!/usr/bin/env python3
"""Benchmark: the SQL statements a Task state and a StartExecution send (issue 17's noise-free figure).

    python bench/statements.py [--executions 50] [--tasks 5] [--json]

On a fresh PostgreSQL database (migrated) and Redis (``--redis-url``, queues of its own), a real
Celery worker runs in this process (threads pool, concurrency 1, the product's default settings:
leases and follow-on on) while this process starts ``--executions`` executions of ``--tasks`` Task
states calling a no-op handler, all at once, and waits for their end (polling every 50 ms). Every
statement is counted with SQLAlchemy's ``before_cursor_execute``, by the thread that sent it: the
worker's (per Task state) apart from StartExecution's (per execution); the leases keeper's renewals
are left out (they come every few seconds, not per Task). The statements are grouped by kind (their
first words and table), so a change shows which one it removed. Time on a shared machine is noise;
these counts are not. The CPU this process spent per execution is printed too (the worker and the
starts; noisy on a shared machine: compare runs taken one after the other).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator import config
from orchestrator.runtime.app import configure
from orchestrator.service import Service
from orchestrator.store.db import get_engine, session_scope
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Execution

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
NOOP = "arn:aws:lambda:us-east-1:123456789012:function:noop"
ROLE = "arn:aws:iam::123456789012:role/bench"
_KIND = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|BEGIN|COMMIT|ROLLBACK)\b(.*)", re.S | re.I)


def machine(tasks: int) -> dict[str, Any]:
    names = [f"T{i}" for i in range(tasks)]
    states = {
        name: {"Type": "Task", "Resource": NOOP, **({"Next": names[i + 1]} if i + 1 < tasks else {"End": True})}
        for i, name in enumerate(names)
    }
    return {"StartAt": names[0], "States": states}


def kind(statement: str) -> str:
    """``SELECT executions``, ``INSERT INTO history_events``, ...: what a statement is, for grouping."""
    match = _KIND.match(statement)
    if match is None:
        return statement.split(None, 1)[0]
    verb, rest = match.group(1).upper(), match.group(2)
    if verb == "SELECT":
        table = re.search(r"\bFROM\s+(\w+)", rest)
        lock = " FOR UPDATE" if "FOR UPDATE" in rest else ""
        return f"SELECT {table.group(1) if table else '(no table)'}{lock}"
    return f"{verb} {rest.split(None, 1)[0] if rest.strip() else ''}".strip()


class Counter:
    """Statements by thread group (``worker``, ``start``) and kind."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.start_thread = threading.get_ident()
        self.starting = False  # the start thread is in StartExecution (else it polls for the end)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        name = threading.current_thread().name
        if name == "orchestrator-leases":
            return
        if threading.get_ident() == self.start_thread:
            if not self.starting:
                return
            group = "start"
        else:
            group = "worker"
        with self.lock:
            self.by[group][kind(statement)] += 1

    def snapshot(self) -> dict[str, collections.Counter[str]]:
        with self.lock:
            return {k: collections.Counter(v) for k, v in self.by.items()}


def _database() -> str:
    name = f"orchestrator_bench_statements_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    upgrade(url)
    return url


def _worker(app: Any, settings: config.Settings) -> Any:
    worker = app.Worker(
        pool="threads",
        concurrency=1,
        without_mingle=True,
        without_gossip=True,
        without_heartbeat=True,
        loglevel="WARNING",
        quiet=True,
        queues=[settings.engine_queue, settings.handler_queue],
    )
    threading.Thread(target=worker.start, name="bench-worker", daemon=True).start()
    return worker


def _wait_end(url: str, arn: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(url) as session:
            status = session.scalar(select(Execution.status).where(Execution.arn == arn))
        if status != "RUNNING":
            return str(status)
        time.sleep(0.005)
    raise TimeoutError(f"{arn} still running after {timeout} s")


def _wait_all(url: str, arns: list[str], timeout: float = 120.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(url) as session:
            statuses = set(session.scalars(select(Execution.status).where(Execution.arn.in_(arns))))
        if "RUNNING" not in statuses:
            return statuses
        time.sleep(0.05)
    raise TimeoutError(f"executions still running after {timeout} s")


def measure(url: str, redis_url: str, executions: int, tasks: int) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    env = {
        "ORCHESTRATOR_DATABASE_URL": url,
        "ORCHESTRATOR_BROKER_URL": redis_url,
        "ORCHESTRATOR_HOME": "/tmp/bench-statements",
        "ORCHESTRATOR_ENGINE_QUEUE": f"bench-statements-{suffix}",
        "ORCHESTRATOR_HANDLER_QUEUE": f"bench-statements.handlers-{suffix}",
        "ORCHESTRATOR_HANDLER_MODULES": "bench.handlers",
    }
    os.environ.update(env)  # the worker's tasks read the app's settings; handlers load from the env
    import bench.handlers  # noqa: F401 - registers the no-op handler in this process

    settings = config.load(env)
    from orchestrator.runtime.app import app  # the tasks' app, as a worker loads it

    configure(app, settings)

    counter = Counter()
    # the engine's statements go through this Engine; count from its creation on
    event.listen(get_engine(url), "before_cursor_execute", counter)
    service = Service(settings, app)
    arn = service.create_state_machine(name=f"bench-{suffix}", definition=json.dumps(machine(tasks)), role_arn=ROLE)[
        "stateMachineArn"
    ]
    worker = _worker(app, settings)
    try:
        _wait_end(url, service.start_execution(arn, input="{}")["executionArn"])  # warm-up
        before = counter.snapshot()
        cpu, wall = time.process_time(), time.perf_counter()
        arns = []
        for _ in range(executions):  # all started at once: what the worker costs, not the polling
            counter.starting = True
            arns.append(service.start_execution(arn, input='{"n": 1}')["executionArn"])
            counter.starting = False
        statuses = _wait_all(url, arns)
        assert statuses == {"SUCCEEDED"}, statuses
        after = counter.snapshot()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        worker.stop(in_sighandler=False)
        event.remove(get_engine(url), "before_cursor_execute", counter)
    worker_counts = after.get("worker", collections.Counter()) - before.get("worker", collections.Counter())
    start_counts = after.get("start", collections.Counter()) - before.get("start", collections.Counter())
    return {
        "executions": executions,
        "tasks": tasks,
        "worker_per_task": {k: v / (executions * tasks) for k, v in sorted(worker_counts.items())},
        "worker_per_task_total": sum(worker_counts.values()) / (executions * tasks),
        "start_per_execution": {k: v / executions for k, v in sorted(start_counts.items())},
        "start_per_execution_total": sum(start_counts.values()) / executions,
        # this process: the worker, StartExecution and the polling for the end (not PostgreSQL's)
        "process_cpu_ms_per_execution": cpu * 1000 / executions,
        "wall_ms_per_execution": wall * 1000 / executions,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    url = _database()
    try:
        report = measure(url, args.redis_url, args.executions, args.tasks)
    finally:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"worker statements per Task state: {report['worker_per_task_total']:.2f}")
    for name, value in report["worker_per_task"].items():
        print(f"  {value:6.2f}  {name}")
    print(
        f"per execution: {report['process_cpu_ms_per_execution']:.1f} ms of this process's CPU "
        f"(worker, start and polling), {report['wall_ms_per_execution']:.1f} ms wall"
    )
    print(f"StartExecution statements: {report['start_per_execution_total']:.2f}")
    for name, value in report["start_per_execution"].items():
        print(f"  {value:6.2f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
