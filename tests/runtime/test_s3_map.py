"""A Distributed Map over an S3 object, through a real worker and scheduler, on PostgreSQL and SQLite:
the ItemReader reads local buckets, the iterations run as child executions, the ResultWriter's files
are read back; and a reader's failure is the Map's States.ItemReaderFailed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.integrations.s3 import LocalBuckets
from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import REDIS_URL, Cluster, close_clusters, new_cluster

ROWS = 25


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
    cluster = new_cluster(url, REDIS_URL, tmp_path / "cluster", extra_env={"ORCHESTRATOR_S3_ROOT": str(buckets.root)})
    try:
        cluster.start_scheduler()
        cluster.start_worker()
        yield cluster, buckets
    finally:
        close_clusters([cluster])


def csv_map(key: str, **fields: Any) -> dict[str, Any]:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Count",
        "States": {"Count": {"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.Items)"}, "End": True}},
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
    execution = cluster.start(cluster.state_machine(definition))
    ended = cluster.wait(execution, timeout=90)
    # Then three child executions counted 10, 10 and 5 items, and the manifest names their results
    assert ended["status"] == "SUCCEEDED", ended
    output = json.loads(ended["output"])
    run_id = output["MapRunArn"].rsplit(":", 1)[1]
    assert output["ResultWriterDetails"] == {"Bucket": "out", "Key": f"runs/{run_id}/manifest.json"}
    manifest = read_json(buckets, "out", f"runs/{run_id}/manifest.json")
    succeeded = read_json(buckets, "out", manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    assert [(r["Index"], r["Output"]) for r in succeeded] == [(0, {"n": 10}), (1, {"n": 10}), (2, {"n": 5})]
    assert manifest["ResultFiles"]["FAILED"] == []
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
