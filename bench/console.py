#!/usr/bin/env python3
"""Benchmark: the web console (``orchestrator serve``, ``/console/``) on PostgreSQL holding many executions.

    python bench/console.py                          # 100,000 executions, every part (2 to 5 minutes)
    python bench/console.py --executions 1000000     # the goal's scale (4 to 10 minutes on 2 busy cores)
    python bench/console.py --only list --explain    # the executions list and the plans of its queries
    python bench/console.py --only list,execution --profile    # where the server's time goes
    python bench/console.py --executions 1000000 --keep-db     # keep the filled database ...
    python bench/console.py --executions 1000000 --reuse       # ... and measure it again without refilling
    python bench/console.py --json > report.json && python bench/console.py --report report.json

The parts (``--only``), each with its goal:

    list       GET /console/executions: the first page; the --deep-page'th page, reached by following
               the "Older executions" links from the first; and the filtered first pages ?status=FAILED,
               ?machine=<a machine with 5% of the executions> and ?input=applicant.id+%3D+42.
               Goal: under 100 ms each at 1,000,000 executions. Also GET /console/state-machines
               (the console's home; no goal).
    execution  GET /console/executions/{machine}/{name} of a finished execution with --events history
               events (a Map over ~2,800 items, each a Task and a Pass). Goal: under 300 ms.
    graph      GET /console/state-machines/{name} of a --graph-states-state definition (server time),
               and in Chromium the time until the graph is drawn ([data-graph-canvas][data-ready='true'])
               from the navigation's start, in a fresh browser context (cold) and on reload (warm),
               and viz.js' layout alone (renderSVGElement of the page's DOT). No goal.
    live       an execution waiting on a .waitForTaskToken Task (its handler ran on the worker) is open
               in Chromium; the benchmark answers it (Service.send_task_success: its transaction
               settles the Task and runs the execution's last Pass state, so the execution ends when
               the call returns); the page's #execution-summary shows SUCCEEDED once the Server-Sent
               Events stream (it polls the database every 0.5 s) says "changed" and htmx has fetched
               the page's fragments. Timed from the call's return to the DOM change (a MutationObserver
               in the page, Date.now()), after a random 0.3-0.8 s wait so the answer falls anywhere in
               the poll's period; also from the end's commit (a NOTIFY trigger in the benchmark's
               database). --live-tries tries after one warm-up. Goal: under 1 s (p50 and max
               reported). Then the server time of the two fragments an update fetches.

Server time is the HTTP round trip over loopback (httpx, one kept-alive connection, cookies kept):
--warmup requests, then --samples requests one after the other; median (p50) and p95. The server
is ``orchestrator serve`` (one process) on the benchmark's own database (``BENCH_PG_ADMIN``, default
``postgresql://postgres@127.0.0.1:5432/postgres``; the database ``orchestrator_bench_console_<scale>``
is created, filled and dropped at the end unless --keep-db) with a Redis broker (--redis-url; not
flushed: the queues are the benchmark's own). The ``live`` part starts one worker
(``orchestrator worker --concurrency 1``, handlers from ``bench/handlers.py``) and the scheduler.

How the database is filled: migrations, state machines through ``orchestrator.service.Service``, then
``INSERT ... SELECT ... FROM generate_series`` in batches of 100,000 (foreign-key triggers off for
the session: the values are consistent by construction), every index of the migrations in place.
Executions are spread over the last 30 days in id order (start times jittered by up to a minute),
over 12 state machines (30% to 1% each), 89% SUCCEEDED, 7% FAILED, 2% ABORTED, 1% TIMED_OUT, 1%
RUNNING; inputs like ``{"applicant": {"id": n % 50000, "country": "FR"}, "creditRequested": 4200}``
(so applicant.id 42 matches executions / 50,000 of them). The long execution's events are the events
``orchestrator.run_local`` produced, their times spread over 20 minutes, written with COPY. Then
VACUUM ANALYZE (a table in steady use is vacuumed by autovacuum; an unvacuumed one cannot use
index-only scans).

--explain prints EXPLAIN (ANALYZE, BUFFERS) of every SELECT the list page's work, the execution
page's service call and a live fragment's run (the statements are caught from the service's engine
as they run, with their parameters); the summary names the indexes each plan uses, --show-plans
prints the plans. --profile runs the pages' handlers in this process (the console's
app driven through httpx' ASGI transport, the thread-pool calls made inline so that cProfile sees
them) and lists the functions that take the time. Whatever the flags, the report splits each page's
server work into its service calls, timed in this process on the same database.

Every figure comes with the machine's load over its span (``bench.machine.LoadMeter``): busy % of all
cores and the share of ``others`` (processes that are not the benchmark's: ``server``, ``workers``,
``scheduler``, ``browser``, ``postgres`` and ``bench`` are). On a shared 2-core machine the figures
move with it. bench/CONSOLE.md has the figures and what they mean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import html
import json
import os
import platform
import pstats
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.machine

from bench.machine import LoadMeter, Process, percentile, say, wait_for  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_CONSOLE_REDIS_URL", "redis://127.0.0.1:6379/12")
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/orchestrator-bench"
CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PARTS = ("list", "execution", "graph", "live")
BATCH = 100_000
APPLICANTS = 50_000  # applicant ids repeat: input applicant.id = n % APPLICANTS
NOISY_PERCENT = 10.0
GOALS_MS = {"list": 100.0, "execution": 300.0, "live": 1000.0}
LIST_GOAL_SCALE = 1_000_000

# The state machines the executions belong to: name and share of the executions in percent.
MACHINES = (
    ("credit-application", 30),
    ("order-fulfilment", 18),
    ("invoice-approval", 12),
    ("kyc-check", 9),
    ("card-issuance", 7),
    ("fraud-review", 5),
    ("refund-request", 5),
    ("address-change", 4),
    ("loan-renewal", 4),
    ("account-closure", 3),
    ("limit-increase", 2),
    ("statement-export", 1),
)
FILTER_MACHINE = "fraud-review"  # the ?machine= filter: 5% of the executions
HISTORY_MACHINE = "score-applicants"
GRAPH_MACHINE = "underwriting-200"
LIVE_MACHINE = "manual-approval"
WAIT_FOR_TOKEN = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"  # bench/handlers.py answers it
SCORE_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:score-applicant"

BROWSER_HOOKS = """
(() => {
  const bench = { sseOpen: 0, statusAt: {}, readyAt: null };
  window.__bench = bench;
  const Native = window.EventSource;
  if (Native) {
    window.EventSource = class extends Native {
      constructor(...args) { super(...args); this.addEventListener("open", () => { bench.sseOpen += 1; }); }
    };
  }
  const look = () => {
    if (bench.readyAt === null && document.querySelector("[data-graph-canvas][data-ready='true']")) {
      bench.readyAt = performance.now();
    }
    for (const status of ["RUNNING", "SUCCEEDED", "FAILED"]) {
      if (!(status in bench.statusAt)
          && document.querySelector(`#execution-summary [data-execution-status='${status}']`)) {
        bench.statusAt[status] = Date.now();
      }
    }
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true });
})();
"""


# -- definitions -------------------------------------------------------------------------------------


def business_definition(name: str) -> dict[str, Any]:
    """The definition of the 12 machines whose executions fill the list (never run)."""
    return {
        "Comment": f"{name}: check, decide, record",
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": f"{name}-check", "Payload.$": "$"},
                "ResultSelector": {"score.$": "$.Payload.score"},
                "ResultPath": "$.check",
                "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
                "Next": "Decide",
            },
            "Decide": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.check.score", "NumericGreaterThan": 600, "Next": "Approve"}],
                "Default": "Decline",
            },
            "Approve": {"Type": "Pass", "Result": {"decision": "approved"}, "ResultPath": "$.decision", "End": True},
            "Decline": {"Type": "Fail", "Error": "Credit.Denied", "Cause": "Score too low"},
        },
    }


def history_definition() -> dict[str, Any]:
    """A Map over applicants, each a Task and a Pass: 9 events per item."""
    return {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Next": "Score each"},
            "Score each": {
                "Type": "Map",
                "ItemsPath": "$.applicants",
                "MaxConcurrency": 40,
                "ItemProcessor": {
                    "StartAt": "Score",
                    "States": {
                        "Score": {
                            "Type": "Task",
                            "Resource": SCORE_FUNCTION,
                            "ResultPath": "$.score",
                            "Next": "Record",
                        },
                        "Record": {
                            "Type": "Pass",
                            "Parameters": {"id.$": "$.applicant.id", "score.$": "$.score.value"},
                            "End": True,
                        },
                    },
                },
                "ResultPath": "$.scores",
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def graph_definition(states: int) -> dict[str, Any]:
    """``states`` states (nested ones counted), in stages of 10: a Task with Retry and Catch, a Choice
    with three ways out, a Wait, a Parallel of two branches (a Map in every fourth stage)."""
    stages = max(1, states // 10)
    top: dict[str, Any] = {}
    for i in range(1, stages + 1):
        after = f"Check {i + 1}" if i < stages else None
        top[f"Check {i}"] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": f"check-{i}", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 3}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": f"Handle {i}"}],
            "ResultPath": f"$.check{i}",
            "Next": f"Route {i}",
        }
        top[f"Route {i}"] = {
            "Type": "Choice",
            "Choices": [
                {"Variable": f"$.check{i}.score", "NumericGreaterThan": 700, "Next": f"Approve {i}"},
                {"Variable": f"$.check{i}.score", "NumericLessThan": 300, "Next": f"Decline {i}"},
            ],
            "Default": f"Review {i}",
        }
        top[f"Approve {i}"] = {"Type": "Pass", "Result": "approved", "ResultPath": "$.decision", "Next": f"Record {i}"}
        top[f"Decline {i}"] = {"Type": "Pass", "Result": "declined", "ResultPath": "$.decision", "Next": f"Record {i}"}
        top[f"Review {i}"] = {"Type": "Wait", "Seconds": 60, "Next": f"Record {i}"}
        top[f"Handle {i}"] = {"Type": "Pass", "Result": "error", "ResultPath": "$.decision", "Next": f"Record {i}"}
        inner = {
            f"Audit {i}": {"Type": "Pass", "End": True},
            f"Notify {i}": {"Type": "Pass", "End": True},
        }
        if i % 4 == 0:
            top[f"Record {i}"] = {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": f"Audit {i}",
                    "States": {
                        f"Audit {i}": {"Type": "Pass", "Next": f"Notify {i}"},
                        f"Notify {i}": {"Type": "Pass", "End": True},
                    },
                },
                "ResultPath": None,
                "Next": f"Summarize {i}",
            }
        else:
            top[f"Record {i}"] = {
                "Type": "Parallel",
                "Branches": [{"StartAt": name, "States": {name: state}} for name, state in inner.items()],
                "ResultPath": None,
                "Next": f"Summarize {i}",
            }
        summarize: dict[str, Any] = {"Type": "Pass"}
        summarize.update({"Next": after} if after else {"End": True})
        top[f"Summarize {i}"] = summarize
    return {"Comment": f"{stages * 10} states", "StartAt": "Check 1", "States": top}


def count_states(states: dict[str, Any]) -> int:
    total = 0
    for state in states.values():
        total += 1
        for branch in state.get("Branches", []):
            total += count_states(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            total += count_states(processor["States"])
    return total


def live_definition() -> dict[str, Any]:
    return {
        "StartAt": "Wait for approval",
        "States": {
            "Wait for approval": {
                "Type": "Task",
                "Resource": WAIT_FOR_TOKEN,
                "Parameters": {
                    "QueueUrl": "https://sqs.example/approvals",
                    "MessageBody": {"token.$": "$$.Task.Token"},
                },
                "ResultPath": "$.approval",
                "Next": "Approved",
            },
            "Approved": {"Type": "Pass", "End": True},
        },
    }


# -- the database ------------------------------------------------------------------------------------


def admin() -> Any:
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True)


def database_exists(name: str) -> bool:
    with admin() as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def drop_database(name: str) -> None:
    with admin() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Bench:
    """The database, the service on it, the processes started, and the load meter."""

    def __init__(self, args: argparse.Namespace, logs: Path) -> None:
        import psycopg

        self.args = args
        self.logs = logs
        self.database = args.database or f"orchestrator_bench_console_{args.executions}"
        base = PG_ADMIN.rsplit("/", 1)[0]
        self.libpq_url = f"{base}/{self.database}"
        self.url = self.libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)
        suffix = self.suffix = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "ORCHESTRATOR_DATABASE_URL": self.url,
            "ORCHESTRATOR_BROKER_URL": args.redis_url,
            "ORCHESTRATOR_ENGINE_QUEUE": f"bench-console-{suffix}",
            "ORCHESTRATOR_HANDLER_QUEUE": f"bench-console.handlers-{suffix}",
            "ORCHESTRATOR_HANDLER_MODULES": "bench.handlers",
            "ORCHESTRATOR_REGION": REGION,
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        }
        for key in ("ORCHESTRATOR_API_KEYS", "ORCHESTRATOR_API_KEYS_FILE", "ORCHESTRATOR_CONSOLE_READ_ONLY"):
            self.env.pop(key, None)
        self.reused = False
        if args.reuse and database_exists(self.database):
            self.reused = True
        else:
            drop_database(self.database)
            with admin() as connection:
                connection.execute(f'CREATE DATABASE "{self.database}"')
        self.meter = LoadMeter(lambda: psycopg.connect(self.libpq_url, autocommit=True))
        self.meter.own_databases.add(self.database)
        self.db = psycopg.connect(self.libpq_url, autocommit=True)
        self.processes: list[Process] = []
        self._service: Any = None
        self.statements: Statements | None = None

    @property
    def service(self) -> Any:
        if self._service is None:
            from celery import Celery

            from orchestrator import config
            from orchestrator.runtime.app import configure
            from orchestrator.service import Service

            settings = config.load(self.env)
            self._app = Celery("bench-console")
            configure(self._app, settings)  # publishes to this benchmark's queues on --redis-url
            self._service = Service(settings, self._app)
        return self._service

    def spawn(self, name: str, argv: list[str], category: str) -> Process:
        process = Process(name, argv, self.env, self.logs / f"{name}.log")
        self.meter.register(process.pid, category)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=20)
        with contextlib.suppress(Exception):
            self.db.close()
        if self._service is not None:
            from orchestrator.store.db import get_engine

            with contextlib.suppress(Exception):
                get_engine(self.url).dispose()
                self._app.close()
        with contextlib.suppress(Exception):  # the run's queues and Kombu's bindings, by their unique names
            import redis

            broker = redis.Redis.from_url(self.args.redis_url)
            for key in broker.scan_iter(f"*bench-console*{self.suffix}*"):
                broker.delete(key)
        if self.args.keep_db:
            say(f"kept the database {self.database} (--reuse measures it again)")
        else:
            drop_database(self.database)

    # -- filling ---------------------------------------------------------------------------------

    def machine_rows(self) -> dict[str, tuple[int, str]]:
        rows = self.db.execute("SELECT name, id, definition_hash FROM state_machines").fetchall()
        return {name: (machine_id, digest) for name, machine_id, digest in rows}

    def fill(self) -> dict[str, Any]:
        """Migrations, state machines, executions, the long history; what it cost."""
        from orchestrator.store import migrate

        if self.reused:
            migrate.upgrade(self.url)  # the checkout may have gained a migration since
            count = self.db.execute("SELECT count(*) FROM executions").fetchone()[0]
            say(f"reusing {self.database}: {count:,} executions")
            return {"reused": True, "executions": count}
        started = time.perf_counter()
        migrate.upgrade(self.url)
        service = self.service
        for name, _ in MACHINES:
            service.create_state_machine(name=name, definition=json.dumps(business_definition(name)), role_arn=ROLE_ARN)
        service.create_state_machine(
            name=HISTORY_MACHINE, definition=json.dumps(history_definition()), role_arn=ROLE_ARN
        )
        graph = graph_definition(self.args.graph_states)
        service.create_state_machine(name=GRAPH_MACHINE, definition=json.dumps(graph), role_arn=ROLE_ARN)
        service.create_state_machine(name=LIVE_MACHINE, definition=json.dumps(live_definition()), role_arn=ROLE_ARN)
        machines = self.machine_rows()
        total = self.args.executions
        with self.meter.measure() as load:
            insert_started = time.perf_counter()
            for low in range(1, total + 1, BATCH):
                high = min(total, low + BATCH - 1)
                self.insert_executions(machines, low, high, total)
                rate = high / (time.perf_counter() - insert_started)
                say(f"  executions {high:>9,} of {total:,} ({rate:,.0f}/s)")
            insert_s = time.perf_counter() - insert_started
            history = self.insert_history(machines)
            self.db.execute("SELECT setval('executions_id_seq', (SELECT max(id) FROM executions))")
            vacuum_started = time.perf_counter()
            say("  VACUUM ANALYZE")
            self.db.execute("VACUUM (ANALYZE) executions")
            self.db.execute("VACUUM (ANALYZE) history_events")
            self.db.execute("ANALYZE")
            vacuum_s = time.perf_counter() - vacuum_started
        size = self.db.execute("SELECT pg_total_relation_size('executions')").fetchone()[0]
        return {
            "reused": False,
            "executions": total + 1,
            "graph_states": count_states(graph["States"]),
            "insert_s": round(insert_s, 1),
            "inserted_per_second": round(total / insert_s),
            "vacuum_analyze_s": round(vacuum_s, 1),
            "total_s": round(time.perf_counter() - started, 1),
            "executions_table_mb": round(size / 2**20),
            "history": history,
            "load": load,
        }

    def insert_executions(self, machines: dict[str, tuple[int, str]], low: int, high: int, total: int) -> None:
        slots = []
        for name, share in MACHINES:
            slots += [(name, *machines[name])] * share
        values = ", ".join(
            f"({slot}, {machine_id}, '{name}', '{digest}')" for slot, (name, machine_id, digest) in enumerate(slots)
        )
        assert len(slots) == 100
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        first = now - dt.timedelta(days=30)
        step_ms = 30 * 86_400_000 / total
        sql = f"""
        WITH slots(slot, machine_id, machine_name, definition_hash) AS (VALUES {values}),
        src AS (
            SELECT n,
                   md5(n::text) AS digest,
                   abs(hashint8extended(n, 1)) %% 100 AS slot,
                   abs(hashint8extended(n, 2)) %% 1000 AS roll,
                   abs(hashint8extended(n, 3)) AS h,
                   %(first)s::timestamptz + ((n - 1) * %(step)s + abs(hashint8extended(n, 4)) %% 60000)
                       * interval '1 millisecond' AS start_date
            FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS n
        ),
        rows AS (
            SELECT src.*, slots.machine_id, slots.machine_name, slots.definition_hash,
                   substr(digest, 1, 8) || '-' || substr(digest, 9, 4) || '-4' || substr(digest, 14, 3) || '-a'
                       || substr(digest, 18, 3) || '-' || substr(digest, 21, 12) AS name,
                   CASE WHEN roll < 10 THEN 'RUNNING' WHEN roll < 80 THEN 'FAILED' WHEN roll < 90 THEN 'TIMED_OUT'
                        WHEN roll < 110 THEN 'ABORTED' ELSE 'SUCCEEDED' END AS status
            FROM src JOIN slots USING (slot)
        )
        INSERT INTO executions (
            id, arn, name, state_machine_id, definition_hash, role_arn, history_id, status, input, output,
            error, cause, start_date, stop_date, cursor, variables, outer_variables, seq, last_event_id,
            next_event_id, state_transitions, redrive_count
        )
        SELECT n, 'arn:aws:states:{REGION}:{ACCOUNT}:execution:' || machine_name || ':' || name, name,
               machine_id, definition_hash, '{ROLE_ARN}', n, status,
               jsonb_build_object(
                   'applicant', jsonb_build_object(
                       'id', n %% {APPLICANTS},
                       'country', (ARRAY['FR', 'DE', 'US', 'GB', 'ES', 'IT'])[1 + h %% 6]),
                   'creditRequested', 500 + (h / 7) %% 20000),
               CASE WHEN status = 'SUCCEEDED' THEN jsonb_build_object(
                   'decision', 'approved', 'limit', 1000 + (h / 11) %% 9000, 'score', 600 + (h / 13) %% 250) END,
               CASE status WHEN 'FAILED' THEN (ARRAY['Credit.Denied', 'States.TaskFailed'])[1 + h %% 2]
                           WHEN 'TIMED_OUT' THEN 'States.Timeout' END,
               CASE status WHEN 'FAILED' THEN 'Score too low' WHEN 'TIMED_OUT' THEN 'The execution timed out' END,
               start_date,
               CASE WHEN status <> 'RUNNING' THEN start_date + (200 + h %% 600000) * interval '1 millisecond' END,
               CASE WHEN status = 'RUNNING' THEN '{{"phase": "wait", "state": "Check", "attempts": []}}'::jsonb END,
               '{{}}'::jsonb, '{{}}'::jsonb,
               CASE WHEN status = 'RUNNING' THEN 2 ELSE 5 END,
               CASE WHEN status = 'RUNNING' THEN 5 ELSE 11 END,
               CASE WHEN status = 'RUNNING' THEN 6 ELSE 12 END,
               CASE WHEN status = 'RUNNING' THEN 2 ELSE 4 END,
               0
        FROM rows
        """
        with self.db.transaction():
            self.db.execute("SET LOCAL session_replication_role = replica")  # no FK triggers: values are consistent
            self.db.execute(sql, {"first": first, "step": step_ms, "low": low, "high": high})

    def insert_history(self, machines: dict[str, tuple[int, str]]) -> dict[str, Any]:
        """One finished execution of HISTORY_MACHINE with about --events events, from run_local."""
        from orchestrator import run_local
        from orchestrator.store import encoding

        started = time.perf_counter()
        target = self.args.events
        per_item, fixed = 9, 10
        items = max(1, (target - fixed) // per_item)

        def score(payload: Any, context: Any) -> dict[str, Any]:
            return {"value": 300 + (payload["applicant"]["id"] * 37) % 550, "model": "v7"}

        execution_input = {"batch": "2026-12-06", "applicants": [{"applicant": {"id": i}} for i in range(items)]}
        result = run_local(json.dumps(history_definition()), execution_input, handlers={"score-applicant": score})
        assert result.status == "SUCCEEDED", result
        events = result.events
        span = dt.timedelta(minutes=20)
        begin = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        machine_id, digest = machines[HISTORY_MACHINE]
        name = f"score-{len(events)}"
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{HISTORY_MACHINE}:{name}"
        execution_id = self.args.executions + 1
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO executions (id, arn, name, state_machine_id, definition_hash, role_arn, history_id, "
                "status, input, output, start_date, stop_date, variables, outer_variables, seq, last_event_id, "
                "next_event_id, state_transitions, redrive_count) VALUES (%s, %s, %s, %s, %s, %s, %s, 'SUCCEEDED', "
                "%s::jsonb, %s::jsonb, %s, %s, '{}', '{}', %s, %s, %s, %s, 0)",
                (
                    execution_id, arn, name, machine_id, digest, ROLE_ARN, execution_id,
                    encoding.dumps(execution_input), encoding.dumps(result.output), begin, begin + span,
                    len(events), len(events), len(events) + 1, result.state_transitions,
                ),
            )  # fmt: skip
            copy_sql = "COPY history_events (execution_id, id, previous_event_id, type, timestamp, details) FROM STDIN"
            with self.db.cursor().copy(copy_sql) as copy:
                for event in events:
                    moment = begin + span * (event.id / len(events))
                    details = encoding.dumps(event.details) if event.details is not None else None
                    copy.write_row((execution_id, event.id, event.previous_event_id, event.type, moment, details))
        return {
            "machine": HISTORY_MACHINE,
            "name": name,
            "events": len(events),
            "map_items": items,
            "state_transitions": result.state_transitions,
            "seconds": round(time.perf_counter() - started, 1),
        }


# -- the server and the requests -----------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(bench: Bench) -> str:
    import httpx

    port = free_port()
    argv = [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(port)]
    process = bench.spawn("serve", argv, "server")
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if not process.alive():
            raise RuntimeError(f"orchestrator serve exited:\n{process.output()[-3000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code in (200, 503)
        except httpx.TransportError:
            return False

    wait_for(up, 60, "orchestrator serve", poll=0.1)
    return url


def timed_gets(client: Any, path: str, samples: int, warmup: int) -> dict[str, Any]:
    """``warmup`` requests, then ``samples`` timed ones: p50 and p95 of the round trip."""
    size = 0
    for _ in range(warmup):
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}\n{response.text[:2000]}")
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get(path)
        times.append(1000 * (time.perf_counter() - started))
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}\n{response.text[:2000]}")
        size = len(response.content)
    return {
        "path": path,
        "samples": samples,
        "p50_ms": round(percentile(times, 0.50), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
        "bytes": size,
    }


OLDER = re.compile(r'<a href="(/console/executions\?[^"]*page=[^"]+)">Older executions</a>')
ROW = re.compile(r'href="/console/executions/[^"/]+/[^"/]+"')


def older_link(page_html: str) -> str | None:
    found = OLDER.search(page_html)
    return html.unescape(found.group(1)) if found else None


# -- statement capture and plans -------------------------------------------------------------------------


class Statements:
    """Catches the SQL statements the service's engine runs (with parameters) while ``on``."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import event

        from orchestrator.store.db import get_engine

        self.engine = get_engine(url)
        self.caught: list[tuple[str, Any]] = []
        self.active = False
        event.listen(self.engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if self.active:
            self.caught.append((statement, parameters))

    @contextlib.contextmanager
    def on(self) -> Iterator[list[tuple[str, Any]]]:
        self.caught = []
        self.active = True
        try:
            yield self.caught
        finally:
            self.active = False

    def explain(self, statement: str, parameters: Any) -> str:
        with self.engine.connect() as connection:
            rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).fetchall()
            connection.rollback()
        return "\n".join(row[0] for row in rows)


INDEX_USE = re.compile(r"(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)")
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
EXECUTION_TIME = re.compile(r"Execution Time: ([\d.]+) ms")
ROWS_REMOVED = re.compile(r"Rows Removed by Filter: (\d+)")


def plan_summary(plan: str) -> dict[str, Any]:
    timed = EXECUTION_TIME.search(plan)
    return {
        "indexes": sorted(set(INDEX_USE.findall(plan))),
        "seq_scans": sorted(set(SEQ_SCAN.findall(plan))),
        "rows_removed_by_filter": sum(int(n) for n in ROWS_REMOVED.findall(plan)),
        "execution_ms": float(timed.group(1)) if timed else None,
    }


def short_sql(statement: str) -> str:
    text = " ".join(statement.split())
    text = re.sub(r"SELECT executions\.id, .*? FROM", "SELECT executions.* ... FROM", text)
    return text if len(text) < 220 else text[:217] + "..."


# -- parts -------------------------------------------------------------------------------------------


def list_part(bench: Bench, client: Any, statements: Statements | None) -> dict[str, Any]:
    from orchestrator.service.browse import parse_input_query
    from orchestrator.store.browse import ExecutionSearch

    args = bench.args
    service = bench.service
    out: dict[str, Any] = {"pages": {}, "breakdown": {}, "plans": []}

    # the deep page: follow "Older executions" from the first page
    with bench.meter.measure() as walk_load:
        path: str | None = "/console/executions"
        walk_times = []
        for _ in range(args.deep_page - 1):
            assert path is not None
            started = time.perf_counter()
            response = client.get(path)
            walk_times.append(1000 * (time.perf_counter() - started))
            path = older_link(response.text)
            if path is None:
                raise RuntimeError(f"no 'Older executions' link after {len(walk_times)} pages")
    deep_path = path
    out["walk"] = {
        "pages": len(walk_times),
        "p50_ms": round(percentile(walk_times, 0.5), 1),
        "max_ms": round(max(walk_times), 1),
        "load": walk_load,
    }
    pages = {
        "first": "/console/executions",
        f"page {args.deep_page}": deep_path,
        "status=FAILED": "/console/executions?status=FAILED",
        f"machine={FILTER_MACHINE}": f"/console/executions?machine={FILTER_MACHINE}",
        "input=applicant.id = 42": "/console/executions?" + urlencode({"input": "applicant.id = 42"}),
        "state machines page (the console's home; no goal)": "/console/state-machines",
    }
    for label, path in pages.items():
        with bench.meter.measure() as load:
            figures = timed_gets(client, path, args.samples, args.warmup)
        shown = len(ROW.findall(client.get(path).text)) if "/executions" in path else 0
        figures.update({"rows_shown": shown, "load": load})
        out["pages"][label] = figures
        say(f"  list {label:<28} p50 {figures['p50_ms']:>7.1f} ms  p95 {figures['p95_ms']:>7.1f} ms  {shown} rows")

    # the same work, call by call, in this process
    machine_id = service.machine_id(FILTER_MACHINE)
    token = re.search(r"page=([^&]+)", deep_path or "")
    searches: dict[str, tuple[Any, str | None]] = {
        "first": (ExecutionSearch(), None),
        f"page {args.deep_page}": (ExecutionSearch(), token.group(1) if token else None),
        "status=FAILED": (ExecutionSearch(statuses=("FAILED",)), None),
        f"machine={FILTER_MACHINE}": (ExecutionSearch(machine_id=machine_id), None),
        "input=applicant.id = 42": (ExecutionSearch(input_matches=parse_input_query("applicant.id = 42")), None),
    }
    from urllib.parse import unquote

    calls: dict[str, Callable[[], Any]] = {}
    for label, (search, page_token) in searches.items():
        page_token = unquote(page_token) if page_token else None
        calls[f"search_executions [{label}]"] = lambda s=search, t=page_token: service.search_executions(
            s, page_token=t, limit=50
        )
    if hasattr(service, "machine_names"):  # since 334bdc1 the list asks for the names only
        calls["machine_names (every list page)"] = service.machine_names
        calls["machines_overview (the state machines page)"] = service.machines_overview
    else:
        calls["machines_overview (every list page)"] = service.machines_overview
    calls["open_task_count (every page)"] = service.open_task_count
    calls["machine_id (?machine=)"] = lambda: service.machine_id(FILTER_MACHINE)
    out["breakdown"] = time_calls(calls, args.samples)
    out["plans"] = explain_calls(statements, calls)
    return out


def explain_calls(statements: Statements | None, calls: dict[str, Callable[[], Any]]) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) of every SELECT each call runs (none without --explain)."""
    plans: list[dict[str, Any]] = []
    if statements is None:
        return plans
    for label, call in calls.items():
        with statements.on() as caught:
            call()
        for statement, parameters in caught:
            if statement.lstrip().upper().startswith("SELECT"):
                plan = statements.explain(statement, parameters)
                plans.append({"call": label, "sql": short_sql(statement), "plan": plan, **plan_summary(plan)})
    return plans


def time_calls(calls: dict[str, Callable[[], Any]], samples: int) -> dict[str, Any]:
    out = {}
    for label, call in calls.items():
        call()
        times = []
        for _ in range(max(5, samples // 2)):
            started = time.perf_counter()
            call()
            times.append(1000 * (time.perf_counter() - started))
        out[label] = {"p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2)}
    return out


def execution_part(bench: Bench, client: Any, statements: Statements | None, history: dict[str, Any]) -> dict[str, Any]:
    from orchestrator.console import app as console_app
    from orchestrator.console import pages, readings

    service = bench.service
    path = f"/console/executions/{quote(history['machine'], safe='')}/{quote(history['name'], safe='')}"
    with bench.meter.measure() as load:
        # The server was just started: its first view reads the whole history; later views of the
        # unchanged execution use the reading the server keeps (console/readings.py).
        started = time.perf_counter()
        first = client.get(path)
        first_ms = 1000 * (time.perf_counter() - started)
        if first.status_code != 200:
            raise RuntimeError(f"GET {path}: {first.status_code}\n{first.text[:2000]}")
        figures = timed_gets(client, path, bench.args.samples, bench.args.warmup)
    figures["load"] = load
    figures["first_view_ms"] = round(first_ms, 1)
    figures["events"] = history["events"]
    say(
        f"  execution page ({history['events']:,} events) first view {first_ms:.1f} ms, then "
        f"p50 {figures['p50_ms']:.1f} ms  p95 {figures['p95_ms']:.1f} ms"
    )
    others = {
        "the table's 12th page of steps": f"{path}?steps_page=12",
        "the events' 60th page, newest first": f"{path}?events_page=60&order=desc",
        "one type of event, page 5": f"{path}?event_type=MapIterationSucceeded&events_page=5",
        "one Map iteration's view (lane)": f"{path}?lane={quote('Score each#1500', safe='')}",
        "a step's panel (?fragment=step, a Task deep in the Map)": f"{path}?fragment=step&step=4000",
        "the live fragment (?fragment=live)": f"{path}?fragment=live",
    }
    with bench.meter.measure() as others_load:
        figures["other_views"] = {
            label: timed_gets(client, other, max(5, bench.args.samples // 2), 1) for label, other in others.items()
        }
    figures["other_views_load"] = others_load
    arn = service.execution_arn(history["machine"], history["name"])
    outline = service.execution_outline(arn)
    last = outline["lastEventId"]
    events = service.history_to_read(arn, up_to=last)
    reading = readings.read(events)
    execution_id = bench.db.execute("SELECT id FROM executions WHERE arn = %s", (arn,)).fetchone()[0]
    select = "SELECT execution_id, id, previous_event_id, type, timestamp, {} FROM history_events "
    select += "WHERE execution_id = %s AND id > 0 ORDER BY id LIMIT 25000"
    console = console_app.Console(service)
    page = pages.Pages(console)
    template = console.templates.get_template("execution.html")
    context = page._execution_context(arn, outline, reading, {})

    def render() -> str:
        return template.render(
            request=None, session=None, csrf="", read_only=False, signed_in=False, waiting_count=0, **context
        )

    def paused(call: Callable[[], Any]) -> Any:
        with readings.collector_paused():
            return call()

    calls = {
        "execution_outline (DescribeExecution, Map Runs, parent, children: every view)": lambda: (
            service.execution_outline(arn)
        ),
        "a first view's reading (done once per server and change of the history):": lambda: readings.Readings(
            kept=0
        ).get(arn, last, lambda: service.history_to_read(arn, up_to=last)),
        "  history_to_read: every event, payloads parsed (garbage collector paused)": lambda: paused(
            lambda: service.history_to_read(arn, up_to=last)
        ),
        "  the same with the garbage collector on": lambda: service.history_to_read(arn, up_to=last),
        "  its SELECT alone, details as text": lambda: bench.db.execute(
            select.format("details::text"), (execution_id,)
        ).fetchall(),
        "  readings.read: progress over the whole history (steps, failure, iterations)": lambda: paused(
            lambda: readings.read(events)
        ),
        "Pages._execution_context with the reading kept (one page of 250 events read)": lambda: page._execution_context(
            arn, outline, reading, {}
        ),
        "  history_page: 250 events as GetExecutionHistory's": lambda: service.history_page(arn, limit=250),
        "execution.html rendered (Jinja)": render,
        "open_task_count (every page)": service.open_task_count,
        "execution_whole (the export's call: every event as GetExecutionHistory's; not on the page)": lambda: (
            service.execution_whole(arn)
        ),
    }
    figures["breakdown"] = time_calls(calls, min(bench.args.samples, 10))
    figures["steps"] = len(reading.steps)
    figures["html_bytes"] = len(render().encode())
    figures["plans"] = explain_calls(
        statements,
        {
            "execution_outline": lambda: service.execution_outline(arn),
            "history_to_read": lambda: service.history_to_read(arn, up_to=last),
            "history_page": lambda: service.history_page(arn, limit=250),
        },
    )
    return figures


def graph_part(bench: Bench, client: Any, browser: Any, base_url: str) -> dict[str, Any]:
    path = f"/console/state-machines/{GRAPH_MACHINE}"
    with bench.meter.measure() as load:
        server = timed_gets(client, path, bench.args.samples, bench.args.warmup)
    server["load"] = load
    say(f"  state machine page ({bench.args.graph_states} states) p50 {server['p50_ms']:.1f} ms")
    cold, warm, layout, navigation = [], [], [], []
    with bench.meter.measure() as browser_load:
        for _ in range(bench.args.graph_loads):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(BROWSER_HOOKS)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            for store in (cold, warm):
                if store is cold:
                    page.goto(base_url + path)
                else:
                    page.reload()
                page.wait_for_selector("[data-graph-canvas][data-ready='true']", timeout=60_000)
                page.wait_for_function("() => window.__bench.readyAt !== null", timeout=10_000)
                store.append(page.evaluate("window.__bench.readyAt"))
                navigation.append(
                    page.evaluate(
                        "(() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return {response_end: n.responseEnd, dom_content_loaded: n.domContentLoadedEventEnd}; })()"
                    )
                )
            layout += page.evaluate(
                """async () => {
                    const dot = JSON.parse(document.getElementById("graph-data").textContent).dot;
                    const viz = await Viz.instance();
                    const times = [];
                    for (let i = 0; i < 3; i++) {
                        const t = performance.now(); viz.renderSVGElement(dot); times.push(performance.now() - t);
                    }
                    return times;
                }"""
            )
            if errors:
                raise RuntimeError(f"script errors on the state machine page: {errors}")
            context.close()
    nodes = bench.service.describe_state_machine(bench.service.state_machine_arn(GRAPH_MACHINE))
    states = count_states(json.loads(nodes["definition"])["States"])
    browser_figures = {
        "loads": bench.args.graph_loads,
        "ready_cold_p50_ms": round(percentile(cold, 0.5), 1),
        "ready_cold_max_ms": round(max(cold), 1),
        "ready_warm_p50_ms": round(percentile(warm, 0.5), 1),
        "ready_warm_max_ms": round(max(warm), 1),
        "dom_content_loaded_p50_ms": round(percentile([n["dom_content_loaded"] for n in navigation], 0.5), 1),
        "layout_p50_ms": round(percentile(layout, 0.5), 1),
        "layout_max_ms": round(max(layout), 1),
        "load": browser_load,
    }
    say(
        f"  graph in Chromium: ready {browser_figures['ready_cold_p50_ms']:.0f} ms cold, "
        f"{browser_figures['ready_warm_p50_ms']:.0f} ms warm; viz layout {browser_figures['layout_p50_ms']:.0f} ms"
    )
    return {"states": states, "server": server, "browser": browser_figures}


class EndListener:
    """Commit times of executions leaving RUNNING: a trigger sends NOTIFY, delivered at commit."""

    def __init__(self, bench: Bench) -> None:
        import psycopg

        bench.db.execute(
            """
            CREATE OR REPLACE FUNCTION bench_console_ended() RETURNS trigger AS $$
            BEGIN
                IF OLD.status = 'RUNNING' AND NEW.status <> 'RUNNING' AND NEW.root_id IS NULL THEN
                    PERFORM pg_notify('bench_console_ended', NEW.arn);
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS bench_console_ended ON executions;
            CREATE TRIGGER bench_console_ended AFTER UPDATE OF status ON executions
                FOR EACH ROW EXECUTE FUNCTION bench_console_ended();
            """
        )
        self.bench = bench
        self.connection = psycopg.connect(bench.libpq_url, autocommit=True)
        self.connection.execute("LISTEN bench_console_ended")
        self.seen: dict[str, float] = {}
        self.stopping = False
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while not self.stopping:
            for note in self.connection.notifies(timeout=0.5):
                self.seen[note.payload] = time.time()

    def close(self) -> None:
        self.stopping = True
        self.thread.join(timeout=5)
        self.connection.close()
        with contextlib.suppress(Exception):
            self.bench.db.execute("DROP TRIGGER IF EXISTS bench_console_ended ON executions")


def live_part(bench: Bench, client: Any, browser: Any, base_url: str) -> dict[str, Any]:
    service = bench.service
    argv = [
        sys.executable, "-m", "orchestrator.cli", "worker", "--concurrency", "1", "--pool", "prefork",
        "--without-mingle", "--without-gossip", "--hostname", f"benchconsole-{uuid.uuid4().hex[:4]}@%h",
    ]  # fmt: skip
    worker = bench.spawn("worker", argv, "workers")
    bench.spawn("scheduler", [sys.executable, "-m", "orchestrator.cli", "scheduler"], "scheduler")
    wait_for(lambda: "ready" in worker.output() or not worker.alive(), 90, "the worker")
    if not worker.alive():
        raise RuntimeError(f"the worker exited:\n{worker.output()[-3000:]}")
    listener = EndListener(bench)
    machine_arn = service.state_machine_arn(LIVE_MACHINE)
    tries = []
    rng = random.Random(7)
    try:
        with bench.meter.measure() as load:
            for index in range(bench.args.live_tries + 1):  # the first is a warm-up
                name = f"live-{index}-{uuid.uuid4().hex[:6]}"
                arn = service.start_execution(machine_arn, name=name, input='{"applicant": {"id": 42}}')["executionArn"]
                token = wait_for(
                    lambda arn=arn: next(
                        (t["token"] for t in service.pending_tokens() if t["executionArn"] == arn), None
                    ),
                    30,
                    "the execution to wait for its token",
                )
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.add_init_script(BROWSER_HOOKS)
                page = context.new_page()
                page.goto(f"{base_url}/console/executions/{LIVE_MACHINE}/{name}")
                page.wait_for_selector("[data-graph-canvas][data-ready='true']", timeout=60_000)
                page.wait_for_function("() => window.__bench.sseOpen > 0 && 'RUNNING' in window.__bench.statusAt")
                time.sleep(0.3 + rng.uniform(0, 0.5))  # a random phase against the stream's 0.5 s poll
                before = time.time()
                service.send_task_success(token, '{"approved": true, "by": "bench"}')
                sent = time.time()
                page.wait_for_function("() => 'SUCCEEDED' in window.__bench.statusAt", timeout=15_000)
                shown = page.evaluate("window.__bench.statusAt.SUCCEEDED") / 1000
                ended = wait_for(lambda arn=arn: listener.seen.get(arn), 10, "the end's notification")
                context.close()
                if index == 0:
                    continue
                tries.append(
                    {
                        "send_call_ms": round(1000 * (sent - before), 1),
                        "from_send_ms": round(1000 * (shown - sent), 1),
                        "end_after_send_ms": round(1000 * (ended - sent), 1),
                        "from_end_commit_ms": round(1000 * (shown - ended), 1),
                    }
                )
                say(
                    f"  live try {index}: shown {tries[-1]['from_send_ms']:.0f} ms after SendTaskSuccess "
                    f"({tries[-1]['from_end_commit_ms']:.0f} ms after the execution's end committed)"
                )
    finally:
        listener.close()
    from_send = [t["from_send_ms"] for t in tries]
    from_end = [t["from_end_commit_ms"] for t in tries]
    end_after_send = [t["end_after_send_ms"] for t in tries]
    # What one update costs the server: the stream's "changed" makes htmx fetch two fragments.
    base = f"/console/executions/{LIVE_MACHINE}/{quote(name, safe='')}"
    fragments = {}
    with bench.meter.measure() as fragment_load:
        for fragment in ("summary", "live"):
            fragments[fragment] = timed_gets(client, f"{base}?fragment={fragment}", bench.args.samples, 2)
    fragments["load"] = fragment_load
    say(
        f"  an update's fragments: summary p50 {fragments['summary']['p50_ms']} ms, "
        f"live p50 {fragments['live']['p50_ms']} ms"
    )
    statements = bench.statements
    fragment_arn = service.execution_arn(LIVE_MACHINE, name)
    plans = explain_calls(
        statements, {"execution_whole (live fragment)": lambda: service.execution_whole(fragment_arn)}
    )
    return {
        "fragments": fragments,
        "plans": plans,
        "tries": tries,
        "p50_ms": round(percentile(from_send, 0.5), 1),
        "max_ms": round(max(from_send), 1),
        "min_ms": round(min(from_send), 1),
        "from_end_commit_p50_ms": round(percentile(from_end, 0.5), 1),
        "from_end_commit_max_ms": round(max(from_end), 1),
        "end_after_send_p50_ms": round(percentile(end_after_send, 0.5), 1),
        "load": load,
    }


# -- profiles ------------------------------------------------------------------------------------------


def profile_pages(bench: Bench, paths: dict[str, str], top: int, runs: int) -> dict[str, Any]:
    """cProfile of the console's handlers in this process: the app driven through httpx' ASGI transport,
    ``run_in_threadpool`` made inline (in the console's modules only) so that one thread does all."""
    import httpx

    from orchestrator.api.app import create_app
    from orchestrator.console import app as console_app
    from orchestrator.console import pages

    async def inline(function: Any, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    saved = (pages.run_in_threadpool, console_app.run_in_threadpool)
    pages.run_in_threadpool = inline  # type: ignore[assignment]
    console_app.run_in_threadpool = inline  # type: ignore[assignment]
    out: dict[str, Any] = {}
    try:
        app = create_app(bench.service)  # the console mounted at /console, as served
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))

        async def fetch(client: Any, path: str) -> None:
            response = await client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code}")

        async def profile(path: str) -> tuple[pstats.Stats, float]:
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                await fetch(client, path)
                profiler = cProfile.Profile()
                started = time.perf_counter()
                profiler.enable()
                for _ in range(runs):
                    await fetch(client, path)
                profiler.disable()
                return pstats.Stats(profiler), (time.perf_counter() - started) / runs

        for label, path in paths.items():
            stats, seconds = asyncio.run(profile(path))
            out[label] = {
                "path": path,
                "ms_per_request_profiled": round(1000 * seconds, 1),
                **top_functions(stats, top),
            }
    finally:
        pages.run_in_threadpool, console_app.run_in_threadpool = saved  # type: ignore[assignment]
    return out


def top_functions(stats: pstats.Stats, top: int) -> dict[str, Any]:
    entries = stats.stats  # type: ignore[attr-defined]
    total = max(sum(entry[2] for entry in entries.values()), 1e-9)

    def name(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        short = filename.replace(str(ROOT) + "/", "")
        short = re.sub(r".*/site-packages/", "", short)
        return f"{short}:{line}({function})"

    rows = [(name(key), entry[1], entry[2], entry[3]) for key, entry in entries.items()]
    # the cumulative listing leaves out the layers every request goes through (the client, Starlette)
    plumbing = ("httpx/", "starlette/", "anyio/", "asyncio/", "bench/console.py", "pages.py:31(call)")
    cumulative = sorted((r for r in rows if not any(p in r[0] for p in plumbing)), key=lambda r: r[3], reverse=True)
    cumulative = cumulative[:top]
    own = sorted(rows, key=lambda r: r[2], reverse=True)[:top]
    return {
        "total_s": round(total, 3),
        "cumulative": [{"function": r[0], "calls": r[1], "percent": round(100 * r[3] / total, 1)} for r in cumulative],
        "own": [{"function": r[0], "calls": r[1], "percent": round(100 * r[2] / total, 1)} for r in own],
    }


# -- the report ----------------------------------------------------------------------------------------


def load_text(load: dict[str, Any]) -> str:
    if not load:
        return "-"
    percent = load.get("percent", {})
    return f"{load.get('busy_percent', 0):.0f}% busy, others {percent.get('others', 0):.0f}%"


def print_report(report: dict[str, Any]) -> None:
    scale = report["settings"]["executions"]
    fill = report.get("fill", {})
    print(
        f"\nconsole benchmark: {scale:,} executions in PostgreSQL (+1 with "
        f"{fill.get('history', {}).get('events', '?')} events); commit {report['commit']}; "
        f"{report['machine']['cpus']} CPUs"
    )
    if fill and not fill.get("reused"):
        print(
            f"fill: {fill['insert_s']} s for the executions ({fill['inserted_per_second']:,}/s), VACUUM ANALYZE "
            f"{fill['vacuum_analyze_s']} s, {fill['total_s']} s in all; "
            f"executions table {fill['executions_table_mb']} MB"
        )
    header = f"{'figure':<52} {'p50':>9} {'p95/max':>9} {'goal':>10}  {'met':<4} load"
    print("\n" + header)
    print("-" * len(header))
    for row in report["table"]:
        print(f"{row['figure']:<52} {row['p50']:>9} {row['p95']:>9} {row['goal']:>10}  {row['met']:<4} {row['load']}")
    print("  server times: HTTP round trip over loopback with httpx, after warm-up; ms")
    parts = report["parts"]
    if "list" in parts:
        print("\nthe executions list's work, call by call (this process, same database; ms):")
        for label, figures in parts["list"]["breakdown"].items():
            print(f"  {figures['p50_ms']:>8.2f} p50 {figures['p95_ms']:>8.2f} p95  {label}")
        print_plans("the list's statements", parts["list"]["plans"], report)
    if "execution" in parts:
        execution = parts["execution"]
        print(
            f"\nthe execution page's work, call by call (this process; ms); {execution.get('steps', '?'):,} steps, "
            f"{execution.get('html_bytes', 0) / 2**20:.1f} MB of HTML:"
        )
        for label, figures in execution["breakdown"].items():
            print(f"  {figures['p50_ms']:>8.2f} p50 {figures['p95_ms']:>8.2f} p95  {label}")
        print_plans("the execution page's statements", execution.get("plans", []), report)
    if "live" in parts:
        live = parts["live"]
        print(
            f"\nlive: SendTaskSuccess returns; the execution's end commits (p50 "
            f"{live.get('end_after_send_p50_ms', live.get('worker_p50_ms'))} ms later) -> the stream "
            f"sees it -> htmx shows it: from the end's commit p50 {live['from_end_commit_p50_ms']} ms, "
            f"max {live['from_end_commit_max_ms']} ms"
        )
        fragments = live.get("fragments")
        if fragments:
            print(
                f"  each update fetches two fragments of the page: ?fragment=summary p50 "
                f"{fragments['summary']['p50_ms']} ms (p95 {fragments['summary']['p95_ms']}), ?fragment=live p50 "
                f"{fragments['live']['p50_ms']} ms (p95 {fragments['live']['p95_ms']}); {load_text(fragments['load'])}"
            )
        print_plans("a live fragment's statements", live.get("plans", []), report)
    for label, profile in report.get("profiles", {}).items():
        print(f"\ncProfile of {label} ({profile['path']}, {profile['ms_per_request_profiled']} ms/request profiled):")
        print("  by cumulative time:")
        for row in profile["cumulative"]:
            print(f"    {row['percent']:>5.1f}%  {row['calls']:>8}  {row['function']}")
        print("  by own time:")
        for row in profile["own"]:
            print(f"    {row['percent']:>5.1f}%  {row['calls']:>8}  {row['function']}")
    before = report["machine_before"]
    print(
        f"\nmachine before starting: {before.get('busy_percent')}% busy (load average {before.get('loadavg_1m')}); "
        f"during the whole run: {load_text(report['load'])} (load average {report['load'].get('loadavg_1m')})"
    )
    noisy = [row for row in report["table"] if row.get("others_percent", 0) > NOISY_PERCENT]
    if noisy:
        print(
            f"warning: other processes used more than {NOISY_PERCENT:.0f}% of the CPU during {len(noisy)} figures: "
            "the times are longer than on a quiet machine"
        )


def print_plans(title: str, plans: list[dict[str, Any]], report: dict[str, Any]) -> None:
    if not plans:
        return
    print(f"\nplans (EXPLAIN ANALYZE) of {title}:")
    for plan in plans:
        print(
            f"  [{plan['call']}] {plan['execution_ms']} ms; indexes: {', '.join(plan['indexes']) or '-'}; "
            f"seq scans: {', '.join(plan['seq_scans']) or '-'}; rows removed by filter: "
            f"{plan['rows_removed_by_filter']:,}\n    {plan['sql']}"
        )
    if report["settings"]["show_plans"]:
        for plan in plans:
            print(f"\n-- {plan['call']}\n{plan['plan']}")


def table(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    scale = report["settings"]["executions"]
    parts = report["parts"]

    def add(figure: str, p50: float, p95: float, goal: float | None, load: dict[str, Any], judged: bool = True) -> None:
        met = "-" if goal is None or not judged else ("yes" if p95 < goal else ("p50" if p50 < goal else "no"))
        rows.append(
            {
                "figure": figure,
                "p50": f"{p50:.1f}",
                "p95": f"{p95:.1f}",
                "goal": f"< {goal:.0f} ms" if goal else "-",
                "met": met,
                "load": load_text(load),
                "others_percent": load.get("percent", {}).get("others", 0),
            }
        )

    if "list" in parts:
        for label, figures in parts["list"]["pages"].items():
            home = figures["path"] == "/console/state-machines"
            add(
                label if home else f"executions list, {label}",
                figures["p50_ms"],
                figures["p95_ms"],
                None if home else GOALS_MS["list"],
                figures["load"],
                judged=scale >= LIST_GOAL_SCALE,
            )
    if "execution" in parts:
        figures = parts["execution"]
        add(
            f"execution page, {figures['events']:,} events",
            figures["p50_ms"],
            figures["p95_ms"],
            300.0,
            figures["load"],
        )
        if "first_view_ms" in figures:
            first = figures["first_view_ms"]
            add("  its first view (the server reads the history; 1 request)", first, first, None, figures["load"])
        for label, other in figures.get("other_views", {}).items():
            add(f"  {label}", other["p50_ms"], other["p95_ms"], 300.0, figures["other_views_load"])
    if "graph" in parts:
        graph = parts["graph"]
        server, browser = graph["server"], graph["browser"]
        add(
            f"state machine page, {graph['states']} states (server)",
            server["p50_ms"],
            server["p95_ms"],
            None,
            server["load"],
        )
        add(
            "  graph drawn in Chromium, cold context (p50/max)",
            browser["ready_cold_p50_ms"],
            browser["ready_cold_max_ms"],
            None,
            browser["load"],
        )
        add(
            "  graph drawn in Chromium, reload (p50/max)",
            browser["ready_warm_p50_ms"],
            browser["ready_warm_max_ms"],
            None,
            browser["load"],
        )
        add(
            "  viz.js layout alone (p50/max)", browser["layout_p50_ms"], browser["layout_max_ms"], None, browser["load"]
        )
    if "live" in parts:
        live = parts["live"]
        add(
            f"live update, SendTaskSuccess -> shown (p50/max of {len(live['tries'])})",
            live["p50_ms"],
            live["max_ms"],
            1000.0,
            live["load"],
        )
    return rows


# -- main -------------------------------------------------------------------------------------------------


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "orchestrator"], cwd=ROOT, capture_output=True, text=True
        )
        changed = len([line for line in dirty.stdout.splitlines() if line.strip()])
        return head.stdout.strip() + (f" (+{changed} uncommitted files under orchestrator/)" if changed else "")
    except OSError:
        return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/console.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=100_000, help="executions in the database (default 100,000)")
    parser.add_argument("--events", type=int, default=25_000, help="events of the long execution (default 25,000)")
    parser.add_argument("--graph-states", type=int, default=200, help="states of the graph's definition (default 200)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)} (default all)")
    parser.add_argument("--samples", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="requests per page before timing (default 3)")
    parser.add_argument("--deep-page", type=int, default=200, help="the deep page of the list (default 200)")
    parser.add_argument("--graph-loads", type=int, default=5, help="browser contexts loading the graph (default 5)")
    parser.add_argument("--live-tries", type=int, default=10, help="live-update tries, after one warm-up (default 10)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the list's statements")
    parser.add_argument("--show-plans", action="store_true", help="print the plans in full (implies --explain)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the list and execution pages' handlers")
    parser.add_argument("--profile-runs", type=int, default=3, help="requests per profiled page (default 3)")
    parser.add_argument("--profile-top", type=int, default=20, help="functions listed per profile (default 20)")
    parser.add_argument("--redis-url", default=REDIS_URL, help=f"the broker (default {REDIS_URL}; not flushed)")
    parser.add_argument("--database", help="database name (default orchestrator_bench_console_<executions>)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--reuse", action="store_true", help="measure a database kept by --keep-db without refilling")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--report", metavar="FILE", help="print the tables of a report saved with --json; run nothing")
    args = parser.parse_args(argv)
    args.only = [p for p in args.only.split(",") if p]
    for part in args.only:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}")
    args.explain = args.explain or args.show_plans
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-console-") as scratch:
        bench = Bench(args, Path(scratch))
        report: dict[str, Any] = {
            "commit": commit(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "settings": {
                **{k: getattr(args, k) for k in ("executions", "events", "graph_states", "only", "samples", "warmup")},
                **{k: getattr(args, k) for k in ("deep_page", "graph_loads", "live_tries")},
                "show_plans": args.show_plans,
            },
            "database": bench.database,
            "parts": {},
        }
        try:
            with bench.meter.measure() as before:
                time.sleep(2.0)
            report["machine_before"] = before
            say(f"machine before starting: {before.get('busy_percent')}% busy, load average {before['loadavg_1m']}")
            with bench.meter.measure() as whole:
                say(f"filling {bench.database} with {args.executions:,} executions")
                report["fill"] = bench.fill()
                history = report["fill"].get("history") or reused_history(bench)
                report["fill"]["history"] = history
                statements = Statements(bench.url) if args.explain else None
                bench.statements = statements
                url = start_server(bench)
                say(f"orchestrator serve at {url}")
                with httpx.Client(base_url=url, timeout=120) as client:
                    client.get("/console/state-machines")  # the session's cookie
                    if "list" in args.only:
                        report["parts"]["list"] = list_part(bench, client, statements)
                    if "execution" in args.only:
                        report["parts"]["execution"] = execution_part(bench, client, statements, history)
                    if "graph" in args.only or "live" in args.only:
                        with browser_session(bench.meter) as browser:
                            if "graph" in args.only:
                                report["parts"]["graph"] = graph_part(bench, client, browser, url)
                            if "live" in args.only:
                                report["parts"]["live"] = live_part(bench, client, browser, url)
                if args.profile:
                    say("profiling the handlers in this process")
                    paths = {"the executions list, first page": "/console/executions"}
                    paths["the executions list, status=FAILED"] = "/console/executions?status=FAILED"
                    paths["the execution page"] = (
                        f"/console/executions/{quote(history['machine'], safe='')}/{quote(history['name'], safe='')}"
                    )
                    report["profiles"] = profile_pages(bench, paths, args.profile_top, args.profile_runs)
            report["load"] = whole
            report["wall_s"] = round(time.perf_counter() - started, 1)
            report["table"] = table(report)
            return report
        except BaseException:
            for process in bench.processes:
                if not process.alive():
                    say(f"--- {process.name} exited:\n{process.output()[-2000:]}")
            raise
        finally:
            bench.close()


def reused_history(bench: Bench) -> dict[str, Any]:
    row = bench.db.execute(
        "SELECT e.name, e.last_event_id FROM executions e JOIN state_machines m ON m.id = e.state_machine_id "
        "WHERE m.name = %s ORDER BY e.id DESC LIMIT 1",
        (HISTORY_MACHINE,),
    ).fetchone()
    return {"machine": HISTORY_MACHINE, "name": row[0], "events": row[1]}


@contextlib.contextmanager
def browser_session(meter: LoadMeter) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for group in descendant_groups() - set(meter.groups):  # Chromium leads a process group of its own
            meter.register(group, "browser")
        try:
            yield browser
        finally:
            browser.close()


def descendant_groups() -> set[int]:
    """Process groups of this process' descendants other than its own (the browser's)."""
    parents: dict[int, int] = {}
    groups: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        groups[int(entry.name)] = int(fields[2])
    mine, found = os.getpid(), set()
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor and ancestor != mine:
            ancestor = parents.get(ancestor)
        if ancestor == mine and groups[pid] != os.getpgrp():
            found.add(groups[pid])
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        print_report(json.loads(Path(args.report).read_text()))
        return 0
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    say(f"done in {report['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
