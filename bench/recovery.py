#!/usr/bin/env python3
"""Benchmark: recovery from lost workers with the default settings, and what leases cost.

    python bench/recovery.py [--brokers redis,rabbitmq] [--executions 200] [--tasks 10]
                             [--workers 3] [--concurrency 4] [--nap 0.5] [--kill-every 20]
                             [--kill-for 120] [--cost-executions 200] [--cost-rounds 2] [--json]

For each broker (Redis: ``--redis-url``, database 11 by default, which the script **flushes**;
RabbitMQ: ``--rabbitmq-url``), on a fresh PostgreSQL database with the migrations applied:

1. **Recovery.** ``--workers`` ``orchestrator worker`` processes and one ``orchestrator scheduler``,
   with the default settings (only the database, the broker, the handlers' module and the queue
   names are set). ``--executions`` executions of ``--tasks`` Task states in a row, each calling a
   handler that sleeps ``--nap`` seconds, are started at a steady pace over ``--kill-for`` seconds.
   Every ``--kill-every`` seconds one worker, picked at random, has its process group SIGKILLed,
   and a new worker is started in its place. Just before each kill the script reads which
   executions the worker holds (the leases of its processes). Once every execution has ended it
   reports the executions lost (not SUCCEEDED), the transitions recorded twice (a state entered or
   left twice in a history of Tasks in a row), and each held execution's recovery time: from the
   kill to the execution's next event (p50, p99, max). As a check on what leases do not show (a
   message the worker had reserved but not started), it also reports, for every execution in
   flight at a kill, the longest it went without an event after it.
2. **Cost.** Task states per second with leases (the default) and without
   (``ORCHESTRATOR_LEASE_SECONDS=0``), in turns (``--cost-rounds`` of each) on the same database and
   broker: ``--cost-executions`` executions of ``--tasks`` Tasks calling a no-op handler, all
   started at once; the rate is the Task states over the span from the first Task entered to the
   last execution ended. With the CPU the workers and PostgreSQL used per Task state.

Goals (issue 12): 0 lost, 0 duplicated, recovery max < 30 s, on both brokers.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.machine

from bench.machine import LoadMeter, Process, percentile, say, wait_for  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_RECOVERY_REDIS_URL", "redis://127.0.0.1:6379/11")
RABBITMQ_URL = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
ROLE_ARN = "arn:aws:iam::123456789012:role/bench"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:{}"
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
GOAL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Options:
    brokers: tuple[str, ...]
    parts: tuple[str, ...]
    executions: int
    tasks: int
    workers: int
    concurrency: int
    nap: float
    kill_every: float
    kill_for: float
    cost_executions: int
    cost_rounds: int
    redis_url: str
    rabbitmq_url: str
    seed: int


def task_chain(tasks: int, handler: str) -> dict[str, Any]:
    """``tasks`` Task states in a row calling ``handler`` with the execution's input."""
    states: dict[str, Any] = {}
    for index in range(1, tasks + 1):
        states[f"T{index}"] = {"Type": "Task", "Resource": LAMBDA.format(handler), "ResultPath": None}
        states[f"T{index}"].update({"End": True} if index == tasks else {"Next": f"T{index + 1}"})
    return {"StartAt": "T1", "States": states}


# -- the database ----------------------------------------------------------------------------------


class Database:
    """A fresh PostgreSQL database with the migrations applied; dropped by `drop`."""

    def __init__(self, label: str) -> None:
        import psycopg

        from orchestrator.store.migrate import upgrade

        self.name = f"orchestrator_bench_recovery_{os.getpid()}_{label}_{uuid.uuid4().hex[:4]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.dsn = f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.name}"
        self.url = self.dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        upgrade(self.url)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def drop(self) -> None:
        import psycopg

        from orchestrator.store.db import get_engine

        get_engine(self.url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# -- the cluster -----------------------------------------------------------------------------------


class Cluster:
    """Worker and scheduler processes on one database and broker, and a Service to start executions."""

    def __init__(self, options: Options, broker: str, database: Database, meter: LoadMeter, tmp: Path) -> None:
        from celery import Celery

        from orchestrator import config
        from orchestrator.runtime.app import configure
        from orchestrator.service import Service

        tag = uuid.uuid4().hex[:8]
        self.options = options
        self.database = database
        self.meter = meter
        self.tmp = tmp
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATOR_", "BENCH_"))},
            "ORCHESTRATOR_DATABASE_URL": database.url,
            "ORCHESTRATOR_BROKER_URL": broker,
            "ORCHESTRATOR_HANDLER_MODULES": "bench.handlers",
            "ORCHESTRATOR_ENGINE_QUEUE": f"bench-recovery-{tag}",
            "ORCHESTRATOR_HANDLER_QUEUE": f"bench-recovery.handlers-{tag}",
            "ORCHESTRATOR_HOME": str(tmp / "home"),
            "PYTHONPATH": str(ROOT),
        }
        self.settings = config.load(self.env)
        self.app = Celery(f"bench-recovery-{tag}")
        configure(self.app, self.settings)
        self.service = Service(self.settings, self.app)
        self.workers: list[Process] = []
        self.others: list[Process] = []
        self.started = 0

    def start_worker(self, extra_env: dict[str, str] | None = None) -> Process:
        index = self.started
        self.started += 1
        argv = [
            sys.executable, "-m", "orchestrator.cli", "worker", "--concurrency", str(self.options.concurrency),
            "--pool", "prefork", "--without-mingle", "--without-gossip", "--hostname", f"b{index}@%h",
        ]  # fmt: skip
        process = Process(f"worker{index}", argv, {**self.env, **(extra_env or {})}, self.tmp / f"worker{index}.log")
        self.meter.register(process.pid, "workers")
        self.workers.append(process)
        return process

    def start_workers(self, count: int, extra_env: dict[str, str] | None = None) -> None:
        started = [self.start_worker(extra_env) for _ in range(count)]
        for process in started:
            wait_for(lambda p=process: " ready." in p.output() or not p.alive(), 120, f"{process.name} to start")

    def start_scheduler(self, extra_env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "orchestrator.cli", "scheduler"]
        process = Process(
            "scheduler", argv, {**self.env, **(extra_env or {})}, self.tmp / f"scheduler{self.started}.log"
        )
        self.started += 1
        self.meter.register(process.pid, "scheduler")
        self.others.append(process)

    def stop(self) -> None:
        for process in [*self.workers, *self.others]:
            process.stop(timeout=20)
            self.meter.forget(process.pid)
        self.workers, self.others = [], []

    def state_machine(self, definition: dict[str, Any]) -> str:
        name = f"bench-{uuid.uuid4().hex[:10]}"
        created = self.service.create_state_machine(name=name, definition=json.dumps(definition), role_arn=ROLE_ARN)
        return str(created["stateMachineArn"])

    def start(self, machine: str, name: str, execution_input: Any) -> str:
        started = self.service.start_execution(machine, name=name, input=json.dumps(execution_input))
        return str(started["executionArn"])

    def statuses(self, arns: list[str]) -> dict[str, str]:
        rows = self.database.query("SELECT arn, status FROM executions WHERE arn = ANY(%s)", [arns])
        return {arn: status for arn, status in rows}

    def wait_all(self, arns: list[str], timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.statuses(arns)
            if all(statuses.get(arn) in TERMINAL for arn in arns) or time.monotonic() > deadline:
                return statuses
            time.sleep(0.5)

    def drop_queues(self) -> None:
        if not self.settings.broker_url.startswith("amqp"):
            return
        with self.app.connection_for_write() as connection:
            for queue in (self.settings.engine_queue, self.settings.handler_queue):
                channel = connection.channel()
                with contextlib.suppress(Exception):
                    channel.queue_delete(queue)
                with contextlib.suppress(Exception):
                    channel.close()


@contextlib.contextmanager
def cluster_on(options: Options, broker: str, label: str, meter: LoadMeter, tmp: Path) -> Iterator[Cluster]:
    if broker.startswith("redis"):
        import redis

        redis.Redis.from_url(broker).flushdb()
    database = Database(label)
    meter.own_databases.add(database.name)
    tmp.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(options, broker, database, meter, tmp)
    try:
        yield cluster
    finally:
        cluster.stop()
        cluster.drop_queues()
        database.drop()
        if broker.startswith("redis"):
            import redis

            redis.Redis.from_url(broker).flushdb()


# -- 1. recovery -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kill:
    """A worker killed at ``at`` (time.time()), and the executions its processes held then."""

    at: float
    worker: str
    held: tuple[int, ...]  # execution ids


@dataclass
class Starts:
    """The executions a starter thread started: ARN -> when."""

    at: dict[str, float] = field(default_factory=dict)
    failure: list[BaseException] = field(default_factory=list)


def group_pids(leader: int) -> set[int]:
    """The processes of ``leader``'s process group (a prefork worker and its pool)."""
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{entry.name}/stat").read_text()
                if int(text[text.rindex(")") + 2 :].split()[2]) == leader:
                    found.add(int(entry.name))
    return found


def held_by(cluster: Cluster, pids: set[int]) -> tuple[int, ...]:
    """The executions whose Task a process of ``pids`` holds a live lease on."""
    holders = [f"{socket.gethostname()}:{pid}" for pid in pids]
    rows = cluster.database.query(
        "SELECT DISTINCT (o.args->>0)::bigint FROM leases l JOIN outbox o ON o.id = l.outbox_id "
        "WHERE l.worker = ANY(%s) AND l.expires_at > now()",
        [holders],
    )
    return tuple(sorted(int(r[0]) for r in rows))


def kill_one(cluster: Cluster, rng: random.Random) -> Kill:
    """SIGKILL a random worker's process group, and start another worker in its place."""
    victim = rng.choice([w for w in cluster.workers if w.alive()])
    held = held_by(cluster, group_pids(victim.pid))
    os.killpg(victim.pid, signal.SIGKILL)  # the worker and its pool processes, with no warning
    at = time.time()
    victim.handle.wait(timeout=30)
    cluster.meter.forget(victim.pid)
    cluster.workers.remove(victim)
    cluster.start_worker()
    say(f"  killed {victim.name} holding {len(held)} execution(s)")
    return Kill(at, victim.name, held)


def start_steadily(cluster: Cluster, machine: str, count: int, span: float, nap: float, starts: Starts) -> None:
    """Start ``count`` executions evenly over ``span`` seconds (run in a thread)."""
    first = time.time()
    try:
        for n in range(count):
            time.sleep(max(0.0, first + n * span / count - time.time()))
            starts.at[cluster.start(machine, f"r{n:04d}", {"seconds": nap})] = time.time()
    except BaseException as exc:  # handed to the main thread
        starts.failure.append(exc)


def recovery_run(options: Options, cluster: Cluster) -> dict[str, Any]:
    cluster.start_scheduler()
    cluster.start_workers(options.workers)
    machine = cluster.state_machine(task_chain(options.tasks, "nap"))
    starts = Starts()
    starter = threading.Thread(
        target=start_steadily,
        args=(cluster, machine, options.executions, options.kill_for, options.nap, starts),
        name="starter",
    )
    rng = random.Random(options.seed)
    began = time.time()
    starter.start()
    kills = []
    for number in range(1, int(options.kill_for // options.kill_every) + 1):
        time.sleep(max(0.0, began + number * options.kill_every - time.time()))
        kills.append(kill_one(cluster, rng))
    starter.join()
    if starts.failure:
        raise starts.failure[0]
    arns = list(starts.at)
    statuses = cluster.wait_all(arns, timeout=600)
    return judge_recovery(options, cluster, arns, statuses, kills)


def histories(cluster: Cluster, arns: list[str]) -> dict[int, list[tuple[float, str, str | None]]]:
    """Each execution's events (by execution id): (time, type, state named)."""
    rows = cluster.database.query(
        "SELECT h.execution_id, extract(epoch FROM h.timestamp), h.type, h.details->>'name' "
        "FROM history_events h JOIN executions x ON x.id = h.execution_id WHERE x.arn = ANY(%s) "
        "ORDER BY h.execution_id, h.id",
        [arns],
    )
    found: dict[int, list[tuple[float, str, str | None]]] = collections.defaultdict(list)
    for execution_id, at, kind, name in rows:
        found[int(execution_id)].append((float(at), kind, name))
    return found


def duplicated(events: list[tuple[float, str, str | None]]) -> int:
    """Transitions recorded twice in a history of Tasks in a row: (type, state) pairs seen twice (an
    event that names no state counts in the state entered last)."""
    counted: collections.Counter[tuple[str, str | None]] = collections.Counter()
    current = None
    for _, kind, name in events:
        if kind.endswith("StateEntered"):
            current = name
        counted[(kind, name or current)] += 1
    return sum(n - 1 for n in counted.values() if n > 1)


def next_event_after(events: list[tuple[float, str, str | None]], moment: float) -> float | None:
    later = [at for at, _, _ in events if at > moment]
    return min(later) - moment if later else None


def judge_recovery(
    options: Options, cluster: Cluster, arns: list[str], statuses: dict[str, str], kills: list[Kill]
) -> dict[str, Any]:
    ids = dict(cluster.database.query("SELECT arn, id FROM executions WHERE arn = ANY(%s)", [arns]))
    events = histories(cluster, arns)
    held = [next_event_after(events[e], kill.at) for kill in kills for e in kill.held]
    in_flight = [
        next_event_after(events[ids[arn]], kill.at)
        for kill in kills
        for arn in arns
        if events[ids[arn]][0][0] < kill.at < events[ids[arn]][-1][0]
    ]
    expected = 2 + 5 * options.tasks
    return {
        "executions": len(arns),
        "kills": len(kills),
        "lost": sum(1 for arn in arns if statuses.get(arn) != "SUCCEEDED"),
        "duplicated_transitions": sum(duplicated(events[ids[arn]]) for arn in arns),
        "histories_of_wrong_length": sum(1 for arn in arns if len(events[ids[arn]]) != expected),
        "held_at_kills": len(held),
        "recovery_s": seconds_summary(held),
        "in_flight_at_kills": len(in_flight),
        "in_flight_next_event_s": seconds_summary(in_flight),
    }


def seconds_summary(values: list[float | None]) -> dict[str, Any]:
    """p50, p99 and max of the seconds measured (None: the execution never moved on: infinite)."""
    measured = [float("inf") if v is None else v for v in values]
    if not measured:
        return {"count": 0}
    return {
        "count": len(measured),
        "p50": round(percentile(measured, 0.50), 2),
        "p99": round(percentile(measured, 0.99), 2),
        "max": round(max(measured), 2),
    }


# -- 2. what leases cost ---------------------------------------------------------------------------


def cost_run(options: Options, cluster: Cluster, leases: bool) -> dict[str, Any]:
    """Task states per second, with leases or without, on fresh workers and scheduler; and the SQL
    statements the workers ran per Task state (bench/handlers.py's timing hook, the same both ways)."""
    timing = cluster.tmp / f"timing-{uuid.uuid4().hex[:6]}"
    timing.mkdir()
    extra = {} if leases else {"ORCHESTRATOR_LEASE_SECONDS": "0"}
    cluster.start_scheduler(extra)
    cluster.start_workers(options.workers, {**extra, "BENCH_TIMING_DIR": str(timing)})
    try:
        machine = cluster.state_machine(task_chain(options.tasks, "noop"))
        with cluster.meter.measure() as load:
            arns = [cluster.start(machine, f"c{n:04d}", {}) for n in range(options.cost_executions)]
            statuses = cluster.wait_all(arns, timeout=600)
        received = sum(w.output().count("Task orchestrator.invoke[") for w in cluster.workers) // 2
        first, last = cluster.database.query(
            "SELECT extract(epoch FROM min(h.timestamp) FILTER (WHERE h.type = 'TaskStateEntered')), "
            "extract(epoch FROM max(h.timestamp)) FROM history_events h JOIN executions x ON x.id = h.execution_id "
            "WHERE x.arn = ANY(%s)",
            [arns],
        )[0]
    finally:
        cluster.stop()
    states = options.cost_executions * options.tasks
    span = float(last) - float(first)
    cpu = load.get("cpu_s", {})
    return {
        "leases": leases,
        "lost": sum(1 for arn in arns if statuses.get(arn) != "SUCCEEDED"),
        "task_states": states,
        "span_s": round(span, 3),
        "task_states_per_s": round(states / span, 1),
        "tasks_through_the_broker": received,  # the others ran by follow-on
        "cpu_ms_per_task_state": {k: round(1000 * cpu.get(k, 0.0) / states, 3) for k in ("workers", "postgres")},
        "sql_per_task_state": statements(timing, states),
        "machine_busy_percent": load.get("busy_percent"),
        "others_percent": load.get("percent", {}).get("others"),
    }


def statements(timing: Path, states: int) -> dict[str, float]:
    """SQL statements the workers ran per Task state, by verb (from their timing files)."""
    counted: collections.Counter[str] = collections.Counter()
    for path in timing.glob("timing-*.json"):
        for phase, figures in json.loads(path.read_text())["phases"].items():
            if phase.startswith("sql "):
                counted[phase[4:]] += figures["count"]
    return {verb: round(count / states, 3) for verb, count in sorted(counted.items())}


def cost(options: Options, cluster: Cluster) -> dict[str, Any]:
    runs = [cost_run(options, cluster, leases) for _ in range(options.cost_rounds) for leases in (True, False)]
    best = {
        label: max(r["task_states_per_s"] for r in runs if r["leases"] == on)
        for label, on in (("with", True), ("without", False))
    }
    return {"runs": runs, "best_task_states_per_s": best, "ratio": round(best["with"] / best["without"], 3)}


# -- driving ---------------------------------------------------------------------------------------


def bench_broker(options: Options, name: str, url: str, meter: LoadMeter, tmp: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "recovery" in options.parts:
        say(f"{name}: recovery ({options.executions} executions of {options.tasks} Tasks, a kill every "
            f"{options.kill_every:g} s for {options.kill_for:g} s)")  # fmt: skip
        with cluster_on(options, url, f"{name}_recovery", meter, tmp / f"{name}-recovery") as cluster:
            with meter.measure() as load:
                result["recovery"] = recovery_run(options, cluster)
            result["recovery"]["load"] = load
    if "cost" in options.parts:
        say(f"{name}: what leases cost")
        with cluster_on(options, url, f"{name}_cost", meter, tmp / f"{name}-cost") as cluster:
            result["cost"] = cost(options, cluster)
    return result


def verdicts(results: dict[str, Any]) -> list[str]:
    failed = []
    for broker, result in results.items():
        recovery = result.get("recovery")
        if recovery is None:
            continue
        if recovery["lost"] or recovery["duplicated_transitions"]:
            failed.append(f"{broker}: {recovery['lost']} lost, {recovery['duplicated_transitions']} duplicated")
        if recovery["recovery_s"].get("max", 0) >= GOAL_SECONDS:
            failed.append(f"{broker}: recovery max {recovery['recovery_s']['max']} s")
    return failed


def print_report(results: dict[str, Any]) -> None:
    for broker, result in results.items():
        if "recovery" in result:
            print_recovery(broker, result["recovery"])
        if "cost" in result:
            print_cost(broker, result["cost"])


def print_recovery(broker: str, r: dict[str, Any]) -> None:
    held, flight = r["recovery_s"], r["in_flight_next_event_s"]
    print(f"{broker}: {r['executions']} executions, {r['kills']} workers killed: {r['lost']} lost, "
          f"{r['duplicated_transitions']} duplicated transitions, {r['histories_of_wrong_length']} histories "
          f"of the wrong length")  # fmt: skip
    print(f"  recovery of the {held.get('count', 0)} executions held by killed workers: p50 {held.get('p50')} s, "
          f"p99 {held.get('p99')} s, max {held.get('max')} s")  # fmt: skip
    print(f"  next event of the {flight.get('count', 0)} executions in flight at the kills: p50 "
          f"{flight.get('p50')} s, p99 {flight.get('p99')} s, max {flight.get('max')} s")  # fmt: skip


def print_cost(broker: str, c: dict[str, Any]) -> None:
    for run in c["runs"]:
        print(f"  {broker} {'with' if run['leases'] else 'without'} leases: {run['task_states_per_s']} Task states/s "
              f"(CPU ms per Task state: workers {run['cpu_ms_per_task_state']['workers']}, PostgreSQL "
              f"{run['cpu_ms_per_task_state']['postgres']}; others {run['others_percent']}%)")  # fmt: skip
    print(f"  {broker} best with/without: {c['best_task_states_per_s']} (ratio {c['ratio']})")


def parse(argv: list[str]) -> tuple[Options, bool]:
    """The options, and whether to print JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", default="redis,rabbitmq")
    parser.add_argument("--parts", default="recovery,cost", help="recovery, cost, or both (comma-separated)")
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--nap", type=float, default=0.5, help="seconds each Task's handler sleeps (recovery)")
    parser.add_argument("--kill-every", type=float, default=20.0)
    parser.add_argument("--kill-for", type=float, default=120.0)
    parser.add_argument("--cost-executions", type=int, default=200)
    parser.add_argument("--cost-rounds", type=int, default=2)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--rabbitmq-url", default=RABBITMQ_URL)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    def listed(text: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in text.split(",") if item.strip())

    fields = {k: v for k, v in vars(args).items() if k not in ("brokers", "parts", "json")}
    return Options(brokers=listed(args.brokers), parts=listed(args.parts), **fields), bool(args.json)


def main(argv: list[str]) -> int:
    options, as_json = parse(argv)
    urls = {"redis": options.redis_url, "rabbitmq": options.rabbitmq_url}
    import psycopg

    meter = LoadMeter(lambda: psycopg.connect(PG_ADMIN, autocommit=True))
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
        for broker in options.brokers:
            results[broker] = bench_broker(options, broker, urls[broker], meter, Path(tmp))
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)
    failed = verdicts(results)
    for failure in failed:
        print(f"GOAL MISSED: {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
