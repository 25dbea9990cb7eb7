"""Whether an execution can be redriven, and AWS's reason when it cannot (`runtime.redrive.redrivability`):
DescribeExecution's redriveStatus and redriveStatusReason. Fixed times, no database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from orchestrator.engine.history import MAX_EVENTS
from orchestrator.runtime.redrive import Redrivability, redrivability

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
STOP = START + dt.timedelta(hours=1)


def execution(**changes: Any) -> dict[str, Any]:
    row = {"status": "FAILED", "next_event_id": 12, "start_date": START, "stop_date": STOP, "map_run_arn": None}
    return {**row, **changes}


@pytest.mark.parametrize(
    ("row", "machine", "now", "expected"),
    [
        (execution(), "ACTIVE", STOP, Redrivability("REDRIVABLE")),
        (execution(status="TIMED_OUT"), "ACTIVE", STOP, Redrivability("REDRIVABLE")),
        (execution(status="ABORTED"), "ACTIVE", STOP + dt.timedelta(days=14), Redrivability("REDRIVABLE")),
        (
            execution(status="RUNNING", stop_date=None),
            "ACTIVE",
            STOP,
            Redrivability("NOT_REDRIVABLE", "Execution is RUNNING and cannot be redriven"),
        ),
        (
            execution(status="SUCCEEDED"),
            "ACTIVE",
            STOP,
            Redrivability("NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven"),
        ),
        (execution(), "DELETING", STOP, Redrivability("NOT_REDRIVABLE", "State machine is in DELETING status")),
        (
            execution(next_event_id=MAX_EVENTS),
            "ACTIVE",
            STOP,
            Redrivability("NOT_REDRIVABLE", "Execution history event limit exceeded"),
        ),
        (
            execution(),
            "ACTIVE",
            STOP + dt.timedelta(days=14, seconds=1),
            Redrivability("NOT_REDRIVABLE", "Execution redrivable period exceeded"),
        ),
        (
            execution(status="TIMED_OUT", stop_date=START + dt.timedelta(days=365)),
            "ACTIVE",
            START + dt.timedelta(days=366),
            Redrivability("NOT_REDRIVABLE", "Execution has exceeded the max execution time"),
        ),
        (
            execution(map_run_arn="arn:aws:states:us-east-1:123456789012:mapRun:m/Each:1"),
            "ACTIVE",
            STOP,
            Redrivability("REDRIVABLE_BY_MAP_RUN"),
        ),
        # SQLite gives back the UTC times it stores without a zone
        (
            execution(start_date=START.replace(tzinfo=None), stop_date=STOP.replace(tzinfo=None)),
            "ACTIVE",
            STOP + dt.timedelta(days=15),
            Redrivability("NOT_REDRIVABLE", "Execution redrivable period exceeded"),
        ),
    ],
)
def test_redrivability(row: dict[str, Any], machine: str, now: dt.datetime, expected: Redrivability) -> None:
    assert redrivability(row, machine, now) == expected
