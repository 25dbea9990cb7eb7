"""Loading the conformance corpus and judging a run of one case, with the corpus's own tools."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.conformance import history

HERE = Path(__file__).resolve().parent
KNOWN_FAILURES: dict[str, str] = json.loads((HERE / "known_failures.json").read_text())
KNOWN_HISTORY_DIFFERENCES: dict[str, str] = json.loads((HERE / "known_history_differences.json").read_text())


def corpus_dir() -> Path | None:
    """The folder of the corpus (holding run.py and cases/), from ORCHESTRATOR_CONFORMANCE_DIR."""
    value = os.environ.get("ORCHESTRATOR_CONFORMANCE_DIR")
    if not value:
        return None
    path = Path(value)
    if not (path / "cases").is_dir():
        raise RuntimeError(f"ORCHESTRATOR_CONFORMANCE_DIR={value} has no cases/ folder")
    return path


@functools.cache
def _runner() -> Any:
    """The corpus's run.py, imported as a module (its judge and its LocalEngine)."""
    folder = corpus_dir()
    assert folder is not None
    sys.path.insert(0, str(folder))
    import run  # type: ignore[import-not-found]

    return run


def pure_cases() -> list[dict[str, Any]]:
    folder = corpus_dir()
    if folder is None:
        return []
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
    )
    return run.judge(case, actual)


@functools.cache
def _local_engine() -> Any:
    return _runner().LocalEngine()
