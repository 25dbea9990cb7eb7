"""What keeping JSON key order costs on PostgreSQL: ``jsonb`` columns (before migration 0010) against
``json`` columns with the console's input search on a GIN expression index (after it).

For each of the two schemas, in a fresh database of its own: the time to insert 2,000 history events
in one transaction (as a step that records a big Map does), to read them back (the console's
execution page), and the console's search by input over 20,000 executions (one match, and a
value a quarter of them hold). Medians of several rounds, in milliseconds. Not a test.

    python bench/json_columns.py            # about a minute on a quiet 2-vCPU machine
    python bench/json_columns.py --json

Needs PostgreSQL (``BENCH_PG_ADMIN``, default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from orchestrator.engine.history import Event
from orchestrator.store import browse, runs
from orchestrator.store.db import get_engine
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Definition, Execution, StateMachine

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SCHEMAS = {"jsonb (before 0010)": "9e4f6a8c0b35", "json (0010)": "a0c1e2f3b010"}
NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
TIERS = ("gold", "silver", "bronze", "none")


@contextlib.contextmanager
def database(revision: str) -> Iterator[str]:
    name = f"bench_json_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    try:
        upgrade(url, revision)
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def application(n: int) -> dict[str, Any]:
    """An execution input of about 300 bytes, its keys in no sorted order."""
    return {
        "applicant": {"id": n, "name": f"Applicant {n}", "email": f"a{n}@example.com", "country": "FR"},
        "tier": TIERS[n % 4],
        "amount": 1000 + n % 5000,
        "items": [{"sku": f"S{n % 97}", "quantity": 1 + n % 3}, {"sku": f"S{n % 89}", "quantity": 2}],
        "requested": "2026-12-07T06:00:00Z",
    }


def events(start: int, count: int) -> list[Event]:
    """``count`` Task-like events whose details carry an input or an output."""
    return [
        Event(i, i - 1, NOW, "TaskStateExited", {"name": "Score", "output": application(i)})
        for i in range(start, start + count)
    ]


def timed(work: Callable[[], Any], rounds: int) -> float:
    """The median of ``rounds`` runs of ``work``, in milliseconds."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def seed(session: Session, executions: int) -> int:
    session.execute(insert(Definition.__table__).values(hash="d", text="{}"))
    session.execute(
        insert(StateMachine.__table__).values(
            id=1, arn="arn:sm", name="sm", type="STANDARD", status="ACTIVE", definition_hash="d",
            role_arn="arn:role", revision_id="r", tags={},
        )
    )  # fmt: skip
    row = {
        "state_machine_id": 1, "definition_hash": "d", "role_arn": "arn:role", "status": "SUCCEEDED",
        "variables": {}, "outer_variables": {}, "seq": 0, "last_event_id": 0, "next_event_id": 1,
        "state_transitions": 0, "redrive_count": 0,
    }  # fmt: skip
    for first in range(0, executions, 2000):
        batch = [
            {**row, "arn": f"arn:x:{n}", "name": f"e{n}", "input": application(n), "start_date": NOW}
            for n in range(first, min(first + 2000, executions))
        ]
        session.execute(insert(Execution.__table__), batch)
    return int(session.scalar(text("SELECT min(id) FROM executions")) or 0)


def measure(revision: str, executions: int, rounds: int) -> dict[str, float]:
    with database(revision) as url:
        engine = get_engine(url)
        with Session(engine) as session, session.begin():
            history_id = seed(session, executions)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE executions"))
        next_id = [1]

        def insert_events() -> None:
            with Session(engine) as session, session.begin():
                runs.append_events(session, history_id, events(next_id[0], 2000))
            next_id[0] += 2000

        def read_events() -> None:
            with Session(engine) as session:
                browse.whole_history(session, history_id, limit=2000)

        picks = random.Random(7)

        def search(path: tuple[str, ...], value: Callable[[], Any]) -> Callable[[], None]:
            def run() -> None:
                match = browse.InputMatch(path, value())
                with Session(engine) as session:
                    browse.search_executions(
                        session, browse.ExecutionSearch(input_matches=(match,)), before=None, limit=50
                    )

            return run

        return {
            "insert 2,000 events": timed(insert_events, rounds),
            "read 2,000 events": timed(read_events, rounds),
            f"search 1 of {executions:,}": timed(search(("applicant", "id"), lambda: picks.randrange(executions)), 50),
            f"search 1/4 of {executions:,} (first 50)": timed(search(("tier",), lambda: "silver"), 50),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = {label: measure(revision, args.executions, args.rounds) for label, revision in SCHEMAS.items()}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    labels = list(figures)
    print(f"{'median, ms':<40}" + "".join(f"{label:>22}" for label in labels))
    for figure in figures[labels[0]]:
        print(f"{figure:<40}" + "".join(f"{figures[label][figure]:>22.2f}" for label in labels))


if __name__ == "__main__":
    main()
