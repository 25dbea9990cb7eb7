"""What an execution's history says about its progress, for the console's graph, table and banner.

The functions here are pure: they read a list of history events, exactly as GetExecutionHistory
returns them (``{"id", "previousEventId", "timestamp", "type", "<xxx>EventDetails"}``), and return
frozen values. They never touch the database, Celery or the web.

A **step** is one entry of a state: a state entered twice in a loop is two steps. Every event is
given to a step, and every step to a **lane**, by following ``previousEventId``: an event's lane is
its previous event's, except that the events after a ``MapIterationStarted`` run in the lane
``"<Map>#<index>"``, and each distinct event whose previous is a ``ParallelStateStarted`` starts the
lane ``"<Parallel>/<branch>"`` (AWS records no branch-start event, so branches are numbered in the
order they first appear). Nested lanes are joined by ``" > "``; the top level is ``""``.

The status of a step is one of `STATUSES`:

``succeeded``
    The state exited normally.
``failed``
    The state failed and nothing caught it: its branch, iteration or the execution failed because
    of it (a Fail state always fails).
``caught-error``
    The state failed and a Catch took the execution elsewhere: our engine, like AWS, still records
    the state's Exited event (its output carries the error), so a step that exited after its last
    attempt failed, or a Map/Parallel that exited after failing, was caught.
``running``
    Entered, not ended, while the execution and the step's lane are still going (a Task between
    Retry attempts is running too).
``waiting``
    Running, and its last task event is ``TaskSubmitted`` for a ``.waitForTaskToken`` resource or an
    ``ActivityScheduled``/``ActivityStarted`` with no end: it waits for someone outside.
``cancelled``
    The step never ended on its own: the execution was aborted or timed out while it was in
    progress, or its Map iteration or Parallel branch was stopped (an iteration aborted, a sibling
    branch failed).
``not-run``
    The state was never entered; `state_statuses` leaves such states out and the console fills
    them in.

Timestamps may be datetimes or ISO 8601 text; one that is neither (a recorded history's
placeholder) reads as `UNKNOWN_TIME`. Events whose links are masked or missing are attached to the
event before them in the list, so a damaged history still reads, if less precisely.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from orchestrator.engine.history import details_key

STATUSES = ("succeeded", "failed", "caught-error", "running", "waiting", "cancelled", "not-run")

#: What a timestamp that cannot be read (a placeholder in a recorded history) becomes.
UNKNOWN_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# When a state has steps in several lanes (the iterations of a Map), the graph shows the most
# pressing: a failure first, then work still going on, then a caught error.
_RANK = {"failed": 0, "running": 1, "waiting": 2, "caught-error": 3, "cancelled": 4, "succeeded": 5}

_TASK_PREFIXES = ("LambdaFunction", "Activity", "Task")
_ATTEMPT_FAILURES = frozenset({"Failed", "TimedOut", "ScheduleFailed", "StartFailed", "SubmitFailed"})
_EXECUTION_ENDS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
# Events that belong to a Map or Parallel state itself rather than to the states inside it.
_CONTAINER_EVENTS = {
    "MapStateStarted": "Map",
    "MapStateSucceeded": "Map",
    "MapStateFailed": "Map",
    "MapStateAborted": "Map",
    "MapIterationStarted": "Map",
    "MapIterationSucceeded": "Map",
    "MapIterationFailed": "Map",
    "MapIterationAborted": "Map",
    "MapRunStarted": "Map",
    "MapRunSucceeded": "Map",
    "MapRunFailed": "Map",
    "MapRunAborted": "Map",
    "ParallelStateStarted": "Parallel",
    "ParallelStateSucceeded": "Parallel",
    "ParallelStateFailed": "Parallel",
    "ParallelStateAborted": "Parallel",
}
_RUN_OUTCOMES = {"Succeeded": "succeeded", "Failed": "failed", "Aborted": "aborted"}


# -- what the console gets ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One try of a Task (Retry makes several); the gaps between attempts are the Retry backoff."""

    started: dt.datetime
    ended: dt.datetime | None
    failed: bool
    error: str | None
    cause: str | None


@dataclass(frozen=True)
class Step:
    """One entry of a state: one row of the console's table.

    ``exited`` is when the step stopped: its Exited event, or the moment it failed or was
    cancelled; None while it is still running or waiting.
    """

    name: str
    type: str
    status: str
    resource: str | None
    entered: dt.datetime
    exited: dt.datetime | None
    input_value: Any  # the state's input as its event holds it: JSON text, or the value parsed
    output_value: Any
    attempts: tuple[Attempt, ...]
    error: str | None
    cause: str | None
    event_ids: tuple[int, ...]
    lane: str
    waiting_token: bool

    # As text only when asked: a page shows a few steps' data, and writing every step's input and
    # output back to JSON text was a third of the time spent reading a 25,000-event history.
    @cached_property
    def input(self) -> str | None:
        """The state's input as JSON text."""
        return _json_text(self.input_value)

    @cached_property
    def output(self) -> str | None:
        """The state's output as JSON text; None until it exits."""
        return _json_text(self.output_value)


@dataclass(frozen=True)
class Iteration:
    """One iteration of an inline Map: ``status`` is succeeded, failed, running or cancelled."""

    index: int
    status: str
    lane: str


@dataclass(frozen=True)
class Failure:
    """Why an execution did not succeed, for the banner.

    ``status`` is FAILED, TIMED_OUT or ABORTED; ``state`` is the state where it failed (for a
    timeout or an abort, the state that was in progress), None when no state is to blame.
    """

    status: str
    error: str | None
    cause: str | None
    state: str | None
    lane: str


def steps(events: Sequence[Mapping[str, Any]]) -> list[Step]:
    """The steps of an execution, in order of entry."""
    reading = _read(events)
    return [_freeze(b, reading) for b in reading.steps]


def state_statuses(events: Sequence[Mapping[str, Any]], lane_prefix: str | None = None) -> dict[str, str]:
    """State name -> status for the graph; states never entered are absent (the console's not-run).

    In one lane a state's latest entry speaks for it (a loop's last pass, the step a redrive or a
    Retry of the enclosing Map or Parallel entered anew). Across lanes, the most pressing wins: any
    failed makes the state failed; else running or waiting if any is; else caught-error; else
    cancelled; else succeeded.

    Parameters:
        lane_prefix: None counts every lane. ``"<Map>#<index>"`` (or a nested lane such as
            ``"P/1 > M#3"``) counts, for the states inside that Map, only the steps of that
            iteration; states outside it count as usual.
    """
    return statuses_of(steps(events), lane_prefix)


def statuses_of(steps: Sequence[Step], lane_prefix: str | None = None) -> dict[str, str]:
    """`state_statuses` from the steps already read (a page that has them need not read again)."""
    latest: dict[tuple[str, str], str] = {}
    for step in steps:
        if lane_prefix is None or _in_view(step.lane, lane_prefix):
            latest[step.name, step.lane] = step.status
    ranked: dict[str, str] = {}
    for (name, _), status in latest.items():
        seen = ranked.get(name)
        if seen is None or _RANK[status] < _RANK[seen]:
            ranked[name] = status
    return ranked


def failure(events: Sequence[Mapping[str, Any]]) -> Failure | None:
    """Why the execution failed, timed out or was aborted; None if it did not (yet)."""
    reading = _read(events)
    end = reading.end
    if end is None or reading.status not in ("FAILED", "TIMED_OUT", "ABORTED"):
        return None
    details = _details(events[end])
    blamed = _blame(reading, end)
    return Failure(
        status=reading.status,
        error=_json_text(details.get("error")),
        cause=_json_text(details.get("cause")),
        state=blamed.name if blamed else None,
        lane=blamed.lane if blamed else "",
    )


def map_iterations(events: Sequence[Mapping[str, Any]], map_name: str) -> list[Iteration]:
    """The iterations of the Map state ``map_name``, in order of start (all its runs and places)."""
    reading = _read(events)
    return [
        Iteration(it.index, _iteration_status(it, reading), it.lane)
        for it in reading.iterations
        if it.map.name == map_name
    ]


def iterations_by_map(events: Sequence[Mapping[str, Any]]) -> dict[str, list[Iteration]]:
    """Map state name -> `map_iterations` of it, for every Map that started an iteration."""
    reading = _read(events)
    out: dict[str, list[Iteration]] = {}
    for it in reading.iterations:
        out.setdefault(it.map.name, []).append(Iteration(it.index, _iteration_status(it, reading), it.lane))
    return out


def elapsed(events: Sequence[Mapping[str, Any]]) -> tuple[dt.datetime, dt.datetime | None]:
    """When the execution started, and when it ended (None while it runs)."""
    if not events:
        return UNKNOWN_TIME, None
    reading = _read(events)
    start = next((e for e in events if e.get("type") == "ExecutionStarted"), events[0])
    stop = _timestamp(events[reading.end].get("timestamp")) if reading.end is not None else None
    return _timestamp(start.get("timestamp")), stop


def _iteration_status(iteration: _Iteration, reading: _Reading) -> str:
    """An iteration still running when its Map or the execution stopped was cut short."""
    if iteration.status == "running" and (iteration.run.outcome is not None or reading.status != "RUNNING"):
        return "cancelled"
    return iteration.status


def _in_view(lane: str, prefix: str) -> bool:
    """Whether a step counts when the console looks at the lane ``prefix`` (an iteration of a Map).

    Steps in that lane and below count; so do steps outside the Map. Steps in the Map's other
    iterations (anywhere, when the Map itself repeats in an outer Map) do not.
    """
    if lane == prefix or lane.startswith(prefix + " > "):
        return True
    map_name, hash_sign, _ = prefix.rsplit(" > ", 1)[-1].rpartition("#")
    if not hash_sign:
        return True  # a Parallel branch: its states are its own, nothing to leave out
    return not any(part.rpartition("#")[0] == map_name for part in lane.split(" > "))


# -- reading a history ----------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Run:
    """One start of a Map or Parallel state (a Retry starts it again)."""

    container: _Builder
    outcome: str | None = None  # succeeded, failed, aborted, exited
    closed_at: dt.datetime | None = None
    branches: int = 0
    iterations: dict[int, _Iteration] = field(default_factory=dict)
    child_failed: bool = False


@dataclass(eq=False, slots=True)
class _Iteration:
    map: _Builder
    run: _Run
    index: int
    lane: str
    lanes: tuple[_Lane, ...]
    status: str = "running"
    closed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class _Lane:
    """One level of nesting: a Parallel branch or a Map iteration, with the run it belongs to."""

    path: str
    run: _Run
    iteration: _Iteration | None

    def closed_at(self) -> dt.datetime | None:
        if self.iteration is not None and self.iteration.status != "running":
            return self.iteration.closed_at
        return self.run.closed_at if self.run.outcome is not None else None


@dataclass(eq=False, slots=True)
class _Try:
    started: dt.datetime
    ended: dt.datetime | None = None
    failed: bool = False
    error: str | None = None
    cause: str | None = None


@dataclass(eq=False, slots=True)
class _Builder:
    """A step while its events are read."""

    name: str
    type: str
    lanes: tuple[_Lane, ...]
    entered: dt.datetime
    input: Any
    last_at: dt.datetime
    exited_at: dt.datetime | None = None
    output: Any = None
    resource: str | None = None
    callback: bool = False
    last_task_event: str | None = None
    attempts: list[_Try] = field(default_factory=list)
    failed: bool = False  # its latest failure stands (no later attempt or run replaced it)
    aborted: bool = False
    error: str | None = None
    cause: str | None = None
    event_ids: list[int] = field(default_factory=list)
    run: _Run | None = None
    settled: tuple[str, dt.datetime | None] | None = None  # its status when a redrive began

    @property
    def lane(self) -> str:
        return self.lanes[-1].path if self.lanes else ""

    def fail(self, error: Any, cause: Any) -> None:
        self.failed = True
        self.error = _json_text(error)
        self.cause = _json_text(cause)


# (lanes, the step still open after the event): what an event hands on to the events linked to it.
_Context = tuple[tuple[_Lane, ...], _Builder | None]
_ROOT: _Context = ((), None)


@dataclass(eq=False)
class _Reading:
    """Everything read from one history; positions index the event list."""

    events: Sequence[Mapping[str, Any]]
    steps: list[_Builder] = field(default_factory=list)
    iterations: list[_Iteration] = field(default_factory=list)
    owners: list[_Builder | None] = field(default_factory=list)
    previous: list[int | None] = field(default_factory=list)
    status: str = "RUNNING"
    end: int | None = None
    ended_at: dt.datetime | None = None


class _Reader:
    """Reads a history event by event; each event is looked at once, with its previous's context."""

    def __init__(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.events = events
        self.out = _Reading(events)
        self.contexts: list[_Context] = []
        self.position: dict[int, int] = {}
        self.runs: dict[int, _Run] = {}  # by the position of the Map/ParallelStateStarted
        self.iteration_at: dict[int, _Iteration] = {}  # by the position of the MapIterationStarted
        self.open_by_name: dict[str, _Builder] = {}  # fallback for events whose links are masked

    def read(self) -> _Reading:
        for i, event in enumerate(self.events):
            at = _timestamp(event.get("timestamp"))
            prev = self._previous(i, event)
            self.out.previous.append(prev)
            owner, context = self._place(i, event, prev, at)
            self.out.owners.append(owner)
            self.contexts.append(context)
            if owner is not None:
                owner.last_at = at
                if isinstance(event.get("id"), int):
                    owner.event_ids.append(event["id"])
        for step in self.out.steps:
            # A Map or Parallel whose branch failed for good was failed by it, even with no
            # Failed event of its own (AWS leaves it out when a Retry of the Parallel follows).
            if step.exited_at is None and step.failed and step.lanes:
                step.lanes[-1].run.child_failed = True
        self._blame_end()
        return self.out

    def _blame_end(self) -> None:
        """Give a failed execution's error to the state it is blamed on, if that state named none
        (a Fail state inside a Map or Parallel: its Error is in the definition, not the history)."""
        reading = self.out
        if reading.status != "FAILED" or reading.end is None:
            return
        blamed = _blame(reading, reading.end)
        if blamed is not None and blamed.error is None:
            details = _details(self.events[reading.end])
            blamed.error, blamed.cause = _json_text(details.get("error")), _json_text(details.get("cause"))

    def _previous(self, i: int, event: Mapping[str, Any]) -> int | None:
        """The position of the event's previous event; None for the top of the chain.

        A link that is masked or points nowhere falls back to the event before it in the list.
        """
        own, prev = event.get("id"), event.get("previousEventId")
        if isinstance(own, int):
            self.position[own] = i
        if isinstance(own, int) and isinstance(prev, int):
            if prev == 0:
                return None
            found = self.position.get(prev)
            if found is not None:
                return found
        return i - 1 if i > 0 else None

    def _place(
        self, i: int, event: Mapping[str, Any], prev: int | None, at: dt.datetime
    ) -> tuple[_Builder | None, _Context]:
        kind = str(event.get("type", ""))
        details = _details(event)
        if kind.endswith("StateEntered"):
            return self._entered(kind, details, self._inner(prev), at)
        if kind.endswith("StateExited"):
            return self._exited(details, self._context(prev), at)
        if kind in _CONTAINER_EVENTS:
            return self._container_event(i, kind, details, prev, at)
        if kind in _EXECUTION_ENDS or kind in ("ExecutionStarted", "ExecutionRedriven"):
            return self._execution_event(i, kind, details, prev, at)
        return self._step_event(kind, details, self._inner(prev), at)

    def _context(self, prev: int | None) -> _Context:
        return _ROOT if prev is None else self.contexts[prev]

    def _inner(self, prev: int | None) -> _Context:
        """The context an ordinary event links into: a new branch or iteration lane if it starts one."""
        if prev is None:
            return _ROOT
        iteration = self.iteration_at.get(prev)
        if iteration is not None:
            return iteration.lanes, None
        run = self.runs.get(prev)
        if run is not None and run.container.type == "Parallel":
            branch = run.branches
            run.branches += 1
            lanes = run.container.lanes
            return (*lanes, _Lane(_join(lanes, f"{run.container.name}/{branch}"), run, None)), None
        return self.contexts[prev]

    # -- states ------------------------------------------------------------------------------------

    def _entered(
        self, kind: str, details: Mapping[str, Any], context: _Context, at: dt.datetime
    ) -> tuple[_Builder, _Context]:
        lanes = context[0]
        name = str(details.get("name", ""))
        step = _Builder(name, kind[: -len("StateEntered")], lanes, at, details.get("input"), at)
        if step.type == "Fail":
            step.failed = True  # a Fail state's failure is its whole purpose
        self.out.steps.append(step)
        self.open_by_name[name] = step
        return step, (lanes, step)

    def _exited(
        self, details: Mapping[str, Any], context: _Context, at: dt.datetime
    ) -> tuple[_Builder | None, _Context]:
        name = str(details.get("name", ""))
        step = context[1] if context[1] is not None and context[1].name == name else None
        step = step or _enclosing(context, None, name) or self.open_by_name.get(name)
        if step is None:
            return None, (context[0], None)
        step.exited_at = at
        step.output = details.get("output")
        if step.run is not None and step.run.outcome is None:
            step.run.outcome, step.run.closed_at = "exited", at
        self._close(step)
        return step, (step.lanes, None)

    def _close(self, step: _Builder) -> None:
        if self.open_by_name.get(step.name) is step:
            del self.open_by_name[step.name]

    def _step_event(
        self, kind: str, details: Mapping[str, Any], context: _Context, at: dt.datetime
    ) -> tuple[_Builder | None, _Context]:
        step = context[1]
        if step is None and kind == "EvaluationFailed":
            # AWS links it where the state's Entered event links; its details name the state.
            step = self.open_by_name.get(str(details.get("state", "")))
        if step is None:
            return None, context
        if kind.endswith("StateAborted"):
            step.aborted = True
            self._close(step)
            return step, (step.lanes, None)
        if kind == "EvaluationFailed":
            step.fail(details.get("error"), details.get("cause"))
        else:
            _task_event(step, kind, details, at)
        return step, (step.lanes, step)

    # -- Map and Parallel --------------------------------------------------------------------------

    def _container_event(
        self, i: int, kind: str, details: Mapping[str, Any], prev: int | None, at: dt.datetime
    ) -> tuple[_Builder | None, _Context]:
        context = self._context(prev)
        name = details.get("name") if kind.startswith("MapIteration") else None
        step = _enclosing(context, _CONTAINER_EVENTS[kind], name)
        if step is None:
            return None, context
        if kind.endswith("StateStarted"):
            step.run = self.runs[i] = _Run(step)
            step.failed, step.error, step.cause = False, None, None
        run = step.run or _Run(step)
        step.run = run
        if kind.startswith("MapIteration"):
            self._iteration_event(i, kind, details, step, run, at)
        elif kind.startswith("MapRun"):
            if kind == "MapRunFailed":
                step.fail(details.get("error"), details.get("cause"))
        elif not kind.endswith("StateStarted"):
            self._run_ended(kind, step, run, prev, at)
        return step, (step.lanes, step)

    def _run_ended(self, kind: str, step: _Builder, run: _Run, prev: int | None, at: dt.datetime) -> None:
        run.outcome = _RUN_OUTCOMES[kind.rpartition("State")[2]]
        run.closed_at = at
        if run.outcome == "failed":
            # The Failed event carries no error: it is the failure of the state that failed inside.
            culprit = self.out.owners[prev] if prev is not None else None
            step.fail(culprit.error if culprit else None, culprit.cause if culprit else None)

    def _iteration_event(
        self, i: int, kind: str, details: Mapping[str, Any], step: _Builder, run: _Run, at: dt.datetime
    ) -> None:
        index = details.get("index")
        index = index if isinstance(index, int) else len(run.iterations)
        if kind == "MapIterationStarted":
            iteration = _Iteration(step, run, index, _join(step.lanes, f"{step.name}#{index}"), ())
            iteration.lanes = (*step.lanes, _Lane(iteration.lane, run, iteration))
            run.iterations[index] = self.iteration_at[i] = iteration
            self.out.iterations.append(iteration)
            return
        iteration = run.iterations.get(index)
        if iteration is not None:
            iteration.status = _RUN_OUTCOMES[kind[len("MapIteration") :]].replace("aborted", "cancelled")
            iteration.closed_at = at

    # -- the execution -----------------------------------------------------------------------------

    def _execution_event(
        self, i: int, kind: str, details: Mapping[str, Any], prev: int | None, at: dt.datetime
    ) -> tuple[None, _Context]:
        if kind == "ExecutionRedriven":
            # The steps the execution stopped in keep how they ended; the redrive enters them anew.
            for step in self.out.steps:
                step.settled = step.settled or _status(step, self.out)
            self.out.status, self.out.end, self.out.ended_at = "RUNNING", None, None
        elif kind in _EXECUTION_ENDS:
            self.out.status, self.out.end, self.out.ended_at = _EXECUTION_ENDS[kind], i, at
        culprit = self.out.owners[prev] if prev is not None else None
        if kind == "ExecutionFailed" and culprit is not None and culprit.exited_at is None:
            # The execution failed in the middle of this state (a Fail state, a States.Runtime error):
            # its error is the execution's, unless the state recorded one of its own.
            if culprit.error is None:
                culprit.fail(details.get("error"), details.get("cause"))
            culprit.failed = True
        return None, _ROOT


# The last history read and what it gave: a page asks several questions of the same list of events
# (its steps, the graph's statuses, the failure, each Map's iterations), which one reading answers.
_last_reading: tuple[Sequence[Mapping[str, Any]], _Reading] | None = None


def _read(events: Sequence[Mapping[str, Any]]) -> _Reading:
    global _last_reading
    last = _last_reading
    if last is not None and last[0] is events:
        return last[1]
    reading = _Reader(events).read()
    _last_reading = (events, reading)
    return reading


def _enclosing(context: _Context, kind: str | None, name: Any) -> _Builder | None:
    """The Map or Parallel step an event of ``kind`` (and ``name``, if given) belongs to.

    It is the step open in the context, or failing that the innermost lane's container: a Map's
    or Parallel's closing events link to the last event of one of its iterations or branches.
    """
    candidates = [context[1]] + [lane.run.container for lane in reversed(context[0])]
    for step in candidates:
        if step is not None and (kind is None or step.type == kind) and (name is None or step.name == name):
            return step
    return None


def _task_event(step: _Builder, kind: str, details: Mapping[str, Any], at: dt.datetime) -> None:
    """Fold a Task, LambdaFunction or Activity event into the step's attempts."""
    prefix = next((p for p in _TASK_PREFIXES if kind.startswith(p)), None)
    if prefix is None:
        return  # Wait and other events carry nothing the console shows
    step.last_task_event = kind
    suffix = kind[len(prefix) :]
    if suffix == "Scheduled":
        step.attempts.append(_Try(at))
        step.failed, step.error, step.cause = False, None, None  # a new attempt replaces a failure
        step.resource = _resource(prefix, details)
        step.callback = (step.resource or "").endswith(".waitForTaskToken")
        return
    if suffix != "Succeeded" and suffix not in _ATTEMPT_FAILURES:
        return
    if not step.attempts or step.attempts[-1].ended is not None:
        step.attempts.append(_Try(at))  # its Scheduled event is missing from the history
    attempt = step.attempts[-1]
    attempt.ended = at
    if suffix == "Succeeded":
        step.failed, step.error, step.cause = False, None, None
        return
    error = details.get("error") or ("States.Timeout" if suffix == "TimedOut" else None)
    step.fail(error, details.get("cause"))
    attempt.failed, attempt.error, attempt.cause = True, step.error, step.cause


def _resource(prefix: str, details: Mapping[str, Any]) -> str | None:
    if prefix == "Task":
        kind, name = details.get("resourceType"), details.get("resource")
        return f"{kind}:{name}" if kind and name else _json_text(name or kind)
    return _json_text(details.get("resource"))


# -- statuses ---------------------------------------------------------------------------------------


def _freeze(step: _Builder, reading: _Reading) -> Step:
    status, stopped = _status(step, reading)
    error, cause = _error_of(step, status)
    return Step(
        name=step.name,
        type=step.type,
        status=status,
        resource=step.resource,
        entered=step.entered,
        exited=stopped,
        input_value=step.input,
        output_value=step.output,
        attempts=tuple(Attempt(a.started, a.ended, a.failed, a.error, a.cause) for a in step.attempts),
        error=error,
        cause=cause,
        event_ids=tuple(step.event_ids),
        lane=step.lane,
        waiting_token=status == "waiting",
    )


def _error_of(step: _Builder, status: str) -> tuple[str | None, str | None]:
    """The failure that ended the step or was caught in it.

    A caught failure whose events name no error (a Fail state inside a Map) still shows the one
    the Catch handed on, when the state's output is that error as it stands.
    """
    if status not in ("failed", "caught-error"):
        return None, None
    if step.error is None and status == "caught-error" and step.output is not None:
        output = step.output
        if isinstance(output, str):
            try:
                output = json.loads(output)
            except ValueError:
                output = None
        if isinstance(output, dict) and "Error" in output:
            return _json_text(output["Error"]), _json_text(output.get("Cause"))
    return step.error, step.cause


def _status(step: _Builder, reading: _Reading) -> tuple[str, dt.datetime | None]:
    """The step's status, and when it stopped (None while it goes on)."""
    if step.settled is not None:
        return step.settled
    if step.exited_at is not None:
        return ("caught-error" if _was_caught(step) else "succeeded"), step.exited_at
    if step.aborted:
        return ("failed" if step.failed else "cancelled"), step.last_at
    for lane in step.lanes:
        closed = lane.closed_at()
        if closed is not None:
            return ("failed", step.last_at) if step.failed else ("cancelled", closed)
    if reading.status in ("ABORTED", "TIMED_OUT"):
        return "cancelled", reading.ended_at  # even between Retry attempts: it was stopped
    if reading.status != "RUNNING":
        return ("failed", step.last_at) if step.failed else ("cancelled", reading.ended_at)
    return ("waiting" if _waits(step) else "running"), None


def _was_caught(step: _Builder) -> bool:
    if step.failed:
        return True
    # A Map or Parallel that exited with no Succeeded/Failed event of its own: caught if a state
    # inside failed for good.
    return step.run is not None and step.run.outcome == "exited" and step.run.child_failed


def _waits(step: _Builder) -> bool:
    last = step.last_task_event
    return last in ("ActivityScheduled", "ActivityStarted") or (last == "TaskSubmitted" and step.callback)


def _blame(reading: _Reading, end: int) -> _Builder | None:
    """The step the execution's end is to blame on.

    For a failure, follow the chain back from the end past Map/Parallel events to the state that
    failed inside; for a timeout or abort, the step the end links to, if it was cut short.
    """
    failing = reading.status == "FAILED"
    position = reading.previous[end]
    while position is not None:
        owner = reading.owners[position]
        container_event = str(reading.events[position].get("type")) in _CONTAINER_EVENTS
        if owner is not None and not (failing and container_event):
            break
        position = reading.previous[position]
    else:
        owner = None
    wanted = "failed" if failing else "cancelled"
    if owner is not None and _status(owner, reading)[0] == wanted:
        return owner
    if failing:  # the chain did not lead to it: the last state that failed for good
        return next((s for s in reversed(reading.steps) if _status(s, reading)[0] == "failed"), None)
    return None


# -- values -----------------------------------------------------------------------------------------


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's ``<xxx>EventDetails`` member (there is at most one), or {}."""
    kind = event.get("type")
    found = event.get(details_key(kind)) if isinstance(kind, str) and kind else None
    if isinstance(found, Mapping):
        return found
    for key, value in event.items():  # a details member under a name we do not expect
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return UNKNOWN_TIME
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return UNKNOWN_TIME


def _json_text(value: Any) -> str | None:
    """A detail as text (input, output, error, cause); recorded histories sometimes hold it parsed."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _join(lanes: tuple[_Lane, ...], label: str) -> str:
    return f"{lanes[-1].path} > {label}" if lanes else label
