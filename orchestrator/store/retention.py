"""Retention: finding closed executions older than a cutoff, and removing them with what refers to them.

An execution is removable when it is a root (``root_id`` NULL), closed (SUCCEEDED, FAILED,
TIMED_OUT or ABORTED) and stopped before the cutoff, and when nothing of it may still move: none of
its branches or iterations is PENDING or RUNNING, and no running execution was started by one of its
runs (a ``states:startExecution`` Task's child points back at its caller). Removing it removes its
tree (its branches and iterations), their history events, task tokens, timers, Distributed Map runs,
status-change events (with their deliveries) and the outbox messages addressed to it; a kept
execution that it started only loses its ``caller_id``. A redriven execution is RUNNING again, so
it is never removable while it runs.

Each call works on one batch, in the caller's transaction, so that no transaction holds many rows
locked: `find` picks the batch (bounded by executions and by history events), `remove` locks what is
still removable (``FOR UPDATE SKIP LOCKED``: a row another transaction holds, such as a redrive's, is
left for a later batch) and deletes it, `measure` counts what `remove` would delete (a dry run).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from orchestrator.store.models import (
    Execution,
    HistoryEvent,
    MapRun,
    OutboxMessage,
    StatusEvent,
    TaskToken,
    Timer,
)

CLOSED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
LIVE = ("PENDING", "RUNNING")


@dataclass(frozen=True, slots=True)
class Removed:
    """What a batch removed (or, in a dry run, would remove)."""

    executions: int = 0
    child_runs: int = 0  # Parallel branches, Map iterations
    history_events: int = 0
    task_tokens: int = 0
    timers: int = 0
    map_runs: int = 0
    outbox_messages: int = 0
    status_events: int = 0  # with their deliveries (the foreign key cascades)

    def __add__(self, other: Removed) -> Removed:
        return Removed(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True)))

    def to_json(self) -> dict[str, int]:
        """camelCase, as the API and ``--json`` write keys."""
        return {_camel(f.name): getattr(self, f.name) for f in dataclasses.fields(self)}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


@dataclass(frozen=True, slots=True)
class Batch:
    """The executions a batch covers (ids ascending), and the last id looked at (where the next starts)."""

    ids: tuple[int, ...]
    last_id: int


def _removable(cutoff: dt.datetime) -> ColumnElement[bool]:
    child = aliased(Execution)
    callee = aliased(Execution)
    caller = aliased(Execution)
    live_child = exists().where(child.root_id == Execution.id, child.status.in_(LIVE))
    # A running execution started by a Task of this tree. Written as "its caller's root is this
    # execution" (not correlated through the caller), so the database reads the few running callees
    # once rather than once per candidate.
    live_callee = (
        exists()
        .where(callee.status.in_(LIVE), callee.caller_id.is_not(None), caller.id == callee.caller_id)
        .where(func.coalesce(caller.root_id, caller.id) == Execution.id)
    )
    return (
        Execution.root_id.is_(None)
        & Execution.status.in_(CLOSED)
        & (Execution.stop_date < cutoff)
        & ~live_child
        & ~live_callee
    )


def find(session: Session, cutoff: dt.datetime, *, after_id: int, executions: int, events: int) -> Batch:
    """The next batch of removable executions with ids above ``after_id``: at most ``executions`` of
    them, and no more than ``events`` history events between them (one at least, however long)."""
    rows = session.execute(
        select(Execution.id, Execution.next_event_id)
        .where(_removable(cutoff), Execution.id > after_id)
        .order_by(Execution.id)
        .limit(executions)
    ).all()
    chosen: list[int] = []
    total = 0
    for execution_id, next_event_id in rows:
        total += max(next_event_id - 1, 0)
        if chosen and total > events:
            break
        chosen.append(execution_id)
    return Batch(tuple(chosen), chosen[-1] if chosen else after_id)


def lock(session: Session, cutoff: dt.datetime, ids: Sequence[int]) -> list[int]:
    """Those of ``ids`` still removable, locked; a row another transaction holds is skipped."""
    if not ids:
        return []
    query = (
        select(Execution.id)
        .where(Execution.id.in_(ids), _removable(cutoff))
        .order_by(Execution.id)
        .with_for_update(skip_locked=True, of=Execution)
    )
    return list(session.scalars(query))


def _tree(session: Session, roots: Sequence[int]) -> list[int]:
    """The roots and every branch and iteration they ran."""
    children = session.scalars(select(Execution.id).where(Execution.root_id.in_(roots)))
    return [*roots, *children]


def _outbox_ids(session: Session, roots: Sequence[int], tasks: Sequence[str]) -> list[int]:
    """Outbox messages of ``tasks`` (whose first argument is the execution) addressed to ``roots``.

    Read and matched here rather than in SQL: the outbox holds only messages in flight (a small
    table), and the first argument's JSON type differs between PostgreSQL and SQLite."""
    wanted = set(roots)
    rows = session.execute(select(OutboxMessage.id, OutboxMessage.args).where(OutboxMessage.task.in_(tasks)))
    return [i for i, args in rows if isinstance(args, list) and args and args[0] in wanted]


def _statements(roots: Sequence[int], tree: Sequence[int], outbox: Sequence[int]) -> dict[str, ColumnElement[bool]]:
    """For each count of `Removed` but the executions', which rows it counts."""
    return {
        "history_events": HistoryEvent.execution_id.in_(tree),
        "task_tokens": TaskToken.execution_id.in_(roots) | TaskToken.run_id.in_(tree),
        "timers": Timer.run_id.in_(tree),
        "map_runs": MapRun.execution_id.in_(tree) | MapRun.run_id.in_(tree),
        "outbox_messages": OutboxMessage.id.in_(outbox),
        "status_events": StatusEvent.execution_id.in_(tree),
    }


_TABLES = {
    "history_events": HistoryEvent,
    "task_tokens": TaskToken,
    "timers": Timer,
    "map_runs": MapRun,
    "outbox_messages": OutboxMessage,
    "status_events": StatusEvent,
}


def measure(session: Session, roots: Sequence[int], message_tasks: Sequence[str]) -> Removed:
    """What `remove` would delete for ``roots``, counted (nothing is locked or changed)."""
    if not roots:
        return Removed()
    tree = _tree(session, roots)
    outbox = _outbox_ids(session, roots, message_tasks)
    counts = {
        name: int(session.scalar(select(func.count()).select_from(_TABLES[name]).where(where)) or 0)
        for name, where in _statements(roots, tree, outbox).items()
    }
    return Removed(executions=len(roots), child_runs=len(tree) - len(roots), **counts)


def remove(session: Session, roots: Sequence[int], message_tasks: Sequence[str]) -> Removed:
    """Delete ``roots`` (locked by `lock`) with their trees and every row that refers to them."""
    if not roots:
        return Removed()
    tree = _tree(session, roots)
    outbox = _outbox_ids(session, roots, message_tasks)
    counts = {name: _deleted(session, _TABLES[name], where) for name, where in _statements(roots, tree, outbox).items()}
    # Executions this tree started and that are kept (they stopped later) forget their caller.
    session.execute(
        update(Execution)
        .where(Execution.caller_id.in_(tree), Execution.id.not_in(tree))
        .values(caller_id=None)
        .execution_options(synchronize_session=False)
    )
    # Children first: they refer to their parents (the foreign keys would cascade, but each delete
    # is then one statement whose rows are all named).
    session.execute(delete(Execution).where(Execution.root_id.in_(roots)).execution_options(synchronize_session=False))
    session.execute(delete(Execution).where(Execution.id.in_(roots)).execution_options(synchronize_session=False))
    return Removed(executions=len(roots), child_runs=len(tree) - len(roots), **counts)


def _deleted(session: Session, model: type, where: ColumnElement[bool]) -> int:
    result = session.execute(delete(model).where(where).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
