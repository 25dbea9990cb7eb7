"""Task tokens (``.waitForTaskToken``): SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat with
AWS's semantics and errors, on a real cluster (PostgreSQL, Redis, worker and scheduler processes)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.service import ServiceError
from tests.runtime.conftest import CALLBACK, CALLBACK_PARAMETERS, Cluster, running_cluster, wait_for


def approval(**task: Any) -> dict[str, Any]:
    """Ask (waits for a token; ``Rejected`` is caught) -> Approved, or -> Refused."""
    return {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": CALLBACK,
                "Parameters": CALLBACK_PARAMETERS,
                "ResultPath": "$.answer",
                "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Refused"}],
                "Next": "Approved",
                **task,
            },
            "Approved": {"Type": "Pass", "End": True},
            "Refused": {"Type": "Pass", "End": True},
        },
    }


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster (a worker and the scheduler) for the module: each test has its own state machines."""
    with running_cluster(database_url, tmp_path_factory.mktemp("callbacks")) as made:
        yield made


def _error_code(call: Any) -> str | None:
    try:
        call()
    except ServiceError as exc:
        return exc.code
    return None


def _race(cluster: Cluster, token: str) -> dict[int, str | None]:
    """Two threads send SendTaskSuccess on ``token`` at the same moment; returns each one's error code."""
    barrier = threading.Barrier(2)
    outcomes: dict[int, str | None] = {}

    def complete(who: int) -> None:
        barrier.wait()
        outcomes[who] = _error_code(lambda: cluster.service.send_task_success(token, json.dumps({"by": who})))

    threads = [threading.Thread(target=complete, args=(who,)) for who in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_two_concurrent_completions_of_one_token_one_wins(cluster: Cluster) -> None:
    machine = cluster.state_machine(approval())
    for attempt in range(5):
        execution = cluster.start(machine, {"attempt": attempt})
        token = cluster.token_for(execution)
        outcomes = _race(cluster, token)
        assert sorted(outcomes.values(), key=str) == [None, "TaskDoesNotExist"], outcomes
        winner = next(who for who, code in outcomes.items() if code is None)
        result = cluster.wait(execution)
        assert result["status"] == "SUCCEEDED"
        assert json.loads(result["output"])["answer"] == {"by": winner}
        types = [e["type"] for e in cluster.history(execution)]
        assert types.count("TaskSucceeded") == 1
        # a third completion, after the fact, is refused too
        assert _error_code(lambda: cluster.service.send_task_success(token, "{}")) == "TaskDoesNotExist"  # noqa: B023


def test_send_task_failure_is_caught_or_fails_the_execution(cluster: Cluster) -> None:
    machine = cluster.state_machine(approval())
    caught = cluster.start(machine, {"amount": 1})
    cluster.service.send_task_failure(cluster.token_for(caught), error="Rejected", cause="too much")
    result = cluster.wait(caught)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"amount": 1, "error": {"Error": "Rejected", "Cause": "too much"}}
    failed_event = next(e for e in cluster.history(caught) if e["type"] == "TaskFailed")
    assert failed_event["taskFailedEventDetails"]["error"] == "Rejected"
    assert failed_event["taskFailedEventDetails"]["cause"] == "too much"

    uncaught = cluster.start(machine, {"amount": 2})
    cluster.service.send_task_failure(cluster.token_for(uncaught), error="Broken", cause="the approver crashed")
    result = cluster.wait(uncaught)
    assert result["status"] == "FAILED"
    assert (result["error"], result["cause"]) == ("Broken", "the approver crashed")
    assert cluster.history(uncaught)[-1]["type"] == "ExecutionFailed"


def test_a_token_past_its_task_timeout_is_task_timed_out(cluster: Cluster) -> None:
    machine = cluster.state_machine(approval(TimeoutSeconds=1))
    execution = cluster.start(machine)
    token = cluster.token_for(execution)
    result = cluster.wait(execution, timeout=30)
    assert (result["status"], result["error"]) == ("FAILED", "States.Timeout")
    assert "TaskTimedOut" in [e["type"] for e in cluster.history(execution)]
    assert _error_code(lambda: cluster.service.send_task_success(token, "{}")) == "TaskTimedOut"
    assert _error_code(lambda: cluster.service.send_task_heartbeat(token)) == "TaskTimedOut"


def test_heartbeats_keep_a_task_alive_and_their_absence_times_it_out(cluster: Cluster) -> None:
    machine = cluster.state_machine(approval(HeartbeatSeconds=2, TimeoutSeconds=60))
    # No heartbeat: timed out after 2 s, recorded as AWS records it (States.Timeout).
    silent = cluster.start(machine)
    silent_token = cluster.token_for(silent)
    began = time.monotonic()
    result = cluster.wait(silent, timeout=30)
    assert (result["status"], result["error"]) == ("FAILED", "States.Timeout")
    timed_out = [e for e in cluster.history(silent) if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"]
    assert time.monotonic() - began >= 1.0
    assert _error_code(lambda: cluster.service.send_task_heartbeat(silent_token)) == "TaskTimedOut"

    # A heartbeat every half second for three times the heartbeat period: still waiting, then done.
    alive = cluster.start(machine, {"n": 1})
    token = cluster.token_for(alive)
    until = time.monotonic() + 6
    while time.monotonic() < until:
        assert cluster.service.send_task_heartbeat(token) == {}
        time.sleep(0.5)
    assert cluster.describe(alive)["status"] == "RUNNING"
    cluster.service.send_task_success(token, '{"ok": true}')
    result = cluster.wait(alive)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"n": 1, "answer": {"ok": True}}


def test_invalid_output_and_unknown_tokens_are_refused_and_change_nothing(cluster: Cluster) -> None:
    machine = cluster.state_machine(approval())
    execution = cluster.start(machine)
    token = cluster.token_for(execution)
    assert _error_code(lambda: cluster.service.send_task_success(token, "{not json")) == "InvalidOutput"
    assert _error_code(lambda: cluster.service.send_task_success("x" * 3000, "{}")) == "InvalidToken"
    assert _error_code(lambda: cluster.service.send_task_success("NoSuchTaskToken", "not JSON")) == "InvalidToken"
    unknown = "A" * 64
    assert _error_code(lambda: cluster.service.send_task_success(unknown, "{}")) == "TaskDoesNotExist"
    assert _error_code(lambda: cluster.service.send_task_failure(unknown)) == "TaskDoesNotExist"
    assert _error_code(lambda: cluster.service.send_task_heartbeat(unknown)) == "TaskDoesNotExist"
    time.sleep(0.5)
    assert cluster.describe(execution)["status"] == "RUNNING"
    assert [t["token"] for t in cluster.service.pending_tokens() if t["executionArn"] == execution] == [token]
    cluster.service.send_task_success(token, '"yes"')
    assert json.loads(cluster.wait(execution)["output"]) == {"answer": "yes"}


def test_each_attempt_has_its_own_unguessable_token(cluster: Cluster) -> None:
    retry = [{"ErrorEquals": ["Again"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    machine = cluster.state_machine(approval(Retry=retry))
    execution = cluster.start(machine)
    first = cluster.token_for(execution)
    cluster.service.send_task_failure(first, error="Again")
    second = wait_for(
        lambda: next((t for t in [cluster.token_for(execution)] if t != first), None), 30, what="the retry's token"
    )
    assert _error_code(lambda: cluster.service.send_task_success(first, "{}")) == "TaskDoesNotExist"
    cluster.service.send_task_success(second, '"second"')
    result = cluster.wait(execution)
    assert json.loads(result["output"]) == {"answer": "second"}
    # at least 128 random bits: URL-safe base64 carries 6 bits a character
    assert len(second) * 6 >= 128 and second.isascii()


def test_no_token_stays_waiting_once_its_execution_has_ended(cluster: Cluster) -> None:
    """The handler of a callback Task fails: the Task fails and so does the execution; the token the
    handler was given can no longer be answered, so it must not be listed as waiting."""
    failing = {**CALLBACK_PARAMETERS, "FunctionName": "fail"}
    machine = cluster.state_machine(approval(Parameters=failing))
    execution = cluster.start(machine)
    result = cluster.wait(execution)
    assert result["status"] == "FAILED"
    assert [t for t in cluster.service.pending_tokens() if t["executionArn"] == execution] == []
