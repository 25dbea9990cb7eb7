"""ListExecutions' pages (issue 17): newest first by (start date, id), each page starting where the last
one ended, executions started at the same instant included, on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import update

from orchestrator import config
from orchestrator.service import Service
from orchestrator.store import state_machines
from orchestrator.store.db import session_scope
from orchestrator.store.models import Execution

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
ROLE = "arn:aws:iam::123456789012:role/test"


def test_pages_walk_every_execution_once_in_order(database_url: str, tmp_path: Path) -> None:
    service = Service(config.load({"ORCHESTRATOR_DATABASE_URL": database_url, "ORCHESTRATOR_HOME": str(tmp_path)}))
    machine = service.create_state_machine(name="pages", definition=json.dumps(PASS), role_arn=ROLE)
    for _ in range(7):
        service.start_execution(machine["stateMachineArn"], input="{}")
    instant = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    later = instant + dt.timedelta(days=1)
    with session_scope(database_url) as session:
        # four of them started at one instant: the id alone orders them, across a page's end
        ids = sorted(session.scalars(Execution.__table__.select().with_only_columns(Execution.id)))
        session.execute(update(Execution).where(Execution.id.in_(ids[:4])).values(start_date=instant))
        session.execute(update(Execution).where(Execution.id.in_(ids[4:])).values(start_date=later))
        machine_id = session.get(Execution, ids[0]).state_machine_id
        seen: list[int] = []
        before = None
        while True:
            page = state_machines.executions_page(session, machine_id, statuses=None, before=before, limit=3)
            seen += [e.id for e in page]
            if len(page) < 3:
                break
            before = (page[-1].start_date, page[-1].id)
    assert seen == [*sorted(ids[4:], reverse=True), *sorted(ids[:4], reverse=True)]
