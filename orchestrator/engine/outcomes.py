"""The values the interpreter works with: where a run is, what arrives, and what happens next.

A *run* is one thread of states: the execution itself, a Parallel branch or a Map iteration. Its
position is a `Cursor`, a plain serializable value the durable runtime stores in a row. `step`
takes a run and an optional `Delivery` (what the outside world answered) and returns one
`Outcome`, which the driver carries out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.asl.errors import HEARTBEAT_TIMEOUT, TIMEOUT

# Where a run stands inside its current state.
Phase = Literal["enter", "task", "wait", "retry", "fanout", "reader", "writer"]


@dataclass(frozen=True, slots=True)
class Cursor:
    """A run's position: the current state, the input it was entered with, and its progress in it."""

    state: str
    input: Any
    phase: Phase = "enter"
    attempts: tuple[int, ...] = ()  # per retrier, for the current state
    retry_count: int = 0  # $$.State.RetryCount
    entered_event_id: int = 0
    entered_time: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "input": self.input,
            "phase": self.phase,
            "attempts": list(self.attempts),
            "retryCount": self.retry_count,
            "enteredEventId": self.entered_event_id,
            "enteredTime": self.entered_time,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cursor:
        return cls(
            state=data["state"],
            input=data["input"],
            phase=data["phase"],
            attempts=tuple(data["attempts"]),
            retry_count=data["retryCount"],
            entered_event_id=data["enteredEventId"],
            entered_time=data["enteredTime"],
        )


@dataclass(frozen=True, slots=True)
class Run:
    """One thread of states and the variables it can see.

    ``scope`` is None for the execution itself, else the key of the Parallel branch or Map
    processor it runs (`model.scope_key`). ``variables`` are its own; ``outer`` are the variables
    of the enclosing runs, readable but not its to change.
    """

    cursor: Cursor
    variables: Mapping[str, Any] = field(default_factory=dict)
    outer: Mapping[str, Any] = field(default_factory=dict)
    scope: tuple[str, int] | None = None

    def at(self, cursor: Cursor) -> Run:
        return Run(cursor, self.variables, self.outer, self.scope)


# -- deliveries: what the outside world answers --------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    output: Any


@dataclass(frozen=True, slots=True)
class TaskFailed:
    error: str | None
    cause: str | None
    timed_out: bool = False  # States.Timeout / States.HeartbeatTimeout: recorded as *TimedOut

    @classmethod
    def time_out(cls, *, heartbeat: bool = False) -> TaskFailed:
        """What a task gets when its TimeoutSeconds (or HeartbeatSeconds) runs out first: no cause."""
        return cls(HEARTBEAT_TIMEOUT if heartbeat else TIMEOUT, None, timed_out=True)


@dataclass(frozen=True, slots=True)
class TaskSubmitted:
    """A callback or .sync task's first call returned; the task keeps waiting."""

    output: Any


@dataclass(frozen=True, slots=True)
class TimerFired:
    pass


@dataclass(frozen=True, slots=True)
class ChildrenSucceeded:
    """Every branch or iteration ended; ``outputs`` in branch or item order (None for a tolerated failure).

    ``map_run_arn``: a Distributed Map's run, for its ResultWriter to name. ``outputs`` None: not
    loaded, for a Distributed Map whose ResultWriter reads them from the Map Run's rows itself.
    """

    outputs: tuple[Any, ...] | None
    map_run_arn: str | None = None


@dataclass(frozen=True, slots=True)
class ChildFailed:
    error: str | None
    cause: str | None


Delivery = TaskSucceeded | TaskFailed | TaskSubmitted | TimerFired | ChildrenSucceeded | ChildFailed


# -- outcomes: what happens next ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """Work a Task state needs done outside the interpreter."""

    state: str
    resource: str
    kind: Literal["lambda", "activity", "service"]
    pattern: Literal["request-response", "sync", "sync:2", "callback"]
    payload: Any
    timeout_seconds: int | None = None
    heartbeat_seconds: int | None = None
    token: str | None = None  # the task token of a .waitForTaskToken task
    credentials: Any = None


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a handler is told about the task it runs (the second argument of every handler)."""

    execution_arn: str
    state_name: str
    resource: str
    retry_count: int
    token: str | None = None  # the task token of a .waitForTaskToken task


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A branch or iteration to start: which block, with what input, at which index."""

    scope: tuple[str, int]
    input: Any
    index: int


@dataclass(frozen=True, slots=True)
class Next:
    """Go on at once with the run at its new position (a new state, or a retry)."""

    run: Run


@dataclass(frozen=True, slots=True)
class Succeed:
    """The run ended; ``output`` is the execution's (or branch's, iteration's) output."""

    output: Any
    run: Run


@dataclass(frozen=True, slots=True)
class Fail:
    """The run failed with an error no Catch handled."""

    error: str | None
    cause: str | None
    run: Run


@dataclass(frozen=True, slots=True)
class Invoke:
    """Run ``task`` outside, then deliver TaskSucceeded or TaskFailed (TaskSubmitted first if any)."""

    task: TaskRequest
    run: Run


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait until ``until`` (a Wait state or a Retry backoff), then deliver TimerFired."""

    until: dt.datetime
    run: Run


@dataclass(frozen=True, slots=True)
class MapReading:
    """Where a Distributed Map's ItemReader stands between two pages of its items.

    The durable runtime reads the items a page at a time; this, kept with the Map's fan-out, is all
    it needs to ask for the next page and turn it into iterations (`step.map_page`): the reader's
    request (``payload`` without its page), the ``position`` the reader gave for the next page, the
    items read and the iterations made so far, and, with an ItemBatcher, its limits and the items
    of the batch still open (``carry``), which the next page's first items fill.
    """

    state: str
    resource: str
    payload: Any
    position: Any
    items: int
    children: int
    carry: tuple[Any, ...] = ()
    batched: bool = False
    max_items: int | None = None
    max_bytes: int | None = None
    batch_input: Any = None

    def request(self, size: int, budget: int) -> TaskRequest:
        """The reader's Task for the next page: at most ``size`` items, about ``budget`` bytes of them."""
        page = {"Size": size, "Bytes": budget, "Position": self.position}
        return TaskRequest(self.state, self.resource, "service", "request-response", {**self.payload, "Page": page})

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "resource": self.resource,
            "payload": self.payload,
            "position": self.position,
            "items": self.items,
            "children": self.children,
            "carry": list(self.carry),
            "batched": self.batched,
            "maxItems": self.max_items,
            "maxBytes": self.max_bytes,
            "batchInput": self.batch_input,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MapReading:
        return cls(
            state=data["state"],
            resource=data["resource"],
            payload=data["payload"],
            position=data["position"],
            items=data["items"],
            children=data["children"],
            carry=tuple(data["carry"]),
            batched=data["batched"],
            max_items=data["maxItems"],
            max_bytes=data["maxBytes"],
            batch_input=data["batchInput"],
        )


@dataclass(frozen=True, slots=True)
class FanOut:
    """Start ``children`` (at most ``max_concurrency`` at a time, 0 = all), then deliver the join."""

    children: tuple[ChildRun, ...]
    max_concurrency: int
    run: Run
    is_map: bool
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None
    map_run_arn: str | None = None  # a Distributed Map: children are executions with their own history
    reading: MapReading | None = None  # ``children`` are the first page's: more items are to be read


Outcome = Next | Succeed | Fail | Invoke | Sleep | FanOut
