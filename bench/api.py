#!/usr/bin/env python3
"""Benchmark: the HTTP API (``orchestrator serve``) in front of PostgreSQL, Redis and 2 workers.

    python bench/api.py [--runs 2] [--duration 8] [--servers serve,uvicorn2] [--drivers boto3,raw]
                        [--clients 2 --threads 4] [--samples 1000] [--profile] [--json]

Issue 4, item 6: StartExecution requests per second and DescribeExecution latency (p50, p99),
next to a trivial request to the same server in the same run; the ratios are the figures.

The stack: a fresh PostgreSQL database (``orchestrator db upgrade``), a Redis database of the
benchmark's own (``BENCH_API_REDIS_URL``, default index 13, flushed), ``--workers`` ``orchestrator
worker`` processes and one ``orchestrator scheduler``, and the API server under test:

    serve      ``orchestrator serve --port N``: one uvicorn process, one event loop, every action in
               its thread pool (what production runs).
    uvicorn1   ``uvicorn --factory orchestrator.api.app:app_factory``, one process (``serve`` without
               the CLI; with ``--uvicorn-option`` it tries uvicorn's options, e.g. ``--http httptools``).
    uvicorn2   the same with ``--workers 2``: two server processes on one port.

The requests (``op``):

    unknown    an unknown action (X-Amz-Target rewritten on a ListStateMachines request): the server
               answers UnknownOperationException before any thread, database or broker work. The
               whole HTTP stack and nothing else: **the baseline of the ratios**.
    list       ListStateMachines (the account holds the benchmark's one state machine): one short
               transaction with one SELECT, through the thread pool.
    health     ``GET /health`` (raw driver only): SELECT 1 and a broker connection check.
    start      StartExecution of a Standard state machine of two Pass states; the workers run the
               executions meanwhile, and the benchmark waits until all have ended before the next
               phase (how fast they complete is reported).
    describe   DescribeExecution of an execution that has succeeded.

Throughput phases: ``--clients`` client processes of ``--threads`` threads each send one op
for ``--duration`` seconds, every thread waiting for its answer before sending the next request
(closed loop). Two drivers:

    boto3      a boto3 ``stepfunctions`` client per thread (``endpoint_url``, no retries): what users run.
    raw        the very request botocore prepared (captured once), replayed with ``http.client`` on a
               kept-alive connection: a client that costs little CPU, so that on 2 cores the server,
               not the clients, is what saturates.

Latency phases: one client (boto3, one thread, sequential) sends ``--samples`` requests of each
op to ``serve``, nothing else running but the workers (and, for ``start``, the executions it starts).

Every phase reports the machine's CPU split between the server, the clients, the workers and the
scheduler, PostgreSQL (the benchmark database's backends and the background processes), Redis,
this process and everything else (``others``). ``server ms/req`` (the server process's CPU per
request) does not depend on how fast the clients are.

``--profile`` starts a server of its own (``create_app`` in a child process of this script) and
sends it ``--profile-requests`` StartExecution requests twice: once with timers around the
phases of the action (transactions, SQL statements, commit, definition parsing, the insert,
publishing to Redis, the event loop's share), once under cProfile (the action threads and the
event loop thread apart), and prints where the time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import pstats
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.machine

from bench.machine import LoadMeter, Process, distribution_ms, say, wait_for  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_API_REDIS_URL", "redis://127.0.0.1:6379/13")
ROLE_ARN = "arn:aws:iam::123456789012:role/bench"
REGION = "us-east-1"
UNKNOWN_TARGET = "AWSStepFunctions.BenchNoSuchAction"
BASELINE = "unknown"
OPS = ("unknown", "list", "health", "start", "describe")
SERVERS = ("serve", "uvicorn1", "uvicorn2")
NOISY_PERCENT = 10.0
# The categories of CPU time that serve the requests (not the clients, this script or other work).
STACK = ("server", "postgres", "redis", "workers", "scheduler")
SETTINGS_KEYS = (
    *("runs", "duration", "servers", "drivers", "ops", "clients", "threads", "samples"),
    *("workers", "pool", "concurrency", "uvicorn_option"),
)

# Two Pass states: an execution costs the workers two steps and the API one insert.
DEFINITION = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.first", "Next": "Second"},
        "Second": {"Type": "Pass", "End": True},
    },
}
EXECUTION_INPUT = '{"order": 1}'


# -- statistics ------------------------------------------------------------------------------------


# -- ports and requests ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_status(url: str, path: str, timeout: float = 5.0) -> int | None:
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


# -- the stack: database, broker, workers, scheduler, servers --------------------------------------


class Stack:
    """A fresh database and Redis database, the workers and the scheduler, and the servers started."""

    def __init__(self, args: argparse.Namespace, logs: Path) -> None:
        import psycopg
        import redis

        self.args = args
        self.logs = logs
        self.database = f"orchestrator_bench_api_{os.getpid()}_{uuid.uuid4().hex[:4]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        base = PG_ADMIN.rsplit("/", 1)[0]
        self.libpq_url = f"{base}/{self.database}"
        self.url = self.libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)
        redis.Redis.from_url(args.redis_url).flushdb()
        suffix = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "ORCHESTRATOR_DATABASE_URL": self.url,
            "ORCHESTRATOR_BROKER_URL": args.redis_url,
            "ORCHESTRATOR_ENGINE_QUEUE": f"bench-api-{suffix}",
            "ORCHESTRATOR_HANDLER_QUEUE": f"bench-api.handlers-{suffix}",
            "ORCHESTRATOR_HANDLER_MODULES": "",
            "ORCHESTRATOR_REGION": REGION,
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        }
        self.env.pop("ORCHESTRATOR_API_KEYS", None)
        self.env.pop("ORCHESTRATOR_API_KEYS_FILE", None)
        subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "db", "upgrade"],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        self.meter = LoadMeter(lambda: psycopg.connect(self.libpq_url, autocommit=True))
        self.meter.own_databases.add(self.database)
        self.db = psycopg.connect(self.libpq_url, autocommit=True)
        self.processes: list[Process] = []

    def spawn(self, name: str, argv: list[str], category: str, *, piped: bool = False) -> Process:
        process = Process(name, argv, self.env, self.logs / f"{name}.log", piped=piped)
        self.meter.register(process.pid, category)
        if not piped:
            self.processes.append(process)
        return process

    def start_cluster(self) -> None:
        started = []
        for index in range(self.args.workers):
            argv = [
                sys.executable, "-m", "orchestrator.cli", "worker", "--pool", self.args.pool,
                "--concurrency", str(self.args.concurrency), "--loglevel", "WARNING", "--without-mingle",
                "--without-gossip", "--without-heartbeat", "--hostname", f"benchapi{index}-{uuid.uuid4().hex[:4]}@%h",
            ]  # fmt: skip
            started.append(self.spawn(f"worker{index}", argv, "workers"))
        self.spawn("scheduler", [sys.executable, "-m", "orchestrator.cli", "scheduler"], "scheduler")
        wait_for(lambda: self._answering() >= len(started) or not all(w.alive() for w in started), 90, "the workers")
        for worker in started:
            if not worker.alive():
                raise RuntimeError(f"{worker.name} died:\n{worker.output()[-3000:]}")

    def _answering(self) -> int:
        """How many workers answer a remote-control ping (--loglevel WARNING hides their "ready")."""
        from celery import Celery

        from orchestrator import config
        from orchestrator.runtime.app import configure

        app = Celery("bench-api-ping")
        configure(app, config.load(self.env))
        try:
            return len(app.control.ping(timeout=1.0) or [])
        finally:
            app.close()

    def start_server(self, kind: str) -> Server:
        port = free_port()
        if kind == "serve":
            argv = [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(port)]
        else:
            argv = [
                sys.executable, "-m", "uvicorn", "--factory", "orchestrator.api.app:app_factory",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
                *(["--workers", "2"] if kind == "uvicorn2" else []), *self.args.uvicorn_option,
            ]  # fmt: skip
        process = self.spawn(f"server-{kind}", argv, "server")
        server = Server(kind, f"http://127.0.0.1:{port}", process)
        wait_for(lambda: http_status(server.url, "/health") == 200 or not process.alive(), 60, f"the {kind} server")
        if not process.alive():
            raise RuntimeError(f"the {kind} server died:\n{process.output()[-3000:]}")
        return server

    def stop_server(self, server: Server) -> None:
        server.process.stop()
        self.meter.forget(server.process.pid)
        self.processes.remove(server.process)

    def running(self, machine_arn: str) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM executions e JOIN state_machines m ON m.id = e.state_machine_id "
            "WHERE m.arn = %s AND e.status = 'RUNNING'",
            (machine_arn,),
        ).fetchone()
        return int(row[0])

    def ended_since(self, machine_arn: str, since: float) -> dict[str, Any]:
        """The executions started at or after ``since`` (epoch seconds): how many, and when they ran."""
        row = self.db.execute(
            "SELECT count(*), count(*) FILTER (WHERE e.status = 'SUCCEEDED'), "
            "extract(epoch FROM min(e.start_date)), extract(epoch FROM max(e.stop_date)) "
            "FROM executions e JOIN state_machines m ON m.id = e.state_machine_id "
            "WHERE m.arn = %s AND e.start_date >= to_timestamp(%s)",
            (machine_arn, since),
        ).fetchone()
        return {
            "count": int(row[0]),
            "succeeded": int(row[1]),
            "first_start": float(row[2]) if row[2] is not None else None,
            "last_stop": float(row[3]) if row[3] is not None else None,
        }

    def close(self) -> None:
        import psycopg

        for process in reversed(self.processes):
            process.stop()
        self.db.close()
        if self.args.keep_db:
            say(f"kept the database {self.database}")
            return
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@dataclass(frozen=True)
class Server:
    kind: str
    url: str
    process: Process


def boto3_client(url: str, pool: int = 10) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "stepfunctions",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
        config=Config(
            inject_host_prefix=False,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=pool,
            read_timeout=60,
        ),
    )


# -- the client processes ----------------------------------------------------------------------------


def rewrite_target(request: Any, **_: Any) -> None:
    """before-sign hook: the ListStateMachines request becomes a request for an unknown action."""
    del request.headers["X-Amz-Target"]
    request.headers["X-Amz-Target"] = UNKNOWN_TARGET


def boto3_call(url: str, op: str, arn: str) -> Callable[[], None]:
    """One request of ``op`` through a boto3 client of its own."""
    from botocore.exceptions import ClientError

    client = boto3_client(url, pool=2)
    if op == "unknown":
        client.meta.events.register("before-sign.sfn.ListStateMachines", rewrite_target)

        def unknown() -> None:
            try:
                client.list_state_machines()
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "UnknownOperationException":
                    raise
                return
            raise RuntimeError("the unknown action succeeded")

        return unknown
    if op == "list":
        return lambda: client.list_state_machines()
    if op == "start":
        return lambda: client.start_execution(stateMachineArn=arn, input=EXECUTION_INPUT)
    if op == "describe":
        return lambda: client.describe_execution(executionArn=arn)
    raise ValueError(f"the boto3 driver does not send {op!r}")


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    expect_status: int
    expect_text: bytes


def capture(url: str, op: str, arn: str) -> RawRequest:
    """The request botocore sends for ``op``, caught on its way out (it is sent once, for real)."""
    if op == "health":
        return RawRequest("GET", "/health", {}, b"", 200, b'"ok"')
    client = boto3_client(url)
    caught: dict[str, Any] = {}

    def grab(request: Any, **_: Any) -> None:
        caught["request"] = request

    client.meta.events.register("before-send.sfn", grab)
    boto3_call_with(client, op, arn)
    request = caught["request"]
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    path = urllib.parse.urlsplit(request.url).path or "/"
    if op == "unknown":
        return RawRequest(request.method, path, headers, body, 400, b"UnknownOperationException")
    return RawRequest(request.method, path, headers, body, 200, b"")


def boto3_call_with(client: Any, op: str, arn: str) -> None:
    from botocore.exceptions import ClientError

    if op == "unknown":
        client.meta.events.register("before-sign.sfn.ListStateMachines", rewrite_target)
        with contextlib.suppress(ClientError):
            client.list_state_machines()
    elif op == "list":
        client.list_state_machines()
    elif op == "start":
        client.start_execution(stateMachineArn=arn, input=EXECUTION_INPUT)
    elif op == "describe":
        client.describe_execution(executionArn=arn)


def raw_call(url: str, request: RawRequest) -> Callable[[], None]:
    """Replays ``request`` on a kept-alive connection of its own (reopened if the server closed it)."""
    parsed = urllib.parse.urlsplit(url)
    state: dict[str, http.client.HTTPConnection] = {}

    def call() -> None:
        connection = state.get("c")
        if connection is None:
            connection = state["c"] = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        try:
            connection.request(request.method, request.path, body=request.body or None, headers=request.headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            state.pop("c", None)
            raise
        if response.status != request.expect_status or request.expect_text not in data:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        if response.will_close:
            connection.close()
            state.pop("c", None)

    return call


def child_load(args: argparse.Namespace) -> int:
    """A client process: ``--threads`` threads send ``--op`` until told to stop; one JSON line out.

    With several ops (comma-separated), every thread sends them in turn, one request each: they
    then share the same moments of the machine's load.
    """
    ops = args.op.split(",")
    if args.driver == "raw":
        requests = {op: capture(args.url, op, args.arn.get(op, "")) for op in ops}
        calls = [{op: raw_call(args.url, requests[op]) for op in ops} for _ in range(args.threads)]
    else:
        calls = [{op: boto3_call(args.url, op, args.arn.get(op, "")) for op in ops} for _ in range(args.threads)]
    for by_op in calls:  # warm up: connections open, botocore's lazy loading done
        for call in by_op.values():
            for _ in range(args.warmup):
                call()
    print(json.dumps({"ready": True}), flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    remaining = [args.count] if args.count else None
    lock = threading.Lock()
    deadline = time.monotonic() + args.duration
    results: list[dict[str, Any]] = []

    def loop(by_op: dict[str, Callable[[], None]]) -> None:
        latencies: dict[str, list[float]] = {op: [] for op in ops}
        errors: list[str] = []
        first = time.time()
        turn = 0
        while True:
            if remaining is not None:
                with lock:
                    if remaining[0] <= 0:
                        break
                    remaining[0] -= 1
            elif time.monotonic() >= deadline:
                break
            op = ops[turn % len(ops)]
            turn += 1
            began = time.perf_counter()
            try:
                by_op[op]()
            except Exception as exc:
                errors.append(f"{op}: {type(exc).__name__}: {exc}"[:300])
                continue
            latencies[op].append(time.perf_counter() - began)
        with lock:
            results.append({"latencies": latencies, "errors": errors, "first": first, "last": time.time()})

    cpu_before = os.times()
    threads = [threading.Thread(target=loop, args=(by_op,)) for by_op in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu_after = os.times()
    errors = [e for r in results for e in r["errors"]]
    report = {
        "latencies_ms": {op: [round(1000 * v, 3) for r in results for v in r["latencies"][op]] for op in ops},
        "errors": len(errors),
        "error_samples": errors[:3],
        "first": min(r["first"] for r in results),
        "last": max(r["last"] for r in results),
        "cpu_s": (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system),
    }
    print(json.dumps(report), flush=True)
    return 0


# -- phases ------------------------------------------------------------------------------------------


def run_load(
    stack: Stack,
    server: Server,
    ops: list[str],
    driver: str,
    *,
    clients: int,
    threads: int,
    duration: float = 0.0,
    count: int = 0,
    arns: dict[str, str],
) -> list[dict[str, Any]]:
    """``clients`` processes of ``threads`` threads send ``ops`` in turn (for ``duration`` s, or ``count``
    requests in all); one result per op, sharing the span's load figures."""
    per_client = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    children = []
    for index in range(clients):
        argv = [
            sys.executable, str(Path(__file__).resolve()), "--child", "load", "--url", server.url,
            "--op", ",".join(ops), "--driver", driver, "--threads", str(threads), "--duration", str(duration),
            "--count", str(per_client[index]), "--arn", json.dumps(arns), "--warmup", str(stack.args.warmup),
        ]  # fmt: skip
        children.append(stack.spawn(f"client-{'+'.join(ops)}-{driver}-{index}", argv, "clients", piped=True))
    try:
        for child in children:
            child.message(timeout=120)
        with stack.meter.measure() as load:
            for child in children:
                child.tell("go")
            reports = [child.message(timeout=duration + 600) for child in children]
    finally:
        for child in children:
            child.stop(timeout=10)
            stack.meter.forget(child.pid)
    first = min(r["first"] for r in reports)
    last = max(r["last"] for r in reports)
    span = last - first
    total = sum(len(r["latencies_ms"][op]) for r in reports for op in ops)
    cpu = load.get("cpu_s", {})
    clients_cpu = sum(r["cpu_s"] for r in reports)
    errors = sum(r["errors"] for r in reports)
    samples = [e for r in reports for e in r["error_samples"]][:3]
    if errors:
        say(f"    {errors} errors, e.g. {samples[:1]}")
    results = []
    for op in ops:
        latencies = [v for r in reports for v in r["latencies_ms"][op]]
        ok = len(latencies)
        results.append(
            {
                "op": op,
                "driver": driver,
                "server": server.kind,
                "clients": clients,
                "threads": threads,
                "interleaved_with": [o for o in ops if o != op],
                "ok": ok,
                "errors": errors,
                "error_samples": samples,
                "seconds": round(span, 3),
                "per_second": round(ok / span, 1) if span > 0 else 0.0,
                "latency": distribution_ms(latencies),
                # CPU per request: of every request sent in the span (of all the ops interleaved)
                "server_cpu_ms_per_request": _per_request(cpu.get("server", 0.0), total),
                "stack_cpu_ms_per_request": _per_request(sum(cpu.get(c, 0.0) for c in STACK), total),
                "clients_cpu_ms_per_request": _per_request(clients_cpu, total),
                "server_cpu_percent_of_a_core": round(100 * cpu.get("server", 0.0) / span, 1) if span > 0 else None,
                "load": load,
                "first": first,
                "last": last,
            }
        )
    return results


def _per_request(seconds: float, requests: int) -> float | None:
    return round(1000 * seconds / requests, 3) if requests else None


def completion(stack: Stack, machine_arn: str, started: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Waits until the executions a start phase made have ended; how fast the workers ran them."""
    with stack.meter.measure() as load:
        wait_for(lambda: stack.running(machine_arn) == 0, timeout, "the started executions to end", poll=0.05)
    ended = stack.ended_since(machine_arn, started["first"] - 1.0)
    out: dict[str, Any] = {"executions": ended["count"], "succeeded": ended["succeeded"], "drain_load": load}
    if ended["first_start"] is not None and ended["last_stop"] is not None:
        span = ended["last_stop"] - ended["first_start"]
        out["seconds"] = round(span, 3)
        out["completed_per_second"] = round(ended["count"] / span, 1) if span > 0 else None
        # after the last StartExecution answer: the backlog the workers still had
        out["drain_after_last_start_s"] = round(max(0.0, ended["last_stop"] - started["last"]), 3)
    workers_cpu = started["load"].get("cpu_s", {}).get("workers", 0.0) + load.get("cpu_s", {}).get("workers", 0.0)
    if ended["count"]:
        out["workers_cpu_ms_per_execution"] = round(1000 * workers_cpu / ended["count"], 3)
    return out


def throughput_phases(stack: Stack, server: Server, driver: str, arns: dict[str, str]) -> list[dict[str, Any]]:
    """One phase per op: ``--clients`` x ``--threads`` closed-loop senders for ``--duration`` s."""
    args = stack.args
    results = []
    for op in args.ops:
        if op == "health" and driver != "raw":
            continue
        say(f"  {server.kind} / {driver} / {op}: {args.clients} x {args.threads} for {args.duration:.0f} s")
        (result,) = run_load(
            stack, server, [op], driver, clients=args.clients, threads=args.threads, duration=args.duration, arns=arns
        )
        if op == "start":
            result["completion"] = completion(stack, arns["start"], result, timeout=600)
        say(
            f"    {result['per_second']:,.0f}/s, p50 {result['latency'].get('p50_ms')} ms, "
            f"server {result['server_cpu_ms_per_request']} CPU ms/req ({result['server_cpu_percent_of_a_core']}% "
            f"of a core), machine busy {result['load'].get('busy_percent')}%"
        )
        results.append(result)
    return results


def latency_phases(stack: Stack, server: Server, arns: dict[str, str]) -> list[dict[str, Any]]:
    """One boto3 client, one request at a time: the reads interleaved, then StartExecution alone
    (its executions keep the workers busy, which would weigh on the reads' figures)."""
    args = stack.args
    results = []
    reads = [op for op in args.ops if op in ("unknown", "list", "describe")]
    for ops in ([reads] if reads else []) + ([["start"]] if "start" in args.ops else []):
        say(f"  latency / {' + '.join(ops)}: {args.samples} sequential requests each (boto3)")
        found = run_load(stack, server, ops, "boto3", clients=1, threads=1, count=args.samples * len(ops), arns=arns)
        for result in found:
            if result["op"] == "start":
                result["completion"] = completion(stack, arns["start"], result, timeout=600)
            figures = result["latency"]
            say(f"    {result['op']}: p50 {figures.get('p50_ms')} ms, p99 {figures.get('p99_ms')} ms")
        results += found
    return results


def prepare(stack: Stack, server: Server) -> tuple[str, str]:
    """The benchmark's state machine and an execution of it that has succeeded."""
    client = boto3_client(server.url)
    name = f"bench-api-{uuid.uuid4().hex[:8]}"
    machine_arn = client.create_state_machine(name=name, definition=json.dumps(DEFINITION), roleArn=ROLE_ARN)[
        "stateMachineArn"
    ]
    execution_arn = client.start_execution(stateMachineArn=machine_arn, input=EXECUTION_INPUT)["executionArn"]
    described = wait_for(
        lambda: (d := client.describe_execution(executionArn=execution_arn))["status"] != "RUNNING" and d,
        60,
        "the first execution",
    )
    if described["status"] != "SUCCEEDED":
        raise RuntimeError(f"the first execution did not succeed: {described}")
    return machine_arn, execution_arn


# -- the profiled server (a child process) -------------------------------------------------------------


class Timings:
    """Count, wall seconds and CPU seconds of the calling thread per named span, added from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: dict[str, list[float]] = {}

    def add(self, name: str, wall: float, cpu: float | None) -> None:
        with self.lock:
            span = self.spans.setdefault(name, [0, 0.0, 0.0 if cpu is not None else -1.0])
            span[0] += 1
            span[1] += wall
            if cpu is not None:
                span[2] += cpu

    def timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - began, time.thread_time() - cpu)

        return wrapper


def instrument_timings(timings: Timings) -> Callable[[Any], Any]:
    """Timers around the phases of an action; returns an ASGI wrapper timing whole requests."""
    from sqlalchemy import event
    from sqlalchemy.dialects.postgresql._psycopg_common import _PGDialect_common_psycopg
    from sqlalchemy.engine import Engine

    import orchestrator.runtime.operations as operations
    import orchestrator.service.base as base
    import orchestrator.service.executions as executions
    from orchestrator.api.actions import ACTIONS

    local = threading.local()

    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        local.began = (time.perf_counter(), time.thread_time())

    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        wall, cpu = time.perf_counter() - local.began[0], time.thread_time() - local.began[1]
        timings.add(f"sql: {' '.join(statement.split())[:64]}", wall, cpu)
        timings.add("sql: every statement", wall, cpu)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)

    original_scope = base.session_scope

    @contextlib.contextmanager
    def scope(url: str) -> Iterator[Any]:
        began, cpu = time.perf_counter(), time.thread_time()
        with original_scope(url) as session:
            yield session
            ending, ending_cpu = time.perf_counter(), time.thread_time()  # rollbacks are not timed
        timings.add("transaction: commit and release", time.perf_counter() - ending, time.thread_time() - ending_cpu)
        timings.add("transaction: whole (body and commit)", time.perf_counter() - began, time.thread_time() - cpu)

    base.session_scope = scope
    executions.load_machine = timings.timed("load_machine(definition) (cached)", executions.load_machine)
    operations.start = timings.timed("operations.start (insert execution, outbox)", operations.start)
    base.publish = timings.timed("publish to Redis (Celery send_task, after commit)", base.publish)
    # pool_pre_ping: a round trip when a transaction takes its connection from the pool
    ping = _PGDialect_common_psycopg.do_ping
    _PGDialect_common_psycopg.do_ping = timings.timed("pool pre-ping (checkout)", ping)  # type: ignore[method-assign]

    for name, function in list(ACTIONS.items()):
        ACTIONS[name] = timings.timed(f"action {name} (its thread)", function)

    def asgi(app: Any) -> Any:
        async def timed_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            began = time.perf_counter()
            try:
                await app(scope, receive, send)
            finally:
                if scope["type"] == "http":  # wall only: the loop thread serves other requests meanwhile
                    timings.add("request: ASGI call, whole", time.perf_counter() - began, None)

        return timed_app

    return asgi


def instrument_cprofile(profilers: list[Any], timer: Callable[[], float]) -> None:
    """A cProfile profiler per action thread (3.11's cProfile sees one thread), enabled around each action."""
    import cProfile

    from orchestrator.api.actions import ACTIONS

    local = threading.local()
    lock = threading.Lock()

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def action(*args: Any, **kwargs: Any) -> Any:
            profiler = getattr(local, "profiler", None)
            if profiler is None:
                profiler = local.profiler = cProfile.Profile(timer)
                with lock:
                    profilers.append(profiler)
            profiler.enable()
            try:
                return function(*args, **kwargs)
            finally:
                profiler.disable()

        return action

    for name, function in list(ACTIONS.items()):
        ACTIONS[name] = wrap(function)


def process_cpu() -> float:
    times = os.times()
    return times.user + times.system


def child_profile_server(args: argparse.Namespace) -> int:
    """``create_app`` under uvicorn in this process, instrumented; writes what it saw on SIGTERM."""
    import cProfile

    import uvicorn

    from orchestrator.api.app import create_app

    out = Path(args.out)
    # CPU time of the thread (what bounds the rate of one process), or wall time (where requests wait)
    clock = time.thread_time if args.profile_clock == "cpu" else time.perf_counter
    timings = Timings()
    profilers: list[Any] = []
    wrap_asgi: Callable[[Any], Any] = lambda app: app  # noqa: E731
    if args.mode == "timings":
        wrap_asgi = instrument_timings(timings)
    else:
        instrument_cprofile(profilers, clock)
    app = wrap_asgi(create_app())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off"))
    loop_profiler = cProfile.Profile(clock) if args.mode == "cprofile" else None
    print(json.dumps({"ready": True}), flush=True)
    if sys.stdin.readline().strip() != "go":  # the parent waits for the port itself
        return 1

    def stop_when_told() -> None:  # not SIGTERM: uvicorn raises it again once it has stopped
        sys.stdin.readline()
        server.should_exit = True

    threading.Thread(target=stop_when_told, daemon=True).start()
    cpu_before = process_cpu()
    if loop_profiler is not None:
        loop_profiler.enable()
    server.run()
    if loop_profiler is not None:
        loop_profiler.disable()
    cpu = process_cpu() - cpu_before
    if args.mode == "cprofile":
        first, *rest = profilers
        actions = pstats.Stats(first)
        for other in rest:
            actions.add(other)
        actions.dump_stats(out / "actions.prof")
        assert loop_profiler is not None
        pstats.Stats(loop_profiler).dump_stats(out / "loop.prof")
    (out / f"{args.mode}.json").write_text(json.dumps({"spans": timings.spans, "process_cpu_s": cpu}))
    return 0


def profile_start_execution(stack: Stack, machine_arn: str, profile_dir: Path) -> dict[str, Any]:
    """Timings, then cProfile, of the server side of ``--profile-requests`` StartExecution requests."""
    args = stack.args
    report: dict[str, Any] = {}
    for mode in ("timings", "cprofile"):
        port = free_port()
        argv = [
            sys.executable, str(Path(__file__).resolve()), "--child", "profile-server", "--port", str(port),
            "--mode", mode, "--out", str(profile_dir), "--profile-clock", args.profile_clock,
        ]  # fmt: skip
        child = stack.spawn(f"profile-server-{mode}", argv, "server", piped=True)
        server = Server(f"profiled-{mode}", f"http://127.0.0.1:{port}", child)
        try:
            child.message(timeout=60)
            child.tell("go")
            wait_for(lambda s=server: http_status(s.url, "/health") == 200, 60, "the profiled server")
            say(f"  profile ({mode}): {args.profile_requests} StartExecution, {args.clients} x {args.threads} boto3")
            (result,) = run_load(
                stack,
                server,
                ["start"],
                args.profile_driver,
                clients=args.clients,
                threads=args.threads,
                count=args.profile_requests,
                arns={"start": machine_arn},
            )
            completion(stack, machine_arn, result, timeout=600)
            child.tell("stop")
            wait_for(lambda c=child: not c.alive(), 120, "the profiled server to write its figures")
        finally:
            child.stop(timeout=60)
            stack.meter.forget(child.pid)
        saved_path = profile_dir / f"{mode}.json"
        if not saved_path.exists():
            raise RuntimeError(f"the profiled server wrote nothing:\n{child.output()[-3000:]}")
        saved = json.loads(saved_path.read_text())
        warmup = args.clients * args.threads * args.warmup + 1  # /health and the clients' warm-up requests
        report[mode] = {
            "requests": result["ok"],
            "requests_with_warmup": result["ok"] + warmup,
            "per_second": result["per_second"],
            "process_cpu_ms_per_request": round(1000 * saved["process_cpu_s"] / (result["ok"] + warmup), 3),
            "spans": saved["spans"],
        }
    report["timings_table"] = timings_table(report["timings"])
    action = report["timings"]["spans"].get("action StartExecution (its thread)")
    if action:
        thread_ms = 1000 * action[2] / action[0]
        report["timings"]["action_thread_cpu_ms_per_request"] = round(thread_ms, 3)
        report["timings"]["rest_cpu_ms_per_request"] = round(
            report["timings"]["process_cpu_ms_per_request"] - thread_ms, 3
        )
    report["cprofile_actions"] = top_functions(profile_dir / "actions.prof", args.profile_top)
    report["cprofile_loop"] = top_functions(profile_dir / "loop.prof", args.profile_top)
    return report


def timings_table(timings: dict[str, Any]) -> list[dict[str, Any]]:
    """Each span's wall and CPU ms per StartExecution request, and how often a request entered it."""
    requests = timings["spans"].get("action StartExecution (its thread)", [0])[0] or 1
    rows = []
    for name, (count, wall, cpu) in sorted(timings["spans"].items(), key=lambda kv: -kv[1][1]):
        rows.append(
            {
                "span": name,
                "wall_ms": round(1000 * wall / requests, 3),
                "cpu_ms": round(1000 * cpu / requests, 3) if cpu >= 0 else None,
                "per_request": round(count / requests, 2),
            }
        )
    return rows


def top_functions(path: Path, top: int) -> dict[str, Any]:
    """The ``top`` functions by cumulative and by own time, as % of the profile's total."""
    stats = pstats.Stats(str(path))
    entries = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt or 1e-9  # type: ignore[attr-defined]

    def label(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        short = filename
        for marker in ("site-packages/", "/orchestrator/", "lib/python3"):
            if marker in filename:
                short = filename.split(marker, 1)[1]
                short = ("orchestrator/" + short) if marker == "/orchestrator/" else short
                break
        return f"{short}:{line}({function})"

    def rows(index: int) -> list[dict[str, Any]]:
        ordered = sorted(entries.items(), key=lambda kv: -kv[1][index])[:top]
        return [
            {"function": label(key), "calls": value[1], "percent": round(100 * value[index] / total, 1)}
            for key, value in ordered
        ]

    return {"total_s": round(total, 3), "cumulative": rows(3), "own": rows(2)}


# -- report ------------------------------------------------------------------------------------------


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best run of every (server, driver, op) throughput and every op latency, with the ratios.

    Throughput: the best rate of each op over the runs, its ratio to the best rate of the baseline.
    Latency: for each op the run with the lowest p50, its ratios to the baseline of that same run.
    """
    throughput: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        for result in run["throughput"]:
            throughput.setdefault((result["server"], result["driver"], result["op"]), []).append(result)
    rows = []
    for (server, driver, op), results in throughput.items():
        chosen = max(results, key=lambda r: r["per_second"])
        baseline = throughput.get((server, driver, BASELINE))
        base = max(baseline, key=lambda r: r["per_second"]) if baseline else None
        base_rate = base["per_second"] if base else None
        base_ms = base["server_cpu_ms_per_request"] if base else None
        server_ms = chosen["server_cpu_ms_per_request"]
        rows.append(
            {
                "server": server,
                "driver": driver,
                "op": op,
                "per_second": chosen["per_second"],
                "all_runs_per_second": [r["per_second"] for r in results],
                "ratio_to_baseline": round(chosen["per_second"] / base_rate, 3) if base_rate else None,
                "p50_ms": chosen["latency"].get("p50_ms"),
                "p99_ms": chosen["latency"].get("p99_ms"),
                "server_cpu_ms_per_request": server_ms,
                "server_cpu_ratio_to_baseline": round(server_ms / base_ms, 2) if server_ms and base_ms else None,
                "server_bound_per_second": round(1000 / server_ms) if server_ms else None,
                "stack_cpu_ms_per_request": chosen["stack_cpu_ms_per_request"],
                "clients_cpu_ms_per_request": chosen["clients_cpu_ms_per_request"],
                "server_cpu_percent_of_a_core": chosen["server_cpu_percent_of_a_core"],
                "busy_percent": chosen["load"].get("busy_percent"),
                "others_percent": chosen["load"].get("percent", {}).get("others"),
                "errors": chosen["errors"],
                "completion": chosen.get("completion"),
            }
        )
    lat_rows = []
    ops = list(dict.fromkeys(r["op"] for run in runs for r in run["latency"]))
    for op in ops:
        candidates = []
        for run in runs:
            mine = [r for r in run["latency"] if r["op"] == op]
            base = [r for r in run["latency"] if r["op"] == BASELINE]
            if mine:
                candidates.append((mine[0], base[0] if base else None))
        chosen, base = min(candidates, key=lambda pair: pair[0]["latency"]["p50_ms"])
        figures = chosen["latency"]
        lat_rows.append(
            {
                "op": op,
                **figures,
                "all_runs_p50_ms": [c[0]["latency"]["p50_ms"] for c in candidates],
                "all_runs_p99_ms": [c[0]["latency"]["p99_ms"] for c in candidates],
                "ratio_p50_to_baseline": round(figures["p50_ms"] / base["latency"]["p50_ms"], 2) if base else None,
                "ratio_p99_to_baseline": round(figures["p99_ms"] / base["latency"]["p99_ms"], 2) if base else None,
                "interleaved_with": chosen["interleaved_with"],
                # with other ops interleaved, the span's CPU is theirs too: per request of the mix
                "server_cpu_ms_per_request": chosen["server_cpu_ms_per_request"],
                "busy_percent": chosen["load"].get("busy_percent"),
                "others_percent": chosen["load"].get("percent", {}).get("others"),
            }
        )
    return {"throughput": rows, "latency": lat_rows}


def print_tables(summary: dict[str, Any], report: dict[str, Any]) -> None:
    settings = report["settings"]
    print(
        f"\nthroughput: closed loop, {settings['clients']} client processes x {settings['threads']} threads, "
        f"{settings['duration']:.0f} s per phase, best of {settings['runs']} runs; {settings['workers']} workers"
    )
    header = (
        f"{'server':<9} {'driver':<6} {'op':<9} {'req/s':>7} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'srv ms/req':>10} {'cpu x':>6} {'cap/s':>6} {'stack ms':>8} {'cli ms':>6} {'srv %core':>9} "
        f"{'busy %':>6} {'others %':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in summary["throughput"]:
        print(
            f"{row['server']:<9} {row['driver']:<6} {row['op']:<9} {row['per_second']:>7,.0f} "
            f"{_fmt(row['ratio_to_baseline'], 3):>6} {_fmt(row['p50_ms'], 1):>7} {_fmt(row['p99_ms'], 1):>7} "
            f"{_fmt(row['server_cpu_ms_per_request'], 2):>10} {_fmt(row['server_cpu_ratio_to_baseline'], 1):>6} "
            f"{_fmt(row['server_bound_per_second'], 0):>6} "
            f"{_fmt(row['stack_cpu_ms_per_request'], 2):>8} {_fmt(row['clients_cpu_ms_per_request'], 2):>6} "
            f"{_fmt(row['server_cpu_percent_of_a_core'], 0):>9} {_fmt(row['busy_percent'], 0):>6} "
            f"{_fmt(row['others_percent'], 0):>8}"
        )
    print(
        f"  ratio: req/s over the same server and driver's '{BASELINE}' req/s. srv ms/req: CPU of the server "
        f"process(es) per request;\n  cpu x: srv ms/req over '{BASELINE}''s; cap/s: 1000 / srv ms/req, the rate of "
        "one server process with a core to itself;\n  stack ms: server, PostgreSQL, Redis, workers and scheduler "
        "CPU per request; cli ms: the clients'."
    )
    completions = [r for r in summary["throughput"] if r.get("completion")]
    if completions:
        print("\nexecutions started by the StartExecution phases (two Pass states each), run by the workers:")
        for row in completions:
            done = row["completion"]
            print(
                f"  {row['server']:<9} {row['driver']:<6} {done['executions']:>6} executions, "
                f"{done['succeeded']} succeeded, {_fmt(done.get('completed_per_second'), 0)}/s from the first "
                f"start to the last end, the last ended {_fmt(done.get('drain_after_last_start_s'), 2)} s after "
                f"the last start; workers {_fmt(done.get('workers_cpu_ms_per_execution'), 1)} CPU ms/execution"
            )
    if summary["latency"]:
        print(
            f"\nlatency: one boto3 client, sequential, {settings['samples']} requests per op to "
            f"'{settings['servers'][0]}' ({', '.join(r['op'] for r in summary['latency'] if r['interleaved_with'])} "
            f"interleaved; ratios: to '{BASELINE}' in the same run)"
        )
        header = (
            f"{'op':<9} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'mean ms':>8} {'p50 ratio':>9} {'p99 ratio':>9} "
            f"{'busy %':>6} {'others %':>8}"
        )
        print(header)
        print("-" * len(header))
        for row in summary["latency"]:
            print(
                f"{row['op']:<9} {row['p50_ms']:>7.2f} {row['p90_ms']:>7.2f} {row['p99_ms']:>7.2f} "
                f"{row['mean_ms']:>8.2f} {_fmt(row['ratio_p50_to_baseline'], 2):>9} "
                f"{_fmt(row['ratio_p99_to_baseline'], 2):>9} {_fmt(row['busy_percent'], 0):>6} "
                f"{_fmt(row['others_percent'], 0):>8}"
            )
    idle = report.get("machine_before", {})
    print(
        f"\nmachine: {report['machine']['cpus']} CPUs; before starting, other processes used "
        f"{idle.get('busy_percent')}% of the CPU (load average {idle.get('loadavg_1m')})"
    )
    noisy = [r for r in summary["throughput"] + summary["latency"] if (r.get("others_percent") or 0) > NOISY_PERCENT]
    if noisy:
        print(
            f"warning: other processes used more than {NOISY_PERCENT:.0f}% of the CPU during {len(noisy)} "
            "phases: the rates are lower than on a quiet machine; 'srv ms/req' depends on it much less"
        )
    profile = report.get("profile")
    if profile:
        print_profile(profile)


def print_profile(profile: dict[str, Any]) -> None:
    timings = profile["timings"]
    print(
        f"\nprofile of StartExecution on the server ({timings['requests']} requests, {timings['per_second']:,.0f}/s "
        f"with timers; server process {timings['process_cpu_ms_per_request']} CPU ms/request: the action's thread "
        f"{timings.get('action_thread_cpu_ms_per_request')}, the rest (event loop: HTTP, Starlette, thread hand-off) "
        f"{timings.get('rest_cpu_ms_per_request')}):"
    )
    print(f"  {'wall ms':>8} {'CPU ms':>8} {'times':>5}  span (per request; CPU: of the thread)")
    for row in profile["timings_table"]:
        print(f"  {row['wall_ms']:>8.3f} {_fmt(row['cpu_ms'], 3):>8} {row['per_request']:>5.2f}  {row['span']}")
    for part, title in (("cprofile_actions", "the action threads"), ("cprofile_loop", "the event loop thread")):
        data = profile[part]
        print(f"\ncProfile, {title} ({data['total_s']} s profiled); by cumulative time:")
        for row in data["cumulative"]:
            print(f"  {row['percent']:>5.1f}%  {row['calls']:>8}  {row['function']}")
        print("by own time:")
        for row in data["own"]:
            print(f"  {row['percent']:>5.1f}%  {row['calls']:>8}  {row['function']}")


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


# -- main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="rounds of every phase (best of them counts; default 2)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per throughput phase (default 8)")
    parser.add_argument("--servers", default="serve", help=f"comma-separated, of {', '.join(SERVERS)} (default serve)")
    parser.add_argument("--drivers", default="boto3,raw", help="comma-separated: boto3, raw (default both)")
    parser.add_argument("--ops", default=",".join(OPS), help=f"comma-separated, of {', '.join(OPS)} (default all)")
    parser.add_argument("--clients", type=int, default=2, help="client processes per phase (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per client process (default 4)")
    parser.add_argument("--samples", type=int, default=1000, help="sequential requests per latency op (default 1000)")
    parser.add_argument("--no-latency", action="store_true", help="skip the sequential latency phases")
    parser.add_argument("--warmup", type=int, default=5, help="requests per client thread before the clock starts")
    parser.add_argument("--workers", type=int, default=2, help="orchestrator worker processes (default 2)")
    parser.add_argument("--pool", default="prefork", help="the workers' pool (default prefork)")
    parser.add_argument("--concurrency", type=int, default=1, help="the workers' concurrency (default 1)")
    parser.add_argument("--uvicorn-option", action="append", default=[], help="extra option for uvicorn1/uvicorn2")
    parser.add_argument("--redis-url", default=REDIS_URL, help=f"Redis database to use and FLUSH ({REDIS_URL})")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--profile", action="store_true", help="profile the server side of StartExecution")
    parser.add_argument("--profile-requests", type=int, default=3000, help="StartExecution requests per profile")
    parser.add_argument("--profile-driver", default="boto3", help="the driver of the profiled load (default boto3)")
    parser.add_argument(
        "--profile-clock", choices=["cpu", "wall"], default="cpu", help="cProfile's clock: thread CPU time or wall"
    )
    parser.add_argument("--profile-top", type=int, default=25, help="functions listed per profile")
    parser.add_argument("--profile-dir", help="where the .prof files go (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--report", metavar="FILE", help="print the tables of a report saved with --json; run nothing")
    # child processes of this script
    parser.add_argument("--child", choices=["load", "profile-server"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--op", help=argparse.SUPPRESS)
    parser.add_argument("--driver", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--arn", type=json.loads, default={}, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.servers = [s for s in args.servers.split(",") if s]
    args.drivers = [d for d in args.drivers.split(",") if d]
    args.ops = [o for o in args.ops.split(",") if o]
    for name, chosen, allowed in (("server", args.servers, SERVERS), ("driver", args.drivers, ("boto3", "raw"))):
        for value in chosen:
            if value not in allowed:
                parser.error(f"unknown {name} {value!r}")
    for op in args.ops:
        if op not in OPS:
            parser.error(f"unknown op {op!r}")
    return args


def machine_info() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        logs = Path(scratch)
        stack = Stack(args, logs)
        try:
            with stack.meter.measure() as before:
                time.sleep(2.0)
            say(f"machine before starting: {before.get('busy_percent')}% busy, load average {before['loadavg_1m']}")
            say(f"database {stack.database}; {args.workers} workers ({args.pool}, concurrency {args.concurrency})")
            stack.start_cluster()
            servers = {kind: stack.start_server(kind) for kind in args.servers}
            first = servers[args.servers[0]]
            machine_arn, describe_arn = prepare(stack, first)
            arns = {"start": machine_arn, "describe": describe_arn}
            runs = []
            for index in range(args.runs):
                say(f"run {index + 1} of {args.runs}")
                throughput = []
                for kind in args.servers:
                    for driver in args.drivers:
                        throughput += throughput_phases(stack, servers[kind], driver, arns)
                latency = [] if args.no_latency else latency_phases(stack, first, arns)
                runs.append({"throughput": throughput, "latency": latency})
            for server in servers.values():
                stack.stop_server(server)
            report: dict[str, Any] = {
                "machine": machine_info(),
                "machine_before": before,
                "settings": {key: getattr(args, key) for key in SETTINGS_KEYS},
                "runs": runs,
            }
            report["summary"] = summarize(runs)
            if args.profile:
                profile_dir = Path(args.profile_dir or tempfile.mkdtemp(prefix="bench-api-profile-"))
                profile_dir.mkdir(parents=True, exist_ok=True)
                report["profile"] = profile_start_execution(stack, machine_arn, profile_dir)
                say(f"profiles: {profile_dir}/actions.prof, {profile_dir}/loop.prof")
            return report
        except BaseException:
            for process in stack.processes:
                if not process.alive():
                    say(f"--- {process.name} exited:\n{process.output()[-2000:]}")
            raise
        finally:
            stack.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child == "load":
        return child_load(args)
    if args.child == "profile-server":
        return child_profile_server(args)
    if args.report:  # the tables of a report saved with --json
        report = json.loads(Path(args.report).read_text())
        report["summary"] = summarize(report["runs"])
    else:
        report = run(args)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_tables(report["summary"], report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
