"""Standard executions on PostgreSQL and Redis, with real worker and scheduler processes."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator import run_local
from orchestrator.runtime.messages import ADVANCE, INVOKE
from orchestrator.store import runs
from orchestrator.store.db import session_scope
from orchestrator.store.models import OutboxMessage
from tests.runtime.conftest import LAMBDA, Cluster, ClusterFactory, assert_history_is_sound, wait_for

WORKFLOW: dict[str, Any] = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": [1, 2, 3, 4], "ResultPath": "$.items", "Next": "Each"},
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ResultPath": "$.added",
            "ItemSelector": {"n.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "StartAt": "Add",
                "States": {"Add": {"Type": "Task", "Resource": LAMBDA.format("add"), "OutputPath": "$.n", "End": True}},
            },
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Both"},
        "Both": {
            "Type": "Parallel",
            "ResultPath": "$.both",
            "End": True,
            "Branches": [
                {
                    "StartAt": "Echo",
                    "States": {
                        "Echo": {
                            "Type": "Task",
                            "Resource": LAMBDA.format("echo"),
                            "Parameters": {"side": "left"},
                            "End": True,
                        }
                    },
                },
                {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "Result": "right", "End": True}}},
            ],
        },
    },
}


def test_a_workflow_with_task_map_wait_and_parallel_runs_to_the_end(redis_cluster: Cluster) -> None:
    redis_cluster.start_worker()
    redis_cluster.start_scheduler()
    machine = redis_cluster.state_machine(WORKFLOW)
    execution = redis_cluster.start(machine, {"customer": "c-1"})
    result = redis_cluster.wait(execution)
    assert result["status"] == "SUCCEEDED", result
    expected = run_local(
        WORKFLOW, {"customer": "c-1"}, handlers={"add": lambda p, c: {"n": p["n"] + 1}, "echo": lambda p, c: p}
    )
    assert json.loads(result["output"]) == expected.output
    events = redis_cluster.history(execution)
    assert_history_is_sound(events)
    # the same events as the in-memory interpreter (the order of concurrent iterations may differ)
    assert collections.Counter(e["type"] for e in events) == collections.Counter(e["type"] for e in expected.history)


def test_a_message_delivered_twice_adds_no_event_twice(redis_cluster: Cluster) -> None:
    redis_cluster.start_worker(concurrency=4)
    definition = {
        "StartAt": "Slow",
        "States": {
            "Slow": {"Type": "Task", "Resource": LAMBDA.format("sleep"), "Parameters": {"seconds": 1}, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
        },
    }
    machine = redis_cluster.state_machine(definition)
    execution = redis_cluster.start(machine)
    execution_id = redis_cluster.execution_id(execution)
    # the first step's message, sent again (twice) while the task runs, and once more at the end
    for _ in range(2):
        redis_cluster.app.send_task(
            ADVANCE, args=[execution_id, execution_id, 0, None, None], queue=redis_cluster.settings.engine_queue
        )
    assert redis_cluster.wait(execution)["status"] == "SUCCEEDED"
    redis_cluster.app.send_task(
        ADVANCE,
        args=[execution_id, execution_id, 1, {"kind": "task_succeeded", "output": {}}, None],
        queue=redis_cluster.settings.engine_queue,
    )
    wait_for(lambda: redis_cluster.outbox_size() == 0, 10, what="the outbox to drain")
    types = [e["type"] for e in redis_cluster.history(execution)]
    assert types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


def test_a_run_of_tasks_on_one_queue_goes_on_in_the_process_that_ran_the_first(
    redis_cluster: Cluster, tmp_path: Path
) -> None:
    """Follow-on: each next Task runs in the task that ran the one before, not through the broker,
    where four idle worker processes would share them."""
    redis_cluster.env["ORCHESTRATOR_FOLLOW_ON_SECONDS"] = "60"  # no deadline on a loaded machine
    redis_cluster.start_workers(2, concurrency=2)
    calls = tmp_path / "calls"
    states: dict[str, Any] = {
        f"T{i}": {"Type": "Task", "Resource": LAMBDA.format("tally"), "Parameters": {"file": str(calls)},
                  "ResultPath": None, **({"Next": f"T{i + 1}"} if i < 5 else {"End": True})}
        for i in range(1, 6)
    }  # fmt: skip
    execution = redis_cluster.start(redis_cluster.state_machine({"StartAt": "T1", "States": states}))
    assert redis_cluster.wait(execution)["status"] == "SUCCEEDED"
    assert len(set(calls.read_text().split())) == 1, calls.read_text()
    assert [e["type"] for e in redis_cluster.history(execution)].count("LambdaFunctionSucceeded") == 5
    wait_for(lambda: redis_cluster.outbox_size() == 0, 10, what="the outbox to drain")


def test_a_worker_goes_on_only_with_tasks_of_the_queues_it_takes(redis_cluster: Cluster, tmp_path: Path) -> None:
    """The engine-only worker steps the execution into its Tasks but never runs a handler."""
    redis_cluster.env["ORCHESTRATOR_FOLLOW_ON_SECONDS"] = "60"
    engine = redis_cluster.start_worker(concurrency=1, queues=[redis_cluster.settings.engine_queue])
    handlers = redis_cluster.start_worker(concurrency=1, queues=[redis_cluster.settings.handler_queue])
    calls = tmp_path / "calls"
    states: dict[str, Any] = {
        "Wait": {"Type": "Wait", "Seconds": 0, "Next": "T1"},  # an orchestrator.advance starts the Tasks
        **{f"T{i}": {"Type": "Task", "Resource": LAMBDA.format("tally"), "Parameters": {"file": str(calls)},
                     "ResultPath": None, **({"Next": f"T{i + 1}"} if i < 3 else {"End": True})}
           for i in range(1, 4)},
    }  # fmt: skip
    execution = redis_cluster.start(redis_cluster.state_machine({"StartAt": "Wait", "States": states}))
    assert redis_cluster.wait(execution)["status"] == "SUCCEEDED"
    pids = {int(pid) for pid in calls.read_text().split()}
    # a worker's pool processes are in its process group
    assert {os.getpgid(pid) for pid in pids} == {handlers.handle.pid}, (pids, engine.handle.pid)


@pytest.mark.parametrize("lease", ["15", "0"], ids=["leases", "no-leases"])
def test_a_handler_message_delivered_twice_records_the_task_once(
    cluster_factory: ClusterFactory, tmp_path: Path, lease: str
) -> None:
    """At-least-once handlers, exactly-once transitions: the invoke message is published a second time
    while its handler runs. With leases, the copy finds the handler running under a live lease and
    does nothing; without, the handler runs twice. The history shows the task once either way."""
    cluster = cluster_factory(extra_env={"ORCHESTRATOR_LEASE_SECONDS": lease})
    cluster.start_worker(concurrency=4)
    calls = tmp_path / "calls"
    definition = {
        "StartAt": "Count",
        "States": {
            "Count": {
                "Type": "Task",
                "Resource": LAMBDA.format("tally"),
                "Parameters": {"file": str(calls), "seconds": 1},
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    execution = cluster.start(cluster.state_machine(definition))
    wait_for(calls.exists, 30, what="the handler to run")
    with session_scope(cluster.settings.database_url) as session:
        invoke = session.execute(select(OutboxMessage).where(OutboxMessage.task == INVOKE)).scalar_one()
        args, queue = [*invoke.args, invoke.id], invoke.queue
    cluster.app.send_task(INVOKE, args=args, queue=queue)
    assert cluster.wait(execution)["status"] == "SUCCEEDED"
    calls_made = 1 if lease != "0" else 2
    wait_for(lambda: len(calls.read_text().splitlines()) == calls_made, 30, what=f"{calls_made} handler run(s)")
    time.sleep(1.5)  # a second run's answer has come back by now, and was ignored
    assert len(calls.read_text().splitlines()) == calls_made
    types = [e["type"] for e in cluster.history(execution)]
    assert types == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
                     "LambdaFunctionSucceeded", "TaskStateExited", "PassStateEntered", "PassStateExited",
                     "ExecutionSucceeded"]  # fmt: skip
    assert cluster.outbox_size() == 0


def test_a_paused_execution_survives_every_worker_and_the_scheduler_stopping(redis_cluster: Cluster) -> None:
    worker = redis_cluster.start_worker()
    scheduler = redis_cluster.start_scheduler()
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                "Parameters": {"Message": {"token.$": "$$.Task.Token"}},
                "ResultPath": "$.decision",
                "Next": "After",
            },
            "After": {"Type": "Wait", "Seconds": 1, "End": True},
        },
    }
    machine = redis_cluster.state_machine(definition)
    execution = redis_cluster.start(machine, {"amount": 7000})
    token = wait_for(
        lambda: next(
            (t["token"] for t in redis_cluster.service.pending_tokens() if t["executionArn"] == execution), None
        ),
        30,
        what="the task token",
    )
    worker.kill()
    scheduler.kill()
    redis_cluster.service.send_task_success(token, '{"approved": true}')
    assert redis_cluster.service.describe_execution(execution)["status"] == "RUNNING"
    redis_cluster.start_worker()
    redis_cluster.start_scheduler()
    result = redis_cluster.wait(execution)
    assert result["status"] == "SUCCEEDED"
    assert '"approved":true' in result["output"]


def test_a_wait_of_a_year_is_one_timer_row_and_fires_when_its_time_comes(redis_cluster: Cluster) -> None:
    redis_cluster.start_worker()
    definition = {"StartAt": "Year", "States": {"Year": {"Type": "Wait", "Seconds": 365 * 86400, "End": True}}}
    machine = redis_cluster.state_machine(definition)
    execution = redis_cluster.start(machine)
    execution_id = redis_cluster.execution_id(execution)
    timers = wait_for(lambda: redis_cluster.timers(execution_id), 30, what="the timer row")
    assert len(timers) == 1 and timers[0]["kind"] == "wait"
    assert timers[0]["fire_at"] > dt.datetime.now(dt.UTC) + dt.timedelta(days=364)
    redis_cluster.start_scheduler()
    # Time travel: move the timers' clock (a test hook on the table, not a sleep).
    with session_scope(redis_cluster.settings.database_url) as session:
        runs.shift_timers(session, dt.timedelta(days=366))
    assert redis_cluster.wait(execution, timeout=30)["status"] == "SUCCEEDED"
    assert redis_cluster.timers(execution_id) == []
