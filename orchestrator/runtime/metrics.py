"""Prometheus metrics of executions, Tasks and state transitions, counted from the history they write.

Every history event is appended by `store.runs.append_events`, which notes it on its session. Just
before that session commits, `_before_commit` works out what the events mean here (which state
machine, which resource, how long since the Task started), reading what it needs from the same
transaction; once the commit succeeded, `_after_commit` adds it to the counters. A transaction that
rolls back counts nothing, and a redelivered message that changes nothing appends nothing.

The names follow AWS's CloudWatch metrics for Step Functions (ExecutionsStarted becomes
``orchestrator_executions_started_total``); docs/operations.md lists them all. Lambda functions,
activities and service integrations share the ``orchestrator_tasks_*`` family, told apart by the
``kind`` label (``lambda``, ``activity``, ``service``).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

from orchestrator.engine.history import Event
from orchestrator.store import metrics as queries
from orchestrator.store.metrics import APPENDED_EVENTS, ExecutionLabel, StoredEvent

log = logging.getLogger(__name__)

_PENDING = "orchestrator.metrics_pending"

# From a quick Pass machine to one that waits a day for a person's answer.
EXECUTION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)
TASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

EXECUTION_ENDS = {
    "ExecutionSucceeded": "succeeded",
    "ExecutionFailed": "failed",
    "ExecutionAborted": "aborted",
    "ExecutionTimedOut": "timed_out",
}
EXECUTIONS = {
    outcome: Counter(f"orchestrator_executions_{outcome}", f"Executions {outcome.replace('_', ' ')}", ["state_machine"])
    for outcome in ("started", "succeeded", "failed", "aborted", "timed_out", "redriven")
}
EXECUTION_TIME = Histogram(
    "orchestrator_execution_time_seconds",
    "From an execution's start to its end (AWS's ExecutionTime)",
    ["state_machine"],
    buckets=EXECUTION_BUCKETS,
)
TRANSITIONS = Counter("orchestrator_state_transitions", "States entered (AWS bills these)", ["state_machine"])

# A Task's events by family: (prefix, kind). Lambda and activity events carry their resource only on
# *Scheduled; Task* events carry it on each.
_FAMILIES = (("LambdaFunction", "lambda"), ("Activity", "activity"), ("Task", "service"))
TASK_OUTCOMES = {
    "Scheduled": "scheduled",
    "Started": "started",
    "Succeeded": "succeeded",
    "Failed": "failed",
    "StartFailed": "failed",
    "SubmitFailed": "failed",
    "ScheduleFailed": "failed",
    "TimedOut": "timed_out",
}
TASKS = {
    outcome: Counter(f"orchestrator_tasks_{outcome}", f"Tasks {outcome.replace('_', ' ')}", ["kind", "resource"])
    for outcome in ("scheduled", "started", "succeeded", "failed", "timed_out", "heartbeat_timed_out")
}
TASK_RUN_TIME = Histogram(
    "orchestrator_task_run_time_seconds",
    "From a Task's start to its end (AWS's ...RunTime)",
    ["kind", "resource"],
    buckets=TASK_BUCKETS,
)
TASK_SCHEDULE_TIME = Histogram(
    "orchestrator_task_schedule_time_seconds",
    "From a Task's scheduling to its start (AWS's ...ScheduleTime)",
    ["kind", "resource"],
    buckets=TASK_BUCKETS,
)
_ENDS = frozenset({"succeeded", "failed", "timed_out"})
_MAX_HOPS = 4  # a Task's end is at most TaskSubmitted (and a retry's heartbeat) away from its start


@dataclass(frozen=True, slots=True)
class Observation:
    """One change to one metric, made once the transaction that caused it commits."""

    metric: Counter | Histogram
    labels: tuple[str, ...]
    value: float = 1.0

    def apply(self) -> None:
        child = self.metric.labels(*self.labels)
        if isinstance(child, Counter):
            child.inc(self.value)
        else:
            child.observe(self.value)


def install() -> None:
    """Count the events of every session that commits in this process (idempotent)."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    appended = session.info.pop(APPENDED_EVENTS, None)
    if not appended:
        return
    try:
        session.info[_PENDING] = observe(session, appended)
    except Exception:
        # Metrics must never fail the transition they describe.
        log.exception("metrics: could not read what the appended events are about; they are not counted")


def _after_commit(session: Session) -> None:
    try:
        for observation in session.info.pop(_PENDING, ()):
            observation.apply()
    except Exception:
        # The transaction has committed: its caller must not see it fail.
        log.exception("metrics: could not count a committed transaction's events")


def _after_rollback(session: Session, previous: Any) -> None:
    if previous.nested:
        # A SAVEPOINT (the Client's, per action) rolled back: the transaction goes on. What was
        # appended inside it stays noted, a small overcount on a rare path; the outer one is kept.
        return
    session.info.pop(APPENDED_EVENTS, None)
    session.info.pop(_PENDING, None)


# -- what events mean ------------------------------------------------------------------------------------

# Both caches below are shared by a process's threads (the embedded runtime's, the API's).
_CACHES = threading.Lock()
# State machine names by execution id: they never change, so each process asks once per execution.
_LABELS: collections.OrderedDict[int, ExecutionLabel] = collections.OrderedDict()
_LABELS_KEPT = 10_000


def observe(session: Session, appended: Sequence[tuple[int, Sequence[Event]]]) -> list[Observation | Remembered]:
    """The metric changes the events ``appended`` to each history (by id) make, and the Task events
    to remember once they are committed."""
    found: list[Observation | Remembered] = []
    for history_id, events in appended:
        known = {e.id: StoredEvent(e.id, e.previous_event_id, e.type, e.timestamp, e.details) for e in events}
        label = None
        if any(e.type.startswith("Execution") or e.type.endswith("StateEntered") for e in events):
            label = _label(session, history_id)
        for e in events:
            found.extend(_execution_observations(e, label))
            found.extend(_task_observations(session, history_id, known, e))
            if e.type.endswith(_TASK_OPENINGS) and _family(e.type):
                found.append(Remembered(history_id, _slim(known[e.id])))
    return found


# A Task's opening events this process committed, by (history, event id): the process that records
# the Task's end is often the one that scheduled it (follow-on, the embedded runtime), and then
# finds its start here instead of reading it back.
_RECENT: collections.OrderedDict[tuple[int, int], StoredEvent] = collections.OrderedDict()
_RECENT_KEPT = 20_000
_TASK_OPENINGS = ("Scheduled", "Started", "Submitted")


@dataclass(frozen=True, slots=True)
class Remembered:
    history_id: int
    event: StoredEvent

    def apply(self) -> None:
        with _CACHES:
            _RECENT[(self.history_id, self.event.id)] = self.event
            if len(_RECENT) > _RECENT_KEPT:
                _RECENT.popitem(last=False)


def _slim(e: StoredEvent) -> StoredEvent:
    """The event without its data (a Task's parameters), which the metrics never need."""
    kept = ("resource", "resourceType", "heartbeatInSeconds", "timeoutInSeconds")
    details = {k: v for k, v in (e.details or {}).items() if k in kept}
    return StoredEvent(e.id, e.previous_event_id, e.type, e.timestamp, details)


def count_express(state_machine: str, events: Sequence[Event]) -> None:
    """Count an Express execution that has run: it keeps no history to count from, only the events
    its run returns (all of them, so nothing is read from the database)."""
    if not events:
        return
    label = ExecutionLabel(state_machine, events[0].timestamp)
    known = {e.id: StoredEvent(e.id, e.previous_event_id, e.type, e.timestamp, e.details) for e in events}
    for e in events:
        for observation in (*_execution_observations(e, label), *_task_observations(None, 0, known, e)):
            observation.apply()


def know_label(execution_id: int, state_machine: str, start_date: dt.datetime) -> None:
    """Note an execution's label where the caller has it at hand (its start, a step that locked its
    row), so that counting its events asks the database nothing."""
    with _CACHES:
        # Replaced, not kept: a process that has worked on another database (the tests do) may
        # hold another execution under the same id.
        _LABELS[execution_id] = ExecutionLabel(state_machine, start_date)
        _LABELS.move_to_end(execution_id)
        if len(_LABELS) > _LABELS_KEPT:
            _LABELS.popitem(last=False)


def _label(session: Session, history_id: int) -> ExecutionLabel | None:
    with _CACHES:
        label = _LABELS.get(history_id)
    if label is None:
        label = queries.execution_label(session, history_id)
        if label is None:
            return None
        with _CACHES:
            _LABELS[history_id] = label
            if len(_LABELS) > _LABELS_KEPT:
                _LABELS.popitem(last=False)
    return label


def _execution_observations(e: Event, label: ExecutionLabel | None) -> Iterable[Observation]:
    if label is None:
        return
    machine = (label.state_machine,)
    if e.type.endswith("StateEntered"):
        yield Observation(TRANSITIONS, machine)
    elif e.type == "ExecutionStarted":
        yield Observation(EXECUTIONS["started"], machine)
    elif e.type == "ExecutionRedriven":
        yield Observation(EXECUTIONS["redriven"], machine)
    elif e.type in EXECUTION_ENDS:
        yield Observation(EXECUTIONS[EXECUTION_ENDS[e.type]], machine)
        yield Observation(EXECUTION_TIME, machine, _seconds(label.start_date, e.timestamp))


def _task_observations(
    session: Session | None, history_id: int, known: dict[int, StoredEvent], e: Event
) -> Iterable[Observation]:
    family = _family(e.type)
    if family is None:
        return
    prefix, kind = family
    outcome = TASK_OUTCOMES.get(e.type[len(prefix) :])
    if outcome is None:
        return
    scheduled = None
    if outcome == "scheduled":
        scheduled = e
    elif outcome in ("started", "timed_out") or kind != "service":  # the schedule time, the resource, the clock
        scheduled = _back(session, history_id, known, e, f"{prefix}Scheduled")
    if outcome == "timed_out" and _heartbeat_ran_out(e, scheduled):
        outcome = "heartbeat_timed_out"
    resource = _resource(kind, e.details if kind == "service" else scheduled.details if scheduled else None)
    labels = (kind, resource)
    yield Observation(TASKS[outcome], labels)
    if outcome == "started" and scheduled is not None:
        yield Observation(TASK_SCHEDULE_TIME, labels, _seconds(scheduled.timestamp, e.timestamp))
    if outcome in _ENDS or outcome == "heartbeat_timed_out":
        started = _back(session, history_id, known, e, f"{prefix}Started")
        if started is not None:
            yield Observation(TASK_RUN_TIME, labels, _seconds(started.timestamp, e.timestamp))


def _heartbeat_ran_out(e: Event, scheduled: StoredEvent | Event | None) -> bool:
    """Whether a *TimedOut event was its Task's HeartbeatSeconds running out rather than its
    TimeoutSeconds. AWS records both as States.Timeout, so the clocks tell: it is the heartbeat
    when the Task had one and timed out before its TimeoutSeconds (99999999 unless set). (Events
    recorded before the engine followed AWS here say States.HeartbeatTimeout.)"""
    if (e.details or {}).get("error") == "States.HeartbeatTimeout":
        return True
    details = (scheduled.details or {}) if scheduled is not None else {}
    if "heartbeatInSeconds" not in details:
        return False
    assert scheduled is not None
    return _seconds(scheduled.timestamp, e.timestamp) < float(details.get("timeoutInSeconds", 99999999))


def _family(event_type: str) -> tuple[str, str] | None:
    for prefix, kind in _FAMILIES:
        if event_type.startswith(prefix):
            return prefix, kind
    return None


def _resource(kind: str, details: dict[str, Any] | None) -> str:
    """The resource label: a Lambda function's or an activity's ARN, or a service integration's
    ``<service>:<action>`` (``lambda:invoke``, ``sns:publish.waitForTaskToken``)."""
    if not details:
        return "unknown"
    if kind == "service":
        return f"{details.get('resourceType', '')}:{details.get('resource', '')}"
    return str(details.get("resource", "unknown"))


def _back(
    session: Session | None, history_id: int, known: dict[int, StoredEvent], e: Event | StoredEvent, wanted: str
) -> StoredEvent | None:
    """The nearest event of type ``wanted`` before ``e`` on its run's chain of previous events (read
    from the database when ``known`` lacks one and there is a ``session``)."""
    previous = e.previous_event_id
    for _ in range(_MAX_HOPS):
        if not previous:
            return None
        with _CACHES:
            found = known.get(previous) or _RECENT.get((history_id, previous))
        if found is None:
            if session is None:
                return None
            # A Task's events were appended one after another: one read of the few before ``e``
            # usually holds the whole chain back to its *Scheduled.
            known.update(queries.events_between(session, history_id, max(1, previous - _MAX_HOPS + 1), previous))
            found = known.get(previous)
            if found is None:
                return None
        if found.type == wanted:
            return found
        previous = found.previous_event_id
    return None


def _seconds(start: dt.datetime, end: dt.datetime) -> float:
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=dt.UTC)
    return max(0.0, (end - start).total_seconds())
