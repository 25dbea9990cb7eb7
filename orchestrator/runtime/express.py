"""Express executions: run in memory by the same interpreter, with the real clock.

As on AWS, an Express execution keeps no per-state history. StartSyncExecution runs it in the
calling process (at most once); StartExecution hands it to a worker (``orchestrator.express``
task, at least once), which records only how it ended.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from typing import Any

from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from orchestrator.asl.parse import parse
from orchestrator.engine.local import ExecutionResult, RealClock, execute
from orchestrator.integrations import registry
from orchestrator.integrations.invoke import invoke
from orchestrator.runtime import poison
from orchestrator.runtime.app import settings_of
from orchestrator.runtime.messages import EXPRESS
from orchestrator.store import runs
from orchestrator.store.db import session_scope

EXPRESS_TIMEOUT_SECONDS = 300

log = logging.getLogger(__name__)


def run_express(definition: str, execution_input: Any, *, name: str, state_machine_name: str) -> ExecutionResult:
    """Run one Express execution to its end in this process (handlers from the registry)."""
    machine = parse(definition)
    handlers = registry.handlers()
    return execute(
        machine,
        execution_input,
        lambda request, context: invoke(request, context, handlers, callback_answers=True),
        clock=RealClock(),
        name=name,
        state_machine_name=state_machine_name,
        state_machine_type="EXPRESS",
        rng=random.Random(uuid.uuid4().int),
    )


@shared_task(
    name=EXPRESS,
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=None,
)
def express_task(self: Any, execution_id: int, outbox_id: int | None = None) -> None:
    """Run an Express execution started with StartExecution, and record how it ended."""
    settings = settings_of(self.app)
    with session_scope(settings.database_url) as session:
        runs.consume_message(session, outbox_id)
        row = runs.load_run(session, execution_id)
        if row is None or row._mapping["status"] != "RUNNING":
            return
        m = row._mapping
        definition = runs.definition_text(session, m["definition_hash"]) or ""
        machine_name = m["arn"].split(":express:", 1)[1].split(":", 1)[0]
    try:
        result = run_express(definition, m["input"], name=m["name"], state_machine_name=machine_name)
        ended = {
            "status": result.status,
            "output": result.output,
            "error": result.error,
            "cause": result.cause,
            "state_transitions": result.state_transitions,
        }
        _record_end(settings.database_url, execution_id, ended)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        # Its message is consumed already: a run or an end that fails here would leave it RUNNING.
        log.exception("express execution %s failed to run or to record its end", execution_id)
        cause = f"The engine could not run the execution: {poison.describe(exc)}"
        _record_end(settings.database_url, execution_id, {"status": "FAILED", "error": poison.ERROR, "cause": cause})


def _record_end(database_url: str, execution_id: int, ended: dict[str, Any]) -> None:
    with session_scope(database_url) as session:
        runs.update_run(session, execution_id, stop_date=dt.datetime.now(dt.UTC), **ended)
