#!/usr/bin/env python3
"""Benchmark: `orchestrator.run_local` against moto's ASL interpreter, on the same definitions.

    python bench/local_interpreter.py [--runs 3] [--warmup 1] [--only loop,map,chain]
                                      [--json] [--profile] [--profile-top 25] [--no-moto]

Three workloads, each run by both engines in the same process:

    loop   a 1,000-iteration Choice loop: a Pass adds 1 with States.MathAdd, a Choice loops back
           while the counter is below 1,000, then a Succeed;
    map    an inline Map over 1,000 items, each iteration two small Pass states;
    chain  100 Pass states in a row.

moto (``moto[stepfunctions]``, the project's ``bench`` extra) runs executions in a thread of its
own; it is driven as a user drives it, through boto3 under ``mock_aws`` with
``execute_state_machine`` on: CreateStateMachine, StartExecution, then DescribeExecution until
the execution ends. Its timed span is that whole sequence; run_local's is one call, which parses
the definition too, so both engines pay for parsing.

The first (warm-up) run of each engine and workload is also the check: both must end in the same
status with the same output, and agree on the number of state transitions (the *StateEntered
events of the history). The timed runs follow; the best (shortest) one counts. The issue's goal
is a run_local at least 20 times faster than moto on every workload.

``--profile`` then runs run_local under cProfile on each workload and prints where the time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

GOAL_SPEEDUP = 20.0
NOISY_PERCENT = 10.0  # CPU used by other processes, in % of all cores, that makes timings suspect
ROLE_ARN = "arn:aws:iam::123456789012:role/bench"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


# -- workloads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    definition: dict[str, Any]
    input: Any


def choice_loop(iterations: int = 1000) -> Workload:
    definition = {
        "StartAt": "Increment",
        "States": {
            "Increment": {
                "Type": "Pass",
                "Parameters": {"i.$": "States.MathAdd($.i, 1)"},
                "Next": "Check",
            },
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.i", "NumericLessThan": iterations, "Next": "Increment"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    return Workload("loop", f"Choice loop x{iterations} (States.MathAdd)", definition, {"i": 0})


def inline_map(items: int = 1000) -> Workload:
    iteration = {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "Wrap",
        "States": {
            "Wrap": {"Type": "Pass", "Parameters": {"n.$": "$"}, "Next": "Tag"},
            "Tag": {"Type": "Pass", "Result": "done", "ResultPath": "$.tag", "End": True},
        },
    }
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": iteration, "End": True},
        },
    }
    return Workload("map", f"inline Map over {items} items (2 Pass each)", definition, {"items": list(range(items))})


def pass_chain(length: int = 100) -> Workload:
    states: dict[str, Any] = {}
    for index in range(length):
        last = index == length - 1
        states[f"P{index}"] = {"Type": "Pass", "End": True} if last else {"Type": "Pass", "Next": f"P{index + 1}"}
    definition = {"StartAt": "P0", "States": states}
    return Workload("chain", f"Pass chain of {length} states", definition, {"payload": "x" * 64, "n": 1})


WORKLOADS: dict[str, Callable[[], Workload]] = {"loop": choice_loop, "map": inline_map, "chain": pass_chain}


# -- measurements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One execution: how long it took and how it ended."""

    wall: float  # seconds
    cpu: float  # seconds of this process's CPU time (all threads) in the same span
    status: str
    output: Any
    transitions: int | None = None  # counted on the checked (warm-up) run only


@dataclass
class Figures:
    engine: str
    workload: str
    transitions: int
    output: Any  # of the checked run; every timed run must end the same
    runs: list[Run] = field(default_factory=list)

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda run: run.wall)

    @property
    def rate(self) -> float:
        return self.transitions / self.best.wall

    def to_json(self) -> dict[str, Any]:
        best = self.best
        return {
            "engine": self.engine,
            "workload": self.workload,
            "transitions": self.transitions,
            "best_wall_s": best.wall,
            "best_cpu_s": best.cpu,
            "transitions_per_s": self.rate,
            "walls_s": [run.wall for run in self.runs],
        }


def state_transitions(event_types: Iterator[str]) -> int:
    return sum(1 for event_type in event_types if event_type.endswith("StateEntered"))


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """Measures wall and process CPU time of the block: yields [wall, cpu], filled on exit."""
    span = [0.0, 0.0]
    wall, cpu = time.perf_counter(), time.process_time()
    yield span
    span[0], span[1] = time.perf_counter() - wall, time.process_time() - cpu


# -- engines -----------------------------------------------------------------------------------


class LocalEngine:
    name = "run_local"

    def __init__(self) -> None:
        from orchestrator import run_local

        self._run_local = run_local

    def run(self, workload: Workload, check: bool) -> Run:
        execution_input = copy.deepcopy(workload.input)  # outside the timed span
        with timed() as span:
            result = self._run_local(workload.definition, execution_input)
        transitions = state_transitions(e.type for e in result.events) if check else None
        return Run(span[0], span[1], result.status, result.output, transitions)

    def close(self) -> None:
        pass


class MotoEngine:
    """moto's interpreter through boto3, one clean backend per execution.

    Every execution starts on empty backends (reset after each run): moto keeps executions and
    their histories in its backend and copies state machines on StartExecution, so a long-lived
    backend would make later runs pay for earlier ones. The parser's class-level scope stack is
    emptied too, since a definition that failed to parse could leave entries in it.
    """

    name = "moto"

    def __init__(self, timeout: float, max_poll: float) -> None:
        import boto3
        from moto import mock_aws

        for logger in ("moto", "moto.stepfunctions", "moto.stepfunctions.parser"):
            logging.getLogger(logger).setLevel(logging.CRITICAL)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self._client = boto3.client(
            "stepfunctions",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        self._timeout = timeout
        self._max_poll = max_poll

    def run(self, workload: Workload, check: bool) -> Run:
        client = self._client
        definition, execution_input = json.dumps(workload.definition), json.dumps(workload.input)
        name = f"bench-{uuid.uuid4().hex[:12]}"
        _clear_moto_parser_scopes()
        with timed() as span:
            machine = client.create_state_machine(name=name, definition=definition, roleArn=ROLE_ARN)
            started = client.start_execution(
                stateMachineArn=machine["stateMachineArn"], input=execution_input, name=name
            )
            description = self._wait(started["executionArn"], time.perf_counter())
        transitions = self._transitions(started["executionArn"]) if check else None
        client.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
        self._mock.reset()
        output = description.get("output")
        return Run(
            span[0],
            span[1],
            description["status"],
            None if output is None else json.loads(output),
            transitions,
        )

    def _wait(self, execution_arn: str, since: float) -> dict[str, Any]:
        # Each poll takes the GIL from moto's execution thread: poll at most every 2% of the
        # time waited so far (between 1 ms and --max-poll), which bounds the measuring error.
        while True:
            description = self._client.describe_execution(executionArn=execution_arn)
            if description["status"] in TERMINAL:
                return description
            waited = time.perf_counter() - since
            if waited > self._timeout:
                self._client.stop_execution(executionArn=execution_arn)
                raise TimeoutError(f"moto's execution still running after {self._timeout:.0f} s")
            time.sleep(min(self._max_poll, max(0.001, waited / 50)))

    def _transitions(self, execution_arn: str) -> int:
        pages = self._client.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        return state_transitions(event["type"] for page in pages for event in page["events"])

    def close(self) -> None:
        self._mock.stop()


def _clear_moto_parser_scopes() -> None:
    with contextlib.suppress(ImportError):
        from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

        scopes = getattr(Preprocessor, "_query_language_per_scope", None)
        if isinstance(scopes, list):
            scopes.clear()


# -- machine load ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSample:
    """Machine-wide CPU time from /proc/stat (seconds, all cores), this process's, the load averages."""

    busy: float
    total: float
    own: float
    loadavg: tuple[float, float, float]

    @staticmethod
    def take() -> CpuSample | None:
        try:
            with open("/proc/stat") as stat:
                jiffies = [int(value) for value in stat.readline().split()[1:]]
        except OSError:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        idle = jiffies[3] + (jiffies[4] if len(jiffies) > 4 else 0)  # idle + iowait
        times = os.times()
        return CpuSample((sum(jiffies) - idle) / tick, sum(jiffies) / tick, times.user + times.system, os.getloadavg())


def machine_load(before: CpuSample | None, after: CpuSample | None) -> dict[str, Any]:
    """How busy the machine was between two samples, and how much of that was other processes.

    Other processes matter even with a core to spare: virtual CPUs can share a physical core and
    its caches, and a busy neighbour was seen to slow run_local by up to half.
    """
    load: dict[str, Any] = {"cores": os.cpu_count()}
    if before and after and after.total > before.total:
        span = after.total - before.total
        busy = after.busy - before.busy
        others = max(0.0, busy - (after.own - before.own))
        load["busy_percent"] = round(100 * busy / span, 1)
        load["others_busy_percent"] = round(100 * others / span, 1)
        load["loadavg_1m"] = [round(before.loadavg[0], 2), round(after.loadavg[0], 2)]
    return load


# -- the benchmark -----------------------------------------------------------------------------


class Disagreement(Exception):
    """The two engines ended the same workload differently."""


def measure(engine: LocalEngine | MotoEngine, workload: Workload, runs: int, warmup: int) -> Figures:
    checked = engine.run(workload, check=True)
    if checked.status != "SUCCEEDED":
        raise Disagreement(f"{engine.name} ended {workload.key} with {checked.status}")
    for _ in range(warmup - 1):
        engine.run(workload, check=False)
    assert checked.transitions is not None
    figures = Figures(engine.name, workload.key, checked.transitions, checked.output)
    for _ in range(runs):
        run = engine.run(workload, check=False)
        if run.status != checked.status or run.output != checked.output:
            raise Disagreement(f"{engine.name} ended {workload.key} differently from one run to the next")
        figures.runs.append(run)
    return figures


def check_agreement(local: Figures, moto: Figures) -> None:
    if local.transitions != moto.transitions:
        raise Disagreement(
            f"{local.workload}: run_local counts {local.transitions} state transitions, moto {moto.transitions}"
        )
    if local.output != moto.output:
        raise Disagreement(f"{local.workload}: run_local and moto produced different outputs")


def speedup(local: Figures | None, moto: Figures | None) -> float | None:
    return moto.best.wall / local.best.wall if local and moto else None


def print_table(workloads: list[Workload], results: dict[str, dict[str, Figures]], runs: int) -> None:
    print(f"\nbest of {runs} runs (after warm-up); speedup = moto wall / run_local wall\n")
    header = f"{'workload':<8} {'engine':<10} {'transitions':>11} {'wall ms':>10} {'cpu/wall':>8} {'transitions/s':>14}"
    print(header + f" {'speedup':>9}  goal")
    print("-" * (len(header) + 17))
    for workload in workloads:
        local, moto = results[workload.key].get("run_local"), results[workload.key].get("moto")
        for figures in (moto, local):
            if figures is None:  # the engine failed the workload: see the disagreements
                continue
            best = figures.best
            line = (
                f"{workload.key:<8} {figures.engine:<10} {figures.transitions:>11} {1000 * best.wall:>10.1f} "
                f"{best.cpu / best.wall:>8.2f} {figures.rate:>14,.0f}"
            )
            if figures is local and moto is not None:
                ratio = moto.best.wall / local.best.wall
                met = "met" if ratio >= GOAL_SPEEDUP else "MISSED"
                line += f" {ratio:>8.1f}x  {met} ({GOAL_SPEEDUP:.0f}x)"
            print(line)
    print()
    for workload in workloads:
        print(f"  {workload.key:<6} {workload.title}")


# -- profile -----------------------------------------------------------------------------------


def profile(workload: Workload, top: int, repeats: int) -> dict[str, Any]:
    """Runs run_local under cProfile and returns the top functions by cumulative and own time."""
    from orchestrator import run_local

    run_local(workload.definition, copy.deepcopy(workload.input))  # warm caches out of the profile
    profiler = cProfile.Profile()
    for _ in range(repeats):
        execution_input = copy.deepcopy(workload.input)
        profiler.enable()
        run_local(workload.definition, execution_input)
        profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = [
        {
            "function": _where(func),
            "calls": calls,
            "own_s": own,
            "cumulative_s": cumulative,
        }
        for func, (_, calls, own, cumulative, _) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    # Percentages of the time inside run_local (its cumulative time), the figure that matters.
    total = max((row["cumulative_s"] for row in rows if row["function"].endswith("(run_local)")), default=0.0)
    total = total or sum(row["own_s"] for row in rows) or 1.0
    for row in rows:
        row["own_percent"] = round(100 * row["own_s"] / total, 1)
        row["cumulative_percent"] = round(100 * row["cumulative_s"] / total, 1)
    by_cumulative = sorted(rows, key=lambda row: -row["cumulative_s"])
    by_own = sorted(rows, key=lambda row: -row["own_s"])
    return {
        "workload": workload.key,
        "repeats": repeats,
        "profiled_s": total,
        "by_cumulative": by_cumulative[:top],
        "by_own": by_own[:top],
    }


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":  # a builtin
        return name
    for marker in ("/orchestrator/", "/site-packages/", "/lib/python"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/orchestrator/":
                filename = "orchestrator/" + filename
            elif marker == "/lib/python":
                filename = filename.split("/", 1)[-1]
            break
    return f"{filename}:{line}({name})"


def print_profile(report: dict[str, Any]) -> None:
    print(
        f"\nprofile of run_local on {report['workload']} "
        f"({report['repeats']} runs, {1000 * report['profiled_s']:.0f} ms inside run_local under cProfile)"
    )
    for title, key in (("by cumulative time", "by_cumulative"), ("by own time", "by_own")):
        print(f"  {title}:")
        print(f"    {'cum %':>6} {'own %':>6} {'calls':>9}  function")
        for row in report[key]:
            print(
                f"    {row['cumulative_percent']:>6.1f} {row['own_percent']:>6.1f} {row['calls']:>9}  {row['function']}"
            )


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per engine and workload (best counts)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs, the first also checks results")
    parser.add_argument("--only", default="loop,map,chain", help="comma-separated workloads to run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--no-moto", action="store_true", help="time run_local alone")
    parser.add_argument("--profile", action="store_true", help="then profile run_local on each workload")
    parser.add_argument("--profile-top", type=int, default=25, help="functions shown per profile listing")
    parser.add_argument("--profile-runs", type=int, default=3, help="run_local calls per profile")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a moto run is given up")
    parser.add_argument("--max-poll", type=float, default=0.02, help="longest pause between moto polls (s)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 1:
        parser.error("--runs and --warmup must be at least 1")
    unknown = set(args.only.split(",")) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose among {sorted(WORKLOADS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workloads = [WORKLOADS[key]() for key in args.only.split(",")]
    results: dict[str, dict[str, Figures]] = {workload.key: {} for workload in workloads}
    load: dict[str, Any] = {}
    # run_local first, before moto is even imported: its timings see a process holding only the
    # project, as a user's test run would.
    factories: list[Callable[[], LocalEngine | MotoEngine]] = [LocalEngine]
    if not args.no_moto:
        factories.append(lambda: MotoEngine(args.timeout, args.max_poll))
    failures: list[str] = []
    for factory in factories:
        before = CpuSample.take()
        engine = factory()
        try:
            for workload in workloads:
                if not args.json:
                    print(f"{engine.name}: {workload.key} ...", file=sys.stderr, flush=True)
                try:
                    results[workload.key][engine.name] = measure(engine, workload, args.runs, args.warmup)
                except Disagreement as exc:
                    failures.append(str(exc))
        finally:
            engine.close()
        load[engine.name] = machine_load(before, CpuSample.take())
    for workload in workloads:
        per = results[workload.key]
        if "run_local" in per and "moto" in per:
            try:
                check_agreement(per["run_local"], per["moto"])
            except Disagreement as exc:
                failures.append(str(exc))
    profiles = [profile(w, args.profile_top, args.profile_runs) for w in workloads] if args.profile else []

    if args.json:
        report = {
            "python": platform.python_version(),
            "runs": args.runs,
            "warmup": args.warmup,
            "goal_speedup": GOAL_SPEEDUP,
            "machine": load,
            "results": [figures.to_json() for per in results.values() for figures in per.values()],
            "speedups": {key: speedup(per.get("run_local"), per.get("moto")) for key, per in results.items()},
            "disagreements": failures,
            "profiles": profiles,
        }
        print(json.dumps(report, indent=2))
    else:
        print_table(workloads, results, args.runs)
        print(f"\npython {platform.python_version()}, {os.cpu_count()} cores; machine load while timing:")
        for name, figures in load.items():
            print(f"  {name:<10} {json.dumps(figures)}")
            if figures.get("others_busy_percent", 0) > NOISY_PERCENT:
                print(f"  warning: other processes were busy while {name} was timed; rerun on a quiet machine")
        for failure in failures:
            print(f"DISAGREEMENT: {failure}")
        for report in profiles:
            print_profile(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
