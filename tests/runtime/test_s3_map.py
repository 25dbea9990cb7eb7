"""A Distributed Map over an S3 object, through a real worker and scheduler, on PostgreSQL and SQLite:
the ItemReader reads local buckets, the iterations run as child executions, the ResultWriter's files
are read back; and a reader's failure is the Map's States.ItemReaderFailed.

The clusters read the items PAGE items at a time (ORCHESTRATOR_MAP_PAGE_ITEMS), so that every object
here takes several pages, whose boundaries fall inside batches."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import func, select

from orchestrator import config
from orchestrator.integrations.s3 import LocalBuckets
from orchestrator.runtime.app import configure
from orchestrator.runtime.embedded import EmbeddedRuntime
from orchestrator.service import Service
from orchestrator.store.db import session_scope
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Execution
from tests.runtime.conftest import (
    LAMBDA,
    REDIS_URL,
    ROLE,
    Cluster,
    assert_history_is_sound,
    close_clusters,
    new_cluster,
    wait_for,
)

ROWS = 25
PAGE = 7


@pytest.fixture(params=["postgresql", "sqlite"])
def s3_cluster(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[tuple[Cluster, LocalBuckets]]:
    """A cluster whose local buckets (a folder of the test's own) hold data/rows.csv, and an "out" bucket."""
    url = database_url
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'orchestrator.sqlite'}"
        upgrade(url)
    buckets = LocalBuckets(tmp_path / "buckets")
    buckets.create_bucket("data")
    buckets.create_bucket("out")
    rows = "".join(f"{i},item-{i}\n" for i in range(ROWS))
    buckets.put_object("data", "rows.csv", f"id,name\n{rows}".encode())
    env = {"ORCHESTRATOR_S3_ROOT": str(buckets.root), "ORCHESTRATOR_MAP_PAGE_ITEMS": str(PAGE)}
    cluster = new_cluster(url, REDIS_URL, tmp_path / "cluster", extra_env=env)
    try:
        cluster.start_scheduler()
        cluster.start_worker()
        yield cluster, buckets
    finally:
        close_clusters([cluster])


def csv_map(key: str, *, ids: bool = False, **fields: Any) -> dict[str, Any]:
    """A Map over the CSV ``key``, each iteration counting its batch (and with ``ids``, naming its rows)."""
    counted = {"n.$": "States.ArrayLength($.Items)", **({"ids.$": "$.Items[*].id"} if ids else {})}
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Count",
        "States": {"Count": {"Type": "Pass", "Parameters": counted, "End": True}},
    }
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        "Parameters": {"Bucket": "data", "Key": key},
    }
    state = {"Type": "Map", "ItemReader": reader, "ItemProcessor": processor, "End": True, **fields}
    return {"StartAt": "Map", "States": {"Map": state}}


def read_json(buckets: LocalBuckets, bucket: str, key: str) -> Any:
    with buckets.get_object(bucket, key) as stream:
        return json.loads(stream.read())


def test_a_csv_in_batches_with_results_written(s3_cluster: tuple[Cluster, LocalBuckets]) -> None:
    cluster, buckets = s3_cluster
    # Given a Map over the 25 rows in batches of 10, writing its results to the "out" bucket
    definition = csv_map(
        "rows.csv",
        ItemBatcher={"MaxItemsPerBatch": 10},
        MaxConcurrency=2,
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "runs"}},
    )
    # When it runs on the cluster
    machine = cluster.state_machine(definition)
    execution = cluster.start(machine)
    ended = cluster.wait(execution, timeout=90)
    # Then three child executions counted 10, 10 and 5 items, and the manifest names their results
    assert ended["status"] == "SUCCEEDED", ended
    output = json.loads(ended["output"])
    run_id = output["MapRunArn"].rsplit(":", 1)[1]
    assert output["ResultWriterDetails"] == {"Bucket": "out", "Key": f"runs/{run_id}/manifest.json"}
    manifest = read_json(buckets, "out", f"runs/{run_id}/manifest.json")
    succeeded = read_json(buckets, "out", manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    assert [json.loads(r["Output"]) for r in succeeded] == [{"n": 10}, {"n": 10}, {"n": 5}]
    assert manifest["ResultFiles"]["FAILED"] == []
    # each record is AWS's record of its child execution
    first = succeeded[0]
    assert list(first) == [
        "ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "RedriveCount",
        "RedriveStatus", "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate",
    ]  # fmt: skip
    described = cluster.service.describe_execution(first["ExecutionArn"])
    assert first["Name"] == described["name"] == first["ExecutionArn"].rsplit(":", 1)[1]
    assert (described["stateMachineArn"], described["mapRunArn"]) == (f"{machine}/Map", output["MapRunArn"])
    assert json.loads(first["Input"]) == json.loads(described["input"]) and first["Status"] == "SUCCEEDED"
    assert first["StateMachineArn"] == f"{machine}/Map"  # the Map Run's: the machine's and the Map's label
    assert (first["RedriveStatus"], first["RedriveStatusReason"]) == (
        "NOT_REDRIVABLE",
        "Execution is SUCCEEDED and cannot be redriven",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["StartDate"])
    assert first["StartDate"] <= first["StopDate"]
    described = cluster.service.describe_map_run(output["MapRunArn"])
    assert described["itemCounts"]["succeeded"] == 3 and described["status"] == "SUCCEEDED"
    types = [e["type"] for e in cluster.history(execution)]
    assert types.count("MapRunStarted") == 1 and types.count("MapRunSucceeded") == 1


def test_a_missing_object_fails_the_map_with_item_reader_failed(s3_cluster: tuple[Cluster, LocalBuckets]) -> None:
    cluster, _ = s3_cluster
    execution = cluster.start(cluster.state_machine(csv_map("missing.csv")))
    ended = cluster.wait(execution, timeout=60)
    assert (ended["status"], ended["error"]) == ("FAILED", "States.ItemReaderFailed")
    assert ended["cause"] == "NoSuchKey: The specified key does not exist."


def put_csv(buckets: LocalBuckets, key: str, rows: int) -> None:
    """A CSV of ``rows`` rows whose every third name is quoted and holds a line break and a comma."""
    lines = [f'{i},"item {i},\nsecond line"\n' if i % 3 == 0 else f"{i},item-{i}\n" for i in range(rows)]
    buckets.put_object("data", key, ("id,name\n" + "".join(lines)).encode())


def results(cluster: Cluster, buckets: LocalBuckets, output: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of the ResultWriter's SUCCEEDED file; no FAILED file."""
    manifest = read_json(buckets, "out", output["ResultWriterDetails"]["Key"])
    assert manifest["ResultFiles"]["FAILED"] == [] and len(manifest["ResultFiles"]["SUCCEEDED"]) == 1
    return list(read_json(buckets, "out", manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]))


def assert_batches_exact(records: list[dict[str, Any]], rows: int, size: int) -> None:
    """Batch k holds rows k*size .. k*size+size-1 (the last one the rest), each once, in order."""
    expected = [[str(i) for i in range(start, min(start + size, rows))] for start in range(0, rows, size)]
    assert [child_index(r) for r in records] == list(range(len(expected)))
    outputs = [json.loads(r["Output"]) for r in records]
    assert [o["ids"] for o in outputs] == expected
    assert sum(o["n"] for o in outputs) == rows


def child_index(record: dict[str, Any]) -> int:
    """The item (or batch) index of a ResultWriter record: its child execution's name ends with it."""
    return int(record["Name"].rsplit("-", 1)[1])


def map_fan(cluster: Cluster, execution: str) -> dict[str, Any] | None:
    """The fan-out record of the execution's Map (its run is the execution's), as the database holds it."""
    with session_scope(cluster.settings.database_url) as session:
        return session.scalar(select(Execution.fan).where(Execution.id == cluster.execution_id(execution)))


def child_rows(cluster: Cluster, execution: str) -> int:
    with session_scope(cluster.settings.database_url) as session:
        root = cluster.execution_id(execution)
        return int(session.scalar(select(func.count()).where(Execution.parent_id == root)) or 0)


def test_a_csv_of_many_pages_in_batches_across_their_boundaries(s3_cluster: tuple[Cluster, LocalBuckets]) -> None:
    cluster, buckets = s3_cluster
    # Given 230 rows (some spanning two lines), read 7 at a time, in batches of 10
    put_csv(buckets, "many.csv", 230)
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "many"}}
    definition = csv_map("many.csv", ids=True, ItemBatcher={"MaxItemsPerBatch": 10}, MaxConcurrency=5)
    definition["States"]["Map"]["ResultWriter"] = writer
    # When the Map runs
    execution = cluster.start(cluster.state_machine(definition))
    ended = cluster.wait(execution, timeout=180)
    # Then 23 batches of 10 consecutive rows ran once each, and the ResultWriter wrote them in order
    assert ended["status"] == "SUCCEEDED", ended
    output = json.loads(ended["output"])
    assert_batches_exact(results(cluster, buckets, output), 230, 10)
    described = cluster.service.describe_map_run(output["MapRunArn"])
    counts = described["itemCounts"]
    assert (counts["total"], counts["succeeded"], counts["resultsWritten"]) == (23, 23, 23)
    assert described["status"] == "SUCCEEDED"
    # and the history is AWS's, whatever the number of pages: no event of the pages' reads
    types = [e["type"] for e in cluster.history(execution)]
    assert types == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    assert map_fan(cluster, execution) is None


def test_a_worker_killed_while_the_items_are_read_leaves_the_reading_where_it_was(
    s3_cluster: tuple[Cluster, LocalBuckets],
) -> None:
    cluster, buckets = s3_cluster
    # Given a Map over 2,000 rows (286 pages of 7) in batches of 50, one running at a time
    put_csv(buckets, "big.csv", 2000)
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "big"}}
    definition = csv_map("big.csv", ids=True, ItemBatcher={"MaxItemsPerBatch": 50}, MaxConcurrency=1)
    definition["States"]["Map"]["ResultWriter"] = writer
    execution = cluster.start(cluster.state_machine(definition))

    # When the worker is killed once a few pages are read, and before the last one is
    def some_pages_read() -> dict[str, Any] | None:
        fan = map_fan(cluster, execution)
        return fan if fan and fan["reading"] and fan["reading"]["position"]["Index"] >= 5 * PAGE else None

    wait_for(some_pages_read, 60, poll=0.01, what="a few pages to be read")
    worker = next(p for p in cluster.processes if p.name.startswith("worker"))
    worker.kill(signal.SIGKILL)
    # Then the database holds where the reading stood: past the rows whose children it holds
    fan = map_fan(cluster, execution)
    assert fan is not None and fan["reading"] is not None, "the reading ended before the worker was killed"
    position = fan["reading"]["position"]
    assert 0 < position["Index"] < 2000 and position["Index"] % PAGE == 0
    assert position["Offset"] > 0 and position["Headers"] == ["id", "name"]
    held = len(fan["reading"]["carry"])
    assert fan["total"] == child_rows(cluster, execution) == (position["Index"] - held) // 50

    # and a new worker goes on from there: every batch exact, each row read once
    cluster.start_worker()
    ended = cluster.wait(execution, timeout=240)
    assert ended["status"] == "SUCCEEDED", ended
    output = json.loads(ended["output"])
    assert_batches_exact(results(cluster, buckets, output), 2000, 50)
    counts = cluster.service.describe_map_run(output["MapRunArn"])["itemCounts"]
    assert (counts["total"], counts["succeeded"]) == (40, 40)
    events = cluster.history(execution)
    assert_history_is_sound(events)
    assert [e["type"] for e in events].count("MapRunStarted") == 1


def test_tolerated_failures_are_judged_on_every_page_and_written_from_the_map_run(
    s3_cluster: tuple[Cluster, LocalBuckets],
) -> None:
    cluster, buckets = s3_cluster
    # Given 30 rows in batches of 4 (8 batches over 5 pages), the batch starting at row 8 failing,
    # and 20% of failures tolerated (judged once the total is known: 1 of 8 is 12.5%)
    put_csv(buckets, "some.csv", 30)
    definition = csv_map("some.csv", ids=True, ItemBatcher={"MaxItemsPerBatch": 4}, ToleratedFailurePercentage=20)
    processor = definition["States"]["Map"]["ItemProcessor"]
    processor["StartAt"] = "Check"
    processor["States"]["Check"] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.Items[0].id", "StringEquals": "8", "Next": "Broken"}],
        "Default": "Count",
    }
    processor["States"]["Broken"] = {"Type": "Fail", "Error": "Row.Broken", "Cause": "row 8"}
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "some"}}
    definition["States"]["Map"]["ResultWriter"] = writer
    # When it runs
    execution = cluster.start(cluster.state_machine(definition))
    ended = cluster.wait(execution, timeout=120)
    # Then the Map succeeds; the ResultWriter, reading the Map Run's rows, writes 7 records and 1 failure
    assert ended["status"] == "SUCCEEDED", ended
    output = json.loads(ended["output"])
    manifest = read_json(buckets, "out", output["ResultWriterDetails"]["Key"])
    succeeded = read_json(buckets, "out", manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    failed = read_json(buckets, "out", manifest["ResultFiles"]["FAILED"][0]["Key"])
    assert [child_index(r) for r in succeeded] == [0, 1, 3, 4, 5, 6, 7]
    assert json.loads(succeeded[-1]["Output"])["ids"] == ["28", "29"]
    (broken,) = failed
    assert child_index(broken) == 2 and "Output" not in broken
    assert (broken["Status"], broken["Error"], broken["Cause"]) == ("FAILED", "Row.Broken", "row 8")
    assert broken["RedriveStatus"] == "REDRIVABLE_BY_MAP_RUN" and "RedriveStatusReason" not in broken
    counts = cluster.service.describe_map_run(output["MapRunArn"])["itemCounts"]
    assert (counts["total"], counts["succeeded"], counts["failed"]) == (8, 7, 1)


def test_a_map_failed_before_its_last_page_is_redriven_from_where_its_reading_stood(
    s3_cluster: tuple[Cluster, LocalBuckets], tmp_path: Path
) -> None:
    cluster, buckets = s3_cluster
    # Given a Map over 2,000 rows (286 pages of 7) in batches of 50, whose first batch fails its
    # first try (a Task of its own), failing the Map long before the last page is read
    put_csv(buckets, "redriven.csv", 2000)
    definition = csv_map(
        "redriven.csv", ids=True, ItemBatcher={"MaxItemsPerBatch": 50, "BatchInput": {"dir.$": "$.dir"}}
    )
    processor = definition["States"]["Map"]["ItemProcessor"]
    processor["StartAt"] = "First"
    processor["States"]["First"] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.Items[0].id", "StringEquals": "0", "Next": "Flaky"}],
        "Default": "Count",
    }
    flaky = {"dir.$": "$.BatchInput.dir", "item": "first", "fail": True}
    processor["States"]["Flaky"] = {
        "Type": "Task",
        "Resource": LAMBDA.format("fails_once"),
        "Parameters": flaky,
        "ResultPath": None,
        "Next": "Count",
    }
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "redriven"}}
    definition["States"]["Map"]["ResultWriter"] = writer
    execution = cluster.start(cluster.state_machine(definition), {"dir": str(tmp_path)})
    failed = cluster.wait(execution, timeout=120)
    assert (failed["status"], failed["error"]) == ("FAILED", "Test.FirstTry"), failed
    with session_scope(cluster.settings.database_url) as session:
        cursor = session.scalar(select(Execution.cursor).where(Execution.id == cluster.execution_id(execution)))
    assert cursor["reading"]["position"]["Index"] < 2000, "the reading ended before the Map failed"
    rows_then = child_rows(cluster, execution)

    # When the execution is redriven
    cluster.service.redrive_execution(execution)
    again = wait_for(
        lambda: (d := cluster.describe(execution))["status"] != "RUNNING" and d["redriveCount"] == 1 and d,
        240,
        what="the redriven execution to end",
    )

    # Then its Map Run goes on: the first batch runs again, the others once, every row in its batch
    assert again["status"] == "SUCCEEDED", again
    output = json.loads(again["output"])
    assert_batches_exact(results(cluster, buckets, output), 2000, 50)
    assert len(list(tmp_path.glob("first.*.call"))) == 2
    described = cluster.service.describe_map_run(output["MapRunArn"])
    assert (described["itemCounts"]["total"], described["redriveCount"]) == (40, 1)
    assert child_rows(cluster, execution) == 40 >= rows_then
    with session_scope(cluster.settings.database_url) as session:
        redriven = session.scalar(
            select(func.count()).where(
                Execution.parent_id == cluster.execution_id(execution), Execution.redrive_count > 0
            )
        )
    assert redriven == 1  # the first batch's child execution only
    types = [e["type"] for e in cluster.history(execution)]
    assert types.count("MapRunStarted") == 1 and types.count("MapRunRedriven") == 1


@pytest.mark.filterwarnings("ignore::celery.exceptions.SecurityWarning")  # its worker runs as root here
def test_an_embedded_runtime_of_settings_given_in_code_writes_its_own_map_runs_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an embedded runtime whose database is not the one the environment names
    buckets = LocalBuckets(tmp_path / "buckets")
    buckets.create_bucket("data")
    buckets.create_bucket("out")
    put_csv(buckets, "rows.csv", 25)
    monkeypatch.setenv("ORCHESTRATOR_S3_ROOT", str(buckets.root))
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "elsewhere"))
    settings = config.load({"ORCHESTRATOR_HOME": str(tmp_path / "home"), "ORCHESTRATOR_MAP_PAGE_ITEMS": "7"})
    upgrade(settings.database_url)
    app = Celery("orchestrator-s3-map-embedded")
    configure(app, settings)
    definition = csv_map("rows.csv", ids=True, ItemBatcher={"MaxItemsPerBatch": 10})
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "embedded"}}
    definition["States"]["Map"]["ResultWriter"] = writer
    with EmbeddedRuntime(app, settings):
        service = Service(settings, app)
        machine = service.create_state_machine(name="embedded-map", definition=json.dumps(definition), role_arn=ROLE)
        execution = service.start_execution(machine["stateMachineArn"], input="{}")["executionArn"]
        # When the Map runs, its items read in pages of 7
        ended = wait_for(
            lambda: (d := service.describe_execution(execution))["status"] != "RUNNING" and d, 60, what="the Map"
        )
    # Then its ResultWriter read the results of its Map Run from the runtime's own database
    assert ended["status"] == "SUCCEEDED", ended
    manifest = read_json(buckets, "out", json.loads(ended["output"])["ResultWriterDetails"]["Key"])
    records = read_json(buckets, "out", manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    assert_batches_exact(records, 25, 10)


def test_a_failure_percentage_beyond_the_tolerance_fails_the_map_once_the_total_is_known(
    s3_cluster: tuple[Cluster, LocalBuckets],
) -> None:
    cluster, buckets = s3_cluster
    # Given 30 rows in batches of 4 (8 batches over 5 pages), those starting at rows 8 and 12 failing,
    # and 20% of failures tolerated: 2 of 8 is 25%
    put_csv(buckets, "more.csv", 30)
    definition = csv_map("more.csv", ItemBatcher={"MaxItemsPerBatch": 4}, ToleratedFailurePercentage=20)
    processor = definition["States"]["Map"]["ItemProcessor"]
    processor["StartAt"] = "Check"
    failing = [{"Variable": "$.Items[0].id", "StringEquals": row} for row in ("8", "12")]
    processor["States"]["Check"] = {
        "Type": "Choice",
        "Choices": [{"Or": failing, "Next": "Broken"}],
        "Default": "Count",
    }
    processor["States"]["Broken"] = {"Type": "Fail", "Error": "Row.Broken", "Cause": "a row"}
    # When it runs
    execution = cluster.start(cluster.state_machine(definition))
    ended = cluster.wait(execution, timeout=120)
    # Then the Map fails as AWS's does when the tolerance is exceeded
    assert (ended["status"], ended["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold"), ended
    types = [e["type"] for e in cluster.history(execution)]
    assert types.count("MapRunStarted") == 1 and types.count("MapRunFailed") == 1
