"""An Express execution runs five minutes at most, as on AWS: then it ends TIMED_OUT, as an
execution's TimeoutSeconds ends it. On a `VirtualClock` the five minutes take no time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from orchestrator import VirtualClock, run_local
from orchestrator.engine.local import EXPRESS_MAX_SECONDS

START = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
SLOW = "arn:aws:lambda:us-east-1:123456789012:function:slow"


def _waits(seconds: int, **top: Any) -> dict[str, Any]:
    return {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}}, **top}


def test_an_express_execution_ends_timed_out_after_five_minutes() -> None:
    result = run_local(_waits(600), state_machine_type="EXPRESS", clock=VirtualClock(START))
    assert (result.status, result.error, result.cause) == ("TIMED_OUT", None, None)
    assert result.stop_date - result.start_date == dt.timedelta(seconds=EXPRESS_MAX_SECONDS) == dt.timedelta(minutes=5)


def test_within_five_minutes_it_succeeds_and_a_standard_execution_has_no_such_limit() -> None:
    assert run_local(_waits(299), state_machine_type="EXPRESS", clock=VirtualClock(START)).status == "SUCCEEDED"
    assert run_local(_waits(3600), clock=VirtualClock(START)).status == "SUCCEEDED"


def test_a_shorter_timeout_seconds_still_ends_it_first() -> None:
    result = run_local(_waits(600, TimeoutSeconds=60), state_machine_type="EXPRESS", clock=VirtualClock(START))
    assert result.status == "TIMED_OUT"
    assert result.stop_date - result.start_date == dt.timedelta(seconds=60)


def test_a_handler_that_runs_past_the_limit_ends_it_when_it_returns() -> None:
    clock = VirtualClock(START)

    def slow(event: Any, context: Any) -> Any:
        clock.sleep_until(clock.now() + dt.timedelta(minutes=6))
        return event

    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": SLOW, "Next": "After"}, "After": {"Type": "Pass", "End": True}},
    }
    result = run_local(definition, handlers={"slow": slow}, state_machine_type="EXPRESS", clock=clock)
    assert result.status == "TIMED_OUT"
