#!/usr/bin/env python3
"""Multiply the executions paused on a task token, in SQL: part (d) of bench/durable.py.

    python bench/paused_clone.py postgresql://postgres@127.0.0.1:5432/DATABASE --total 1000000

Creating a paused execution for real (StartExecution, a worker's transaction, the token) runs at
about 150 a second on 2 cores: a million takes two hours. To measure a database that holds a
million, part (d) creates some thousands for real and `clone_paused` copies them, with
``INSERT ... SELECT`` over ``generate_series``, until the database holds ``total`` executions.

A clone is a paused execution like its source, rows and all, so that SendTaskSuccess with its
token ends it, and DescribeExecution, ListExecutions and GetExecutionHistory answer for it as for a
real one:

- its ``executions`` row, with an id of its own from the table's sequence and a new name: random,
  of the source's length (a UUID for a UUID); everything else is the source's (machine, status,
  input, cursor, seq, counters...);
- the rows of every table with a foreign key to ``executions.id`` that hold rows of the source
  (found in the catalog: ``history_events``, ``task_tokens``, ``timers``, ``map_runs``,
  ``status_events``), their columns read from information_schema, so that an older schema
  clones as well. A column that refers to the source execution refers to the clone; a serial or
  identity column takes its default; a text or JSON column that holds the source's name (its ARN
  ends with it) or its task token holds the clone's instead (the TaskScheduled event's
  parameters, the token row and its payload); the clone's token is new, random, of the source's
  length and alphabet (base64url, as ``secrets.token_urlsafe``);
- its times moved back by whole copies of the real executions' span: copy 1 happened one span
  before the real ones, copy 2 two spans before, and so on, so that the executions are spread
  over the hours a real run would take (no two clones of one source at one instant, as indexes on
  times would otherwise shrink), and newer clones have larger ids, as they would. A timer's due
  time (``fire_at``) is kept: no clone's timer comes due earlier than its source's. Times written
  inside JSON (the cursor's ``enteredTime``) are kept as they are.

Sources: the root executions RUNNING with exactly one task token, PENDING, and no branch or
iteration of their own (the benchmark's single ``.waitForTaskToken`` Task). Others are neither
cloned nor counted as sources (the report says how many). Work goes in batches of ``batch`` clones,
one transaction each, so that the progress shows and the WAL between checkpoints stays bounded.
The cloning's time is the benchmark's, not a figure of the engine.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

BATCH = 50_000
TEXT_TYPES = frozenset({"text", "character varying", "character", "json", "jsonb"})
TIME_TYPES = frozenset({"timestamp with time zone", "timestamp without time zone"})
DUE_TIMES = frozenset({("timers", "fire_at")})  # kept: a clone's timer never fires before its source's
# Unique values that neither refer to the execution nor hold its name or token: made anew.
NEW_VALUES = {("status_events", "id"): "gen_random_uuid()::text"}
_NEW_NAME = "left(gen_random_uuid()::text || '-' || gen_random_uuid()::text, length(s.name))"
# 48 random bytes in base64url are 64 characters, as secrets.token_urlsafe(48) gives (no padding,
# and below the 76 characters where encode() breaks lines).
_NEW_TOKEN = (
    "left(translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) "
    "|| uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), length(s.token))"
)
MAX_TOKEN = 64


@dataclass
class Column:
    name: str
    type: str
    default: bool  # a serial, identity or generated column: the clone takes its own


@dataclass
class Table:
    name: str
    columns: list[Column]
    references: list[str]  # its columns that refer to executions.id
    owner: str  # the one joined on: the row belongs to that execution
    rows: int = 0  # rows of the sources
    name_columns: list[str] = field(default_factory=list)  # text columns holding a source's name
    token_columns: list[str] = field(default_factory=list)  # ... or its task token


def clone_paused(
    database: Any, total: int, *, batch: int = BATCH, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Clone the paused executions until the database holds ``total`` root executions.

    ``database``: a psycopg connection (not in autocommit: each batch is committed), a DSN, or an
    object with a ``dsn`` (bench/durable.py's Database)."""
    with _connection(database) as connection:
        return _clone(connection, total, batch, say)


@contextlib.contextmanager
def _connection(database: Any) -> Iterator[Any]:
    import psycopg

    if isinstance(database, psycopg.Connection):
        if database.autocommit:
            raise ValueError("clone_paused commits batch by batch: give it a connection not in autocommit")
        yield database
        return
    with psycopg.connect(getattr(database, "dsn", database)) as connection:
        yield connection


def _clone(connection: Any, total: int, batch: int, say: Callable[[str], None]) -> dict[str, Any]:
    began = time.perf_counter()
    existing = _one(connection, "SELECT count(*) FROM executions WHERE root_id IS NULL")
    running = _one(connection, "SELECT count(*) FROM executions WHERE root_id IS NULL AND status = 'RUNNING'")
    sources = _select_sources(connection)
    clones = max(0, total - existing)
    report: dict[str, Any] = {
        "executions_before": existing,
        "sources": sources,
        "running_not_cloned": running - sources,
        "clones": clones,
        "total": existing + clones,
        "batch": batch,
    }
    if clones == 0:
        connection.rollback()
        return {**report, "seconds": 0.0}
    if sources == 0:
        raise RuntimeError("no execution paused on a task token to clone")
    longest = _one(connection, "SELECT max(length(token)) FROM clone_sources")
    if longest > MAX_TOKEN:
        raise RuntimeError(f"task tokens of {longest} characters: the clones' are {MAX_TOKEN} at most")
    tables = [t for t in _tables(connection) if _snapshot(connection, t)]
    for table in tables:
        _find_name_and_token(connection, table)
    step = _one(
        connection,
        "SELECT CASE WHEN count(*) > 1 THEN (max(start_date) - min(start_date)) * count(*) / (count(*) - 1) END "
        "FROM clone_sources",
    )
    step = max(step.total_seconds() if step else 0.0, 0.001 * sources)  # seconds between two copies
    copies = -(-clones // sources)
    sequence = _one(connection, "SELECT pg_get_serial_sequence('executions', 'id')")
    overriding = _overriding(connection)
    connection.execute(
        "CREATE TEMP TABLE clone_map (src bigint, dst bigint, src_name text, dst_name text, "
        "src_token text, dst_token text, shift interval)"
    )
    connection.commit()
    inserted = dict.fromkeys((t.name for t in tables), 0)
    first_id = last_id = 0
    say(f"    cloning {sources:,} paused executions into {clones:,} more ({copies} copies, {batch:,} a transaction)")
    for first in range(1, clones + 1, batch):
        last = min(clones, first + batch - 1)
        base = _reserve_ids(connection, sequence, last - first + 1)
        first_id = first_id or base
        last_id = base + last - first
        _fill_map(connection, first, last, base, sources, copies, step)
        for table in tables:
            inserted[table.name] += connection.execute(_insert_sql(table, overriding)).rowcount
        connection.commit()
        spent = time.perf_counter() - began
        say(f"    {last:,} of {clones:,} cloned, {spent:.0f} s ({last / spent:,.0f}/s)")
    connection.execute("DROP TABLE clone_map, clone_sources, " + ", ".join(f"clone_src_{t.name}" for t in tables))
    connection.commit()
    seconds = time.perf_counter() - began
    return {
        **report,
        "copies": copies,
        "seconds_between_copies": round(step, 3),
        "first_clone_id": first_id,
        "last_clone_id": last_id,
        "rows_inserted": inserted,
        "rows_per_source": {t.name: t.rows / sources for t in tables},
        "name_replaced_in": [f"{t.name}.{c}" for t in tables for c in t.name_columns],
        "token_replaced_in": [f"{t.name}.{c}" for t in tables for c in t.token_columns],
        "seconds": round(seconds, 1),
        "clones_per_s": round(clones / seconds, 1),
    }


def _one(connection: Any, sql: str, params: Any = None) -> Any:
    return connection.execute(sql, params).fetchone()[0]


def _select_sources(connection: Any) -> int:
    """The paused executions to copy, numbered from 0 in the order they started."""
    connection.execute(
        """
        CREATE TEMP TABLE clone_sources AS
        SELECT (row_number() OVER (ORDER BY e.start_date, e.id)) - 1 AS ord, e.id, e.name, k.token, e.start_date
        FROM executions e JOIN task_tokens k ON k.execution_id = e.id AND k.status = 'PENDING'
        WHERE e.root_id IS NULL AND e.status = 'RUNNING'
          AND NOT EXISTS (SELECT 1 FROM executions r WHERE r.root_id = e.id)
          AND NOT EXISTS (SELECT 1 FROM task_tokens o WHERE o.execution_id = e.id AND o.token <> k.token)
        """
    )
    connection.execute("CREATE UNIQUE INDEX ON clone_sources (ord)")
    connection.execute("ANALYZE clone_sources")
    return int(_one(connection, "SELECT count(*) FROM clone_sources"))


def _tables(connection: Any) -> list[Table]:
    """executions and every table with a foreign key to executions.id, as the catalog has them."""
    references: dict[str, list[tuple[str, bool]]] = {"executions": [("id", True)]}
    for table, column, not_null in connection.execute(
        """
        SELECT c.conrelid::regclass::text, a.attname, a.attnotnull
        FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.confrelid = 'executions'::regclass AND cardinality(c.conkey) = 1
        ORDER BY 1, a.attnum
        """
    ):
        references.setdefault(table, []).append((column, not_null))
    tables = []
    for name, columns in references.items():
        owners = [column for column, not_null in columns if not_null]
        if not owners:
            continue  # no row that must belong to an execution
        described = [
            Column(column, data_type, bool(default and default.startswith("nextval(")) or identity or generated)
            for column, data_type, default, identity, generated in connection.execute(
                "SELECT column_name, data_type, column_default, is_identity = 'YES', is_generated = 'ALWAYS' "
                "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s "
                "ORDER BY ordinal_position",
                (name,),
            )
        ]
        tables.append(Table(name, described, [c for c, _ in columns if name != "executions" or c != "id"], owners[0]))
    return tables


def _snapshot(connection: Any, table: Table) -> int:
    """Copies the sources' rows of ``table`` into a temporary table: each batch reads them there,
    not in the table that grows with every batch."""
    connection.execute(
        f"CREATE TEMP TABLE clone_src_{table.name} AS SELECT t.* FROM {table.name} t "
        f"JOIN clone_sources s ON s.id = t.{table.owner}"
    )
    table.rows = int(_one(connection, f"SELECT count(*) FROM clone_src_{table.name}"))
    if not table.rows:
        connection.execute(f"DROP TABLE clone_src_{table.name}")
        return 0
    connection.execute(f"ANALYZE clone_src_{table.name}")
    return table.rows


def _find_name_and_token(connection: Any, table: Table) -> None:
    """Which text columns of the sources' rows hold the execution's name (or ARN) or its token."""
    texts = [c.name for c in table.columns if c.type in TEXT_TYPES and (table.name, c.name) not in NEW_VALUES]
    if not texts:
        return
    checks = ", ".join(
        f'bool_or(strpos(t."{c}"::text, s.name) > 0), bool_or(strpos(t."{c}"::text, s.token) > 0)' for c in texts
    )
    found = connection.execute(
        f"SELECT {checks} FROM clone_src_{table.name} t JOIN clone_sources s ON s.id = t.{table.owner}"
    ).fetchone()
    table.name_columns = [c for i, c in enumerate(texts) if found[2 * i]]
    table.token_columns = [c for i, c in enumerate(texts) if found[2 * i + 1]]


def _overriding(connection: Any) -> str:
    always = _one(
        connection,
        "SELECT identity_generation FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'executions' AND column_name = 'id'",
    )
    return "OVERRIDING SYSTEM VALUE" if always == "ALWAYS" else ""


def _reserve_ids(connection: Any, sequence: str, count: int) -> int:
    """Takes ``count`` ids of the executions' sequence at once (nothing else starts executions
    meanwhile); the first of them."""
    base = int(_one(connection, "SELECT nextval(%s::regclass)", (sequence,)))
    if count > 1:
        connection.execute("SELECT setval(%s::regclass, %s)", (sequence, base + count - 1))
    return base


def _fill_map(connection: Any, first: int, last: int, base: int, sources: int, copies: int, step: float) -> None:
    """Clone number n (from 1) copies source (n - 1) % sources, in copy copies - (n - 1) // sources:
    the first clones are the oldest copy, so that ids grow with start dates."""
    connection.execute("TRUNCATE clone_map")
    connection.execute(
        f"""
        INSERT INTO clone_map
        SELECT s.id, %(base)s::bigint + g - %(first)s::bigint, s.name, {_NEW_NAME}, s.token, {_NEW_TOKEN},
               make_interval(secs => %(step)s::float8 * (%(copies)s::bigint - (g - 1) / %(sources)s::bigint))
        FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
        JOIN clone_sources s ON s.ord = (g - 1) %% %(sources)s::bigint
        """,
        {"base": base, "first": first, "last": last, "sources": sources, "copies": copies, "step": step},
    )
    connection.execute("ANALYZE clone_map")


def _insert_sql(table: Table, overriding: str) -> str:
    names, values = [], []
    for column in table.columns:
        value = _value(table, column)
        if value is not None:
            names.append(f'"{column.name}"')
            values.append(value)
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) {overriding if table.name == 'executions' else ''} "
        f"SELECT {', '.join(values)} FROM clone_map m JOIN clone_src_{table.name} t ON t.{table.owner} = m.src"
    )


def _value(table: Table, column: Column) -> str | None:
    """The clone's value of ``column``: SQL over the source row ``t`` and its clone_map row ``m``;
    None to let the column take its default."""
    source = f't."{column.name}"'
    if table.name == "executions" and column.name == "id":
        return "m.dst"
    if (table.name, column.name) in NEW_VALUES:
        return NEW_VALUES[table.name, column.name]
    if column.default:
        return None
    if column.name in table.references:
        return f"CASE WHEN {source} = m.src THEN m.dst ELSE {source} END"
    if column.type in TIME_TYPES and (table.name, column.name) not in DUE_TIMES:
        return f"{source} - m.shift"
    replaced = source
    if column.name in table.name_columns:
        replaced = f"replace({replaced}::text, m.src_name, m.dst_name)"
    if column.name in table.token_columns:
        replaced = f"replace({replaced}::text, m.src_token, m.dst_token)"
    if replaced != source and column.type in ("json", "jsonb"):
        replaced = f"({replaced})::{column.type}"
    return replaced


def pick_paused(database: Any, first_clone_id: int, real: int, clones: int) -> list[dict[str, Any]]:
    """Pending tokens of ``real`` real executions and ``clones`` clones, picked at random:
    ``{"token", "executionArn", "clone"}``, real ones first."""
    import psycopg

    sql = (
        "SELECT k.token, e.arn FROM task_tokens k JOIN executions e ON e.id = k.execution_id "
        "WHERE k.status = 'PENDING' AND (e.id >= %(first)s) = %(clone)s ORDER BY random() LIMIT %(count)s"
    )
    picked = []
    with psycopg.connect(getattr(database, "dsn", database), autocommit=True) as connection:
        for clone, count in ((False, real), (True, clones)):
            rows = connection.execute(sql, {"first": first_clone_id or 2**62, "clone": clone, "count": count})
            picked += [{"token": token, "executionArn": arn, "clone": clone} for token, arn in rows]
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dsn", help="the database (postgresql://...), already holding paused executions")
    parser.add_argument("--total", type=int, required=True, help="root executions the database should hold")
    parser.add_argument("--batch", type=int, default=BATCH, help="clones a transaction (default %(default)s)")
    args = parser.parse_args(argv)
    report = clone_paused(args.dsn, args.total, batch=args.batch)
    for key, value in report.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
