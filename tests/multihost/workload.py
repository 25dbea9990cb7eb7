"""The workflow the multi-host test runs, and what a sound history of it looks like.

Map (a Task per item, run side by side) -> Wait -> Task -> Succeed: six messages an execution (its
start, a Task per iteration, the Wait's timer twice, the last Task). Its handlers sleep a
little (`tests.multihost.handlers`), so that at any moment some of the work is in a worker's hands.

A history is sound when its event ids are 1..n with no gap or repeat, every event follows an
earlier one, each Map iteration starts and ends once, no state is entered twice in the same scope
(the execution, or one Map iteration) without an exit between, and the count of each event type
per state is what `orchestrator.run_local` records for the same definition and input: a
transition recorded twice shows up as one too many.
"""

from __future__ import annotations

import collections
import functools
import json
from typing import Any

from orchestrator import run_local
from tests.multihost.handlers import answer

STEP = "arn:aws:lambda:us-east-1:123456789012:function:multihost-step"
# run_local gets the handler's answer without its sleep: the same history, at once
LOCAL_HANDLERS = {"multihost-step": lambda payload, context: answer(payload)}
ITEMS = 2  # Map iterations per execution

DEFINITION: dict[str, Any] = {
    "Comment": "The multi-host test's workflow: a Map of Tasks, a Wait, a Task",
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"seconds.$": "$.seconds", "value.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": STEP, "End": True}}},
            "ResultPath": "$.fanned",
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Finish"},
        "Finish": {
            "Type": "Task",
            "Resource": STEP,
            "Parameters": {"seconds.$": "$.seconds", "value.$": "$.fanned[0].value"},
            "ResultPath": "$.finished",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def execution_input(n: int, seconds: float) -> dict[str, Any]:
    return {"n": n, "seconds": seconds, "items": [n * 10 + i for i in range(ITEMS)]}


ITERATION_END = ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted")


def event_name(event: dict[str, Any]) -> str | None:
    details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
    return details.get("name") if isinstance(details, dict) else None


def event_index(event: dict[str, Any]) -> int | None:
    details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
    return details.get("index") if isinstance(details, dict) else None


def counts(events: list[dict[str, Any]]) -> collections.Counter[tuple[str, str | None]]:
    """How many events of each (type, state) there are; an event naming no state counts under the
    state its chain of previous events last entered."""
    by_id = {e["id"]: e for e in events}
    current: dict[int, str | None] = {}
    counted: collections.Counter[tuple[str, str | None]] = collections.Counter()
    for event in events:
        name = event_name(event)
        if event["type"].endswith("StateEntered") or name is not None:
            current[event["id"]] = name
        else:
            previous = by_id.get(event["previousEventId"])
            current[event["id"]] = current.get(previous["id"]) if previous else None
        counted[(event["type"], current[event["id"]])] += 1
    return counted


@functools.cache
def expected_counts(n: int, seconds: float) -> collections.Counter[tuple[str, str | None]]:
    """The counts of `run_local` on the same definition and input."""
    result = run_local(DEFINITION, execution_input(n, seconds), handlers=LOCAL_HANDLERS)
    assert result.status == "SUCCEEDED", result
    return counts(result.history)


@functools.cache
def expected_output(n: int, seconds: float) -> dict[str, Any]:
    return run_local(DEFINITION, execution_input(n, seconds), handlers=LOCAL_HANDLERS).output  # type: ignore[no-any-return]


def scopes(events: list[dict[str, Any]]) -> dict[int, int]:
    """The scope of every event: 0 for the execution's own, a MapIterationStarted's id for that
    iteration's, found through previousEventId (an iteration's events chain from its start; its
    start links to the Map's start or to the iteration started before it)."""
    by_id = {e["id"]: e for e in events}
    scope: dict[int, int] = {}
    parent: dict[int, int] = {0: 0}
    for event in events:
        previous = by_id.get(event["previousEventId"])
        outer = scope.get(previous["id"], 0) if previous else 0
        if event["type"] == "MapIterationStarted":
            scope[event["id"]] = event["id"]
            while previous is not None and previous["type"] == "MapIterationStarted":
                previous = by_id.get(previous["previousEventId"])
            parent[event["id"]] = scope.get(previous["id"], 0) if previous else 0
        elif previous is not None and previous["type"] in ITERATION_END and event["type"] not in ITERATION_END:
            scope[event["id"]] = parent.get(outer, 0)  # the Map goes on after its iterations
        else:
            scope[event["id"]] = outer
    return scope


def problems(events: list[dict[str, Any]], n: int, seconds: float) -> list[str]:
    """What is wrong with one execution's history (empty when it is sound)."""
    found: list[str] = []
    ids = [e["id"] for e in events]
    if ids != list(range(1, len(events) + 1)):
        found.append(f"event ids are not 1..{len(events)}: {ids}")
    found.extend(
        f"event {e['id']} follows {e['previousEventId']}, not an earlier event"
        for e in events
        if not 0 <= e["previousEventId"] < e["id"]
    )
    found.extend(_nesting_problems(events))
    found.extend(_iteration_problems(events))
    found.extend(_output_problems(events, n, seconds))
    got, want = counts(events), expected_counts(n, seconds)
    if got != want:
        extra, missing = got - want, want - got
        found.append(f"event counts differ from run_local: extra {dict(extra)}, missing {dict(missing)}")
    return found


def _output_problems(events: list[dict[str, Any]], n: int, seconds: float) -> list[str]:
    last = events[-1] if events else {}
    if last.get("type") != "ExecutionSucceeded":
        return [f"the last event is {last.get('type')}, not ExecutionSucceeded"]
    output = json.loads(last["executionSucceededEventDetails"]["output"])
    want = expected_output(n, seconds)
    return [] if output == want else [f"output {output}, run_local's {want}"]


def _nesting_problems(events: list[dict[str, Any]]) -> list[str]:
    """A state entered while the scope is still in a state, or left when it is not in that one."""
    scope = scopes(events)
    inside: dict[int, str | None] = {}
    found = []
    for event in events:
        kind, where = event["type"], scope[event["id"]]
        if kind.endswith("StateEntered"):
            if inside.get(where) is not None:
                found.append(f"event {event['id']}: {event_name(event)} entered while in {inside[where]}")
            inside[where] = event_name(event)
        elif kind.endswith("StateExited"):
            if inside.get(where) != event_name(event):
                found.append(f"event {event['id']}: {event_name(event)} exited while in {inside.get(where)}")
            inside[where] = None
    return found


def _iteration_problems(events: list[dict[str, Any]]) -> list[str]:
    started = [event_index(e) for e in events if e["type"] == "MapIterationStarted"]
    ended = [event_index(e) for e in events if e["type"] in ITERATION_END]
    found = []
    if sorted(started) != list(range(ITEMS)):
        found.append(f"Map iterations started: {started}")
    if sorted(ended) != list(range(ITEMS)):
        found.append(f"Map iterations ended: {ended}")
    return found
