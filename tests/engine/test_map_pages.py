"""A Distributed Map's items a page at a time (`step.map_page`): the iterations come out as they
would from all the items at once, batches by count and by bytes across the pages' boundaries, and
the history records the Map Run's start once."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from orchestrator.asl.parse import parse
from orchestrator.engine import batching
from orchestrator.engine import step as interpreter
from orchestrator.engine.history import History
from orchestrator.engine.outcomes import Cursor, FanOut, Invoke, MapReading, Run, TaskSucceeded

EXECUTION = {
    "Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:sm:e", "Name": "e", "Input": {}},
    "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:sm", "Name": "sm"},
}
ITEMS = [{"id": i, "text": "x" * (i % 7)} for i in range(100)]


def definition(batcher: dict[str, Any] | None) -> str:
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": "b", "Key": "k"},
        },
        "ItemSelector": {"id.$": "$$.Map.Item.Value.id", "index.$": "$$.Map.Item.Index", "text.$": "$.tag"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": True}},
        },
        "End": True,
    }
    if batcher is not None:
        state["ItemBatcher"] = batcher
    return json.dumps({"StartAt": "M", "States": {"M": state}})


def env(history: History) -> interpreter.Env:
    return interpreter.Env(EXECUTION, history, random.Random(7), lambda: "token")


def page(items: list[Any], position: int | None) -> dict[str, Any]:
    """A reader's page, as `integrations.item_reader.read_page` answers (its position here a number)."""
    return {"Items": json.dumps(items), "Next": position}


def read_in_pages(text: str, size: int) -> tuple[list[Any], History]:
    """Every iteration's input, the Map reading ``ITEMS`` ``size`` at a time."""
    machine = parse(text)
    history = History(1, 0, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    run = Run(Cursor(state="M", input={"tag": "t"}))
    asked = interpreter.step(machine, run, None, env(history))
    assert isinstance(asked, Invoke)
    first = page(ITEMS[:size], size if size < len(ITEMS) else None)
    fan = interpreter.step(machine, asked.run, TaskSucceeded(first), env(history))
    assert isinstance(fan, FanOut)
    children, reading = list(fan.children), fan.reading
    while reading is not None:
        at = reading.position
        reading = MapReading.from_json(json.loads(json.dumps(reading.to_json())))  # as the runtime keeps it
        answer = page(ITEMS[at : at + size], at + size if at + size < len(ITEMS) else None)
        more, reading = interpreter.map_page(machine, fan.run, answer, reading, env(history))
        children += more
    assert [child.index for child in children] == list(range(len(children)))
    return [child.input for child in children], history


def selected(items: list[Any]) -> list[Any]:
    return [{"id": item["id"], "index": i, "text": "t"} for i, item in enumerate(items)]


def test_pages_without_a_batcher_make_an_iteration_per_item_numbered_on() -> None:
    inputs, history = read_in_pages(definition(None), 30)
    assert inputs == selected(ITEMS)
    # one MapStateStarted and one MapRunStarted, whatever the number of pages
    assert [e.type for e in history.events] == ["MapStateEntered", "MapStateStarted", "MapRunStarted"]


def test_batches_by_count_cross_the_pages_boundaries() -> None:
    # Given batches of 6 and pages of 17 items (no page ends on a batch's end)
    inputs, _ = read_in_pages(definition({"MaxItemsPerBatch": 6, "BatchInput": {"b.$": "$.tag"}}), 17)
    # Then the batches are those of all the items at once: 16 of 6 and one of 4
    assert inputs == list(batching.batches(selected(ITEMS), 6, None, {"b": "t"}))
    assert [len(batch["Items"]) for batch in inputs] == [6] * 16 + [4]


def test_batches_by_bytes_and_count_are_those_of_the_whole_reading() -> None:
    batcher = {"MaxItemsPerBatch": 9, "MaxInputBytesPerBatch": 260}
    for size in (1, 7, 50, 100):
        inputs, _ = read_in_pages(definition(batcher), size)
        assert inputs == list(batching.batches(selected(ITEMS), 9, 260)), size
