"""History timestamps never go backwards against event ids (issue 16 item 2).

A Map's iterations and a Parallel's branches run side by side on the workers; each transaction
appends its events under the execution's lock, but took its time before waiting for that lock, so a
transaction that waited longest wrote the earliest time after later ones. On SQLite (whose writers
queue for one lock) and on PostgreSQL, each event's timestamp must be >= the one before it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import (  # noqa: F401 - database_url is a fixture
    REDIS_URL,
    Cluster,
    assert_history_is_sound,
    close_clusters,
    database_url,
    new_cluster,
)

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:{}"
ADD = {"Type": "Task", "Resource": LAMBDA.format("add"), "Parameters": {"n.$": "$.n"}}

FAN_OUT: dict[str, Any] = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"n.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "StartAt": "Add",
                "States": {"Add": {**ADD, "Next": "Again"}, "Again": {**ADD, "End": True}},
            },
            "ResultPath": "$.mapped",
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": f"Add{i}", "States": {f"Add{i}": {**ADD, "Parameters": {"n": i}, "End": True}}}
                for i in range(6)
            ],
            "End": True,
        },
    },
}


@pytest.fixture(params=["sqlite", "postgresql"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'history.sqlite'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("database_url")
    made = new_cluster(url, REDIS_URL, tmp_path / "cluster")
    try:
        made.start_scheduler()
        made.start_workers(2, concurrency=4)
        yield made
    finally:
        close_clusters([made])


def test_timestamps_follow_event_ids_through_a_map_and_a_parallel(cluster: Cluster) -> None:
    machine = cluster.state_machine(FAN_OUT)
    arns = [cluster.start(machine, {"items": list(range(12))}) for _ in range(3)]
    for arn in arns:
        assert cluster.wait(arn, timeout=120)["status"] == "SUCCEEDED"
        events = cluster.history(arn)
        assert_history_is_sound(events)
        backwards = [
            (before["id"], before["timestamp"], after["id"], after["timestamp"])
            for before, after in itertools.pairwise(events)
            if after["timestamp"] < before["timestamp"]
        ]
        assert backwards == []
