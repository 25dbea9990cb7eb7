"""A large fan-out: a Map over 6,000 items with MaxConcurrency 100, on PostgreSQL and Redis.

Each iteration of an inline Map writes 4 events to its execution's history, which AWS caps at
25,000 events: 6,000 items (24,006 events) is about the largest such Map can be, here as on AWS.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import Any

from sqlalchemy import func, select

from orchestrator.store.db import session_scope
from orchestrator.store.models import Execution
from tests.runtime.conftest import ClusterFactory, assert_history_is_sound, report

ITEMS = 6_000
CONCURRENCY = 100

BIG_MAP: dict[str, Any] = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": CONCURRENCY,
            "ItemSelector": {"value.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "StartAt": "Increment",
                "States": {
                    "Increment": {
                        "Type": "Pass",
                        "Parameters": {"next.$": "States.MathAdd($.value, 1)"},
                        "OutputPath": "$.next",
                        "End": True,
                    }
                },
            },
            "End": True,
        }
    },
}


def test_a_map_over_six_thousand_items_completes_in_item_order(cluster_factory: ClusterFactory) -> None:
    cluster = cluster_factory()
    for _ in range(2):
        cluster.start_worker(concurrency=2)
    machine = cluster.state_machine(BIG_MAP)
    items = [ITEMS - i for i in range(ITEMS)]  # values unlike their indexes: order is checked, not assumed
    began = time.monotonic()
    execution = cluster.start(machine, {"items": items})
    root_id = cluster.execution_id(execution)

    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            with session_scope(cluster.settings.database_url) as session:
                running = session.scalar(
                    select(func.count()).where(Execution.root_id == root_id, Execution.status == "RUNNING")
                )
            peak = max(peak, int(running or 0))
            done.wait(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = cluster.wait(execution, timeout=900)
    finally:
        done.set()
        watcher.join()
    elapsed = time.monotonic() - began
    report(
        f"Map over {ITEMS} items, MaxConcurrency {CONCURRENCY}: {elapsed:.1f}s ({ITEMS / elapsed:.0f} iterations/s), "
        f"at most {peak} iterations running at once; 2 workers x 2 processes"
    )
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    output = json.loads(result["output"])
    assert output == [ITEMS - i + 1 for i in range(ITEMS)]
    assert 1 < peak <= CONCURRENCY
    events = cluster.history(execution)
    assert_history_is_sound(events)
    counted = collections.Counter(e["type"] for e in events)
    assert counted["MapIterationStarted"] == counted["MapIterationSucceeded"] == ITEMS
    assert counted["PassStateEntered"] == ITEMS
