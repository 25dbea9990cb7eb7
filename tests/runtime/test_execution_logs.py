"""Execution logging (issue 14, item 4) from a real cluster (PostgreSQL, Redis, a worker, the
scheduler): each level of a state machine's loggingConfiguration writes exactly the history events
AWS's table says, as CloudWatch Logs records, to the file ORCHESTRATOR_EXECUTION_LOG names; the
execution's data only with includeExecutionData; Express executions (no history) are logged too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.runtime import execution_logs
from tests.runtime.conftest import LAMBDA, ROLE, Cluster, running_cluster, wait_for

# A Pass, a Task whose handler fails, caught, then a Fail state: events of every level.
REFUSING = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"amount": 1200}, "Next": "Score"},
        "Score": {
            "Type": "Task",
            "Resource": LAMBDA.format("fail"),
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Refuse"}],
            "End": True,
        },
        "Refuse": {"Type": "Fail", "Error": "Credit.Refused", "Cause": "score too low"},
    },
}
ERROR_TYPES = ["LambdaFunctionFailed", "FailStateEntered", "ExecutionFailed"]


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("execution-logs") / "logs" / "executions.jsonl"


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory, log_file: Path) -> Iterator[Cluster]:
    env = {"ORCHESTRATOR_EXECUTION_LOG": f"file://{log_file}"}
    try:
        with running_cluster(database_url, tmp_path_factory.mktemp("logs-cluster"), extra_env=env) as running:
            yield running  # (its Celery app installed the file as this process's destination too)
    finally:
        execution_logs.install("")  # this test process logs nothing more


def _machine(
    cluster: Cluster, level: str, data: bool, definition: dict[str, Any], kind: str = "STANDARD", tag: str = ""
) -> str:
    name = f"logs-{level.lower()}-{'data' if data else 'nodata'}-{kind.lower()}{tag}"
    created = cluster.service.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        role_arn=ROLE,
        type=kind,
        logging_configuration={"level": level, "includeExecutionData": data, "destinations": []},
    )
    return str(created["stateMachineArn"])


def _records(log_file: Path, execution_arn: str) -> list[dict[str, Any]]:
    if not log_file.exists():
        return []
    found = [json.loads(line) for line in log_file.read_text().splitlines()]
    return sorted((r for r in found if r["execution_arn"] == execution_arn), key=lambda r: int(r["id"]))


def _millis(moment: Any) -> str:
    return str(int(moment.timestamp()) * 1000 + moment.microsecond // 1000)


@pytest.mark.parametrize(
    ("level", "expected"),
    [("ALL", None), ("ERROR", ERROR_TYPES), ("FATAL", ["ExecutionFailed"]), ("OFF", [])],
)
def test_each_level_logs_the_events_aws_lists_for_it(
    cluster: Cluster, log_file: Path, level: str, expected: list[str] | None
) -> None:
    # Given a machine logging at this level, when an execution of it fails
    arn = cluster.start(_machine(cluster, level, True, REFUSING), {"applicant": "Ada"})
    assert cluster.wait(arn)["status"] == "FAILED"
    history = cluster.history(arn)
    wanted = [e["type"] for e in history] if expected is None else expected
    # Then exactly the events of its level are logged, each as its history event (ids, links, times)
    if wanted:
        wait_for(lambda: len(_records(log_file, arn)) >= len(wanted), 30, what=f"{len(wanted)} records")
    else:
        other = cluster.start(_machine(cluster, "FATAL", True, REFUSING))  # a later execution that logs
        cluster.wait(other)
        wait_for(lambda: _records(log_file, other), 30, what="a later execution's record")
    records = _records(log_file, arn)
    assert [r["type"] for r in records] == wanted
    by_id = {e["id"]: e for e in history}
    for r in records:
        assert list(r) == [
            "id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count",
        ]  # fmt: skip
        event = by_id[int(r["id"])]
        assert r["type"] == event["type"]
        assert r["previous_event_id"] == str(event["previousEventId"])
        assert r["event_timestamp"] == _millis(event["timestamp"])
        assert r["redrive_count"] == "0"
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        assert r["details"] == details  # input and output included: includeExecutionData is true
    if level == "ALL":
        started = records[0]["details"]
        assert json.loads(started["input"]) == {"applicant": "Ada"} and started["roleArn"] == ROLE
    if "ExecutionFailed" in wanted:
        assert records[-1]["details"] == {"error": "Credit.Refused", "cause": "score too low"}


def test_without_include_execution_data_no_input_or_output_is_logged(cluster: Cluster, log_file: Path) -> None:
    arn = cluster.start(_machine(cluster, "ALL", False, REFUSING), {"secret": "s3cr3t"})
    cluster.wait(arn)
    count = len(cluster.history(arn))
    wait_for(lambda: len(_records(log_file, arn)) == count, 30, what=f"{count} records")
    records = _records(log_file, arn)
    assert "s3cr3t" not in json.dumps(records) and '"amount"' not in json.dumps(records)
    for r in records:
        assert not {"input", "output", "parameters"} & set(r["details"])
    entered = next(r for r in records if r["type"] == "PassStateEntered")
    assert entered["details"]["name"] == "Prepare"
    assert records[-1]["details"] == {"error": "Credit.Refused", "cause": "score too low"}  # errors stay


def test_express_executions_are_logged_though_they_keep_no_history(cluster: Cluster, log_file: Path) -> None:
    passing = {"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "Result": "hello", "End": True}}}
    machine = _machine(cluster, "ALL", True, passing, kind="EXPRESS")
    # StartSyncExecution runs it in this process
    synced = cluster.service.start_sync_execution(machine, input='{"who": "Ada"}')
    records = _records(log_file, synced["executionArn"])
    assert [r["type"] for r in records] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
    ]  # fmt: skip
    assert ":express:" in records[0]["execution_arn"]
    assert records[0]["details"]["input"] == '{"who":"Ada"}' and records[-1]["details"]["output"] == '"hello"'
    # linked as AWS links them (its logs show the first state entered after event 0 too)
    assert [(r["id"], r["previous_event_id"]) for r in records] == [("1", "0"), ("2", "0"), ("3", "2"), ("4", "3")]
    # StartExecution hands it to a worker, which logs it when it ends
    started = cluster.start(machine, {"who": "Bob"})
    wait_for(lambda: len(_records(log_file, started)) == 4, 30, what="the worker's Express records")
    assert json.loads(_records(log_file, started)[0]["details"]["input"]) == {"who": "Bob"}
    # At FATAL, an Express execution that succeeds logs nothing
    quiet = cluster.service.start_sync_execution(_machine(cluster, "FATAL", True, passing, kind="EXPRESS"))
    assert quiet["status"] == "SUCCEEDED" and _records(log_file, quiet["executionArn"]) == []


def test_a_distributed_map_s_express_iterations_are_logged_as_their_own_executions(
    cluster: Cluster, log_file: Path
) -> None:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "Add",
        "States": {"Add": {"Type": "Task", "Resource": LAMBDA.format("add"), "End": True}},
    }
    each = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "End": True}
    machine = _machine(cluster, "ALL", True, {"StartAt": "Each", "States": {"Each": each}}, tag="-map")
    arn = cluster.start(machine, {"items": [{"n": 1}, {"n": 2}, {"n": 3}]})
    assert cluster.wait(arn)["status"] == "SUCCEEDED"
    map_run = cluster.service.list_map_runs(arn)["mapRuns"][0]["mapRunArn"]
    children = cluster.service.list_executions("", map_run_arn=map_run)["executions"]
    assert len(children) == 3 and all(":express:" in c["executionArn"] for c in children)
    outputs = set()
    for child in children:
        wait_for(lambda c=child: _records(log_file, c["executionArn"]), 30, what="an iteration's records")
        records = _records(log_file, child["executionArn"])
        assert [r["type"] for r in records] == [
            "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
            "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded",
        ]  # fmt: skip
        outputs.add(json.loads(records[-1]["details"]["output"])["n"])
    assert outputs == {2, 3, 4}  # each iteration's own data (the "add" handler adds one)
    # and the parent's own history is logged as a Standard execution's
    assert [r["type"] for r in _records(log_file, arn)] == [e["type"] for e in cluster.history(arn)]
