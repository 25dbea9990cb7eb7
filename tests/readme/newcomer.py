"""A newcomer's machine, for running the README's blocks: a fresh HOME, nothing configured, the checkout
as the current directory, and the servers a block starts.

Commands run as a person would type them, with only what a newcomer could not know filled in:

- ``8083``: a free port, since other runs share this machine (each ``orchestrator serve`` block gets
  its own; a block that calls the API gets the port of the server the Quick start left running);
- ``user@db-host``, ``redis-host``: this machine's PostgreSQL (user postgres) on a fresh database,
  and Redis;
- ``TOKEN``: the token of an execution waiting for one, as ``orchestrator run`` printed it.

A block whose lines are all servers (``orchestrator serve``) is left running, as in a terminal of
its own, for the blocks after it. In a block that mixes them with other commands, the servers run in
the background while the block goes on; then the hello example runs through them, and they are
stopped and must end cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

CHECKOUT = Path(__file__).resolve().parents[2]
SERVER = re.compile(r"^\s*orchestrator\s+(serve|worker|scheduler)\b")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# What a block may not take from the machine it runs on: it must work with nothing configured.
NOT_INHERITED = ("ORCHESTRATOR_", "AWS_", "PYTHONPATH", "CELERY_")
CHECK_CLUSTER = 'orchestrator run examples/hello/hello.asl.json --input \'{"name": "Ada"}\''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Background:
    """A process a block left running, with its output in a file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (as systemd and Kubernetes stop it); its exit status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            raise AssertionError(f"{self.name} did not stop within {timeout} s:\n{self.output()[-3000:]}") from None


class Newcomer:
    """A fresh HOME under ``root``; blocks run one after another, sharing it, as in one person's session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.background: list[Background] = []
        self.databases: list[str] = []

    def env(self) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
        # The installation the tests run in: its `orchestrator`, `python` and `aws` come first.
        environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
        environ["HOME"] = str(self.home)
        return environ

    @property
    def database(self) -> Path:
        """The embedded default's SQLite file in this HOME (`orchestrator.config`)."""
        return self.home / ".orchestrator" / "orchestrator.sqlite"

    def sh(self, script: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess[str]:
        return run(["bash", "-e", "-o", "pipefail", "-c", script], None, {**self.env(), **extra}, timeout)

    def python(self, code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """In a fresh interpreter reading the code from stdin, so the checkout is on its path as for ``python -c``."""
        return run([sys.executable, "-"], code, self.env(), timeout)

    def start(self, name: str, script: str) -> Background:
        log = self.root / f"{name}-{len(self.background)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {script}"],
                cwd=CHECKOUT,
                env=self.env(),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Background(name, process, log)
        self.background.append(started)
        return started

    def fresh_database(self) -> str:
        """A new, empty PostgreSQL database; its name."""
        name = f"readme_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return name

    def close(self) -> None:
        problems = []
        for started in reversed(self.background):
            try:
                started.stop()
            except AssertionError as exc:
                problems.append(str(exc))
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for name in self.databases:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        assert not problems, problems


def run(argv: list[str], stdin: str | None, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``argv`` in the checkout, in a session of its own: on a timeout, everything it started is killed too."""
    with subprocess.Popen(
        argv,
        cwd=CHECKOUT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            stderr += f"\n(killed after {timeout} s)"
        return subprocess.CompletedProcess(argv, process.wait(), stdout, stderr)


def wait_for_http(url: str, process: Background | None = None, timeout: float = 60) -> httpx.Response:
    """The first answer of a server coming up (a process that exits meanwhile fails at once)."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.process.poll() is not None:
            raise AssertionError(f"{process.name} exited with {process.process.returncode}:\n{process.output()}")
        try:
            return httpx.get(url, timeout=5, follow_redirects=True)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing answered at {url} within {timeout} s") from None
            time.sleep(0.2)


def servers_in(text: str) -> list[str]:
    """The lines of a block that start a server (serve, worker, scheduler)."""
    return [line for line in text.splitlines() if SERVER.match(line)]


def with_servers_in_background(text: str, check: str) -> str:
    """The block with each server line run in the background (its output in ``$READMELOGS``), then
    ``check``, then the servers stopped with SIGTERM: the script fails if one does not exit 0, or 143 (uvicorn
    raises the SIGTERM again once it has shut down gracefully, and systemd counts that a clean stop)."""
    lines, servers = [], []
    for line in text.splitlines():
        if not SERVER.match(line):
            lines.append(line)
            continue
        command = re.sub(r"\s+#.*$", "", line).strip()
        log = f'"$READMELOGS/server-{len(servers)}.log"'
        lines += [f"{command} > {log} 2>&1 &", f"readme_server_{len(servers)}=$!"]
        servers.append((command, log))
    lines += ["# -- added by tests/test_readme.py: use the servers, then stop them as systemd would", check]
    lines += [f'kill -TERM "$readme_server_{index}"' for index in range(len(servers))]
    for index, (command, log) in enumerate(servers):
        lines.append(
            f'readme_status=0; wait "$readme_server_{index}" || readme_status=$?; '
            f'case $readme_status in 0|143) ;; *) echo "{command}: exit status $readme_status after SIGTERM:" >&2; '
            f"cat {log} >&2; exit 1;; esac"
        )
    return "\n".join(lines) + "\n"
