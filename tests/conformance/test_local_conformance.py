"""The recorded AWS executions of ../shared/conformance, run through `run_local`.

Every pure case (one that needs no AWS service) must give AWS's recorded status, output, error and
cause, compared with the corpus's own placeholder-aware judge. Cases known to fail are listed, with
the reason, in known_failures.json: an unlisted failure fails the build, and so does a listed case
that passes (the list only shrinks).

The corpus path comes from ORCHESTRATOR_CONFORMANCE_DIR (`.ci/run` sets it); without it there is
nothing to run here.
"""

from __future__ import annotations

import json

import pytest

from tests.conformance.corpus import KNOWN_FAILURES, judge_local, pure_cases

CASES = pure_cases()


def test_known_failures_are_real_cases() -> None:
    # A listed id that names no case would hide nothing and never shrink.
    if CASES:
        ids = {c["id"] for c in CASES}
        assert not set(KNOWN_FAILURES) - ids


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_matches_aws(case: dict) -> None:
    verdict, category, details = judge_local(case)
    reason = KNOWN_FAILURES.get(case["id"])
    if reason is None:
        assert verdict == "pass", f"{category}: {json.dumps(details, default=str)[:1500]}"
    else:
        assert verdict != "pass", f"listed as a known failure ({reason}) but passes: remove it from the list"
