"""RedriveExecution on the embedded default (SQLite, a worker in this process), where the times read
back from the database carry no zone: a failed execution goes on from the state it failed in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from orchestrator import config
from orchestrator.integrations.s3 import LocalBuckets
from orchestrator.runtime import redrive as redrive_rules
from orchestrator.runtime.app import configure
from orchestrator.runtime.embedded import EmbeddedRuntime
from orchestrator.service import Service
from orchestrator.service.base import ServiceError
from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import CALLBACK, CALLBACK_PARAMETERS, LAMBDA, ROLE, Cluster, running_cluster, wait_for

# Fails while the input's "fail" is true; a redrive runs the failed state again with its input.
FAILS = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Fail"}],
            "Default": "Done",
        },
        "Fail": {"Type": "Fail", "Error": "Test.Failed"},
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture()
def embedded(tmp_path: Path) -> Iterator[Service]:
    settings = config.load({"ORCHESTRATOR_HOME": str(tmp_path)})
    upgrade(settings.database_url)
    app = Celery("orchestrator-redrive-embedded")
    configure(app, settings)
    with EmbeddedRuntime(app, settings):
        yield Service(settings, app)


def _ended(service: Service, execution_arn: str, redrives: int) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        described = service.describe_execution(execution_arn)
        return described if described["status"] != "RUNNING" and described["redriveCount"] == redrives else None

    return wait_for(ended, 30, what=f"{execution_arn} to end after {redrives} redrive(s)")


@pytest.mark.filterwarnings("ignore::celery.exceptions.SecurityWarning")  # its worker runs as root here
def test_on_the_embedded_default_a_failed_execution_is_redriven(embedded: Service) -> None:
    machine = embedded.create_state_machine(name="redriven", definition=json.dumps(FAILS), role_arn=ROLE)
    execution = embedded.start_execution(machine["stateMachineArn"], input=json.dumps({"fail": True}))["executionArn"]
    assert _ended(embedded, execution, 0)["status"] == "FAILED"

    redriven = embedded.redrive_execution(execution)

    assert redriven["redriveDate"]
    again = _ended(embedded, execution, 1)
    assert (again["status"], again["error"]) == ("FAILED", "Test.Failed")
    events = [e["type"] for e in embedded.get_execution_history(execution, max_results=1000)["events"]]
    assert events.count("ExecutionFailed") == 2 and "ExecutionRedriven" in events
    assert events.count("PassStateEntered") == 1  # it went on from Fail, not from the start


# -- a real cluster (PostgreSQL, Redis, a worker, the scheduler): only what did not succeed reruns ----

WORK = {"Type": "Task", "Resource": LAMBDA.format("fails_once"), "End": True}
ITEM = {"dir.$": "$.dir", "item.$": "$$.Map.Item.Value.n", "fail.$": "$$.Map.Item.Value.fail", "after": 3}


def _map(mode: str) -> dict[str, Any]:
    config = {"Mode": mode, **({"ExecutionType": "STANDARD"} if mode == "DISTRIBUTED" else {})}
    each = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": ITEM,
        "ItemProcessor": {"ProcessorConfig": config, "StartAt": "Work", "States": {"Work": WORK}},
        "End": True,
    }
    return {"StartAt": "Each", "States": {"Each": each}}


PARALLEL = {
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {**WORK, "Parameters": {"dir.$": "$.dir", "item": "a"}}}},
                {
                    "StartAt": "B",
                    "States": {"B": {**WORK, "Parameters": {"dir.$": "$.dir", "item": "b", "fail": True, "after": 1}}},
                },
            ],
            "End": True,
        }
    },
}


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # The items that fail wait for the others to succeed first: a slot each (threads are cheap).
    tmp = tmp_path_factory.mktemp("redrive")
    buckets = {"ORCHESTRATOR_S3_ROOT": str(tmp / "buckets")}  # a Distributed Map's ResultWriter writes there
    with running_cluster(database_url, tmp, workers=0, extra_env=buckets) as cluster:
        cluster.start_worker(concurrency=8, pool="threads")
        yield cluster


def _items(folder: Path, failing: set[int]) -> dict[str, Any]:
    return {"dir": str(folder), "items": [{"n": n, "fail": n in failing} for n in range(5)]}


def _calls(folder: Path, item: object) -> int:
    return len(list(folder.glob(f"{item}.*.call")))


def _redriven(cluster: Cluster, execution: str) -> dict[str, Any]:
    return wait_for(
        lambda: (d := cluster.describe(execution))["status"] != "RUNNING" and d["redriveCount"] == 1 and d,
        60,
        what=f"{execution} to end after its redrive",
    )


def test_a_map_reruns_only_its_failed_iterations_and_keeps_the_others_results(cluster: Cluster, tmp_path: Path) -> None:
    # Given a Map of 5 items whose items 1 and 3 fail their first call, and so the execution
    machine = cluster.state_machine(_map("INLINE"))
    execution = cluster.start(machine, _items(tmp_path, {1, 3}))
    failed = cluster.wait(execution)
    assert (failed["status"], failed["error"]) == ("FAILED", "Test.FirstTry")
    assert (failed["redriveCount"], failed["redriveStatus"]) == (0, "REDRIVABLE")
    assert "redriveDate" not in failed and "redriveStatusReason" not in failed

    # When it is redriven
    redriven = cluster.service.redrive_execution(execution)

    # Then only the two failed items run again, and the output holds all five results in order
    again = _redriven(cluster, execution)
    assert again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"]) == [{"item": n} for n in range(5)]
    assert [_calls(tmp_path, n) for n in range(5)] == [1, 2, 1, 2, 1]
    assert again["redriveDate"] == redriven["redriveDate"]
    assert again["redriveStatus"] == "NOT_REDRIVABLE"
    assert again["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    events = cluster.history(execution)
    assert [e["executionRedrivenEventDetails"] for e in events if e["type"] == "ExecutionRedriven"] == [
        {"redriveCount": 1}
    ]
    assert [e["type"] for e in events].count("MapStateEntered") == 1  # the Map went on; it did not start over
    assert_history_is_sound_but_for_the_redrive(events)


def test_a_parallel_reruns_only_its_failed_branch(cluster: Cluster, tmp_path: Path) -> None:
    machine = cluster.state_machine(PARALLEL)
    execution = cluster.start(machine, {"dir": str(tmp_path)})
    assert cluster.wait(execution)["status"] == "FAILED"

    cluster.service.redrive_execution(execution)

    again = _redriven(cluster, execution)
    assert again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"]) == [{"item": "a"}, {"item": "b"}]
    assert (_calls(tmp_path, "a"), _calls(tmp_path, "b")) == (1, 2)


def test_a_distributed_map_redrives_its_map_run(cluster: Cluster, tmp_path: Path) -> None:
    machine = cluster.state_machine(_map("DISTRIBUTED"))
    execution = cluster.start(machine, _items(tmp_path, {0, 4}))
    assert cluster.wait(execution)["status"] == "FAILED"
    [run] = cluster.service.list_map_runs(execution)["mapRuns"]
    before = cluster.service.describe_map_run(run["mapRunArn"])
    assert (before["status"], before["redriveCount"]) == ("FAILED", 0) and "redriveDate" not in before

    cluster.service.redrive_execution(execution)

    again = _redriven(cluster, execution)
    assert again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"]) == [{"item": n} for n in range(5)]
    assert [_calls(tmp_path, n) for n in range(5)] == [2, 1, 1, 1, 2]
    # the same Map Run, redriven once
    assert [r["mapRunArn"] for r in cluster.service.list_map_runs(execution)["mapRuns"]] == [run["mapRunArn"]]
    after = cluster.service.describe_map_run(run["mapRunArn"])
    assert (after["status"], after["redriveCount"], after["itemCounts"]["succeeded"]) == ("SUCCEEDED", 1, 5)
    assert after["redriveDate"] >= again["redriveDate"]
    redriven = [e["mapRunRedrivenEventDetails"] for e in cluster.history(execution) if e["type"] == "MapRunRedriven"]
    assert redriven == [{"mapRunArn": run["mapRunArn"], "redriveCount": 1}]
    # its iterations that failed were redriven, as executions of their own; the others ran once
    children = cluster.service.list_executions("", map_run_arn=run["mapRunArn"])["executions"]
    counts = sorted(cluster.describe(c["executionArn"])["redriveCount"] for c in children)
    assert counts == [0, 0, 0, 1, 1] and {c["status"] for c in children} == {"SUCCEEDED"}

    def iterations(redrive_filter: str) -> list[dict[str, Any]]:
        found = cluster.service.list_executions("", map_run_arn=run["mapRunArn"], redrive_filter=redrive_filter)
        return list(found["executions"])

    assert [e["redriveCount"] for e in iterations("REDRIVEN")] == [1, 1]
    assert len(iterations("NOT_REDRIVEN")) == 3 and all("redriveCount" not in e for e in iterations("NOT_REDRIVEN"))


def test_list_executions_filters_by_redrive(cluster: Cluster, tmp_path: Path) -> None:
    machine = cluster.state_machine(PARALLEL)
    (tmp_path / "redriven").mkdir()
    (tmp_path / "b.failed").touch()  # in this folder, b fails no more
    redriven = cluster.start(machine, {"dir": str(tmp_path / "redriven")})
    never = cluster.start(machine, {"dir": str(tmp_path)})
    assert cluster.wait(redriven)["status"] == "FAILED" and cluster.wait(never)["status"] == "SUCCEEDED"
    cluster.service.redrive_execution(redriven)
    _redriven(cluster, redriven)

    def listed(redrive_filter: str | None) -> list[dict[str, Any]]:
        return cluster.service.list_executions(machine, redrive_filter=redrive_filter)["executions"]

    assert [e["executionArn"] for e in listed("REDRIVEN")] == [redriven]
    assert [e["executionArn"] for e in listed("NOT_REDRIVEN")] == [never]
    assert {e["executionArn"] for e in listed(None)} == {redriven, never}
    [item] = listed("REDRIVEN")
    assert item["redriveCount"] == 1 and item["redriveDate"] == cluster.describe(redriven)["redriveDate"]
    with pytest.raises(ServiceError) as refused:
        listed("SOMETIMES")
    assert refused.value.code == "ValidationException"


def test_a_succeeded_execution_is_not_redrivable_and_says_why(cluster: Cluster, tmp_path: Path) -> None:
    machine = cluster.state_machine(PARALLEL)
    (tmp_path / "b.failed").touch()
    execution = cluster.start(machine, {"dir": str(tmp_path)})
    assert cluster.wait(execution)["status"] == "SUCCEEDED"

    with pytest.raises(ServiceError) as refused:
        cluster.service.redrive_execution(execution)

    assert refused.value.code == "ExecutionNotRedrivable"
    assert refused.value.message == "Execution is SUCCEEDED and cannot be redriven."


def assert_history_is_sound_but_for_the_redrive(events: list[dict[str, Any]]) -> None:
    """Ids 1..n with no gap, links to earlier events, and the one failure the redrive followed."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] < e["id"] for e in events)
    ends = [e["type"] for e in events if e["type"] in ("ExecutionFailed", "ExecutionSucceeded", "ExecutionRedriven")]
    assert ends == ["ExecutionFailed", "ExecutionRedriven", "ExecutionSucceeded"]


def test_a_stopped_map_goes_on_with_the_iteration_it_was_waiting_in(cluster: Cluster) -> None:
    # Given a Map whose iteration 1 waits for a callback when the execution is stopped
    wait = {"Type": "Task", "Resource": CALLBACK, "Parameters": CALLBACK_PARAMETERS, "End": True}
    processor = {
        "StartAt": "Which",
        "States": {
            "Which": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.wait", "BooleanEquals": True, "Next": "Wait"}],
                "Default": "Done",
            },
            "Wait": wait,
            "Done": {"Type": "Pass", "End": True},
        },
    }
    each = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "End": True}
    machine = cluster.state_machine({"StartAt": "Each", "States": {"Each": each}})
    execution = cluster.start(machine, {"items": [{"wait": False}, {"wait": True}, {"wait": False}]})
    old_token = cluster.token_for(execution)
    cluster.service.stop_execution(execution)
    assert cluster.wait(execution)["status"] == "ABORTED"

    # When it is redriven, the iteration waits again (a new token), and its answer comes
    cluster.service.redrive_execution(execution)
    new_token = cluster.token_for(execution)  # the old one was closed when the execution stopped
    assert new_token != old_token
    cluster.service.send_task_success(new_token, json.dumps({"answered": True}))

    # Then the Map ends with every iteration's output, the others not run again
    again = _redriven(cluster, execution)
    assert again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"]) == [{"wait": False}, {"answered": True}, {"wait": False}]
    assert [e["type"] for e in cluster.history(execution)].count("PassStateEntered") == 2


def test_a_parallel_that_failed_after_its_branches_does_not_run_them_again(cluster: Cluster, tmp_path: Path) -> None:
    # Given a Parallel whose branches succeed and whose ResultSelector then fails
    machine = cluster.state_machine(
        {**PARALLEL, "States": {"Both": {**PARALLEL["States"]["Both"], "ResultSelector": {"x.$": "$.missing"}}}}
    )
    (tmp_path / "b.failed").touch()  # b does not fail
    execution = cluster.start(machine, {"dir": str(tmp_path)})
    first = cluster.wait(execution)
    assert (first["status"], first["error"]) == ("FAILED", "States.Runtime")

    # When it is redriven, it goes on from its branches' results: it fails the same way, at once
    cluster.service.redrive_execution(execution)

    again = _redriven(cluster, execution)
    assert (again["status"], again["error"]) == ("FAILED", "States.Runtime")
    assert (_calls(tmp_path, "a"), _calls(tmp_path, "b")) == (1, 1)


def test_a_map_inside_a_failed_branch_reruns_only_its_own_failed_iteration(cluster: Cluster, tmp_path: Path) -> None:
    # Given a Parallel whose second branch is a Map of 3 items, item 1 failing its first call once
    # branch a and items 0 and 2 have succeeded
    item = {**ITEM, "after": 3}
    inner = {**_map("INLINE")["States"]["Each"], "ItemSelector": item}
    branches = [PARALLEL["States"]["Both"]["Branches"][0], {"StartAt": "Each", "States": {"Each": inner}}]
    machine = cluster.state_machine(
        {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": branches, "End": True}}}
    )
    items = [{"n": n, "fail": n == 1} for n in range(3)]
    execution = cluster.start(machine, {"dir": str(tmp_path), "items": items})
    assert cluster.wait(execution)["status"] == "FAILED"

    cluster.service.redrive_execution(execution)

    again = _redriven(cluster, execution)
    assert again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"]) == [{"item": "a"}, [{"item": 0}, {"item": 1}, {"item": 2}]]
    assert [_calls(tmp_path, name) for name in ("a", 0, 1, 2)] == [1, 1, 2, 1]


def test_a_distributed_map_of_express_iterations_starts_its_failed_ones_again(cluster: Cluster, tmp_path: Path) -> None:
    definition = _map("DISTRIBUTED")
    definition["States"]["Each"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "EXPRESS"
    machine = cluster.state_machine(definition)
    items = [{"n": n, "fail": n == 2} for n in range(4)]
    execution = cluster.start(machine, {"dir": str(tmp_path), "items": items})
    assert cluster.wait(execution)["status"] == "FAILED"

    cluster.service.redrive_execution(execution)

    again = _redriven(cluster, execution)
    assert again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"]) == [{"item": n} for n in range(4)]
    assert [_calls(tmp_path, n) for n in range(4)] == [1, 1, 2, 1]
    [run] = cluster.service.list_map_runs(execution)["mapRuns"]
    assert cluster.service.describe_map_run(run["mapRunArn"])["redriveCount"] == 1


def test_a_map_run_redriven_as_often_as_aws_allows_fails_its_map_state(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a Distributed Map whose iteration 1 always fails, and a limit of one redrive a Map Run
    monkeypatch.setattr(redrive_rules, "MAP_RUN_REDRIVES", 1)  # AWS's 1,000, made small
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Check",
        "States": {"Check": FAILS["States"]["Check"], "Fail": FAILS["States"]["Fail"], "Done": FAILS["States"]["Done"]},
    }
    each = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "End": True}
    machine = cluster.state_machine({"StartAt": "Each", "States": {"Each": each}})
    execution = cluster.start(machine, {"items": [{"fail": False}, {"fail": True}]})
    assert cluster.wait(execution)["error"] == "Test.Failed"
    cluster.service.redrive_execution(execution)
    assert _redriven(cluster, execution)["error"] == "Test.Failed"  # its Map Run redriven once

    # When it is redriven again
    cluster.service.redrive_execution(execution)

    # Then its Map state fails at once with States.Runtime, and its Map Run is not redriven again
    ended = wait_for(
        lambda: (d := cluster.describe(execution))["redriveCount"] == 2 and d["status"] != "RUNNING" and d,
        60,
        what="the second redrive to end",
    )
    assert (ended["status"], ended["error"]) == ("FAILED", "States.Runtime")
    assert "redriven 1 times, the most a Map Run can be" in ended["cause"]
    [run] = cluster.service.list_map_runs(execution)["mapRuns"]
    assert cluster.service.describe_map_run(run["mapRunArn"])["redriveCount"] == 1


def test_a_map_whose_result_writer_failed_writes_its_results_without_running_its_iterations_again(
    cluster: Cluster, tmp_path: Path
) -> None:
    # Given a Distributed Map whose ResultWriter's bucket does not exist yet
    definition = _map("DISTRIBUTED")
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results", "Prefix": "runs"}}
    definition["States"]["Each"]["ResultWriter"] = writer
    machine = cluster.state_machine(definition)
    execution = cluster.start(machine, _items(tmp_path, set()))
    failed = cluster.wait(execution)
    assert (failed["status"], failed["error"]) == ("FAILED", "States.ResultWriterFailed"), failed
    [run] = cluster.service.list_map_runs(execution)["mapRuns"]

    # When the bucket is made and the execution redriven
    LocalBuckets(Path(cluster.env["ORCHESTRATOR_S3_ROOT"])).create_bucket("results")
    cluster.service.redrive_execution(execution)

    # Then the results are written, and no iteration ran again
    again = _redriven(cluster, execution)
    assert again["status"] == "SUCCEEDED", again
    written = json.loads(again["output"])
    assert (written["MapRunArn"], written["ResultWriterDetails"]["Bucket"]) == (run["mapRunArn"], "results")
    assert [_calls(tmp_path, n) for n in range(5)] == [1, 1, 1, 1, 1]
    after = cluster.service.describe_map_run(run["mapRunArn"])
    assert (after["status"], after["redriveCount"]) == ("SUCCEEDED", 1)


def test_a_map_reading_its_items_from_s3_does_not_read_them_again(cluster: Cluster, tmp_path: Path) -> None:
    # Given a Distributed Map over a JSON object of 3 items, item 1 failing its first call
    buckets = LocalBuckets(Path(cluster.env["ORCHESTRATOR_S3_ROOT"]))
    buckets.create_bucket("inputs")
    key = f"{tmp_path.name}/items.json"
    buckets.put_object("inputs", key, json.dumps([{"n": n, "fail": n == 1} for n in range(3)]).encode())
    definition = _map("DISTRIBUTED")
    definition["States"]["Each"].pop("ItemsPath")
    definition["States"]["Each"]["ItemReader"] = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": "inputs", "Key": key},
    }
    definition["States"]["Each"]["ItemSelector"] = {**ITEM, "after": 2}
    machine = cluster.state_machine(definition)
    execution = cluster.start(machine, {"dir": str(tmp_path)})
    assert cluster.wait(execution)["status"] == "FAILED"

    # When the object changes, and the execution is redriven
    buckets.put_object("inputs", key, json.dumps([{"n": n, "fail": False} for n in range(10)]).encode())
    cluster.service.redrive_execution(execution)

    # Then the Map goes on over the items it read the first time, rerunning only item 1
    again = _redriven(cluster, execution)
    assert again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"]) == [{"item": n} for n in range(3)]
    assert [_calls(tmp_path, n) for n in range(3)] == [1, 2, 1]
