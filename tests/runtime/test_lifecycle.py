"""StopExecution, timeouts (Task and execution), Retry backoff through timers, and StartExecution's
idempotency, on a real cluster (PostgreSQL, Redis, worker and scheduler processes)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.service import ServiceError
from orchestrator.store.db import session_scope
from orchestrator.store.models import Execution
from tests.runtime.conftest import (
    CALLBACK,
    CALLBACK_PARAMETERS,
    LAMBDA,
    Cluster,
    assert_history_is_sound,
    running_cluster,
    wait_for,
)


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster (a worker and the scheduler) for the module: each test has its own state machines."""
    with running_cluster(database_url, tmp_path_factory.mktemp("lifecycle")) as made:
        yield made


def _tree(cluster: Cluster, root_id: int) -> list[tuple[int, str]]:
    """(id, status) of every branch and iteration row of an execution."""
    with session_scope(cluster.settings.database_url) as session:
        rows = session.execute(
            select(Execution.id, Execution.status).where(Execution.root_id == root_id).order_by(Execution.id)
        )
        return [(r[0], r[1]) for r in rows]


def _tokens_of(cluster: Cluster, execution: str) -> list[str]:
    return [t["token"] for t in cluster.service.pending_tokens() if t["executionArn"] == execution]


# -- StopExecution ---------------------------------------------------------------------------------

STOPPABLE: dict[str, Any] = {
    "StartAt": "Fan",
    "TimeoutSeconds": 3600,
    "States": {
        "Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ItemProcessor": {
                "StartAt": "Ask",
                "States": {
                    "Ask": {
                        "Type": "Task",
                        "Resource": CALLBACK,
                        "TimeoutSeconds": 600,
                        "Parameters": CALLBACK_PARAMETERS,
                        "End": True,
                    }
                },
            },
            "End": True,
        }
    },
}


def test_stop_execution_aborts_the_tree_invalidates_tokens_and_drops_timers(cluster: Cluster) -> None:
    machine = cluster.state_machine(STOPPABLE)
    execution = cluster.start(machine, {"items": [1, 2, 3, 4, 5]})
    root_id = cluster.execution_id(execution)
    tokens = wait_for(lambda: len(t := _tokens_of(cluster, execution)) == 2 and t, 30, what="two iterations waiting")
    # the execution's timeout and the two tasks' timeouts
    assert sorted(t["kind"] for t in cluster.tree_timers(execution)) == ["execution_timeout"] + ["task_timeout"] * 2
    assert sorted(s for _, s in _tree(cluster, root_id)) == ["PENDING"] * 3 + ["RUNNING"] * 2

    cluster.service.stop_execution(execution, error="Operator.Stop", cause="no longer needed")

    result = cluster.describe(execution)
    assert result["status"] == "ABORTED"
    assert (result["error"], result["cause"]) == ("Operator.Stop", "no longer needed")
    assert "stopDate" in result and "output" not in result
    events = cluster.history(execution)
    assert_history_is_sound(events)
    assert events[-1]["type"] == "ExecutionAborted"
    assert events[-1]["executionAbortedEventDetails"] == {"error": "Operator.Stop", "cause": "no longer needed"}
    assert [s for _, s in _tree(cluster, root_id)] == ["ABORTED"] * 5
    assert cluster.tree_timers(execution) == []
    assert _tokens_of(cluster, execution) == []
    for token in tokens:
        with pytest.raises(ServiceError) as refused:
            cluster.service.send_task_success(token, "{}")
        assert refused.value.code == "TaskDoesNotExist"
    # Nothing moves any more: no event after ExecutionAborted.
    time.sleep(1.0)
    assert len(cluster.history(execution)) == len(events)
    assert cluster.describe(execution)["status"] == "ABORTED"


def test_stop_execution_without_error_or_cause(cluster: Cluster) -> None:
    machine = cluster.state_machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}})
    execution = cluster.start(machine)
    wait_for(lambda: cluster.timers(cluster.execution_id(execution)), 30, what="the Wait's timer")
    cluster.service.stop_execution(execution)
    result = cluster.describe(execution)
    assert result["status"] == "ABORTED"
    assert "error" not in result and "cause" not in result
    last = cluster.history(execution)[-1]
    assert last["type"] == "ExecutionAborted"
    assert not {"error", "cause"} & set(last.get("executionAbortedEventDetails") or {})
    assert cluster.timers(cluster.execution_id(execution)) == []


# -- timeouts and retries --------------------------------------------------------------------------


def _slow_task(*, caught: bool) -> dict[str, Any]:
    """A Task whose handler sleeps 4 s, with TimeoutSeconds 1; ``caught``: a Catch of States.Timeout."""
    slow: dict[str, Any] = {
        "Type": "Task",
        "Resource": LAMBDA.format("sleep"),
        "Parameters": {"seconds": 4},
        "TimeoutSeconds": 1,
        "Next": "Done",
    }
    states: dict[str, Any] = {"Slow": slow, "Done": {"Type": "Pass", "End": True}}
    if caught:
        slow["Catch"] = [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"}]
        states["TimedOut"] = {"Type": "Pass", "Result": "gave up", "End": True}
    return {"StartAt": "Slow", "States": states}


def test_task_timeout_seconds_fails_the_task_with_states_timeout(cluster: Cluster) -> None:
    uncaught = cluster.state_machine(_slow_task(caught=False))
    execution = cluster.start(uncaught)
    result = cluster.wait(execution, timeout=30)
    # ended by the timer while the handler still slept (its answer would have made it succeed)
    assert (result["status"], result["error"]) == ("FAILED", "States.Timeout")
    types = [e["type"] for e in cluster.history(execution)]
    assert types == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
                     "LambdaFunctionTimedOut", "ExecutionFailed"]  # fmt: skip

    caught = cluster.state_machine(_slow_task(caught=True))
    other = cluster.start(caught, {"order": 7})
    result = cluster.wait(other, timeout=30)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == "gave up"

    # The handlers finish later: their answers are stale and add nothing.
    length = len(cluster.history(execution))
    time.sleep(4)
    assert len(cluster.history(execution)) == length
    assert "LambdaFunctionSucceeded" not in [e["type"] for e in cluster.history(other)]


def test_execution_timeout_seconds_times_the_execution_out(cluster: Cluster) -> None:
    machine = cluster.state_machine(
        {"StartAt": "W", "TimeoutSeconds": 1, "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}
    )
    execution = cluster.start(machine)
    began = time.monotonic()
    result = cluster.wait(execution, timeout=20)
    assert result["status"] == "TIMED_OUT"
    assert time.monotonic() - began < 10
    events = cluster.history(execution)
    assert [e["type"] for e in events] == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    assert cluster.timers(cluster.execution_id(execution)) == []


def test_retry_backs_off_through_timer_rows(cluster: Cluster, tmp_path: Path) -> None:
    machine = cluster.state_machine(
        {
            "StartAt": "Flaky",
            "States": {
                "Flaky": {
                    "Type": "Task",
                    "Resource": LAMBDA.format("flaky"),
                    "Parameters": {
                        "counter.$": "$.counter",
                        "failures": 2,
                        "retryCount.$": "$$.State.RetryCount",
                    },
                    "Retry": [
                        {"ErrorEquals": ["Test.Flaky"], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 3}
                    ],
                    "End": True,
                }
            },
        }
    )
    began = time.monotonic()
    execution = cluster.start(machine, {"counter": str(tmp_path / "calls")})
    execution_id = cluster.execution_id(execution)
    retry_timer = wait_for(
        lambda: [t for t in cluster.timers(execution_id) if t["kind"] == "retry"], 30, what="the backoff timer"
    )
    assert len(retry_timer) == 1
    result = cluster.wait(execution, timeout=30)
    elapsed = time.monotonic() - began
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"calls": 3, "retryCount": 2}
    assert elapsed >= 3.0  # backoffs of 1 s and then 2 s
    types = [e["type"] for e in cluster.history(execution)]
    assert types.count("LambdaFunctionFailed") == 2
    assert types.count("LambdaFunctionScheduled") == 3
    assert types.count("TaskStateEntered") == 1


# -- StartExecution's idempotency ------------------------------------------------------------------


def test_start_execution_is_idempotent_by_name_while_running(cluster: Cluster) -> None:
    machine = cluster.state_machine(
        {"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": CALLBACK, "Parameters": CALLBACK_PARAMETERS,
                                              "End": True}}}
    )  # fmt: skip
    first = cluster.service.start_execution(machine, name="order-1", input='{"amount": 5}')
    again = cluster.service.start_execution(machine, name="order-1", input='{"amount": 5}')
    assert again["executionArn"] == first["executionArn"]
    assert again["startDate"] == first["startDate"]
    with pytest.raises(ServiceError) as different:
        cluster.service.start_execution(machine, name="order-1", input='{"amount": 6}')
    assert different.value.code == "ExecutionAlreadyExists"
    arn = first["executionArn"]
    assert [e["type"] for e in cluster.history(arn)].count("ExecutionStarted") == 1
    assert len(cluster.service.list_executions(machine)["executions"]) == 1

    cluster.service.send_task_success(cluster.token_for(arn), "{}")
    assert cluster.wait(arn)["status"] == "SUCCEEDED"
    with pytest.raises(ServiceError) as finished:
        cluster.service.start_execution(machine, name="order-1", input='{"amount": 5}')
    assert finished.value.code == "ExecutionAlreadyExists"
