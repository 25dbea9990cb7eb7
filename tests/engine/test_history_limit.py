"""AWS's quota of 25,000 history events per execution, in the in-memory driver (run_local).

On AWS an execution's event 25,000 may only be ExecutionSucceeded: anything else is replaced by
ExecutionFailed, States.Runtime, "The execution reached the maximum number of history events
(25000).", linked to event 24,999, the last one the execution produced.
"""

from __future__ import annotations

from typing import Any

from orchestrator import run_local
from orchestrator.engine.history import HISTORY_LIMIT_CAUSE, MAX_EVENTS

ENDLESS: dict[str, Any] = {
    "StartAt": "Spin",
    "States": {
        "Spin": {"Type": "Pass", "Result": True, "ResultPath": "$.spin", "Next": "Again"},
        "Again": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.spin", "BooleanEquals": True, "Next": "Spin"}],
            "Default": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def counter(limit: int) -> dict[str, Any]:
    """Counts to ``limit``: 4 events an iteration, 4 more around them (ExecutionStarted, the Succeed
    state's two, ExecutionSucceeded): 4 * limit + 4 events."""
    return {
        "StartAt": "Inc",
        "States": {
            "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": limit, "Next": "Inc"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def test_an_endless_choice_loop_fails_at_event_25000_as_on_aws() -> None:
    result = run_local(ENDLESS, {})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Runtime", HISTORY_LIMIT_CAUSE)
    assert HISTORY_LIMIT_CAUSE == "The execution reached the maximum number of history events (25000)."
    assert len(result.events) == MAX_EVENTS
    assert [e.id for e in result.events] == list(range(1, MAX_EVENTS + 1))
    last, before = result.history[-1], result.history[-2]
    assert (last["type"], last["previousEventId"]) == ("ExecutionFailed", 24_999)
    assert last["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": HISTORY_LIMIT_CAUSE}
    assert before["type"] == "PassStateExited"


def test_execution_succeeded_may_be_event_25000_and_nothing_else_may() -> None:
    # 4 * 6249 + 4 = 25,000 events: the last is ExecutionSucceeded
    succeeded = run_local(counter(6249), {"n": 0})
    assert (succeeded.status, succeeded.output, len(succeeded.events)) == ("SUCCEEDED", {"n": 6249}, MAX_EVENTS)
    # one iteration more: event 25,000 would be a state's; the execution fails there instead
    failed = run_local(counter(6250), {"n": 0})
    assert (failed.status, failed.cause, len(failed.events)) == ("FAILED", HISTORY_LIMIT_CAUSE, MAX_EVENTS)


def test_a_loop_in_a_parallel_branch_fails_the_execution_at_the_limit_too() -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "End": True,
                "Branches": [ENDLESS, {"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "End": True}}}],
            }
        },
    }
    result = run_local(definition, {})
    assert (result.status, result.cause) == ("FAILED", HISTORY_LIMIT_CAUSE)
    assert [e.id for e in result.events] == list(range(1, MAX_EVENTS + 1))
    assert result.events[-1].type == "ExecutionFailed"


def test_an_express_execution_keeps_no_history_and_has_no_such_limit() -> None:
    result = run_local(counter(7000), {"n": 0}, state_machine_type="EXPRESS")
    assert (result.status, result.output) == ("SUCCEEDED", {"n": 7000})
    assert len(result.events) > MAX_EVENTS
