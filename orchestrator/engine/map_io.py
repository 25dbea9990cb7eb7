"""What a Distributed Map asks of S3: its ItemReader's request, and its ResultWriter's.

The interpreter does no I/O: a Map with an ``ItemReader`` first hands the runtime a Task of its
own (resource ``arn:aws:states:::s3:getObject`` or ``s3:listObjectsV2``, the resolved Parameters
and ReaderConfig as payload) and fans out over the items that come back; one with a
``ResultWriter`` hands over its iterations' results (``arn:aws:states:::s3:putObject``) and
takes the writer's answer as its result. `orchestrator.integrations.s3_tasks` does the work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from orchestrator.asl import jsonata
from orchestrator.asl.errors import ITEM_READER_FAILED, RESULT_WRITER_FAILED, StatesError
from orchestrator.asl.model import MapState
from orchestrator.asl.payload import compile_template
from orchestrator.engine import dataflow
from orchestrator.engine.dataflow import Scope
from orchestrator.engine.outcomes import TaskRequest


def reader_request(state: MapState, data: Any, scope: Scope) -> TaskRequest:
    """The ItemReader's Task: its Parameters (or Arguments) and ReaderConfig, resolved on ``data``."""
    reader = state.item_reader or {}
    config = dict(reader.get("ReaderConfig") or {})
    if state.is_jsonata:
        states = scope.states(data)
        parameters = dataflow.evaluate_jsonata(reader.get("Arguments", {}), "ItemReader/Arguments", scope, states)
        if jsonata.is_expression(config.get("MaxItems")):
            config["MaxItems"] = dataflow.evaluate_jsonata(config["MaxItems"], "ReaderConfig/MaxItems", scope, states)
    else:
        parameters = dataflow.apply_template(compile_template(reader.get("Parameters", {})), data, scope)
        if "MaxItemsPath" in config:
            config["MaxItems"] = dataflow.select(config.pop("MaxItemsPath"), data, scope, "MaxItemsPath")
    payload = {"Parameters": parameters, "ReaderConfig": config}
    return TaskRequest(state.name, str(reader.get("Resource", "")), "service", "request-response", payload)


def writer_request(
    state: MapState, data: Any, scope: Scope, map_run_arn: str, outputs: tuple[Any, ...] | None
) -> TaskRequest:
    """The ResultWriter's Task: where to write, how, and every iteration's result in item order.

    An iteration that failed within the tolerated failures left no output (None): it is FAILED.
    ``outputs`` None: the Task gets no results (``Results`` null) and reads them from the Map Run.
    """
    writer = state.result_writer or {}
    if state.is_jsonata:
        parameters = dataflow.evaluate_jsonata(
            writer.get("Arguments", {}), "ResultWriter/Arguments", scope, scope.states(data)
        )
    else:
        parameters = dataflow.apply_template(compile_template(writer.get("Parameters", {})), data, scope)
    results = (
        None
        if outputs is None
        else [
            {"Index": i, "Status": "SUCCEEDED", "Output": output}
            if output is not None
            else {"Index": i, "Status": "FAILED", "Output": None}
            for i, output in enumerate(outputs)
        ]
    )
    payload = {
        "Parameters": parameters,
        "WriterConfig": writer.get("WriterConfig") or {},
        "MapRunArn": map_run_arn,
        "Results": results,
    }
    return TaskRequest(state.name, str(writer.get("Resource", "")), "service", "request-response", payload)


@dataclass(frozen=True, slots=True)
class Page:
    """Items an ItemReader answered, and where its next page starts (None: there are no more)."""

    items: list[Any]
    next: Any = None


def paged(task: TaskRequest, size: int, budget: int) -> TaskRequest:
    """The reader's Task asking for its first page only (`MapReading.request` asks for the next)."""
    return replace(task, payload={**task.payload, "Page": {"Size": size, "Bytes": budget, "Position": None}})


def read_page(answer: Any) -> Page:
    """What an ItemReader answered: a page (``{"Items", "Next"}``, to a Task that asked for one), or
    every item (see `read_items`)."""
    if isinstance(answer, dict) and set(answer) == {"Items", "Next"}:
        return Page(read_items(answer["Items"]), answer["Next"])
    return Page(read_items(answer))


def read_items(answer: Any) -> list[Any]:
    """The items an ItemReader answered: a JSON array's text (as `integrations.s3_tasks` sends them,
    one string on the way), or a list (a handler standing in for the reader)."""
    items = json.loads(answer) if isinstance(answer, str) else answer
    if not isinstance(items, list):
        raise StatesError(ITEM_READER_FAILED, "Attempting to map over non-iterable node.")
    return items


def failure_name(phase: str, error: str | None) -> str:
    """The error a reader or writer Task that failed gives its Map: AWS names them all one way."""
    if error and error.startswith("States.") and error not in ("States.TaskFailed",):
        return error
    return ITEM_READER_FAILED if phase == "reader" else RESULT_WRITER_FAILED
