"""Execution history events, in the shape GetExecutionHistory returns them.

The interpreter appends events to a `History` as it goes; the driver gives it the next free id
and the id the run's previous event had, then stores what was appended. Event details keep Python
values; `Event.to_api` renders them as the API does (input and output as JSON text).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from orchestrator.asl.errors import RUNTIME

# Details members that the API carries as JSON text rather than as JSON.
_JSON_TEXT_FIELDS = frozenset({"input", "output", "parameters"})

# AWS's hard quota, "Maximum execution history size: 25,000 events": "When an execution reaches
# 24,999 events, it waits for the next event to happen. If the event number 25,000 is
# ExecutionSucceeded, the execution finishes successfully. If [not], the ExecutionFailed event is
# logged" (Step Functions developer guide, bp-history-limit.html). The error and cause are those
# AWS records (seen in executions that reached it: loads/ardere#86, floci-io/floci#2734).
MAX_EVENTS = 25_000
HISTORY_LIMIT_ERROR = RUNTIME
HISTORY_LIMIT_CAUSE = f"The execution reached the maximum number of history events ({MAX_EVENTS})."


class HistoryFull(Exception):
    """The history holds MAX_EVENTS - 1 events and the next one is not ExecutionSucceeded."""


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    previous_event_id: int
    timestamp: dt.datetime
    type: str
    details: dict[str, Any] | None = None

    def to_api(self, include_data: bool = True) -> dict[str, Any]:
        """The event as GetExecutionHistory returns it (boto3's parsed shape: datetime timestamps)."""
        out: dict[str, Any] = {
            "timestamp": self.timestamp,
            "type": self.type,
            "id": self.id,
            "previousEventId": self.previous_event_id,
        }
        if self.details is not None:
            out[details_key(self.type)] = render_details(self.details, include_data)
        return out


def render_details(details: dict[str, Any], include_data: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key in _JSON_TEXT_FIELDS:
            if include_data:
                out[key] = value if isinstance(value, str) and key == "parameters" else to_text(value)
        elif key == "assignedVariables":
            out[key] = {name: to_text(v) for name, v in value.items()} if include_data else {}
        else:
            out[key] = value
    return out


def to_text(value: Any) -> str:
    """JSON text as AWS writes payloads: compact, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def iso(moment: dt.datetime) -> str:
    """A timestamp as AWS writes it in the context object: UTC, milliseconds, Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def details_key(event_type: str) -> str:
    """The member holding an event's details: ``PassStateEntered`` -> ``stateEnteredEventDetails``."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


@dataclass(slots=True)
class History:
    """An append-only run of events for one step of one run.

    ``previous`` is the id of the run's last event: each new event links to it and becomes it, so
    the events of a branch chain among themselves while other branches interleave. With a
    ``limit`` (`MAX_EVENTS`), an event that would be number ``limit`` raises `HistoryFull` unless it
    is ExecutionSucceeded; the events before it stay in ``events``.
    """

    next_id: int
    previous: int
    now: dt.datetime
    events: list[Event] = field(default_factory=list)
    _now_iso: str | None = None
    limit: int | None = None

    @property
    def now_iso(self) -> str:
        """``now`` as the context object writes it (computed once: a step may enter many states)."""
        if self._now_iso is None:
            self._now_iso = iso(self.now)
        return self._now_iso

    def add(
        self,
        event_type: str,
        details: dict[str, Any] | None = None,
        *,
        link: bool = True,
        previous: int | None = None,
    ) -> int:
        """Append an event; returns its id.

        ``link=False`` records it without moving the chain; ``previous`` links it somewhere else
        than the chain's end.
        """
        if self.limit is not None and self.next_id >= self.limit and event_type != "ExecutionSucceeded":
            raise HistoryFull(f"event {self.next_id} would be {event_type}")
        event = Event(self.next_id, self.previous if previous is None else previous, self.now, event_type, details)
        self.events.append(event)
        self.next_id += 1
        if link:
            self.previous = event.id
        return event.id

    def previous_of(self, event_id: int) -> int | None:
        """The previousEventId of an event appended in this step, if it was."""
        first = self.events[0].id if self.events else self.next_id
        index = event_id - first
        return self.events[index].previous_event_id if 0 <= index < len(self.events) else None
