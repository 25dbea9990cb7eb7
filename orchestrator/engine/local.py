"""The in-memory driver: run one execution to its end inside the calling process.

`execute` is what `orchestrator.run_local` runs: how a user unit-tests a state machine, how
Express executions run, and how the conformance suite runs. Task states go to an ``invoke``
function the caller supplies (the integrations layer), so this module does no I/O of its own.
Time is virtual by default: a Wait of a day or a Retry backoff advances a `VirtualClock` instead of
sleeping.

Branches and iterations are scheduled as the durable runtime would: each is a run that goes as far
as it can, then waits on a task, a timer or its own children. Runs that are ready go first; when
none is, the clock moves to the next timer.

A Task's TimeoutSeconds and HeartbeatSeconds run on the same clock, from when its work starts: an
answer that comes after the deadline is replaced by the timeout (a handler can take the shared
`VirtualClock` past it), and a task still waiting for its token gets a timer at the deadline. No
heartbeat can reach a task here, so HeartbeatSeconds is a deadline too. The errors are the durable
runtime's: ``States.Timeout``, with no cause, recorded as *TimedOut (a heartbeat's too, as AWS records
it; the Task's own Retry and Catch can tell that one apart with ``States.HeartbeatTimeout``).

A Standard execution's history holds 25,000 events at most, as on AWS (`history.MAX_EVENTS`): an
endless Pass/Choice loop fails there with ``States.Runtime``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.asl.model import MapState, ParallelState, StateMachine
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
    Delivery,
    Fail,
    FanOut,
    Invoke,
    Next,
    Outcome,
    Run,
    Sleep,
    Succeed,
    TaskContext,
    TaskFailed,
    TaskRequest,
    TaskSubmitted,
    TimerFired,
)
from orchestrator.engine.resources import DEFAULT_ACCOUNT, DEFAULT_REGION

ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/orchestrator-local"
# An Express execution runs five minutes at most (developer guide, "Standard vs. Express": maximum
# duration 5 minutes); then it ends as an execution's TimeoutSeconds ends it, TIMED_OUT.
EXPRESS_MAX_SECONDS = 300


class Clock(Protocol):
    """Where run_local gets the time, and how it waits."""

    def now(self) -> dt.datetime: ...

    def sleep_until(self, moment: dt.datetime) -> None: ...


class VirtualClock:
    """A clock that jumps instead of sleeping: waits cost no wall-clock time."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def sleep_until(self, moment: dt.datetime) -> None:
        self._now = max(self._now, moment)


class RealClock:
    """The wall clock: waits really wait."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep_until(self, moment: dt.datetime) -> None:
        delay = (moment - self.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)


@dataclass(frozen=True)
class ExecutionResult:
    """How an execution ended, with its history in GetExecutionHistory's shape."""

    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any
    error: str | None
    cause: str | None
    execution_arn: str
    start_date: dt.datetime
    stop_date: dt.datetime
    events: tuple[Event, ...] = field(repr=False)

    @property
    def history(self) -> list[dict[str, Any]]:
        return [event.to_api() for event in self.events]

    @property
    def state_transitions(self) -> int:
        return sum(1 for e in self.events if e.type.endswith("StateEntered"))


# A Task's work: one answer, or several in order (TaskSubmitted, then the result).
Invoker = Callable[[TaskRequest, TaskContext], Delivery | tuple[Delivery, ...]]

# A timer: when, a tie-breaker, the slot it wakes, what it brings, and the task invocation it times
# out (None for a Wait or a Retry's backoff).
_Timer = tuple[dt.datetime, int, int, Delivery, int | None]


def task_limit(task: TaskRequest, started: dt.datetime) -> tuple[dt.datetime, TaskFailed] | None:
    """When a task started at ``started`` times out, and how; None if it has no limit.

    The earlier of TimeoutSeconds (``States.Timeout``) and HeartbeatSeconds (``States.HeartbeatTimeout``,
    no heartbeat can reach it here); the timeout wins a tie.
    """
    limits = [
        (started + dt.timedelta(seconds=seconds), order, TaskFailed.time_out(heartbeat=heartbeat))
        for order, (seconds, heartbeat) in enumerate(((task.timeout_seconds, False), (task.heartbeat_seconds, True)))
        if seconds
    ]
    if not limits:
        return None
    moment, _, delivery = min(limits, key=lambda limit: limit[:2])
    return moment, delivery


def execute(
    machine: StateMachine,
    execution_input: Any,
    invoke: Invoker,
    *,
    clock: Clock,
    name: str,
    state_machine_name: str = "local",
    state_machine_type: str = "STANDARD",
    rng: random.Random,
    time_limit: float | None = None,
    execution_arn: str | None = None,
) -> ExecutionResult:
    """Drive one execution of ``machine`` to its end; ``invoke`` does each Task's work.

    ``time_limit``: the seconds it may run at most, besides the definition's TimeoutSeconds
    (default: `EXPRESS_MAX_SECONDS` for an Express execution, none for a Standard one).
    ``execution_arn``: its ARN, when the caller has made it (a new one by default).
    """
    if time_limit is None and state_machine_type == "EXPRESS":
        time_limit = EXPRESS_MAX_SECONDS
    return _LocalExecution(
        machine,
        execution_input,
        invoke=invoke,
        clock=clock,
        name=name,
        state_machine_name=state_machine_name,
        state_machine_type=state_machine_type,
        rng=rng,
        time_limit=time_limit,
        execution_arn=execution_arn,
    ).run()


@dataclass
class _Log:
    """Where a run's events go: the execution's history, or a Distributed Map child's own."""

    events: list[Event] = field(default_factory=list)
    next_id: int = 1


@dataclass
class _Slot:
    """A run being driven, and the bookkeeping of its children if it is a Parallel or Map."""

    run: Run
    previous: int
    log: _Log
    parent: int | None = None
    child: ChildRun | None = None
    done: bool = False
    fan: _Fan | None = None
    task: int | None = None  # the invocation its task waits on, which that task's timeout may end


@dataclass
class _Fan:
    outcome: FanOut
    next_child: int = 0
    running: set[int] = field(default_factory=set)
    outputs: dict[int, Any] = field(default_factory=dict)
    failed: int = 0
    last_ended: int | None = None


class _LocalExecution:
    def __init__(
        self,
        machine: StateMachine,
        execution_input: Any,
        *,
        invoke: Invoker,
        clock: Clock,
        name: str,
        state_machine_name: str,
        state_machine_type: str,
        rng: random.Random,
        time_limit: float | None,
        execution_arn: str | None,
    ) -> None:
        self.machine = machine
        self.invoke = invoke
        self.clock = clock
        self.rng = rng
        self.type = state_machine_type
        self.start = clock.now()
        sm_arn = f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:stateMachine:{state_machine_name}"
        self.arn = execution_arn or new_execution_arn(state_machine_name, name, state_machine_type, rng)
        self.execution_context = {
            "Execution": {
                "Id": self.arn,
                "Input": execution_input,
                "StartTime": interpreter.iso(self.start),
                "Name": name,
                "RoleArn": ROLE_ARN,
                "RedriveCount": 0,
            },
            "StateMachine": {"Id": sm_arn, "Name": state_machine_name},
        }
        self.log = _Log()
        self.slots: dict[int, _Slot] = {}
        self.ids = itertools.count()
        self.ready: deque[tuple[int, Delivery | None]] = deque()
        self.timers: list[_Timer] = []
        limits = [seconds for seconds in (machine.timeout_seconds, time_limit) if seconds]
        self.deadline = self.start + dt.timedelta(seconds=min(limits)) if limits else None
        # An Express execution keeps no history on AWS, so it has no history quota either.
        self.max_events = MAX_EVENTS if state_machine_type == "STANDARD" else None
        self._open: tuple[_Log, History] | None = None  # the history being written, until committed
        history = self._history(self.log, 0)
        root = interpreter.begin(machine, execution_input, ROLE_ARN, history)
        self._commit(self.log, history)
        self.root = self._add_slot(root, history.previous, self.log)
        self.ready.append((self.root, None))
        self.result: tuple[str, Any, str | None, str | None] | None = None

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> ExecutionResult:
        while self.result is None:
            try:
                self._move()
            except HistoryFull:
                self._history_full()
        status, output, error, cause = self.result
        return ExecutionResult(
            status, output, error, cause, self.arn, self.start, self.clock.now(), tuple(self.log.events)
        )

    def _move(self) -> None:
        """Do the next thing: a ready run's step, a timer, or the end of an execution that cannot move."""
        if self.deadline is not None and self.clock.now() > self.deadline:
            self._time_out()  # a handler took the clock past the execution's TimeoutSeconds
        elif self.ready:
            slot_id, delivery = self.ready.popleft()
            if not self.slots[slot_id].done:
                self._advance(slot_id, delivery)
        elif self._live_timers():
            self._fire_next_timer()
        elif self.deadline is not None:  # nothing can move before the execution's TimeoutSeconds
            self.clock.sleep_until(self.deadline)
            self._time_out()
        else:  # nothing can move: a task waits for a token nobody here can send
            waiting = sorted(
                {
                    slot.run.cursor.state
                    for slot in self.slots.values()
                    if not slot.done and slot.run.cursor.phase == "task"
                }
            )
            self._finish(
                "FAILED",
                None,
                "States.Runtime",
                f"The execution waits for a task token in "
                f"{', '.join(waiting) or 'a state'}, and nothing in this process can answer it: give "
                "run_local a handler for that resource, which answers for the token",
            )

    def _live_timers(self) -> bool:
        """Whether a timer can still fire; drops the first ones that cannot (their task ended)."""
        while self.timers and not self._is_live(self.timers[0]):
            heapq.heappop(self.timers)
        return bool(self.timers)

    def _is_live(self, timer: _Timer) -> bool:
        _, _, slot_id, _, task = timer
        slot = self.slots[slot_id]
        return not slot.done and (task is None or slot.task == task)

    def _fire_next_timer(self) -> None:
        moment = self.timers[0][0]
        if self.deadline is not None and moment > self.deadline:
            self.clock.sleep_until(self.deadline)
            self._time_out()
            return
        self.clock.sleep_until(moment)
        while self.timers and self.timers[0][0] <= moment:
            timer = heapq.heappop(self.timers)
            if self._is_live(timer):
                _, _, slot_id, delivery, _ = timer
                self.ready.append((slot_id, delivery))

    def _advance(self, slot_id: int, delivery: Delivery | None) -> None:
        slot = self.slots[slot_id]
        history = self._history(slot.log, slot.previous)
        outcome = interpreter.step(self.machine, slot.run, delivery, self._env(history))
        while isinstance(outcome, Next):
            slot.run = outcome.run
            outcome = interpreter.step(self.machine, slot.run, None, self._env(history))
        self._commit(slot.log, history)
        slot.previous = history.previous
        self._carry_out(slot_id, outcome)

    def _carry_out(self, slot_id: int, outcome: Outcome) -> None:
        slot = self.slots[slot_id]
        match outcome:
            case Invoke(task, run):
                slot.run = run
                if task.resource:  # an empty resource means "still waiting" (after TaskSubmitted)
                    self._start_task(slot_id, task, run)
            case Sleep(until, run):
                slot.run = run
                heapq.heappush(self.timers, (until, next(self.ids), slot_id, TimerFired(), None))
            case FanOut():
                slot.run = outcome.run
                slot.fan = _Fan(outcome)
                self._start_children(slot_id)
            case Succeed(output, _):
                self._run_ended(slot_id, "SUCCEEDED", output, None, None)
            case Fail(error, cause, _):
                self._run_ended(slot_id, "FAILED", None, error, cause)

    # -- tasks -----------------------------------------------------------------------------------

    def _start_task(self, slot_id: int, task: TaskRequest, run: Run) -> None:
        """Do the task's work and queue its answers, or its timeout if they came after its deadline."""
        slot = self.slots[slot_id]
        slot.task = next(self.ids)
        limit = task_limit(task, self.clock.now())
        answers = self._invoke(task, run)
        answers = answers if isinstance(answers, tuple) else (answers,)
        for answer in answers:
            if limit is not None and not isinstance(answer, TaskSubmitted) and self.clock.now() > limit[0]:
                answer = limit[1]
            self.ready.append((slot_id, answer))
        if limit is not None and all(isinstance(answer, TaskSubmitted) for answer in answers):
            # the task waits for its token: its deadline is a timer, which an ended task no longer heeds
            heapq.heappush(self.timers, (limit[0], next(self.ids), slot_id, limit[1], slot.task))

    def _invoke(self, task: TaskRequest, run: Run) -> Delivery | tuple[Delivery, ...]:
        context = TaskContext(self.arn, task.state, task.resource, run.cursor.retry_count, task.token)
        return self.invoke(task, context)

    # -- fan-out ----------------------------------------------------------------------------------

    def _start_children(self, parent_id: int) -> None:
        parent = self.slots[parent_id]
        assert parent.fan is not None
        fan = parent.fan
        children = fan.outcome.children
        if not children:
            self.ready.append((parent_id, ChildrenSucceeded((), fan.outcome.map_run_arn)))
            return
        limit = fan.outcome.max_concurrency or len(children)
        state = self._state_of(parent)
        while fan.next_child < len(children) and len(fan.running) < limit:
            child = children[fan.next_child]
            fan.next_child += 1
            log = _Log() if fan.outcome.map_run_arn else parent.log
            history = self._history(parent.log, parent.previous)
            run = interpreter.start_child(state, child, parent.run, history)
            self._commit(parent.log, history)
            child_id = self._add_slot(run, history.previous if log is parent.log else 0, log, parent_id, child)
            fan.running.add(child_id)
            self.ready.append((child_id, None))

    def _run_ended(self, slot_id: int, status: str, output: Any, error: str | None, cause: str | None) -> None:
        slot = self.slots[slot_id]
        slot.done = True
        if slot.parent is None:
            history = self._history(slot.log, slot.previous)
            if status == "SUCCEEDED":
                interpreter.end(Succeed(output, slot.run), history)
            else:
                interpreter.end(Fail(error, cause, slot.run), history)
            self._commit(slot.log, history)
            self._finish(status, output, error, cause)
            return
        parent = self.slots[slot.parent]
        assert parent.fan is not None and slot.child is not None
        fan = parent.fan
        fan.running.discard(slot_id)
        state = self._state_of(parent)
        if slot.log is parent.log:
            history = self._history(parent.log, slot.previous)
            ended = interpreter.end_child(
                state, slot.child, "Succeeded" if status == "SUCCEEDED" else "Failed", history
            )
            self._commit(parent.log, history)
            parent.previous = history.previous
            fan.last_ended = ended
        if status == "SUCCEEDED":
            fan.outputs[slot.child.index] = output
        else:
            fan.failed += 1
            fan.outputs[slot.child.index] = None
            total = len(fan.outcome.children)
            if not fan.outcome.is_map or interpreter.exceeds_tolerance(
                fan.failed,
                total,
                fan.outcome.tolerated_failure_count,
                fan.outcome.tolerated_failure_percentage,
            ):
                self._abort_children(slot.parent)
                if fan.outcome.is_map and (
                    fan.outcome.tolerated_failure_count is not None
                    or fan.outcome.tolerated_failure_percentage is not None
                ):
                    error, cause = (
                        "States.ExceedToleratedFailureThreshold",
                        "The specified tolerated failure threshold was exceeded",
                    )
                parent.fan = None
                self.ready.append((slot.parent, ChildFailed(error, cause)))
                return
        if len(fan.outputs) == len(fan.outcome.children):
            outputs = tuple(fan.outputs[i] for i in range(len(fan.outcome.children)))
            # AWS links the state's next event to the last MapIterationSucceeded
            parent.previous = fan.last_ended or parent.previous
            parent.fan = None
            self.ready.append((slot.parent, ChildrenSucceeded(outputs, fan.outcome.map_run_arn)))
        else:
            self._start_children(slot.parent)

    def _abort_children(self, parent_id: int) -> None:
        parent = self.slots[parent_id]
        assert parent.fan is not None
        state = self._state_of(parent)
        for child_id in sorted(parent.fan.running):
            self._abort(child_id)
            child = self.slots[child_id]
            assert child.child is not None
            if child.log is parent.log:
                history = self._history(parent.log, child.previous)
                interpreter.end_child(state, child.child, "Aborted", history)
                self._commit(parent.log, history)
        parent.fan.running.clear()

    def _abort(self, slot_id: int) -> None:
        slot = self.slots[slot_id]
        slot.done = True
        if slot.fan is not None:
            for child_id in slot.fan.running:
                self._abort(child_id)

    # -- endings ----------------------------------------------------------------------------------

    def _time_out(self) -> None:
        for slot in self.slots.values():
            slot.done = True
        history = self._history(self.log, self.slots[self.root].previous)
        history.add("ExecutionTimedOut", {})
        self._commit(self.log, history)
        self._finish("TIMED_OUT", None, None, None)

    def _history_full(self) -> None:
        """A history reached `MAX_EVENTS`: the events before the limit stay, and the execution fails
        with the next one, as on AWS. (A Distributed Map iteration's own history filling up fails the
        whole execution here; AWS fails that child execution.)"""
        if self._open is not None:
            self._commit(*self._open)
        for slot in self.slots.values():
            slot.done = True
        history = History(self.log.next_id, self.log.next_id - 1, self.clock.now())
        history.add("ExecutionFailed", {"error": HISTORY_LIMIT_ERROR, "cause": HISTORY_LIMIT_CAUSE})
        self._commit(self.log, history)
        self._finish("FAILED", None, HISTORY_LIMIT_ERROR, HISTORY_LIMIT_CAUSE)

    def _finish(self, status: str, output: Any, error: str | None, cause: str | None) -> None:
        self.result = (status, output, error, cause)

    # -- plumbing ---------------------------------------------------------------------------------

    def _state_of(self, slot: _Slot) -> ParallelState | MapState:
        state = self.machine.scope(slot.run.scope).states[slot.run.cursor.state]
        assert isinstance(state, ParallelState | MapState)
        return state

    def _add_slot(
        self, run: Run, previous: int, log: _Log, parent: int | None = None, child: ChildRun | None = None
    ) -> int:
        slot_id = next(self.ids)
        self.slots[slot_id] = _Slot(run, previous, log, parent, child)
        return slot_id

    def _history(self, log: _Log, previous: int) -> History:
        history = History(log.next_id, previous, self.clock.now(), limit=self.max_events)
        self._open = (log, history)
        return history

    def _commit(self, log: _Log, history: History) -> None:
        log.events.extend(history.events)
        log.next_id = history.next_id
        self._open = None

    def _env(self, history: History) -> interpreter.Env:
        return interpreter.Env(self.execution_context, history, self.rng, _new_token)


def new_execution_arn(state_machine_name: str, name: str, state_machine_type: str, rng: random.Random) -> str:
    """An execution's ARN; an Express one carries a unique suffix, since Express names may repeat."""
    prefix = f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}"
    if state_machine_type == "EXPRESS":
        return f"{prefix}:express:{state_machine_name}:{name}:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    return f"{prefix}:execution:{state_machine_name}:{name}"


def _new_token() -> str:
    return secrets.token_urlsafe(32)
