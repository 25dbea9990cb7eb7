"""The benchmark's handlers, and the measuring hooks its workers switch on from the environment.

bench/durable.py starts ``orchestrator worker`` processes with
``ORCHESTRATOR_HANDLER_MODULES=bench.handlers``. The handlers do nothing:

- ``noop``: the Lambda function of the Task states (``arn:aws:lambda:...:function:noop``);
- ``nap``: sleeps ``seconds`` (bench/recovery.py: Tasks that keep a worker busy, as real ones do);
- ``arn:aws:states:::sqs:sendMessage.waitForTaskToken``: "sends" the token and returns; the
  execution then waits for SendTaskSuccess.

Two hooks, off unless their variable names a directory (the worker then writes one file per
process there when it shuts down):

- ``BENCH_PROFILE_DIR``: cProfile, counting CPU time, in every worker process (the prefork
  parent, which consumes from the broker, and each pool process, which runs the tasks) from
  when it is ready to when it stops: ``profile-<pid>.prof``.
- ``BENCH_TIMING_DIR``: wall and CPU time per Celery task, split into the handler, the
  transaction's body (``operations.advance``), the interpreter (``engine.step.step``), the
  commit, the pool's pre-ping, the SQL statements (count, and time in the driver; psycopg sends
  a transaction's BEGIN with its first statement) and the publishing after commit:
  ``timing-<pid>.json``.

The hooks wrap module attributes the runtime looks up at call time; they change no behaviour.
``BENCH_READY_FILE``: a file the worker creates once it consumes (the benchmark waits for it).
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from orchestrator import handler

WAIT_FOR_TOKEN = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


@handler("noop")
def noop(payload: Any, context: Any) -> dict[str, Any]:
    return {}


@handler("nap")
def nap(payload: Any, context: Any) -> dict[str, Any]:
    time.sleep(float(payload.get("seconds", 0.5)))
    return {}


@handler(WAIT_FOR_TOKEN)
def send_message(payload: Any, context: Any) -> dict[str, Any]:
    return {"MessageId": "bench"}


# -- cProfile --------------------------------------------------------------------------------------


class _Profiling:
    """One profiler per process, from when it starts consuming (imports and start-up left out) to
    when its Celery part shuts down. It counts CPU time, not wall time: waiting for the broker or
    the database is not a cost of the code that waits."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.profiler: cProfile.Profile | None = None

    def start(self, **_: Any) -> None:
        # A pool process inherits the parent's profiler with fork; it gets one of its own.
        if self.profiler is not None:
            self.profiler.disable()
        self.profiler = cProfile.Profile(time.process_time)
        self.profiler.enable()

    def dump(self, **_: Any) -> None:
        if self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(self.directory / f"profile-{os.getpid()}.prof")


# -- phase timings ---------------------------------------------------------------------------------


class _Timing:
    """Sums of wall and CPU seconds by phase, and counts, for one process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self.started: dict[str, tuple[float, float]] = {}
        self.baseline = _process_cpu()  # moved to when the process starts consuming (imports excluded)

    def ready(self, **_: Any) -> None:
        self.baseline = _process_cpu()

    def add(self, phase: str, wall: float, cpu: float = 0.0) -> None:
        self.wall[phase] += wall
        self.cpu[phase] += cpu
        self.count[phase] += 1

    def timed(self, phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(phase, time.perf_counter() - wall, time.process_time() - cpu)

        wrapper.__wrapped__ = function  # type: ignore[attr-defined]
        return wrapper

    def task_started(self, task_id: str | None = None, **_: Any) -> None:
        self.started[task_id or ""] = (time.perf_counter(), time.process_time())

    def task_ended(self, task_id: str | None = None, task: Any = None, **_: Any) -> None:
        began = self.started.pop(task_id or "", None)
        if began is not None:
            name = getattr(task, "name", "?")
            self.add(f"task {name}", time.perf_counter() - began[0], time.process_time() - began[1])

    def dump(self, **_: Any) -> None:
        report = {
            "pid": os.getpid(),
            "process_cpu_s": _process_cpu() - self.baseline,
            "phases": {
                phase: {"count": self.count[phase], "wall_s": self.wall[phase], "cpu_s": self.cpu[phase]}
                for phase in sorted(self.count)
            },
        }
        (self.directory / f"timing-{os.getpid()}.json").write_text(json.dumps(report))


def _process_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _timed_session_scope(timing: _Timing, original: Callable[..., Any]) -> Callable[..., Any]:
    """``session_scope`` whose exit (the commit) is timed on its own."""

    @contextlib.contextmanager
    def scope(url: str) -> Iterator[Any]:
        manager = original(url)
        session = manager.__enter__()
        try:
            yield session
        except BaseException as exc:
            if not manager.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            wall, cpu = time.perf_counter(), time.process_time()
            manager.__exit__(None, None, None)
            timing.add("commit", time.perf_counter() - wall, time.process_time() - cpu)

    return scope


def _install_timing(directory: Path) -> None:
    from celery import signals
    from sqlalchemy import event
    from sqlalchemy.dialects.postgresql._psycopg_common import _PGDialect_common_psycopg
    from sqlalchemy.engine import Engine
    from sqlalchemy.engine.default import DefaultDialect

    import orchestrator.engine.step as step_module
    import orchestrator.runtime.operations as operations
    import orchestrator.runtime.tasks as tasks

    timing = _Timing(directory)
    tasks.invoke = timing.timed("handler (integrations.invoke)", tasks.invoke)
    tasks.publish = timing.timed("publish after commit", tasks.publish)
    tasks.session_scope = _timed_session_scope(timing, tasks.session_scope)
    operations.advance = timing.timed("transaction body (operations.advance)", operations.advance)
    step_module.step = timing.timed("interpreter (engine.step.step)", step_module.step)
    DefaultDialect.do_ping = timing.timed("pool pre-ping (SELECT 1)", DefaultDialect.do_ping)  # type: ignore[method-assign]
    psycopg_dialect = _PGDialect_common_psycopg
    psycopg_dialect.do_ping = timing.timed("pool pre-ping (SELECT 1)", psycopg_dialect.do_ping)  # type: ignore[method-assign]

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        began = conn.info.pop("bench_started", None)
        if began is not None:
            verb = statement.lstrip().split(None, 1)[0].upper()
            timing.add(f"sql {verb}", time.perf_counter() - began)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    signals.task_prerun.connect(timing.task_started, weak=False)
    signals.task_postrun.connect(timing.task_ended, weak=False)
    signals.worker_ready.connect(timing.ready, weak=False)
    signals.worker_process_init.connect(lambda **_: _reset(timing), weak=False)
    signals.worker_process_shutdown.connect(timing.dump, weak=False)
    signals.worker_shutdown.connect(timing.dump, weak=False)


def _reset(timing: _Timing) -> None:
    """A pool process starts with empty sums (fork copied the parent's)."""
    timing.wall.clear()
    timing.cpu.clear()
    timing.count.clear()
    timing.ready()


def _install_profiling(directory: Path) -> None:
    from celery import signals

    profiling = _Profiling(directory)
    signals.worker_ready.connect(profiling.start, weak=False)
    signals.worker_process_init.connect(profiling.start, weak=False)
    signals.worker_process_shutdown.connect(profiling.dump, weak=False)
    signals.worker_shutdown.connect(profiling.dump, weak=False)


def _install_ready_file(path: Path) -> None:
    from celery import signals

    signals.worker_ready.connect(lambda **_: path.write_text(str(os.getpid())), weak=False)


if os.environ.get("BENCH_READY_FILE"):
    _install_ready_file(Path(os.environ["BENCH_READY_FILE"]))
if os.environ.get("BENCH_TIMING_DIR"):
    _install_timing(Path(os.environ["BENCH_TIMING_DIR"]))
if os.environ.get("BENCH_PROFILE_DIR"):
    _install_profiling(Path(os.environ["BENCH_PROFILE_DIR"]))
