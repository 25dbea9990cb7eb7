"""Express executions: run in memory by the same interpreter, with the real clock.

As on AWS, an Express execution keeps no per-state history and runs five minutes at most.
StartSyncExecution runs it in the calling process (at most once); StartExecution hands it to a
worker (``orchestrator.express`` task, at least once), which records only how it ended. The
iterations of a Distributed Map whose ExecutionType is EXPRESS are Express child executions: a
worker runs each in memory (``orchestrator.express_iteration``), and records its end, and the
Map's join, in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import uuid
from typing import Any

from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from orchestrator.asl.errors import TIMEOUT
from orchestrator.asl.model import StateMachine
from orchestrator.asl.parse import parse
from orchestrator.config import Settings
from orchestrator.engine.local import EXPRESS_MAX_SECONDS, ExecutionResult, RealClock, execute
from orchestrator.integrations import registry
from orchestrator.integrations.invoke import invoke
from orchestrator.runtime import execution_logs, metrics, poison, tracing
from orchestrator.runtime.app import settings_of
from orchestrator.runtime.driver import Tree
from orchestrator.runtime.ending import end_if_deleted
from orchestrator.runtime.messages import EXPRESS, EXPRESS_ITERATION, Message
from orchestrator.runtime.publish import publish
from orchestrator.store import runs, state_machines
from orchestrator.store.db import session_scope

# How long an Express execution may run (AWS: 5 minutes). Read at each run, so that a test can
# shorten it.
EXPRESS_TIMEOUT_SECONDS: float = EXPRESS_MAX_SECONDS

log = logging.getLogger(__name__)


def run_express(
    definition: str | StateMachine,
    execution_input: Any,
    *,
    name: str,
    state_machine_name: str,
    execution_arn: str | None = None,
) -> ExecutionResult:
    """Run one Express execution to its end in this process (handlers from the registry), for
    `EXPRESS_TIMEOUT_SECONDS` at most: then it ends TIMED_OUT, as a TimeoutSeconds would end it.
    (A handler running then is not interrupted: the execution ends when it returns.)"""
    machine = parse(definition) if isinstance(definition, str) else definition
    handlers = registry.handlers()
    result = execute(
        machine,
        execution_input,
        lambda request, context: invoke(request, context, handlers, callback_answers=True),
        clock=RealClock(),
        name=name,
        state_machine_name=state_machine_name,
        state_machine_type="EXPRESS",
        rng=random.Random(uuid.uuid4().int),
        time_limit=EXPRESS_TIMEOUT_SECONDS,
        execution_arn=execution_arn,
    )
    metrics.count_express(state_machine_name, result.events)
    return result


# Both Express tasks: acknowledged once done, and tried again (backing off to 30 s) for as long as
# the database is unreachable, since their message is the only copy of the work.
_RETRIED_WHILE_THE_DATABASE_IS_AWAY: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "max_retries": None,
}


@shared_task(name=EXPRESS, **_RETRIED_WHILE_THE_DATABASE_IS_AWAY)
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
        machine = state_machines.by_id(session, m["state_machine_id"])
        logging_configuration = machine.logging_configuration if machine is not None else None
        traced = tracing.enabled(machine.tracing_configuration) if machine is not None else False
    try:
        result = run_express(definition, m["input"], name=m["name"], state_machine_name=machine_name)
        execution_logs.log_result(logging_configuration, result.events, m["arn"])
        if traced:
            tracing.export_execution(result.events, m["arn"], machine_name, m["trace_header"])
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


# -- Express iterations of a Distributed Map ------------------------------------------------------


@shared_task(name=EXPRESS_ITERATION, **_RETRIED_WHILE_THE_DATABASE_IS_AWAY)
def express_iteration_task(self: Any, root_id: int, run_id: int, outbox_id: int | None = None) -> None:
    """Run a Distributed Map iteration as an Express child execution, then record its end.

    Its message stays in the outbox until the end is recorded: a worker lost meanwhile costs a run
    again (an Express execution runs at least once), not the iteration.
    """
    settings = settings_of(self.app)
    with session_scope(settings.database_url) as session:
        iteration = _iteration(session, run_id)
        if iteration is None:
            runs.consume_message(session, outbox_id)
            return
    result = _run_iteration(*iteration)
    try:
        with session_scope(settings.database_url) as session:
            messages = end_iteration(
                session, settings, root_id=root_id, run_id=run_id, outbox_id=outbox_id, ended=result, now=_now()
            )
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        log.exception("execution %s: the end of Express iteration %s failed to record", root_id, run_id)
        if outbox_id is None:
            return
        with session_scope(settings.database_url) as session:
            messages = poison.record_failure(
                session, settings, outbox_id=outbox_id, root_id=root_id, error=exc, now=_now()
            )
    publish(self.app, messages)


def _iteration(session: Session, run_id: int) -> tuple[StateMachine, Any, str, str, str, Any] | None:
    """What an iteration runs: its Map's ItemProcessor as a machine of its own, its input, its name,
    its state machine's name, its ARN and the machine's logging configuration; None if it runs no
    more (its Map ended, a copy ran it)."""
    row = runs.load_run(session, run_id)
    if row is None or row._mapping["status"] != "RUNNING":
        return None
    m = row._mapping
    machine = parse(runs.definition_text(session, m["definition_hash"]) or "")
    scope = machine.scope((m["scope_state"], m["scope_branch"]))
    processor = dataclasses.replace(machine, root=scope, timeout_seconds=None)  # the Map's limits are its own
    owner = state_machines.by_id(session, m["state_machine_id"])
    assert owner is not None
    return processor, m["input"], m["name"], owner.name, m["arn"], owner.logging_configuration


def _run_iteration(
    machine: StateMachine, item: Any, name: str, machine_name: str, arn: str, logging_configuration: Any
) -> dict[str, Any]:
    """How the iteration ended: status, output, error, cause (a failure of ours fails it). Its events
    are logged as its state machine's logging configuration says (it keeps no history)."""
    try:
        result = run_express(machine, item, name=name, state_machine_name=machine_name, execution_arn=arn)
    except Exception as exc:
        log.exception("Express iteration %s failed to run", arn)
        cause = f"The engine could not run the execution: {poison.describe(exc)}"
        return {"status": "FAILED", "output": None, "error": poison.ERROR, "cause": cause}
    execution_logs.log_result(logging_configuration, result.events, arn)
    return {"status": result.status, "output": result.output, "error": result.error, "cause": result.cause}


def end_iteration(
    session: Session,
    settings: Settings,
    *,
    root_id: int,
    run_id: int,
    outbox_id: int | None,
    ended: dict[str, Any],
    now: dt.datetime,
) -> list[Message]:
    """Record how an Express iteration ended, under its execution's lock, and go on with its Map
    (the next iterations, or the Map's end). A copy of an iteration that ended already changes
    nothing. Returns the messages to publish."""
    runs.consume_message(session, outbox_id)
    found = Tree.for_running(session, settings, root_id, run_id, now)
    if found is None:
        return []
    tree, row = found
    deleted = end_if_deleted(session, settings, tree.root_row, now)
    if deleted is not None:
        return deleted
    # A timed-out child fails its Map with States.Timeout, as a Task waiting for it would.
    error = TIMEOUT if ended["status"] == "TIMED_OUT" else ended["error"]
    return tree.settle(lambda: tree.end_run(row, ended["status"], ended["output"], error, ended["cause"]))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
