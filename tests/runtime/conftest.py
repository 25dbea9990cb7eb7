"""A real cluster for the runtime tests: PostgreSQL, Redis (or RabbitMQ), worker and scheduler processes.

Every test session gets a fresh PostgreSQL database with the migrations applied. A missing server
is a failure, not a skip: these tests are the product's guarantees.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from celery import Celery

from orchestrator import config
from orchestrator.runtime.app import configure
from orchestrator.service import Service
from orchestrator.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("ORCHESTRATOR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ORCHESTRATOR_TEST_REDIS", "redis://127.0.0.1:6379/9")
RABBIT_URL = os.environ.get("ORCHESTRATOR_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
ROLE = "arn:aws:iam::123456789012:role/test"


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
            self.handle = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                                           start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the process and its children (a prefork worker's pool processes too)."""
        try:
            os.killpg(self.handle.pid, sig)
        except ProcessLookupError:
            pass
        self.handle.wait(timeout=30)

    def alive(self) -> bool:
        return self.handle.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Cluster:
    """Workers and a scheduler against one database and one broker, plus a Service to drive them."""

    def __init__(self, database_url: str, broker_url: str, tmp: Path, *, visibility_timeout: float = 30) -> None:
        self.tmp = tmp
        self.env = {
            **os.environ,
            "ORCHESTRATOR_DATABASE_URL": database_url,
            "ORCHESTRATOR_BROKER_URL": broker_url,
            "ORCHESTRATOR_HANDLER_MODULES": "tests.runtime.handlers",
            "ORCHESTRATOR_VISIBILITY_TIMEOUT": str(visibility_timeout),
            "PYTHONPATH": str(ROOT),
        }
        self.settings = config.load(self.env)
        self.app = Celery("orchestrator-test")
        configure(self.app, self.settings)
        self.service = Service(self.settings, self.app)
        self.processes: list[Process] = []

    def start_worker(self, *, concurrency: int = 2, pool: str = "prefork", wait: bool = True) -> Process:
        index = len(self.processes)
        argv = [sys.executable, "-m", "orchestrator.cli", "worker", "--concurrency", str(concurrency), "--pool", pool,
                "--without-mingle", "--without-gossip", "--hostname", f"w{index}-{uuid.uuid4().hex[:4]}@%h"]
        process = Process(f"worker{index}", argv, self.env, self.tmp / f"worker{index}.log")
        self.processes.append(process)
        if wait:
            wait_for(lambda: "ready" in process.output() or not process.alive(), 60, what="the worker to start")
            assert process.alive(), process.output()
        return process

    def start_scheduler(self) -> Process:
        argv = [sys.executable, "-m", "orchestrator.cli", "scheduler", "--tick", "0.1"]
        process = Process("scheduler", argv, self.env, self.tmp / f"scheduler{len(self.processes)}.log")
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.alive():
                process.kill(signal.SIGTERM)
        self.processes.clear()

    # -- driving executions ----------------------------------------------------------------------

    def state_machine(self, definition: dict[str, Any], name: str | None = None) -> str:
        name = name or f"sm-{uuid.uuid4().hex[:10]}"
        return self.service.create_state_machine(name=name, definition=json.dumps(definition), role_arn=ROLE)[
            "stateMachineArn"]

    def start(self, machine_arn: str, execution_input: Any = None, name: str | None = None) -> str:
        result = self.service.start_execution(machine_arn, name=name, input=json.dumps(execution_input or {}))
        return str(result["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(
            lambda: (d := self.service.describe_execution(execution_arn))["status"] != "RUNNING" and d,
            timeout, what=f"{execution_arn} to end")

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.service.get_execution_history(execution_arn, max_results=1000, next_token=token)
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events


def assert_history_is_sound(events: list[dict[str, Any]]) -> None:
    """Ids 1..n with no gap or repeat, and no state entered twice without an exit between."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] < e["id"] for e in events)
    terminal = [e for e in events if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"]
    assert len(terminal) <= 1, [e["type"] for e in terminal]


@pytest.fixture()
def redis_cluster(database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    cluster = Cluster(database_url, REDIS_URL, tmp_path)
    yield cluster
    cluster.stop()


@pytest.fixture()
def rabbit_cluster(database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(database_url, RABBIT_URL, tmp_path)
    yield cluster
    cluster.stop()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
