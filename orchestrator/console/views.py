"""What the execution page shows, computed from what the service returned: the graph with each
state's status, the table of steps with their timeline, the events page, the Map iterations.

Pure functions of their arguments: the pages call the service, then these.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.console import progress
from orchestrator.console.graph import Graph, build_graph

EVENTS_PER_PAGE = 250
STEPS_PER_PAGE = 250
# JSON longer than this is shown cut, with a button that loads the rest: a Map's input of
# thousands of items would otherwise be most of the page (and of the time spent drawing it).
DATA_SHOWN = 20_000  # characters of an execution's input or output
DETAILS_SHOWN = 2_000  # characters of one event's details in the event view
# A Map's iteration picker lists this many iterations; any other is picked by its number.
ITERATIONS_LISTED = 250
STATUS_LABELS = {
    "succeeded": ("✓", "Succeeded"),
    "failed": ("✕", "Failed"),
    "caught-error": ("!", "Caught error"),
    "running": ("▶", "In progress"),
    "waiting": ("…", "Waiting for callback"),
    "cancelled": ("⊘", "Cancelled"),
    "not-run": ("○", "Not run"),
}
EXECUTION_STATUS = {
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "failed",
    "ABORTED": "cancelled",
    "PENDING_REDRIVE": "running",
}
_RESULT_EVENTS = ("TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded")


@dataclass(frozen=True)
class TimelineBar:
    """A step's place on the execution's timeline, in percent of the whole run."""

    left: float
    width: float
    segments: tuple[tuple[float, float, str], ...]  # (left, width, "attempt" | "failed" | "backoff")


@dataclass(frozen=True)
class Preview:
    """JSON text as a page shows it: whole (indented) when short, its start as it is when long."""

    text: str
    size: str  # the whole's size, as people read it (12 KB)
    cut: bool


@dataclass(frozen=True)
class StepRow:
    index: int
    step: progress.Step
    started_after: str
    duration: str
    bar: TimelineBar


def graph_of(definition: str) -> Graph:
    return build_graph(definition)


def node_statuses(graph: Graph, statuses: Mapping[str, str]) -> dict[str, str]:
    """Node id -> status for every state of the graph (a state never entered is not-run)."""
    return {node.id: statuses.get(node.name, "not-run") for node in graph.nodes}


def node_map(graph: Graph) -> dict[str, dict[str, Any]]:
    """Node id -> what the browser writes on the node (its data-state and data-type)."""
    return {node.id: {"name": node.name, "type": node.type} for node in graph.nodes}


def step_rows(steps: Sequence[progress.Step], start: dt.datetime, end: dt.datetime, *, first: int = 0) -> list[StepRow]:
    """Table rows for ``steps``, the first being step number ``first`` of the execution."""
    span = max((end - start).total_seconds(), 0.001)
    return [
        StepRow(
            index=first + i,
            step=step,
            started_after=duration_text((step.entered - start).total_seconds()),
            duration=duration_text(((step.exited or end) - step.entered).total_seconds()),
            bar=_bar(step, start, end, span),
        )
        for i, step in enumerate(steps)
    ]


def _bar(step: progress.Step, start: dt.datetime, end: dt.datetime, span: float) -> TimelineBar:
    def pct(moment: dt.datetime) -> float:
        return max(0.0, min(100.0, (moment - start).total_seconds() / span * 100))

    left = pct(step.entered)
    right = pct(step.exited or end)
    segments: list[tuple[float, float, str]] = []
    previous_end: dt.datetime | None = None
    for attempt in step.attempts:
        if previous_end is not None and attempt.started > previous_end:
            segments.append((pct(previous_end), pct(attempt.started) - pct(previous_end), "backoff"))
        finish = attempt.ended or end
        segments.append((pct(attempt.started), max(pct(finish) - pct(attempt.started), 0.3), _kind(attempt)))
        previous_end = finish
    return TimelineBar(left, max(right - left, 0.3), tuple(segments))


def _kind(attempt: progress.Attempt) -> str:
    return "failed" if attempt.failed else "attempt"


def duration_text(seconds: float) -> str:
    """A duration as people read it: 850 ms, 4.2 s, 3 min 5 s, 2 h 10 min, 3 d 4 h."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def page_count(items: int, per_page: int) -> int:
    """How many pages ``items`` fill, ``per_page`` a page (an empty list is one empty page)."""
    return max(1, -(-items // per_page))


def preview(text: str | None, limit: int = DATA_SHOWN) -> Preview:
    """``text`` (JSON, or anything) to show in a page, indented if it is short enough to show whole."""
    if text is None:
        return Preview("", size_text(0), False)
    if len(text) <= limit:
        return Preview(pretty(text), size_text(len(text)), False)
    return Preview(text[:limit], size_text(len(text)), True)


def details_preview(details: Mapping[str, Any], limit: int = DETAILS_SHOWN) -> Preview:
    """An event's details, indented, cut after ``limit`` characters."""
    text = json.dumps(details, indent=2, ensure_ascii=False, default=str)
    return Preview(text[:limit], size_text(len(text)), len(text) > limit)


def size_text(characters: int) -> str:
    """A size as people read it: 850 bytes, 12 KB, 1.4 MB (characters counted as bytes)."""
    if characters < 1024:
        return f"{characters} bytes"
    if characters < 1024 * 1024:
        return f"{characters / 1024:.0f} KB"
    return f"{characters / 1024 / 1024:.1f} MB"


def listed_iterations(
    iterations: Sequence[progress.Iteration], lane: str | None, limit: int = ITERATIONS_LISTED
) -> list[progress.Iteration]:
    """The iterations a Map's picker lists: the first ``limit``, and the one shown if it is later."""
    listed = list(iterations[:limit])
    listed.extend(it for it in iterations[limit:] if it.lane == lane)
    return listed


@dataclass(frozen=True)
class IterationSummary:
    """A Map's iterations counted by status, with the failed and aborted ones to link to."""

    succeeded: int
    in_progress: int
    failed: tuple[progress.Iteration, ...]
    aborted: tuple[progress.Iteration, ...]


def iteration_summary(iterations: Sequence[progress.Iteration]) -> IterationSummary:
    counts = Counter(it.status for it in iterations)
    return IterationSummary(
        succeeded=counts["succeeded"],
        in_progress=counts["running"] + counts["waiting"],
        failed=tuple(it for it in iterations if it.status == "failed"),
        aborted=tuple(it for it in iterations if it.status == "cancelled"),
    )


def iteration_lane(iterations: Sequence[progress.Iteration], index: int) -> str | None:
    """The lane of the (first) iteration numbered ``index``; None if there is none."""
    return next((it.lane for it in iterations if it.index == index), None)


def event_details(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The key of an event's details and the details, with JSON text fields parsed for display."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return key, value
    return "", {}


def pretty(text: str | None) -> str:
    """JSON text indented for reading; anything that is not JSON as it is."""
    if text is None:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return text


def task_result(step: progress.Step, events_by_id: Mapping[int, Mapping[str, Any]]) -> str | None:
    """The raw result of a Task step's last successful attempt (before ResultSelector/ResultPath)."""
    for event_id in reversed(step.event_ids):
        event = events_by_id.get(event_id)
        if event is not None and event["type"] in _RESULT_EVENTS:
            return event_details(event)[1].get("output")
    return None


def execution_status(status: str) -> str:
    return EXECUTION_STATUS.get(status, "running")
