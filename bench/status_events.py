#!/usr/bin/env python3
"""Benchmark: what status-change events cost the transactions that change an execution's status.

    python bench/status_events.py [--executions 300] [--rounds 3]

On a fresh PostgreSQL database (migrated), in this process and without a broker (the messages stay
in the outbox, so only the transactions are timed): each round starts ``--executions`` executions
of a one-Pass machine (StartExecution: the RUNNING event), then applies each one's first message
(`operations.advance`: the Pass, the end, the SUCCEEDED event), once with events off and once with
them on (ORCHESTRATOR_EVENTS=1), the two alternating. Prints the median and p90 milliseconds per
transaction of each and the SQL statements each sends (counted with SQLAlchemy's
``before_cursor_execute``: the figure a busy machine cannot blur).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator import config
from orchestrator.runtime import operations
from orchestrator.service import Service
from orchestrator.store.db import get_engine, session_scope
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Execution, OutboxMessage

PG_ADMIN = os.environ.get("ORCHESTRATOR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def _database() -> str:
    name = f"orchestrator_bench_events_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    upgrade(url)
    return url


STATEMENTS = [0]


def _count(*_args: object) -> None:
    STATEMENTS[0] += 1


def _round(url: str, events: bool, count: int) -> tuple[list[float], list[float], list[int], list[int]]:
    env = {"ORCHESTRATOR_DATABASE_URL": url, "ORCHESTRATOR_HOME": "/tmp/bench-events"}
    settings = config.load({**env, **({"ORCHESTRATOR_EVENTS": "1"} if events else {})})
    service = Service(settings)
    machine = f"bench-{'on' if events else 'off'}-{uuid.uuid4().hex[:6]}"
    arn = service.create_state_machine(name=machine, definition=json.dumps(PASS), role_arn="arn:aws:iam::1:role/b")
    starts, ends, start_statements, end_statements = [], [], [], []
    for _ in range(count):
        began, before = time.perf_counter(), STATEMENTS[0]
        started = service.start_execution(arn["stateMachineArn"], input="{}")
        starts.append((time.perf_counter() - began) * 1000)
        start_statements.append(STATEMENTS[0] - before)
        with session_scope(url) as session:
            execution = session.scalar(select(Execution).where(Execution.arn == started["executionArn"]))
            assert execution is not None
            message = session.scalar(
                select(OutboxMessage.id)
                .where(OutboxMessage.task == "orchestrator.advance")
                .order_by(OutboxMessage.id.desc())
            )
        began, before = time.perf_counter(), STATEMENTS[0]
        with session_scope(url) as session:
            operations.advance(
                session, settings, root_id=execution.id, run_id=execution.id, seq=0, delivery=None,
                outbox_id=message, now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        ends.append((time.perf_counter() - began) * 1000)
        end_statements.append(STATEMENTS[0] - before)
    return starts, ends, start_statements, end_statements


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {statistics.median(ordered):.2f} ms, p90 {ordered[int(len(ordered) * 0.9)]:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = _database()
    event.listen(get_engine(url), "before_cursor_execute", _count)
    measured: dict[bool, tuple[list[float], ...]] = {False: ([], [], [], []), True: ([], [], [], [])}
    try:
        for _ in range(args.rounds):
            for events in (False, True):
                for into, values in zip(measured[events], _round(url, events, args.executions), strict=True):
                    into.extend(values)
        with session_scope(url) as session:
            carried = select(func.count()).where(OutboxMessage.task == "orchestrator.status_event")
            rows = session.scalar(carried)
    finally:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    for events in (False, True):
        starts, ends, start_statements, end_statements = measured[events]
        label = "events on " if events else "events off"
        print(
            f"{label}: StartExecution {_summary(starts)}, {statistics.mean(start_statements):.2f} statements; "
            f"the step that ends it {_summary(ends)}, {statistics.mean(end_statements):.2f} statements"
        )
    print(f"event messages in the outbox (no worker here): {rows} for {args.rounds * args.executions} executions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
