"""The recorded AWS executions of ../shared/conformance, run through `run_local`.

Every pure case (one that needs no AWS service) must give AWS's recorded status, output, error and
cause, compared with the corpus's own placeholder-aware judge; and where AWS's history was recorded,
the same event types in the same order with the same previousEventIds (`history.difference`). Cases
known to fail are listed, with the reason, in known_failures.json (known_history_differences.json for
histories): an unlisted failure fails the build, and so does a listed case that passes (the lists
only shrink).

The corpus path comes from ORCHESTRATOR_CONFORMANCE_DIR, or is ../shared/conformance beside the
checkout; without either, collecting this module fails. A case whose input holds timestamps computed
when it was recorded (`time_sensitive_input`) runs on a virtual clock at its recording date.
"""

from __future__ import annotations

import json

import pytest

from orchestrator import run_local
from tests.conformance.corpus import (
    KNOWN_FAILURES,
    KNOWN_HISTORY_DIFFERENCES,
    check_history,
    clock_for,
    corpus_dir,
    judge_local,
    pure_cases,
    recorded_history,
)

CASES = pure_cases()
WITH_HISTORY = [c for c in CASES if recorded_history(c)]


def test_known_failures_are_real_cases() -> None:
    # A listed id that names no case would hide nothing and never shrink.
    assert CASES, "the corpus holds no pure case"
    assert not set(KNOWN_FAILURES) - {c["id"] for c in CASES}


def test_known_history_differences_are_recorded_cases() -> None:
    recorded = {p.stem for p in (corpus_dir() / "cases").glob("*.json")}
    assert not set(KNOWN_HISTORY_DIFFERENCES) - recorded


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_matches_aws(case: dict) -> None:
    verdict, category, details = judge_local(case)
    reason = KNOWN_FAILURES.get(case["id"])
    if reason is None:
        assert verdict == "pass", f"{category}: {json.dumps(details, default=str)[:1500]}"
    else:
        assert verdict != "pass", f"listed as a known failure ({reason}) but passes: remove it from the list"


@pytest.mark.parametrize("case", WITH_HISTORY, ids=[c["id"] for c in WITH_HISTORY])
def test_case_history_matches_aws(case: dict) -> None:
    result = run_local(
        case["definition"],
        case["input"],
        state_machine_type=case.get("state_machine_type", "STANDARD"),
        clock=clock_for(case),
    )
    check_history(case, result.history)
