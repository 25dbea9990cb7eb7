"""The execution page's reading of a history, kept per (execution, last event id)."""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from orchestrator.console import progress, readings

START = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


def event(i: int, previous: int, kind: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": i, "previousEventId": previous, "timestamp": START, "type": kind}
    if details is not None:
        out["stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"] = details
    return out


HISTORY = [
    event(1, 0, "ExecutionStarted"),
    event(2, 1, "PassStateEntered", {"name": "A", "input": '{"n":1}'}),
    event(3, 2, "PassStateExited", {"name": "A", "output": '{"n":2}'}),
    event(4, 3, "ExecutionSucceeded"),
]


def test_a_reading_answers_what_the_page_asks_of_the_history() -> None:
    reading = readings.read(HISTORY)
    assert [s.name for s in reading.steps] == ["A"]
    assert reading.steps[0].input == '{"n":1}' and reading.steps[0].output == '{"n":2}'
    assert reading.failure is None
    assert reading.type_counts == {
        "ExecutionStarted": 1,
        "PassStateEntered": 1,
        "PassStateExited": 1,
        "ExecutionSucceeded": 1,
    }
    assert reading.event_count == 4
    assert reading.statuses(None) == progress.state_statuses(HISTORY) == {"A": "succeeded"}


def test_a_parsed_payload_reads_as_its_json_text() -> None:
    # history_to_read leaves objects parsed; the step still gives them as JSON text.
    parsed = [dict(e) for e in HISTORY]
    parsed[1] = event(2, 1, "PassStateEntered", {"name": "A", "input": {"n": 1, "é": [True, None]}})
    step = readings.read(parsed).steps[0]
    assert step.input == '{"n":1,"é":[true,null]}'
    assert step.input_value == {"n": 1, "é": [True, None]}


def test_the_history_is_read_once_per_last_event() -> None:
    kept = readings.Readings(kept=2)
    reads: list[str] = []

    def history(arn: str) -> Any:
        return lambda: reads.append(arn) or HISTORY

    first = kept.get("arn:one", 4, history("arn:one"))
    assert kept.get("arn:one", 4, history("arn:one")) is first
    assert reads == ["arn:one"]
    # The execution moved (a redrive appends events): its history is read again.
    kept.get("arn:one", 9, history("arn:one"))
    assert reads == ["arn:one", "arn:one"]


def test_only_the_latest_readings_are_kept() -> None:
    kept = readings.Readings(kept=2)
    reads: list[str] = []

    def history(arn: str) -> Any:
        return lambda: reads.append(arn) or HISTORY

    kept.get("arn:a", 4, history("arn:a"))
    kept.get("arn:b", 4, history("arn:b"))
    kept.get("arn:a", 4, history("arn:a"))  # a is now the latest used
    kept.get("arn:c", 4, history("arn:c"))  # b goes
    kept.get("arn:a", 4, history("arn:a"))
    kept.get("arn:b", 4, history("arn:b"))
    assert reads == ["arn:a", "arn:b", "arn:c", "arn:b"]


def test_the_garbage_collector_is_paused_while_a_history_is_read_and_only_then() -> None:
    seen: list[bool] = []

    def history() -> Any:
        seen.append(gc.isenabled())
        return HISTORY

    readings.Readings().get("arn:one", 4, history)
    assert seen == [False] and gc.isenabled()
    gc.disable()  # someone who turned it off keeps it off
    try:
        readings.Readings().get("arn:one", 4, history)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_requests_asking_for_one_history_at_once_read_it_once() -> None:
    kept = readings.Readings()
    reads: list[int] = []
    second_asked = threading.Event()

    def slow_history() -> Any:
        reads.append(1)
        assert second_asked.wait(10)
        time.sleep(0.05)  # let the second request reach its wait
        return HISTORY

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(kept.get, "arn:live", 4, slow_history)
        while not reads:
            time.sleep(0.01)
        second = pool.submit(kept.get, "arn:live", 4, slow_history)
        second_asked.set()
        assert first.result(10) is second.result(10)
    assert reads == [1]


def test_a_failed_reading_fails_whoever_waited_for_it_and_is_not_kept() -> None:
    kept = readings.Readings()

    def missing() -> Any:
        raise LookupError("no such execution")

    for _ in range(2):
        with pytest.raises(LookupError):
            kept.get("arn:gone", 4, missing)
