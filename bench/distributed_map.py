#!/usr/bin/env python3
"""Benchmark: a Distributed Map over a large CSV in local buckets, in batches, with its results written.

    python bench/distributed_map.py [--rows 1000000] [--batch 100] [--concurrency 100]
                                    [--execution-type EXPRESS] [--timeout 1800] [--json]

On a fresh PostgreSQL database (migrated) and a flushed Redis database, with one ``orchestrator
worker`` (prefork, ``--worker-concurrency`` processes) and one ``orchestrator scheduler``:

1. writes ``--rows`` CSV rows (``id,name,amount``) to ``data/rows.csv`` in local buckets of the run's own;
2. starts one execution of a Distributed Map: ItemReader CSV (FIRST_ROW), ItemBatcher
   ``MaxItemsPerBatch`` ``--batch``, ``MaxConcurrency`` ``--concurrency``, each child (``--execution-type``)
   a Pass that counts its batch's items and sums their ids, ResultWriter to ``out/runs``;
3. waits for it, then checks: the execution SUCCEEDED; DescribeMapRun counts every batch succeeded;
   the manifest's SUCCEEDED file holds one record per batch, in order, whose counts add up to
   ``--rows`` and whose sums add up to 0 + 1 + ... + (rows - 1); no FAILED file.

It reports the wall time (start to end, and its phases from the execution's history), the peak RSS
(VmHWM) of every process (the worker's main process and each pool process, the scheduler, the
benchmark itself) read just before they stop, and the database's size; and, sampled every second,
the machine's 1-minute load average (lowest, highest) and when the ItemReader's last page was in
(the Map's fan-out record no longer reading: the items are read a page at a time while the
children run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import Process, say, wait_for  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
ROLE_ARN = "arn:aws:iam::123456789012:role/bench"


def definition(batch: int, concurrency: int, execution_type: str) -> dict[str, Any]:
    count = {
        "Type": "Pass",
        "Parameters": {
            "count.$": "States.ArrayLength($.Items)",
            "first.$": "$.Items[0].id",
        },
        "End": True,
    }
    return {
        "StartAt": "Rows",
        "States": {
            "Rows": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": "data", "Key": "rows.csv"},
                },
                "ItemBatcher": {"MaxItemsPerBatch": batch},
                "MaxConcurrency": concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                    "StartAt": "Count",
                    "States": {"Count": count},
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "out", "Prefix": "runs"},
                },
                "End": True,
            }
        },
    }


def write_rows(buckets: Any, rows: int) -> int:
    """The CSV, built in one buffer (the benchmark's own memory shows what that costs)."""
    lines = ["id,name,amount\n"]
    lines.extend(f"{i},name-{i},{i % 1000}.{i % 100:02}\n" for i in range(rows))
    body = "".join(lines).encode()
    buckets.put_object("data", "rows.csv", body)
    return len(body)


def peak_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (a worker's pool processes)."""
    found = [pid]
    for child in children_of(pid):
        found.extend(descendants(child))
    return found


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="CSV rows (default: 1000000)")
    parser.add_argument("--batch", type=int, default=100, help="MaxItemsPerBatch (default: 100)")
    parser.add_argument("--concurrency", type=int, default=100, help="the Map's MaxConcurrency (default: 100)")
    parser.add_argument("--execution-type", default="EXPRESS", help="children's ExecutionType (default: EXPRESS)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="worker pool processes (default: 2)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the end (default: 1800)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    import psycopg
    import redis

    from orchestrator import config
    from orchestrator.integrations.s3 import LocalBuckets
    from orchestrator.service import Service
    from orchestrator.store.db import get_engine
    from orchestrator.store.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="bench-dmap-"))
    name = f"orchestrator_bench_dmap_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    upgrade(url)
    redis.Redis.from_url(REDIS_URL).flushdb()
    buckets = LocalBuckets(tmp / "buckets")
    for bucket in ("data", "out"):
        buckets.create_bucket(bucket)
    size = write_rows(buckets, args.rows)
    say(f"wrote {args.rows:,} rows ({size / 1e6:.1f} MB) to data/rows.csv")

    tag = uuid.uuid4().hex[:6]
    env = {
        **os.environ,
        "ORCHESTRATOR_DATABASE_URL": url,
        "ORCHESTRATOR_BROKER_URL": REDIS_URL,
        "ORCHESTRATOR_S3_ROOT": str(buckets.root),
        "ORCHESTRATOR_ENGINE_QUEUE": f"bench-dmap-{tag}",
        "ORCHESTRATOR_HANDLER_QUEUE": f"bench-dmap.handlers-{tag}",
        "PYTHONPATH": str(ROOT),
    }
    worker = Process(
        "worker",
        [sys.executable, "-m", "orchestrator.cli", "worker", "--concurrency", str(args.worker_concurrency),
         "--pool", "prefork", "--without-mingle", "--without-gossip", "--hostname", f"dmap-{tag}@%h"],
        env, tmp / "worker.log",
    )  # fmt: skip
    scheduler = Process(
        "scheduler", [sys.executable, "-m", "orchestrator.cli", "scheduler"], env, tmp / "scheduler.log"
    )
    wait_for(lambda: "ready" in worker.output(), 60, "the worker to start")
    settings = config.load(env)
    from celery import Celery

    from orchestrator.runtime.app import configure

    app = Celery("bench-dmap")
    configure(app, settings)
    service = Service(settings, app)
    machine = service.create_state_machine(
        name=f"dmap-{tag}",
        definition=json.dumps(definition(args.batch, args.concurrency, args.execution_type)),
        role_arn=ROLE_ARN,
    )["stateMachineArn"]

    started = time.monotonic()
    execution = service.start_execution(machine, name=f"run-{tag}", input="{}")["executionArn"]
    say(f"started {execution}")
    peaks: dict[str, int] = {}
    loads: list[float] = []
    read_at: list[float] = []
    watch = psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", autocommit=True)

    def note_reading() -> None:
        """When the Map's fan-out record first shows no reading in progress (its last page in)."""
        if read_at:
            return
        fan = watch.execute("SELECT fan::text FROM executions WHERE parent_id IS NULL").fetchone()
        reading = json.loads(fan[0]).get("reading") if fan and fan[0] else "not yet"
        if reading is None:
            read_at.append(time.monotonic() - started)

    def note_peaks() -> None:
        loads.append(os.getloadavg()[0])
        for label, pid in [("worker", worker.pid), ("scheduler", scheduler.pid)]:
            for process in descendants(pid):
                key = label if process == pid else f"{label} child {process}"
                rss = peak_rss_kib(process)
                if rss is not None:
                    peaks[key] = max(peaks.get(key, 0), rss)

    def ended() -> dict[str, Any] | None:
        note_peaks()
        note_reading()
        described = service.describe_execution(execution)
        return described if described["status"] != "RUNNING" else None

    described = wait_for(ended, args.timeout, "the Map to end", poll=1.0)
    wall = time.monotonic() - started
    note_peaks()
    watch.close()
    peaks["benchmark"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = check(service, buckets, described, execution, args)
    database_size = (
        psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
        .execute("SELECT pg_database_size(current_database())")
        .fetchone()[0]
    )
    worker.stop()
    scheduler.stop()
    figures = {
        "rows": args.rows,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "execution_type": args.execution_type,
        "csv_bytes": size,
        "wall_seconds": round(wall, 1),
        "rows_per_second": round(args.rows / wall),
        "all_pages_read_seconds": round(read_at[0], 1) if read_at else None,
        "load_average_1min": {"min": round(min(loads), 2), "max": round(max(loads), 2)},
        "peak_rss_mib": {k: round(v / 1024, 1) for k, v in sorted(peaks.items())},
        "database_mib": round(database_size / 2**20, 1),
        **result,
    }
    get_engine(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(figures, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))
    return 0 if result["checks"] == "all passed" else 1


def check(service: Any, buckets: Any, described: dict[str, Any], execution: str, args: Any) -> dict[str, Any]:
    """The exact counts: the execution, the Map Run, the manifest and the SUCCEEDED file."""
    problems = []
    if described["status"] != "SUCCEEDED":
        return {"checks": f"execution {described['status']}: {described.get('error')} {described.get('cause')}"}
    output = json.loads(described["output"])
    batches = -(-args.rows // args.batch)
    run = service.describe_map_run(output["MapRunArn"])
    if run["itemCounts"]["succeeded"] != batches or run["itemCounts"]["total"] != batches:
        problems.append(f"map run counts {run['itemCounts']}")
    with buckets.get_object("out", output["ResultWriterDetails"]["Key"]) as stream:
        manifest = json.loads(stream.read())
    if manifest["ResultFiles"]["FAILED"]:
        problems.append("a FAILED file")
    records = []
    for entry in manifest["ResultFiles"]["SUCCEEDED"]:
        with buckets.get_object("out", entry["Key"]) as stream:
            records.extend(json.loads(stream.read()))
    outputs = [json.loads(r["Output"]) for r in records]  # (AWS's records hold each output as JSON text)
    counts = [o["count"] for o in outputs]
    firsts = [int(o["first"]) for o in outputs]
    if len(records) != batches or sum(counts) != args.rows:
        problems.append(f"{len(records)} records holding {sum(counts)} rows")
    if firsts != list(range(0, args.rows, args.batch)):
        problems.append("batches out of order or missing")
    return {
        "batches": len(records),
        "rows_counted": sum(counts),
        "map_run_item_counts": run["itemCounts"],
        "checks": "all passed" if not problems else "; ".join(problems),
    }


if __name__ == "__main__":
    raise SystemExit(main())
