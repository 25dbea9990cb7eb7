#!/usr/bin/env python3
"""Benchmark: the CPU of one API action in-process, without HTTP, and where cProfile says it goes.

    python bench/service_profile.py [--op describe|start] [--calls 3000] [--top 30]

On a fresh PostgreSQL database (migrated; dropped at the end) and a Redis database of its own
(``--redis-url``, flushed; no worker reads it, so StartExecution's messages only pile up there), one
`Service` calls the action ``--calls`` times in a loop: DescribeExecution of one execution (started,
never run: there is no worker), or StartExecution of a one-Pass state machine with a new name
each call. It prints the CPU and wall time per call without a profiler (after a warm-up of a tenth
of the calls), then runs the calls again under cProfile and prints the ``--top`` functions by
cumulative time. What HTTP adds (uvicorn, the thread pool, the JSON answer) is `api.py`'s to
measure; this isolates the service and store layers.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
from celery import Celery

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import scratch_database
from orchestrator import config
from orchestrator.runtime.app import configure
from orchestrator.service import Service

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
ROLE = "arn:aws:iam::123456789012:role/bench"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def _action(service: Service, op: str) -> Callable[[], object]:
    machine = service.create_state_machine(name="profiled", definition=PASS, role_arn=ROLE)["stateMachineArn"]
    if op == "describe":
        arn = service.start_execution(machine, input="{}")["executionArn"]
        return lambda: service.describe_execution(arn)
    return lambda: service.start_execution(machine, name=uuid.uuid4().hex, input="{}")


def _timed(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """CPU and wall milliseconds per call."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        call()
    return 1000 * (time.process_time() - cpu) / calls, 1000 * (time.perf_counter() - wall) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--op", choices=("describe", "start"), default="describe")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    try:
        with scratch_database(PG_ADMIN, "orchestrator_bench_profile") as url:
            settings = config.load({"ORCHESTRATOR_DATABASE_URL": url, "ORCHESTRATOR_BROKER_URL": args.redis_url})
            app = Celery("bench-profile")
            configure(app, settings)
            call = _action(Service(settings, app), args.op)
            _timed(call, max(1, args.calls // 10))
            cpu, wall = _timed(call, args.calls)
            print(f"{args.op}: {cpu:.3f} ms CPU, {wall:.3f} ms wall per call ({args.calls} calls, no profiler)")
            profiler = cProfile.Profile()
            profiler.runcall(_timed, call, args.calls)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    finally:
        redis.Redis.from_url(args.redis_url).flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
