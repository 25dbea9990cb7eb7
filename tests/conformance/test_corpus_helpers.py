"""The helpers that let the corpus run the same way on every day and fail loudly when it is missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from orchestrator import run_local
from tests.conformance.corpus import clock_for, input_as_of, pure_cases, recorded_moment
from tests.shared import shared_folder

SENSITIVE = [c for c in pure_cases() if c.get("time_sensitive_input")]


def test_the_corpus_has_time_sensitive_cases() -> None:
    assert len(SENSITIVE) >= 1


@pytest.mark.parametrize("years_later", [0, 3, 40, 80])
def test_a_time_sensitive_case_ends_the_same_on_any_day(years_later: int) -> None:
    # The same case run as if today were years after its recording: the virtual clock keeps it at the
    # recording date, and the moved input keeps the Wait's delay, so the outcome never changes.
    for case in SENSITIVE:
        today = recorded_moment(case) + dt.timedelta(days=365 * years_later)
        clock = clock_for(case)
        shifted = input_as_of(case, today)
        moved_clock = type(clock)(today)
        assert run_local(case["definition"], case["input"], clock=clock).status == case["expected"]["status"]
        assert run_local(case["definition"], shifted, clock=moved_clock).status == case["expected"]["status"]


def test_input_as_of_keeps_the_fraction_and_moves_the_moment() -> None:
    case = {
        "time_sensitive_input": True,
        "input": {"at": "2030-01-01T00:00:00.000Z", "list": ["2030-01-01T00:00:00Z", "not a date"]},
        "provenance": {"recorded_date": "01-01-2020, 00:00:00"},
    }
    moved = input_as_of(case, dt.datetime(2020, 1, 2, tzinfo=dt.UTC))
    assert moved == {"at": "2030-01-02T00:00:00.000Z", "list": ["2030-01-02T00:00:00Z", "not a date"]}
    assert input_as_of({"input": {"at": "x"}}, dt.datetime.now(dt.UTC)) == {"at": "x"}


def test_a_missing_corpus_is_an_error_not_an_empty_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_CONFORMANCE_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="has no cases"):
        shared_folder("ORCHESTRATOR_CONFORMANCE_DIR", "conformance", "cases")
