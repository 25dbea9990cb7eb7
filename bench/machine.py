"""What the benchmarks share: timing statistics, the machine's CPU split by process, subprocesses.

`bench/durable.py` and `bench/api.py` import it (``from bench.machine import ...``, the repository
root on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database (its SQLAlchemy URL), dropped on the way out.

    ``admin_url``: a libpq URL of a database to create and drop it from (``postgres`` by default)."""
    import psycopg

    from orchestrator.store.db import get_engine
    from orchestrator.store.migrate import upgrade

    name = f"{prefix}_{os.urandom(4).hex()}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def say(message: str) -> None:
    """Progress, on stderr (stdout may carry a --json report)."""
    print(message, file=sys.stderr, flush=True)


# -- statistics ------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (fraction in 0..1)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def milliseconds(seconds: list[float]) -> list[float]:
    return [1000 * value for value in seconds]


def distribution_ms(ms: list[float]) -> dict[str, float]:
    """Count, p50, p90, p99, min, max and mean of durations in milliseconds."""
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p90_ms": round(percentile(ms, 0.90), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


# -- machine load ----------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds: machine-wide busy and total (all cores), and per process with its category."""

    busy: float
    total: float
    processes: dict[int, tuple[str, float]]
    wall: float


class LoadMeter:
    """Splits the machine's CPU time among the benchmark's processes, the servers and the rest.

    A process belongs to a category by its process group (every process a benchmark starts leads a
    session of its own, its children included, and is `register`ed with its category), PostgreSQL
    backends by their database. Categories: the registered ones (``workers``, ``scheduler``,
    ``server``, ``clients``, ...), ``bench`` (the benchmark's own process group), ``postgres``
    (backends of ``own_databases``, and PostgreSQL's background processes), ``redis``, and
    ``others`` (the rest of the machine's busy time, processes that ended during the span included).

    ``connect``: a PostgreSQL connection (autocommit) that can read ``pg_stat_activity``.
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self.groups: dict[int, str] = {os.getpgrp(): "bench"}
        self.own_databases: set[str] = set()
        self._connect = connect
        self._admin: Any = None

    def register(self, pgid: int, category: str) -> None:
        self.groups[pgid] = category

    def forget(self, pgid: int) -> None:
        self.groups.pop(pgid, None)

    def _database_of(self) -> dict[int, str | None]:
        try:
            if self._admin is None or self._admin.closed:
                self._admin = self._connect()
            return dict(self._admin.execute("SELECT pid, datname FROM pg_stat_activity").fetchall())
        except Exception:  # the load split is best effort: without it, backends count as postgres
            return {}

    def _category(self, pid: int, comm: str, pgrp: int, databases: dict[int, str | None]) -> str:
        if pid == os.getpid():
            return "bench"
        if pgrp in self.groups:
            return self.groups[pgrp]
        if comm.startswith("postgres"):
            database = databases.get(pid)
            return "postgres" if database is None or database in self.own_databases else "others"
        if comm.startswith("redis-server"):
            return "redis"
        return "others"

    def sample(self) -> CpuSample:
        with open("/proc/stat") as stat:
            jiffies = [int(v) for v in stat.readline().split()[1:9]]
        idle = jiffies[3] + jiffies[4]
        databases = self._database_of()
        processes: dict[int, tuple[str, float]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat_file:
                    text = stat_file.read()
            except OSError:
                continue
            comm = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            pid = int(entry.name)
            ticks = int(fields[11]) + int(fields[12])
            processes[pid] = (self._category(pid, comm, int(fields[2]), databases), ticks / TICK)
        return CpuSample((sum(jiffies) - idle) / TICK, sum(jiffies) / TICK, processes, time.perf_counter())

    @staticmethod
    def between(before: CpuSample, after: CpuSample) -> dict[str, Any]:
        span = after.total - before.total
        if span <= 0:
            return {}
        used: dict[str, float] = {}
        for pid, (category, seconds) in after.processes.items():
            if category == "others":
                continue
            earlier = before.processes.get(pid)
            delta = seconds - (earlier[1] if earlier and earlier[0] == category else 0.0)
            used[category] = used.get(category, 0.0) + max(0.0, delta)
        busy = after.busy - before.busy
        used["others"] = max(0.0, busy - sum(used.values()))
        return {
            "wall_s": round(after.wall - before.wall, 3),
            "busy_percent": round(100 * busy / span, 1),
            "percent": {name: round(100 * seconds / span, 1) for name, seconds in sorted(used.items())},
            "cpu_s": {name: round(seconds, 3) for name, seconds in sorted(used.items())},
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }

    @contextlib.contextmanager
    def measure(self) -> Iterator[dict[str, Any]]:
        """``with meter.measure() as load:`` fills ``load`` when the block ends."""
        load: dict[str, Any] = {}
        before = self.sample()
        yield load
        load.update(self.between(before, self.sample()))


# -- processes -------------------------------------------------------------------------------------


class Process:
    """A subprocess in a process group of its own, with its output in a log file (or a pipe)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path, *, piped: bool = False) -> None:
        self.name = name
        self.log = log
        self.lines: queue.Queue[str] = queue.Queue()
        with log.open("w") as sink:
            self.handle = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdin=subprocess.PIPE if piped else subprocess.DEVNULL,
                stdout=subprocess.PIPE if piped else sink,
                stderr=sink,
                start_new_session=True,
                text=True,
            )
        if piped:
            threading.Thread(target=self._read, args=(self.handle.stdout,), daemon=True).start()

    @property
    def pid(self) -> int:
        return self.handle.pid

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def message(self, timeout: float) -> dict[str, Any]:
        """The next JSON line the child printed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return dict(json.loads(self.lines.get(timeout=1.0)))
            except queue.Empty:
                if not self.alive():
                    code = self.handle.returncode
                    raise RuntimeError(f"{self.name} exited ({code}): {self.output()[-2000:]}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} said nothing for {timeout:.0f} s") from None

    def tell(self, line: str) -> None:
        assert self.handle.stdin is not None
        self.handle.stdin.write(line + "\n")
        self.handle.stdin.flush()

    def alive(self) -> bool:
        return self.handle.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM to the leader (a worker's warm shutdown stops its pool), then SIGKILL to the group."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.handle.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                say(f"  {self.name} did not stop in {timeout:.0f} s; killing it")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.handle.wait(timeout=10)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)
