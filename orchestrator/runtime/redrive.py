"""RedriveExecution: an execution that failed, timed out or was stopped goes on where it stopped.

As on AWS, a redrive reruns only what did not succeed. The execution re-enters the state it
stopped in, with the input it had there, unless that state is a Parallel or a Map whose branches
or iterations had started: then that fan-out opens again, keeps the outputs of the children that
succeeded, and redrives the others, each the same way (a child that failed or was stopped while
running re-enters the state it stopped in; one that never ran starts). A Distributed Map's Map Run
is redriven, not replaced: its iterations that are Standard executions are redriven (each records
ExecutionRedriven in its own history), Express ones start again, as AWS restarts them with
StartExecution, and the parent's history records MapRunRedriven.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.asl.errors import RUNTIME
from orchestrator.asl.model import MapState, ParallelState
from orchestrator.config import Settings
from orchestrator.engine import step as interpreter
from orchestrator.engine.history import MAX_EVENTS, History, HistoryFull
from orchestrator.engine.outcomes import ChildFailed, Cursor, FanOut, Run
from orchestrator.runtime import status_events
from orchestrator.runtime.driver import RunRow, Tree
from orchestrator.runtime.messages import ADVANCE, Message
from orchestrator.store import map_runs, runs
from orchestrator.store import state_machines as catalog

REDRIVE_WINDOW = dt.timedelta(days=14)
MAX_EXECUTION_TIME = dt.timedelta(days=365)
REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")
MAP_RUN_REDRIVES = 1_000  # AWS's hard limit of redrives of one Map Run
# A child's status that a redrive of its fan-out reruns.
UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")


class NotRedrivable(Exception):
    """The execution cannot be redriven; the message says why."""


@dataclass(frozen=True)
class Redrivability:
    """DescribeExecution's ``redriveStatus`` and, when NOT_REDRIVABLE, its ``redriveStatusReason``."""

    status: str  # REDRIVABLE, NOT_REDRIVABLE or REDRIVABLE_BY_MAP_RUN
    reason: str | None = None


@dataclass(frozen=True)
class Redriven:
    """What a redrive did: the messages to publish after commit, and the time it recorded."""

    messages: list[Message]
    date: dt.datetime


def redrivability(execution: Any, machine_status: str, now: dt.datetime) -> Redrivability:
    """Whether RedriveExecution would take ``execution`` (a row or mapping of ``executions``) now.

    The reasons are AWS's ``redriveStatusReason`` strings. An iteration of a Distributed Map is
    redriven by redriving its parent (REDRIVABLE_BY_MAP_RUN).
    """
    status = execution["status"]
    if machine_status != "ACTIVE":
        return Redrivability("NOT_REDRIVABLE", "State machine is in DELETING status")
    if status not in REDRIVABLE:
        return Redrivability("NOT_REDRIVABLE", f"Execution is {status} and cannot be redriven")
    if execution["next_event_id"] >= MAX_EVENTS:  # no room for ExecutionRedriven and a state's events
        return Redrivability("NOT_REDRIVABLE", "Execution history event limit exceeded")
    stopped = _utc(execution["stop_date"]) if execution["stop_date"] is not None else now
    if stopped - _utc(execution["start_date"]) >= MAX_EXECUTION_TIME:
        return Redrivability("NOT_REDRIVABLE", "Execution has exceeded the max execution time")
    if now - stopped > REDRIVE_WINDOW:
        return Redrivability("NOT_REDRIVABLE", "Execution redrivable period exceeded")
    if execution["map_run_arn"] is not None:
        return Redrivability("REDRIVABLE_BY_MAP_RUN")
    return Redrivability("REDRIVABLE")


def redrive(
    session: Session, settings: Settings, *, execution_id: int, now: dt.datetime, publishing: bool = True
) -> Redriven:
    """Redrive the execution ``execution_id`` (see the module's docstring); raises NotRedrivable."""
    root = runs.lock_execution(session, execution_id)
    if root is None:
        raise NotRedrivable("The execution does not exist")
    m = root._mapping
    machine_status, _ = catalog.identity(session, m["state_machine_id"])
    verdict = redrivability(m, machine_status, now)
    if verdict.status != "REDRIVABLE":
        raise NotRedrivable(verdict.reason or "Execution is an iteration of a Map Run: redrive its parent")
    if m["cursor"] is None:
        raise NotRedrivable("The execution never entered a state")
    count = m["redrive_count"] + 1
    tree = Tree(session, settings, root, now, publishing=publishing)
    tree.context["Execution"]["RedriveCount"] = count
    row = tree.root
    _record(tree, row, "ExecutionRedriven", {"redriveCount": count})
    row.set(status="RUNNING", stop_date=None, error=None, cause=None, output=None, redrive_count=count)
    tree.write_all()  # the status event reads the time of ExecutionRedriven
    again = {**m, "status": "RUNNING", "stop_date": None, "output": None, "error": None, "cause": None}
    tree.messages += status_events.emit(session, settings, {**again, "redrive_count": count}, tree.now)
    try:
        _reopen(tree, row)
    except HistoryFull:
        raise NotRedrivable("Execution history event limit exceeded") from None
    return Redriven(tree.flush(), tree.now)


def _reopen(tree: Tree, row: RunRow) -> None:
    """Set ``row`` (a run that did not succeed, already RUNNING again) going from where it stopped."""
    assert row.cursor is not None
    cursor = Cursor.from_json(row.cursor)
    # (a Distributed Map whose ResultWriter failed stopped after its iterations: "writer")
    children = runs.last_fan_out(tree.session, row.id) if cursor.phase in ("fanout", "writer") else []
    fan = _fan(tree, row, cursor, children) if children else None
    if fan is None:
        _enter_again(tree, row, cursor)
    else:
        row.set(cursor=replace(cursor, phase="fanout").to_json())
        _reopen_fan_out(tree, row, fan, children)


def _enter_again(tree: Tree, row: RunRow, cursor: Cursor) -> None:
    """Enter the state ``row`` stopped in again, with the input it had there, in a message of its own."""
    row.set(cursor=Cursor(state=cursor.state, input=cursor.input).to_json(), fan=None, seq=row.seq + 1)
    tree.messages.append(Message(ADVANCE, [row.root_id, row.id, row.seq, None], tree.settings.engine_queue))


def _reopen_fan_out(tree: Tree, row: RunRow, fan: dict[str, Any], children: list[Any]) -> None:
    """Keep the children that succeeded, redrive those that ran and did not, start the others."""
    if fan["mapRunArn"] is not None and not _redrive_map_run(tree, row, fan["mapRunArn"]):
        return
    express = fan["distributed"] and _express_children(tree, row)
    kept = {c.id for c in children if c.status == "SUCCEEDED"}
    again = [c for c in children if c.status in UNSUCCESSFUL and c.cursor is not None and not express]
    fresh = {c.id for c in children if c.status != "PENDING"} - kept - {c.id for c in again}
    fan.update(total=len(children), started=len(kept) + len(again), ended=len(kept), failed=0, lastEnded=None)
    row.set(fan=fan)
    runs.reset_children(tree.session, sorted(fresh))
    for child in again:
        _redrive_child(tree, child)
        if row.fan is None:  # that child failed at once (a Map Run redriven too often): so did this state
            return
    if fan.get("reading"):  # stopped or failed before its last page was read: the reading goes on
        tree.start_children(row)
        tree.read_next(row)
    elif len(kept) == len(children):  # it failed after its children (its ResultSelector, say): go on from there
        tree.join(row, fan)
    else:
        tree.start_children(row)


def _redrive_child(tree: Tree, child: Any) -> None:
    run = tree.row(child.id)
    assert run is not None
    run.set(status="RUNNING", stop_date=None, error=None, cause=None, output=None)
    if run.history_id == run.id:  # a Distributed Map iteration: an execution redriven in its own right
        count = child.redrive_count + 1
        _record(tree, run, "ExecutionRedriven", {"redriveCount": count})
        run.set(redrive_count=count)
    _reopen(tree, run)


def _redrive_map_run(tree: Tree, row: RunRow, arn: str) -> bool:
    """Redrive the Map Run ``arn`` of ``row``'s Distributed Map; False if it has been redriven as
    often as AWS allows, when the Map state fails with States.Runtime instead, as on AWS."""
    history_ids = sorted({row.root_id, row.history_id})
    count = len(map_runs.redrive_dates(tree.session, history_ids, arn)) + 1
    if count > MAP_RUN_REDRIVES:
        cause = f"The Map Run {arn} has been redriven {MAP_RUN_REDRIVES} times, the most a Map Run can be"
        row.set(fan=None)
        tree.deliver(row, ChildFailed(RUNTIME, cause))
        return False
    map_runs.reopen(tree.session, arn)
    _record(tree, row, "MapRunRedriven", {"mapRunArn": arn, "redriveCount": count})
    return True


def _fan(tree: Tree, row: RunRow, cursor: Cursor, children: list[Any]) -> dict[str, Any] | None:
    """The fan-out record of ``row``'s Parallel or Map state as it was, or None to run the state again
    from its start: kept when the execution was stopped; a Distributed Map's from its Map Run (its
    limits as UpdateMapRun left them; its items are not read again); else worked out again by
    entering the state on a scratch history (its limits, as they were, come from its input)."""
    generation = children[0].generation
    if row.fan is not None and row.fan.get("generation") == generation:
        return dict(row.fan)
    state = tree.machine.scope(row.scope).states[cursor.state]
    if isinstance(state, MapState) and state.is_distributed:
        fan = _map_run_fan(tree, row, state, generation)
        if fan is not None and row.cursor is not None:  # it failed before its last page was read
            fan["reading"] = row.cursor.get("reading")
        return fan
    scratch = History(1, 0, tree.now)
    env = interpreter.Env(tree.context, scratch, tree.rng, lambda: "")
    entered = Run(Cursor(state=cursor.state, input=cursor.input), row.variables, row.outer, row.scope)
    outcome = interpreter.step(tree.machine, entered, None, env)
    if not isinstance(outcome, FanOut) or len(outcome.children) != len(children):
        return None  # the state no longer fans out as it did
    return {
        "concurrency": outcome.max_concurrency,
        "isMap": outcome.is_map,
        "distributed": False,
        "toleratedCount": outcome.tolerated_failure_count,
        "toleratedPercentage": outcome.tolerated_failure_percentage,
        "generation": generation,
        "mapRunArn": None,
    }


def _map_run_fan(tree: Tree, row: RunRow, state: MapState, generation: int) -> dict[str, Any] | None:
    found = map_runs.of_fan_out(tree.session, row.id, generation)
    if found is None:
        return None
    # The Map Run keeps 0 for a tolerance the state does not set, which means none (any failure fails it).
    counted = state.tolerated_failure_count is not None or state.tolerated_failure_count_path is not None
    shared = state.tolerated_failure_percentage is not None or state.tolerated_failure_percentage_path is not None
    return {
        "concurrency": found.max_concurrency,
        "isMap": True,
        "distributed": True,
        "toleratedCount": found.tolerated_failure_count if counted else None,
        "toleratedPercentage": found.tolerated_failure_percentage if shared else None,
        "generation": generation,
        "mapRunArn": found.arn,
    }


def _express_children(tree: Tree, row: RunRow) -> bool:
    assert row.cursor is not None
    state = tree.machine.scope(row.scope).states[row.cursor["state"]]
    assert isinstance(state, ParallelState | MapState)
    return isinstance(state, MapState) and state.processor.execution_type == "EXPRESS"


def _record(tree: Tree, row: RunRow, event_type: str, details: dict[str, Any]) -> None:
    history = tree.history(row)
    history.add(event_type, details)
    tree.record(row, history)


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as an aware UTC time: SQLite gives back the UTC times it stores without a zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
