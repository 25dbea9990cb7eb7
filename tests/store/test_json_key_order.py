"""JSON values come back with their keys in the order they were written, on PostgreSQL too (migration
0010: ``json`` columns instead of ``jsonb``), and the migration works on a database with data, up and
down, on both databases. The console's search by input still uses its GIN index on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from orchestrator.store.browse import ExecutionSearch, InputMatch, search_executions
from orchestrator.store.db import get_engine
from orchestrator.store.migrate import alembic_config, upgrade
from orchestrator.store.models import Definition, Execution, HistoryEvent, StateMachine
from tests.store.conftest import PG_ADMIN

BEFORE = "9e4f6a8c0b35"  # the revision before migration 0010
KEY_ORDER = "a0c1e2f3b010"  # migration 0010
NOW = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)
# In an order jsonb would change (it sorts keys shortest first): what AWS would give back as is.
VALUE = {"greeting": "Hello, Ada!", "name": "Ada", "verdict": "a single name", "z": {"yy": 1, "b": [{"kk": 0, "a": 1}]}}


ROW = {
    "state_machine_id": 1, "definition_hash": "d", "role_arn": "arn:role", "status": "SUCCEEDED", "start_date": NOW,
    "variables": {}, "outer_variables": {}, "seq": 0, "last_event_id": 1, "next_event_id": 2,
    "state_transitions": 0, "redrive_count": 0,
}  # fmt: skip


def _execution(session: Session, name: str, value: Any) -> int:
    """An execution holding ``value`` as its input and output, and one event with it in its details."""
    if session.get(Definition, "d") is None:
        session.execute(insert(Definition.__table__).values(hash="d", text="{}"))
        session.execute(
            insert(StateMachine.__table__).values(
                id=1, arn="arn:sm", name="sm", type="STANDARD", status="ACTIVE", definition_hash="d",
                role_arn="arn:role", revision_id="r", tags={},
            )
        )  # fmt: skip
    execution_id = session.execute(
        insert(Execution.__table__)
        .values(**ROW, arn=f"arn:x:{name}", name=name, input=value, output=value)
        .returning(Execution.__table__.c.id)
    ).scalar_one()
    session.execute(
        insert(HistoryEvent.__table__).values(
            execution_id=execution_id, id=1, previous_event_id=0, type="ExecutionSucceeded", timestamp=NOW,
            details={"output": value},
        )
    )  # fmt: skip
    return int(execution_id)


def _read(session: Session, execution_id: int) -> tuple[Any, Any, Any]:
    execution = session.execute(select(Execution.input, Execution.output).where(Execution.id == execution_id)).one()
    details = session.scalar(select(HistoryEvent.details).where(HistoryEvent.execution_id == execution_id))
    return execution.input, execution.output, details["output"]


def _keys(value: Any) -> list[Any]:
    """Every key of ``value``, nested ones too, in document order."""
    if isinstance(value, dict):
        return [item for key, nested in value.items() for item in (key, *_keys(nested))]
    if isinstance(value, list):
        return [item for nested in value for item in _keys(nested)]
    return []


def test_values_keep_their_key_order(database_url: str) -> None:
    with Session(get_engine(database_url)) as session, session.begin():
        execution_id = _execution(session, "kept", VALUE)
    with Session(get_engine(database_url)) as session:
        for read in _read(session, execution_id):
            assert read == VALUE and _keys(read) == _keys(VALUE)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_before(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the revision before migration 0010."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'orchestrator.sqlite'}"
        upgrade(url, BEFORE)
        yield url
        get_engine(url).dispose()
        return
    name = f"orchestrator_key_order_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    try:
        upgrade(url, BEFORE)
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migration_keeps_the_data_up_and_down(database_before: str) -> None:
    url = database_before
    with Session(get_engine(url)) as session, session.begin():
        before = _execution(session, "before", VALUE)
    upgrade(url, KEY_ORDER)
    with Session(get_engine(url)) as session, session.begin():
        assert _read(session, before) == (VALUE, VALUE, VALUE)  # equal; the order jsonb gave it stays
        after = _execution(session, "after", VALUE)
    with Session(get_engine(url)) as session:
        assert [_keys(v) for v in _read(session, after)] == [_keys(VALUE)] * 3
    command.downgrade(alembic_config(url), BEFORE)
    with Session(get_engine(url)) as session:
        assert _read(session, before) == _read(session, after) == (VALUE, VALUE, VALUE)
    upgrade(url)


def test_the_search_by_input_uses_its_index_on_postgresql(postgresql_url: str) -> None:
    engine = get_engine(postgresql_url)
    with Session(engine) as session, session.begin():
        _execution(session, "first", {})
        many = [
            {**ROW, "arn": f"arn:x:e{n}", "name": f"e{n}", "input": {"applicant": {"id": n, "name": f"n{n}"}}}
            for n in range(3000)
        ]
        session.execute(insert(Execution.__table__), many)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE executions"))
        connection.commit()
    search = ExecutionSearch(input_matches=(InputMatch(("applicant", "id"), 42),))
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    with Session(engine) as session:
        event.listen(engine, "before_cursor_execute", capture)
        try:
            found = search_executions(session, search, before=None, limit=10)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert [row.Execution.name for row in found] == ["e42"]
        # the query's condition is the index's expression: its plan uses the GIN index
        statement, parameters = sent[-1]
        plan = session.connection().exec_driver_sql("EXPLAIN " + statement, parameters).scalars().all()
        assert "ix_executions_input_gin" in "\n".join(plan)
