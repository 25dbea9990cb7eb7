"""Queries on executions and their runs (branches, iterations), their history, timers, tokens and outbox.

These are the statements of the runtime's hot path, written with SQLAlchemy Core (a fraction of
the ORM's cost per statement). Every function takes the caller's `Session` and never commits.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Row,
    Text,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orchestrator.engine.history import Event
from orchestrator.store import encoding, leases
from orchestrator.store.metrics import APPENDED_EVENTS
from orchestrator.store.models import (
    Definition,
    Execution,
    HistoryEvent,
    OutboxMessage,
    StateMachine,
    TaskToken,
    Timer,
)
from orchestrator.store.timestamps import as_utc

E = Execution.__table__
SM = StateMachine.__table__
H = HistoryEvent.__table__
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


# -- executions and runs -------------------------------------------------------------------------------


def lock_execution(session: Session, execution_id: int) -> Row[Any] | None:
    """The execution's row, locked: every change to an execution's tree happens under this lock."""
    return session.execute(select(E).where(E.c.id == execution_id).with_for_update()).first()


def consume_and_lock(session: Session, message_id: int | None, execution_id: int) -> Row[Any] | None:
    """Consume message ``message_id`` (`consume_message`) and lock the execution's row (`lock_execution`),
    with its state machine's status as ``machine_status``: one round trip on PostgreSQL instead of
    three, on every step of every execution. None if the message was consumed already (this is a copy
    of it) or the execution does not exist. The message is consumed either way, before the lock is
    taken, as when they were two statements."""
    if session.get_bind().dialect.name != "postgresql":
        if not consume_message(session, message_id):
            return None
        return session.execute(_LOCKING, {"locked_id": execution_id}).first()
    if message_id is None:
        return session.execute(_LOCKING, {"locked_id": execution_id}).first()
    return session.execute(_CONSUMING_AND_LOCKING, {"locked_id": execution_id, "consumed_id": message_id}).first()


def _locking() -> Any:
    """The execution's row locked, with its state machine's status and its last event as this
    statement's snapshot sees it (``last_event_seen``, ``last_event_time``; `last_event_time`)."""
    machine_status = select(SM.c.status).where(SM.c.id == E.c.state_machine_id).scalar_subquery()
    last = select(H.c.id, H.c.timestamp).where(H.c.execution_id == E.c.id).order_by(H.c.id.desc()).limit(1)
    return (
        select(
            E,
            machine_status.label("machine_status"),
            last.with_only_columns(H.c.id).scalar_subquery().label("last_event_seen"),
            last.with_only_columns(H.c.timestamp).scalar_subquery().label("last_event_time"),
        )
        .where(E.c.id == bindparam("locked_id", type_=BigInteger()))
        .with_for_update(of=E)
    )


def _consuming_and_locking() -> Any:
    # (a data-modifying CTE runs to its end whatever the query reads of it)
    consumed = delete(O).where(O.c.id == bindparam("consumed_id", type_=BigInteger())).returning(O.c.id)
    return _locking().where(select(consumed.cte("consumed").c.id).exists())


def last_event_time(session: Session, root: Row[Any], now: dt.datetime) -> dt.datetime:
    """`not_before_last_event` for a row read by `consume_and_lock`, without a query when it can.

    A lock that had to wait returns the row as the transaction it waited for left it, but the
    statement's subqueries still see what was there before (PostgreSQL's READ COMMITTED): the last
    event seen is the last one only if its id is the one before the row's ``next_event_id`` (events
    take their ids from it, in the transaction that moves it on). Otherwise this asks again."""
    m = root._mapping
    seen = m.get("last_event_seen")
    if seen is None or seen != m["next_event_id"] - 1:
        return not_before_last_event(session, m["id"], now)
    last = m["last_event_time"]
    return now if last <= now else last


def load_run(session: Session, run_id: int) -> Row[Any] | None:
    return session.execute(select(E).where(E.c.id == run_id)).first()


def update_run(session: Session, run_id: int, **values: Any) -> None:
    session.execute(_updating(tuple(values), False), _update_parameters(run_id, values))


# A step's UPDATE, built once for each set of columns it changes (a handful: cursor, seq, event ids,
# ...), with or without the events' INSERT in its WITH, and with or without the next Task's outbox
# row and lease (`leases.leased_ctes`, then returning that row's id). Building it anew on every step,
# and computing the cache key of a new statement object, took a fifth of a worker's CPU per Task state.
@functools.lru_cache(maxsize=256)
def _updating(columns: tuple[str, ...], appending: bool, leased: tuple[str, ...] | None = None) -> Any:
    statement = (
        update(E)
        .where(E.c.id == bindparam("updated_run_id", type_=BigInteger()))
        .values({name: bindparam(f"new_{name}", type_=E.c[name].type) for name in columns})
    )
    if appending:
        statement = statement.add_cte(_APPENDED)
    if leased is not None:
        written, lease = leases.leased_ctes(leased)
        statement = statement.add_cte(lease).returning(select(written.c.id).scalar_subquery())
    return statement


def _update_parameters(run_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
    return {"updated_run_id": run_id, **_new_parameters(values)}


def _new_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as the ``new_*`` bind parameters of `_updating` and `_starting`."""
    return {f"new_{name}": value for name, value in values.items()}


def update_runs(session: Session, changes: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Update many runs: one executemany for each set of changed columns (a few round trips, not one
    a row)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for run_id, values in changes:
        groups.setdefault(tuple(sorted(values)), []).append({"run_id_": run_id, **values})
    for rows in groups.values():
        if len(rows) == 1:
            run_id = rows[0].pop("run_id_")
            update_run(session, run_id, **rows[0])
        else:
            session.execute(update(E).where(E.c.id == bindparam("run_id_")), rows)


def insert_execution(session: Session, **values: Any) -> int:
    return int(session.execute(insert(E).returning(E.c.id), [values]).scalar_one())


def insert_children(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert branch or iteration rows (one executemany: no RETURNING, which would make SQLAlchemy
    render all of them into one statement, slow to build for a Map over thousands of items)."""
    if rows:
        session.execute(insert(E), list(rows))


def pending_children(session: Session, parent_id: int, generation: int, limit: int) -> list[Row[Any]]:
    """The next children of a fan-out to start, in index order."""
    return list(
        session.execute(
            select(E.c.id, E.c.child_index, E.c.input)
            .where(E.c.parent_id == parent_id, E.c.generation == generation, E.c.status == "PENDING")
            .order_by(E.c.child_index)
            .limit(limit)
        )
    )


def child_outputs(session: Session, parent_id: int, generation: int) -> list[Any]:
    """The outputs of a Parallel's branches or a Map's iterations, in order (None where one failed)."""
    rows = session.execute(
        select(E.c.status, E.c.output)
        .where(E.c.parent_id == parent_id, E.c.generation == generation)
        .order_by(E.c.child_index)
    )
    return [output if status == "SUCCEEDED" else None for status, output in rows]


def running_children(session: Session, parent_id: int, generation: int) -> list[Row[Any]]:
    return list(
        session.execute(
            select(E.c.id, E.c.child_index, E.c.last_event_id, E.c.history_id)
            .where(E.c.parent_id == parent_id, E.c.generation == generation, E.c.status == "RUNNING")
            .order_by(E.c.child_index)
        )
    )


def last_fan_out(session: Session, parent_id: int) -> list[Row[Any]]:
    """The children of ``parent_id``'s latest fan-out (its highest generation), in index order: what
    a redrive of a Parallel or Map state that stopped finds of its branches or iterations."""
    latest = select(func.max(E.c.generation)).where(E.c.parent_id == parent_id).scalar_subquery()
    return list(
        session.execute(
            select(E.c.id, E.c.child_index, E.c.status, E.c.cursor, E.c.generation, E.c.redrive_count)
            .where(E.c.parent_id == parent_id, E.c.generation == latest)
            .order_by(E.c.child_index)
        )
    )


def reset_children(session: Session, run_ids: Sequence[int]) -> None:
    """Make branches or iterations that never ran (or will run again from their start) PENDING, as
    when their fan-out began."""
    if run_ids:
        session.execute(
            update(E)
            .where(E.c.id.in_(list(run_ids)))
            .values(
                status="PENDING", cursor=None, seq=0, stop_date=None, output=None, error=None, cause=None, variables={}
            )
        )


def descendants(session: Session, run_ids: Iterable[int]) -> list[int]:
    """Every run below ``run_ids`` (their children, their children's children, ...)."""
    found: list[int] = []
    frontier = list(run_ids)
    while frontier:
        below = list(session.scalars(select(E.c.id).where(E.c.parent_id.in_(frontier))))
        found.extend(below)
        frontier = below
    return found


def abort_runs(session: Session, run_ids: Sequence[int], now: dt.datetime) -> None:
    """Mark runs that have not ended ABORTED, and drop what they were waiting for."""
    if not run_ids:
        return
    ids = list(run_ids)
    session.execute(
        update(E).where(E.c.id.in_(ids), E.c.status.in_(("RUNNING", "PENDING"))).values(status="ABORTED", stop_date=now)
    )
    session.execute(delete(Timer.__table__).where(Timer.__table__.c.run_id.in_(ids)))
    close_tokens(session, ids, "ABORTED", now)


# -- history -------------------------------------------------------------------------------------------


def append_events(session: Session, history_id: int, events: Sequence[Event]) -> None:
    """Insert ``events``, and note them on the session: the metrics count them if it commits."""
    if not events:
        return
    session.info.setdefault(APPENDED_EVENTS, []).append((history_id, events))
    session.execute(insert(H), _event_rows(history_id, events))


def _event_rows(history_id: int, events: Sequence[Event]) -> list[dict[str, Any]]:
    return [
        {
            "execution_id": history_id,
            "id": e.id,
            "previous_event_id": e.previous_event_id,
            "type": e.type,
            "timestamp": e.timestamp,
            "details": e.details,
        }
        for e in events
    ]


# The events as one JSON document, a row each (json_to_recordset): a statement of one shape whatever
# their number, which SQLAlchemy compiles once (a multi-row VALUES is compiled again for every
# execution), and one parameter that psycopg sends as it is. (Arrays of text, which this replaced,
# cost psycopg a regular-expression escape per element: half the worker's CPU in a 1,000-state step.)
# A ``json`` column keeps the text of its value exactly, so each event's details are stored as
# `encoding.dumps` wrote them, key order and NUL escapes included.
_RECORDS = (
    func.json_to_recordset(cast(bindparam("appended_events", type_=Text()), postgresql.JSON()))
    .table_valued(
        column("id", Integer()),
        column("previous_event_id", Integer()),
        column("type", Text()),
        column("timestamp", postgresql.TIMESTAMP(timezone=True)),
        column("details", postgresql.JSON()),
    )
    .render_derived(name="appended_event", with_types=True)
)


def _appending(history_id: Any, source: Any = None) -> Any:
    """The INSERT of `_document`'s events into history ``history_id`` (a bind parameter, or a column
    of ``source``, another WITH query), as a WITH query named ``appended``."""
    columns = (_RECORDS.c.id, _RECORDS.c.previous_event_id, _RECORDS.c.type, _RECORDS.c.timestamp, _RECORDS.c.details)
    rows = select(history_id, *columns)
    if source is not None:
        rows = rows.select_from(_RECORDS.join(source, true()))
    names = ["execution_id", "id", "previous_event_id", "type", "timestamp", "details"]
    return insert(H).from_select(names, rows).cte("appended")


_APPENDED = _appending(bindparam("appended_history_id", type_=BigInteger()))


def insert_started(session: Session, events: Sequence[Event], **values: Any) -> int:
    """Insert an execution that keeps its own history (``history_id`` is its id) with its first
    ``events``; returns its id. One statement on PostgreSQL (the id taken from the table's sequence
    in a WITH query that both INSERTs use), three elsewhere: StartExecution's hot path."""
    if session.get_bind().dialect.name != "postgresql":
        execution_id = insert_execution(session, **values)
        update_run(session, execution_id, history_id=execution_id)
        append_events(session, execution_id, events)
        return execution_id
    values = {**_DEFAULTS, **values}  # (an INSERT ... SELECT gets no Python-side defaults)
    document = _document(0, events)
    parameters = {**_new_parameters(values), **document}
    execution_id = int(session.execute(_starting(tuple(values)), parameters).scalar_one())
    session.info.setdefault(APPENDED_EVENTS, []).append((execution_id, events))
    return execution_id


@functools.lru_cache(maxsize=16)
def _starting(columns: tuple[str, ...]) -> Any:
    serial = func.nextval(func.pg_get_serial_sequence("executions", "id"))
    new = select(serial.label("id")).cte("new_execution")  # (evaluated once, as every WITH query)
    given = [bindparam(f"new_{name}", type_=E.c[name].type) for name in columns]
    inserted = insert(E).from_select(
        ["id", "history_id", *columns], select(new.c.id, new.c.id, *given), include_defaults=False
    )
    return select(new.c.id).add_cte(inserted.cte("inserted")).add_cte(_appending(new.c.id, new))


def _python_defaults() -> dict[str, Any]:
    """The values the model gives a column left out of an INSERT (``variables``: ``{}``, ...)."""
    found = {}
    for c in E.columns:
        if c.default is None or c.primary_key:
            continue
        found[c.name] = c.default.arg if c.default.is_scalar else c.default.arg(None)
    return found


_DEFAULTS = _python_defaults()


def _document(history_id: int, events: Sequence[Event]) -> dict[str, Any]:
    records = ",".join(
        f'{{"id":{e.id},"previous_event_id":{e.previous_event_id},"type":{json.dumps(e.type)},'
        f'"timestamp":"{as_utc(e.timestamp).isoformat()}","details":{encoding.dumps(e.details)}}}'
        for e in events
    )
    return {"appended_history_id": history_id, "appended_events": f"[{records}]"}


def append_and_update(
    session: Session,
    events: Mapping[int, Sequence[Event]],
    changes: Sequence[tuple[int, dict[str, Any]]],
    leased: leases.LeasedRow | None = None,
) -> int | None:
    """`append_events` to each history, then `update_runs`, and write ``leased`` (`leases.add_leased`;
    its id is returned). A step's usual work, events in one history, one changed row and the next
    Task's message, is one statement on PostgreSQL (the INSERTs in a WITH of the UPDATE)."""
    appended = [(history_id, found) for history_id, found in events.items() if found]
    if len(appended) == 1 and len(changes) == 1 and session.get_bind().dialect.name == "postgresql":
        (history_id, found), (run_id, values) = appended[0], changes[0]
        session.info.setdefault(APPENDED_EVENTS, []).append((history_id, found))
        parameters = {**_update_parameters(run_id, values), **_document(history_id, found)}
        if leased is None:
            session.execute(_updating(tuple(values), True), parameters)
            return None
        statement = _updating(tuple(values), True, tuple(leased.row))
        return int(session.execute(statement, {**parameters, **leased.parameters()}).scalar_one())
    for history_id, found in appended:
        append_events(session, history_id, found)
    update_runs(session, changes)
    return None if leased is None else leases.add_leased(session, leased)


def redrive_dates(session: Session, execution_ids: Collection[int]) -> dict[int, dt.datetime]:
    """When each of ``execution_ids`` was last redriven (its last ExecutionRedriven event), for those
    redriven at least once."""
    if not execution_ids:
        return {}
    H = HistoryEvent.__table__
    rows = session.execute(
        select(H.c.execution_id, func.max(H.c.timestamp))
        .where(H.c.execution_id.in_(list(execution_ids)), H.c.type == "ExecutionRedriven")
        .group_by(H.c.execution_id)
    )
    return {execution_id: moment for execution_id, moment in rows}


def not_before_last_event(session: Session, history_id: int, now: dt.datetime) -> dt.datetime:
    """``now``, or the time of the history's last event if that is later.

    A transaction takes its time before it waits for the execution's lock; another that got the
    lock first may have written a later time meanwhile. Events stamped with this keep the history's
    timestamps in the order of its event ids (AWS's never go backwards)."""
    table = HistoryEvent.__table__
    last = session.scalar(
        select(table.c.timestamp).where(table.c.execution_id == history_id).order_by(table.c.id.desc()).limit(1)
    )
    return now if last is None or last <= now else last


def history_page(session: Session, execution_id: int, *, after: int, limit: int, reverse: bool) -> list[Row[Any]]:
    """Events of an execution after (or, in reverse, before) event id ``after``."""
    table = HistoryEvent.__table__
    query = select(table).where(table.c.execution_id == execution_id)
    if reverse:
        if after:
            query = query.where(table.c.id < after)
        query = query.order_by(table.c.id.desc())
    else:
        query = query.where(table.c.id > after).order_by(table.c.id)
    return list(session.execute(query.limit(limit)))


# -- definitions ---------------------------------------------------------------------------------------


def definition_text(session: Session, definition_hash: str) -> str | None:
    return session.scalar(select(Definition.text).where(Definition.hash == definition_hash))


def save_definition(session: Session, definition_hash: str, text: str) -> None:
    """Store a definition text once; two transactions storing the same text at once both succeed."""
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Definition.__table__)
    session.execute(
        statement.on_conflict_do_nothing(index_elements=["hash"]), [{"hash": definition_hash, "text": text}]
    )


# -- timers --------------------------------------------------------------------------------------------

T = Timer.__table__


def add_timer(
    session: Session, run_id: int, seq: int, kind: str, fire_at: dt.datetime, token: str | None = None
) -> None:
    session.execute(insert(T), [{"run_id": run_id, "seq": seq, "kind": kind, "fire_at": fire_at, "token": token}])


def drop_timers_of(session: Session, run_ids: Sequence[int]) -> None:
    """Drop the timers of runs that have ended (an execution's own timeout excepted)."""
    if run_ids:
        session.execute(delete(T).where(T.c.run_id.in_(list(run_ids)), T.c.kind != "execution_timeout"))


def drop_timers(session: Session, run_id: int, *, keep_execution_timeout: bool = True) -> None:
    query = delete(T).where(T.c.run_id == run_id)
    if keep_execution_timeout:
        query = query.where(T.c.kind != "execution_timeout")
    session.execute(query)


def restamp_task_timers(session: Session, run_id: int, seq: int) -> None:
    """Point a run's task clocks (TimeoutSeconds, HeartbeatSeconds) at its step ``seq``."""
    session.execute(update(T).where(T.c.run_id == run_id, T.c.kind.in_(("task_timeout", "heartbeat"))).values(seq=seq))


def due_timers(session: Session, now: dt.datetime, limit: int) -> list[Row[Any]]:
    """Timers whose time has come, locked; another scheduler skips them (SKIP LOCKED)."""
    return list(
        session.execute(
            select(T).where(T.c.fire_at <= now).order_by(T.c.fire_at).limit(limit).with_for_update(skip_locked=True)
        )
    )


def delete_timers(session: Session, timer_ids: Sequence[int]) -> None:
    if timer_ids:
        session.execute(delete(T).where(T.c.id.in_(list(timer_ids))))


def move_heartbeat(session: Session, token: str, fire_at: dt.datetime) -> int:
    result = session.execute(update(T).where(T.c.token == token, T.c.kind == "heartbeat").values(fire_at=fire_at))
    return result.rowcount or 0


def shift_timers(session: Session, delta: dt.timedelta) -> int:
    """Move every timer earlier by ``delta`` (a test hook: time travel without waiting)."""
    rows = list(session.execute(select(T.c.id, T.c.fire_at)))
    for timer_id, fire_at in rows:
        session.execute(update(T).where(T.c.id == timer_id).values(fire_at=fire_at - delta))
    return len(rows)


# -- task tokens ---------------------------------------------------------------------------------------

K = TaskToken.__table__


def add_token(session: Session, **values: Any) -> None:
    session.execute(insert(K), [values])


def lock_token(session: Session, token: str) -> Row[Any] | None:
    return session.execute(select(K).where(K.c.token == token).with_for_update()).first()


def load_token(session: Session, token: str) -> Row[Any] | None:
    return session.execute(select(K).where(K.c.token == token)).first()


def close_token(session: Session, token: str, status: str, now: dt.datetime) -> None:
    session.execute(update(K).where(K.c.token == token).values(status=status, completed_at=now))


def close_tokens(session: Session, run_ids: Sequence[int], status: str, now: dt.datetime) -> None:
    session.execute(
        update(K).where(K.c.run_id.in_(list(run_ids)), K.c.status == "PENDING").values(status=status, completed_at=now)
    )


def close_execution_tokens(session: Session, execution_id: int, status: str, now: dt.datetime) -> None:
    """Close what an execution's tree still waits on, in every branch and iteration (the tokens carry
    their execution's id)."""
    session.execute(
        update(K)
        .where(K.c.execution_id == execution_id, K.c.status == "PENDING")
        .values(status=status, completed_at=now)
    )


def pending_tokens(session: Session, limit: int = 1000) -> list[Row[Any]]:
    """The oldest ``limit`` tokens waiting, with their execution's ARN (``execution_arn``), in one query."""
    query = (
        select(K, E.c.arn.label("execution_arn"))
        .join(E, E.c.id == K.c.execution_id)
        .where(K.c.status == "PENDING")
        .order_by(K.c.created_at)
        .limit(limit)
    )
    return list(session.execute(query))


# -- outbox --------------------------------------------------------------------------------------------

O = OutboxMessage.__table__  # noqa: E741 - the table's initial, like E, T and K
# Built once: a step's lock is the hottest statement of all, and building it anew took a tenth of a
# worker's CPU per Task state (SQLAlchemy still caches its compiled form either way).
_LOCKING = _locking()
_CONSUMING_AND_LOCKING = _consuming_and_locking()


def add_messages(session: Session, messages: Sequence[dict[str, Any]]) -> list[int]:
    if not messages:
        return []
    result = session.execute(insert(O).returning(O.c.id, sort_by_parameter_order=True), list(messages))
    return [int(r[0]) for r in result]


def consume_message(session: Session, message_id: int | None) -> bool:
    """Delete a message in the transaction that acts on it: it was delivered; nobody republishes it
    (its lease goes with it). False if it was consumed already: this is a copy of it."""
    if message_id is None:
        return True
    return bool(session.execute(delete(O).where(O.c.id == message_id)).rowcount)


def lock_message(session: Session, message_id: int) -> Row[Any] | None:
    return session.execute(select(O).where(O.c.id == message_id).with_for_update()).first()


def note_failure(session: Session, message_id: int, *, failures: int, error: str, republish_at: dt.datetime) -> None:
    """Record that a try of the message failed, and when the sweeper is to publish it again."""
    session.execute(
        update(O).where(O.c.id == message_id).values(failures=failures, last_error=error, republish_at=republish_at)
    )


def stale_messages(
    session: Session,
    *,
    now: dt.datetime,
    published_before: dt.datetime,
    created_before: dt.datetime,
    limit: int,
    leased: Collection[str] = (),
    unleased_before: dt.datetime | None = None,
) -> list[Row[Any]]:
    """Messages to publish again, still unconsumed and under no live lease: published once, before
    ``published_before``; or republished already, and ``republish_at`` has come; or never published
    and created before ``created_before`` (their process had no broker). With leases
    (``unleased_before``), also: a message whose lease ran out (its holder is lost), and a message
    of the ``leased`` tasks published before ``unleased_before`` that no worker has taken (the
    worker it went to died before starting it, or the broker lost it)."""
    first_time = O.c.republish_at.is_(None) & (O.c.published_at < published_before)
    never = O.c.published_at.is_(None) & (O.c.created_at < created_before)
    due = first_time | (O.c.republish_at <= now) | never
    if unleased_before is not None:
        untaken = O.c.republish_at.is_(None) & O.c.task.in_(list(leased)) & (O.c.published_at < unleased_before)
        due = due | untaken | leases.expired(now)
    return list(
        session.execute(
            select(O)
            .where(due & ~leases.live(now))
            .order_by(O.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=O)
        )
    )


def mark_republished(session: Session, republish_at: Mapping[int, dt.datetime], now: dt.datetime) -> None:
    """Record that the messages (by id) were published now, and when to republish each if unconsumed."""
    if republish_at:
        session.execute(
            update(O).where(O.c.id == bindparam("message_id")).values(published_at=now, republish_at=bindparam("at")),
            [{"message_id": message_id, "at": at} for message_id, at in republish_at.items()],
        )


def retry_publishing(session: Session, republish_at: Mapping[int, dt.datetime]) -> None:
    """Have the sweeper publish these messages (whose publishing failed) again at the times given."""
    if republish_at:
        session.execute(
            update(O).where(O.c.id == bindparam("message_id")).values(republish_at=bindparam("at")),
            [{"message_id": message_id, "at": at} for message_id, at in republish_at.items()],
        )
