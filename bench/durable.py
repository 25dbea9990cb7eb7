#!/usr/bin/env python3
"""Benchmark: the durable runtime on PostgreSQL and Redis, with real worker processes.

    python bench/durable.py [--only tasks,tasks_http,loop,latency,paused] [--paused 100000] [--runs 2]
                            [--workers 2 --pool prefork --concurrency 1] [--profile] [--json]

Five parts, each on a fresh PostgreSQL database (migrated) and a flushed Redis database, with
``--workers`` ``orchestrator worker`` processes and one ``orchestrator scheduler``:

    tasks    (a) Task states completed per second: executions of 10 Task states calling a no-op
             handler, many in flight, started by a process of their own; next to raw Celery: a
             plain Celery app's no-op task on the same broker, the same number of worker
             processes, published by a process of its own. The ratio's goal: at least 0.5.
    tasks_http (a) again, the executions started through the HTTP API: ``orchestrator serve`` and
             a child process of ``--http-threads`` boto3 clients; the workers, engine's and raw
             alike, run ``--http-concurrency`` pool processes each (default 2). Goal: at least 1.0.
    loop     (b) pure-state transitions per second: a Pass (States.MathAdd) and a Choice looping
             ``--loop`` times; transitions are the *StateEntered events. Goal: at least 5,000/s.
    latency  (c) StartExecution to the end seen by a client, for a 5-Task execution started alone:
             p50 and p99. Goal: p50 under 30 ms.
    paused   (d) ``--paused`` executions waiting on a task token: the rate they are created at,
             the database size per execution, and the time to list them (ListExecutions pages,
             pending_tokens), then the time to resume some with SendTaskSuccess. With
             ``--paused-total``, the real ones are first cloned in SQL up to that many
             (bench/paused_clone.py: a million real ones would take hours to create).

How the end of an execution is seen: a trigger the benchmark adds to its own database sends a
NOTIFY when an execution's row leaves RUNNING; the benchmark LISTENs. The notification arrives
when the ending transaction commits, so it costs no polling and adds no polling delay. (c) also
reports the span between the ExecutionStarted and the terminal event timestamps, the latency
a client polling DescribeExecution every ``--poll-interval`` seconds sees, and the latency a boto3
client sees through ``orchestrator serve`` (StartExecution, then DescribeExecution every
``--http-poll-interval`` seconds; goal: p50 at most 15 ms).

Every figure comes with the machine's load over its span: the CPU used by the workers, the
benchmark's own processes, PostgreSQL (backends of the benchmark's database and background
processes), Redis and everything else, in % of all cores.

``--profile`` reruns (a) and (b) twice more: once with phase timings in every worker process
(handler, transaction body, interpreter, SQL statements, commit, publishing, Celery's share) and
once under cProfile (every worker process, prefork parent and pool processes apart), and prints
where the time goes. Hooks: bench/handlers.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.machine, bench.noop_app

from bench.api import boto3_client, free_port, http_status  # noqa: E402
from bench.machine import (  # noqa: E402
    LoadMeter,
    Process,
    distribution_ms,
    milliseconds,
    say,
    wait_for,
)

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ROLE_ARN = "arn:aws:iam::123456789012:role/bench"
NOOP_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:noop"
WAIT_FOR_TOKEN = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
CHANNEL = "bench_execution_ended"
NOISY_PERCENT = 10.0

GOAL_RATIO = 0.5
GOAL_HTTP_RATIO = 1.0
GOAL_TRANSITIONS = 5000.0
GOAL_P50_MS = 30.0
GOAL_BOTO3_P50_MS = 15.0
TASK_CHAIN = 10  # (a)'s Task states per execution


# -- definitions -----------------------------------------------------------------------------------


def task_chain(length: int) -> dict[str, Any]:
    """``length`` Task states in a row, each calling the no-op handler."""
    states: dict[str, Any] = {}
    for index in range(1, length + 1):
        state: dict[str, Any] = {"Type": "Task", "Resource": NOOP_LAMBDA}
        if index == length:
            state["End"] = True
        else:
            state["Next"] = f"T{index + 1}"
        states[f"T{index}"] = state
    return {"StartAt": "T1", "States": states}


def choice_loop(iterations: int) -> dict[str, Any]:
    """A Pass adding 1 with States.MathAdd and a Choice looping back: 2 transitions per turn."""
    return {
        "StartAt": "Increment",
        "States": {
            "Increment": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.i", "NumericLessThan": iterations, "Next": "Increment"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def wait_for_token() -> dict[str, Any]:
    """One state that sends its token away and waits for SendTaskSuccess."""
    return {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": WAIT_FOR_TOKEN,
                "Parameters": {
                    "QueueUrl": "https://sqs.example/approvals",
                    "MessageBody": {"token.$": "$$.Task.Token"},
                },
                "End": True,
            }
        },
    }


def _admin_connection() -> Any:
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True)


# -- the database and the end-of-execution notifications -------------------------------------------

NOTIFY_SQL = f"""
CREATE FUNCTION bench_execution_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.status || ' ' || NEW.arn);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_execution_ended AFTER UPDATE OF status ON executions FOR EACH ROW
    WHEN (NEW.root_id IS NULL AND OLD.status = 'RUNNING' AND NEW.status <> 'RUNNING')
    EXECUTE FUNCTION bench_execution_ended();
"""


class Database:
    """A fresh PostgreSQL database with the migrations applied and the benchmark's trigger."""

    def __init__(self, label: str) -> None:
        import psycopg

        from orchestrator.store.migrate import upgrade

        self.name = f"orchestrator_bench_{os.getpid()}_{label}_{uuid.uuid4().hex[:4]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        base = PG_ADMIN.rsplit("/", 1)[0]
        self.dsn = f"{base}/{self.name}"
        self.url = self.dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        upgrade(self.url)
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(NOTIFY_SQL)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def size(self) -> int:
        return int(self.query("SELECT pg_database_size(current_database())")[0][0])

    def drop(self) -> None:
        import psycopg

        from orchestrator.store.db import get_engine

        get_engine(self.url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Endings:
    """LISTENs for the benchmark trigger's notifications: (time.time(), status, execution ARN)."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.connection = psycopg.connect(dsn, autocommit=True)
        self.connection.execute(f"LISTEN {CHANNEL}")

    def wait(self, count: int, timeout: float, starter: Process | None = None) -> list[tuple[float, str, str]]:
        """``count`` notifications; gives up early if ``starter`` failed (the rest will not come)."""
        ended: list[tuple[float, str, str]] = []
        deadline = time.monotonic() + timeout
        while len(ended) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(ended)} of {count} executions ended within {timeout:.0f} s")
            if starter is not None and starter.handle.poll() not in (None, 0):
                raise RuntimeError(f"{starter.name} failed:\n{starter.output()[-3000:]}")
            for note in self.connection.notifies(timeout=min(left, 5.0), stop_after=count - len(ended)):
                status, arn = note.payload.split(" ", 1)
                ended.append((time.time(), status, arn))
        return ended

    def close(self) -> None:
        self.connection.close()


# -- the cluster -----------------------------------------------------------------------------------


@dataclass
class ClusterOptions:
    workers: int
    pool: str
    concurrency: int
    loglevel: str
    scheduler: bool
    redis_url: str


@dataclass
class Cluster:
    """Worker processes (and a scheduler) on one fresh database and the Redis database."""

    options: ClusterOptions
    database: Database
    meter: LoadMeter
    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        from celery import Celery

        from orchestrator import config
        from orchestrator.runtime.app import configure
        from orchestrator.service import Service

        base = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_", "ORCHESTRATOR_"))}
        self.env = {
            **base,
            "ORCHESTRATOR_DATABASE_URL": self.database.url,
            "ORCHESTRATOR_BROKER_URL": self.options.redis_url,
            "ORCHESTRATOR_HANDLER_MODULES": "bench.handlers",
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }
        self.settings = config.load(self.env)
        self.app = Celery("bench-client")
        configure(self.app, self.settings)
        self.service = Service(self.settings, self.app)

    def start_workers(self) -> list[Process]:
        started = []
        for index in range(self.options.workers):
            ready = self.tmp / f"ready-{uuid.uuid4().hex[:6]}"
            argv = [
                sys.executable, "-m", "orchestrator.cli", "worker",
                "--pool", self.options.pool, "--concurrency", str(self.options.concurrency),
                "--loglevel", self.options.loglevel,
                "--without-mingle", "--without-gossip", "--without-heartbeat",
                "--hostname", f"bench{index}-{uuid.uuid4().hex[:4]}@%h",
            ]  # fmt: skip
            env = {**self.env, "BENCH_READY_FILE": str(ready)}
            process = Process(f"worker{index}", argv, env, self.tmp / f"worker{index}-{ready.name}.log")
            self.meter.register(process.pid, "workers")
            self.processes.append(process)
            started.append((process, ready))
        for process, ready in started:
            wait_for(lambda p=process, r=ready: r.exists() or not p.alive(), 120, f"{process.name} to be ready")
            if not process.alive():
                raise RuntimeError(f"{process.name} failed to start:\n{process.output()[-3000:]}")
        return [process for process, _ in started]

    def start_scheduler(self) -> None:
        argv = [sys.executable, "-m", "orchestrator.cli", "scheduler"]
        process = Process("scheduler", argv, self.env, self.tmp / f"scheduler-{uuid.uuid4().hex[:6]}.log")
        self.meter.register(process.pid, "scheduler")
        self.processes.append(process)
        # its imports are not part of any figure: wait for its first line
        wait_for(lambda: "firing timers" in process.output() or not process.alive(), 60, "the scheduler")
        if not process.alive():
            raise RuntimeError(f"the scheduler failed to start:\n{process.output()[-3000:]}")

    def start(self) -> None:
        self.start_workers()
        if self.options.scheduler:
            self.start_scheduler()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()

    def state_machine(self, definition: dict[str, Any]) -> str:
        name = f"bench-{uuid.uuid4().hex[:10]}"
        created = self.service.create_state_machine(name=name, definition=json.dumps(definition), role_arn=ROLE_ARN)
        return str(created["stateMachineArn"])

    def starter(
        self, machine: str, count: int, *, warmup: int = 0, max_in_flight: int = 0, url: str = "", threads: int = 1
    ) -> Process:
        """A child process that starts ``count`` executions (after ``warmup``, and a "go" line):
        in process through the service, or with ``url`` through the HTTP API from ``threads``
        boto3 clients."""
        child = "start-executions-http" if url else "start-executions"
        argv = [
            sys.executable, str(Path(__file__).resolve()), "--child", child,
            "--machine", machine, "--count", str(count), "--child-warmup", str(warmup),
            "--max-in-flight", str(max_in_flight), "--url", url, "--http-threads", str(threads),
        ]  # fmt: skip
        process = Process("starter", argv, self.env, self.tmp / f"starter-{uuid.uuid4().hex[:6]}.log", piped=True)
        self.meter.register(process.pid, "bench")
        return process

    def start_server(self) -> str:
        """``orchestrator serve`` on a free port, open (no access keys, as bench/api.py runs it),
        its CPU counted as "server"; it stops with the cluster. Returns its URL."""
        port = free_port()
        env = {k: v for k, v in self.env.items() if not k.startswith("ORCHESTRATOR_API_KEYS")}
        argv = [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(port)]
        process = Process("server", argv, env, self.tmp / f"server-{uuid.uuid4().hex[:6]}.log")
        self.meter.register(process.pid, "server")
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_status(url, "/health") == 200 or not process.alive(), 60, "the API server")
        if not process.alive():
            raise RuntimeError(f"the API server failed to start:\n{process.output()[-3000:]}")
        return url


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@contextlib.contextmanager
def cluster_on_fresh_database(
    args: argparse.Namespace, meter: LoadMeter, tmp: Path, label: str, extra_env: dict[str, str] | None = None
) -> Iterator[Cluster]:
    database = Database(label)
    meter.own_databases.add(database.name)
    flush_redis(args.redis_url)
    cluster = Cluster(options_of(args), database, meter, tmp, dict(extra_env or {}))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if args.keep_db:
            say(f"  kept database {database.name}")
        else:
            database.drop()


def options_of(args: argparse.Namespace) -> ClusterOptions:
    scheduler = not args.no_scheduler
    return ClusterOptions(args.workers, args.pool, args.concurrency, args.loglevel, scheduler, args.redis_url)


# -- (a) Task states per second, and raw Celery ----------------------------------------------------


def raw_celery_run(args: argparse.Namespace, meter: LoadMeter, tmp: Path, count: int) -> dict[str, Any]:
    """Raw Celery no-op tasks per second: a publisher process while the workers consume."""
    import redis

    from bench.noop_app import QUEUE

    client = redis.Redis.from_url(args.redis_url)

    def drained() -> bool:
        return client.llen(QUEUE) == 0 and client.hlen("unacked") == 0

    env = {**os.environ, "BENCH_BROKER_URL": args.redis_url, "PYTHONPATH": str(ROOT)}
    argv = [
        sys.executable, str(Path(__file__).resolve()), "--child", "publish-noops",
        "--count", str(count), "--child-warmup", str(args.warmup_tasks),
    ]  # fmt: skip
    publisher = Process("publisher", argv, env, tmp / f"publisher-{uuid.uuid4().hex[:6]}.log", piped=True)
    meter.register(publisher.pid, "bench")
    try:
        publisher.message(60)  # warm-up tasks published
        wait_for(drained, 120, "the warm-up tasks", poll=0.01)
        with meter.measure() as load:
            publisher.tell("go")
            published = publisher.message(600)
            wait_for(drained, 600, "the raw Celery tasks", poll=0.005)
            end = time.time()
    finally:
        publisher.stop()
    wall = end - published["t0"]
    return {
        "tasks": count,
        "wall_s": round(wall, 3),
        "tasks_per_s": round(count / wall, 1),
        "publish_s": round(published["t1"] - published["t0"], 3),
        "cpu_ms_per_task": cpu_per_unit(load, count),
        "load": load,
    }


def cpu_per_unit(load: dict[str, Any], units: int) -> dict[str, float]:
    """CPU milliseconds per unit of work, by category (others left out), and their total."""
    spent = {name: 1000 * seconds / units for name, seconds in load.get("cpu_s", {}).items() if name != "others"}
    spent["total"] = sum(spent.values())
    return {name: round(value, 3) for name, value in spent.items()}


def start_raw_workers(args: argparse.Namespace, meter: LoadMeter, tmp: Path) -> list[Process]:
    from bench.noop_app import QUEUE

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BENCH_")},
        "BENCH_BROKER_URL": args.redis_url,
        "PYTHONPATH": str(ROOT),
    }
    started = []
    for index in range(args.workers):
        ready = tmp / f"raw-ready-{uuid.uuid4().hex[:6]}"
        argv = [
            sys.executable, "-m", "celery", "-A", "bench.noop_app", "worker", "-Q", QUEUE,
            "--pool", args.pool, "--concurrency", str(args.concurrency), "--loglevel", args.loglevel,
            "--without-mingle", "--without-gossip", "--without-heartbeat",
            "--hostname", f"raw{index}-{uuid.uuid4().hex[:4]}@%h",
        ]  # fmt: skip
        process = Process(f"raw{index}", argv, {**env, "BENCH_READY_FILE": str(ready)}, tmp / f"raw{index}.log")
        meter.register(process.pid, "workers")
        started.append((process, ready))
    for process, ready in started:
        wait_for(lambda p=process, r=ready: r.exists() or not p.alive(), 120, f"{process.name} to be ready")
        if not process.alive():
            raise RuntimeError(f"{process.name} failed to start:\n{process.output()[-3000:]}")
    return [process for process, _ in started]


def task_states_run(
    cluster: Cluster, machine: str, executions: int, warmup: int, length: int, *, url: str = "", threads: int = 1
) -> dict[str, Any]:
    """Task states per second: a starter process starts ``executions`` while the workers run them
    (through the HTTP API at ``url`` when given)."""
    endings = Endings(cluster.database.dsn)
    starter = cluster.starter(machine, executions, warmup=warmup, url=url, threads=threads)
    try:
        starter.message(120)  # warm-up started
        endings.wait(warmup, 120)
        with cluster.meter.measure() as load:
            starter.tell("go")
            ended = endings.wait(executions, 600 + executions, starter)
        started = starter.message(60)
    finally:
        starter.stop()
        endings.close()
    end = max(t for t, _, _ in ended)
    statuses = sorted({status for _, status, _ in ended})
    wall = end - started["t0"]
    states = executions * length
    after_starts = cluster.database.query(
        "SELECT count(*) FROM history_events WHERE type = 'TaskStateExited' AND timestamp >= to_timestamp(%s)",
        (started["t1"],),
    )[0][0]
    tail = end - started["t1"]
    return {
        "executions": executions,
        "task_states": states,
        "statuses": statuses,
        "wall_s": round(wall, 3),
        "task_states_per_s": round(states / wall, 1),
        "start_s": round(started["t1"] - started["t0"], 3),
        "starter_cpu_s": round(started["cpu_s"], 3),
        # after the starter finished: the workers alone, without the starter's CPU
        "task_states_per_s_after_starts": round(after_starts / tail, 1) if tail > 1 else None,
        "cpu_ms_per_task_state": cpu_per_unit(load, states),
        "load": load,
    }


def part_tasks(args: argparse.Namespace, meter: LoadMeter, tmp: Path) -> dict[str, Any]:
    with cluster_on_fresh_database(args, meter, tmp, "tasks") as cluster:
        raw_runs, engine_runs = alternate_runs(args, meter, tmp, cluster, "(a)")
    return ratio_summary(raw_runs, engine_runs, GOAL_RATIO)


def part_tasks_http(args: argparse.Namespace, meter: LoadMeter, tmp: Path) -> dict[str, Any]:
    """(a) with the executions started by boto3 clients through ``orchestrator serve``; every
    worker, the engine's and the raw ones, runs ``--http-concurrency`` pool processes."""
    wider = argparse.Namespace(**{**vars(args), "concurrency": args.http_concurrency})
    with cluster_on_fresh_database(wider, meter, tmp, "taskshttp") as cluster:
        url = cluster.start_server()
        raw_runs, engine_runs = alternate_runs(
            wider, meter, tmp, cluster, "(a, HTTP)", url=url, threads=args.http_threads
        )
    summary = ratio_summary(raw_runs, engine_runs, GOAL_HTTP_RATIO)
    return {**summary, "concurrency": args.http_concurrency, "http_threads": args.http_threads}


def alternate_runs(
    args: argparse.Namespace,
    meter: LoadMeter,
    tmp: Path,
    cluster: Cluster,
    label: str,
    *,
    url: str = "",
    threads: int = 1,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``--runs`` raw Celery runs and engine runs, alternating so that both see the same machine
    (other work on it comes and goes); the raw workers run only for these."""
    raw_runs: list[dict[str, Any]] = []
    engine_runs: list[dict[str, Any]] = []
    raw_workers = start_raw_workers(args, meter, tmp)
    try:
        machine = cluster.state_machine(task_chain(TASK_CHAIN))
        for run in range(args.runs):
            say(f"{label} run {run + 1}/{args.runs}: raw Celery, {args.raw_tasks} no-op tasks ...")
            raw_runs.append(raw_celery_run(args, meter, tmp, args.raw_tasks))
            say(f"    {raw_runs[-1]['tasks_per_s']:,.0f} tasks/s")
            say(f"{label} run {run + 1}/{args.runs}: {args.executions} executions of {TASK_CHAIN} Task states ...")
            engine_runs.append(
                task_states_run(
                    cluster, machine, args.executions, args.warmup_executions, TASK_CHAIN, url=url, threads=threads
                )
            )
            say(f"    {engine_runs[-1]['task_states_per_s']:,.0f} Task states/s")
    finally:
        for process in raw_workers:
            process.stop()
    return raw_runs, engine_runs


def ratio_summary(raw_runs: list[dict[str, Any]], engine_runs: list[dict[str, Any]], goal: float) -> dict[str, Any]:
    """The best of each side makes the ratio (the runs the machine disturbed least)."""
    best_raw = max(r["tasks_per_s"] for r in raw_runs)
    best_engine = max(r["task_states_per_s"] for r in engine_runs)
    raw_cpu = min(r["cpu_ms_per_task"]["total"] for r in raw_runs)
    engine_cpu = min(r["cpu_ms_per_task_state"]["total"] for r in engine_runs)
    return {
        "definition": f"{TASK_CHAIN} Task states calling a no-op handler",
        "raw_celery_tasks_per_s": best_raw,
        "task_states_per_s": best_engine,
        "ratio": round(best_engine / best_raw, 3),
        "ratios_per_run": [
            round(e["task_states_per_s"] / r["tasks_per_s"], 3) for r, e in zip(raw_runs, engine_runs, strict=True)
        ],
        # what the ratio would be on a quiet machine where both are CPU-bound: CPU per raw task
        # over CPU per Task state (workers, servers and the starting/publishing process)
        "cpu_ratio": round(raw_cpu / engine_cpu, 3),
        "raw_cpu_ms_per_task": raw_cpu,
        "cpu_ms_per_task_state": engine_cpu,
        "goal_ratio": goal,
        "met": best_engine / best_raw >= goal,
        "raw_runs": raw_runs,
        "engine_runs": engine_runs,
    }


# -- (b) pure-state transitions --------------------------------------------------------------------


def transitions_of(database: Database, arns: list[str]) -> dict[str, int]:
    rows = database.query(
        "SELECT e.arn, count(*) FROM history_events h JOIN executions e ON e.id = h.execution_id "
        "WHERE e.arn = ANY(%s) AND h.type LIKE '%%StateEntered' GROUP BY e.arn",
        (arns,),
    )
    return {arn: int(count) for arn, count in rows}


def run_one(cluster: Cluster, endings: Endings, machine: str, execution_input: Any) -> tuple[str, float, str]:
    """Start one execution and wait for its end: (ARN, seconds, status)."""
    began = time.perf_counter()
    arn = cluster.service.start_execution(machine, input=json.dumps(execution_input))["executionArn"]
    _, status, ended_arn = endings.wait(1, 120)[0]
    elapsed = time.perf_counter() - began
    if ended_arn != arn:
        raise RuntimeError(f"expected {arn} to end, {ended_arn} did")
    return arn, elapsed, status


def part_loop(args: argparse.Namespace, meter: LoadMeter, tmp: Path) -> dict[str, Any]:
    with cluster_on_fresh_database(args, meter, tmp, "loop") as cluster:
        machine = cluster.state_machine(choice_loop(args.loop))
        endings = Endings(cluster.database.dsn)
        try:
            run_one(cluster, endings, machine, {"i": 0})  # warm-up
            say(f"(b) {args.loop_runs} loop executions one at a time ...")
            sequential = []
            with meter.measure() as load:
                for _ in range(args.loop_runs):
                    sequential.append(run_one(cluster, endings, machine, {"i": 0}))
            say(f"(b) {args.loop_parallel} loop executions at once ...")
            with meter.measure() as parallel_load:
                began = time.time()
                arns = [
                    cluster.service.start_execution(machine, input='{"i": 0}')["executionArn"]
                    for _ in range(args.loop_parallel)
                ]
                ended = endings.wait(len(arns), 300)
        finally:
            endings.close()
        counts = transitions_of(cluster.database, [arn for arn, _, _ in sequential] + arns)
    rates = [counts[arn] / seconds for arn, seconds, _ in sequential]
    parallel_wall = max(t for t, _, _ in ended) - began
    parallel_rate = sum(counts[arn] for arn in arns) / parallel_wall
    statuses = sorted({s for _, _, s in sequential} | {s for _, s, _ in ended})
    best = max(rates)
    return {
        "definition": f"Pass (States.MathAdd) + Choice looping {args.loop} times",
        "transitions_per_execution": counts[sequential[0][0]],
        "statuses": statuses,
        "one_at_a_time": {
            "runs": len(rates),
            "best_transitions_per_s": round(best, 1),
            "median_transitions_per_s": round(statistics.median(rates), 1),
            "walls_ms": [round(1000 * seconds, 1) for _, seconds, _ in sequential],
            "load": load,
        },
        "at_once": {
            "executions": len(arns),
            "transitions_per_s": round(parallel_rate, 1),
            "wall_ms": round(1000 * parallel_wall, 1),
            "load": parallel_load,
        },
        "transitions_per_s": round(max(best, parallel_rate), 1),
        "goal_transitions_per_s": GOAL_TRANSITIONS,
        "met": max(best, parallel_rate) >= GOAL_TRANSITIONS,
    }


# -- (c) latency -----------------------------------------------------------------------------------


def poll_until_ended(cluster: Cluster, machine: str, interval: float) -> float:
    began = time.perf_counter()
    arn = cluster.service.start_execution(machine, input="{}")["executionArn"]
    while cluster.service.describe_execution(arn)["status"] == "RUNNING":
        time.sleep(interval)
        if time.perf_counter() - began > 120:
            raise TimeoutError(f"{arn} still running after 120 s")
    return time.perf_counter() - began


def poll_through_http(client: Any, machine: str, interval: float) -> tuple[float, str, int]:
    """StartExecution, then DescribeExecution until the status leaves RUNNING, ``interval``
    seconds between two calls (as poll_until_ended): (seconds, status, DescribeExecution calls)."""
    began = time.perf_counter()
    arn = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    calls = 1
    while (status := client.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        time.sleep(interval)
        calls += 1
        if time.perf_counter() - began > 120:
            raise TimeoutError(f"{arn} still running after 120 s")
    return time.perf_counter() - began, status, calls


def boto3_polling(args: argparse.Namespace, meter: LoadMeter, cluster: Cluster, machine: str) -> dict[str, Any]:
    """(c) as a boto3 user sees it, through ``orchestrator serve`` on the same cluster."""
    client = boto3_client(cluster.start_server(), pool=1)
    for _ in range(args.warmup_executions):  # the connection, the server's and botocore's first calls
        poll_through_http(client, machine, args.http_poll_interval)
    interval_ms = 1000 * args.http_poll_interval
    say(f"(c) {args.poll_runs} more through boto3 and the HTTP API, DescribeExecution every {interval_ms:.0f} ms ...")
    with meter.measure() as load:
        polled = [poll_through_http(client, machine, args.http_poll_interval) for _ in range(args.poll_runs)]
    seen = distribution_ms(milliseconds([s for s, _, _ in polled]))
    return {
        **seen,
        "interval_ms": interval_ms,
        "statuses": sorted({status for _, status, _ in polled}),
        "describe_calls_mean": round(statistics.fmean(c for _, _, c in polled), 2) if polled else None,
        "goal_p50_ms": GOAL_BOTO3_P50_MS,
        "met": seen.get("p50_ms", float("inf")) <= GOAL_BOTO3_P50_MS,
        "load": load,
    }


def part_latency(args: argparse.Namespace, meter: LoadMeter, tmp: Path) -> dict[str, Any]:
    length = 5
    with cluster_on_fresh_database(args, meter, tmp, "latency") as cluster:
        machine = cluster.state_machine(task_chain(length))
        endings = Endings(cluster.database.dsn)
        try:
            for _ in range(args.warmup_executions):
                run_one(cluster, endings, machine, {})
            say(f"(c) {args.latency_runs} executions of {length} Task states, one at a time ...")
            runs = []
            with meter.measure() as load:
                for _ in range(args.latency_runs):
                    runs.append(run_one(cluster, endings, machine, {}))
                    time.sleep(args.latency_gap)
        finally:
            endings.close()
        say(f"(c) {args.poll_runs} more, polling DescribeExecution every {1000 * args.poll_interval:.0f} ms ...")
        with meter.measure() as poll_load:
            polled = [poll_until_ended(cluster, machine, args.poll_interval) for _ in range(args.poll_runs)]
        spans = cluster.database.query(
            "SELECT extract(epoch FROM max(h.timestamp) - min(h.timestamp)) FROM history_events h "
            "JOIN executions e ON e.id = h.execution_id WHERE e.arn = ANY(%s) GROUP BY e.id",
            ([arn for arn, _, _ in runs],),
        )
        # last, so that the server is not even idle during the in-process figures
        through_http = boto3_polling(args, meter, cluster, machine)
    seen = distribution_ms(milliseconds([seconds for _, seconds, _ in runs]))
    return {
        "definition": f"{length} Task states calling a no-op handler, started one at a time",
        "statuses": sorted({s for _, _, s in runs} | set(through_http["statuses"])),
        "notified": {**seen, "load": load},
        "history_span": distribution_ms(milliseconds([float(s[0]) for s in spans])),
        "polling_describe": {
            **(distribution_ms(milliseconds(polled)) if polled else {}),
            "interval_ms": 1000 * args.poll_interval,
            "load": poll_load,
        },
        "boto3_polling": through_http,
        "p50_ms": seen["p50_ms"],
        "p99_ms": seen["p99_ms"],
        "goal_p50_ms": GOAL_P50_MS,
        "met": seen["p50_ms"] < GOAL_P50_MS,
    }


# -- (d) paused executions -------------------------------------------------------------------------

TABLES = ("executions", "history_events", "task_tokens", "outbox", "timers")


def table_sizes(database: Database) -> dict[str, dict[str, Any]]:
    """Bytes of each table (TOAST included), of its indexes and of each of them; rows counted,
    dead rows as the statistics say (they lag a little)."""
    rows = database.query(
        "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid), s.n_dead_tup "
        "FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = ANY(%s)",
        (list(TABLES),),
    )
    indexes: dict[str, dict[str, int]] = {}
    for table, index, size in database.query(
        "SELECT t.relname, i.relname, pg_relation_size(i.oid) FROM pg_index x "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE t.relname = ANY(%s) ORDER BY 3 DESC",
        (list(TABLES),),
    ):
        indexes.setdefault(table, {})[index] = int(size)
    out = {}
    for name, table, index, dead in rows:
        live = database.query(f"SELECT count(*) FROM {name}")[0][0]  # one of TABLES
        out[name] = {
            "table_bytes": int(table),
            "index_bytes": int(index),
            "rows": int(live),
            "dead_rows": int(dead),
            "indexes": indexes.get(name, {}),
        }
    return out


def timed_call(function: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = function()
    return time.perf_counter() - began, value


def list_all_executions(cluster: Cluster, machine: str, page_size: int, max_pages: int = 0) -> dict[str, Any]:
    """Every page of ListExecutions (RUNNING), or the first ``max_pages`` of them."""
    pages: list[float] = []
    items = 0
    token = None
    while True:
        seconds, page = timed_call(
            lambda t=token: cluster.service.list_executions(
                machine, status_filter="RUNNING", max_results=page_size, next_token=t
            )
        )
        pages.append(seconds)
        items += len(page["executions"])
        token = page.get("nextToken")
        if not token or len(pages) == max_pages:
            break
    return {
        "page_size": page_size,
        "pages": len(pages),
        "complete": not token,
        "executions": items,
        "total_s": round(sum(pages), 3),
        "first_page_ms": round(1000 * pages[0], 2),
        "median_page_ms": round(1000 * statistics.median(pages), 2),
        "slowest_page_ms": round(1000 * max(pages), 2),
    }


def wait_paused(cluster: Cluster, count: int, timeout: float) -> float:
    """Polls the pending token count each second until ``count``; returns when it got there."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        paused = cluster.database.query("SELECT count(*) FROM task_tokens WHERE status = 'PENDING'")[0][0]
        if paused >= count:
            return time.time()
        if paused != last and paused // 10_000 != last // 10_000:
            say(f"    {paused:,} paused")
        last = paused
        if time.monotonic() > deadline:
            raise TimeoutError(f"{paused} of {count} executions paused within {timeout:.0f} s")
        time.sleep(1.0)


def part_paused(args: argparse.Namespace, meter: LoadMeter, tmp: Path) -> dict[str, Any]:
    count = args.paused
    with cluster_on_fresh_database(args, meter, tmp, "paused") as cluster:
        machine = cluster.state_machine(wait_for_token())
        size_before = cluster.database.size()
        say(f"(d) starting {count:,} executions that wait for a task token ...")
        starter = cluster.starter(machine, count, max_in_flight=args.max_in_flight)
        try:
            starter.message(120)  # imported and connected
            with meter.measure() as creation_load:
                starter.tell("go")
                paused_at = wait_paused(cluster, count, max(600.0, count / 20))
                started = starter.message(60)
        finally:
            starter.stop()
        leftovers = cluster.database.query("SELECT count(*) FROM outbox")[0][0]
        size_real = cluster.database.size()
        cloned = clone_to_total(cluster, count, args.paused_total)
        total = cloned.get("total", count)
        database = paused_database(cluster.database, size_before, size_real, count, total)
        say("(d) listing ...")
        with meter.measure() as listing_load:
            listing = paused_listing(cluster, machine, args.paused_list_pages)
        checked = check_clones(cluster, cloned, listing, total)
        resumed = resume_some(cluster, paused_to_resume(cluster, cloned, listing.pop("tokens"), args.resume), meter)
    wall = paused_at - started["t0"]
    return {
        "executions": count,
        "executions_total": total,
        "creation": {
            "wall_s": round(wall, 1),
            "executions_per_s": round(count / wall, 1),
            "start_calls_per_s": round(count / (started["t1"] - started["t0"]), 1),
            "max_in_flight": args.max_in_flight,
            "outbox_rows_left": int(leftovers),
            "cpu_ms_per_execution": cpu_per_unit(creation_load, count),
            "load": creation_load,
        },
        "clone": {**cloned, "checks": checked} if cloned else {},
        "database": database,
        "listing": {**listing, "load": listing_load},
        "resume": resumed,
    }


def clone_to_total(cluster: Cluster, real: int, total: int) -> dict[str, Any]:
    """Clones the paused executions in SQL until the database holds ``total`` (bench/paused_clone.py):
    a million created for real would take hours. Its time is the benchmark's, not the engine's."""
    if total <= real:
        return {}
    from bench.paused_clone import clone_paused

    say(f"(d) cloning them in SQL up to {total:,} executions ...")
    return clone_paused(cluster.database, total, say=say)


def paused_database(database: Database, size_before: int, size_real: int, real: int, total: int) -> dict[str, Any]:
    """Sizes over all the executions; the real ones' and the clones' apart (a clone is written once,
    where a real execution's row was updated as it went: the real ones leave dead rows)."""
    size_after = database.size()
    tables = table_sizes(database)
    vacuum_s, _ = timed_call(lambda: database.query("VACUUM ANALYZE"))
    out = {
        "executions": total,
        "size_before_bytes": size_before,
        "size_after_real_bytes": size_real,
        "size_after_bytes": size_after,
        "bytes_per_execution": round((size_after - size_before) / total),
        "bytes_per_real_execution": round((size_real - size_before) / real),
        "size_after_vacuum_bytes": database.size(),
        "vacuum_s": round(vacuum_s, 1),
        "tables": tables,
    }
    if total > real:
        out["bytes_per_clone"] = round((size_after - size_real) / (total - real))
    return out


def paused_listing(cluster: Cluster, machine: str, max_pages: int) -> dict[str, Any]:
    """ListExecutions' pages, pending_tokens() and DescribeExecution, timed (``tokens`` goes back too)."""
    list_1000 = list_all_executions(cluster, machine, 1000, max_pages)
    first_100_s, _ = timed_call(
        lambda: cluster.service.list_executions(machine, status_filter="RUNNING", max_results=100)
    )
    tokens_s, tokens = timed_call(cluster.service.pending_tokens)
    tokens_again_s, _ = timed_call(cluster.service.pending_tokens)
    describe_s, _ = timed_call(lambda: cluster.service.describe_execution(tokens[-1]["executionArn"]))
    return {
        "list_executions_all_pages": list_1000,
        "list_executions_first_page_100_ms": round(1000 * first_100_s, 2),
        "pending_tokens_ms": round(1000 * tokens_s, 2),
        "pending_tokens_again_ms": round(1000 * tokens_again_s, 2),
        "pending_tokens_returned": len(tokens),
        "describe_execution_ms": round(1000 * describe_s, 2),
        "tokens": tokens,
    }


def check_clones(cluster: Cluster, cloned: dict[str, Any], listing: dict[str, Any], total: int) -> dict[str, Any]:
    """A clone and a real execution, picked at random, side by side: DescribeExecution and
    GetExecutionHistory answer alike (but for names, tokens and times), and the listing saw them all."""
    if not cloned:
        return {}
    from bench.paused_clone import pick_paused

    real, clone = pick_paused(cluster.database, cloned["first_clone_id"], 1, 1)
    described = [cluster.service.describe_execution(p["executionArn"]) for p in (real, clone)]
    histories = [cluster.service.get_execution_history(p["executionArn"])["events"] for p in (real, clone)]
    listed = listing["list_executions_all_pages"]
    return {
        "describe_alike": described[0].keys() == described[1].keys()
        and all(d["status"] == "RUNNING" and d["executionArn"].endswith(":" + d["name"]) for d in described)
        and described[0]["input"] == described[1]["input"],
        "history_alike": [e["type"] for e in histories[0]] == [e["type"] for e in histories[1]],
        "history_holds_its_token": [clone["token"] in json.dumps(e, default=str) for e in histories[1]].count(True)
        == [real["token"] in json.dumps(e, default=str) for e in histories[0]].count(True)
        > 0,
        "listed_all": listed["executions"] == total if listed["complete"] else None,
    }


def paused_to_resume(
    cluster: Cluster, cloned: dict[str, Any], tokens: list[dict[str, Any]], count: int
) -> list[dict[str, Any]]:
    """The tokens to resume: half of them clones' (at random) when there are clones."""
    if not cloned:
        return tokens[:count]
    from bench.paused_clone import pick_paused

    return pick_paused(cluster.database, cloned["first_clone_id"], count - count // 2, count // 2)


def resume_some(cluster: Cluster, tokens: list[dict[str, Any]], meter: LoadMeter) -> dict[str, Any]:
    """SendTaskSuccess on ``tokens``, one at a time; each execution's end seen through NOTIFY."""
    if not tokens:
        return {}
    endings = Endings(cluster.database.dsn)
    calls = []
    ends = []
    ended: list[tuple[float, str, str]] = []
    try:
        with meter.measure() as load:
            for token in tokens:
                began = time.perf_counter()
                cluster.service.send_task_success(token["token"], '{"approved": true}')
                calls.append(time.perf_counter() - began)
                ended += endings.wait(1, 60)
                ends.append(time.perf_counter() - began)
    finally:
        endings.close()
    clones = {t["executionArn"] for t in tokens if t.get("clone")}
    statuses: dict[str, int] = {}
    for _, status, arn in ended:  # how the clones ended apart from the real ones
        key = f"{'clone' if arn in clones else 'real'} {status}"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "executions": len(tokens),
        "clones": len(clones),
        "ended": dict(sorted(statuses.items())),
        "send_task_success": distribution_ms(milliseconds(calls)),
        "send_to_end": distribution_ms(milliseconds(ends)),
        "load": load,
    }


# -- profiles --------------------------------------------------------------------------------------


def role_of(pid: int, leaders: list[int], pool: str) -> str:
    """A prefork worker's leader consumes and dispatches; its pool processes run the tasks."""
    if pool == "prefork":
        return "prefork parent" if pid in leaders else "pool process"
    return "worker process"


def phase_report(directory: Path, states: int, leaders: list[int], pool: str) -> dict[str, Any]:
    """Sums of the timing hook's files, per Task state (or per transition)."""
    sums: dict[str, dict[str, float]] = {}
    process_cpu: dict[str, float] = {}
    for path in directory.glob("timing-*.json"):
        report = json.loads(path.read_text())
        role = role_of(report["pid"], leaders, pool)
        process_cpu[role] = process_cpu.get(role, 0.0) + report["process_cpu_s"]
        for phase, figures in report["phases"].items():
            into = sums.setdefault(phase, {"count": 0, "wall_s": 0.0, "cpu_s": 0.0})
            for key in into:
                into[key] += figures[key]
    phases = {
        phase: {
            "per_unit": round(figures["count"] / states, 2),
            "wall_ms_per_unit": round(1000 * figures["wall_s"] / states, 3),
            "cpu_ms_per_unit": round(1000 * figures["cpu_s"] / states, 3),
        }
        for phase, figures in sorted(sums.items(), key=lambda item: -item[1]["wall_s"])
    }
    in_tasks = sum(f["cpu_s"] for p, f in sums.items() if p.startswith("task "))
    return {
        "units": states,
        "phases": phases,
        "worker_cpu_ms_per_unit": {k: round(1000 * v / states, 3) for k, v in process_cpu.items()},
        "celery_outside_tasks_cpu_ms_per_unit": round(1000 * (sum(process_cpu.values()) - in_tasks) / states, 3),
    }


def profile_report(directory: Path, leaders: list[int], pool: str, top: int) -> dict[str, Any]:
    """The merged cProfile of each role: prefork parents (consuming) and pool processes (tasks)."""
    roles: dict[str, list[str]] = {}
    for path in directory.glob("profile-*.prof"):
        roles.setdefault(role_of(int(path.stem.split("-")[1]), leaders, pool), []).append(str(path))
    out = {}
    for role, files in roles.items():
        stats = pstats.Stats(*files)
        rows = []
        for func, (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
            rows.append({"function": _where(func), "calls": calls, "own_s": own, "cumulative_s": cumulative})
        total = stats.total_tt or 1.0  # type: ignore[attr-defined]
        for row in rows:
            row["own_percent"] = round(100 * row["own_s"] / total, 1)
            row["cumulative_percent"] = round(100 * row["cumulative_s"] / total, 1)
        out[role] = {
            "processes": len(files),
            "profiled_s": round(total, 3),
            "by_cumulative": sorted(rows, key=lambda r: -r["cumulative_s"])[:top],
            "by_own": sorted(rows, key=lambda r: -r["own_s"])[:top],
        }
    return out


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    for marker in ("/main/orchestrator/", "/site-packages/", "/lib/python3.11/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/main/orchestrator/":
                filename = "orchestrator/" + filename
            break
    return f"{filename}:{line}({name})"


def profiled_load(
    args: argparse.Namespace, meter: LoadMeter, tmp: Path, workload: str, env_key: str
) -> tuple[Path, list[int], int, dict[str, Any]]:
    """Runs ``workload`` with a hook on; returns the hook's directory, leader pids, units, load."""
    base = Path(args.profile_dir) if args.profile_dir else tmp
    base.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix=f"{workload}-{env_key.split('_')[1].lower()}-", dir=base))
    with cluster_on_fresh_database(args, meter, tmp, f"prof{workload}", {env_key: str(directory)}) as cluster:
        leaders = [p.pid for p in cluster.processes if p.name.startswith("worker")]
        if workload == "tasks":
            machine = cluster.state_machine(task_chain(10))
            run = task_states_run(cluster, machine, args.profile_executions, args.warmup_executions, 10)
            units, load = run["task_states"], run["load"]
        else:
            machine = cluster.state_machine(choice_loop(args.loop))
            endings = Endings(cluster.database.dsn)
            try:
                run_one(cluster, endings, machine, {"i": 0})
                with meter.measure() as load:
                    arns = [run_one(cluster, endings, machine, {"i": 0})[0] for _ in range(args.loop_runs)]
            finally:
                endings.close()
            units = sum(transitions_of(cluster.database, arns).values())
    return directory, leaders, units, load


def part_profile(args: argparse.Namespace, meter: LoadMeter, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for workload, unit in (("tasks", "Task state"), ("loop", "transition")):
        if workload not in args.only_profile:
            continue
        try:
            out[workload] = profile_workload(args, meter, tmp, workload, unit)
        except Exception as exc:  # keep the figures already taken
            say(f"profile of {workload} failed: {exc}")
            out[workload] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def profile_workload(args: argparse.Namespace, meter: LoadMeter, tmp: Path, workload: str, unit: str) -> dict[str, Any]:
    """Phase timings, then cProfile, each on a fresh cluster running ``workload``."""
    say(f"profile: {workload} with phase timings ...")
    directory, leaders, units, load = profiled_load(args, meter, tmp, workload, "BENCH_TIMING_DIR")
    timing = phase_report(directory, units, leaders, args.pool)
    timing["unit"] = unit
    timing["load"] = load
    timing["server_cpu_ms_per_unit"] = {
        name: round(1000 * load["cpu_s"].get(name, 0.0) / units, 3) for name in ("postgres", "redis", "bench")
    }
    say(f"profile: {workload} under cProfile ...")
    directory, leaders, _, _ = profiled_load(args, meter, tmp, workload, "BENCH_PROFILE_DIR")
    return {"timing": timing, "cprofile": profile_report(directory, leaders, args.pool, args.profile_top)}


# -- children: the starter and the publisher -------------------------------------------------------


def emit(**values: Any) -> None:
    print(json.dumps(values), flush=True)


def _linger() -> None:
    """Stay until the script stops this process: the load meter counts a process's CPU under its
    category only while it exists, so a starter that had exited before the workers finished
    would count as 'others' and its StartExecution calls would leave the CPU per Task state."""
    sys.stdin.readline()


def child_start_executions(args: argparse.Namespace) -> int:
    from sqlalchemy import text

    from orchestrator.service import Service
    from orchestrator.store.db import session_scope

    service = Service()
    for _ in range(args.child_warmup):
        service.start_execution(args.machine, input="{}")
    emit(event="warm", count=args.child_warmup)
    sys.stdin.readline()
    cpu, t0 = time.process_time(), time.time()
    for index in range(args.count):
        service.start_execution(args.machine, input="{}")
        if args.max_in_flight and index % 250 == 249:
            _throttle(service.settings.database_url, index + 1, args.max_in_flight, session_scope, text)
    emit(event="started", t0=t0, t1=time.time(), cpu_s=time.process_time() - cpu)
    _linger()
    return 0


def child_start_executions_http(args: argparse.Namespace) -> int:
    """The starter through the HTTP API: ``--http-threads`` threads, a boto3 client each, share
    ``--count`` StartExecution calls, so that that many requests are in flight at once."""
    from concurrent.futures import ThreadPoolExecutor

    # built and connected before the clock starts: a boto3 client takes tens of ms to build
    clients = [boto3_client(args.url, pool=1) for _ in range(args.http_threads)]
    for index in range(args.child_warmup):
        clients[index % len(clients)].start_execution(stateMachineArn=args.machine, input="{}")
    emit(event="warm", count=args.child_warmup)
    sys.stdin.readline()

    def start(client: Any, count: int) -> None:
        for _ in range(count):
            client.start_execution(stateMachineArn=args.machine, input="{}")

    shares = [len(range(index, args.count, len(clients))) for index in range(len(clients))]
    cpu, t0 = time.process_time(), time.time()
    with ThreadPoolExecutor(len(clients)) as pool:
        for future in [pool.submit(start, client, share) for client, share in zip(clients, shares, strict=True)]:
            future.result()  # a failed request fails the child, which the parent notices
    emit(event="started", t0=t0, t1=time.time(), cpu_s=time.process_time() - cpu)
    _linger()
    return 0


def _throttle(url: str, started: int, max_in_flight: int, session_scope: Any, text: Any) -> None:
    """Waits while more than ``max_in_flight`` started executions have no task token yet."""
    while True:
        with session_scope(url) as session:
            paused = session.execute(text("SELECT count(*) FROM task_tokens")).scalar_one()
        if started - paused <= max_in_flight:
            return
        time.sleep(0.05)


def child_publish_noops(args: argparse.Namespace) -> int:
    from bench.noop_app import QUEUE, TASK, app

    for _ in range(args.child_warmup):
        app.send_task(TASK, queue=QUEUE)
    emit(event="warm", count=args.child_warmup)
    sys.stdin.readline()
    cpu, t0 = time.process_time(), time.time()
    for _ in range(args.count):
        app.send_task(TASK, queue=QUEUE)
    emit(event="published", t0=t0, t1=time.time(), cpu_s=time.process_time() - cpu)
    return 0


# -- report ----------------------------------------------------------------------------------------


def load_text(load: dict[str, Any]) -> str:
    if not load:
        return ""
    percent = load.get("percent", {})
    parts = [f"{name} {value:.0f}%" for name, value in percent.items() if value >= 0.5]
    return f"busy {load['busy_percent']:.0f}% ({', '.join(parts)})"


def mark(met: bool) -> str:
    return "met" if met else "MISSED"


def ratio_rows(label: str, how: str, a: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The table's rows of a raw Celery / engine comparison ((a), its HTTP variant)."""
    raw = max(a["raw_runs"], key=lambda r: r["tasks_per_s"])
    eng = max(a["engine_runs"], key=lambda r: r["task_states_per_s"])
    leanest = min(a["engine_runs"], key=lambda r: r["cpu_ms_per_task_state"]["total"])["cpu_ms_per_task_state"]
    by_process = ", ".join(f"{k} {v:.2f}" for k, v in leanest.items() if k != "total" and v >= 0.005)
    goal = a.get("goal_ratio", GOAL_RATIO)
    per_run = ", ".join(f"{r:.2f}" for r in a["ratios_per_run"])
    return [
        (f"{label} raw Celery no-op tasks/s", f"{a['raw_celery_tasks_per_s']:,.0f}", "", load_text(raw["load"])),
        (
            f"{label} Task states/s (10-Task executions{how})",
            f"{a['task_states_per_s']:,.0f}",
            "",
            load_text(eng["load"]),
        ),
        (f"{label} ratio", f"{a['ratio']:.2f}", f">= {goal} {mark(a['met'])}", f"per run: {per_run}"),
        (
            f"{label} CPU ms per raw task / per Task state",
            f"{a['raw_cpu_ms_per_task']:.2f} / {a['cpu_ms_per_task_state']:.2f}",
            "",
            f"CPU ratio {a['cpu_ratio']:.2f} (every process but others')",
        ),
        (f"{label} CPU ms per Task state by process", f"{leanest['total']:.2f}", "", by_process),
    ]


def print_report(report: dict[str, Any]) -> None:
    parts = report["parts"]
    config = report["config"]
    code = report.get("code", {})
    if code:
        dirty = f", uncommitted changes in {', '.join(code['uncommitted'])}" if code["uncommitted"] else ""
        print(f"\ncommit {code['commit']}{dirty}")
    print(
        f"\n{config['workers']} workers x --pool {config['pool']} --concurrency {config['concurrency']}, "
        f"scheduler {'on' if config['scheduler'] else 'off'}, loglevel {config['loglevel']}; "
        f"{report['machine']['cores']} cores; load in % of all cores\n"
    )
    rows: list[tuple[str, str, str, str]] = []
    if "tasks" in parts:
        rows += ratio_rows("(a)", "", parts["tasks"])
    if "tasks_http" in parts:
        h = parts["tasks_http"]
        rows += ratio_rows("(a, HTTP)", f", {h['http_threads']} boto3 threads, concurrency {h['concurrency']}", h)
    if "loop" in parts:
        b = parts["loop"]
        one = b["one_at_a_time"]
        rows.append(
            (
                f"(b) transitions/s, 1 execution ({b['transitions_per_execution']} transitions)",
                f"{one['best_transitions_per_s']:,.0f}",
                "",
                load_text(one["load"]),
            )
        )
        rows.append(
            (
                f"(b) transitions/s, {b['at_once']['executions']} executions at once",
                f"{b['at_once']['transitions_per_s']:,.0f}",
                f">= {GOAL_TRANSITIONS:,.0f} {mark(b['met'])}",
                load_text(b["at_once"]["load"]),
            )
        )
    if "latency" in parts:
        c = parts["latency"]
        n = c["notified"]
        rows.append(
            (
                "(c) 5-Task latency p50 / p99 ms (NOTIFY)",
                f"{n['p50_ms']:.1f} / {n['p99_ms']:.1f}",
                f"p50 < {GOAL_P50_MS:.0f} {mark(c['met'])}",
                load_text(n["load"]),
            )
        )
        h = c["history_span"]
        rows.append(("(c) history span p50 / p99 ms", f"{h['p50_ms']:.1f} / {h['p99_ms']:.1f}", "", ""))
        p = c["polling_describe"]
        if p.get("count"):
            rows.append(
                (
                    f"(c) polling DescribeExecution every {p['interval_ms']:.0f} ms: p50 / p99",
                    f"{p['p50_ms']:.1f} / {p['p99_ms']:.1f}",
                    "",
                    load_text(p["load"]),
                )
            )
        b = c.get("boto3_polling", {})
        if b.get("count"):
            rows.append(
                (
                    f"(c) boto3 via HTTP, DescribeExecution every {b['interval_ms']:.0f} ms: p50 / p99",
                    f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f}",
                    f"p50 <= {b['goal_p50_ms']:.0f} {mark(b['met'])}",
                    f"{b['describe_calls_mean']:.1f} Describe calls each; {load_text(b['load'])}",
                )
            )
    if "paused" in parts:
        rows += paused_rows(parts["paused"])
    if not rows:
        return
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>14}  {'goal':<16}  load / notes")
    print("-" * (width + 60))
    for name, value, goal, note in rows:
        print(f"{name:<{width}}  {value:>14}  {goal:<16}  {note}")
    statuses = {
        status
        for key in ("tasks", "tasks_http")
        for run in parts.get(key, {}).get("engine_runs", [])
        for status in run["statuses"]
    }
    for key in ("loop", "latency"):
        statuses.update(parts.get(key, {}).get("statuses", []))
    if statuses - {"SUCCEEDED"}:
        print(f"\nWARNING: executions ended {sorted(statuses)}; every one should have SUCCEEDED")
    noisy = [name for name, load in all_loads(report) if load.get("percent", {}).get("others", 0) > NOISY_PERCENT]
    if noisy:
        print(f"\nwarning: other processes used more than {NOISY_PERCENT:.0f}% of the CPU during: {', '.join(noisy)}")
    if "paused" in parts:
        print_tables(parts["paused"]["database"], parts["paused"]["executions"])
    for workload, profile in report.get("profile", {}).items():
        if "error" in profile:
            print(f"\nprofile of {workload} FAILED: {profile['error']}")
        else:
            print_profile(workload, profile, config["profile_top"])


def paused_rows(d: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(d)'s rows of the table (reports saved before the clones came print too)."""
    cr, db, ls, clone = d["creation"], d["database"], d["listing"], d.get("clone") or {}
    total = d.get("executions_total", d["executions"])
    rows = [
        (
            f"(d) paused executions created/s ({d['executions']:,})",
            f"{cr['executions_per_s']:,.0f}",
            "",
            load_text(cr["load"]),
        )
    ]
    if "cpu_ms_per_execution" in cr:
        spent = cr["cpu_ms_per_execution"]
        rows.append(
            (
                "(d) CPU ms per paused execution",
                f"{spent['total']:.1f}",
                "",
                ", ".join(f"{k} {v:.1f}" for k, v in spent.items() if k != "total" and v >= 0.05),
            )
        )
    if clone:
        checks = clone.get("checks", {})
        rows.append(
            (
                f"(d) cloned in SQL to {total:,} (the bench's time, not the engine's)",
                f"{clone['seconds']:,.0f} s",
                "",
                f"{clone['clones_per_s']:,.0f} clones/s; a clone like a real one: "
                + ", ".join(f"{k} {v}" for k, v in checks.items()),
            )
        )
    split = ""
    if "bytes_per_clone" in db:
        split = f"real ones {db['bytes_per_real_execution']:,}, clones {db['bytes_per_clone']:,}"
    rows.append(
        (f"(d) database bytes per paused execution (of {total:,})", f"{db['bytes_per_execution']:,}", "", split)
    )
    la = ls["list_executions_all_pages"]
    walked = "all" if la.get("complete", True) else "first"
    rows.append(
        (
            f"(d) ListExecutions, {walked} {la['pages']:,} pages of {la['page_size']}",
            f"{la['total_s']:.2f} s",
            "",
            f"median page {la['median_page_ms']:.1f} ms, slowest {la['slowest_page_ms']:.1f} ms",
        )
    )
    rows.append(("(d) ListExecutions first page of 100", f"{ls['list_executions_first_page_100_ms']:.1f} ms", "", ""))
    rows.append(
        (
            "(d) pending_tokens()",
            f"{ls['pending_tokens_ms']:.0f} ms",
            "",
            f"returned {ls['pending_tokens_returned']:,} of {total:,}",
        )
    )
    rows.append(("(d) DescribeExecution", f"{ls['describe_execution_ms']:.1f} ms", "", ""))
    if d["resume"]:
        r = d["resume"]
        ended = ", ".join(f"{k} {v}" for k, v in r.get("ended", {}).items())
        rows.append(
            (
                f"(d) SendTaskSuccess -> end, p50 / p99 ms ({r['executions']})",
                f"{r['send_to_end']['p50_ms']:.1f} / {r['send_to_end']['p99_ms']:.1f}",
                "",
                f"the call itself p50 {r['send_task_success']['p50_ms']:.1f} ms"
                + (f"; ended: {ended}" if ended else ""),
            )
        )
    return rows


def all_loads(report: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    def walk(prefix: str, value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "load" and isinstance(inner, dict):
                    yield prefix, inner
                else:
                    yield from walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                yield from walk(f"{prefix}[{index}]", inner)

    yield from walk("", report["parts"])


def print_tables(database: dict[str, Any], executions: int) -> None:
    """Per table and per index: rows, MB and bytes per execution (what to shrink)."""
    count = database.get("executions", executions)
    print(f"\n(d) tables once the paused executions were made (before VACUUM); B/ex: bytes per execution of {count:,}")
    print(
        f"  {'table, its indexes':<50} {'rows':>10} {'dead rows':>9} {'table MB':>9} {'B/ex':>6} "
        f"{'index MB':>9} {'B/ex':>6}"
    )
    for name, t in database["tables"].items():
        print(
            f"  {name:<50} {t['rows']:>10,} {t['dead_rows']:>9,} {t['table_bytes'] / 2**20:>9.1f} "
            f"{t['table_bytes'] / count:>6,.0f} {t['index_bytes'] / 2**20:>9.1f} {t['index_bytes'] / count:>6,.0f}"
        )
        for index, size in t.get("indexes", {}).items() if t["rows"] else ():
            print(f"    {index:<48} {'':>37} {size / 2**20:>9.1f} {size / count:>6,.0f}")
    print(
        f"  database: {database['size_before_bytes'] / 2**20:.1f} MB before, {database['size_after_bytes'] / 2**20:.1f}"
        f" MB after, {database['size_after_vacuum_bytes'] / 2**20:.1f} MB after VACUUM"
        + (f" ({database['vacuum_s']:.0f} s)" if "vacuum_s" in database else "")
    )


def print_profile(workload: str, profile: dict[str, Any], top: int) -> None:
    timing = profile["timing"]
    unit = timing["unit"]
    print(f"\nwhere the time goes in {workload} ({timing['units']:,} {unit}s, phase timings; per {unit}):")
    print(f"  {'phase':<42} {'calls':>6} {'wall ms':>8} {'cpu ms':>8}")
    for phase, figures in timing["phases"].items():
        print(
            f"  {phase:<42} {figures['per_unit']:>6.2f} {figures['wall_ms_per_unit']:>8.3f} "
            f"{figures['cpu_ms_per_unit']:>8.3f}"
        )
    cpu = timing["worker_cpu_ms_per_unit"]
    print(
        f"  worker CPU per {unit}: "
        + ", ".join(f"{k} {v:.3f} ms" for k, v in cpu.items())
        + f"; outside tasks (Celery, kombu) {timing['celery_outside_tasks_cpu_ms_per_unit']:.3f} ms"
    )
    others = timing["server_cpu_ms_per_unit"]
    print(f"  other CPU per {unit}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in others.items()))
    for role, report in profile["cprofile"].items():
        print(f"\n  cProfile, {role} ({report['processes']} processes, {report['profiled_s']:.1f} s):")
        for title, key in (("by own time", "by_own"), ("by cumulative time", "by_cumulative")):
            print(f"    {title}:")
            print(f"      {'cum %':>6} {'own %':>6} {'calls':>9}  function")
            for row in report[key][:top]:
                print(
                    f"      {row['cumulative_percent']:>6.1f} {row['own_percent']:>6.1f} {row['calls']:>9}  "
                    f"{row['function']}"
                )


# -- main ------------------------------------------------------------------------------------------

PARTS: dict[str, Callable[[argparse.Namespace, LoadMeter, Path], dict[str, Any]]] = {
    "tasks": part_tasks,
    "tasks_http": part_tasks_http,
    "loop": part_loop,
    "latency": part_latency,
    "paused": part_paused,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)} (default all)")
    add("--json", action="store_true", help="print the results as JSON instead of a table")
    add("--workers", type=int, default=2, help="worker processes (default 2)")
    add("--pool", default="prefork", choices=["prefork", "solo", "threads"], help="Celery pool (default prefork)")
    add("--concurrency", type=int, default=1, help="pool size per worker (default 1)")
    add("--loglevel", default="WARNING", help="workers' log level (default WARNING; INFO logs two lines a task)")
    add("--no-scheduler", action="store_true", help="run no `orchestrator scheduler`")
    add("--redis-url", default=REDIS_URL, help="Redis database to flush and use (default %(default)s)")
    add("--keep-db", action="store_true", help="keep the benchmark's databases")
    add("--runs", type=int, default=2, help="(a) runs of each, raw Celery and the engine; the best counts")
    add("--raw-tasks", type=int, default=5000, help="(a) raw Celery no-op tasks per run")
    add("--executions", type=int, default=300, help="(a) executions of 10 Task states per run")
    add("--warmup-tasks", type=int, default=200, help="(a) raw no-op tasks before each timed run")
    add("--warmup-executions", type=int, default=10, help="(a), (c) executions before the timed ones")
    add("--loop", type=int, default=1000, help="(b) turns of the Pass/Choice loop")
    add("--loop-runs", type=int, default=5, help="(b) executions one at a time")
    add("--loop-parallel", type=int, default=4, help="(b) executions started at once")
    add("--latency-runs", type=int, default=200, help="(c) executions one at a time")
    add("--latency-gap", type=float, default=0.0, help="(c) seconds between two executions")
    add("--poll-runs", type=int, default=50, help="(c) executions seen by polling DescribeExecution")
    add("--poll-interval", type=float, default=0.005, help="(c) seconds between two DescribeExecution calls")
    add("--http-poll-interval", type=float, default=0.010, help="(c) the same for the boto3 client (default 0.010)")
    add("--http-concurrency", type=int, default=2, help="(a, HTTP) pool size per worker, engine's and raw (default 2)")
    add("--http-threads", type=int, default=4, help="(a, HTTP) boto3 clients starting the executions, a thread each")
    add("--paused", type=int, default=100_000, help="(d) executions paused on a task token")
    add(
        "--paused-total",
        type=int,
        default=0,
        help="(d) then clone them in SQL until the database holds that many (bench/paused_clone.py; 0: no clones)",
    )
    add("--paused-list-pages", type=int, default=0, help="(d) ListExecutions pages of 1,000 to walk (0: all)")
    add("--max-in-flight", type=int, default=2000, help="(d) started executions not yet paused, at most")
    add("--resume", type=int, default=100, help="(d) executions resumed with SendTaskSuccess at the end")
    add("--profile", action="store_true", help="then profile (a) and (b) in the workers")
    add("--only-profile", default="tasks,loop", help="parts to profile (tasks, loop)")
    add("--profile-executions", type=int, default=200, help="executions of 10 Task states under the profile")
    add("--profile-top", type=int, default=20, help="functions per profile listing")
    add("--profile-dir", help="keep the workers' .prof and timing files here (default: a temporary directory)")
    add("--table-from", metavar="FILE", help="print the table of a report saved with --json, and exit")
    add("--child", choices=["start-executions", "start-executions-http", "publish-noops"], help=argparse.SUPPRESS)
    add("--url", default="", help=argparse.SUPPRESS)
    add("--machine", help=argparse.SUPPRESS)
    add("--count", type=int, default=0, help=argparse.SUPPRESS)
    add("--child-warmup", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose among {sorted(PARTS)}")
    return args


def code_version() -> dict[str, Any]:
    """The commit measured, and the engine's files changed since (the checkout is shared)."""

    def git(*argv: str) -> str:
        try:
            # not strip(): porcelain lines start with a space (" M path") that line[3:] counts on
            return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=True).stdout.rstrip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    changed = git("status", "--porcelain", "--", "orchestrator").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted": [line[3:] for line in changed]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child == "start-executions":
        return child_start_executions(args)
    if args.child == "start-executions-http":
        return child_start_executions_http(args)
    if args.child == "publish-noops":
        return child_publish_noops(args)
    if args.table_from:
        saved = json.loads(Path(args.table_from).read_text())
        print_report({**saved, "parts": {k: v for k, v in saved["parts"].items() if "error" not in v}})
        return 0
    meter = LoadMeter(_admin_connection)
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "code": code_version(),
        "machine": {"cores": os.cpu_count(), "loadavg_at_start": os.getloadavg()},
        "config": {
            "workers": args.workers,
            "pool": args.pool,
            "concurrency": args.concurrency,
            "loglevel": args.loglevel,
            "scheduler": not args.no_scheduler,
            "redis": args.redis_url,
            "profile_top": args.profile_top,
        },
        "parts": {},
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-durable-") as tmp:
        for name in args.only.split(","):
            try:
                report["parts"][name] = PARTS[name](args, meter, Path(tmp))
            except Exception as exc:  # report the other parts anyway
                failed = True
                report["parts"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                say(f"{name} failed: {exc}")
        if args.profile:
            report["profile"] = part_profile(args, meter, Path(tmp))
    ok = {k: v for k, v in report["parts"].items() if "error" not in v}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report({**report, "parts": ok})
        for name, part in report["parts"].items():
            if "error" in part:
                print(f"\n{name} FAILED: {part['error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
