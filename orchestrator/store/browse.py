"""The queries behind the console: overviews, searches across state machines, and what changed.

Everything here reads; the console changes things only through the service's actions. The
execution search pages by keyset (start date, id), newest first, so a deep page costs what the
first one does; migration 0006 adds the indexes it relies on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Row, String, Text, cast, func, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from orchestrator.store import encoding
from orchestrator.store.models import (
    Execution,
    HistoryEvent,
    MapRun,
    StateMachine,
    StateMachineAlias,
    StateMachineVersion,
    TaskToken,
    Timer,
)


@dataclass(frozen=True)
class InputMatch:
    """``input`` holds ``value`` at ``path`` (keys from the top): ``applicant.id = 42``."""

    path: tuple[str, ...]
    value: Any


@dataclass(frozen=True)
class ExecutionSearch:
    """The filters of the executions list; every one is optional."""

    statuses: tuple[str, ...] = ()
    machine_id: int | None = None
    name_prefix: str | None = None
    started_after: dt.datetime | None = None
    started_before: dt.datetime | None = None
    input_matches: tuple[InputMatch, ...] = ()


@dataclass(frozen=True)
class MachineSummary:
    machine: StateMachine
    counts: dict[str, int]  # executions started in the window, by status
    last_start: dt.datetime | None
    latest_version: int | None
    aliases: tuple[str, ...]


def machine_summaries(session: Session, *, since: dt.datetime) -> list[MachineSummary]:
    """Every state machine with its executions by status since ``since`` and its last start."""
    live = StateMachine.status != "DELETED"  # a deleted machine's executions stay; the machine is gone
    machines = list(session.scalars(select(StateMachine).where(live).order_by(StateMachine.name)))
    roots = Execution.root_id.is_(None)
    counts: dict[int, dict[str, int]] = {}
    for machine_id, status, count in session.execute(
        select(Execution.state_machine_id, Execution.status, func.count())
        .where(roots, Execution.start_date >= since)
        .group_by(Execution.state_machine_id, Execution.status)
    ):
        counts.setdefault(machine_id, {})[status] = count
    # One backward probe of ix_executions_machine_recent per machine: a GROUP BY would read every row.
    latest = (
        select(Execution.start_date)
        .where(Execution.state_machine_id == StateMachine.id, roots)
        .order_by(Execution.start_date.desc())
        .limit(1)
        .scalar_subquery()
    )
    last = dict(
        session.execute(select(StateMachine.id, latest).where(StateMachine.id.in_([m.id for m in machines]))).all()
    )
    versions = dict(
        session.execute(
            select(StateMachineVersion.state_machine_id, func.max(StateMachineVersion.version)).group_by(
                StateMachineVersion.state_machine_id
            )
        ).all()
    )
    aliases: dict[int, list[str]] = {}
    for machine_id, name in session.execute(
        select(StateMachineAlias.state_machine_id, StateMachineAlias.name).order_by(StateMachineAlias.name)
    ):
        aliases.setdefault(machine_id, []).append(name)
    return [
        MachineSummary(m, counts.get(m.id, {}), last.get(m.id), versions.get(m.id), tuple(aliases.get(m.id, ())))
        for m in machines
    ]


def machine_names(session: Session) -> list[str]:
    return list(
        session.scalars(select(StateMachine.name).where(StateMachine.status != "DELETED").order_by(StateMachine.name))
    )


def search_executions(
    session: Session, search: ExecutionSearch, *, before: tuple[dt.datetime, int] | None, limit: int
) -> list[Row[Any]]:
    """Executions (not branches or iterations) matching ``search``, newest first, after the keyset
    ``before`` (the previous page's last (start_date, id)). Rows: the execution and its machine's name."""
    query = (
        select(Execution, StateMachine.name.label("machine_name"))
        .join(StateMachine, StateMachine.id == Execution.state_machine_id)
        .where(Execution.root_id.is_(None))
    )
    for condition in _conditions(session, search):
        query = query.where(condition)
    if before is not None:
        # A row comparison, which the index serves as its condition: a deep page costs a first one's.
        query = query.where(tuple_(Execution.start_date, Execution.id) < tuple_(*before))
    return list(session.execute(query.order_by(Execution.start_date.desc(), Execution.id.desc()).limit(limit)))


def _conditions(session: Session, search: ExecutionSearch) -> list[Any]:
    out: list[Any] = []
    if search.statuses:
        out.append(Execution.status.in_(list(search.statuses)))
    if search.machine_id is not None:
        out.append(Execution.state_machine_id == search.machine_id)
    if search.name_prefix:
        escaped = search.name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        out.append(Execution.name.like(f"{escaped}%", escape="\\"))
    if search.started_after is not None:
        out.append(Execution.start_date >= search.started_after)
    if search.started_before is not None:
        out.append(Execution.start_date < search.started_before)
    postgres = session.get_bind().dialect.name == "postgresql"
    for match in search.input_matches:
        out.append(_input_condition(match, postgres))
    return out


def _input_condition(match: InputMatch, postgres: bool) -> Any:
    """On PostgreSQL, JSONB containment of ``input::jsonb`` (the column is ``json``, which keeps key
    order; the GIN index of migration 0010 is on that expression); on SQLite, the JSON1 value at the
    path compared with the value."""
    if postgres:
        document: Any = match.value
        for key in reversed(match.path):
            document = {key: document}
        return cast(Execution.input, JSONB).contains(document)
    json_path = "$" + "".join(f'."{key}"' for key in match.path)
    extracted = func.json_extract(Execution.input, json_path)
    if isinstance(match.value, bool):
        return extracted == (1 if match.value else 0)
    if match.value is None:
        return func.json_type(Execution.input, json_path) == "null"
    if isinstance(match.value, (dict, list)):
        return extracted == func.json(type_coerce(match.value, JSON))
    if isinstance(match.value, str):
        return extracted == cast(match.value, String)
    return extracted == match.value


def execution_facts(session: Session, arn: str) -> Row[Any] | None:
    """The columns of an execution's row that its console page needs: not its input and output,
    which a big Map's execution holds by the hundred kilobytes."""
    return session.execute(
        select(
            Execution.id,
            Execution.state_machine_id,
            Execution.definition_hash,
            Execution.state_transitions,
            Execution.last_event_id,
            Execution.caller_id,
            Execution.status,
        ).where(Execution.arn == arn)
    ).one_or_none()


def map_run_arns(session: Session, execution_id: int) -> list[str]:
    """The ARNs of an execution's Distributed Map Runs, oldest first."""
    return list(session.scalars(select(MapRun.arn).where(MapRun.execution_id == execution_id).order_by(MapRun.id)))


def whole_history(
    session: Session, execution_id: int, *, limit: int, up_to: int | None = None
) -> list[tuple[int, int, dt.datetime, str, Any]]:
    """Every event of an execution (those up to the id ``up_to``, if given), oldest first:
    (id, previous id, timestamp, type, details)."""
    query = _events(execution_id).order_by(HistoryEvent.__table__.c.id).limit(limit)
    if up_to is not None:
        query = query.where(HistoryEvent.__table__.c.id <= up_to)
    return _read_events(session, query)


def history_page(
    session: Session, execution_id: int, *, event_type: str | None, descending: bool, offset: int, limit: int
) -> list[tuple[int, int, dt.datetime, str, Any]]:
    """One page of an execution's events, of one type if ``event_type``; the primary key serves it."""
    column = HistoryEvent.__table__.c.id
    query = _events(execution_id).order_by(column.desc() if descending else column).offset(offset).limit(limit)
    if event_type:
        query = query.where(HistoryEvent.__table__.c.type == event_type)
    return _read_events(session, query)


def history_events(
    session: Session, execution_id: int, ids: Sequence[int]
) -> list[tuple[int, int, dt.datetime, str, Any]]:
    """The events of an execution whose ids are ``ids``, oldest first."""
    if not ids:
        return []
    column = HistoryEvent.__table__.c.id
    return _read_events(session, _events(execution_id).where(column.in_(list(ids))).order_by(column))


def _events(execution_id: int) -> Any:
    table = HistoryEvent.__table__
    columns = (table.c.id, table.c.previous_event_id, table.c.timestamp, table.c.type, cast(table.c.details, Text))
    return select(*columns).where(table.c.execution_id == execution_id)


def _read_events(session: Session, query: Any) -> list[tuple[int, int, dt.datetime, str, Any]]:
    """The rows of ``query`` with their details parsed.

    The details are read as JSON text and parsed here, all at once: letting the driver decode
    each JSON value costs several times more over a 25,000-event history, and so does calling
    json.loads 25,000 times."""
    rows = session.execute(query).all()
    parsed = iter(_parse_all([r[4] for r in rows if r[4] is not None], session.get_bind().dialect.name))
    return [(r[0], r[1], r[2], r[3], next(parsed) if r[4] is not None else None) for r in rows]


def _parse_all(texts: list[str], dialect: str) -> list[Any]:
    """JSON texts parsed as one array (they are each one valid JSON value, from a JSON column)."""
    joined = "[" + ",".join(texts) + "]"
    if dialect == "postgresql" and (encoding.ESCAPE in joined or "\\ue000" in joined):
        return [encoding.loads(text) for text in texts]  # a NUL to restore somewhere
    return list(json.loads(joined))


def children_of(session: Session, run_ids: Sequence[int]) -> list[Row[Any]]:
    """Executions that a Task of one of ``run_ids`` started (states:startExecution), with machine names."""
    if not run_ids:
        return []
    return list(
        session.execute(
            select(Execution, StateMachine.name.label("machine_name"))
            .join(StateMachine, StateMachine.id == Execution.state_machine_id)
            .where(Execution.caller_id.in_(list(run_ids)), Execution.root_id.is_(None))
            .order_by(Execution.start_date, Execution.id)
            .limit(1000)
        )
    )


def tree_ids(session: Session, execution_id: int) -> list[int]:
    """The execution's own run and every branch and iteration run under it."""
    rows = session.scalars(select(Execution.id).where(Execution.root_id == execution_id))
    return [execution_id, *rows]


def open_tasks(session: Session, limit: int = 1000) -> list[Row[Any]]:
    """Tasks waiting on a token or an activity, oldest first, with their execution and machine."""
    root = Execution.__table__.alias("root")
    return list(
        session.execute(
            select(
                TaskToken,
                root.c.arn.label("execution_arn"),
                root.c.name.label("execution_name"),
                StateMachine.name.label("machine_name"),
            )
            .join(root, root.c.id == TaskToken.execution_id)
            .join(StateMachine, StateMachine.id == root.c.state_machine_id)
            .where(TaskToken.status == "PENDING")
            .order_by(TaskToken.created_at, TaskToken.token)
            .limit(limit)
        )
    )


def token_deadlines(session: Session, tokens: Sequence[str]) -> dict[str, dict[str, dt.datetime]]:
    """For each token, when its task times out (``task_timeout``) and its heartbeat is due (``heartbeat``)."""
    if not tokens:
        return {}
    out: dict[str, dict[str, dt.datetime]] = {}
    for token, kind, fire_at in session.execute(
        select(Timer.token, Timer.kind, Timer.fire_at).where(
            Timer.token.in_(list(tokens)), Timer.kind.in_(["task_timeout", "heartbeat"])
        )
    ):
        out.setdefault(token, {})[kind] = fire_at
    return out


def open_task_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(TaskToken).where(TaskToken.status == "PENDING")) or 0)


def executions_fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever an execution starts or ends (for live lists); each part has an index."""
    roots = Execution.root_id.is_(None)
    newest, ended = session.execute(select(func.max(Execution.id), func.max(Execution.stop_date)).where(roots)).one()
    running = session.scalar(select(func.count()).select_from(Execution).where(roots, Execution.status == "RUNNING"))
    return (newest, running, str(ended))


def tasks_fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever a task starts or stops waiting (for the live inbox)."""
    row = session.execute(
        select(func.count(), func.max(TaskToken.created_at)).where(TaskToken.status == "PENDING")
    ).one()
    answered = session.scalar(select(func.max(TaskToken.completed_at)))
    return (row[0], str(row[1]), str(answered))
