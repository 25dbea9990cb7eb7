"""RabbitMQ as the broker: the same workflow (Task, Map, Wait, Parallel) runs, and a killed worker's
work comes back within `RECOVERS_WITHIN` with the default settings. RabbitMQ requeues what an
unacknowledged consumer held when its connection closes, at once; a handler's message goes to
another worker when its lease has run out (the requeued copy finds it alive and does nothing)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from orchestrator import run_local
from tests.runtime.conftest import (
    Cluster,
    ClusterFactory,
    assert_history_is_sound,
    duplicated_transitions,
    report,
    wait_for,
)
from tests.runtime.test_crashes import CHAIN, CHAIN_EVENTS, RECOVERS_WITHIN, _running_handler, moved_on
from tests.runtime.test_durable import WORKFLOW


def test_a_workflow_with_task_map_and_wait_runs_on_rabbitmq(rabbit_cluster: Cluster) -> None:
    rabbit_cluster.start_worker()
    rabbit_cluster.start_scheduler()
    machine = rabbit_cluster.state_machine(WORKFLOW)
    execution = rabbit_cluster.start(machine, {"customer": "c-2"})
    result = rabbit_cluster.wait(execution)
    assert result["status"] == "SUCCEEDED", result
    expected = run_local(
        WORKFLOW, {"customer": "c-2"}, handlers={"add": lambda p, c: {"n": p["n"] + 1}, "echo": lambda p, c: p}
    )
    assert json.loads(result["output"]) == expected.output
    events = rabbit_cluster.history(execution)
    assert_history_is_sound(events)
    assert {"MapIterationSucceeded", "WaitStateExited", "LambdaFunctionSucceeded"} <= {e["type"] for e in events}


def test_a_worker_killed_mid_handler_on_rabbitmq_loses_nothing(cluster_factory: ClusterFactory, tmp_path: Path) -> None:
    from tests.runtime.conftest import RABBIT_URL

    cluster = cluster_factory(RABBIT_URL)
    cluster.start_worker()
    cluster.start_scheduler()
    machine = cluster.state_machine(CHAIN)
    marker = tmp_path / "handler.pid"
    execution = cluster.start(machine, {"seconds": 1.5, "marker": str(marker)})
    _, worker = wait_for(lambda: _running_handler(cluster, [marker]), 30, what="the handler to run")
    worker.kill()
    killed_at = time.time()
    cluster.start_worker()
    assert cluster.wait(execution, timeout=60)["status"] == "SUCCEEDED"
    events = cluster.history(execution)
    assert [e["type"] for e in events] == CHAIN_EVENTS
    assert duplicated_transitions(events) == []
    recovered = moved_on(events, killed_at)
    report(f"RabbitMQ, a worker killed mid-handler: its execution moved on {recovered:.1f} s after (default settings)")
    assert recovered < RECOVERS_WITHIN


def test_a_worker_killed_in_a_later_task_on_rabbitmq_gets_it_back_after_its_lease(
    cluster_factory: ClusterFactory, tmp_path: Path
) -> None:
    """A worker lost during the second Task (run by follow-on, without a message of its own): the
    Task runs again once the lost worker's lease has run out; the visibility timeout, an hour, plays
    no part."""
    from tests.runtime.conftest import LAMBDA, RABBIT_URL

    cluster = cluster_factory(RABBIT_URL)
    cluster.start_scheduler()
    cluster.start_worker()
    marker = tmp_path / "handler.pid"
    machine = cluster.state_machine(
        {"StartAt": "First", "States": {
            "First": {"Type": "Task", "Resource": LAMBDA.format("sleep"), "Parameters": {"seconds": 0},
                      "Next": "Second"},
            "Second": {"Type": "Task", "Resource": LAMBDA.format("sleep"),
                       "Parameters": {"seconds": 1.5, "marker": str(marker)}, "End": True},
        }}
    )  # fmt: skip
    execution = cluster.start(machine)
    _, worker = wait_for(lambda: _running_handler(cluster, [marker]), 30, what="the second handler to run")
    worker.kill()
    killed_at = time.time()
    cluster.start_worker()
    assert cluster.wait(execution, timeout=60)["status"] == "SUCCEEDED"
    events = cluster.history(execution)
    assert duplicated_transitions(events) == []
    assert moved_on(events, killed_at) < RECOVERS_WITHIN
