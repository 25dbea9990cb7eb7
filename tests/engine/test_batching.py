"""ItemBatcher's batches by count and by bytes, from any iterable of items (a reader's stream too)."""

from __future__ import annotations

import itertools

from orchestrator.engine.batching import batches, json_size
from orchestrator.local import run_local


def test_batches_by_count_keep_every_item_in_order() -> None:
    out = list(batches(iter(range(7)), 3, None))
    assert out == [{"Items": [0, 1, 2]}, {"Items": [3, 4, 5]}, {"Items": [6]}]


def test_batches_by_bytes_stay_within_the_limit() -> None:
    items = [{"id": i, "text": "x" * (i % 13)} for i in range(200)]
    out = list(batches(items, None, 300, {"job": 1}))
    assert [item for batch in out for item in batch["Items"]] == items
    assert all(json_size(batch) <= 300 for batch in out)
    # each batch is as full as the limit lets it be: the next batch's first item would not have fitted
    for batch, following in itertools.pairwise(out):
        assert json_size({**batch, "Items": [*batch["Items"], following["Items"][0]]}) > 300


def test_an_item_bigger_than_the_limit_gets_a_batch_of_its_own() -> None:
    out = list(batches(["a", "b" * 50, "c"], None, 20))
    assert out == [{"Items": ["a"]}, {"Items": ["b" * 50]}, {"Items": ["c"]}]


def test_count_and_bytes_together_and_paths_holding_text() -> None:
    # Given an ItemBatcher whose limits come from the input, as text (AWS reads "2" as 2)
    batcher = {"MaxItemsPerBatchPath": "$.count", "MaxInputBytesPerBatchPath": "$.bytes"}
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "End": True}},
    }
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemBatcher": batcher,
                "ItemProcessor": processor,
                "End": True,
            }
        },
    }
    items = ["aaaa", "b", "c", "dddddddddd", "e"]
    result = run_local(definition, {"items": items, "count": "2", "bytes": "24"})
    # Then no batch holds more than 2 items nor more than 24 bytes of JSON
    assert result.output == [{"Items": ["aaaa", "b"]}, {"Items": ["c"]}, {"Items": ["dddddddddd"]}, {"Items": ["e"]}]
