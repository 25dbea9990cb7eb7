#!/usr/bin/env python3
"""Benchmark: what `orchestrator.Client` costs per call, in-process and over HTTP, on PostgreSQL and Redis.

    python bench/client.py [--samples 300] [--json]

A fresh PostgreSQL database, Redis database 12 (``BENCH_CLIENT_REDIS_URL``), one ``orchestrator
worker`` (2 processes), the scheduler and ``orchestrator serve`` with an access key. One thread,
one call at a time, ``--samples`` calls each:

    start-local      Client().start_execution in a transaction of its own
    start-joined     an application's row inserted and the execution started in the caller's
                     session, then the commit (which publishes the message): the whole transaction
    start-http       Client(endpoint_url=...).start_execution, SigV4-signed
    describe-local   DescribeExecution in-process / over HTTP
    describe-http
    wait-local       start, then wait(): from the start's answer to wait's return, for a machine
    wait-http        of one Pass state, against (reported apart) the execution's own startDate to
                     stopDate, so the polling's share shows

Latencies in milliseconds (p50, p90, p99). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert
from sqlalchemy.orm import Session

from bench.machine import distribution_ms, say, scratch_database
from orchestrator import Client
from tests.api.conftest import Server
from tests.runtime.conftest import PG_ADMIN, ROLE, Cluster, close_clusters

REDIS_URL = os.environ.get("BENCH_CLIENT_REDIS_URL", "redis://127.0.0.1:6379/12")
KEY, SECRET = "bench-key", "bench-secret"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
applications = Table(
    "bench_client_applications", MetaData(), Column("id", Integer, primary_key=True), Column("ref", String(80))
)


def timed(samples: int, call: Callable[[int], Any]) -> list[float]:
    spent = []
    for index in range(samples):
        began = time.perf_counter()
        call(index)
        spent.append(time.perf_counter() - began)
    return spent


def measure(local: Client, remote: Client, engine: Any, samples: int) -> dict[str, Any]:
    machine = local.create_state_machine(f"bench-{uuid.uuid4().hex[:8]}", PASS, ROLE)["stateMachineArn"]
    arns: list[str] = []

    def joined(index: int) -> None:
        with Session(engine) as session, session.begin():
            session.execute(insert(applications).values(ref=f"j{index}"))
            local.start_execution(machine, {"i": index}, name=f"joined-{index}", session=session)

    def wait_with(client: Client, own: list[float]) -> Callable[[int], None]:
        def run(_index: int) -> None:
            done = client.wait(client.start_execution(machine, {})["executionArn"], timeout=60)
            own.append((done["stopDate"] - done["startDate"]).total_seconds())

        return run

    def start(index: int) -> None:
        arns.append(local.start_execution(machine, {"i": index})["executionArn"])

    results: dict[str, Any] = {}
    say("start: in-process, joined, HTTP")
    results["start-local"] = timed(samples, start)
    results["start-joined"] = timed(samples, joined)
    results["start-http"] = timed(samples, lambda i: remote.start_execution(machine, {"i": i}))
    say("describe")
    results["describe-local"] = timed(samples, lambda i: local.describe_execution(arns[i]))
    results["describe-http"] = timed(samples, lambda i: remote.describe_execution(arns[i]))
    say("wait")
    own_local: list[float] = []
    own_http: list[float] = []
    results["wait-local"] = timed(samples // 3, wait_with(local, own_local))
    results["wait-http"] = timed(samples // 3, wait_with(remote, own_http))
    results["execution-own-local"], results["execution-own-http"] = own_local, own_http
    return {name: distribution_ms([1000 * s for s in spent]) for name, spent in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with scratch_database(PG_ADMIN, "bench_client") as url:
        cluster = Cluster(url, REDIS_URL, Path(tempfile.mkdtemp(prefix="bench-client-")))
        engine = create_engine(url)
        applications.metadata.create_all(engine)
        try:
            cluster.start_scheduler()
            cluster.start_worker(concurrency=2)
            with Server(cluster, ORCHESTRATOR_API_KEYS=f"{KEY}={SECRET}") as server:
                local = Client(settings=cluster.settings, app=cluster.app)
                remote = Client(endpoint_url=server.url, access_key=KEY, secret_key=SECRET)
                report = measure(local, remote, engine, args.samples)
        finally:
            engine.dispose()
            close_clusters([cluster])
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for label, figures in report.items():
            p50, p90, p99 = (figures[key] for key in ("p50_ms", "p90_ms", "p99_ms"))
            print(f"{label:<20} p50 {p50:>7.2f}  p90 {p90:>7.2f}  p99 {p99:>7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
