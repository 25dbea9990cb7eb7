"""A deployment across hosts: PostgreSQL and Redis on one, the API on one, a worker on each of two
more, the scheduler on one, and a client host the test drives everything from.

`deploy` builds it all inside an `ExitStack`, registering each part's cleanup the moment the part
exists, so whatever happens (a failed start, a failed assertion, Ctrl-C) every process is
killed, every namespace and veth deleted and the temporary directory removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from orchestrator import config
from tests.multihost.network import Host, Network, alive, run_inside
from tests.multihost.servers import (
    PG_PORT,
    REDIS_PORT,
    ROOT,
    Postgres,
    Process,
    ServerError,
    orchestrator_argv,
    start_redis,
    wait_until,
)

TMP_PREFIX = "orchestrator-multihost-"  # then the pid of the run and a random part
API_PORT = 8083
DATABASE = "orchestrator"
# host name -> last octet of its address on 10.77.0.0/24
ADDRESSES = {"client": 1, "db": 2, "api": 3, "worker1": 11, "worker2": 12, "scheduler": 20}


@dataclass(frozen=True, slots=True)
class Options:
    """What the scenario runs; the defaults are the CI test's."""

    executions: int = 200
    handler_seconds: float = 0.1  # each Task's handler sleeps this long
    start_rate: float = 10.0  # executions started per second, at most
    max_in_flight: int = 20  # executions running at once, at most
    visibility_timeout: float = 0.0  # ORCHESTRATOR_VISIBILITY_TIMEOUT; 0: the default (an hour)
    lease_seconds: float = 0.0  # ORCHESTRATOR_LEASE_SECONDS; 0: the default (15 s)
    worker_concurrency: int = 4
    cut_after: float = 8.0  # seconds after the run's first start
    cut_seconds: float = 20.0  # longer than the lease
    outage_after: float = 8.0
    outage_seconds: float = 10.0
    run_timeout: float = 240.0  # for a whole run: every execution started and ended
    postgres_settings: str = ""  # extra server settings, "name=value,name=value" (for experiments)


class Deployment:
    """The running hosts and their processes (built by `deploy`)."""

    def __init__(self, options: Options, network: Network, tmp: Path) -> None:
        self.options = options
        self.network = network
        self.tmp = tmp
        self.hosts = {name: network.add_host(name, octet) for name, octet in ADDRESSES.items()}
        self.postgres: Postgres | None = None
        self.processes: dict[str, Process] = {}
        db = self.hosts["db"]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")},
            "ORCHESTRATOR_DATABASE_URL": f"postgresql+psycopg://postgres@{db.address}:{PG_PORT}/{DATABASE}",
            "ORCHESTRATOR_BROKER_URL": f"redis://{db.address}:{REDIS_PORT}/0",
            "ORCHESTRATOR_HANDLER_MODULES": "tests.multihost.handlers",
            **(
                {"ORCHESTRATOR_VISIBILITY_TIMEOUT": str(options.visibility_timeout)}
                if options.visibility_timeout
                else {}
            ),
            **({"ORCHESTRATOR_LEASE_SECONDS": str(options.lease_seconds)} if options.lease_seconds else {}),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.settings = config.load(self.env)  # what the processes run with

    @property
    def client(self) -> Host:
        return self.hosts["client"]

    @property
    def api_url(self) -> str:
        return f"http://{self.hosts['api'].address}:{API_PORT}"

    def libpq_url(self) -> str:
        return self.env["ORCHESTRATOR_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")

    def start(self, name: str, host: str, argv: list[str]) -> Process:
        home = self.tmp / f"home-{name}"
        home.mkdir(exist_ok=True)
        env = {**self.env, "ORCHESTRATOR_HOME": str(home)}
        process = Process(name, self.hosts[host], argv, env, self.tmp / f"{name}.log")
        self.processes[name] = process
        return process

    def run_once(self, host: str, *args: str) -> str:
        """A one-shot ``orchestrator`` command on ``host`` (the migration)."""
        done = subprocess.run(
            self.hosts[host].exec_argv(orchestrator_argv(*args)),
            env={**self.env, "ORCHESTRATOR_HOME": str(self.tmp / "home-once")},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise ServerError(f"orchestrator {' '.join(args)} on {host} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def kill_processes(self) -> None:
        for process in self.processes.values():
            if process.alive():
                process.kill()

    def health(self) -> tuple[int, dict[str, Any]]:
        """The API's ``GET /health``, asked from the client host."""

        def ask() -> tuple[int, dict[str, Any]]:
            answer = httpx.get(f"{self.api_url}/health", timeout=5)
            return answer.status_code, answer.json()

        return run_inside(self.client.namespace, ask)

    def log_tails(self, lines: int = 40) -> str:
        """The end of every log, for a failure's message."""
        parts = []
        for log in sorted(self.tmp.glob("*.log")) + sorted(self.tmp.glob("*/*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} ---\n" + "\n".join(text))
        return "\n".join(parts)


KEEP_LOGS = "ORCHESTRATOR_MULTIHOST_KEEP_LOGS"  # a directory to copy the logs to (the test's run too)


@contextlib.contextmanager
def deploy(options: Options, keep_logs: Path | None = None) -> Iterator[Deployment]:
    """Build the hosts, start every server and process, and wait until the API answers healthy.
    ``keep_logs`` (or $ORCHESTRATOR_MULTIHOST_KEEP_LOGS): where to copy every log at the end."""
    if keep_logs is None and os.environ.get(KEEP_LOGS):
        keep_logs = Path(os.environ[KEEP_LOGS])
    with contextlib.ExitStack() as stack:
        remove_stale_directories()
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-"))
        tmp.chmod(0o755)  # PostgreSQL runs as its own user, in a directory below this one
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        if keep_logs is not None:
            stack.callback(_copy_logs, tmp, keep_logs)
        network = Network()
        stack.callback(_close_network, network)
        deployment = Deployment(options, network, tmp)
        stack.callback(deployment.kill_processes)  # Redis

        db = deployment.hosts["db"]
        deployment.postgres = postgres = Postgres(db, tmp / "pg", options.postgres_settings)
        stack.callback(postgres.close)
        postgres.start()
        postgres.create_database(DATABASE)
        redis = start_redis(db, tmp / "redis", deployment.env)
        deployment.processes["redis"] = redis
        wait_until(lambda: "Ready to accept connections" in redis.output() or not redis.alive(), 20, "Redis")
        if not redis.alive():
            raise ServerError(f"Redis did not start:\n{redis.output()}")

        deployment.run_once("api", "db", "upgrade")
        stack.callback(deployment.kill_processes)  # the orchestrator's processes before their servers
        try:
            _start_orchestrator(deployment)
            yield deployment
        except BaseException:
            # the logs go with the temporary directory: show their ends with the failure
            print(deployment.log_tails(), file=sys.stderr)
            raise


def _start_orchestrator(deployment: Deployment) -> None:
    options = deployment.options
    api = deployment.hosts["api"]
    deployment.start("api", "api", orchestrator_argv("serve", "--host", api.address, "--port", str(API_PORT)))
    for name in ("worker1", "worker2"):
        deployment.start(
            name,
            name,
            orchestrator_argv(
                "worker", "--concurrency", str(options.worker_concurrency), "--pool", "prefork",
                "--without-mingle", "--without-gossip", "--hostname", f"{name}@multihost",
            ),
        )  # fmt: skip
    deployment.start("scheduler", "scheduler", orchestrator_argv("scheduler", "--tick", "0.1"))
    for name, process in deployment.processes.items():
        if name.startswith("worker"):
            wait_until(lambda p=process: " ready." in p.output() or not p.alive(), 60, f"{name} to start")
    dead = [p for p in deployment.processes.values() if not p.alive()]
    if dead:
        raise ServerError("\n".join(f"{p.name} died at start:\n{p.output()}" for p in dead))
    wait_until(lambda: _healthy(deployment), 60, "the API to answer /health with 200")


def _healthy(deployment: Deployment) -> bool:
    try:
        return deployment.health()[0] == 200
    except httpx.TransportError:
        return False


def remove_stale_directories() -> None:
    """Temporary directories of earlier runs whose process is gone (killed before its finalizers ran)."""
    for directory in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        pid = directory.name.removeprefix(TMP_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)


def _close_network(network: Network) -> None:
    problems = network.close()
    if problems:
        raise AssertionError("could not remove: " + "; ".join(problems))


def _copy_logs(tmp: Path, keep: Path) -> None:
    keep.mkdir(parents=True, exist_ok=True)
    for log in list(tmp.glob("*.log")) + list(tmp.glob("*/*.log")):
        shutil.copy(log, keep / log.name)
