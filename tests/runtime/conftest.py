"""A real cluster for the runtime tests: PostgreSQL, Redis (or RabbitMQ), worker and scheduler processes.

Every test session gets a fresh PostgreSQL database with the migrations applied. Every cluster gets
queues of its own (``orchestrator-<id>``, ``orchestrator.handlers-<id>``), so that clusters of one
session, and the sessions of other people running these tests on the same servers at the same
time, never take each other's messages; when a cluster closes, its workers and scheduler are
killed, every execution it left running is stopped, and its queues are deleted. A missing server
is a failure, not a skip: these tests are the product's guarantees.

Clusters run with the product's default settings (the visibility timeout, the leases) unless a
test says otherwise. Redis databases: 9 (``REDIS_URL``) for most tests; 15 (``CRASH_REDIS_URL``) for
the crash tests, which flush it.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from celery import Celery
from sqlalchemy import delete, func, select

from orchestrator import config
from orchestrator.runtime.app import configure
from orchestrator.service import Service
from orchestrator.store import state_machines
from orchestrator.store.db import session_scope
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Execution, OutboxMessage, Timer

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("ORCHESTRATOR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ORCHESTRATOR_TEST_REDIS", "redis://127.0.0.1:6379/9")
CRASH_REDIS_URL = os.environ.get("ORCHESTRATOR_TEST_CRASH_REDIS", REDIS_URL.rsplit("/", 1)[0] + "/15")
RABBIT_URL = os.environ.get("ORCHESTRATOR_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
ROLE = "arn:aws:iam::123456789012:role/test"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:{}"
# A Task that waits for a task token: the "noop" handler (tests.runtime.handlers) gets the token.
CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"
CALLBACK_PARAMETERS = {"FunctionName": "noop", "Payload": {"token.$": "$$.Task.Token"}}
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"orchestrator_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    from orchestrator.store.db import get_engine

    get_engine(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it (for the tests' own connections)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://")


def wait_for(predicate: Any, timeout: float, poll: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)


class Process:
    """A worker or scheduler subprocess, with its log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("w") as sink:  # the child keeps its own copy of the descriptor
            self.handle = subprocess.Popen(
                argv, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the process and its children (a prefork worker's pool processes too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.handle.pid, sig)
        self.handle.wait(timeout=30)
        if sig != signal.SIGKILL:
            # A pool process may outlive its parent's warm shutdown; nothing of the group survives.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.handle.pid, signal.SIGKILL)

    def alive(self) -> bool:
        return self.handle.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Cluster:
    """Workers and a scheduler against one database and one broker, plus a Service to drive them."""

    def __init__(
        self,
        database_url: str,
        broker_url: str,
        tmp: Path,
        *,
        visibility_timeout: float | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.tmp = tmp
        tag = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "ORCHESTRATOR_DATABASE_URL": database_url,
            "ORCHESTRATOR_BROKER_URL": broker_url,
            "ORCHESTRATOR_HANDLER_MODULES": "tests.runtime.handlers",
            **({"ORCHESTRATOR_VISIBILITY_TIMEOUT": str(visibility_timeout)} if visibility_timeout is not None else {}),
            "ORCHESTRATOR_ENGINE_QUEUE": f"orchestrator-{tag}",
            "ORCHESTRATOR_HANDLER_QUEUE": f"orchestrator.handlers-{tag}",
            "PYTHONPATH": str(ROOT),
            **(extra_env or {}),
        }
        self.settings = config.load(self.env)
        self.app = Celery("orchestrator-test")
        configure(self.app, self.settings)
        self.service = Service(self.settings, self.app)
        self.processes: list[Process] = []
        self.started = 0

    def start_worker(
        self, *, concurrency: int = 2, pool: str = "prefork", wait: bool = True, queues: list[str] | None = None
    ) -> Process:
        index = self.started
        self.started += 1
        argv = [
            sys.executable, "-m", "orchestrator.cli", "worker", "--concurrency", str(concurrency), "--pool", pool,
            "--without-mingle", "--without-gossip", "--hostname", f"w{index}-{uuid.uuid4().hex[:4]}@%h",
            *(["--queues", ",".join(queues)] if queues else []),
        ]  # fmt: skip
        process = Process(f"worker{index}", argv, self.env, self.tmp / f"worker{index}.log")
        self.processes.append(process)
        if wait:
            self.wait_ready(process)
        return process

    def start_workers(self, count: int, *, concurrency: int = 2) -> list[Process]:
        """Start ``count`` workers side by side (their start-ups overlap) and wait until all are ready."""
        started = [self.start_worker(concurrency=concurrency, wait=False) for _ in range(count)]
        for process in started:
            self.wait_ready(process)
        return started

    def wait_ready(self, process: Process) -> None:
        wait_for(lambda: "ready" in process.output() or not process.alive(), 60, what=f"{process.name} to start")
        assert process.alive(), process.output()

    def start_scheduler(self, tick: float = 0.1) -> Process:
        index = self.started
        self.started += 1
        argv = [sys.executable, "-m", "orchestrator.cli", "scheduler", "--tick", str(tick)]
        process = Process(f"scheduler{index}", argv, self.env, self.tmp / f"scheduler{index}.log")
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.alive():
                process.kill()
        self.processes.clear()

    # -- driving executions ----------------------------------------------------------------------

    def state_machine(self, definition: dict[str, Any], name: str | None = None) -> str:
        name = name or f"sm-{uuid.uuid4().hex[:10]}"
        created = self.service.create_state_machine(name=name, definition=json.dumps(definition), role_arn=ROLE)
        return str(created["stateMachineArn"])

    def start(self, machine_arn: str, execution_input: Any = None, name: str | None = None) -> str:
        text = json.dumps({} if execution_input is None else execution_input)
        result = self.service.start_execution(machine_arn, name=name, input=text)
        return str(result["executionArn"])

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return self.service.describe_execution(execution_arn)

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(
            lambda: (d := self.service.describe_execution(execution_arn))["status"] != "RUNNING" and d,
            timeout,
            what=f"{execution_arn} to end",
        )

    def wait_all(self, execution_arns: list[str], timeout: float) -> dict[str, str]:
        """Wait until every execution has ended (one query per poll); returns each one's status."""
        pending = set(execution_arns)

        def ended() -> bool:
            pending.difference_update(a for a, s in self.statuses(list(pending)).items() if s in TERMINAL)
            return not pending

        wait_for(ended, timeout, poll=0.2, what=f"{len(pending)} execution(s) to end")
        return self.statuses(execution_arns)

    def statuses(self, execution_arns: list[str]) -> dict[str, str]:
        with session_scope(self.settings.database_url) as session:
            rows = session.execute(select(Execution.arn, Execution.status).where(Execution.arn.in_(execution_arns)))
            return {arn: status for arn, status in rows}

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.service.get_execution_history(execution_arn, max_results=1000, next_token=token)
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def execution_id(self, arn: str) -> int:
        with session_scope(self.settings.database_url) as session:
            execution = state_machines.execution_by_arn(session, arn)
            assert execution is not None
            return execution.id

    def timers(self, run_id: int | None = None) -> list[dict[str, Any]]:
        with session_scope(self.settings.database_url) as session:
            query = select(Timer.__table__)
            if run_id is not None:
                query = query.where(Timer.run_id == run_id)
            return [dict(r._mapping) for r in session.execute(query)]

    def tree_timers(self, execution_arn: str) -> list[dict[str, Any]]:
        """The timers of an execution and of every branch and iteration it runs."""
        root_id = self.execution_id(execution_arn)
        with session_scope(self.settings.database_url) as session:
            runs_of_tree = select(Execution.id).where((Execution.id == root_id) | (Execution.root_id == root_id))
            query = select(Timer.__table__).where(Timer.run_id.in_(runs_of_tree))
            return [dict(r._mapping) for r in session.execute(query)]

    def outbox_size(self) -> int:
        with session_scope(self.settings.database_url) as session:
            return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

    def token_for(self, execution_arn: str, timeout: float = 30) -> str:
        """The task token the execution waits on (once its Task has been reached)."""
        return str(
            wait_for(
                lambda: next(
                    (t["token"] for t in self.service.pending_tokens() if t["executionArn"] == execution_arn), None
                ),
                timeout,
                what=f"a task token of {execution_arn}",
            )
        )

    @property
    def queues(self) -> list[str]:
        return [self.settings.engine_queue, self.settings.handler_queue]

    def drop_queues(self) -> None:
        """Delete this cluster's queues from the broker (what it left in them goes too)."""
        if self.settings.broker_url.startswith("redis"):
            broker = redis.Redis.from_url(self.settings.broker_url)
            # kombu keeps a queue as a list per priority step; its binding in a set per exchange
            for key in broker.scan_iter(match="*orchestrator*"):
                name = key.decode(errors="replace")
                if any(queue in name for queue in self.queues):
                    broker.delete(key)
            # and the messages its killed workers held (kombu would put them back in its queues)
            for tag, raw in broker.hscan_iter("unacked"):
                with contextlib.suppress(ValueError, TypeError):
                    _message, exchange, routing_key = json.loads(raw)
                    if exchange in self.queues or routing_key in self.queues:
                        broker.hdel("unacked", tag)
                        broker.zrem("unacked_index", tag)
            return
        with self.app.connection_for_write() as connection:
            for queue in self.queues:
                channel = connection.channel()
                try:
                    channel.queue_delete(queue)
                except Exception:  # never declared: nothing to delete
                    pass
                finally:
                    with contextlib.suppress(Exception):
                        channel.close()

    def quiesce(self) -> None:
        """Stop every execution still running and drop what the runtime still had to do."""
        with session_scope(self.settings.database_url) as session:
            running = list(
                session.scalars(select(Execution.arn).where(Execution.root_id.is_(None), Execution.status == "RUNNING"))
            )
        for arn in running:
            if arn:
                self.service.stop_execution(arn, error="Test.Teardown", cause="the test ended")
        with session_scope(self.settings.database_url) as session:
            session.execute(delete(OutboxMessage))
            session.execute(delete(Timer))


# -- what a sound history looks like ---------------------------------------------------------------


def assert_history_is_sound(events: list[dict[str, Any]]) -> None:
    """Ids 1..n with no gap or repeat, links to earlier events, times that never go back, and at
    most one terminal event."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] < e["id"] for e in events)
    assert all(a["timestamp"] <= b["timestamp"] for a, b in itertools.pairwise(events)), "a time goes back"
    terminal = [e for e in events if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"]
    assert len(terminal) <= 1, [e["type"] for e in terminal]


def event_name(event: dict[str, Any]) -> str | None:
    """The state an event names (Entered/Exited events), if any."""
    details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
    return details.get("name") if isinstance(details, dict) else None


def duplicated_transitions(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(type, state) pairs seen more than once, for a history of a workflow without loops, retries or
    fan-out, where each state is entered and left once: a transition recorded twice shows here. An
    event that names no state (LambdaFunctionScheduled, ...) counts in the state entered last."""
    counted: collections.Counter[tuple[str, str | None]] = collections.Counter()
    current = None
    for event in events:
        name = event_name(event)
        if event["type"].endswith("StateEntered"):
            current = name
        counted[(event["type"], name or current)] += 1
    return [key for key, n in counted.items() if n > 1]


# -- fixtures --------------------------------------------------------------------------------------

ClusterFactory = Callable[..., Cluster]


def new_cluster(database_url: str, broker_url: str, tmp: Path, **options: Any) -> Cluster:
    """A cluster with queues of its own (nothing in them yet) and a folder for its processes' logs."""
    cluster = Cluster(database_url, broker_url, tmp, **options)
    cluster.tmp.mkdir(parents=True, exist_ok=True)
    return cluster


def close_clusters(clusters: list[Cluster]) -> None:
    """Kill every process first (so nothing moves), then stop what the clusters left running."""
    for cluster in clusters:
        cluster.stop()
    for cluster in clusters:
        cluster.quiesce()
        cluster.drop_queues()


@contextlib.contextmanager
def running_cluster(database_url: str, tmp: Path, *, workers: int = 1, **options: Any) -> Iterator[Cluster]:
    """A Redis cluster with ``workers`` workers and a scheduler, for a module's tests to share."""
    cluster = new_cluster(database_url, REDIS_URL, tmp, **options)
    try:
        cluster.start_scheduler()
        if workers:
            cluster.start_workers(workers)
        yield cluster
    finally:
        close_clusters([cluster])


@pytest.fixture()
def cluster_factory(database_url: str, tmp_path: Path) -> Iterator[ClusterFactory]:
    """Makes clusters (Redis by default) with the settings a test needs; cleans up after them."""
    made: list[Cluster] = []

    def make(broker_url: str = REDIS_URL, **options: Any) -> Cluster:
        made.append(new_cluster(database_url, broker_url, tmp_path / f"cluster{len(made)}", **options))
        return made[-1]

    yield make
    close_clusters(made)


@pytest.fixture()
def redis_cluster(cluster_factory: ClusterFactory) -> Cluster:
    return cluster_factory()


@pytest.fixture()
def rabbit_cluster(cluster_factory: ClusterFactory) -> Cluster:
    return cluster_factory(RABBIT_URL)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- figures for the closing note ------------------------------------------------------------------

FIGURES: list[str] = []


def report(line: str) -> None:
    """A measured figure, printed in the terminal summary of the run (and at once, with -s)."""
    FIGURES.append(line)
    print(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("runtime figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
