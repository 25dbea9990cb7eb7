"""The durable driver: apply one piece of news to an execution, in one transaction.

Everything that changes an execution's tree (the execution, its branches and iterations) happens
under the lock of the execution's row, in a `Tree` that:

1. steps the run the news is for through every state that needs nothing from outside
   (`engine.step`, the same interpreter `run_local` uses), appending their events;
2. records what the run waits for next: a handler invocation (a message), a timer row, a task
   token row, or its children (rows, of which the first ones start at once);
3. when a branch or iteration ends, counts it on its parent (``fan``) and, when it was the last
   one or a failure, goes on with the parent in the same transaction;
4. queues the messages to publish in the outbox, in the same transaction.

The caller commits, then publishes the returned messages. A message whose ``seq`` no longer
matches its run (delivered twice, or overtaken by a timeout) changes nothing.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import random
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from orchestrator.asl.errors import StatesError
from orchestrator.asl.model import MapState, ParallelState, StateMachine
from orchestrator.asl.parse import parse
from orchestrator.config import Settings
from orchestrator.engine import map_io
from orchestrator.engine import step as interpreter
from orchestrator.engine.history import (
    HISTORY_LIMIT_CAUSE,
    HISTORY_LIMIT_ERROR,
    MAX_EVENTS,
    Event,
    History,
    HistoryFull,
)
from orchestrator.engine.outcomes import (
    ChildFailed,
    ChildrenSucceeded,
    ChildRun,
    Cursor,
    Delivery,
    Fail,
    FanOut,
    Invoke,
    MapReading,
    Next,
    Outcome,
    Run,
    Sleep,
    Succeed,
    TaskFailed,
    TaskRequest,
    TaskSucceeded,
)
from orchestrator.engine.resources import Resource, handler_name, parse_resource
from orchestrator.integrations import registry
from orchestrator.runtime import metrics, nested, status_events, tracing
from orchestrator.runtime.leases import FollowOnLease
from orchestrator.runtime.messages import ADVANCE, EXPRESS_ITERATION, INVOKE, Message, encode_delivery, encode_request
from orchestrator.store import leases as store_leases
from orchestrator.store import map_runs, runs
from orchestrator.store.models import StateMachine as StateMachineRow

# The children (branches, iterations) a transaction starts are stepped in it, this many at most,
# each until it waits for something from outside or ends; each other one gets a message. So a
# fan-out whose iterations need nothing from outside costs a few statements an iteration, not a
# transaction and a broker hop each (one broker hop per blocking state), and a transaction stays
# short.
INLINE_CHILDREN = 200

# A Wait or backoff this short also rides a Celery countdown, so it needs no scheduler tick; the
# timer row stays the guarantee.
FAST_PATH_SECONDS = 60.0

# The states one transaction steps through, at most, before it commits and goes on in a new
# message: a Pass/Choice loop neither holds the execution's lock and a worker for ever nor builds
# a transaction without end. A transaction of 1,000 Pass states takes about 0.1 s on PostgreSQL
# (2,000 events written, measured), about as long as lock and worker should be held; the message
# between two of them costs a few milliseconds, a small part of a long loop's time.
MAX_STEPS = 1_000

# A Distributed Map's ItemReader is asked for its items a page at a time: ORCHESTRATOR_MAP_PAGE_ITEMS
# items, and no more once their JSON text passes this many characters, so that a page of big items
# (rows of long text, say) stays a few MiB in the processes that read and fan it out.
PAGE_BYTES = 8 * 1024 * 1024


@dataclass
class RunRow:
    """The runtime's working copy of an ``executions`` row."""

    id: int
    root_id: int
    history_id: int
    parent_id: int | None
    child_index: int | None
    scope: tuple[str, int] | None
    status: str
    cursor: dict[str, Any] | None
    variables: dict[str, Any]
    outer: dict[str, Any]
    fan: dict[str, Any] | None
    seq: int
    last_event_id: int
    changed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Any) -> RunRow:
        m = row._mapping
        scope = (m["scope_state"], m["scope_branch"]) if m["scope_state"] is not None else None
        return cls(
            id=m["id"],
            root_id=m["root_id"] or m["id"],
            history_id=m["history_id"] or m["id"],
            parent_id=m["parent_id"],
            child_index=m["child_index"],
            scope=scope,
            status=m["status"],
            cursor=m["cursor"],
            variables=m["variables"] or {},
            outer=m["outer_variables"] or {},
            fan=m["fan"],
            seq=m["seq"],
            last_event_id=m["last_event_id"],
        )

    def set(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)
            column = {"outer": "outer_variables"}.get(key, key)
            self.changed[column] = value

    @property
    def run(self) -> Run:
        assert self.cursor is not None
        return Run(Cursor.from_json(self.cursor), self.variables, self.outer, self.scope)


@functools.lru_cache(maxsize=256)
def _machine(text: str) -> StateMachine:
    return parse(text)


def load_machine(session: Session, definition_hash: str) -> StateMachine:
    text = _definition_text(session, definition_hash)
    return _machine(text)


_DEFINITIONS: dict[str, str] = {}


def _definition_text(session: Session, definition_hash: str) -> str:
    text = _DEFINITIONS.get(definition_hash)
    if text is None:
        text = runs.definition_text(session, definition_hash)
        if text is None:
            raise LookupError(f"definition {definition_hash} is missing")
        _DEFINITIONS[definition_hash] = text
    return text


_MACHINE_IDENTITY: dict[int, tuple[str, str]] = {}


def _state_machine_identity(session: Session, state_machine_id: int) -> tuple[str, str]:
    found = _MACHINE_IDENTITY.get(state_machine_id)
    if found is None:
        row = session.execute(
            select(StateMachineRow.arn, StateMachineRow.name).where(StateMachineRow.id == state_machine_id)
        ).one()
        found = _MACHINE_IDENTITY[state_machine_id] = (row[0], row[1])
    return found


def context_base(session: Session, root: Any) -> dict[str, Any]:
    """The fixed part of the context object: ``Execution`` and ``StateMachine``."""
    m = root._mapping
    sm_arn, sm_name = _state_machine_identity(session, m["state_machine_id"])
    metrics.know_label(m["id"], sm_name, m["start_date"])  # (what counting its events would ask for)
    return {
        "Execution": {
            "Id": m["arn"],
            "Input": m["input"],
            "StartTime": interpreter.iso(m["start_date"]),
            "Name": m["name"],
            "RoleArn": m["role_arn"],
            "RedriveCount": m["redrive_count"],
        },
        "StateMachine": {"Id": sm_arn, "Name": sm_name},
    }


class Tree:
    """One transaction's work on one execution and everything it runs (the root row is locked)."""

    @classmethod
    def for_running(
        cls,
        session: Session,
        settings: Settings,
        root_id: int,
        run_id: int,
        now: dt.datetime,
        *,
        consuming: int | None = None,
    ) -> tuple[Tree, RunRow] | None:
        """The execution ``root_id`` locked and ``run_id`` in it, when both are still running; None
        for a message that came too late (what every message applied to a run checks first).
        ``consuming``: the outbox message acted on, consumed first (None too if it was already)."""
        root = runs.consume_and_lock(session, consuming, root_id)
        if root is None or root._mapping["status"] != "RUNNING":
            return None
        tree = cls(session, settings, root, now)
        row = tree.row(run_id)
        if row is None or row.status != "RUNNING":
            return None
        return tree, row

    def __init__(
        self, session: Session, settings: Settings, root: Any, now: dt.datetime, *, publishing: bool = True
    ) -> None:
        self.session = session
        self.publishing = publishing
        self.settings = settings
        # never before the last event already recorded (this transaction took ``now`` before the lock)
        self.now = runs.last_event_time(session, root, now)
        self.history_times: dict[int, dt.datetime] = {root._mapping["id"]: self.now}  # the same, per history
        self.root_row = root
        self.machine = load_machine(session, root._mapping["definition_hash"])
        self.context = context_base(session, root)
        self.rng = random.Random(secrets.randbits(64))
        self.rows: dict[int, RunRow] = {}
        self.counters: dict[int, int] = {root._mapping["id"]: root._mapping["next_event_id"]}
        self.transitions = 0
        self.steps = 0  # states stepped through here (MAX_STEPS)
        self.messages: list[Message] = []
        self.events: dict[int, list[Event]] = {}  # by history, written at flush
        self.ended: list[int] = []  # runs ended here: their timers go when the rows are written
        self.ready: collections.deque[int] = collections.deque()  # children started, not stepped yet
        self.pending: dict[tuple[int, int], collections.deque[Row[Any]]] = {}  # next to start, by fan-out
        self.open: list[tuple[int, History]] = []  # histories being written (by history id), not recorded yet
        self.root_end: dict[str, Any] | None = None  # how the execution ended here, if it did
        self.follow_on: FollowOnLease | None = None  # the next Task this worker runs itself, leased here
        root_run = RunRow.of(root)
        self.rows[root_run.id] = root_run

    # -- rows ------------------------------------------------------------------------------------

    def row(self, run_id: int) -> RunRow | None:
        found = self.rows.get(run_id)
        if found is None:
            loaded = runs.load_run(self.session, run_id)
            if loaded is None:
                return None
            found = self.rows[run_id] = RunRow.of(loaded)
            if found.history_id == found.id:
                self.counters.setdefault(found.id, loaded._mapping["next_event_id"])
            elif found.history_id not in self.counters:
                self.row(found.history_id)
        return found

    @property
    def root(self) -> RunRow:
        return self.rows[self.root_row._mapping["id"]]

    def write_rows(
        self, events: dict[int, list[Event]] | None = None, leased: store_leases.LeasedRow | None = None
    ) -> int | None:
        """Write the changed rows (so that queries in this transaction see them), and ``events``
        (by history) before them, and the ``leased`` message (returning its outbox id)."""
        changes = []
        for run_id, row in self.rows.items():
            if run_id in self.counters:
                row.changed["next_event_id"] = self.counters[run_id]
            if row.changed:
                changes.append((run_id, row.changed))
                row.changed = {}
        outbox_id = runs.append_and_update(self.session, events or {}, changes, leased)
        runs.drop_timers_of(self.session, self.ended)
        self.ended = []
        return outbox_id

    def settle(self, work: Callable[[], None]) -> list[Message]:
        """Do ``work`` (a delivery), then `flush`. If a history fills up meanwhile, the execution
        fails instead, as on AWS; returns the messages to publish either way."""
        try:
            work()
            return self.flush()
        except HistoryFull:
            return self._history_full()

    def _history_full(self) -> list[Message]:
        """Keep the events written before the limit and end the execution with the next one. What the
        unfinished work started (children, timers, tokens, messages) is aborted or dropped with it.
        (A Distributed Map iteration's own history filling up fails the whole execution here; AWS
        fails that child execution.)"""
        from orchestrator.runtime.ending import end_tree  # ending ends trees with this module's help

        for history_id, history in list(self.open):
            self._keep(history_id, history)
        self.messages = []
        self.write_all()
        return end_tree(
            self.session,
            self.settings,
            self.root.id,
            status="FAILED",
            error=HISTORY_LIMIT_ERROR,
            cause=HISTORY_LIMIT_CAUSE,
            now=self.now,
            next_event_id=self.counters[self.root.id],
        )

    def flush(self) -> list[Message]:
        """Step the children started here; write every change; queue the messages in the outbox.
        Returns the messages, with their outbox ids."""
        self.run_ready()
        ahead = self._leased_ahead()
        outbox_id = self.write_all(ahead)
        if ahead is not None and outbox_id is not None:
            return [_queued(self.messages[0], outbox_id, leased=True)]
        if self.root_end is not None:  # the execution's status changed: its event goes with the change
            ended = {**self.root_row._mapping, **self.root_end}
            self.messages += status_events.emit(self.session, self.settings, ended, self.now)
            tracing.note_end(self.session, ended)
        return queue_messages(
            self.session, self.messages, self.now, published=self.publishing, follow_on=self.follow_on
        )

    def _leased_ahead(self) -> store_leases.LeasedRow | None:
        """The step's one message, when it is the next Task and this worker runs it itself (follow-on):
        written, with its lease, by the statement that writes the step (one round trip fewer a Task
        state). None otherwise: `queue_messages` writes the messages after the step."""
        if self.follow_on is None or self.root_end is not None or len(self.messages) != 1:
            return None
        message = self.messages[0]
        if not message.durable or self.follow_on.pick([message]) is not message:
            return None
        row = _outbox_row(message, self.now, self.publishing)
        return store_leases.LeasedRow(row, self.follow_on.worker, self.now, self.follow_on.seconds)

    def write_all(self, leased: store_leases.LeasedRow | None = None) -> int | None:
        """Write the events recorded and the rows changed, with the count of states entered, and the
        ``leased`` message (returning its outbox id)."""
        if self.transitions:
            self.root.changed["state_transitions"] = self.root_row._mapping["state_transitions"] + self.transitions
        events, self.events = self.events, {}
        return self.write_rows(events, leased)

    def run_ready(self) -> None:
        """Step the children started in this transaction (INLINE_CHILDREN of them); message the others."""
        budget = INLINE_CHILDREN
        while self.ready:
            child = self.rows[self.ready.popleft()]
            if child.status != "RUNNING" or child.seq != 0:
                continue  # aborted by a sibling's failure meanwhile
            if budget > 0:
                budget -= 1
                self.deliver(child, None)
            else:
                self._advance_message(child, None)

    # -- stepping --------------------------------------------------------------------------------

    def history(self, row: RunRow, previous: int | None = None) -> History:
        """A history to append ``row``'s next events to (after ``previous``, by default its last
        one), until `record` or `_keep` takes them."""
        last = row.last_event_id if previous is None else previous
        history = History(self.counters[row.history_id], last, self._time_for(row.history_id), limit=MAX_EVENTS)
        self.open.append((row.history_id, history))
        return history

    def _time_for(self, history_id: int) -> dt.datetime:
        """The time to stamp a history's events with: a Distributed Map iteration's own history may
        hold an event later than the execution's last."""
        if history_id not in self.history_times:
            self.history_times[history_id] = runs.not_before_last_event(self.session, history_id, self.now)
        return self.history_times[history_id]

    def record(self, row: RunRow, history: History) -> None:
        self._keep(row.history_id, history)
        self.transitions += sum(1 for e in history.events if e.type.endswith("StateEntered"))
        row.set(last_event_id=history.previous)

    def _keep(self, history_id: int, history: History) -> None:
        self.events.setdefault(history_id, []).extend(history.events)
        self.counters[history_id] = history.next_id
        self.open = [(h, open_history) for h, open_history in self.open if open_history is not history]

    def env(self, history: History) -> interpreter.Env:
        return interpreter.Env(self.context, history, self.rng, _new_token)

    def deliver(self, row: RunRow, delivery: Delivery | None) -> None:
        """Step ``row`` with ``delivery`` as far as it goes and carry out what it waits for next."""
        if row.fan is not None and row.fan.get("reading") and isinstance(delivery, TaskSucceeded | TaskFailed):
            self._page_answered(row, delivery)  # the next page of a Distributed Map's items
            return
        history = self.history(row)
        env = self.env(history)
        outcome = interpreter.step(self.machine, row.run, delivery, env)
        self.steps += 1
        while isinstance(outcome, Next) and self.steps < MAX_STEPS:
            outcome = interpreter.step(self.machine, outcome.run, None, env)
            self.steps += 1
        self.record(row, history)
        self.carry_out(row, outcome)

    def carry_out(self, row: RunRow, outcome: Outcome) -> None:
        match outcome:
            case Next(run):
                # MAX_STEPS spent: the run goes on from here after this transaction commits
                self._wait(row, run)
                self._advance_message(row, None)
            case Invoke(task, run):
                self._wait(row, run)
                if task.resource and run.cursor.phase == "reader":  # its first page only (`read_next`)
                    task = map_io.paged(task, self.settings.map_page_items, PAGE_BYTES)
                if task.resource:
                    self._invoke(row, task)
                else:
                    # Still waiting after TaskSubmitted: the task's TimeoutSeconds and HeartbeatSeconds
                    # clocks keep running, and now belong to the step the answer will come to.
                    runs.restamp_task_timers(self.session, row.id, row.seq)
            case Sleep(until, run):
                self._wait(row, run)
                kind = "retry" if run.cursor.phase == "retry" else "wait"
                runs.add_timer(self.session, row.id, row.seq, kind, until)
                delay = (until - self.now).total_seconds()
                if delay <= FAST_PATH_SECONDS:
                    self._advance_message(row, None, timer=True, countdown=max(delay, 0.0))
            case FanOut():
                self._wait(row, outcome.run)
                self._fan_out(row, outcome)
            case Succeed(output, run):
                row.set(variables=dict(run.variables))
                self._ended(row, "SUCCEEDED", output, None, None)
            case Fail(error, cause, run):
                row.set(cursor=run.cursor.to_json())  # where it failed: RedriveExecution goes on from there
                self._ended(row, "FAILED", None, error, cause)

    def _wait(self, row: RunRow, run: Run) -> None:
        row.set(cursor=run.cursor.to_json(), variables=dict(run.variables), seq=row.seq + 1)

    # -- tasks -----------------------------------------------------------------------------------

    def _invoke(self, row: RunRow, task: TaskRequest) -> None:
        resource = parse_resource(task.resource)
        activity = resource.kind == "activity"
        # An activity task gets a token too (what GetActivityTask hands out), and its clocks start
        # only when a worker takes it.
        token = _new_token() if activity else task.token
        if token:
            runs.add_token(
                self.session,
                token=token,
                execution_id=row.root_id,
                run_id=row.id,
                state_name=task.state,
                resource=task.resource,
                payload=task.payload,
                status="PENDING",
                heartbeat_seconds=task.heartbeat_seconds,
                timeout_seconds=task.timeout_seconds,
                created_at=self.now,
            )
        if activity:
            return
        self.start_task_clocks(row, task.timeout_seconds, task.heartbeat_seconds, token)
        if nested.is_nested(resource):
            self._start_nested(row, task, resource)
            return
        queue = _handler_queue(handler_name(resource, task.payload), self.settings.handler_queue)
        request = encode_request(task)
        request["executionArn"] = self.context["Execution"]["Id"]
        request["retryCount"] = row.run.cursor.retry_count
        root = self.root_row._mapping
        if row.history_id == root["id"] and tracing.machine_traced(self.session, root["state_machine_id"]):
            # the span exported at the end for this Task is named by its *Scheduled event, just recorded
            events = self.events.get(row.history_id, ())
            scheduled = next((e.id for e in reversed(events) if e.type.endswith("Scheduled")), None)
            request["traceParent"] = tracing.traceparent(root["arn"], root["trace_header"], "task", str(scheduled))
        self.messages.append(Message(INVOKE, [row.root_id, row.id, row.seq, request], queue))

    def _start_nested(self, row: RunRow, task: TaskRequest, resource: Resource) -> None:
        """states:startExecution: the child starts in this transaction; the Task hears at once."""
        first, messages = nested.start_child(
            self.session,
            self.settings,
            caller_id=row.id,
            caller_seq=row.seq,
            task=task,
            resource=resource,
            now=self.now,
        )
        self.messages.extend(messages)
        self.deliver(row, first)
        if messages and resource.pattern in ("sync", "sync:2"):
            # the Task now waits at a later step (TaskSubmitted took one): the child answers that one
            child_id = messages[0].args[1]
            runs.update_run(self.session, child_id, caller_seq=row.seq)

    def start_task_clocks(self, row: RunRow, timeout: int | None, heartbeat: int | None, token: str | None) -> None:
        """The timers of TimeoutSeconds and HeartbeatSeconds, from now."""
        if timeout:
            runs.add_timer(self.session, row.id, row.seq, "task_timeout", self.now + dt.timedelta(seconds=timeout))
        if heartbeat:
            runs.add_timer(
                self.session, row.id, row.seq, "heartbeat", self.now + dt.timedelta(seconds=heartbeat), token=token
            )

    def _advance_message(
        self, row: RunRow, delivery: Delivery | None, *, timer: bool = False, countdown: float | None = None
    ) -> None:
        payload = {"kind": "timer"} if timer else encode_delivery(delivery)
        self.messages.append(
            Message(
                ADVANCE,
                [row.root_id, row.id, row.seq, payload],
                self.settings.engine_queue,
                countdown=countdown,
                durable=not timer,
            )
        )

    # -- Parallel and Map ------------------------------------------------------------------------

    def _state_of(self, row: RunRow) -> ParallelState | MapState:
        assert row.cursor is not None
        state = self.machine.scope(row.scope).states[row.cursor["state"]]
        assert isinstance(state, ParallelState | MapState)
        return state

    def _fan_out(self, row: RunRow, fan: FanOut) -> None:
        if not fan.children and fan.reading is None:
            self.deliver(row, ChildrenSucceeded((), fan.map_run_arn))
            return
        distributed = fan.map_run_arn is not None
        self._insert_children(row, fan.children, row.seq, fan.map_run_arn)
        if distributed:
            assert fan.map_run_arn is not None and row.cursor is not None
            map_runs.add(
                self.session,
                arn=fan.map_run_arn,
                execution_id=row.root_id,
                run_id=row.id,
                generation=row.seq,
                state_name=row.cursor["state"],
                max_concurrency=fan.max_concurrency,
                tolerated_failure_count=fan.tolerated_failure_count or 0,
                tolerated_failure_percentage=fan.tolerated_failure_percentage or 0.0,
                start_date=self.now,
            )
        row.set(
            fan={
                "total": len(fan.children),
                "started": 0,
                "ended": 0,
                "failed": 0,
                "concurrency": fan.max_concurrency,
                "isMap": fan.is_map,
                "distributed": distributed,
                "toleratedCount": fan.tolerated_failure_count,
                "toleratedPercentage": fan.tolerated_failure_percentage,
                "lastEnded": None,
                "generation": row.seq,
                "mapRunArn": fan.map_run_arn,
                # ``total`` counts the children of the pages read so far while this is set
                "reading": fan.reading.to_json() if fan.reading is not None else None,
            }
        )
        self.start_children(row)
        if fan.reading is not None:
            self.read_next(row)

    def _insert_children(
        self, row: RunRow, children: tuple[ChildRun, ...], generation: int, map_run_arn: str | None
    ) -> None:
        """The rows of ``children`` (PENDING: `start_children` starts them as there is room)."""
        express = _runs_as_express(self._state_of(row))
        root = self.root_row._mapping
        rows = [
            {
                "name": f"{root['name']}/{child.index}",
                "state_machine_id": root["state_machine_id"],
                "definition_hash": root["definition_hash"],
                "role_arn": root["role_arn"],
                "root_id": row.root_id,
                "parent_id": row.id,
                "child_index": child.index,
                "generation": generation,
                "scope_state": child.scope[0],
                "scope_branch": child.scope[1],
                "status": "PENDING",
                "input": child.input,
                "start_date": self.now,
                "arn": _child_arn(root["arn"], map_run_arn, child.index, express) if map_run_arn else None,
                "map_run_arn": map_run_arn,
            }
            for child in children
        ]
        runs.insert_children(self.session, rows)

    # -- a Distributed Map's items, a page at a time -----------------------------------------------
    #
    # Its ItemReader answers the first page as the Map's Task (`engine.step` makes its children);
    # each next page is asked for, once the previous one's children are rows, as a Task of the
    # Map's run, under a new ``seq`` (a copy of an answer already taken does nothing), while the
    # run stays in its fan-out. Where the reading stands (`MapReading`) is in the fan-out record,
    # written with the page's children in one transaction: after a crash the reading goes on from
    # the page it was at. The Map joins when the last page is read and every child has ended.

    def read_next(self, row: RunRow) -> None:
        """Ask the ItemReader of ``row``'s Distributed Map for its next page."""
        assert row.fan is not None and row.fan.get("reading")
        reading = MapReading.from_json(row.fan["reading"])
        row.set(seq=row.seq + 1)
        self._invoke(row, reading.request(self.settings.map_page_items, PAGE_BYTES))

    def _page_answered(self, row: RunRow, delivery: TaskSucceeded | TaskFailed) -> None:
        """A page of the items (its children become rows, and start as there is room), or the
        reader's failure, which fails the Map (States.ItemReaderFailed) as a child's failure would."""
        assert row.fan is not None
        fan = dict(row.fan)
        reading = MapReading.from_json(fan["reading"])
        history = self.history(row)  # (a page records no event: AWS's history shows none)
        try:
            if isinstance(delivery, TaskFailed):
                raise StatesError(map_io.failure_name("reader", delivery.error), delivery.cause)
            children, after = interpreter.map_page(self.machine, row.run, delivery.output, reading, self.env(history))
        except StatesError as failure:
            self.record(row, history)
            self._fail_fan_out(row, self._state_of(row), failure.error, failure.cause)
            return
        self.record(row, history)
        self._insert_children(row, children, fan["generation"], fan["mapRunArn"])
        fan.update(total=fan["total"] + len(children), reading=after.to_json() if after is not None else None)
        row.set(fan=fan)
        if after is not None:
            self.start_children(row)
            self.read_next(row)
        elif self._tolerance_exceeded(fan):
            self._fail_fan_out(row, self._state_of(row), *_THRESHOLD)
        elif fan["ended"] == fan["total"]:
            self.join(row, fan)
        else:
            self.start_children(row)

    def start_children(self, parent: RunRow) -> None:
        fan = dict(parent.fan or {})
        running = fan["started"] - fan["ended"]
        room = (fan["concurrency"] or fan["total"]) - running
        if room <= 0:
            return
        state = self._state_of(parent)
        for child_id, index, child_input in self._next_children(parent, fan["generation"], room):
            history = self.history(parent)
            child = ChildRun((state.name, index if isinstance(state, ParallelState) else 0), child_input, index)
            run = interpreter.start_child(state, child, parent.run, history)
            self.record(parent, history)
            own_history = fan["distributed"]
            if own_history:
                self.counters[child_id] = 1
            self.rows[child_id] = RunRow(
                id=child_id,
                root_id=parent.root_id,
                history_id=child_id if own_history else parent.history_id,
                parent_id=parent.id,
                child_index=index,
                scope=child.scope,
                status="RUNNING",
                cursor=None,
                variables={},
                outer=dict(run.outer),
                fan=None,
                seq=0,
                last_event_id=0 if own_history else history.previous,
            )
            child_row = self.rows[child_id]
            child_row.set(
                status="RUNNING",
                cursor=run.cursor.to_json(),
                outer=dict(run.outer),
                history_id=child_row.history_id,
                last_event_id=child_row.last_event_id,
            )
            fan["started"] += 1
            if _runs_as_express(state):  # in memory on a worker, which then ends it (`end_run`)
                self.messages.append(Message(EXPRESS_ITERATION, [parent.root_id, child_id], self.settings.engine_queue))
            else:
                self.ready.append(child_id)
        parent.set(fan=fan)

    def _next_children(self, parent: RunRow, generation: int, count: int) -> list[Row[Any]]:
        """The next ``count`` children of ``parent`` to start, in index order. Fetched a batch at a
        time; the ones started in this transaction are still PENDING in the database, and skipped."""
        key = (parent.id, generation)
        batch = self.pending.get(key)
        if batch is None or len(batch) < count:
            fetched = runs.pending_children(self.session, parent.id, generation, count + 64 + len(self.rows))
            batch = self.pending[key] = collections.deque(r for r in fetched if r[0] not in self.rows)
        return [batch.popleft() for _ in range(min(count, len(batch)))]

    def end_run(self, row: RunRow, status: str, output: Any, error: str | None, cause: str | None) -> None:
        """End ``row`` as something outside this tree's steps ended it (an Express iteration's worker)."""
        self._ended(row, status, output, error, cause)

    def _ended(self, row: RunRow, status: str, output: Any, error: str | None, cause: str | None) -> None:
        row.set(status=status, output=output, error=error, cause=cause, stop_date=self.now)
        self.ended.append(row.id)
        if row.parent_id is None:
            self._execution_ended(row, status, output, error, cause)
        else:
            self._child_ended(row, status == "SUCCEEDED", error, cause)

    def _execution_ended(self, row: RunRow, status: str, output: Any, error: str | None, cause: str | None) -> None:
        self.root_end = {"status": status, "output": output, "error": error, "cause": cause, "stop_date": self.now}
        history = self.history(row)
        if status == "SUCCEEDED":
            interpreter.end(Succeed(output, row.run), history)
        else:
            interpreter.end(Fail(error, cause, row.run), history)
        self.record(row, history)
        runs.drop_timers(self.session, row.id, keep_execution_timeout=False)
        # A callback Task whose handler failed leaves its token behind, as may a branch's: once the
        # execution has ended nobody can answer them, so they must not stay waiting.
        runs.close_execution_tokens(self.session, row.id, "ABORTED", self.now)
        self.messages += nested.notify_caller(
            self.session,
            self.settings,
            self.root_row,
            status=status,
            output=output,
            error=error,
            cause=cause,
            now=self.now,
        )

    def _child_ended(self, child: RunRow, succeeded: bool, error: str | None, cause: str | None) -> None:
        assert child.parent_id is not None and child.child_index is not None
        parent = self.row(child.parent_id)
        if parent is None or parent.status != "RUNNING" or parent.fan is None:
            return  # the parent gave up on its children already
        state = self._state_of(parent)
        fan = dict(parent.fan)
        own_history = child.history_id != parent.history_id
        history = self.history(parent, parent.last_event_id if own_history else child.last_event_id)
        ended = interpreter.end_child(
            state,
            ChildRun(child.scope or ("", 0), None, child.child_index),
            "Succeeded" if succeeded else "Failed",
            history,
        )
        self.record(parent, history)
        fan["ended"] += 1
        fan["lastEnded"] = ended
        if not succeeded:
            fan["failed"] += 1
            if not fan["isMap"] or self._tolerance_exceeded(fan):
                if fan["isMap"] and (fan["toleratedCount"] is not None or fan["toleratedPercentage"] is not None):
                    error, cause = _THRESHOLD
                self._fail_fan_out(parent, state, error, cause)
                return
        parent.set(fan=fan)
        if fan["ended"] == fan["total"] and not fan.get("reading"):
            self.join(parent, fan)
        else:
            self.start_children(parent)

    @staticmethod
    def _tolerance_exceeded(fan: dict[str, Any]) -> bool:
        """Whether a Map's failed children break its tolerance. While its items are still being read
        its total is not known: a percentage may yet hold, and is judged when the last page is in."""
        if fan.get("reading") and fan["toleratedPercentage"] is not None:
            return False
        return interpreter.exceeds_tolerance(
            fan["failed"], fan["total"], fan["toleratedCount"], fan["toleratedPercentage"]
        )

    def join(self, parent: RunRow, fan: dict[str, Any]) -> None:
        """Every child of ``parent``'s fan-out ended, well enough: the state goes on with their outputs
        (but a Distributed Map's ResultWriter, which reads them from the Map Run a page at a time)."""
        self.write_rows()
        state = self._state_of(parent)
        if isinstance(state, MapState) and state.is_distributed and state.result_writer:
            outputs = None
        else:
            outputs = tuple(runs.child_outputs(self.session, parent.id, fan["generation"]))
        if fan["lastEnded"]:
            parent.set(last_event_id=fan["lastEnded"])
        map_runs.finish(self.session, fan.get("mapRunArn"), "SUCCEEDED", self.now)
        parent.set(fan=None)
        self.deliver(parent, ChildrenSucceeded(outputs, fan.get("mapRunArn")))

    def _fail_fan_out(
        self, parent: RunRow, state: ParallelState | MapState, error: str | None, cause: str | None
    ) -> None:
        """A child failed beyond the tolerance, or the ItemReader failed: the others stop, the state fails."""
        reading = (parent.fan or {}).get("reading")
        self._abort_children(parent, state)
        map_runs.finish(self.session, (parent.fan or {}).get("mapRunArn"), "FAILED", self.now)
        parent.set(fan=None)
        self.deliver(parent, ChildFailed(error, cause))
        cursor = parent.cursor or {}
        if reading and parent.status == "FAILED" and cursor.get("state") == state.name:
            # Its items were not all read: the failed run keeps where the reading stood (the page
            # asked for last, if it was being read, is asked for again), for a redrive of its Map
            # Run to go on reading from there (`runtime.redrive`).
            parent.set(cursor={**cursor, "reading": reading})

    def _abort_children(self, parent: RunRow, state: ParallelState | MapState) -> None:
        """Stop the siblings still running (and everything below them); record their iterations aborted."""
        self.write_rows()
        generation = (parent.fan or {})["generation"]
        running = runs.running_children(self.session, parent.id, generation)
        for _child_id, index, last_event_id, history_id in running:
            if history_id == parent.history_id:
                history = self.history(parent, last_event_id)
                interpreter.end_child(state, ChildRun((state.name, 0), None, index), "Aborted", history)
                self._keep(parent.history_id, history)  # the parent's own chain does not move
        doomed = [r[0] for r in running] + [
            r[0] for r in runs.pending_children(self.session, parent.id, generation, 10**9)
        ]
        doomed += runs.descendants(self.session, doomed)
        runs.abort_runs(self.session, doomed, self.now)
        for run_id in doomed:
            if run_id in self.rows:
                self.rows[run_id].status = "ABORTED"


_THRESHOLD = ("States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded")


def queue_messages(
    session: Session,
    messages: list[Message],
    now: dt.datetime,
    *,
    published: bool,
    follow_on: FollowOnLease | None = None,
) -> list[Message]:
    """Put the durable messages in the outbox; returns every message, the durable ones with their ids.

    ``published``: the caller publishes them right after commit; if it cannot (a process without
    a broker), the scheduler will. ``follow_on``: the message it picks is leased to the caller in
    this transaction (marked ``leased``); when it is the only one, by the statement that writes it.
    """
    durable = [m for m in messages if m.durable]
    rows = [_outbox_row(m, now, published) for m in durable]
    chosen = follow_on.pick(durable) if follow_on is not None else None
    ids = _write(session, rows, [m is chosen for m in durable], follow_on, now)
    return [_queued(m, next(ids), leased=m is chosen) if m.durable else m for m in messages]


def _outbox_row(message: Message, now: dt.datetime, published: bool) -> dict[str, Any]:
    return {**message.to_row(), "created_at": now, "published_at": now if published else None}


def _queued(message: Message, outbox_id: int, *, leased: bool) -> Message:
    """``message`` as written to the outbox: its id, which its task takes as its last argument."""
    return replace(message, args=[*message.args, outbox_id], outbox_id=outbox_id, leased=leased)


def _write(
    session: Session,
    rows: list[dict[str, Any]],
    leased: list[bool],
    follow_on: FollowOnLease | None,
    now: dt.datetime,
) -> Iterator[int]:
    """The outbox rows' ids, in order, the one ``leased`` (if any) with its lease."""
    if follow_on is None or not any(leased):
        return iter(runs.add_messages(session, rows))
    if len(rows) == 1:
        only = store_leases.LeasedRow(rows[0], follow_on.worker, now, follow_on.seconds)
        return iter([store_leases.add_leased(session, only)])
    ids = runs.add_messages(session, rows)
    store_leases.grant(session, ids[leased.index(True)], worker=follow_on.worker, now=now, seconds=follow_on.seconds)
    return iter(ids)


def _child_arn(execution_arn: str, map_run_arn: str | None, index: int, express: bool) -> str:
    """A Distributed Map iteration's execution ARN: the map run's name and a unique id (an Express
    child's ARN says ``express`` where a Standard one says ``execution``)."""
    assert map_run_arn is not None
    prefix = execution_arn.rsplit(":execution:", 1)[0]
    run_name = map_run_arn.split(":mapRun:", 1)[1].rsplit(":", 1)[0]
    kind = "express" if express else "execution"
    return f"{prefix}:{kind}:{run_name}:{uuid.uuid4()}-{index}"


def _runs_as_express(state: ParallelState | MapState) -> bool:
    """Whether the children of ``state`` are Express child executions: the iterations of a
    Distributed Map whose ``ItemProcessor.ProcessorConfig.ExecutionType`` is EXPRESS. They run in
    memory, as an Express execution does, and keep no history (`runtime.express`)."""
    return isinstance(state, MapState) and state.is_distributed and state.processor.execution_type == "EXPRESS"


def _handler_queue(name: str, default: str) -> str:
    registration = registry.registered().get(name)
    return registration.queue if registration is not None and registration.queue else default


def _new_token() -> str:
    return secrets.token_urlsafe(48)
