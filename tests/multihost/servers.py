"""The processes on the hosts: a PostgreSQL and a Redis of their own, and the orchestrator's.

Each runs inside its host's namespace (``ip netns exec``), in a process group of its own, writing
its log to the run's temporary directory. PostgreSQL is initialised in that directory and run as
the ``postgres`` user (initdb refuses root), listening on its host's address only, with its Unix
socket in its own directory (the machine's PostgreSQL keeps the usual one).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.multihost.network import SUBNET, Host

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("ORCHESTRATOR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_PORT = 5432
REDIS_PORT = 6379


class ServerError(AssertionError):
    """A server of the test could not be set up or did not answer."""


class Process:
    """A long-running process on a host, with its log."""

    def __init__(self, name: str, host: Host, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.host = host
        self.log = log
        with log.open("w") as sink:  # the child keeps its own copy of the descriptor
            self.handle = subprocess.Popen(
                host.exec_argv(argv), env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.handle.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the process group (a prefork worker's pool processes too), then make sure it is gone."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.handle.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.handle.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.handle.pid, signal.SIGKILL)
        self.handle.wait(timeout=20)


def _run(argv: list[str], what: str, timeout: float = 60) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise ServerError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Postgres:
    """A PostgreSQL cluster initialised for the run, served from ``host``; `stop` and `start` at will."""

    def __init__(self, host: Host, directory: Path, settings: str = "") -> None:
        self.host = host
        self.settings = [item.strip() for item in settings.split(",") if item.strip()]
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        if not (PG_BIN / "initdb").exists():
            raise ServerError(f"PostgreSQL binaries not found in {PG_BIN} (ORCHESTRATOR_TEST_PG_BIN)")
        user = pwd.getpwnam("postgres")
        directory.mkdir(parents=True)
        os.chown(directory, user.pw_uid, user.pw_gid)
        _run(
            self._as_postgres(
                str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
            ),
            "initdb",
        )
        # The hosts reach it over the test's private subnet, without a password (as the machine's own).
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {SUBNET}.0/24 trust\n")

    @staticmethod
    def _as_postgres(*argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{self.host.address}:{PG_PORT}/{database}"

    def start(self) -> None:
        options = (
            f"-c listen_addresses={self.host.address} -c port={PG_PORT} -c unix_socket_directories={self.directory} "
            "-c max_connections=200" + "".join(f" -c {item}" for item in self.settings)
        )
        argv = self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start"
        )
        _run(self.host.exec_argv(argv), f"starting PostgreSQL on {self.host.name}\n{self._log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        argv = self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        _run(self.host.exec_argv(argv), f"stopping PostgreSQL on {self.host.name}")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        if self.running():
            with contextlib.suppress(ServerError, subprocess.TimeoutExpired):
                self.stop("immediate")

    def create_database(self, name: str) -> None:
        psql = self._as_postgres(
            str(PG_BIN / "psql"), "-h", self.host.address, "-U", "postgres", "-c", f'CREATE DATABASE "{name}"'
        )
        _run(self.host.exec_argv(psql), f"creating database {name}")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""


def start_redis(host: Host, directory: Path, env: dict[str, str]) -> Process:
    """A Redis without persistence, bound to ``host``'s address."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerError("redis-server is not on PATH")
    directory.mkdir(parents=True, exist_ok=True)
    argv = [
        binary, "--bind", host.address, "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no",
        "--protected-mode", "no", "--dir", str(directory), "--daemonize", "no",
    ]  # fmt: skip
    return Process("redis", host, argv, env, directory / "redis.log")


def orchestrator_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator.cli", *args]


def wait_until(predicate: object, timeout: float, what: str, poll: float = 0.1) -> object:
    """Poll ``predicate`` until it returns something true; fail loudly after ``timeout`` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)
