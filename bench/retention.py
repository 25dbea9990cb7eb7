#!/usr/bin/env python3
"""Benchmark: pruning a million history events while executions keep running, and what it costs them.

    python bench/retention.py [--executions 20000] [--events 50] [--rate 4] [--seconds 30] [--json]

On a fresh PostgreSQL database with the migrations applied, one ``orchestrator worker`` (prefork,
concurrency 2) and one ``orchestrator scheduler`` on Redis (database 13; the benchmark's queues are
its own and deleted at the end):

1. **Baseline.** Executions of three Task states (a no-op handler) are started at ``--rate`` per
   second for ``--seconds``; each one's latency is its stop date minus its start date.
2. **Old history.** ``--executions`` SUCCEEDED executions that stopped 100 days ago, with
   ``--events`` history events each (20,000 x 50 = 1,000,000 by default), are inserted with bulk SQL
   (``INSERT ... SELECT generate_series``), then ANALYZEd. The analysts' views are timed on them.
3. **Pruned by a command.** The same load runs while this process prunes everything older than 90
   days batch after batch, as ``orchestrator prune`` does (`runtime.retention.prune_batch`, the
   default batch sizes): the prune rate (events/s), each batch's transaction time (the longest any
   row stays locked), and the latency of the executions that ran meanwhile. Then ``VACUUM (ANALYZE)``
   (timed), so that autovacuum cleaning up after this phase does not weigh on the next.
4. **Pruned by the scheduler.** The old history is inserted again; the load runs once with the
   scheduler restarted and retention off (the control: the same table, no pruning), then the
   scheduler is restarted with the default retention (90 days): the time until it has removed
   everything (one batch per tick), and the latency of the executions that ran meanwhile.

The machine's CPU is split by process (workers, scheduler, postgres, the benchmark, others) for each
phase, since others may share it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.machine

from bench.machine import LoadMeter, Process, distribution_ms, say, wait_for  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_RETENTION_REDIS_URL", "redis://127.0.0.1:6379/13")
ROLE_ARN = "arn:aws:iam::123456789012:role/bench"
NOOP = "arn:aws:lambda:us-east-1:123456789012:function:noop"
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
THREE_TASKS = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Task", "Resource": NOOP, "Next": "B"},
        "B": {"Type": "Task", "Resource": NOOP, "Next": "C"},
        "C": {"Type": "Task", "Resource": NOOP, "End": True},
    },
}
# What an old event's details look like: a state's name and a small input.
DETAILS = json.dumps(
    {
        "name": "Review",
        "input": {"applicant": "A-1042", "amount": 4200, "score": 712},
        "inputDetails": {"truncated": False},
    }
)


@dataclass(frozen=True, slots=True)
class Options:
    executions: int
    events: int
    rate: float
    seconds: float


class Bench:
    """The database, the worker and scheduler processes, and a Service to start executions."""

    def __init__(self, options: Options, tmp: Path, meter: LoadMeter) -> None:
        import psycopg
        from celery import Celery

        from orchestrator import config
        from orchestrator.runtime.app import configure
        from orchestrator.service import Service
        from orchestrator.store.migrate import upgrade

        self.options, self.tmp, self.meter = options, tmp, meter
        self.name = f"orchestrator_bench_retention_{os.getpid()}_{uuid.uuid4().hex[:4]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        meter.own_databases.add(self.name)
        self.dsn = f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.name}"
        self.url = self.dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        upgrade(self.url)
        tag = uuid.uuid4().hex[:8]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATOR_", "BENCH_"))},
            "ORCHESTRATOR_DATABASE_URL": self.url,
            "ORCHESTRATOR_BROKER_URL": REDIS_URL,
            "ORCHESTRATOR_HANDLER_MODULES": "bench.handlers",
            "ORCHESTRATOR_ENGINE_QUEUE": f"bench-retention-{tag}",
            "ORCHESTRATOR_HANDLER_QUEUE": f"bench-retention.handlers-{tag}",
            "ORCHESTRATOR_HOME": str(tmp / "home"),
            "PYTHONPATH": str(ROOT),
        }
        self.settings = config.load(self.env)
        self.app = Celery(f"bench-retention-{tag}")
        configure(self.app, self.settings)
        self.service = Service(self.settings, self.app)
        self.processes: list[Process] = []

    # -- processes ---------------------------------------------------------------------------------

    def start(self, name: str, argv: list[str], category: str, env: dict[str, str] | None = None) -> Process:
        process = Process(name, argv, {**self.env, **(env or {})}, self.tmp / f"{name}-{len(self.processes)}.log")
        self.meter.register(process.pid, category)
        self.processes.append(process)
        return process

    def start_worker(self) -> None:
        argv = [sys.executable, "-m", "orchestrator.cli", "worker", "--concurrency", "2", "--without-mingle",
                "--without-gossip", "--hostname", f"retention-{uuid.uuid4().hex[:4]}@%h"]  # fmt: skip
        worker = self.start("worker", argv, "workers")
        wait_for(lambda: " ready." in worker.output() or not worker.alive(), 120, "the worker to start")

    def start_scheduler(self, retention: str) -> Process:
        argv = [sys.executable, "-m", "orchestrator.cli", "scheduler"]
        return self.start("scheduler", argv, "scheduler", {"ORCHESTRATOR_RETENTION_DAYS": retention})

    def close(self) -> None:
        import psycopg
        import redis

        from orchestrator.store.db import get_engine

        for process in self.processes:
            process.stop(timeout=20)
        broker = redis.Redis.from_url(REDIS_URL)
        for key in broker.scan_iter(match="*bench-retention*"):
            broker.delete(key)
        get_engine(self.url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    # -- SQL -----------------------------------------------------------------------------------------

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def insert_old(self, machine_arn: str) -> float:
        """The old closed executions and their events, in two statements; returns the seconds taken."""
        machine_id, definition_hash = self.query(
            "SELECT id, definition_hash FROM state_machines WHERE arn = %s", [machine_arn]
        )[0]
        n, events = self.options.executions, self.options.events
        began = time.perf_counter()
        self.query(
            "INSERT INTO executions (arn, name, state_machine_id, definition_hash, role_arn, status, input, "
            "output, start_date, stop_date, variables, outer_variables, seq, last_event_id, next_event_id, "
            "state_transitions, redrive_count) "
            "SELECT %(prefix)s || g, 'old-' || g, %(machine)s, %(hash)s, %(role)s, 'SUCCEEDED', '{\"n\": 1}', "
            "'{\"n\": 1}', now() - interval '100 days' - interval '5 minutes', now() - interval '100 days', "
            "'{}', '{}', 1, %(events)s, %(events)s + 1, %(events)s / 2, 0 FROM generate_series(1, %(n)s) g",
            {
                "prefix": f"{machine_arn.replace(':stateMachine:', ':execution:')}:old-{uuid.uuid4().hex[:6]}-",
                "machine": machine_id,
                "hash": definition_hash,
                "role": ROLE_ARN,
                "events": events,
                "n": n,
            },
        )
        self.query(
            "INSERT INTO history_events (execution_id, id, previous_event_id, type, timestamp, details) "
            "SELECT x.id, g, g - 1, CASE WHEN g %% 2 = 1 THEN 'PassStateEntered' ELSE 'PassStateExited' END, "
            "x.start_date + g * interval '1 second', %(details)s "
            "FROM executions x CROSS JOIN generate_series(1, %(events)s) g "
            "WHERE x.name LIKE 'old-%%' AND x.status = 'SUCCEEDED' AND x.stop_date < now() - interval '90 days'",
            {"details": DETAILS, "events": events},
        )
        self.query("ANALYZE executions")
        self.query("ANALYZE history_events")
        return time.perf_counter() - began

    def old_events(self) -> int:
        return int(self.query("SELECT count(*) FROM history_events h JOIN executions x ON x.id = h.execution_id "
                              "WHERE x.name LIKE 'old-%%'")[0][0])  # fmt: skip


# -- the load --------------------------------------------------------------------------------------


class Load:
    """Starts executions at a steady rate on a thread until `stop`; `latencies` once they ended."""

    def __init__(self, bench: Bench, machine: str) -> None:
        self.bench, self.machine = bench, machine
        self.arns: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        gap = 1.0 / self.bench.options.rate
        due = time.monotonic()
        while not self._stop.is_set():
            started = self.bench.service.start_execution(self.machine, input='{"n": 1}')
            self.arns.append(str(started["executionArn"]))
            due += gap
            self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def latencies(self, timeout: float = 300) -> dict[str, Any]:
        def ended() -> list[tuple[Any, ...]] | None:
            rows = self.bench.query(
                "SELECT status, start_date, stop_date FROM executions WHERE arn = ANY(%s)", [self.arns]
            )
            return rows if all(status in TERMINAL for status, _, _ in rows) else None

        rows = wait_for(ended, timeout, "the load's executions to end", poll=0.5)
        failed = sum(1 for status, _, _ in rows if status != "SUCCEEDED")
        ms = [(stop - start) / dt.timedelta(milliseconds=1) for _, start, stop in rows]
        return {"executions": len(rows), "not_succeeded": failed, **distribution_ms(ms)}


def timed_load(bench: Bench, machine: str, during: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``during`` under the load (at least ``--seconds`` of load); its report, the load's and the CPU's."""
    with bench.meter.measure() as cpu:
        with Load(bench, machine) as load:
            began = time.monotonic()
            report = during()
            time.sleep(max(0.0, bench.options.seconds - (time.monotonic() - began)))
        latency = load.latencies()
    return {**report, "latency": latency, "cpu": cpu}


# -- the phases ------------------------------------------------------------------------------------


def prune_in_batches(bench: Bench) -> dict[str, Any]:
    """What ``orchestrator prune --older-than 90d`` does, with each batch's transaction timed."""
    from orchestrator.runtime.retention import prune_batch
    from orchestrator.store.retention import Removed

    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    total, after_id, batches = Removed(), 0, []
    began = time.perf_counter()
    while True:
        start = time.perf_counter()
        removed, batch = prune_batch(bench.settings, cutoff, after_id=after_id)
        batches.append((time.perf_counter() - start) * 1000)
        if not batch.ids:
            break
        total, after_id = total + removed, batch.last_id
    seconds = time.perf_counter() - began
    return {
        "removed": total.to_json(),
        "seconds": round(seconds, 2),
        "events_per_s": round(total.history_events / seconds),
        "executions_per_s": round(total.executions / seconds),
        "batch_ms": distribution_ms(batches[:-1]),
    }


def restart_scheduler(bench: Bench, retention: str) -> None:
    for process in [p for p in bench.processes if p.name == "scheduler"]:
        process.stop(timeout=20)
        bench.processes.remove(process)
    bench.start_scheduler(retention)


def prune_by_scheduler(bench: Bench, before: int) -> dict[str, Any]:
    """Restart the scheduler with the default retention; time until no old event is left."""
    began = time.perf_counter()
    restart_scheduler(bench, "90")
    wait_for(lambda: bench.old_events() == 0, 900, "the scheduler to prune", poll=0.5)
    seconds = time.perf_counter() - began
    return {"events": before, "seconds": round(seconds, 2), "events_per_s": round(before / seconds)}


def views(bench: Bench) -> dict[str, float]:
    """Seconds a count over each view takes on the old history (they read all of it)."""
    timings = {}
    for view in ("execution_summaries", "state_visits"):
        began = time.perf_counter()
        bench.query(f"SELECT count(*) FROM {view}")
        timings[view] = round(time.perf_counter() - began, 2)
    return timings


def run(options: Options) -> dict[str, Any]:
    import psycopg

    meter = LoadMeter(lambda: psycopg.connect(PG_ADMIN, autocommit=True))
    with tempfile.TemporaryDirectory(prefix="bench-retention-") as folder:
        bench = Bench(options, Path(folder), meter)
        try:
            bench.start_scheduler("off")
            bench.start_worker()
            machine = str(
                bench.service.create_state_machine(
                    name="bench-retention", definition=json.dumps(THREE_TASKS), role_arn=ROLE_ARN
                )["stateMachineArn"]
            )
            say("warming up")
            timed_load(bench, machine, lambda: {})
            say(f"baseline: {options.rate}/s for {options.seconds:g} s")
            baseline = timed_load(bench, machine, lambda: {})
            say(f"inserting {options.executions:,} old executions of {options.events} events")
            inserted = bench.insert_old(machine)
            events = bench.old_events()
            say(f"  {events:,} events in {inserted:.1f} s; timing the views")
            view_seconds = views(bench)
            say("pruning in batches under the load")
            by_command = timed_load(bench, machine, lambda: prune_in_batches(bench))
            say("vacuuming what the prune deleted; inserting again")
            began = time.perf_counter()
            bench.query("VACUUM (ANALYZE) history_events, executions")
            vacuumed = time.perf_counter() - began
            bench.insert_old(machine)
            again = bench.old_events()
            say("the same with the scheduler restarted and retention off (the control)")
            control = timed_load(bench, machine, lambda: restart_scheduler(bench, "off") or {})
            say("pruning by the scheduler under the load")
            by_scheduler = timed_load(bench, machine, lambda: prune_by_scheduler(bench, again))
        finally:
            bench.close()
    return {
        "options": dataclasses.asdict(options),
        "old_events": events,
        "insert_seconds": round(inserted, 1),
        "vacuum_seconds": round(vacuumed, 1),
        "views_seconds": view_seconds,
        "baseline": baseline,
        "prune_command": by_command,
        "scheduler_control": control,
        "prune_scheduler": by_scheduler,
    }


def print_report(r: dict[str, Any]) -> None:
    def latency(label: str, phase: dict[str, Any]) -> None:
        lat, cpu = phase["latency"], phase["cpu"]
        print(
            f"  {label:<26} {lat['executions']:>4} executions ({lat['not_succeeded']} not succeeded): "
            f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms; "
            f"machine {cpu.get('busy_percent')}% busy {cpu.get('percent')}"
        )

    command, scheduler = r["prune_command"], r["prune_scheduler"]
    print(f"old history: {r['old_events']:,} events, inserted in {r['insert_seconds']} s")
    print(f"views over it: {r['views_seconds']}")
    print(f"VACUUM (ANALYZE) after the first prune: {r['vacuum_seconds']} s")
    print(
        f"prune (batches in a loop): {command['removed']['historyEvents']:,} events of "
        f"{command['removed']['executions']:,} executions in {command['seconds']} s = {command['events_per_s']:,} "
        f"events/s; batch transaction p50 {command['batch_ms']['p50_ms']:.0f} ms, "
        f"max {command['batch_ms']['max_ms']:.0f} ms"
    )
    print(
        f"prune (the scheduler, one batch per tick): {scheduler['events']:,} events in {scheduler['seconds']} s "
        f"= {scheduler['events_per_s']:,} events/s"
    )
    print("latency of the running executions (three Task states):")
    latency("without pruning", r["baseline"])
    latency("while pruning in a loop", command)
    latency("old history, no pruning", r["scheduler_control"])
    latency("while the scheduler prunes", scheduler)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=20_000, help="old executions (default 20,000)")
    parser.add_argument("--events", type=int, default=50, help="history events each (default 50)")
    parser.add_argument("--rate", type=float, default=4.0, help="executions started per second (default 4)")
    parser.add_argument("--seconds", type=float, default=30.0, help="least seconds of load per phase (default 30)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    options = Options(args.executions, args.events, args.rate, args.seconds)
    report = run(options)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
