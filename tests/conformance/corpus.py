"""Loading the conformance corpus and judging a run of one case, with the corpus's own tools."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sys
from pathlib import Path
from typing import Any

from orchestrator.engine.local import VirtualClock
from tests.conformance import history
from tests.shared import shared_folder

HERE = Path(__file__).resolve().parent
KNOWN_FAILURES: dict[str, str] = json.loads((HERE / "known_failures.json").read_text())
KNOWN_HISTORY_DIFFERENCES: dict[str, str] = json.loads((HERE / "known_history_differences.json").read_text())


def corpus_dir() -> Path:
    """The folder of the corpus (holding run.py and cases/): ORCHESTRATOR_CONFORMANCE_DIR, or
    ../shared/conformance beside the checkout. A missing corpus raises: the tests fail, never skip."""
    return shared_folder("ORCHESTRATOR_CONFORMANCE_DIR", "conformance", "cases")


@functools.cache
def _runner() -> Any:
    """The corpus's run.py, imported as a module (its judge and its LocalEngine)."""
    sys.path.insert(0, str(corpus_dir()))
    import run  # type: ignore[import-not-found]

    return run


def pure_cases() -> list[dict[str, Any]]:
    folder = corpus_dir()
    cases = [json.loads(p.read_text()) for p in sorted((folder / "cases").glob("*.json"))]
    return [c for c in cases if not c.get("needs")]


def recorded_history(case: dict[str, Any]) -> list[dict[str, Any]]:
    return (case.get("recorded") or {}).get("history") or []


def check_history(case: dict[str, Any], ours: list[dict[str, Any]]) -> None:
    """Assert that ``ours`` has AWS's events and links, or differs as known_history_differences.json says."""
    found = history.difference(recorded_history(case), ours)
    reason = KNOWN_HISTORY_DIFFERENCES.get(case["id"])
    if reason is None:
        assert found is None, found
    else:
        assert found is not None, f"listed as a known difference ({reason}) but matches: remove it from the list"


def judge_local(case: dict[str, Any]) -> tuple[str, str, Any]:
    """Run ``case`` through run_local as the corpus runner does; returns (verdict, category, details)."""
    run = _runner()
    engine = _local_engine()
    actual = engine.run(
        case["definition"],
        json.dumps(case["input"]),
        case.get("state_machine_type", "STANDARD"),
        case.get("start") or "start_execution",
        30.0,
        pinned_now=recorded_moment(case) if case.get("time_sensitive_input") else None,
    )
    return run.judge(case, actual)


def recorded_moment(case: dict[str, Any]) -> dt.datetime:
    """When AWS ran ``case`` (UTC): a time-sensitive case means what it meant then."""
    moment = _runner().recorded_moment(case)
    assert moment is not None, f"{case['id']} is time-sensitive but has no recorded_date"
    return moment  # type: ignore[no-any-return]


def clock_for(case: dict[str, Any]) -> VirtualClock:
    """A virtual clock for running ``case``: at its recording date when its input holds timestamps
    computed then, so the case passes or fails the same way on every day it is run."""
    return VirtualClock(recorded_moment(case) if case.get("time_sensitive_input") else None)


_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z$")


def input_as_of(case: dict[str, Any], now: dt.datetime) -> Any:
    """The case's input for an engine that runs on the wall clock (a real worker): a time-sensitive
    case's timestamps are moved by as much as ``now`` is past the recording, which is the same as
    running the engine on a virtual clock at the recording date (a Wait's delay, the only thing
    these timestamps feed, keeps its length)."""
    if not case.get("time_sensitive_input"):
        return case["input"]
    shift = now - recorded_moment(case)
    return _shift_timestamps(case["input"], shift)


def _shift_timestamps(value: Any, shift: dt.timedelta) -> Any:
    if isinstance(value, dict):
        return {key: _shift_timestamps(item, shift) for key, item in value.items()}
    if isinstance(value, list):
        return [_shift_timestamps(item, shift) for item in value]
    if isinstance(value, str) and (match := _TIMESTAMP.match(value)):
        moment = dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=dt.UTC) + shift
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + (match.group(2) or "") + "Z"
    return value


@functools.cache
def _local_engine() -> Any:
    return _runner().LocalEngine()
